"""Overhead of MetaLearnerClassifier's meta-training loop against a hand-written one.

ProtoNet meta-training, 5-way 1-shot 5-query episodes, ``meta_batch_size=1``, Adam
(lr 1e-3), the same conv4 backbone (``skmtl.meta._backbones.conv4``, same seed),
the same data (by default the 1,200 Vinyals training characters of Omniglot with
their rotations: 96,000 images of 4,800 classes; ``--synthetic`` for random
images of the same shape) and the same number of episodes, run twice in the same
process, interleaved:

* ours: ``MetaLearnerClassifier("protonet", backbone="conv4").fit(X, y)``; only
  its meta-training loop is timed, by a :class:`skmtl.meta.Timer` callback
  (``callbacks=``: from the loop's ``on_train_begin`` to its ``on_train_end``);
  the rest of ``fit`` (checking the data, building the net and the optimizer;
  no validation classes, ``validation_fraction=0``, as the hand loop holds none
  out) is reported apart as "setup";
* hand-written: the images converted once to a tensor, a per-class table of
  rows, each episode ``rng.choice`` of 5 classes and 6 rows of each, one forward
  of support + query, prototypes as the mean support embedding, logits
  ``-cdist ** 2``, cross-entropy, ``zero_grad / backward / step``.

Episodes per second, best of ``--repeats`` (3) interleaved repeats, after one
short warm-up run of each; ratio = ours / hand-written (goal >= 0.9).  Below the
goal (or with ``--profile``) the per-episode cost of each stage of skmtl's loop is
measured in isolation on the same episodes (sampling, numpy -> tensor,
forward/backward, gradient division, optimizer) beside the hand-written loop's,
followed by a cProfile of one ``fit``.

Usage::

    python benchmarks/bench_meta_overhead.py             # ~3-4 min
    python benchmarks/bench_meta_overhead.py --quick     # smoke run (~1 min)
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from skmtl.meta import EpisodeSampler, MetaLearnerClassifier, Timer
from skmtl.meta._algorithms import ProtoNet
from skmtl.meta._backbones import conv4
from _common import banner, versions

GOAL = 0.9
N_WAY, K_SHOT, N_QUERY, LR = 5, 1, 5, 1e-3


def loadavg():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def load_data(synthetic, seed=0):
    """(X (n, 1, 28, 28) float32, y class ids, description)."""
    if not synthetic:
        try:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from bench_omniglot import DEFAULT_PATH, load_split, with_rotations

            from skmtl.datasets import fetch_omniglot

            om = fetch_omniglot(path=os.environ.get("SKMTL_OMNIGLOT", str(DEFAULT_PATH)),
                                download=False)
            train_ids, _, split = load_split()
            X, y = with_rotations(om.data, om.target, train_ids)
            return X, y, f"Omniglot train, {split}, with rotations"
        except OSError as exc:
            print(f"(Omniglot not available: {exc}; using synthetic images)")
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(4800), 20)
    X = (rng.rand(len(y), 1, 28, 28) < 0.15).astype(np.float32)
    return X, y, "synthetic binary 28x28 images, 4,800 classes x 20"


def ours(X, y, episodes, seed):
    """Seconds of the meta-training loop (a Timer callback), the rest of fit, the
    loss curve."""
    meta = MetaLearnerClassifier("protonet", backbone="conv4", n_way=N_WAY, k_shot=K_SHOT,
                                 n_query=N_QUERY, n_episodes=episodes, meta_batch_size=1,
                                 learning_rate=LR, validation_fraction=0.0,
                                 random_state=seed, callbacks=[Timer()])
    t0 = time.perf_counter()
    meta.fit(X, y)
    fit_time = time.perf_counter() - t0
    assert meta.n_iter_ == episodes
    (train_time,) = meta.callbacks_[0].train_times
    return train_time, fit_time - train_time, meta.loss_curve_


class HandSampler:
    """Minimal N-way K-shot sampler over classes with equally many rows."""

    def __init__(self, y, seed):
        order = np.argsort(y, kind="stable")
        _, counts = np.unique(y, return_counts=True)
        assert (counts == counts[0]).all()
        self.table = order.reshape(len(counts), counts[0])
        self.rng = np.random.RandomState(seed)

    def sample(self):
        classes = self.rng.choice(len(self.table), N_WAY, replace=False)
        pick = np.argsort(self.rng.rand(N_WAY, self.table.shape[1]), axis=1)
        rows = np.take_along_axis(self.table[classes], pick[:, : K_SHOT + N_QUERY], axis=1)
        return torch.from_numpy(rows[:, :K_SHOT].ravel()), torch.from_numpy(
            rows[:, K_SHOT:].ravel())


def hand(X, y, episodes, seed):
    torch.manual_seed(seed)
    net = conv4(1)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    t0 = time.perf_counter()
    Xt = torch.from_numpy(X)
    sampler = HandSampler(y, seed)
    yq = torch.arange(N_WAY).repeat_interleave(N_QUERY)
    losses = []
    for _ in range(episodes):
        s, q = sampler.sample()
        emb = net(Xt[torch.cat([s, q])])
        protos = emb[: N_WAY * K_SHOT].view(N_WAY, K_SHOT, -1).mean(1)
        loss = F.cross_entropy(-torch.cdist(emb[N_WAY * K_SHOT :], protos) ** 2, yq)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    losses = torch.stack(losses).tolist()
    return time.perf_counter() - t0, losses


def best_us(fn, n, repeats=3):
    """Best over ``repeats`` of the mean time of ``n`` calls of ``fn(i)``, in us."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - t0) / n)
    return 1e6 * best


