"""Many small tasks (issue 12): fit and cross-validation against per-task sklearn loops.

For T in {100, 1000, 10000, 100000} tasks of n_t in {10, 30} rows (and the goal
case T = 10^4, n_t = 20), p = 20 features and a shared truth (a common mean, a
rank-3 deviation, on a shared support of 10 features), the long format
``fit(X, y, tasks=ids)``:

* ``l2`` and ``mean`` (exact solves): fit time against a loop of sklearn ``Ridge``
  per task (``alpha * n_t``, the same problem for ``l2``);
* ``l21`` (coordinate descent) and ``trace`` (FISTA): fit time, iterations, and the
  time of an iteration against its floor, one pass of the batched products of
  the data-fit form the solver runs on (``X_e^T (X_e W)`` in data space, ``G W`` in
  Gram space): ``iter/floor = solve time / (n_iter * floor)``;
* ``MultiTaskRegressorCV(penalty, alphas=20, cv=5)`` for ``l2`` and ``mean``
  against a loop of ``RidgeCV`` per task over the same 20 alphas (its efficient
  leave-one-out);
* peak memory of each fit and CV (tracemalloc, an untimed run), against X.

The per-task loops are timed on at most ``--loop-tasks`` tasks and scaled to T
(their cost per task is constant); marked ``*`` where scaled.  Repeats are
interleaved (ours, the loop, ours, ...) and medians reported.

Goals (issue 12): at T = 10^4, n_t = 20: ``l2`` and ``mean`` fit <= 0.2x the Ridge
loop; their 20 x 5 CV <= 1x the RidgeCV loop; an iterative solver's iteration
<= 3x its floor; T = 10^5 runs (fit and CV), peak memory printed.

Usage::

    python benchmarks/bench_many_tasks.py            # full sizes (~15 minutes)
    python benchmarks/bench_many_tasks.py --quick    # T <= 1000 (a minute)
    python benchmarks/bench_many_tasks.py --tasks 10000 --rows 20 --no-fit  # the CV goal
"""

import gc
import sys
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge, RidgeCV

from _common import Parser, banner, interleaved, loadavg, print_table, versions
from skmtl import MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.linear._path import alpha_max

P = 20


def make_tasks(T, n_t, seed=0):
    """Long-format data: rows sorted by task, a shared truth."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T * n_t, P))
    support = rng.choice(P, size=10, replace=False)
    W = np.zeros((P, T))
    W[support] = (rng.standard_normal((10, 1))
                  + 0.3 * rng.standard_normal((10, 3)) @ rng.standard_normal((3, T)))
    tasks = np.repeat(np.arange(T), n_t)
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + rng.standard_normal(T * n_t)
    y += np.repeat(rng.standard_normal(T), n_t)
    return X, y, tasks


def peak_mib(fn):
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def quiet(fn):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            return fn()
    return run


def task_loop(X, y, n_t, T, make, cap):
    """A loop of sklearn fits over the first ``min(T, cap)`` tasks, and the factor
    that scales its time to all T tasks."""
    k = min(T, cap)

    def run():
        for t in range(k):
            rows = slice(t * n_t, (t + 1) * n_t)
            make().fit(X[rows], y[rows])
    return run, T / k


def floor_time(problem, repeats=5):
    """One pass of the batched products of the problem's data-fit form."""
    fit = problem.datafit
    rng = np.random.default_rng(1)
    W = rng.standard_normal(problem.shape)
    if problem.gram:
        fn = lambda: fit.forward(W)  # noqa: E731 - G W, every task at once
    else:
        b = np.zeros(problem.shape[1])
        fn = lambda: fit.gradient(W, b, fit.forward(W, b))  # noqa: E731
    return float(np.median(interleaved([fn], repeats)[0].times))


def fmt(seconds):
    return f"{seconds:.3f}s" if seconds >= 0.1 else f"{1e3 * seconds:.1f}ms"


def run_case(args, T, n_t, rows_fit, rows_cv):
    X, y, tasks = make_tasks(T, n_t)
    if args.fit:
        run_fits(args, X, y, tasks, T, n_t, rows_fit)
    if args.cv:
        run_cv(args, X, y, tasks, T, n_t, rows_cv)


def run_fits(args, X, y, tasks, T, n_t, rows_fit):
    mib_x = X.nbytes / 2**20
    reps = 1 if T >= 10**5 else args.repeats
    alpha = args.alpha
    loop, scale = task_loop(X, y, n_t, T, lambda: Ridge(alpha=alpha * n_t), args.loop_tasks)
    star = "*" if scale > 1 else ""
    fits = {pen: quiet(lambda pen=pen: MultiTaskRegressor(penalty=pen, alpha=alpha).fit(
        X, y, tasks=tasks)) for pen in ("l2", "mean")}
    timed = interleaved([fits["l2"], fits["mean"], loop], reps)
    t_loop = timed[2].median * scale
    for pen, t in zip(("l2", "mean"), timed[:2]):
        rows_fit.append([T, n_t, pen, fmt(t.median), f"{fmt(t_loop)}{star}",
                         f"{t.median / t_loop:.3f}", 1, "-", "-",
                         f"{peak_mib(fits[pen]):.0f}", f"{mib_x:.0f}"])
    for pen in ("l21", "trace"):
        est = MultiTaskRegressor(penalty=pen, max_iter=args.max_iter)
        top = alpha_max(est._prepare(X, y, tasks, None, pen))
        est.set_params(alpha=args.ratio * top)
        fit = quiet(lambda est=est: est.fit(X, y, tasks=tasks))
        problem = est._prepare(X, y, tasks, None, pen)
        V, b = problem.start()
        params = dict(max_iter=args.max_iter, tol=est.tol)
        solve = quiet(lambda: problem.solve(est.alpha, V, b, **params))
        t_fit, t_solve = interleaved([fit, solve], reps)
        n_iter = t_solve.out[3]
        floor = floor_time(problem)
        kind = f"{problem.solver.name}/{'gram' if problem.gram else 'design'}"
        rows_fit.append([T, n_t, f"{pen} ({kind})", fmt(t_fit.median), "-", "-", n_iter,
                         fmt(floor), f"{t_solve.median / (n_iter * floor):.2f}",
                         f"{peak_mib(fit):.0f}", f"{mib_x:.0f}"])


