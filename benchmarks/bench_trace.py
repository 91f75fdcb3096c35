"""The trace norm's prox in ADMM: the eigh of the small Gram matrix against the SVD.

Issue 12 measured ADMM's iteration for ``penalty="trace"`` at 3.1x its floor, the
SVD of the (p, T) matrix in every prox.  ``TraceNorm.prox`` now takes the singular
vectors from the eigendecomposition of ``V V^T`` (p x p) when p << T.  For T tasks
of ``n_t`` rows and p features (a low-rank truth), this prints, in one run with the
repeats of the candidates interleaved (medians):

* the prox alone on the (p, T) solution: eigh route and SVD route, and their ratio;
* ADMM's solve at ``alpha = ratio * alpha_max``: time, iterations, and the time of
  an iteration against its floor (one W-step, ``inverse_apply`` on every task),
  with each prox.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_trace.py [--quick]``.
"""

import argparse
import os
import warnings

import numpy as np
from _common import interleaved, loadavg, versions
from sklearn.exceptions import ConvergenceWarning

from skmtl import MultiTaskRegressor
from skmtl.linear import TraceNorm
from skmtl.linear._path import alpha_max


def svd_prox(self, V, step):
    """The prox before: the SVD of V (the peer)."""
    U, s, Vt = np.linalg.svd(V, full_matrices=False)
    s = np.maximum(s - step, 0.0)
    keep = s > 0
    return (U[:, keep] * s[keep]) @ Vt[keep]


def make_tasks(T, n_t, p, rank=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T * n_t, p))
    tasks = np.repeat(np.arange(T), n_t)
    W = rng.standard_normal((p, rank)) @ rng.standard_normal((rank, T))
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + rng.standard_normal(T * n_t)
    return X, y, tasks


def run(T, n_t, p, ratio, repeats, max_iter):
    X, y, tasks = make_tasks(T, n_t, p)
    est = MultiTaskRegressor(penalty="trace", max_iter=max_iter)
    problem = est._prepare(X, y, tasks, None, "trace")
    alpha = ratio * alpha_max(problem)
    fit = problem.datafit
    V, b = problem.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sol = problem.solve(alpha, V, b, max_iter=max_iter, tol=est.tol)[0]
    sol = np.asarray(sol) + 1e-3 * np.random.default_rng(1).standard_normal(sol.shape)
    pen, step = problem.penalty, alpha / 10.0
    eigh_prox = TraceNorm.prox
    prox_times = interleaved([lambda: eigh_prox(pen, sol, step),
                              lambda: svd_prox(pen, sol, step)], repeats)
    np.testing.assert_allclose(eigh_prox(pen, sol, step), svd_prox(pen, sol, step),
                               rtol=0, atol=1e-9 * np.abs(sol).max())
    m = problem.shape[1]
    rho, cols = np.full(m, 1.0), np.arange(m)
    Wr = np.random.default_rng(2).standard_normal(problem.shape)
    floor = np.median(interleaved([lambda: fit.inverse_apply(rho, Wr, cols)],
                                  repeats)[0].times)

    def solve(prox):
        def go():
            TraceNorm.prox = prox
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    return problem.solve(alpha, V, b, max_iter=max_iter, tol=est.tol)
            finally:
                TraceNorm.prox = eigh_prox
        return go

    solves = interleaved([solve(eigh_prox), solve(svd_prox)], repeats)
    rows = []
    for name, t in zip(("eigh", "svd"), solves):
        n_iter = t.out[3]
        rows.append((name, t.median, n_iter, t.median / (n_iter * floor)))
    return prox_times, floor, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 1000 only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ratio", type=float, default=0.1)
    parser.add_argument("--max-iter", type=int, default=1000)
    args = parser.parse_args()
    print(f"# bench_trace  load {loadavg()}  OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', '-')}  {versions('numpy', 'scipy')}")
    print(f"# trace, alpha = {args.ratio} alpha_max, n_t = 20, p = 20, medians of "
          f"{args.repeats} interleaved repeats")
    header = ("T", "prox eigh", "prox svd", "svd/eigh", "floor", "prox", "solve",
              "n_iter", "iter/floor")
    print(" | ".join(f"{h:>10}" for h in header))
    for T in ([1000] if args.quick else [1000, 10000]):
        prox, floor, rows = run(T, 20, 20, args.ratio, args.repeats, args.max_iter)
        pe, ps = prox[0].median, prox[1].median
        for name, t, n_iter, per in rows:
            cells = (T, f"{1e3 * pe:.2f}ms", f"{1e3 * ps:.2f}ms", f"{ps / pe:.2f}",
                     f"{1e3 * floor:.2f}ms", name, f"{t:.3f}s", n_iter, f"{per:.2f}")
            print(" | ".join(f"{c:>10}" for c in cells))


if __name__ == "__main__":
    main()
