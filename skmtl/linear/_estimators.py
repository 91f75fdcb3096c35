"""The shared linear estimator base and MultiTaskRegressor: thin, over the solvers."""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._tasks import check_scale, split_tasks, take_rows
from ..base import MultiTaskMixin, init_params
from ..metrics import task_average
from ._docs import _SHARED_DOC
from ._problem import Problem
from ._torch_backend import _network_outputs, _TorchBackend
from ._torch_params import (  # noqa: F401 (re-exported)
    _TORCH_CONSTRAINTS,
    _TORCH_PARAMS,
    WEIGHTINGS,
    _is_torch,
)
from ._datafit import DesignFit, GramFit, make_blocks, shared_rows
from ._losses import Squared
from ._penalties import L21, Dirty, Penalty
from ._registry import PENALTIES, get_penalty

class _Outputs:
    """All outputs for the rows being predicted (wide format): one product."""

    def __init__(self, Z):
        self.Z = Z
        self.shape = Z.shape


class _MultiTaskLinear(_TorchBackend, MultiTaskMixin, BaseEstimator):
    _parameter_constraints = {
        "penalty": [StrOptions(set(PENALTIES)), Penalty],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions({"auto", "fista", "cd"})],
        "precompute": [StrOptions({"auto"}), "boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        **_TORCH_CONSTRAINTS,
    }
    _classifier = False

    def _loss(self):
        return Squared()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, tasks=None, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets.  2-D: one column a task, a missing label (NaN) leaving the row
            out of that task.  1-D with ``tasks``: long format.  1-D alone: one task.
        tasks : array-like of shape (n_samples,), default=None
            Task label (int or str) of each row, for the long format.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights; each task's loss is its weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self.__dict__.pop("_given_classes", None)  # partial_fit's classes= no more
        self._uses_network = self._on_network()
        if self._uses_network:
            return self._fit_network(X, y, tasks, sample_weight, partial=False)
        problem = self._prepare(X, y, tasks, sample_weight, self.penalty)
        V, b = self._initial(problem)
        self._store(problem, *problem.solve(self.alpha, V, b, **self._solver_params()))
        return self

    def _solver_params(self):
        return dict(max_iter=self.max_iter, tol=self.tol, verbose=self.verbose)

    def _tables(self, X, y, tasks, sample_weight, reset=True):
        """Validate the data, encode the targets and set the task bookkeeping."""
        X = self._check_X(X, reset)
        table = split_tasks(X, y, tasks, sample_weight, classifier=self._classifier)
        if not self._classifier:  # the targets enter the squared loss
            self._check_scale(np.concatenate(table.y), "y")
        targets, out_groups = self._encode_targets(table)
        sizes = [E.shape[1] for E in targets]
        self.tasks_ = table.labels
        self.n_tasks_ = table.n_tasks
        self._squeeze = table.squeeze
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        self._out_slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        return table, targets, out_groups

    def _check_X(self, X, reset):
        """Validated X; a memmap or torch Dataset for a network stays on disk (lazy)."""
        lazy = self._streamed_X(X, reset)
        if lazy is not None:
            return lazy
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=reset)
        self._check_scale(X, "X")
        return X

    def _check_scale(self, A, name):
        """Values the backend's arithmetic takes: see :func:`check_scale`."""
        network = self._on_network()
        dtype = np.float64 if self.backend == "numpy" else np.dtype(self.dtype)
        check_scale(A, name, dtype, squared=not network)

    def _prepare(self, X, y, tasks, sample_weight, penalty):
        """Validate the data, set the task bookkeeping, and build the problem."""
        table, targets, out_groups = self._tables(X, y, tasks, sample_weight)
        loss = self._loss()
        blocks, out_task = make_blocks(table, targets, segmented=loss.name == "logistic")
        penalty = clone(get_penalty(penalty)).bind(out_task, out_groups)
        p, m = table.X.shape[1], out_task.size

        # coordinate descent shines with one shared Gram matrix (sklearn's case);
        # with per-task Grams of varied curvature, FISTA is faster
        fits_cd = isinstance(penalty, L21) and isinstance(loss, Squared)
        if self.solver == "cd" and not fits_cd:
            raise ValueError(
                "solver='cd' needs penalty='l21' and the squared loss; use solver='fista'."
            )
        shared = shared_rows(blocks)
        use_gram = self._use_gram(blocks, p, m, shared)
        use_cd = self.solver == "cd" or (
            self.solver == "auto" and fits_cd and shared and use_gram
        )
        if self.backend == "torch":  # the same problem, with X on the device
            return self._device_problem(blocks, loss, p, m, penalty)
        if isinstance(loss, Squared) and (use_cd or use_gram):
            datafit = GramFit(blocks, p, m, self.fit_intercept, shared)
        else:
            datafit = DesignFit(blocks, loss, p, m, self.fit_intercept)
        return Problem(datafit, penalty, use_cd)

    def _store(self, problem, V, b, gap, n_iter, converged):
        W = problem.penalty.coef(V)
        self._variable = V
        self.coef_ = np.ascontiguousarray(W.T)
        self.intercept_ = b
        if isinstance(problem.penalty, Dirty):
            self.coef_shared_, self.coef_specific_ = (A.T for A in problem.penalty._split(V))
        self.n_iter_ = n_iter
        self.dual_gap_ = gap
        if not converged:
            warnings.warn(
                f"The solver did not converge in max_iter={self.max_iter} iterations "
                f"(duality gap {gap:.3e}). Increase max_iter or tol, or scale the "
                "features.",
                ConvergenceWarning,
            )

    def _use_gram(self, blocks, p, m, shared):
        if self.precompute != "auto":
            return bool(self.precompute)
        n_grams = 1 if shared else m
        data_cost = sum(
            (blk.X.nnz if sp.issparse(blk.X) else blk.X.size) * blk.Y.shape[1]
            for blk in blocks
        )
        return n_grams * p * p <= min(data_cost, 5e7)

    def _initial(self, problem):
        V, b = problem.start()
        if (
            self.warm_start
            and getattr(self, "_variable", None) is not None
            and self._variable.shape == V.shape
        ):
            V = self._variable.copy()
            if b is not None and self.intercept_.shape == b.shape:
                b = self.intercept_.copy()
        return V, b

    def _decision(self, X, t, rows):
        s = self._out_slices[t]
        if isinstance(X, _Outputs):  # the network's outputs, computed once
            return X.Z[:, s] if rows is None else X.Z[rows, s]
        Xt = X if rows is None else take_rows(X, rows)
        if getattr(self, "_uses_network", False):
            return _network_outputs(self, Xt)[:, s]
        return np.asarray(Xt @ self.coef_[s].T) + self.intercept_[s]

    def _validate_predict(self, X, tasks):
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        codes = self._task_codes(tasks, X.shape[0])
        if codes is not None:
            return X, codes
        if getattr(self, "_uses_network", False):  # every output at once
            return _Outputs(_network_outputs(self, X)), codes
        return _Outputs(np.asarray(X @ self.coef_.T) + self.intercept_), codes


