"""Scaling with the number of tasks: one shared network against one MLP per task.

T related binary classification tasks (T = 1, 10, 50 by default), each with its own
rows: ``--n-train`` training and ``--n-test`` test rows per task, ``p`` features.
The tasks share nonlinear features ``h(x) = tanh(x A)`` (A common to all tasks);
task ``t`` reads them out linearly, ``logit_t = s (h(x) . w_t) + b_t`` with
``w_t = w_0 + 0.5 * delta_t``, labels drawn from the logistic model and then
flipped at a task-specific rate ``eps_t`` drawn from U(0, 0.15).

Compared, on the same data, interleaved in one process:

* ``MultiTaskClassifier(backend="torch", hidden_layer_sizes=(64,))``: one network
  (shared trunk, one head per task) fitted once on the long format
  ``fit(X, y, tasks=ids)``;
* T separate ``sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(64,))``, one
  per task on that task's rows.

Both keep their defaults.  sklearn's: Adam, learning rate 1e-3, mini-batches of
``min(200, n)`` rows, at most 200 epochs, stop when the training loss has not
improved by ``tol=1e-4`` for 10 epochs, ReLU, L2 penalty ``alpha=1e-4``.  skmtl's
(chosen by ``bench_defaults.py``): AdamW with ``learning_rate="auto"`` (with
validation rows, 5e-3 for the shared layer and 1e-3 for the heads),
``weight_decay=0.1``, batches of ``n/25`` rows in [32, 256], tanh,
``early_stopping="auto"`` (a validation split from 1,000 rows) with patience 10.
``random_state`` is fixed for both (0 for skmtl; the task index for sklearn's MLP t).

skmtl runs in three configurations: ``default`` (all defaults, as above),
``batch=200T`` (``batch_size=200*T``: one step sees as many rows as one step of
each of the T MLPs, so both make the same number of steps per task) and ``es``
(``batch_size=100*T, learning_rate=1e-2, early_stopping=True,
n_iter_no_change=5``: stop on a 10% validation split).  The T sklearn MLPs run at
their defaults (the goal's reference) and, as ``sklearn es``, with the same
settings as ``es`` (``learning_rate_init=1e-2, early_stopping=True,
n_iter_no_change=5``, each on its own task's rows), so that the speed-up of ``es``
is also shown against equally tuned single-task models.

Reported per T: total fit time (best of ``--repeats``), mean over tasks of the test
accuracy, epochs run (skmtl's ``n_iter_``; mean sklearn ``n_iter_`` and how many
sklearn fits hit ``max_iter``) and the speed-up ``t_sklearn / t_skmtl``.  Goal at
T=50: speed-up >= 25 at equal or better accuracy.

A tiny fit of each runs first, so that one-time costs (lazy imports, torch's
initialisation; printed) are not charged to the first T.

Threads: ``torch.set_num_threads`` and the BLAS pools (threadpoolctl) are set to
``--threads`` (default 1) for both.

Usage::

    python benchmarks/bench_tasks_scaling.py            # T = 1, 10, 50
    python benchmarks/bench_tasks_scaling.py --quick    # smoke run
"""

import os
import sys
import time

import numpy as np
import torch
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from skmtl import MultiTaskClassifier
from _common import Parser, banner, loadavg, no_convergence_warnings, print_table, versions

GOAL_SPEEDUP, GOAL_T = 25.0, 50


