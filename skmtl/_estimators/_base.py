"""The front door the multi-task estimators share: data validation, the choice of
engine, predict plumbing and pickling.

The estimator validates X and the targets, encodes them and sets the task
bookkeeping; the engine it is configured for (:class:`~skmtl.linear._engine.
LinearEngine` for ``backend="numpy"``, a torch engine of ``skmtl.nn`` otherwise)
solves and predicts.  torch is imported only when a torch engine is chosen.
"""

import contextlib
import copy

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from .._search_guard import check_search_scorer
from .._tasks import check_scale, split_tasks, take_rows
from ..base import MultiTaskMixin
from ..linear._engine import LinearEngine
from ..linear._losses import Squared
from ._new_tasks import NewTasksMixin, _check_same_classes, shared_coef
from ._params import (FRONT_CONSTRAINTS, LINEAR_CONSTRAINTS, TORCH_CONSTRAINTS,
                      check_configuration)


def _is_torch(est):
    return est._backend() == "torch"


_BLOCK = 2**20  # floats a block of predict's products holds (8 MiB)


def linear_rows(X, coef, intercept, cols):
    """Each row's own outputs of a linear model, with no loop over tasks.

    ``Z[i, j] = X[i] @ coef[cols[i, j]] + intercept[cols[i, j]]``, computed in blocks
    of rows that hold at most ``_BLOCK`` floats of gathered coefficients (a dense
    X) or with one gather per stored entry (a CSR X).

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    coef : ndarray of shape (n_outputs, n_features)
    intercept : ndarray of shape (n_outputs,)
    cols : ndarray of int of shape (n_samples, k)
        The outputs of each row.

    Returns
    -------
    Z : ndarray of shape (n_samples, k)
        In ``X``'s and ``coef``'s common dtype.
    """
    n, k = cols.shape
    Z = np.empty((n, k), dtype=np.result_type(X.dtype, coef.dtype))
    step = max(1, _BLOCK // max(1, k * coef.shape[1]))
    for a in range(0, n, step):
        b = min(n, a + step)
        c = cols[a:b]
        if sp.issparse(X):
            Xb = X[a:b]
            row = np.repeat(np.arange(b - a), np.diff(Xb.indptr))
            for j in range(k):  # k: the outputs of one task (its classes)
                Z[a:b, j] = np.bincount(row, Xb.data * coef[c[row, j], Xb.indices],
                                        minlength=b - a)
        elif k == 1:
            Z[a:b, 0] = np.einsum("ij,ij->i", X[a:b], coef[c[:, 0]])
        else:
            Z[a:b] = np.einsum("ij,ikj->ik", X[a:b], coef[c])
    Z += intercept[cols]
    return Z


class _Outputs:
    """All outputs for the rows being predicted (wide format): one product."""

    def __init__(self, Z):
        self.Z = Z
        self.shape = Z.shape


class _MultiTaskLinear(NewTasksMixin, MultiTaskMixin, BaseEstimator):
    _parameter_constraints = {**LINEAR_CONSTRAINTS, **TORCH_CONSTRAINTS, **FRONT_CONSTRAINTS}
    _classifier = False
    _own_params = ()  # parameters the front door uses itself (none here)

    # ------------------------------------------------------------ configuration
    def _backend(self):
        return self.backend

    def _engine_class(self, network=None):
        if self._backend() == "numpy":
            return LinearEngine
        try:
            from ..nn._engines import torch_engine
        except ImportError as exc:
            if "torch" not in str(exc):
                raise
            raise ImportError(
                f"{type(self).__name__} with backend='torch' needs torch: pip install "
                "'skmtl[torch]'.") from exc
        return torch_engine(self, network)

    def _configure(self, network=None):
        """The engine for the current parameters (refusing any it does not use)."""
        engine = self._engine_class(network)
        check_configuration(self, engine, self._own_params)
        self._engine = engine(self)
        return self._engine

    def _loss(self):
        return Squared()

    # ---------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, tasks=None):
        """Fit the model.

        A fit that raises (or is interrupted) leaves the estimator as it was.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets.  2-D: one column a task, a missing label (NaN) leaving the row
            out of that task.  1-D with ``tasks``: long format.  1-D alone: one task.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights; each task's loss is its weighted mean.
        tasks : array-like of shape (n_samples,), default=None
            Task label (int or str) of each row, for the long format.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        check_search_scorer(self, y, tasks)
        with self._atomic(resume=getattr(self, "warm_start", False)):
            self.__dict__.pop("_given_classes", None)  # partial_fit's classes= no more
            engine = self._configure()
            if engine.network:
                engine.fit(self, X, y, tasks, sample_weight, partial=False)
            else:
                engine.fit(self, self._prepare(X, y, tasks, sample_weight, self.penalty,
                                               engine))
        return self

    @available_if(_is_torch)
    def partial_fit(self, X, y, sample_weight=None, *, tasks=None):
        """One more epoch of training on this data (``backend="torch"`` only).

        The first call initialises the network; later calls need the same tasks
        (and, for a classifier, the same classes in each task).  A call that
        raises leaves the estimator as it was.

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "module_")
        with self._atomic(resume=not first):
            if first:
                self._validate_params()
                self._configure(network=True)
            self._engine.fit(self, X, y, tasks, sample_weight, partial=True,
                             resume=not first)
        return self

    @contextlib.contextmanager
    def _atomic(self, resume):
        """Restore the estimator's state if the block raises: a failed or interrupted
        fit never leaves a half-updated model (new tasks with old coefficients).

        ``resume``: the fit may train the previous network in place, so a copy of
        its trainer (network and optimizer) is kept to restore.
        """
        saved = dict(self.__dict__)
        if resume and saved.get("_trainer") is not None:
            saved["_trainer"] = copy.deepcopy(saved["_trainer"])
            saved["module_"] = saved["_trainer"].net
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fitted_coef(self, coef, intercept):
        """scikit-learn's shapes and dtype for the solution ``(coef, intercept)`` of
        shape (n_outputs, n_features) and (n_outputs,): one task from a 1-D ``y``
        gives (n_features,) and a scalar (``Ridge``, ``Lasso``); float32 X, float32."""
        dtype = getattr(self, "_fit_dtype", "float64")
        coef, intercept = coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)
        if self._squeeze and not self._classifier:
            return coef[0], intercept[0]
        return coef, intercept

    def _prepare(self, X, y, tasks, sample_weight, penalty, engine=None):
        """Validate the data, set the task bookkeeping, and build the linear problem."""
        engine = engine or self._configure()
        table, targets, out_groups = self._tables(X, y, tasks, sample_weight)
        return engine.problem(table, targets, out_groups, self._loss(), penalty)

    def _store(self, problem, *solution, structure=True):
        self._engine.store(self, problem, *solution, structure=structure)

    def _solver_params(self):
        return self._engine.solver_params()

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
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        self._out_bounds = bounds  # task t's outputs: bounds[t]:bounds[t + 1]
        self._out_slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        return table, targets, out_groups

    def _check_X(self, X, reset):
        """Validated X; a memmap or torch Dataset for a network stays on disk (lazy)."""
        if self._engine.network:
            lazy = self._engine.streamed(self, X, reset)
            if lazy is not None:
                return lazy
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          reset=reset)
        self._check_scale(X, "X")
        if reset:  # the fitted coefficients keep X's precision (the solvers: float64)
            self._fit_dtype = X.dtype.name  # a name: safe formats (skops) take it
            X = X.astype(np.float64, copy=False)
        return X

    def _check_scale(self, A, name):
        """Values the engine's arithmetic takes: see :func:`check_scale`."""
        check_scale(A, name, self._engine.dtype, squared=not self._engine.network)

    def _regression_tasks(self, table):
        return [not self._classifier] * table.n_tasks

    # ------------------------------------------------------------------ predict
    def _decision(self, X, t, rows):
        s = self._out_slices[t]
        if isinstance(X, _Outputs):  # the outputs, computed once
            return X.Z[:, s] if rows is None else X.Z[rows, s]
        Xt = X if rows is None else take_rows(X, rows)
        return self._engine.outputs(self, Xt, s)

    def _validate_predict(self, X, tasks):
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        codes = self._task_codes(tasks, X.shape[0])
        if codes is not None:
            return X, codes
        return _Outputs(self._engine.outputs(self, X)), codes

    def _own_outputs(self, X, codes):
        """Each row's outputs of its own task's model (long format), with no loop
        over tasks.

        Returns ``(Z, width)``: row ``i``'s outputs are ``Z[i, :width[i]]``.  A row
        of a task not seen in fit (code ``n_tasks_``, from ``unknown_task="shared"``)
        gets the model common to all tasks.
        """
        bounds = self._out_bounds
        start, width = bounds[:-1], np.diff(bounds)
        unknown = codes == self.n_tasks_
        if unknown.any():  # the shared model: one more task, after the others
            start, width = np.append(start, bounds[-1]), np.append(width, width[0])
            if self._classifier:
                _check_same_classes(self)
        w = width[codes]
        K = int(w.max())
        cols = start[codes][:, None] + np.minimum(np.arange(K), w[:, None] - 1)
        if self._engine.network:
            return self._network_rows(X, cols, unknown), w
        coef = self.coef_.reshape(-1, self.coef_.shape[-1])
        intercept = np.atleast_1d(self.intercept_)
        if unknown.any():
            common = shared_coef(self)
            coef = np.concatenate([coef, common[0]])
            intercept = np.concatenate([intercept, common[1]])
        if np.all(w == K):
            return linear_rows(X, coef, intercept, cols), w
        Z = np.zeros((X.shape[0], K), dtype=np.result_type(X.dtype, coef.dtype))
        for k in np.unique(w):  # a few groups: the tasks' numbers of classes
            rows = np.flatnonzero(w == k)
            Z[rows, :k] = linear_rows(take_rows(X, rows), coef, intercept, cols[rows, :k])
        return Z, w

    def _network_rows(self, X, cols, unknown):
        """:meth:`_own_outputs` of a network: its outputs in blocks of rows, each
        row's taken; rows of unseen tasks from the shared trunk and averaged head."""
        n_out = int(self._out_bounds[-1])
        step = max(1, _BLOCK // n_out)
        Z = np.empty(cols.shape)
        for a in range(0, X.shape[0], step):
            b = min(X.shape[0], a + step)
            Zb = self._engine.outputs(self, X[a:b])
            Z[a:b] = np.take_along_axis(Zb, np.minimum(cols[a:b], n_out - 1), axis=1)
        if unknown.any():
            from ..nn._shared import shared_outputs

            rows = np.flatnonzero(unknown)
            Z[rows] = shared_outputs(self, take_rows(X, rows))[:, :Z.shape[1]]
        return Z

    @property
    def task_similarity_(self):
        """Cosine similarity of the tasks' models, of shape (n_tasks, n_tasks).

        Entry ``(s, t)`` is the cosine of the angle between the coefficient
        vectors of tasks ``s`` and ``t`` (a multiclass task's rows flattened in the
        order of its classes; for a network, the weights of the task heads): 1 for
        tasks of one direction, 0 for orthogonal tasks, and 0 with a task whose
        coefficients are all zero (as
        :func:`sklearn.metrics.pairwise.cosine_similarity`).  The tasks must have
        the same number of outputs.
        """
        check_is_fitted(self)
        if self._engine.network:
            from ..nn._shared import head_weights

            W = head_weights(self.module_)
        else:
            W = np.asarray(self.coef_, dtype=np.float64).reshape(-1, self.coef_.shape[-1])
        widths = np.diff(self._out_bounds)
        if np.any(widths != widths[0]):
            raise AttributeError(
                "task_similarity_ compares tasks with the same number of outputs; "
                f"these tasks have {sorted(set(widths.tolist()))} (binary and multiclass "
                "tasks, or multiclass tasks with different numbers of classes).")
        return cosine_similarity(W.reshape(self.n_tasks_, -1))

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the default is self.__dict__
        if "module_" in state:  # the network travels on the CPU, without its trainer
            from ..nn._state import cpu_state

            state.pop("_trainer", None)
            state = cpu_state(state, ("module_",))
        return state
