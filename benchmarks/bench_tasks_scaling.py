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

Both keep their defaults, which match: Adam(W), learning rate 1e-3, mini-batches of
``min(200, n)`` rows, at most 200 epochs, stop when the training loss has not
improved by ``tol=1e-4`` for 10 epochs, no early stopping on a validation split,
ReLU.  What differs: sklearn's L2 penalty ``alpha=1e-4`` in the loss vs AdamW's
decoupled ``weight_decay=1e-4``; skmtl's stopping loss is the *sum* of the T
per-task mean losses (so ``tol`` is relatively T times tighter).  ``random_state``
is fixed for both (0 for skmtl; the task index for sklearn's MLP t).

Reported per T: total fit time (best of ``--repeats``), mean over tasks of the test
accuracy, epochs run (skmtl's ``n_iter_``; mean sklearn ``n_iter_`` and how many
sklearn fits hit ``max_iter``) and the speed-up ``t_sklearn / t_skmtl``.  Goal at
T=50: speed-up >= 25 at equal or better accuracy.

Threads: ``torch.set_num_threads`` and the BLAS pools (threadpoolctl) are set to
``--threads`` (default 1) for both.

Usage::

    python benchmarks/bench_tasks_scaling.py            # T = 1, 10, 50
    python benchmarks/bench_tasks_scaling.py --quick    # smoke run
"""

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import skmtl
from skmtl import MultiTaskClassifier

GOAL_SPEEDUP, GOAL_T = 25.0, 50


def loadavg():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


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


def per_task_accuracy(pred, y, tasks, T):
    return np.array([np.mean(pred[tasks == t] == y[tasks == t]) for t in range(T)])


def fit_skmtl(args, data, T):
    X, y, ids = data["train"]
    est = MultiTaskClassifier(backend="torch", hidden_layer_sizes=(64,), random_state=0,
                              device="cpu")
    t0 = time.perf_counter()
    est.fit(X, y, tasks=ids)
    dt = time.perf_counter() - t0
    Xs, ys, ids_s = data["test"]
    acc = per_task_accuracy(est.predict(Xs, tasks=ids_s), ys, ids_s, T)
    return dt, acc, est.n_iter_


def fit_sklearn(args, data, T):
    X, y, ids = data["train"]
    models, n_iter = [], []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for t in range(T):
            m = MLPClassifier(hidden_layer_sizes=(64,), random_state=t)
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


def run_T(args, T):
    data, eps = make_tasks(T, args.n_train, args.n_test, args.p, seed=args.seed)
    t_ours, t_sk = [], []
    for _ in range(args.repeats):  # interleaved
        dt, acc_ours, ep_ours = fit_skmtl(args, data, T)
        t_ours.append(dt)
        dt, acc_sk, it_sk, max_iter = fit_sklearn(args, data, T)
        t_sk.append(dt)
    to, ts = min(t_ours), min(t_sk)
    return dict(
        benchmark="tasks_scaling", T=T, n_train_per_task=args.n_train,
        n_test_per_task=args.n_test, p=args.p, repeats=args.repeats,
        threads=args.threads,
        skmtl_fit_s=to, sklearn_fit_s=ts, speedup=ts / to,
        skmtl_acc=float(acc_ours.mean()), sklearn_acc=float(acc_sk.mean()),
        acc_diff=float(acc_ours.mean() - acc_sk.mean()),
        skmtl_tasks_better=int((acc_ours > acc_sk).sum()),
        skmtl_epochs=int(ep_ours), sklearn_mean_iter=float(it_sk.mean()),
        sklearn_hit_max_iter=int((it_sk >= max_iter).sum()),
        skmtl_steps=int(ep_ours) * int(np.ceil(T * args.n_train / min(200, T * args.n_train))),
        sklearn_steps=int(it_sk.sum()) * int(np.ceil(args.n_train / min(200, args.n_train))),
        bayes_flip_mean=float(eps.mean()),
    )


def print_table(rows):
    head = (f"{'T':>3} {'skmtl s':>8} {'sklearn s':>9} {'speed-up':>8} "
            f"{'acc skmtl':>9} {'acc sklearn':>11} {'diff':>7} {'better':>6} "
            f"{'skmtl ep':>8} {'sk iter (max)':>13} {'steps skmtl':>11} {'steps sk':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['T']:>3} {r['skmtl_fit_s']:>8.2f} {r['sklearn_fit_s']:>9.2f} "
              f"{r['speedup']:>7.2f}x {r['skmtl_acc']:>9.4f} {r['sklearn_acc']:>11.4f} "
              f"{r['acc_diff']:>+7.4f} {r['skmtl_tasks_better']:>3}/{r['T']:<2} "
              f"{r['skmtl_epochs']:>8} "
              f"{r['sklearn_mean_iter']:>7.1f} ({r['sklearn_hit_max_iter']:>3}) "
              f"{r['skmtl_steps']:>11} {r['sklearn_steps']:>9}")
    print("speed-up = sklearn fit time / skmtl fit time (fit only, best of the repeats); "
          "acc = mean over tasks of\nthe test accuracy; better = tasks where skmtl is "
          "more accurate; sk iter = mean epochs of the T sklearn\nMLPs, (how many hit "
          "max_iter=200); steps = optimizer steps in total.")
    last = [r for r in rows if r["T"] == GOAL_T]
    if last:
        r = last[0]
        ok = r["speedup"] >= GOAL_SPEEDUP and r["acc_diff"] >= 0
        print(f"goal at T={GOAL_T}: speed-up >= {GOAL_SPEEDUP:g}x at equal or better "
              f"accuracy -> {'MET' if ok else 'NOT MET'} (speed-up {r['speedup']:.2f}x, "
              f"accuracy {r['acc_diff']:+.4f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--tasks", type=int, nargs="+", default=None)
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--p", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads for both packages")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    q = args.quick
    args.tasks = args.tasks or ([1, 5] if q else [1, 10, 50])
    args.repeats = args.repeats or (1 if q else 2)

    print("=" * 78)
    print("skmtl tasks scaling: one MultiTaskClassifier(backend='torch') vs T sklearn "
          "MLPClassifier")
    print("=" * 78)
    print(f"python {sys.version.split()[0]} ({platform.python_implementation()})  "
          f"torch {torch.__version__}  numpy {np.__version__}  sklearn "
          f"{sklearn.__version__}  skmtl {getattr(skmtl, '__version__', '?')}")
    print(f"cpu_count={os.cpu_count()}  load avg {loadavg()}  threads={args.threads} "
          f"(torch.set_num_threads + threadpool_limits)")
    print(f"per task: {args.n_train} train + {args.n_test} test rows, p={args.p}; "
          "hidden_layer_sizes=(64,) for both, defaults otherwise")
    torch.set_num_threads(args.threads)
    rows = []
    t0 = time.perf_counter()
    with threadpool_limits(args.threads):
        for T in args.tasks:
            print(f"T={T} ...", flush=True)
            rows.append(run_T(args, T))
    print()
    print_table(rows)
    print(f"total {time.perf_counter() - t0:.1f}s; load avg at the end {loadavg()}")
    return rows


if __name__ == "__main__":
    main()