class MultiTaskRegressor(RegressorMixin, _MultiTaskLinear):
    r"""Regularized multi-task linear regression.

    Fits one linear model per task, coupled by a penalty on the coefficient matrix
    :math:`W = [w_1, \dots, w_T]` (one column a task):

    .. math::
        \min_{W, b}\ \sum_{t=1}^T \frac{1}{2 \sum_i s_i} \sum_{i \in t}
        s_i (y_i - x_i^\top w_t - b_t)^2 + \alpha\, \Omega(W)

    i.e. the sum over tasks of each task's weighted mean squared error.  With every
    label present and shared X, ``penalty="l21"`` is exactly sklearn's
    :class:`~sklearn.linear_model.MultiTaskLasso`; ``alpha`` maps to MALSAR's
    ``rho1`` as ``rho1 = 2 n_t alpha`` on tasks of equal size ``n_t`` (MALSAR sums
    the squared errors without the mean and the 1/2).

    Parameters
    ----------
    {shared}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        One row a task.
    intercept_ : ndarray of shape (n_tasks,)
    tasks_ : ndarray or None
        Task labels seen in fit (long format), sorted; ``None`` in wide format.
    n_tasks_ : int
    n_iter_ : int
        Iterations (or epochs) run by the solver.
    dual_gap_ : float
        Final duality gap (NaN for a graph penalty with ``ridge=0``).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Defined when X has string feature names.
    coef_shared_, coef_specific_ : ndarray of shape (n_tasks, n_features)
        The two parts of the dirty model (``penalty="dirty"`` only).

    See Also
    --------
    MultiTaskClassifier : The same penalties with classification losses.
    sklearn.linear_model.MultiTaskLasso : The ``"l21"`` case with shared X.

    Examples
    --------
    Long format, one task label per row:

    >>> import numpy as np
    >>> from skmtl import MultiTaskRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 10)
    >>> tasks = rng.choice(["north", "south", "east"], size=200)
    >>> w = np.r_[1.0, -2.0, np.zeros(8)]
    >>> y = X @ w + (tasks == "south") * X[:, 2] + 0.1 * rng.randn(200)
    >>> model = MultiTaskRegressor(penalty="l21", alpha=0.01).fit(X, y, tasks=tasks)
    >>> model.coef_.shape
    (3, 10)
    >>> model.predict(X[:2], tasks=["north", "south"]).shape
    (2,)

    Wide format, one column a task, NaN where a label is missing:

    >>> Y = np.column_stack([X @ w, X @ w + X[:, 2]])
    >>> Y[:50, 1] = np.nan
    >>> MultiTaskRegressor(penalty="trace", alpha=0.01).fit(X, Y).predict(X).shape
    (200, 2)
    """

    __doc__ = __doc__.replace("{shared}", _SHARED_DOC.strip())

    def __init__(self, penalty="l21", alpha=1.0, *, fit_intercept=True, solver="auto",
                 precompute="auto", max_iter=1000, tol=1e-4, warm_start=False,
                 verbose=0, backend="numpy", hidden_layer_sizes=(100,),
                 activation="relu", dropout=0.0, batch_norm=False,
                 architecture="shared", n_experts=4, module=None,
                 loss_weighting="equal", learning_rate=1e-3, weight_decay=1e-4,
                 batch_size="auto", max_epochs=200, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, random_state=None,
                 device="auto", dtype="float32"):
        init_params(self, locals())

    def _encode_targets(self, table):
        return [y[:, None] for y in table.y], np.zeros(table.n_tasks, dtype=int)

    def predict(self, X, tasks=None):
        """Predict with each row's task model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        tasks : array-like of shape (n_samples,), default=None
            Task of each row; required if and only if the model was fit with tasks.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            Long format or single task: one value per row; wide: one column a task.
        """
        X, codes = self._validate_predict(X, tasks)
        out = self._assemble(lambda t, rows: self._decision(X, t, rows)[:, 0], codes,
                             X.shape[0])
        if codes is not None:
            return out
        return out[0] if self._squeeze else np.column_stack(out)

    def score(self, X, y, tasks=None, sample_weight=None):
        """Mean over tasks of the coefficient of determination R^2.

        Missing labels (NaN) in a 2-D ``y`` are skipped; in long format ``tasks``
        must be given, as in ``predict``.
        """
        pred = self.predict(X, tasks=tasks)
        return task_average(r2_score, y, pred, tasks=tasks, sample_weight=sample_weight)
