"""Regularization paths with warm starts: ``alpha_max``, the grid, ``multitask_path``.

``multitask_path`` walks a decreasing grid of ``alpha`` from ``alpha_max`` (the
smallest alpha whose solution is all zero, for norm penalties), each solve starting
from the previous solution.  The cross-validated estimators (``_cv.py``) run that
path on every fold.
"""

import contextlib
import functools
import numbers
import time

import numpy as np
from sklearn.base import clone

from ._fista import fista

__all__ = ["multitask_path"]


def zeroing_norm(penalty):
    """``(norm, weight)`` when ``penalty`` zeroes the model at a large alpha: the
    penalty itself (weight 1), or the norm of an elastic mix with ``l1_ratio > 0``
    (its weight ``l1_ratio``); None for the penalties that only shrink."""
    if penalty.is_norm:
        return penalty, 1.0
    base, ratio = getattr(penalty, "base_", None), getattr(penalty, "l1_ratio", 0)
    if base is not None and base.is_norm and ratio > 0:
        return base, float(ratio)
    return None


def alpha_max(problem):
    """Smallest alpha with an all-zero solution (norm penalties, and their elastic
    mixes: the norm's value over ``l1_ratio``, as scikit-learn's ``ElasticNet``).

    For the other penalties, which shrink but never zero, ``10 L`` with ``L`` the
    largest curvature of the data-fit term: the start of a useful grid.
    """
    datafit, penalty = problem.datafit, problem.penalty
    zeroing = zeroing_norm(penalty)
    if zeroing is None:
        return 10.0 * datafit.lipschitz()
    norm, weight = zeroing
    V, b = problem.start()
    if b is not None:  # intercepts optimal for W = 0: a huge alpha keeps W at zero
        V, b, *_ = fista(datafit, penalty, 1e30, V, b, max_iter=2000, tol=1e-10)
    W = penalty.coef(V)
    GW, _ = datafit.gradient(W, b, datafit.forward(W, b))
    # a hair above the dual norm, so that rounding cannot leave a nonzero at alpha_max
    return max(norm.dual_norm(GW) / weight * (1 + 1e-12), np.finfo(float).tiny)


