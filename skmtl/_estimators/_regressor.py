"""MultiTaskRegressor: the front door of the squared loss."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ..base import init_params
from ..metrics import task_average
from ._base import _MultiTaskLinear
from ._docs import predict_doc, shared_doc


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
    ``rho1`` as ``rho1 = n_t alpha`` on tasks of equal size ``n_t`` (MALSAR's
    ``Least_*`` functions sum a task's squared errors, with the 1/2, instead of
    averaging them; ``Least_Dirty`` also drops the 1/2, and the ``Logistic_*``
    functions average per task, so there ``rho1 = alpha``; see :doc:`/scaling`).

    Parameters
    ----------
    {shared}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        One row a task (the linear configurations).
    intercept_ : ndarray of shape (n_tasks,)
        (The linear configurations.)
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
    {structure_attributes}
    task_similarity_ : ndarray of shape (n_tasks, n_tasks)
        Cosine similarity of the tasks' coefficient vectors (for a network, of
        its task heads' weights): 1 for tasks of one direction, 0 for orthogonal
        ones.
    {network_attributes}

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

    __doc__ = shared_doc(__doc__, precompute=True)

    def __init__(self, penalty="l21", alpha="auto", *, fit_intercept=True, positive=False,
                 solver="auto",
                 precompute="auto", max_iter=1000, tol=1e-4, warm_start=False,
                 verbose=0, backend="numpy", hidden_layer_sizes=(64,),
                 activation="tanh", dropout=0.0, batch_norm=False,
                 architecture="shared", n_experts=4, module=None,
                 loss_weighting="equal", learning_rate="auto", weight_decay=0.1,
                 batch_size="auto", max_epochs=200, early_stopping="auto",
                 validation_fraction=0.1, n_iter_no_change=10, random_state=None,
                 device="auto", dtype="float32", callbacks=None, unknown_task="error"):
        init_params(self, locals())

    def _encode_targets(self, table):
        return [y[:, None] for y in table.y], np.zeros(table.n_tasks, dtype=int)

    @predict_doc
    def predict(self, X, tasks=None):
        """Predict with each row's task model.

        {X_tasks}

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            Long format or single task: one value per row; wide: one column a task.
        """
        X, codes = self._validate_predict(X, tasks)
        if codes is not None:  # long format: one vectorized product
            return self._own_outputs(X, codes)[0][:, 0]
        out = self._assemble(lambda t, rows: self._decision(X, t, rows)[:, 0], codes,
                             X.shape[0])
        return out[0] if self._squeeze else np.column_stack(out)

    def score(self, X, y, sample_weight=None, *, tasks=None):
        """Mean over tasks of the coefficient of determination R^2.

        Missing labels (NaN) in a 2-D ``y`` are skipped; in long format ``tasks``
        must be given, as in ``predict``.
        """
        pred = self.predict(X, tasks=tasks)
        return task_average(r2_score, y, pred, tasks=tasks, sample_weight=sample_weight)
