"""The elastic nets by coordinate descent (issue 13): time and accuracy at sklearn's
default tol against ADMM (their solver before) and scikit-learn, measured in the
same run (repeats interleaved, medians).

``MultiTaskRegressor(ElasticMix("l21", r))`` against ``MultiTaskElasticNet`` and
``ElasticMix("l1", r)`` against ``ElasticNet`` (one task, as sklearn fits one
column at a time), on shared dense X with correlated features; ``err`` is the
largest distance to the optimum (sklearn at tol=1e-14) over the largest
coefficient.  ``auto`` is ``solver="auto"``: coordinate descent where the Gram
matrix costs no more than a pass over X (here p=100), else FISTA (p=400, wide), as
for the lassos; ``cd`` is ``solver="cd"``.  Run with ``OMP_NUM_THREADS=1``;
``--quick`` for fewer repeats.
"""

import argparse
import os

import numpy as np
from _common import interleaved, loadavg, no_convergence_warnings
from sklearn.base import clone
from sklearn.linear_model import ElasticNet, MultiTaskElasticNet

from skmtl import MultiTaskRegressor
from skmtl.linear import ElasticMix


def _data(n, p, T, seed=0, rho=0.7):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * X[:, j]
    W = np.zeros((p, T))
    W[: p // 10] = rng.randn(p // 10, T)
    return X, X @ W + rng.randn(n, T)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    r = 0.5
    print(f"# bench_elastic_cd  load {loadavg()}  OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"# l1_ratio={r}, alpha = 0.05 alpha_max-ish, tol=1e-4 (sklearn's default), "
          f"medians of {repeats} interleaved repeats")
    print(f"{'case':>36} | {'sklearn':>9} | {'auto':>9} | {'cd':>9} | {'admm':>9} | "
          f"{'cd/sk':>6} | {'admm/cd':>7} | {'err sk':>8} | {'err auto':>8} | "
          f"{'err cd':>8} | {'err admm':>8}")
    for name, (n, p, T) in [("l21", (500, 100, 5)), ("l21", (200, 400, 5)),
                            ("l1", (500, 100, 1)), ("l1", (200, 400, 1))]:
        X, Y = _data(n, p, T)
        Y = Y if name == "l21" else Y[:, 0]
        amax = np.abs(X.T @ (Y - Y.mean(0))).max() / n / r
        alpha = 0.05 * amax
        Ref = MultiTaskElasticNet if name == "l21" else ElasticNet
        sk = Ref(alpha=alpha, l1_ratio=r)
        pen = ElasticMix(name, l1_ratio=r)
        auto = MultiTaskRegressor(pen, alpha=alpha)
        cd = MultiTaskRegressor(pen, alpha=alpha, solver="cd")
        admm = MultiTaskRegressor(pen, alpha=alpha, solver="admm")
        with no_convergence_warnings():
            opt = clone(sk).set_params(tol=1e-14, max_iter=100000).fit(X, Y).coef_
            fns = [lambda e=e: clone(e).fit(X, Y) for e in (sk, auto, cd, admm)]
            res = interleaved(fns, repeats)
        scale = np.abs(opt).max()
        errs = [np.abs(t.out.coef_ - opt).max() / scale for t in res]
        t_sk, t_auto, t_cd, t_admm = (t.median for t in res)
        print(f"{f'{Ref.__name__} n={n} p={p} T={T}':>36} | {t_sk:8.4f}s | "
              f"{t_auto:8.4f}s | {t_cd:8.4f}s | {t_admm:8.4f}s | {t_cd / t_sk:6.2f} | "
              f"{t_admm / t_cd:7.2f} | " + " | ".join(f"{e:8.1e}" for e in errs))


if __name__ == "__main__":
    main()