def check_alphas(alphas):
    """A grid of alphas as a float array: non-empty, finite, non-negative."""
    grid = np.asarray(alphas, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or \
            np.any(grid < 0):
        raise ValueError(
            "alphas must be a non-empty 1-D array of finite values >= 0 (or an int: "
            f"that many from alpha_max down); got {alphas!r}.")
    return grid


def _grid(problem, alphas, eps):
    """``alphas`` itself (sorted decreasing), or that many from ``alpha_max`` down.

    A target the model fits exactly at zero coefficients (a constant ``y``) has
    ``alpha_max`` 0: the grid is then ``alphas`` times float64's resolution, as
    scikit-learn's (not 1e-308 .. 1e-310).
    """
    if isinstance(alphas, numbers.Integral):
        if alphas < 1:
            raise ValueError(f"alphas must be at least 1 (a grid size); got {alphas}.")
        top = alpha_max(problem)
        resolution = np.finfo(np.float64).resolution
        if top <= resolution:
            return np.full(alphas, resolution)
        return np.geomspace(top, top * eps, alphas)
    return np.sort(check_alphas(alphas))[::-1]


# Below this many multiply-adds in the largest product of an iteration, the solve
# runs on one BLAS thread: on a loaded 2-core machine the default thread count made
# such products 4 to 90 times slower, and on an idle one threads gain little there
# (benchmarks/bench_linear_defaults.py --part C).
SMALL_WORK = 1e7


@functools.cache
def _threadpools():
    from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

    return ThreadpoolController()


def solve_threads(problem):
    """The BLAS thread limit of a solve: one thread when ``problem.work`` (the
    multiply-adds of its largest product an iteration) is below ``SMALL_WORK``,
    else none (the default count)."""
    if getattr(problem, "work", np.inf) >= SMALL_WORK:
        return contextlib.nullcontext()
    return _threadpools().limit(limits=1, user_api="blas")


def _iter_path(est, X, y, tasks, sample_weight, penalty, alphas, eps=None, structure=True):
    """Fit ``est`` along the path; yields each alpha with ``est`` fitted at it
    (``structure=False``: without the penalty's own attributes, e.g. ``labels_``,
    which a fold's path does not need)."""
    problem = est._prepare(X, y, tasks, sample_weight, penalty)
    alphas = _grid(problem, alphas, eps)
    V, b = problem.start()
    for k, alpha in enumerate(alphas):
        with solve_threads(problem):
            V, intercept, gap, n_iter, converged = problem.solve(
                alpha, V, b, **est._solver_params())
        b = None if b is None else intercept
        est._store(problem, V, intercept, gap, n_iter, converged, structure=structure)
        if est.verbose:
            print(f"[path] alpha {k + 1}/{len(alphas)} = {alpha:.3e}: "
                  f"{n_iter} iterations, gap {gap:.2e}")
        yield alpha


def multitask_path(estimator, X, y, *, tasks=None, sample_weight=None, alphas=100,
                   eps=1e-3):
    """Solutions of a multi-task linear model along a decreasing grid of alpha.

    Each solve is warm-started from the previous one, as in ``lasso_path``.

    Parameters
    ----------
    estimator : MultiTaskRegressor or MultiTaskClassifier
        Gives the penalty, loss and solver settings (it is cloned, not fitted).
    X, y, tasks, sample_weight
        As in the estimator's ``fit``.
    alphas : int or array-like, default=100
        The grid, or its size: that many values from ``alpha_max`` down to
        ``eps * alpha_max`` on a log scale (as in scikit-learn 1.9's ``lasso_path``).
    eps : float, default=1e-3

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_alphas, n_outputs, n_features)
    intercepts : ndarray of shape (n_alphas, n_outputs)
    dual_gaps : ndarray of shape (n_alphas,)

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl import MultiTaskRegressor
    >>> from skmtl.linear import multitask_path
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(50, 4)
    >>> Y = X[:, :2] @ rng.randn(2, 3)
    >>> alphas, coefs, _, _ = multitask_path(MultiTaskRegressor(), X, Y, alphas=5)
    >>> coefs.shape, bool(np.all(coefs[0] == 0)), bool(np.any(coefs[-1] != 0))
    ((5, 3, 4), True, True)
    """
    est = clone(estimator)
    out = []
    for alpha in _iter_path(est, X, y, tasks, sample_weight, est.penalty, alphas, eps):
        out.append((alpha, np.atleast_2d(est.coef_).copy(),  # one row an output
                    np.atleast_1d(est.intercept_).copy(), est.dual_gap_))
    a, c, i, g = zip(*out)
    return np.array(a), np.stack(c), np.stack(i), np.array(g)


class PathProgress:
    """The compact progress of a cross-validated path (``verbose=1``): one line a
    fold's path, with the best mean validation score so far, one a grid extension
    and one for the refit; nothing at ``verbose=0``.

    Parameters
    ----------
    name : str
        The estimator's name, at the start of each line.
    verbose : int
    lower_is_better : bool
    metric : str
        The name of the score, e.g. ``"mse"``.
    """

    def __init__(self, name, verbose, lower_is_better, metric):
        self.name, self.verbose = name, verbose
        self.lower, self.metric = lower_is_better, metric
        self.start = time.perf_counter()

    def _print(self, text):
        if self.verbose:
            print(f"[{self.name}] {text}; {time.perf_counter() - self.start:.1f} s",
                  flush=True)

    def fold(self, label, k, n_folds, grid, done):
        """Fold ``k`` (0-based) of ``n_folds`` finished; ``done``: the validation
        scores along ``grid`` of the folds of this grid finished so far."""
        if not self.verbose:
            return
        mean = np.mean(done, axis=0)
        j = int(np.argmin(mean) if self.lower else np.argmax(mean))
        self._print(f"{label}fold {k + 1}/{n_folds}: {len(grid)} alphas, best "
                    f"{self.metric} so far {mean[j]:.4g} at alpha {grid[j]:.3g} "
                    f"(mean of {len(done)} fold{'s' if len(done) > 1 else ''})")

    def note(self, text):
        self._print(text)