def stage_breakdown(X, y, n=200, seed=0):
    """Per-episode cost (us) of each stage of skmtl's loop and of the hand loop's."""
    meta = MetaLearnerClassifier("protonet", backbone="conv4", device="cpu")
    meta.device_ = torch.device("cpu")
    codes = np.unique(y, return_inverse=True)[1]
    sampler = EpisodeSampler(codes, N_WAY, K_SHOT, N_QUERY, random_state=seed)
    episodes = [sampler.sample() for _ in range(n)]
    hs = HandSampler(y, seed)
    hand_eps = [hs.sample() for _ in range(n)]
    Xt = torch.from_numpy(X)
    torch.manual_seed(seed)
    net = conv4(1).train()
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    algo = ProtoNet()

    def convert(i):
        s, ys, q, yq = episodes[i]
        return (meta._tensor(X[s]), meta._tensor(ys), meta._tensor(X[q]),
                meta._tensor(yq))

    tensors = [convert(i) for i in range(n)]
    yq_hand = torch.arange(N_WAY).repeat_interleave(N_QUERY)

    def ours_fb(i):
        xs, ys, xq, yq = tensors[i]
        algo.meta_backward(net, xs[None], ys[None], xq[None], yq[None],
                           int(episodes[i][1].max()) + 1)

    def hand_fb(i):
        s, q = hand_eps[i]
        emb = net(Xt[torch.cat([s, q])])
        protos = emb[: N_WAY * K_SHOT].view(N_WAY, K_SHOT, -1).mean(1)
        F.cross_entropy(-torch.cdist(emb[N_WAY * K_SHOT :], protos) ** 2, yq_hand).backward()

    def grad_div(i):
        for p in params:
            if p.grad is not None:
                p.grad /= 1

    def step(i):
        opt.step()
        opt.zero_grad(set_to_none=False)

    ours_fb(0)  # grads exist from here on
    stages = [
        ("EpisodeSampler.sample()", best_us(lambda i: sampler.sample(), n),
         "HandSampler.sample()", best_us(lambda i: hs.sample(), n)),
        ("X[s], X[q] + 4 x _tensor (ascontiguousarray, as_tensor)", best_us(convert, n),
         "Xt[torch.cat([s, q])] (torch index)",
         best_us(lambda i: Xt[torch.cat(hand_eps[i])], n)),
        ("ProtoNet.meta_backward (fwd, prototypes, loss, bwd, float)", best_us(ours_fb, n),
         "forward + prototypes + loss + backward", best_us(hand_fb, n)),
        ("p.grad /= meta_batch_size (16 params)", best_us(grad_div, n), "-", 0.0),
        ("opt.step + zero_grad", best_us(step, n), "opt.step + zero_grad",
         best_us(step, n)),
    ]
    return stages


