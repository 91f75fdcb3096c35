"""How fit time grows with n, p and T (long format, L21 and trace norm).

Each row doubles one of n, p, T from a base problem; the last column is the
log-log slope (time growth exponent) against the previous size.
"""

import sys
import time

import numpy as np

from skmtl import MultiTaskRegressor
from _common import Parser, no_convergence_warnings


def _problem(n, p, T, seed=0):
    rng = np.random.RandomState(seed)
    tasks = rng.randint(T, size=n)
    X = rng.randn(n, p)
    W = np.zeros((p, T))
    W[: max(1, p // 10)] = rng.randn(max(1, p // 10), T)
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + rng.randn(n)
    return X, y, tasks


def _fit_time(penalty, n, p, T, max_iter=200):
    X, y, tasks = _problem(n, p, T)
    model = MultiTaskRegressor(penalty=penalty, alpha=0.01, max_iter=max_iter, tol=1e-14)
    start = time.perf_counter()
    with no_convergence_warnings():
        model.fit(X, y, tasks=tasks)
    return (time.perf_counter() - start) / model.n_iter_, time.perf_counter() - start


def main(argv=None):
    args = Parser(__doc__).parse(argv)
    base = (20000, 50, 50) if not args.quick else (4000, 20, 10)
    steps = 3 if not args.quick else 2
    rows = []
    print("time per solver iteration (s, setup included) as one size doubles; slope = "
          "d log(s/iter) / d log(size); at most 200 iterations, tol=1e-14")
    print(f"{'penalty':7s} {'vary':4s} {'n':>7s} {'p':>5s} {'T':>5s} {'s/iter':>9s} "
          f"{'total s':>8s} {'slope':>6s}")
    for penalty in ("l21", "trace"):
        for axis in range(3):
            prev = None
            for k in range(steps):
                size = list(base)
                size[axis] *= 2**k
                per_iter, total = _fit_time(penalty, *size)
                slope = np.log2(per_iter / prev) if prev else float("nan")
                prev = per_iter
                rows.append({"penalty": penalty, "vary": "npT"[axis], "n": size[0],
                             "p": size[1], "T": size[2], "s_per_iter": per_iter,
                             "total_s": total, "slope": slope})
                print(f"{penalty:7s} {'npT'[axis]:4s} {size[0]:7d} {size[1]:5d} {size[2]:5d} "
                      f"{per_iter:9.2e} {total:8.3f} {slope:6.2f}")
    print("long format uses per-task Gram matrices (p^2 T each iteration, n p^2 once): "
          "the iterations grow with p^2 T, not n; the setup grows with n p^2.")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
