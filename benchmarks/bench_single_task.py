"""One task, as a drop-in for scikit-learn's linear models: fit time against the
estimator it replaces, measured in the same run (repeats interleaved, medians).

``MultiTaskRegressor`` with one ``y`` column against ``Ridge`` (alpha ``a / n``
for ``Ridge(alpha=a)``), ``Lasso`` and ``ElasticNet`` (the same alpha), and
``MultiTaskRegressorCV(penalty="l1")`` against ``LassoCV`` (100 alphas down to
``1e-3 alpha_max``, 5 folds, for both), on dense X with correlated features (AR(1),
rho 0.5) and 10 nonzero coefficients.  ``err``: the largest distance of each
side's coefficients to the optimum (``Lasso`` / ``ElasticNet`` at ``tol=1e-14``);
for the CV, each side's chosen alpha.  Run with ``OMP_NUM_THREADS=1``; ``--quick``
for fewer repeats.
"""

import argparse
import os
import warnings

import numpy as np
from _common import interleaved, loadavg
from sklearn.linear_model import ElasticNet, Lasso, LassoCV, Ridge

from skmtl import MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.linear import ElasticMix


def _data(n, p, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    X[:, 1:] += 0.5 * X[:, :-1]
    w = np.zeros(p)
    w[:10] = rng.randn(10)
    return X, X @ w + 0.5 * rng.randn(n)


def _cases(n, alpha=0.05):
    return [  # Ridge's alpha is against the sum of the squared errors: a / n here
        ("Ridge", lambda: Ridge(alpha=1.0), lambda: MultiTaskRegressor("l2", alpha=1.0 / n),
         None),
        ("Lasso", lambda: Lasso(alpha=alpha), lambda: MultiTaskRegressor("l1", alpha=alpha),
         lambda: Lasso(alpha=alpha, tol=1e-14, max_iter=100000)),
        ("ElasticNet", lambda: ElasticNet(alpha=alpha, l1_ratio=0.5),
         lambda: MultiTaskRegressor(ElasticMix("l1", l1_ratio=0.5), alpha=alpha),
         lambda: ElasticNet(alpha=alpha, l1_ratio=0.5, tol=1e-14, max_iter=100000)),
        ("LassoCV", lambda: LassoCV(cv=5), lambda: MultiTaskRegressorCV("l1", cv=5), None),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 9
    print(f"# bench_single_task  load {loadavg()}  "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; medians of "
          f"{repeats} interleaved repeats")
    head = (f"{'case':>24} | {'sklearn':>9} | {'skmtl':>9} | {'ratio':>6} | "
            f"{'err / alpha sk':>14} | {'err / alpha skmtl':>17}")
    print(head)
    print("-" * len(head))
    for n, p in [(500, 100), (1000, 50), (200, 30)]:
        X, y = _data(n, p)
        for name, sk, ours, opt in _cases(n):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a, b = interleaved([lambda: sk().fit(X, y), lambda: ours().fit(X, y)],
                                   repeats)
                if opt is not None:
                    w = opt().fit(X, y).coef_
                    scale = np.abs(w).max()
                    ea, eb = (f"{np.abs(r.out.coef_ - w).max() / scale:.1e}" for r in (a, b))
                elif name == "LassoCV":
                    ea, eb = f"{a.out.alpha_:.4g}", f"{b.out.alpha_:.4g}"
                else:
                    ea = eb = f"{np.abs(a.out.coef_ - b.out.coef_).max():.1e} (a-b)"
            print(f"{name + f' n={n} p={p}':>24} | {a.median * 1e3:7.2f}ms | "
                  f"{b.median * 1e3:7.2f}ms | {b.median / a.median:6.2f} | {ea:>14} | "
                  f"{eb:>17}", flush=True)


if __name__ == "__main__":
    main()