def profile_ours(X, y, episodes, n_lines=18):
    meta = MetaLearnerClassifier("protonet", backbone="conv4", n_way=N_WAY, k_shot=K_SHOT,
                                 n_query=N_QUERY, n_episodes=episodes, meta_batch_size=1,
                                 learning_rate=LR, validation_fraction=0.0, random_state=0)
    pr = cProfile.Profile()
    pr.enable()
    meta.fit(X, y)
    pr.disable()
    out = io.StringIO()
    pstats.Stats(pr, stream=out).sort_stats("tottime").print_stats(n_lines)
    return out.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes (smoke run)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="timed episodes per run (default 400; --quick 60)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1: steadier under other load)")
    parser.add_argument("--synthetic", action="store_true",
                        help="random images instead of Omniglot")
    parser.add_argument("--profile", action="store_true",
                        help="stage breakdown and cProfile even when the goal is met")
    args = parser.parse_args(argv)
    episodes = args.episodes or (60 if args.quick else 400)
    repeats = 1 if args.quick and args.repeats == 3 else args.repeats
    if args.threads:
        torch.set_num_threads(args.threads)

    t_start = time.perf_counter()
    banner("skmtl meta-training overhead: MetaLearnerClassifier('protonet', 'conv4').fit "
           "vs a hand-written loop", 86)
    print(versions("torch", "sklearn", "skmtl", implementation=True))
    print(f"cpu_count={os.cpu_count()}  torch threads={torch.get_num_threads()}  "
          f"load avg {loadavg()}  float32, CPU")
    X, y, what = load_data(args.synthetic)
    print(f"data: {what}: X {X.shape}, {np.unique(y).size} classes")
    print(f"episodes: {N_WAY}-way {K_SHOT}-shot {N_QUERY} query, meta_batch_size 1, Adam "
          f"lr {LR}; {episodes} timed episodes a run, best of {repeats}")
    ours(X, y, 10, 0)  # warm-up
    hand(X, y, 10, 0)
    o_times, h_times, setups = [], [], []
    for r in range(repeats):
        t_o, setup, curve_o = ours(X, y, episodes, r)
        t_h, curve_h = hand(X, y, episodes, r)
        o_times.append(t_o)
        h_times.append(t_h)
        setups.append(setup)
        print(f"  repeat {r + 1}: ours {episodes / t_o:6.1f} eps/s, hand-written "
              f"{episodes / t_h:6.1f} eps/s (ours' fit setup {setup:.1f}s; last-50 loss "
              f"ours {np.mean(curve_o[-50:]):.3f} hand {np.mean(curve_h[-50:]):.3f})",
              flush=True)
    ours_eps, hand_eps = episodes / min(o_times), episodes / min(h_times)
    ratio = ours_eps / hand_eps
    rows = [dict(method="ours (MetaLearnerClassifier.fit, its loop)",
                 episodes_per_s=ours_eps, ms_per_episode=1e3 / ours_eps,
                 setup_s=min(setups), episodes=episodes, ratio=ratio),
            dict(method="hand-written torch loop", episodes_per_s=hand_eps,
                 ms_per_episode=1e3 / hand_eps, setup_s=0.0, episodes=episodes,
                 ratio=1.0)]
    print()
    head = f"{'method':<48} {'episodes/s':>10} {'ms/episode':>10} {'setup s':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['method']:<48} {r['episodes_per_s']:10.1f} {r['ms_per_episode']:10.2f} "
              f"{r['setup_s']:8.1f}")
    verdict = "meets" if ratio >= GOAL else "BELOW"
    print(f"ratio ours / hand-written (episodes/s, best of {repeats}): {ratio:.3f} "
          f"({verdict} the goal >= {GOAL})")
    print("setup: the rest of fit (checks, net, optimizer; fit adapts nothing on the "
          f"{np.unique(y).size} classes), not in the ratio")
    if ratio < GOAL or args.profile:
        print("\nPer-episode cost of each stage, measured in isolation on the same "
              "episodes (us, best of 3):")
        total_o = total_h = 0.0
        for name_o, t_o, name_h, t_h in stage_breakdown(X, y, n=50 if args.quick else 200):
            total_o += t_o
            total_h += t_h
            print(f"  {name_o:<58} {t_o:9.0f}   {name_h:<40} {t_h:9.0f}")
        print(f"  {'sum':<58} {total_o:9.0f}   {'':<40} {total_h:9.0f}")
        print(f"\ncProfile of one fit ({episodes} episodes; top by own time):")
        print(profile_ours(X, y, episodes))
    print(f"total {time.perf_counter() - t_start:.0f}s; load avg at the end {loadavg()}")
    return rows


if __name__ == "__main__":
    main()
