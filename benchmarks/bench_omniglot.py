"""Few-shot Omniglot with MetaLearnerClassifier, beside the published numbers.

The standard protocol (Vinyals et al. 2016): 28 x 28 images, the 90/180/270-degree
rotations of every character added as new classes (x 4 classes), meta-training on
the 1,200 characters of Vinyals' train + val split (4,800 classes) and testing on
the other 423 characters (1,692 classes).  The character lists are those of the
``torchmeta`` 1.8.0 wheel (taken from Snell's prototypical-networks repository),
converted to skmtl's character ids in ``omniglot_vinyals_split.json`` beside this
file, so no network is needed at run time (``--random-split`` instead draws a
seeded 1,200 / 423 split).

Every algorithm meta-trains ONE ``MetaLearnerClassifier(backbone="conv4")`` (the
papers train one model per setting, for far longer: ``--per-setting`` does too, on
each setting's way and shot counts) and is evaluated with
:func:`skmtl.meta.episodic_score` on 5-way and 20-way, 1-shot and 5-shot episodes of
the test characters (15 query rows a class for 5-way, 5 for 20-way; the same
episodes for every algorithm), mean accuracy +- 95% interval.  The published
numbers are ProtoNets (Snell et al. 2017), MAML (Finn et al. 2017) and Reptile
(Nichol et al. 2018, non-transductive).  The evaluation is not transductive: an
adapted model normalises its queries with the batch-norm statistics of its support
set (``transductive=False``, skmtl's default), so each query is classified on its
own; ``--set ALG.transductive=True`` normalises with the query set's statistics
instead, as MAML's reference code does.

Budget: on a 2-core CPU the papers' budgets (ProtoNets: ~100k+ 60-way episodes;
MAML: 60k meta-updates of 32 tasks) are out of reach; the defaults train each
algorithm for 1-1.5 minutes (1 torch thread) and use 100 test episodes per setting so that
the whole run takes ~10 minutes on a 2-core machine (1 torch thread:
with 2 threads, one competing process slows conv4 down ~5x).  The protocol's 1,000
test episodes: ``--test-episodes 1000`` (evaluation then takes ~6 min for
ProtoNet, ~12 for MAML, ~18 for Reptile).
The budget actually used (episodes, meta-updates, seconds) is printed beside the
accuracies.

MAML / first-order MAML adapt with ONE inner step at test, as in training: skmtl
starts every task from a zero head by default, so the first inner step moves the
head only (the backbone's gradient is exactly zero there) and with
``inner_steps=1`` the backbone is never adapted in meta-training (MAML is then
ANIL); extra test-time steps then move it off the meta-learned point and hurt
(measured with this budget, 50 episodes, 5w1s / 5w5s / 20w1s: adapt_steps=1 89.9 /
95.4 / 66.5 %, adapt_steps=3 83.9 / 61.3 / 47.4 %; ``inner_steps=2`` for 800
episodes at the same cost: 84.7 / 94.2 / 46.0 % with 2 test steps).
``--set maml.head_init=prototypes`` starts from the prototypes' head instead
(Proto-MAML), from which the first step moves the backbone too: 1,200 episodes,
50 test episodes, on a loaded 2-core machine: 5w1s 89.0 +- 2.1 against 85.2 +- 2.3
for the zero head, 5w5s 85.2 +- 4.1 against 92.8 +- 1.7, so the zero head stays
the default.

The few-shot baselines (Chen et al. 2019; Tian et al. 2020) run beside them:
``"baseline"`` pretrains the same conv4 as one classifier over the 4,800 training
classes (mini-batches of 100 rows) and fits a logistic regression on the
normalised features of each test support set; ``"baseline++"`` uses cosine heads.
``--budget SECONDS`` gives every algorithm the same CPU budget: the same CPU
seconds of meta-training (``time.process_time`` with 1 torch thread, which the
load of other processes does not inflate as it does wall time); a probe fit
measures each one's CPU seconds per episode, ``n_episodes`` is set to 1.5 times
what fills the budget and meta-training stops at the end of the first block (a
tenth of the meta-updates) past it (the seconds actually used, CPU and wall, are
printed).
No validation classes are held out (``validation_fraction=0``: the protocol
meta-trains on all 4,800 classes).  ``fit`` ends with meta-training: the
classifier of the training classes is only adapted at a first ``predict``.

Usage::

    python benchmarks/bench_omniglot.py                   # ~10 min
    python benchmarks/bench_omniglot.py --quick           # smoke run (~1.5 min)
    python benchmarks/bench_omniglot.py --budget 60 --test-episodes 50 \\
        --algorithms protonet maml baseline baseline++   # the same CPU budget
    python benchmarks/bench_omniglot.py --algorithms protonet --episodes 5000 \\
        --test-episodes 1000
    python benchmarks/bench_omniglot.py --algorithms reptile --per-setting \\
        --set reptile.learning_rate_schedule=linear   # the papers' protocol
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from skmtl.datasets import fetch_omniglot
from skmtl.meta import Callback, MetaLearnerClassifier, Timer, episodic_score
from _common import banner, versions

HERE = Path(__file__).resolve().parent
SPLIT_FILE = HERE / "omniglot_vinyals_split.json"
DEFAULT_PATH = HERE.parent.parent / "shared" / "data" / "omniglot"

SETTINGS = [  # (name, n_way, k_shot, n_query)
    ("5w1s", 5, 1, 15), ("5w5s", 5, 5, 15), ("20w1s", 20, 1, 5), ("20w5s", 20, 5, 5)]

PUBLISHED = {
    "protonet": ("ProtoNets (Snell et al. 2017)", [98.8, 99.7, 96.0, 98.9]),
    "maml": ("MAML (Finn et al. 2017)", [98.7, 99.9, 95.8, 98.9]),
    "fomaml": ("first-order MAML (Finn et al. 2017)", [98.3, 99.2, None, None]),
    "reptile": ("Reptile (Nichol et al. 2018)", [95.39, 98.90, 88.14, 96.65]),
}

# One configuration per algorithm: estimator parameters, default meta-training
# episodes, and the inner steps used at test time (None: as in training).
CONFIGS = {
    "protonet": dict(params=dict(algorithm="protonet", n_way=20, k_shot=1, n_query=5,
                                 meta_batch_size=1, learning_rate=1e-3),
                     episodes=500, adapt_steps=None),
    "maml": dict(params=dict(algorithm="maml", n_way=5, k_shot=1, n_query=5,
                             meta_batch_size=4, learning_rate=1e-3, inner_lr=0.4,
                             inner_steps=1),
                 episodes=1600, adapt_steps=1),
    "fomaml": dict(params=dict(algorithm="fomaml", n_way=5, k_shot=1, n_query=5,
                               meta_batch_size=4, learning_rate=1e-3, inner_lr=0.4,
                               inner_steps=1),
                   episodes=1600, adapt_steps=1),
    "reptile": dict(params=dict(algorithm="reptile", n_way=5, k_shot=1, n_query=4,
                                meta_batch_size=1, learning_rate=0.5,
                                meta_optimizer="sgd", inner_lr=0.1, inner_steps=5),
                    episodes=400, adapt_steps=5),
    # mini-batches of n_way * (k_shot + n_query) = 100 rows over all training classes
    "baseline": dict(params=dict(algorithm="baseline", n_way=20, k_shot=1, n_query=4,
                                 meta_batch_size=1, learning_rate=1e-3),
                     episodes=500, adapt_steps=None),
    "baseline++": dict(params=dict(algorithm="baseline++", n_way=20, k_shot=1, n_query=4,
                                   meta_batch_size=1, learning_rate=1e-3),
                       episodes=500, adapt_steps=None),
}
for _name in ("baseline", "baseline++"):
    PUBLISHED[_name] = (f"{_name} (Chen et al. 2019: no Omniglot numbers)", [None] * 4)
QUICK_EPISODES = {"protonet": 40, "maml": 80, "fomaml": 80, "reptile": 20, "baseline": 40,
                  "baseline++": 40}
PROBE_EPISODES = 40  # a probe fit's episodes (--budget): its seconds per episode


def load_split(random_split=False, seed=0):
    """(train ids, test ids, description) of unrotated character ids."""
    if not random_split and SPLIT_FILE.exists():
        split = json.loads(SPLIT_FILE.read_text())
        return (np.array(split["train"] + split["val"]), np.array(split["test"]),
                "Vinyals et al. 2016 (train+val 1,200 / test 423 characters)")
    why = "--random-split" if random_split else f"{SPLIT_FILE.name} missing"
    perm = np.random.RandomState(seed).permutation(1623)
    return (np.sort(perm[:1200]), np.sort(perm[1200:]),
            f"SEEDED RANDOM 1,200 / 423 split (seed {seed}; {why}), NOT Vinyals'")


def with_rotations(data, target, ids):
    """Rows of the characters ``ids`` plus their 3 rotations; class = 4 * id + k."""
    rows = np.isin(target, ids)
    X, y = data[rows], target[rows]
    Xr = np.concatenate([np.rot90(X, k, axes=(2, 3)) for k in range(4)])
    return np.ascontiguousarray(Xr), np.concatenate([4 * y + k for k in range(4)])


class CPUTimer(Callback):
    """CPU seconds of this process (``time.process_time``) in the meta-training loop:
    with one torch thread, the work done, whatever else loads the machine.  With a
    ``budget``, stops the loop at the end of the first block (a tenth of the
    meta-updates) that reaches it."""

    def __init__(self, budget=None):
        self.budget = budget

    def on_train_begin(self, loop, **kwargs):
        self.start = time.process_time()

    def on_epoch_end(self, loop, **kwargs):
        if self.budget and time.process_time() - self.start >= self.budget:
            loop.stop = True

    def on_train_end(self, loop, **kwargs):
        self.seconds = time.process_time() - self.start


def train(name, params, Xtr, ytr, episodes, seed, verbose, device, budget=None):
    """One meta-learner of algorithm ``name`` meta-trained with ``params`` (for at
    most ``budget`` CPU seconds, to the block)."""
    cfg = CONFIGS[name]
    meta = MetaLearnerClassifier(backbone="conv4", n_episodes=episodes,
                                 adapt_steps=cfg["adapt_steps"], validation_fraction=0.0,
                                 device=device, random_state=seed, verbose=verbose,
                                 callbacks=[Timer(), CPUTimer(budget)], **params)
    t0 = time.perf_counter()
    meta.fit(Xtr, ytr)
    meta.fit_time_, meta.meta_train_time_ = (time.perf_counter() - t0,
                                             meta.callbacks_[0].train_times[0])
    meta.meta_train_cpu_ = meta.callbacks_[1].seconds
    return meta


def episodes_for(name, budget, Xtr, ytr, seed, device):
    """Meta-training episodes of ``name`` for ``budget`` CPU seconds: 1.5 times what
    the CPU seconds per episode of a probe fit of PROBE_EPISODES say fills it (the
    probe's rate is within +-35% under load), the loop stopping at the first block
    past the budget (a block is then ~15% of it)."""
    probe = train(name, CONFIGS[name]["params"], Xtr, ytr, PROBE_EPISODES, seed, 0, device)
    return max(PROBE_EPISODES, int(1.5 * budget * PROBE_EPISODES / probe.meta_train_cpu_))


def run_algorithm(name, Xtr, ytr, Xte, yte, episodes, test_episodes, seed, verbose,
                  device="auto", per_setting=False, budget=None):
    """Rows of results: one model for every setting, or (``per_setting``, as the
    papers) one model a setting, meta-trained on its way and shot counts."""
    params = CONFIGS[name]["params"]
    meta = None if per_setting else train(name, params, Xtr, ytr, episodes, seed, verbose,
                                          device, budget)
    rows = []
    for i, (setting, n_way, k_shot, n_query) in enumerate(SETTINGS):
        if per_setting:
            params = {**CONFIGS[name]["params"], "n_way": n_way, "k_shot": k_shot}
            meta = train(name, params, Xtr, ytr, episodes, seed, verbose, device, budget)
        t0 = time.perf_counter()
        mean, ci = episodic_score(meta, Xte, yte, n_way=n_way, k_shot=k_shot,
                                  n_query=n_query, n_episodes=test_episodes,
                                  random_state=1000 + i)
        rows.append(dict(
            algorithm=name, setting=setting, accuracy=100 * mean, ci95=100 * ci,
            published=PUBLISHED[name][1][i], test_episodes=test_episodes, n_query=n_query,
            train_episodes=meta.n_iter_, meta_updates=len(meta.loss_curve_),
            train_setting=f"{params['n_way']}w{params['k_shot']}s{params['n_query']}q",
            train_time=meta.meta_train_time_, train_cpu=meta.meta_train_cpu_,
            fit_time=meta.fit_time_, eval_time=time.perf_counter() - t0,
            adapt_steps=meta.adapt_steps, final_loss=float(np.mean(meta.loss_curve_[-20:]))))
        print(f"  {name:<8} {setting:<6} {100 * mean:6.2f} +- {100 * ci:4.2f}  "
              f"({rows[-1]['eval_time']:.0f}s)", flush=True)
    return rows


def print_table(rows):
    head = (f"{'algorithm':<9} {'setting':<7} {'ours (%)':>15} {'published':>9} "
            f"{'train episodes':>15} {'updates':>7} {'train s':>7} {'cpu s':>5} "
            f"{'test eps':>8} {'eval s':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        pub = "-" if r["published"] is None else f"{r['published']:.2f}"
        print(f"{r['algorithm']:<9} {r['setting']:<7} {r['accuracy']:7.2f} +- {r['ci95']:4.2f} "
              f"{pub:>9} {r['train_episodes']:>6} {r['train_setting']:>8} "
              f"{r['meta_updates']:>7} {r['train_time']:7.0f} {r['train_cpu']:5.0f} "
              f"{r['test_episodes']:>8} {r['eval_time']:6.0f}")
    print("ours: mean episodic accuracy +- 1.96 std / sqrt(test eps) (skmtl.meta.episodic_score);"
          " published: the papers' own training budgets (one model per setting).")
    print("train episodes: meta-training episodes of the model (one an algorithm, or with "
          "--per-setting one a setting; its own N-way K-shot Q-query; the baselines: "
          "mini-batches of N x (K + Q) rows over all training classes); train s: its "
          "meta-training loop (wall; cpu s: this process's CPU seconds in it, what --budget "
          "equalises); eval s: the test episodes of that setting.")


def _number(text):
    """A bool, an int, a float, or the text itself (a --set value)."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny budgets and 10 test episodes (smoke run)")
    parser.add_argument("--algorithms", nargs="+", choices=sorted(CONFIGS),
                        default=["protonet", "maml", "reptile", "baseline"])
    parser.add_argument("--episodes", type=int, nargs="+", default=None,
                        help="meta-training episodes, one value for all algorithms "
                             "or one per algorithm (default: per-algorithm budget)")
    parser.add_argument("--budget", type=float, default=None,
                        help="meta-training CPU seconds for every algorithm (the same "
                             "CPU budget): overrides --episodes")
    parser.add_argument("--test-episodes", type=int, default=None,
                        help="test episodes per setting (default 100; the protocol: 1000)")
    parser.add_argument("--path", default=os.environ.get("SKMTL_OMNIGLOT", str(DEFAULT_PATH)),
                        help="folder with images_background/evaluation .npz or .zip")
    parser.add_argument("--random-split", action="store_true",
                        help="a seeded random 1,200/423 split instead of Vinyals'")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1: with 2 threads on 2 cores a "
                             "single competing process slows conv4 down ~5x)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--device", default="auto", help="'auto': the GPU where there is one")
    parser.add_argument("--per-setting", action="store_true",
                        help="one model a test setting, meta-trained on its way and shot "
                             "counts (as the papers); default: one model an algorithm")
    parser.add_argument("--set", nargs="+", default=[], metavar="ALG.PARAM=VALUE",
                        help="override an algorithm's estimator parameter, e.g. "
                             "protonet.n_way=60 maml.meta_batch_size=32")
    args = parser.parse_args(argv)
    for item in args.set:
        key, value = item.split("=", 1)
        alg, param = key.split(".", 1)
        CONFIGS[alg]["params"][param] = _number(value)
    if args.test_episodes is None:
        args.test_episodes = 10 if args.quick else 100
    if args.episodes is None:
        episodes = [(QUICK_EPISODES if args.quick else {k: c["episodes"] for k, c in
                                                         CONFIGS.items()})[a]
                    for a in args.algorithms]
    elif len(args.episodes) == 1:
        episodes = args.episodes * len(args.algorithms)
    elif len(args.episodes) == len(args.algorithms):
        episodes = args.episodes
    else:
        parser.error("--episodes takes one value or one per algorithm")
    if args.threads:
        torch.set_num_threads(args.threads)

    t_start = time.perf_counter()
    banner("Few-shot Omniglot (28x28, rotations as new classes) with "
           "skmtl.meta.MetaLearnerClassifier(backbone='conv4')", 100)
    print(f"{versions('torch', 'sklearn', 'skmtl')}  {platform.machine()}  "
          f"cpu_count={os.cpu_count()}  torch threads={torch.get_num_threads()}  "
          f"device={args.device}"
          f"{' (' + torch.cuda.get_device_name() + ')' if torch.cuda.is_available() else ''}  "
          f"load avg {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    t0 = time.perf_counter()
    om = fetch_omniglot(path=args.path, download=False)
    train_ids, test_ids, split_name = load_split(args.random_split, args.seed)
    Xtr, ytr = with_rotations(om.data, om.target, train_ids)
    Xte, yte = with_rotations(om.data, om.target, test_ids)
    del om
    print(f"split: {split_name}")
    print(f"train {Xtr.shape} {np.unique(ytr).size} classes / test {Xte.shape} "
          f"{np.unique(yte).size} classes; loaded in {time.perf_counter() - t0:.0f}s")
    if args.budget:
        episodes = [episodes_for(name, args.budget, Xtr, ytr, args.seed, args.device)
                    for name in args.algorithms]
        print(f"budget: {args.budget:.0f} CPU s of meta-training an algorithm -> episodes "
              f"{dict(zip(args.algorithms, episodes))} (from {PROBE_EPISODES}-episode probes)")
    for name, n in zip(args.algorithms, episodes):
        cfg = CONFIGS[name]
        shown = {k: v for k, v in cfg["params"].items() if k != "algorithm"}
        print(f"{name}: {n} episodes, {shown}, test adapt_steps={cfg['adapt_steps']}")
    print()
    rows = []
    for name, n in zip(args.algorithms, episodes):
        print(f"meta-training {name} ({n} episodes) ...", flush=True)
        rows += run_algorithm(name, Xtr, ytr, Xte, yte, n, args.test_episodes, args.seed,
                              args.verbose, args.device, args.per_setting, args.budget)
        r = rows[-1]
        print(f"  {name}: meta-training {r['train_time']:.0f}s, fit {r['fit_time']:.0f}s, "
              f"last-20 loss {r['final_loss']:.3f}", flush=True)
    print()
    print_table(rows)
    print(f"total {time.perf_counter() - t_start:.0f}s; load avg at the end "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return rows


if __name__ == "__main__":
    main()