def make_tasks(T, n_train, n_test, p, n_hidden=8, seed=0):
    """Long-format train and test sets: (X, y, task ids) each, and the flip rates."""
    rng = np.random.RandomState(seed)
    A = rng.randn(p, n_hidden) * (2.0 / np.sqrt(p))
    w0 = rng.randn(n_hidden)
    out = {"train": ([], [], []), "test": ([], [], [])}
    eps = rng.uniform(0, 0.15, size=T)
    for t in range(T):
        w = w0 + 0.5 * rng.randn(n_hidden)
        b = 0.3 * rng.randn()
        for part, n in (("train", n_train), ("test", n_test)):
            X = rng.randn(n, p)
            H = np.tanh(X @ A)
            logit = 3.0 * (H @ w) / np.linalg.norm(w) + b
            y = (rng.rand(n) < 1 / (1 + np.exp(-logit))).astype(int)
            flip = rng.rand(n) < eps[t]
            y[flip] = 1 - y[flip]
            out[part][0].append(X)
            out[part][1].append(y)
            out[part][2].append(np.full(n, t))
    return {part: tuple(np.concatenate(v) for v in vals) for part, vals in out.items()}, eps


def bayes_accuracy(T, n_train, n_test, p, seed=0, n_hidden=8):
    """Mean over tasks of the Bayes accuracy on the test rows (replays make_tasks)."""
    rng = np.random.RandomState(seed)
    A = rng.randn(p, n_hidden) * (2.0 / np.sqrt(p))
    w0 = rng.randn(n_hidden)
    eps = rng.uniform(0, 0.15, size=T)
    acc = []
    for t in range(T):
        w = w0 + 0.5 * rng.randn(n_hidden)
        b = 0.3 * rng.randn()
        for part, n in (("train", n_train), ("test", n_test)):
            X = rng.randn(n, p)
            logit = 3.0 * (np.tanh(X @ A) @ w) / np.linalg.norm(w) + b
            q = 1 / (1 + np.exp(-np.abs(logit)))  # P(label = Bayes prediction)
            rng.rand(n), rng.rand(n)
            if part == "test":
                acc.append(np.mean(q * (1 - eps[t]) + (1 - q) * eps[t]))
    return float(np.mean(acc))


def per_task_accuracy(pred, y, tasks, T):
    return np.array([np.mean(pred[tasks == t] == y[tasks == t]) for t in range(T)])


CONFIGS = {
    # name: extra MultiTaskClassifier parameters as a function of T
    "default": lambda T: {},
    "batch=200T": lambda T: {"batch_size": 200 * T},
    "es": lambda T: {"batch_size": 100 * T, "learning_rate": 1e-2, "early_stopping": True,
                     "n_iter_no_change": 5},
}
SKLEARN_ES = {"learning_rate_init": 1e-2, "early_stopping": True, "n_iter_no_change": 5}


def fit_skmtl(args, data, T, config="default"):
    X, y, ids = data["train"]
    est = MultiTaskClassifier(backend="torch", hidden_layer_sizes=(64,), random_state=0,
                              device=args.device, **CONFIGS[config](T))
    t0 = time.perf_counter()
    est.fit(X, y, tasks=ids)
    dt = time.perf_counter() - t0
    Xs, ys, ids_s = data["test"]
    acc = per_task_accuracy(est.predict(Xs, tasks=ids_s), ys, ids_s, T)
    return dt, acc, est.n_iter_


def fit_sklearn(args, data, T, es=False):
    X, y, ids = data["train"]
    models, n_iter = [], []
    t0 = time.perf_counter()
    with no_convergence_warnings():
        for t in range(T):
            m = MLPClassifier(hidden_layer_sizes=(64,), random_state=t,
                              **(SKLEARN_ES if es else {}))
            m.fit(X[ids == t], y[ids == t])
            models.append(m)
            n_iter.append(m.n_iter_)
    dt = time.perf_counter() - t0
    Xs, ys, ids_s = data["test"]
    pred = np.empty_like(ys)
    for t, m in enumerate(models):
        pred[ids_s == t] = m.predict(Xs[ids_s == t])
    acc = per_task_accuracy(pred, ys, ids_s, T)
    max_iter = models[0].max_iter
    return dt, acc, np.array(n_iter), max_iter


