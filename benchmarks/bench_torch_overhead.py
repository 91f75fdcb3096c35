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
dropped.  skmtl's epochs are one ``fit(max_epochs=k + 1)`` whose epochs a
:class:`skmtl.nn.Timer` (``callbacks=[Timer()]``) times, so the fixed costs of
``fit`` (validation, target encoding, building the pairs and the network) are
excluded; they are reported apart as "setup" (the fit's time minus its epochs).  Per repeat, the
mean of the ``k`` timed epochs; the table gives the best (minimum) of
``--repeats`` interleaved repeats, and also the ratio of the single fastest epochs
(the least disturbed by other processes).  A second measurement alternates single
epochs: one skmtl epoch (a ``warm_start`` fit of one epoch, timed as above), one
hand-written epoch, ``--paired`` times; it gives the median of the per-pair ratios
and the ratio of the fastest epochs, and is the one to trust on a busy machine.  ``torch.set_num_threads`` is fixed (``--threads``, default 1;
one row per value).

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
from skmtl.nn import Timer

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
    for t in range(T):  # standardised per task, as skmtl does for its loss: the
        rows = tasks == t  # two loops' losses are then in one unit
        y[rows] = (y[rows] - y[rows].mean()) / y[rows].std()
    return X, y, tasks


def make_wide(n, p, T, seed=0):
    """Wide format: every row labelled for every task (Y of shape (n, T)), ``tasks``
    None."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    w_shared, W_task = rng.randn(p) / np.sqrt(p), rng.randn(p, T) / np.sqrt(p)
    Y = np.tanh(X @ w_shared)[:, None] + X @ W_task + 0.1 * rng.randn(n, T)
    return X, (Y - Y.mean(axis=0)) / Y.std(axis=0), None  # standardised (see make_data)


# --------------------------------------------------------------------- skmtl
def ours_estimator(args, epochs):
    return MultiTaskRegressor(
        backend="torch", hidden_layer_sizes=args.hidden, activation="relu",
        batch_size=args.batch, max_epochs=epochs, learning_rate=1e-3, weight_decay=1e-4,
        early_stopping=False, tol=0.0, n_iter_no_change=10**9, loss_weighting="equal",
        random_state=0, device=args.device, dtype="float32")


def time_ours(args, X, y, tasks, epochs):
    """Seconds of each of ``epochs`` epochs after a warm-up epoch, all in one ``fit``
    timed by a :class:`~skmtl.nn.Timer` callback, and the setup (the rest of ``fit``)."""
    est = ours_estimator(args, epochs + 1).set_params(callbacks=[Timer()])
    t0 = time.perf_counter()
    est.fit(X, y, tasks=tasks)
    fit_time = time.perf_counter() - t0
    all_epochs = np.array(est.callbacks_[0].epoch_times)
    assert est.n_iter_ == epochs + 1 and all_epochs.size == epochs + 1, est.n_iter_
    return all_epochs[1:], fit_time - all_epochs.sum(), est


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
    perm = torch.randperm(n, generator=gen).to(Xt.device)
    total, n_batches = torch.zeros((), device=Xt.device), 0
    for start in range(0, n, batch):
        idx = perm[start : start + batch]
        if tt is None:  # wide format: every task on every row
            loss = 0.5 * ((net(Xt[idx]) - yt[idx]) ** 2).mean(0).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            n_batches += 1
            continue
        xb, yb, tb = Xt[idx], yt[idx], tt[idx]
        z = net(xb).gather(1, tb[:, None])[:, 0]
        sq = 0.5 * (z - yb) ** 2
        num = torch.zeros(T, device=xb.device).index_add_(0, tb, sq)
        cnt = torch.bincount(tb, minlength=T)
        present = cnt > 0
        loss = (num[present] / cnt[present]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
        n_batches += 1
    return float(total) / n_batches


class HandLoop:
    """The hand-written model, optimizer and data tensors; ``epoch()`` runs one epoch."""

    def __init__(self, args, X, y, tasks, T):
        torch.manual_seed(0)
        self.gen = torch.Generator().manual_seed(0)
        dev = torch.device("cuda" if args.device == "cuda" else "cpu")
        self.Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
        self.yt = torch.as_tensor(y, dtype=torch.float32, device=dev)
        self.tt = None if tasks is None else torch.as_tensor(tasks, dtype=torch.long,
                                                             device=dev)
        self.net = hand_network(X.shape[1], args.hidden, T).to(dev)
        # --hand-fused: the fused AdamW that skmtl uses on the CPU and CUDA, so that the
        # ratio is the loop's overhead alone, not the optimizer's implementation
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=1e-3, weight_decay=1e-4,
                                     fused=True if args.hand_fused else None)
        self.T, self.batch = T, args.batch

    def epoch(self):
        return hand_epoch(self.net, self.opt, self.Xt, self.yt, self.tt, self.T, self.batch,
                          self.gen)


def time_hand(args, X, y, tasks, T, epochs):
    """Per-epoch seconds of ``epochs`` epochs (the first is the warm-up), last loss."""
    loop = HandLoop(args, X, y, tasks, T)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        loss = loop.epoch()
        times.append(time.perf_counter() - t0)
    return np.array(times), loss


def paired_epochs(args, X, y, tasks, T, m):
    """``m`` epochs of each, alternating one skmtl epoch and one hand-written epoch.

    skmtl's epochs are ``warm_start`` fits of one epoch each (the same network and
    optimizer, continued), the epoch timed by a :class:`~skmtl.nn.Timer` callback.
    Both are warmed up by one epoch first.
    """
    est = ours_estimator(args, 1).set_params(warm_start=True, callbacks=[Timer()])
    loop = HandLoop(args, X, y, tasks, T)
    est.fit(X, y, tasks=tasks)
    loop.epoch()
    ours, hand = [], []
    for _ in range(m):
        est.fit(X, y, tasks=tasks)
        ours.append(est.callbacks_[0].epoch_times[-1])
        t0 = time.perf_counter()
        loop.epoch()
        hand.append(time.perf_counter() - t0)
    return np.array(ours), np.array(hand)


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


def stage_breakdown(args, X, y, tasks, T, repeats=5):
    """Microseconds per batch of each stage of skmtl's batch loop and its hand twin.

    The stages are what ``Trainer._train_step`` does for one batch, timed in isolation on
    the same batches (all of one epoch, best of ``repeats`` passes).  The loss is
    timed on a leaf ``Z`` of the network's output shape, so that the loss forward and
    its backward (down to ``Z``) are measured without the network.
    """
    from skmtl.nn._backend import _codes_and_kinds, build_network, task_layout
    from skmtl.nn._data import batch_pairs, make_pairs, task_losses
    from skmtl.nn._rows import RowSource
    from skmtl.nn._training import _batches, _PairTensors
    from skmtl.nn._weighting import Equal

    est = ours_estimator(args, 1)
    est.fit(X, y, tasks=tasks)  # sets up the task bookkeeping
    table, targets, _ = est._tables(X, y, tasks, None, reset=False)  # what fit hands
    codes, kinds = _codes_and_kinds(targets, [True] * table.n_tasks)  # its Trainer
    Xn, pairs, layout = table.X, make_pairs(table, codes), task_layout(targets, kinds)
    Xf = np.asarray(Xn, dtype=np.float32)
    batches = list(_batches(np.arange(Xf.shape[0]), args.batch, np.random.RandomState(0)))
    dev, dt = torch.device("cpu"), torch.float32
    Xt, yt = torch.as_tensor(Xf), torch.as_tensor(y, dtype=dt)
    tt = torch.as_tensor(tasks, dtype=torch.long)
    bt = [torch.as_tensor(b) for b in batches]
    src, ptens = RowSource(Xf, dev, dt), _PairTensors(pairs, dev, dt)
    pre = [ptens.batch(b, torch.as_tensor(b)) for b in batches]
    xs = [src.batch(b, torch.as_tensor(b)) for b in batches]
    Zs = [torch.randn(b.size, T, requires_grad=True) for b in batches]
    torch.manual_seed(0)
    net = build_network(est, Xf.shape[1], np.arange(T), T)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    weighting = Equal()

    def best(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for i in range(len(batches)):
                fn(i)
            times.append(time.perf_counter() - t0)
        return 1e6 * min(times) / len(batches)

    def best_pair(f, g):  # alternated passes, for the two full steps
        tf, tg = [], []
        for _ in range(repeats):
            for fn, times in ((f, tf), (g, tg)):
                t0 = time.perf_counter()
                for i in range(len(batches)):
                    fn(i)
                times.append(time.perf_counter() - t0)
        return 1e6 * min(tf) / len(batches), 1e6 * min(tg) / len(batches)

    def hand_loss(Z, task, target):
        z = Z.gather(1, task[:, None])[:, 0]
        num = torch.zeros(T).index_add_(0, task, 0.5 * (z - target) ** 2)
        cnt = torch.bincount(task, minlength=T)
        present = cnt > 0
        return (num[present] / cnt[present]).sum()

    def ours_loss(Z, local, task, target, weight):
        losses, present = task_losses(Z, local, task, target, weight, layout, T)
        return losses, present, losses[present].sum()  # Equal.combine

    def ours_loss_fb(i):
        local, task, target, weight = pre[i]
        torch.autograd.grad(ours_loss(Zs[i], local, task, target, weight)[2], Zs[i])

    def hand_loss_fb(i):
        local, task, target, weight = pre[i]
        torch.autograd.grad(hand_loss(Zs[i], task, target), Zs[i])

    with torch.no_grad():
        outs = [ours_loss(Zs[i], *pre[i])[:2] for i in range(len(batches))]

    def checks(i):  # after the loss: the finiteness check and the loss logging
        losses, present = outs[i]
        bad = present & ~torch.isfinite(losses)
        bad.any()
        p = present.cpu().numpy()
        losses.detach().cpu().numpy()[p]

    def ours_step(i):
        local, task, target, weight = ptens.batch(batches[i], bt[i])
        features, Z = net(src.batch(batches[i], bt[i]))
        losses, present = task_losses(Z, local, task, target, weight, layout, T)
        bad = present & ~torch.isfinite(losses)
        bad.any()
        opt.zero_grad(set_to_none=True)
        weighting.backward(losses, present, features, None)
        opt.step()
        p = present.cpu().numpy()
        losses.detach().cpu().numpy()[p]

    def hand_step(i):
        idx = bt[i]
        xb, yb, tb = Xt[idx], yt[idx], tt[idx]
        loss = hand_loss(net(xb)[1], tb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    with torch.no_grad():
        ours_fwd = best(lambda i: ours_loss(Zs[i].detach(), *pre[i]))
        hand_fwd = best(lambda i: hand_loss(Zs[i].detach(), pre[i][1], pre[i][2]))
    rows = [
        # (stage, ours, hand)
        ("batch data: batch_pairs (numpy)", best(lambda i: batch_pairs(pairs, batches[i])),
         None),
        ("batch data: _pair_tensors (batch_pairs + 4 as_tensor)",
         best(lambda i: ptens.batch(batches[i], bt[i])), None),
        ("batch data: RowSource.batch (X resident, indexed)",
         best(lambda i: src.batch(batches[i], bt[i])), None),
        ("batch data: total (hand: Xt[idx], yt[idx], tt[idx])",
         best(lambda i: (ptens.batch(batches[i], bt[i]),
                         src.batch(batches[i], bt[i]))),
         best(lambda i: (Xt[bt[i]], yt[bt[i]], tt[bt[i]]))),
        ("loss forward, no grad (task_losses + sum)", ours_fwd, hand_fwd),
        ("loss forward + backward to Z", best(ours_loss_fb), best(hand_loss_fb)),
        ("isfinite check + .cpu().numpy() logging", best(checks), 0.0),
        ("forward (network only)", best(lambda i: net(xs[i])), None),
        ("FULL STEP (data, fwd, loss, bwd, AdamW, checks)", *best_pair(ours_step,
                                                                       hand_step)),
    ]
    return rows, len(batches)


# ----------------------------------------------------------------------- run
def run_threads(args, X, y, tasks, T, threads):
    torch.set_num_threads(threads)
    k = args.epochs
    ours, hand, setup = [], [], []
    for _ in range(args.repeats):  # interleaved
        ep, setup_s, fitted = time_ours(args, X, y, tasks, k)
        ours.append(ep)
        setup.append(setup_s)
        ep, hand_loss = time_hand(args, X, y, tasks, T, k + 1)
        hand.append(ep[1:])
    ours, hand = np.array(ours), np.array(hand)
    per_ours, per_hand = ours.mean(axis=1).min(), hand.mean(axis=1).min()
    p_ours, p_hand = paired_epochs(args, X, y, tasks, T, args.paired)
    return dict(
        benchmark="torch_overhead", threads=threads, n=X.shape[0], p=X.shape[1], T=T,
        hidden="x".join(map(str, args.hidden)), batch_size=args.batch, epochs=k,
        repeats=args.repeats, ours_s_per_epoch=per_ours, hand_s_per_epoch=per_hand,
        ratio=per_ours / per_hand, ratio_fastest_epoch=ours.min() / hand.min(),
        paired_epochs=args.paired, paired_median_ratio=float(np.median(p_ours / p_hand)),
        paired_min_ratio=float(p_ours.min() / p_hand.min()),
        ours_setup_s=min(setup), ours_final_loss=fitted.loss_curve_[-1],
        hand_final_loss=hand_loss, goal=GOAL, ok=per_ours / per_hand <= GOAL,
    )


def print_table(rows):
    head = (f"{'threads':>7} {'n':>6} {'p':>3} {'T':>3} {'hidden':>8} {'batch':>5} "
            f"{'epochs':>6} {'ours s/ep':>10} {'hand s/ep':>10} {'ratio':>6} "
            f"{'goal':>7} {'fastest-ep':>10} {'paired med':>10} {'paired min':>10} "
            f"{'ours setup s':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['threads']:>7} {r['n']:>6} {r['p']:>3} {r['T']:>3} {r['hidden']:>8} "
              f"{r['batch_size']:>5} {r['epochs']:>6} {r['ours_s_per_epoch']:>10.4f} "
              f"{r['hand_s_per_epoch']:>10.4f} {r['ratio']:>6.3f} "
              f"{('<= ' if r['ok'] else ' > ') + format(GOAL, '.2f'):>7} "
              f"{r['ratio_fastest_epoch']:>10.3f} {r['paired_median_ratio']:>10.3f} "
              f"{r['paired_min_ratio']:>10.3f} {r['ours_setup_s']:>12.3f}")
    print("ratio = ours / hand-written, mean time of the k timed epochs of a fit (best "
          "of the repeats);\nfastest-ep = ratio of the single fastest epochs of those "
          "fits; paired med / min = epochs\nalternated one by one (skmtl: a warm_start "
          "fit of one epoch), median of the per-pair ratios / ratio of the\nfastest epochs "
          "(the least sensitive to other processes); ours setup = fit time "
          "minus its epochs.\nMean training loss of the last epoch, ours vs hand: "
          + ", ".join(f"{r['ours_final_loss']:.4f} vs {r['hand_final_loss']:.4f}"
                      for r in rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--p", type=int, default=64)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 256, 4096],
                        help="batch sizes, one row each")
    parser.add_argument("--wide", action="store_true",
                        help="wide format (Y of shape (n, T), every label present)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs k (after one warm-up epoch)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--paired", type=int, default=None,
                        help="epochs of each in the alternated (paired) measurement")
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="torch.set_num_threads values, one row each")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="both loops' device (the data on it before timing)")
    parser.add_argument("--hand-fused", action="store_true",
                        help="the hand-written loop's AdamW fused, as skmtl's")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile and per-stage breakdown of skmtl's loop")
    args = parser.parse_args(argv)
    q = args.quick
    args.n = args.n or (4000 if q else 20000)
    args.epochs = args.epochs or (2 if q else 5)
    args.repeats = args.repeats or (2 if q else 3)
    args.paired = args.paired or (4 if q else 20)
    args.hidden = tuple(args.hidden)

    print("=" * 78)
    print("skmtl torch-backend overhead: MultiTaskRegressor(backend='torch') vs a "
          "hand-written loop")
    print("=" * 78)
    print(f"python {sys.version.split()[0]} ({platform.python_implementation()})  "
          f"torch {torch.__version__}  numpy {np.__version__}  sklearn "
          f"{sklearn.__version__}  skmtl {getattr(skmtl, '__version__', '?')}")
    print(f"cpu_count={os.cpu_count()}  load avg {loadavg()}  float32, "
          f"{args.device.upper()}, "
          f"AdamW(lr=1e-3, weight_decay=1e-4), ReLU MLP {args.hidden} + linear heads")
    print(f"hand-written loop's AdamW: {'fused' if args.hand_fused else 'default'}")
    X, y, tasks = (make_wide if args.wide else make_data)(args.n, args.p, args.tasks)
    print(f"format: {'wide, Y (n, T)' if args.wide else 'long, fit(X, y, tasks=ids)'}")
    rows = []
    t0 = time.perf_counter()
    batches = args.batch
    for th in args.threads:
        for args.batch in batches:
            print(f"torch.set_num_threads({th}), batch {args.batch} ...", flush=True)
            rows.append(run_threads(args, X, y, tasks, args.tasks, th))
    print()
    print_table(rows)
    if args.profile and not args.wide:
        th, args.batch = args.threads[0], batches[0]
        torch.set_num_threads(th)
        print(f"\nPer-batch cost of the stages of skmtl's loop vs the hand-written one "
              f"(us/batch,\n best of 5 passes over one epoch's batches; full steps "
              f"alternated; torch threads={th}):")
        stages, nb = stage_breakdown(args, X, y, tasks, args.tasks)
        print(f"  {'stage':<56} {'ours':>8} {'hand':>8} {'extra':>8}")
        for name, o, h in stages:
            hs = "" if h is None else f"{h:8.1f}"
            ex = "" if h is None else f"{o - h:8.1f}"
            print(f"  {name:<56} {o:8.1f} {hs:>8} {ex:>8}")
            rows.append(dict(benchmark="torch_overhead_stage", threads=th, stage=name,
                             ours_us_per_batch=o, hand_us_per_batch=h, n_batches=nb))
        print(f"\ncProfile of one fit of {args.epochs + 1} epochs (top by own time):")
        print(profile_ours(args, X, y, tasks))
    print(f"total {time.perf_counter() - t0:.1f}s; load avg at the end {loadavg()}")
    return rows


if __name__ == "__main__":
    main()
