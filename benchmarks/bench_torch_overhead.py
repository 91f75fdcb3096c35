"""Overhead of skmtl's torch training loop against a minimal hand-written loop.

The same network, data, batch size, optimizer and loss are trained twice in the
same process, interleaved:

* ``MultiTaskRegressor(backend="torch")`` in long format ``fit(X, y, tasks=ids)``
  (early stopping off, ``tol=0`` and a huge ``n_iter_no_change`` so that every
  requested epoch runs; ``n_iter_`` is checked);
* a hand-written loop: the same ``nn.Sequential`` trunk and one ``Linear`` head with
  T outputs, each row's output taken with ``gather``, the per-task mean of
  ``0.5 * (z - y) ** 2`` summed over the tasks present in the batch (``index_add``
  and ``bincount``), AdamW with the same lr / weight decay, shuffled mini-batches,
  X / y / task ids converted once to tensors before the loop.

Time per epoch: both run ``k + 1`` epochs and the first (warm-up) epoch is
dropped.  skmtl's epochs are timed by wrapping ``Trainer._epoch`` from the outside
(the package is not modified), so the fixed costs of ``fit`` (validation, target
encoding, building the pairs and the network) are excluded; they are reported
apart as "setup" (fit time minus its epochs).  Per repeat, the mean of the ``k``
timed epochs; the table gives the best (minimum) of ``--repeats`` interleaved
repeats, and also the ratio of the single fastest epochs (the least disturbed by
other processes).  ``torch.set_num_threads`` is fixed (``--threads``, one row per
value).

``--profile`` adds a cProfile of skmtl's epochs (cumulative time per function) and
a per-step breakdown of skmtl's batch loop, measured by timing each of its stages
in isolation on the same batches.

Usage::

    python benchmarks/bench_torch_overhead.py            # n=20000, 5 epochs
    python benchmarks/bench_torch_overhead.py --quick    # smoke run (seconds)
"""

import argparse
import cProfile
import io
import os
import platform
import pstats
import sys
import time

import numpy as np
import sklearn
import torch
from torch import nn

import skmtl
from skmtl import MultiTaskRegressor

GOAL = 1.10


def loadavg():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def make_data(n, p, T, seed=0):
    """Long-format regression: shared nonlinear signal plus a task-specific part."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    tasks = rng.randint(T, size=n)
    w_shared = rng.randn(p) / np.sqrt(p)
    W_task = rng.randn(T, p) / np.sqrt(p)
    y = np.tanh(X @ w_shared) + np.einsum("ij,ij->i", X, W_task[tasks]) \
        + 0.1 * rng.randn(n)
    return X, y, tasks


# --------------------------------------------------------------------- skmtl
def ours_estimator(args, epochs):
    return MultiTaskRegressor(
        backend="torch", hidden_layer_sizes=args.hidden, activation="relu",
        batch_size=args.batch, max_epochs=epochs, learning_rate=1e-3, weight_decay=1e-4,
        early_stopping=False, tol=0.0, n_iter_no_change=10**9, loss_weighting="equal",
        random_state=0, device="cpu", dtype="float32")


def time_ours(args, X, y, tasks, epochs):
    est = ours_estimator(args, epochs)
    t0 = time.perf_counter()
    est.fit(X, y, tasks=tasks)
    dt = time.perf_counter() - t0
    assert est.n_iter_ == epochs, (est.n_iter_, epochs)
    return dt, est


# --------------------------------------------------------------- hand-written
def hand_network(p, hidden, T):
    layers, n_in = [], p
    for width in hidden:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.Sequential(nn.Sequential(*layers), nn.Linear(n_in, T))


def hand_epoch(net, opt, Xt, yt, tt, T, batch, gen):
    net.train()
    n = Xt.shape[0]
    perm = torch.randperm(n, generator=gen)
    total = torch.zeros(())
    for start in range(0, n, batch):
        idx = perm[start : start + batch]
        xb, yb, tb = Xt[idx], yt[idx], tt[idx]
        z = net(xb).gather(1, tb[:, None])[:, 0]
        sq = 0.5 * (z - yb) ** 2
        num = torch.zeros(T).index_add_(0, tb, sq)
        cnt = torch.bincount(tb, minlength=T)
        present = cnt > 0
        loss = (num[present] / cnt[present]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
    return float(total)


def time_hand(args, X, y, tasks, T, epochs):
    """Seconds for ``epochs`` epochs after one warm-up epoch, and the last loss."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    tt = torch.as_tensor(tasks, dtype=torch.long)
    net = hand_network(X.shape[1], args.hidden, T)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    hand_epoch(net, opt, Xt, yt, tt, T, args.batch, gen)  # warm-up
    t0 = time.perf_counter()
    for _ in range(epochs):
        loss = hand_epoch(net, opt, Xt, yt, tt, T, args.batch, gen)
    return time.perf_counter() - t0, loss


