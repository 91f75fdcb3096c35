"""Benchmark of skmtl's L21 (joint feature selection) solvers.

Prints three tables:

(a) shared X: ``MultiTaskRegressor(penalty="l21")`` (solver "auto" = Gram block
    coordinate descent with Gap Safe screening, and solver "fista") against
    sklearn's ``MultiTaskLasso`` at the same ``tol``, i.e. the same duality gap
    ``gap <= tol * ||Y_c||_F^2 / n`` on the objective
    ``1/(2n) ||Y - X W - b||_F^2 + alpha ||W||_21``.  The gaps of all solutions are
    recomputed here in numpy, independently of either package.
(b) the cost of one FISTA iteration against its floor: ``X.T @ (X @ W)`` on the
    data (``precompute=False``) or ``G @ W`` in Gram space (``precompute=True``).
(c) the long format ``fit(X, y, tasks=ids)`` with many tasks: fit time and peak
    extra memory during ``fit``, relative to ``X.nbytes``.

Usage::

    python benchmarks/bench_l21.py            # full sizes (a few minutes)
    python benchmarks/bench_l21.py --quick    # smoke run (seconds)
"""

import gc
import os
import platform
import sys
import threading
import time
import tracemalloc

import numpy as np
from sklearn.linear_model import MultiTaskLasso
from threadpoolctl import threadpool_info

from skmtl import MultiTaskRegressor
from _common import (
    Parser,
    banner,
    best_time,
    interleaved,
    loadavg,
    no_convergence_warnings,
    print_table,
    versions,
)