def warm_up(device="cpu"):
    """One tiny fit of each, so that first-call costs (lazy imports of the torch
    backend, torch's initialisation) are not charged to the first T; their times."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(50, 3), (np.arange(50) // 2) % 2
    t0 = time.perf_counter()
    MultiTaskClassifier(backend="torch", hidden_layer_sizes=(4,), max_epochs=1,
                        device=device).fit(X, y, tasks=np.arange(50) % 2)
    t1 = time.perf_counter()
    with no_convergence_warnings():
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(X, y)
    return t1 - t0, time.perf_counter() - t1


def run_T(args, T):
    data, eps = make_tasks(T, args.n_train, args.n_test, args.p, seed=args.seed)
    t_ours = {c: [] for c in args.configs}
    res_ours, t_sk, t_sk_es = {}, [], []
    for _ in range(args.repeats):  # interleaved
        for c in args.configs:
            dt, acc, ep = fit_skmtl(args, data, T, c)
            t_ours[c].append(dt)
            res_ours[c] = acc, ep
        dt, acc_sk, it_sk, max_iter = fit_sklearn(args, data, T)
        t_sk.append(dt)
        dt, acc_sk_es, _, _ = fit_sklearn(args, data, T, es=True)
        t_sk_es.append(dt)
    ts, ts_es = min(t_sk), min(t_sk_es)
    n = T * args.n_train
    bayes = bayes_accuracy(T, args.n_train, args.n_test, args.p, args.seed)
    rows = []
    for c in args.configs:
        to, (acc_ours, ep_ours) = min(t_ours[c]), res_ours[c]
        batch = min(CONFIGS[c](T).get("batch_size", 200), n)
        rows.append(dict(
            benchmark="tasks_scaling", T=T, config=c, n_train_per_task=args.n_train,
            n_test_per_task=args.n_test, p=args.p, repeats=args.repeats,
            threads=args.threads, skmtl_batch_size=batch,
            skmtl_fit_s=to, sklearn_fit_s=ts, speedup=ts / to,
            skmtl_acc=float(acc_ours.mean()), sklearn_acc=float(acc_sk.mean()),
            acc_diff=float(acc_ours.mean() - acc_sk.mean()),
            sklearn_es_fit_s=ts_es, speedup_vs_es=ts_es / to,
            sklearn_es_acc=float(acc_sk_es.mean()),
            skmtl_tasks_better=int((acc_ours > acc_sk).sum()),
            skmtl_epochs=int(ep_ours), sklearn_mean_iter=float(it_sk.mean()),
            sklearn_hit_max_iter=int((it_sk >= max_iter).sum()),
            skmtl_steps=int(ep_ours) * int(np.ceil(n / batch)),
            sklearn_steps=int(it_sk.sum()) * int(np.ceil(args.n_train
                                                          / min(200, args.n_train))),
            bayes_acc=bayes,
        ))
    return rows


# (header, least width, cell): the table's columns, one space apart, "|" before those
# of the tuned sklearn MLPs
COLUMNS = [
    ("T", 3, lambda r: r["T"]),
    ("skmtl config", 12, lambda r: r["config"]),
    ("skmtl s", 8, lambda r: f"{r['skmtl_fit_s']:.2f}"),
    ("sklearn s", 9, lambda r: f"{r['sklearn_fit_s']:.2f}"),
    ("speed-up", 8, lambda r: f"{r['speedup']:.2f}x"),
    ("acc skmtl", 9, lambda r: f"{r['skmtl_acc']:.4f}"),
    ("acc sklearn", 11, lambda r: f"{r['sklearn_acc']:.4f}"),
    ("diff", 7, lambda r: f"{r['acc_diff']:+.4f}"),
    ("better", 6, lambda r: f"{r['skmtl_tasks_better']:>3}/{r['T']:<2}"),
    ("skmtl ep", 8, lambda r: r["skmtl_epochs"]),
    ("sk iter (max)", 13,
     lambda r: f"{r['sklearn_mean_iter']:>7.1f} ({r['sklearn_hit_max_iter']:>3})"),
    ("steps skmtl", 11, lambda r: r["skmtl_steps"]),
    ("steps sk", 9, lambda r: r["sklearn_steps"]),
    ("|", 1, lambda r: "|"),
    ("sk es s", 7, lambda r: f"{r['sklearn_es_fit_s']:.2f}"),
    ("vs es", 7, lambda r: f"{r['speedup_vs_es']:.2f}x"),
    ("acc sk es", 9, lambda r: f"{r['sklearn_es_acc']:.4f}"),
]


def report(rows):
    print_table([c[0] for c in COLUMNS], [[c[2](r) for c in COLUMNS] for r in rows],
                align="><>", widths=[c[1] for c in COLUMNS], sep=" ")
    bayes = {r["T"]: r["bayes_acc"] for r in rows}
    print("speed-up = sklearn fit time / skmtl fit time (fit only, best of the repeats); "
          "acc = mean over tasks of\nthe test accuracy (Bayes accuracy: "
          + ", ".join(f"T={T}: {b:.3f}" for T, b in bayes.items())
          + "); better = tasks where skmtl is more\naccurate; sk iter = mean epochs of "
          "the T sklearn MLPs (how many hit max_iter=200); steps =\noptimizer steps in "
          "total.  skmtl configs: 'default' = all defaults;\n"
          "'batch=200T' = batch_size=200*T: each step sees as many rows as one step of "
          "each of the T MLPs;\n'es' = batch_size=100*T, learning_rate=1e-2, "
          "early_stopping=True, n_iter_no_change=5.  Right of '|': the T\nsklearn MLPs "
          "with the same settings as 'es' (learning_rate_init=1e-2, early_stopping, "
          "n_iter_no_change=5):\ntheir fit time, skmtl's speed-up over them, their "
          "accuracy.")
    for r in rows:
        if r["T"] != GOAL_T:
            continue
        ok = r["speedup"] >= GOAL_SPEEDUP and r["acc_diff"] >= 0
        print(f"goal at T={GOAL_T} ({r['config']}): speed-up >= {GOAL_SPEEDUP:g}x at equal "
              f"or better accuracy -> {'MET' if ok else 'NOT MET'} (speed-up "
              f"{r['speedup']:.2f}x, accuracy {r['acc_diff']:+.4f})")


def main(argv=None):
    parser = Parser(__doc__)
    parser.quick_option("--tasks", [1, 10, 50], [1, 5], type=int, nargs="+")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--p", type=int, default=20)
    parser.quick_option("--repeats", 2, 1, type=int)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads for both packages")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu",
                        help="skmtl's device (\"auto\": the GPU where there is one)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS),
                        choices=list(CONFIGS), help="skmtl configurations")
    args = parser.parse(argv)

    banner("skmtl tasks scaling: one MultiTaskClassifier(backend='torch') vs T sklearn "
           "MLPClassifier")
    print(versions("torch", "numpy", "sklearn", "skmtl", implementation=True))
    print(f"cpu_count={os.cpu_count()}  load avg {loadavg()}  threads={args.threads} "
          f"(torch.set_num_threads + threadpool_limits)")
    print(f"skmtl device: {args.device}")
    print(f"per task: {args.n_train} train + {args.n_test} test rows, p={args.p}; "
          "hidden_layer_sizes=(64,) for both, defaults otherwise")
    torch.set_num_threads(args.threads)
    rows = []
    t0 = time.perf_counter()
    with threadpool_limits(args.threads):
        warm = warm_up(args.device)
        print(f"first-call (import / initialisation) cost, excluded from the timings: "
              f"skmtl {warm[0]:.2f}s, sklearn {warm[1]:.2f}s", flush=True)
        for T in args.tasks:
            print(f"T={T} ...", flush=True)
            rows.extend(run_T(args, T))
    print()
    report(rows)
    print(f"total {time.perf_counter() - t0:.1f}s; load avg at the end {loadavg()}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