def run_cv(args, X, y, tasks, T, n_t, rows_cv):
    mib_x = X.nbytes / 2**20
    big = T >= 10**5
    star = "*" if T > args.loop_tasks else ""
    grid = None
    for pen in ("l2", "mean"):
        cv = quiet(lambda pen=pen: MultiTaskRegressorCV(penalty=pen, alphas=20, cv=5).fit(
            X, y, tasks=tasks))
        if grid is None:
            grid = cv().alphas_
        ridge_cv, scale = task_loop(X, y, n_t, T, lambda: RidgeCV(alphas=grid * n_t),
                                    args.loop_tasks)
        t_cv, t_rcv = interleaved([cv, ridge_cv], 1 if big else args.cv_repeats)
        t_loop = t_rcv.median * scale
        rows_cv.append([T, n_t, pen, fmt(t_cv.median), f"{fmt(t_loop)}{star}",
                        f"{t_cv.median / t_loop:.3f}", f"{peak_mib(cv):.0f}",
                        f"{mib_x:.0f}"])


def main(argv=None):
    parser = Parser(__doc__)
    parser.quick_option("--tasks", [100, 1000, 10000, 100000], [100, 1000], type=int,
                        nargs="*")
    parser.add_argument("--rows", type=int, nargs="*", default=[10, 30])
    parser.add_argument("--alpha", type=float, default=0.1, help="l2 / mean alpha")
    parser.add_argument("--ratio", type=float, default=0.05,
                        help="l21 / trace alpha = ratio * alpha_max")
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cv-repeats", type=int, default=2)
    parser.add_argument("--loop-tasks", type=int, default=5000,
                        help="tasks the sklearn loops are timed on (scaled to T)")
    parser.add_argument("--no-cv", dest="cv", action="store_false")
    parser.add_argument("--no-fit", dest="fit", action="store_false",
                        help="the CV case only")
    parser.add_argument("--no-goal", dest="goal", action="store_false",
                        help="skip the goal case T = 10^4, n_t = 20")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse(argv)
    banner("skmtl: many small tasks (long format), p = 20")
    print(f"{versions('numpy', 'scipy', 'sklearn', 'skmtl')}; load avg {loadavg()}")
    cases = [(T, n) for T in args.tasks for n in args.rows]
    if args.goal and not args.quick and (10**4, 20) not in cases:
        cases.insert(next((i for i, (T, _) in enumerate(cases) if T > 10**4), len(cases)),
                     (10**4, 20))
    rows_fit, rows_cv = [], []
    start = time.perf_counter()
    for T, n_t in cases:
        t0 = time.perf_counter()
        k_fit, k_cv = len(rows_fit), len(rows_cv)
        run_case(args, T, n_t, rows_fit, rows_cv)
        print(f"  T={T} n_t={n_t}: {time.perf_counter() - t0:.0f}s (load {loadavg()})",
              flush=True)
        for row in rows_fit[k_fit:] + rows_cv[k_cv:]:  # as measured, in case of a stop
            print("    " + "  ".join(str(c) for c in row), flush=True)
    print(f"\nfit (medians of {args.repeats} interleaved runs, 1 at T = 10^5; "
          f"l2/mean alpha={args.alpha}, l21/trace alpha={args.ratio} alpha_max, "
          f"max_iter={args.max_iter}; * = loop timed on {args.loop_tasks} tasks and scaled)")
    print_table(["T", "n_t", "penalty (solver/form)", "fit", "Ridge loop", "ratio",
                 "n_iter", "floor", "iter/floor", "peak MiB", "X MiB"], rows_fit,
                markdown=args.markdown)
    if rows_cv:
        print(f"\n20-alpha 5-fold CV (MultiTaskRegressorCV) vs a loop of RidgeCV over the "
              f"same alphas (medians of {args.cv_repeats}, 1 at T = 10^5)")
        print_table(["T", "n_t", "penalty", "CV", "RidgeCV loop", "ratio", "peak MiB",
                     "X MiB"], rows_cv, markdown=args.markdown)
    print("\ngoals at T = 10^4, n_t = 20: l2/mean fit ratio <= 0.2, CV ratio <= 1, "
          "iter/floor <= 3")
    print(f"total {time.perf_counter() - start:.0f}s; load avg at the end {loadavg()}")


if __name__ == "__main__":
    main(sys.argv[1:])