# ----------------------------------------------------------------------------- utils
def print_environment():
    banner("skmtl L21 benchmark")
    print(f"python      {sys.version.split()[0]}  ({platform.python_implementation()})")
    print(f"platform    {platform.platform()}")
    print(f"load avg    {loadavg()}  (timings are "
          "wall-clock: other processes inflate them)")
    print(f"machine     {platform.machine()}  processor={platform.processor() or '?'}  "
          f"cpu_count={os.cpu_count()}"
          + (f"  affinity={len(os.sched_getaffinity(0))}"
             if hasattr(os, "sched_getaffinity") else ""))
    print(f"versions    {versions('numpy', 'scipy', 'sklearn', 'skmtl', python=False)}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                "MKL_NUM_THREADS"):
        print(f"{var:<20} {os.environ.get(var, '(unset)')}")
    for info in threadpool_info():
        print(f"threadpool  {info.get('user_api')}: {info.get('internal_api')} "
              f"{info.get('version')}  threads={info.get('num_threads')}  "
              f"arch={info.get('architecture', '-')}  "
              f"[{os.path.basename(info.get('filepath', ''))}]")
    print()


# wall-clock by default; --cpu-time switches to process CPU time with one BLAS thread,
# which a busy machine perturbs far less (a descheduled BLAS thread stalls the others)
CLOCK = time.perf_counter


def quiet_fit(model, *args, **kwargs):
    with no_convergence_warnings():
        return model.fit(*args, **kwargs)


def _rss():
    """Resident set size in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


class PeakRSS:
    """Samples the RSS in a thread; ``extra`` = peak - RSS at entry (bytes)."""

    def __init__(self, interval=0.002):
        self.interval, self.extra = interval, None

    def __enter__(self):
        self.base = _rss()
        self.peak = self.base
        self._stop = threading.Event()
        if self.base is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        if self.base is not None:
            self._thread.join()
            self.peak = max(self.peak, _rss())
            self.extra = self.peak - self.base


def _busy_cpu_seconds():
    """CPU seconds the whole machine spent busy since boot (Linux), else None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """CPUs used on average by *other* processes while the block runs.

    Machine busy time (``/proc/stat``) minus this process's CPU time: timings are
    wall-clock, and BLAS threads stall badly when another process takes a core.
    """

    def __enter__(self):
        self._busy, self._own, self._t = _busy_cpu_seconds(), os.times(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy, own, wall = _busy_cpu_seconds(), os.times(), time.perf_counter() - self._t
        if busy is None or self._busy is None:
            self.cpus = None
            return
        mine = (own.user + own.system) - (self._own.user + self._own.system)
        self.cpus = max(0.0, (busy - self._busy - mine) / max(wall, 1e-9))

    def __str__(self):
        if self.cpus is None:
            return "other processes' load: unknown"
        flag = ""
        if self.cpus > 0.1:
            flag = ("  <-- timings unreliable" if CLOCK is time.perf_counter
                    else "  (CPU-time mode: timings perturbed less, e.g. through caches)")
        return f"other processes used {self.cpus:.2f} CPUs on average meanwhile{flag}"


def l21_gap(X_c, Y_c, W, alpha):
    """Duality gap of ``1/(2n)||Y_c - X_c W||^2 + alpha ||W||_21`` at ``W`` (p, T).

    The dual point is the residual rescaled into the dual ball:
    ``theta = R / (n s)``, ``s = max(1, max_j ||X_j^T R|| / (n alpha))``.
    """
    n = X_c.shape[0]
    R = Y_c - X_c @ W
    primal = 0.5 * np.vdot(R, R) / n + alpha * np.sqrt((W**2).sum(axis=1)).sum()
    s = max(1.0, np.sqrt(((X_c.T @ R) ** 2).sum(axis=1)).max() / (n * alpha))
    dual = np.vdot(R, Y_c) / (n * s) - 0.5 * np.vdot(R, R) / (n * s * s)
    return primal - dual


def fmt_t(seconds):
    return f"{seconds:.3f}s" if seconds >= 0.1 else f"{1e3 * seconds:.2f}ms"


def fmt_mb(nbytes):
    return "n/a" if nbytes is None else f"{nbytes / 2**20:.1f} MiB"


# ------------------------------------------------------------------------- data
def make_shared(n, p, T, support, snr, seed, rho=0.0):
    """Gaussian X (AR(1) feature correlation ``rho``), row-sparse W, noise at ``snr``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if rho:
        for j in range(1, p):  # corr(X_i, X_j) = rho ** |i - j|
            X[:, j] = rho * X[:, j - 1] + np.sqrt(1.0 - rho**2) * X[:, j]
    W = np.zeros((p, T))
    rows = rng.choice(p, size=support, replace=False)
    W[rows] = rng.standard_normal((support, T))
    signal = X @ W
    sigma = np.sqrt(signal.var() / snr)
    Y = signal + sigma * rng.standard_normal((n, T)) + rng.standard_normal(T)
    return X, Y


# ------------------------------------------------------------------ section (a)
def alpha_max_shared(X, Y):
    X_c = X - X.mean(axis=0)
    Y_c = Y - Y.mean(axis=0)
    return np.sqrt(((X_c.T @ Y_c) ** 2).sum(axis=1)).max() / X.shape[0]


def section_a(args, X, Y, ratio, rho, tag):
    n, p = X.shape
    T = Y.shape[1]
    X_c = X - X.mean(axis=0)
    Y_c = Y - Y.mean(axis=0)
    alpha_max = np.sqrt(((X_c.T @ Y_c) ** 2).sum(axis=1)).max() / n
    alpha = ratio * alpha_max
    scale = np.vdot(Y_c, Y_c) / n
    print(f"(a{tag}) shared X: n={n} p={p} T={T}, feature corr rho={rho}, support "
          f"{args.support} rows, SNR {args.snr}, alpha = {ratio} * alpha_max = {alpha:.4g}, "
          f"tol = {args.tol:g}")
    print(f"    target gap <= tol * ||Y_c||_F^2 / n = {args.tol * scale:.4e}"
          f"   (best of {args.repeats}; sklearn best of {args.sk_repeats})")

    fits = [
        ("sklearn MultiTaskLasso", args.sk_repeats,
         lambda: MultiTaskLasso(alpha=alpha, tol=args.tol, max_iter=10000).fit(X, Y)),
        ("skmtl l21 solver=auto (cd)", args.repeats,
         lambda: MultiTaskRegressor(penalty="l21", alpha=alpha, tol=args.tol,
                                    max_iter=10000).fit(X, Y)),
        ("skmtl l21 solver=fista", args.repeats,
         lambda: MultiTaskRegressor(penalty="l21", alpha=alpha, tol=args.tol,
                                    solver="fista", max_iter=10000).fit(X, Y)),
    ]
    # repeats interleaved across solvers, so that a burst of load elsewhere on the
    # machine does not hit one solver's repeats only
    timed = interleaved([f[2] for f in fits], [f[1] for f in fits], clock=CLOCK)
    results = []
    for (name, _, _), t in zip(fits, timed):
        W = t.out.coef_.T
        gap = l21_gap(X_c, Y_c, W, alpha)
        results.append((name, t.best, t.out, W, gap))

    t_sk, W_sk = results[0][1], results[0][3]
    rows = []
    for name, t, model, W, gap in results:
        rows.append([
            name, fmt_t(t), f"{t / t_sk:.3f}", model.n_iter_,
            f"{gap:.3e}", f"{gap / scale:.2e}", "yes" if gap <= args.tol * scale * 1.0001 else "NO",
            int((np.abs(W).sum(axis=1) > 0).sum()),
            f"{np.abs(W - W_sk).max():.2e}",
            f"{np.abs(W - W_sk).max() / max(np.abs(W_sk).max(), 1e-300):.2e}",
        ])
    print_table(["solver", "time", "/sklearn", "n_iter", "gap (numpy)", "gap/scale",
           "gap<=tol", "support", "max|dW| vs sk", "relative"], rows, align=">")
    sk_model = results[0][2]
    print(f"    reported dual_gap_: sklearn {sk_model.dual_gap_:.3e} (already / n), skmtl cd "
          f"{results[1][2].dual_gap_:.3e}, skmtl fista {results[2][2].dual_gap_:.3e}")
    print(f"    RATIO ours(cd)/sklearn = {results[1][1] / t_sk:.3f}   (goal <= 0.5)")


# ------------------------------------------------------------------ section (b)
def _per_iter(X, Y, alpha, precompute, k1, k2, repeats):
    """Seconds per FISTA iteration: (t(k2) - t(k1)) / (iters(k2) - iters(k1))."""
    def run(k):
        return quiet_fit(MultiTaskRegressor(penalty="l21", alpha=alpha, solver="fista",
                                            precompute=precompute, max_iter=k, tol=0.0),
                         X, Y)
    first, second = interleaved([lambda: run(k1), lambda: run(k2)], repeats, clock=CLOCK)
    t1, m1, t2, m2 = first.best, first.out, second.best, second.out
    di = m2.n_iter_ - m1.n_iter_
    if di <= 0:
        return np.nan, t1, t2, m1.n_iter_, m2.n_iter_
    return (t2 - t1) / di, t1, t2, m1.n_iter_, m2.n_iter_


def section_b(args, X, Y, alpha):
    n, p = X.shape
    T = Y.shape[1]
    rng = np.random.default_rng(1)
    W = rng.standard_normal((p, T))
    t_floor, _ = best_time(lambda: X.T @ (X @ W), 5 * args.repeats, clock=CLOCK)
    G = X.T @ X
    t_gfloor, _ = best_time(lambda: G @ W, 20 * args.repeats, clock=CLOCK)

    print(f"(b) FISTA iteration cost vs its floor (n={n} p={p} T={T}, rho={args.b_rho}, "
          f"alpha = {args.b_ratio} * alpha_max); per-iteration time = (t(max_iter=k2) - "
          f"t(max_iter=k1)) / (n_iter difference), best of {args.b_repeats}")
    rows = []
    for label, precompute, floor_name, floor, (k1, k2) in (
        ("precompute=False", False, "X.T @ (X @ W)", t_floor, args.k_data),
        ("precompute=True ", True, "G @ W", t_gfloor, args.k_gram),
    ):
        per, t1, t2, i1, i2 = _per_iter(X, Y, alpha, precompute, k1, k2, args.b_repeats)
        rows.append([label, f"{i1}->{i2}", fmt_t(t1), fmt_t(t2), fmt_t(per), floor_name,
                     fmt_t(floor), f"{per / floor:.2f}",
                     fmt_t(t1 - i1 * per)])
    print_table(["fista", "n_iter", "t(k1)", "t(k2)", "per iter", "floor", "floor time",
                 "iter/floor", "setup"], rows, align=">")
    print("    (setup = fit time not spent in iterations: validation, Lipschitz estimate,"
          " Gram build, ...)")


# ------------------------------------------------------------------ section (c)
def make_long(n, p, T, seed, shuffle):
    rng = np.random.default_rng(seed)
    nt = n // T
    n = nt * T
    X = rng.standard_normal((n, p))
    # row-sparse and low-rank truth: 10 features, rank 3
    U = np.zeros((p, 3))
    U[rng.choice(p, size=min(10, p), replace=False)] = rng.standard_normal((min(10, p), 3))
    W = U @ rng.standard_normal((3, T))
    ids = np.repeat(np.arange(T), nt)
    y = np.empty(n)
    for t in range(T):  # per task: no (n, T) temporary
        sl = slice(t * nt, (t + 1) * nt)
        y[sl] = X[sl] @ W[:, t]
    y += 0.5 * y.std() * rng.standard_normal(n) + np.repeat(rng.standard_normal(T), nt)
    if shuffle:
        order = rng.permutation(n)
        X, y, ids = X[order], y[order], ids[order]
    return X, y, ids


def long_alpha_max(X, y, ids, T):
    """alpha_max of L21 and of the trace norm for the per-task-mean objective."""
    p = X.shape[1]
    C = np.zeros((p, T))
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(T + 1))
    for t in range(T):
        rows = order[bounds[t]:bounds[t + 1]]
        Xt, yt = X[rows], y[rows]
        C[:, t] = (Xt.T @ (yt - yt.mean())) / yt.size
    return np.sqrt((C**2).sum(axis=1)).max(), np.linalg.norm(C, 2)


def measure_fit(model, X, y, ids, repeats):
    t, _ = best_time(lambda: quiet_fit(model, X, y, tasks=ids), repeats, clock=CLOCK)
    n_iter = model.n_iter_
    gc.collect()
    # peak RSS increase (sampling thread), without tracemalloc's overhead
    with PeakRSS() as rss:
        quiet_fit(model, X, y, tasks=ids)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    quiet_fit(model, X, y, tasks=ids)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return t, n_iter, peak - base, rss.extra


def section_c(args):
    n, p, T = args.long_n, args.long_p, args.long_T
    print(f"(c) long format fit(X, y, tasks=ids): n={n} p={p} T={T} "
          f"({n // T} rows a task), float64")
    rows = []
    cases = [("l21", "sorted", False, {}), ("l21", "shuffled", True, {}),
             ("trace", "sorted", False, {"max_iter": args.trace_iter})]
    data = {}
    for penalty, order, shuffle, extra in cases:
        if order not in data:
            data.clear()
            gc.collect()
            data[order] = make_long(n, p, T, seed=2, shuffle=shuffle)
        X, y, ids = data[order]
        a21, atr = long_alpha_max(X, y, ids, T)
        alpha = args.alpha_ratio * (a21 if penalty == "l21" else atr)
        model = MultiTaskRegressor(penalty=penalty, alpha=alpha, tol=args.tol, **extra)
        t, n_iter, tm_peak, rss_extra = measure_fit(model, X, y, ids, args.long_repeats)
        gap = model.dual_gap_
        rows.append([penalty, order, f"{alpha:.3g}", fmt_t(t), n_iter, f"{gap:.2e}",
                     fmt_mb(X.nbytes), fmt_mb(tm_peak), f"{tm_peak / X.nbytes:.2f}",
                     fmt_mb(rss_extra),
                     "n/a" if rss_extra is None else f"{rss_extra / X.nbytes:.2f}"])
    print_table(["penalty", "tasks", "alpha", "fit time", "n_iter", "dual_gap_", "X.nbytes",
                 "tracemalloc peak", "/X", "peak RSS incr.", "/X"], rows, align=">")
    print(f"    alpha = {args.alpha_ratio} * alpha_max (L21: max_j ||C_j,:||_2, trace: "
          "||C||_2, C = per-task centered X_t^T y_t / n_t); goal: peak <= ~3x X plus small")


# ------------------------------------------------------------------------ main
def main(argv=None):
    parser = Parser(__doc__)
    parser.add_argument("--sections", default="abc", help="which sections to run")
    parser.quick_option("--n", 20000, 2000, type=int)
    parser.quick_option("--p", 500, 100, type=int)
    parser.quick_option("--tasks", 20, 5, type=int)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--alpha-ratio", type=float, default=0.1)
    parser.add_argument("--snr", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.quick_option("--sk-repeats", 2, 3, type=int,
                        help="repeats for sklearn (default: 2 full size, 3 quick)")
    parser.quick_option("--long-n", 10**6, 10**5, type=int)
    parser.quick_option("--long-T", 1000, 100, type=int)
    parser.add_argument("--long-p", type=int, default=50)
    parser.add_argument("--trace-iter", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with process CPU time and 1 BLAS thread (robust on a "
                             "busy machine)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads (threadpoolctl); default: as is")
    parser.add_argument("--no-extra", action="store_true",
                        help="(a): only the main case, not the harder ones (smaller alpha, "
                             "correlated features)")
    parser.add_argument("--b-ratio", type=float, default=0.01,
                        help="(b): alpha / alpha_max")
    parser.add_argument("--b-rho", type=float, default=0.9,
                        help="(b): feature correlation (slow convergence, so that FISTA "
                             "does not reach a zero gap, which stops it even at tol=0)")
    args = parser.parse(argv, b_repeats=(5, 3), k_data=((10, 60), (5, 25)),
                        k_gram=((10, 2010), (10, 310)), long_repeats=(3, 2))
    args.support = max(1, args.p // 10)
    # (rho, alpha ratio): the main case first, then harder ones
    scenarios = [(0.0, args.alpha_ratio)]
    if not args.no_extra:
        scenarios += [(0.0, args.alpha_ratio / 10), (0.8, args.alpha_ratio)]

    print_environment()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
        args.blas_threads = 1
        print("--cpu-time: times are process CPU times, BLAS limited to 1 thread")
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)
        print(f"threadpool_limits({args.blas_threads}) applied (--blas-threads)\n")
    t0 = time.perf_counter()
    if "a" in args.sections:
        for k, (rho, ratio) in enumerate(scenarios):
            X, Y = make_shared(args.n, args.p, args.tasks, args.support, args.snr,
                               args.seed, rho)
            with OtherLoad() as load:
                section_a(args, X, Y, ratio, rho, "" if k == 0 else f".{k}")
            print(f"    [{load}]\n")
            del X, Y
            gc.collect()
    if "b" in args.sections:
        # correlated features: FISTA must not reach a zero gap (which stops it even at
        # tol=0) within k2 iterations; the cost of an iteration does not depend on X
        X, Y = make_shared(args.n, args.p, args.tasks, args.support, args.snr, args.seed,
                           args.b_rho)
        with OtherLoad() as load:
            section_b(args, X, Y, args.b_ratio * alpha_max_shared(X, Y))
        print(f"    [{load}]\n")
        del X, Y
        gc.collect()
    if "c" in args.sections:
        with OtherLoad() as load:
            section_c(args)
        print(f"    [{load}]\n")
    print(f"total benchmark time {time.perf_counter() - t0:.1f}s; load average at the end "
          f"{loadavg()}")


if __name__ == "__main__":
    main(sys.argv[1:])