# ------------------------------------------------------------------ profiling
def profile_ours(args, X, y, tasks, n_lines=22):
    """cProfile of a fit of k+1 epochs, restricted to the training loop."""
    est = ours_estimator(args, args.epochs + 1)
    prof = cProfile.Profile()
    prof.enable()
    est.fit(X, y, tasks=tasks)
    prof.disable()
    s = io.StringIO()
    st = pstats.Stats(prof, stream=s)
    st.sort_stats("tottime").print_stats(n_lines)
    return s.getvalue()


def stage_breakdown(args, X, y, tasks, T, n_batches=None, repeats=3):
    """Microseconds per batch of each stage of skmtl's batch loop, in isolation.

    The stages are the calls ``Trainer._epoch`` makes, on the same batches and a
    network of the same shape, each timed over all batches (best of ``repeats``).
    """
    from skmtl.nn._backend import _codes_and_kinds, build_network, task_layout
    from skmtl.nn._data import batch_pairs, make_pairs, task_losses
    from skmtl.nn._training import _batches, _pair_tensors, _to_device
    from skmtl.nn._weighting import Equal

    est = ours_estimator(args, 1)
    est.fit(X, y, tasks=tasks)  # sets up the task bookkeeping
    table, targets, _ = est._tables(X, y, tasks, None, reset=False)
    codes, kinds = _codes_and_kinds(targets, [True] * table.n_tasks)
    pairs = make_pairs(table, codes)
    layout = task_layout(targets, kinds)
    Xf = np.asarray(table.X, dtype=np.float32)
    rng = np.random.RandomState(0)
    batches = list(_batches(np.arange(Xf.shape[0]), args.batch, rng))
    if n_batches:
        batches = batches[:n_batches]
    torch.manual_seed(0)
    net = build_network(est, Xf.shape[1], np.arange(T), T)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    weighting = Equal()
    dev, dt = torch.device("cpu"), torch.float32

    pre = [(_pair_tensors(pairs, b, dev, dt), _to_device(Xf, b, dev, dt)) for b in batches]

    def best(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for i, b in enumerate(batches):
                fn(i, b)
            times.append(time.perf_counter() - t0)
        return 1e6 * min(times) / len(batches)

    def forward_loss(i):
        (local, task, target, weight), xb = pre[i]
        features, Z = net(xb)
        return features, task_losses(Z, local, task, target, weight, layout, T)

    def full_step(i, b):
        (local, task, target, weight), xb = pre[i]
        features, Z = net(xb)
        losses, present = task_losses(Z, local, task, target, weight, layout, T)
        bad = present & ~torch.isfinite(losses)
        bad.any()
        opt.zero_grad(set_to_none=True)
        weighting.backward(losses, present, features, None)
        opt.step()
        p = present.cpu().numpy()
        losses.detach().cpu().numpy()[p]

    def plain_step(i, b):  # forward + a plain loss of the same shape, backward, step
        (local, task, target, weight), xb = pre[i]
        features, Z = net(xb)
        z = Z.gather(1, task[:, None])[:, 0]
        sq = 0.5 * (z - target) ** 2
        num = torch.zeros(T).index_add_(0, task, sq)
        cnt = torch.bincount(task, minlength=T)
        present = cnt > 0
        loss = (num[present] / cnt[present]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def loss_only(i, b):
        (local, task, target, weight), xb = pre[i]
        Z = net.heads(net.trunk(xb)).detach()
        task_losses(Z, local, task, target, weight, layout, T)

    def plain_loss_only(i, b):
        (local, task, target, weight), xb = pre[i]
        Z = net.heads(net.trunk(xb)).detach()
        z = Z.gather(1, task[:, None])[:, 0]
        num = torch.zeros(T).index_add_(0, task, 0.5 * (z - target) ** 2)
        cnt = torch.bincount(task, minlength=T)
        present = cnt > 0
        num[present] / cnt[present]

    def forward_only(i, b):
        net.heads(net.trunk(pre[i][1])).detach()

    def checks_and_logging(i, b):
        losses = torch.rand(T)
        present = torch.ones(T, dtype=torch.bool)
        bad = present & ~torch.isfinite(losses)
        bad.any()
        p = present.cpu().numpy()
        losses.detach().cpu().numpy()[p]

    with torch.no_grad():
        fwd = best(forward_only)
        loss_ours = best(loss_only) - fwd
        loss_plain = best(plain_loss_only) - fwd
    rows = [
        ("batch_pairs (numpy index building)", best(lambda i, b: batch_pairs(pairs, b))),
        ("_pair_tensors (incl. batch_pairs, 4 x as_tensor)",
         best(lambda i, b: _pair_tensors(pairs, b, dev, dt))),
        ("_to_device (X[rows] numpy gather + torch.tensor copy)",
         best(lambda i, b: _to_device(Xf, b, dev, dt))),
        ("hand: Xt[idx] (torch gather of a pre-converted tensor)",
         best(lambda i, b: torch.as_tensor(Xf)[torch.as_tensor(b)])),
        ("task_losses (no grad) minus forward", loss_ours),
        ("hand loss (gather/index_add/bincount, no grad) minus fwd", loss_plain),
        ("isfinite check + present/losses .cpu().numpy()", best(checks_and_logging)),
        ("full step: skmtl forward+task_losses+backward+AdamW", best(full_step)),
        ("full step: same net, hand loss, backward+AdamW", best(plain_step)),
    ]
    return rows, len(batches)


# ----------------------------------------------------------------------- run
def run_threads(args, X, y, tasks, T, threads):
    torch.set_num_threads(threads)
    k = args.epochs
    ours1, oursk, hand = [], [], []
    for _ in range(args.repeats):  # interleaved
        ours1.append(time_ours(args, X, y, tasks, 1)[0])
        t, est = time_ours(args, X, y, tasks, k + 1)
        oursk.append(t)
        t, hand_loss = time_hand(args, X, y, tasks, T, k)
        hand.append(t)
    per_ours = (min(oursk) - min(ours1)) / k
    per_hand = min(hand) / k
    setup = min(ours1) - per_ours
    return dict(
        benchmark="torch_overhead", threads=threads, n=X.shape[0], p=X.shape[1], T=T,
        hidden="x".join(map(str, args.hidden)), batch_size=args.batch, epochs=k,
        repeats=args.repeats, ours_s_per_epoch=per_ours, hand_s_per_epoch=per_hand,
        ratio=per_ours / per_hand, ours_setup_s=setup,
        ours_final_loss=est.loss_curve_[-1], hand_final_loss=hand_loss,
        goal=GOAL, ok=per_ours / per_hand <= GOAL,
    )


def print_table(rows):
    head = (f"{'threads':>7} {'n':>6} {'p':>3} {'T':>3} {'hidden':>8} {'batch':>5} "
            f"{'epochs':>6} {'ours s/ep':>10} {'hand s/ep':>10} {'ratio':>6} "
            f"{'goal':>6} {'ours setup s':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['threads']:>7} {r['n']:>6} {r['p']:>3} {r['T']:>3} {r['hidden']:>8} "
              f"{r['batch_size']:>5} {r['epochs']:>6} {r['ours_s_per_epoch']:>10.4f} "
              f"{r['hand_s_per_epoch']:>10.4f} {r['ratio']:>6.3f} "
              f"{('<=' if r['ok'] else '> ') + format(GOAL, '.2f'):>6} "
              f"{r['ours_setup_s']:>12.3f}")
    print("(ratio = ours / hand-written time per epoch; 'ours setup' = time of a "
          "1-epoch fit minus one epoch:\n validation, target encoding, pairs, network "
          "construction.  Final training losses, ours vs hand: "
          + ", ".join(f"{r['ours_final_loss']:.3f} vs {r['hand_final_loss']:.3f}"
                      for r in rows) + ")")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--p", type=int, default=64)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs k (after one warm-up epoch)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch.set_num_threads values, one row each")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile and per-stage breakdown of skmtl's loop")
    args = parser.parse_args(argv)
    q = args.quick
    args.n = args.n or (4000 if q else 20000)
    args.epochs = args.epochs or (2 if q else 5)
    args.repeats = args.repeats or (2 if q else 3)
    args.hidden = tuple(args.hidden)

    print("=" * 78)
    print("skmtl torch-backend overhead: MultiTaskRegressor(backend='torch') vs a "
          "hand-written loop")
    print("=" * 78)
    print(f"python {sys.version.split()[0]} ({platform.python_implementation()})  "
          f"torch {torch.__version__}  numpy {np.__version__}  sklearn "
          f"{sklearn.__version__}  skmtl {getattr(skmtl, '__version__', '?')}")
    print(f"cpu_count={os.cpu_count()}  load avg {loadavg()}  float32, CPU, "
          f"AdamW(lr=1e-3, weight_decay=1e-4), ReLU MLP {args.hidden} + linear heads")
    X, y, tasks = make_data(args.n, args.p, args.tasks)
    rows = []
    t0 = time.perf_counter()
    for th in args.threads:
        print(f"torch.set_num_threads({th}) ...", flush=True)
        rows.append(run_threads(args, X, y, tasks, args.tasks, th))
    print()
    print_table(rows)
    if args.profile:
        th = args.threads[0]
        torch.set_num_threads(th)
        print(f"\nPer-batch cost of the stages of skmtl's loop (us/batch, best of 3, "
              f"torch threads={th}):")
        stages, nb = stage_breakdown(args, X, y, tasks, args.tasks)
        for name, us in stages:
            print(f"  {name:<58} {us:9.1f}")
        for name, us in stages:
            rows.append(dict(benchmark="torch_overhead_stage", threads=th, stage=name,
                             us_per_batch=us, n_batches=nb))
        print(f"\ncProfile of one fit of {args.epochs + 1} epochs (top by own time):")
        print(profile_ours(args, X, y, tasks))
    print(f"total {time.perf_counter() - t0:.1f}s; load avg at the end {loadavg()}")
    return rows


if __name__ == "__main__":
    main()
