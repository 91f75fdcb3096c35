"""The numpy engine: the penalized linear model behind ``backend="numpy"``.

An engine is the configuration a front-door estimator (``MultiTaskRegressor``,
``MultiTaskClassifier``, ...) runs: it declares the estimator parameters it uses
(``params``), builds and solves its problem, sets the fitted attributes it
documents (``attributes``) and computes the outputs for new rows.  The estimator
validates the data, encodes the targets and refuses a parameter that its engine
does not use.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ..base import Engine
from ._datafit import make_blocks
from ._penalties import Dirty
from ._path import alpha_max, solve_threads, zeroing_norm
from ._problem import _pass_cost, make_problem
from ._registry import get_penalty


class LinearEngine(Engine):
    """The regularized multi-task linear model, solved by FISTA or coordinate descent.

    Parameters
    ----------
    est : estimator
        The front door; the values of :attr:`params` are read from it.
    """

    name = "the numpy linear model"
    setting = 'backend="numpy"'
    params = ("penalty", "alpha", "fit_intercept", "positive", "solver", "precompute",
              "max_iter", "tol", "warm_start", "loss")
    attributes = ("coef_", "intercept_", "n_iter_", "dual_gap_", "alpha_")
    dtype = "float64"  # the arithmetic the rows must fit (check_scale)

    # alpha="auto" (see resolve_alpha; chosen by benchmarks/bench_linear_defaults.py)
    norm_factor = 0.7  # of sqrt(log(2 p) / n), the fraction of alpha_max
    max_fraction = 0.5  # the largest fraction of alpha_max
    ridge_factor = 1.0  # of the ridge c s2 p / n

    # the value of a parameter an estimator does not have (the classifier has no
    # precompute, the CV estimators no warm_start)
    _absent = {"precompute": "auto", "warm_start": False, "positive": False}

    def __init__(self, est):
        for name in self.params:
            setattr(self, name, getattr(est, name, self._absent.get(name)))
        self.verbose = getattr(est, "verbose", 0)

    # ----------------------------------------------------------------- problem
    def _design(self):
        """The data-fit factory for :func:`make_problem` (None: numpy's own)."""
        return None

    def problem(self, table, targets, out_groups, loss, penalty):
        """The penalized problem of the encoded targets."""
        blocks, out_task = make_blocks(table, targets, segmented=loss.name == "logistic")
        penalty = clone(get_penalty(penalty)).bind(out_task, out_groups)
        problem = make_problem(blocks, loss, penalty, table.X.shape[1], out_task.size,
                               fit_intercept=self.fit_intercept, positive=self.positive,
                               solver=self.solver,
                               precompute=self.precompute, design=self._design())
        problem.scales = _scales(table, self.fit_intercept, loss)
        p, m = problem.shape  # the largest product of an iteration (solve_threads)
        problem.work = p * p * m if problem.gram else _pass_cost(blocks)
        return problem

    def solver_params(self):
        return dict(max_iter=self.max_iter, tol=self.tol, verbose=self.verbose)

    # --------------------------------------------------------------------- fit
    def fit(self, est, problem):
        """Solve ``problem`` at ``alpha`` (from the last solution with warm_start)."""
        V, b = self.initial(est, problem)
        with solve_threads(problem):  # one BLAS thread for a small problem
            alpha = self.resolve_alpha(problem)
            solution = problem.solve(alpha, V, b, **self.solver_params())
        self.store(est, problem, *solution)
        est.alpha_ = float(alpha)
        if problem.penalty.is_norm and alpha > 0 and not np.any(est.coef_):
            top = alpha_max(problem)
            warnings.warn(
                f"Every coefficient is zero: alpha={alpha:.3g} is at or above "
                f"alpha_max={top:.3g}, the smallest alpha whose solution is all zero "
                f"on this data, so the model predicts each task's mean.  Use a smaller "
                f"alpha (e.g. {top / 10:.3g}) or choose it by cross-validation "
                "(MultiTaskRegressorCV / MultiTaskClassifierCV).", UserWarning)

    def resolve_alpha(self, problem):
        """The penalty strength to solve at: ``alpha``, or for ``alpha="auto"`` a
        default relative to the data (``doc/getting_started.rst``, ``default_alpha``).

        With ``p`` features and ``n`` a task's (effective) rows, averaged over the
        tasks as ``1 / n`` is: a penalty that zeroes the model (``"l21"``,
        ``"l1"``, ``"trace"``, ``"dirty"``, an elastic mix) takes the fraction
        ``min(norm_factor * sqrt(log(2 p) / n), max_fraction)`` of ``alpha_max``
        (the lasso's noise level ``sqrt(log p / n)``, relative to the signal's
        scale); one that only shrinks (``"l2"``, ``"mean"``, ``"graph"``,
        ``"cluster"``) the ridge ``ridge_factor * c * s2 * p / n``, with ``s2``
        the mean variance of the features and ``c`` the loss's curvature: the
        optimal ridge of a linear model whose signal and noise have equal variance.
        """
        if not isinstance(self.alpha, str):
            return self.alpha
        p = problem.shape[0]
        curvature, s2, inv_rows = problem.scales
        if zeroing_norm(problem.penalty) is not None:
            fraction = self.norm_factor * np.sqrt(np.log(2 * p) * inv_rows)
            return min(fraction, self.max_fraction) * alpha_max(problem)
        return self.ridge_factor * curvature * s2 * p * inv_rows

    def initial(self, est, problem):
        """Zero, or with ``warm_start`` the last solution, or a ``coef_`` (and
        ``intercept_``) the user assigned, when it has the problem's shape."""
        V, b = problem.start()
        coef = getattr(est, "coef_", None)
        if not self.warm_start or coef is None:
            return V, b
        W = np.asarray(coef, dtype=np.float64).reshape(-1, problem.shape[0]).T
        if W.shape != problem.penalty.coef(V).shape:
            return V, b  # other data: a fresh start
        last = getattr(est, "_variable", None)
        if coef is getattr(est, "_coef_stored", None) and last is not None:
            V = last.copy()  # the solver's own variable (e.g. both parts of dirty)
        else:
            V = problem.penalty.variable(W.copy())
        intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
        if b is not None and intercept.shape == b.shape:
            b = intercept.copy()
        return V, b

    def store(self, est, problem, V, b, gap, n_iter, converged, structure=True):
        """Set the fitted attributes of a solution on ``est``; ``structure``: also the
        penalty's own (``labels_``, ``task_covariance_``, ...), which a previous fit's
        penalty may have set and this one replaces."""
        W = problem.penalty.coef(V)
        est._variable = V
        est.coef_, est.intercept_ = est._fitted_coef(np.ascontiguousarray(W.T), b)
        est._coef_stored = est.coef_  # a coef_ assigned later is a warm start's start
        if isinstance(problem.penalty, Dirty):
            est.coef_shared_, est.coef_specific_ = (
                est._fitted_coef(np.ascontiguousarray(A.T), b)[0]
                for A in problem.penalty._split(V))
        for name in getattr(est, "_structure_names", ()):
            est.__dict__.pop(name, None)
        own = problem.penalty.fitted_attributes(V) if structure else {}
        est.__dict__.update(own)  # e.g. the cluster penalty's labels_
        est._structure_names = tuple(own)
        est.n_iter_ = np.array([n_iter], dtype=np.int32) if est._classifier else n_iter
        est.dual_gap_ = gap
        if not converged:
            warnings.warn(
                f"The solver did not converge in max_iter={self.max_iter} iterations "
                f"(duality gap {gap:.3e}). Increase max_iter or tol, or scale the "
                "features.",
                ConvergenceWarning,
            )

    # ----------------------------------------------------------------- predict
    def outputs(self, est, X, cols=slice(None)):
        """Outputs ``cols`` (all by default) for the rows of ``X``: (n_samples, n_cols)."""
        coef = est.coef_.reshape(-1, est.coef_.shape[-1])  # a 1-D coef_: one task
        return np.asarray(X @ coef[cols].T) + np.atleast_1d(est.intercept_)[cols]



def _scales(table, fit_intercept, loss):
    """``(c, s2, 1 / n)``: the loss's curvature; the mean over features of their
    variance (second moment without an intercept), each row weighted by its weights
    in the tasks (each task's summing to ``1 / n_tasks``); and the mean over tasks
    of ``1 / n_t``, with ``n_t`` a task's total sample weight (``table.totals``;
    its row count without weights), else its effective row count ``1 / sum w^2``.
    Integer weights and repeated rows give the same values (sklearn's convention).
    """
    X, T = table.X, table.n_tasks
    n, p = X.shape
    if table.wide:  # a row's weight: its weights in the tasks it is labelled in
        v = np.zeros(n)
        for rows, w in zip(table.rows, table.weights):
            v[rows] += w
    else:  # the rows of X are the tasks' rows, in order
        v = np.concatenate(table.weights)
    v = v / T
    if sp.issparse(X):
        second, mean = X.multiply(X).T @ v, X.T @ v
    else:
        second, mean = np.einsum("ij,ij,i->j", X, X, v), v @ X
    s2 = float(np.mean(second - mean**2 if fit_intercept else second)) if p else 0.0
    totals = getattr(table, "totals", None)
    if totals is None:
        sizes = [len(w) for w in table.weights]
        inv_rows = np.bincount(np.repeat(np.arange(T), sizes),
                               np.concatenate(table.weights) ** 2, T)
    else:
        inv_rows = 1.0 / np.asarray(totals, dtype=np.float64)
    return loss.curvature, s2, float(np.mean(inv_rows))
