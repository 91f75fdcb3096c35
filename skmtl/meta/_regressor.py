"""MetaLearnerRegressor: few-shot regression, and the regressor adapt returns."""

import numpy as np
import torch
from sklearn.base import RegressorMixin, _fit_context
from sklearn.linear_model import Ridge
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._algorithms import squared_error
from ..base import init_params
from ._base import GRADIENT_BASED, _Adapted, _MetaLearner, shared_doc
from ._episodes import EpisodeSampler


class MetaLearnerRegressor(RegressorMixin, _MetaLearner):
    """Few-shot regression by meta-learning.

    ``fit`` meta-trains on episodes of ``k_shot`` support and ``n_query`` query
    rows, each drawn within one task (the MAML sinusoid benchmark: every task a
    sinusoid, a few points of it to fit); :meth:`adapt` then turns a handful of
    rows of a brand-new task into a fitted regressor.  Each task starts from a
    zero one-output head and the inner loop minimises the mean squared error.
    Targets are standardised with the mean and standard deviation of ``y`` in fit
    (``inner_lr`` is for targets of unit scale); predictions are in the units of
    ``y``.

    Parameters
    ----------
    algorithm : {"maml", "fomaml", "reptile", "anil", "metasgd"}, default="maml"
        MAML (second order, through ``torch.func``); its first-order variant;
        Reptile; ANIL (inner loop on the head only); Meta-SGD (learned
        per-parameter inner step sizes).  Prototypical networks are for
        classification only.
    backbone : "mlp" or torch.nn.Module, default="mlp"
        A module maps rows (n, n_features) to embeddings (n, width).
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Widths of the ``"mlp"`` backbone.
    k_shot, n_query : int, default=10, 10
        Support and query rows an episode, of one task.
    {meta_training}
    inner_lr : float, default=0.02
        Inner-loop step.
    inner_steps : int, default=5
    adapt_steps : int, default=None
        Inner steps at adaptation (``inner_steps`` when None).
    n_support : int, default=20
        Rows of the fit data (drawn from all tasks together) that ``predict``
        adapts on after ``fit``.
    {transductive}
    validation_fraction : float or "auto", default="auto"
        Fraction of the tasks (``tasks=`` is then needed) held out of
        meta-training; when positive, minus the mean squared error (of the
        standardised targets) over 20 fixed episodes on them is measured ten times
        in fit (``validation_scores_``), shown with ``verbose``, compared with a
        ``Ridge``'s on the same episodes (a warning when it does better) and used by
        ``early_stopping``.  ``"auto"``: 0.2 (at least 2 tasks) when ``tasks=``
        gives at least 6, else 0.
    {early_stopping}
    random_state : int, RandomState instance or None, default=None
    device : str, default="auto"
    verbose : int, default=0
        Print the episode count, the query loss and (with ``validation_fraction``)
        the validation MSE ten times in fit.

    Attributes
    ----------
    module_ : torch.nn.Module
        The meta-trained backbone.
    loss_curve_ : list of float
        Query loss (mean squared error of the standardised targets) of each
        meta-update.
    n_iter_ : int
        Episodes run (fewer than ``n_episodes`` when early stopping stopped).
    validation_scores_ : list of float
        Minus the episodic mean squared error on the held-out tasks at each report
        (empty when ``validation_fraction=0``).
    plain_validation_score_ : float or None
        Minus the mean squared error on the same validation episodes of a
        ``Ridge`` fitted on each support set (None without validation episodes).
    callbacks_ : list of Callback
        The copies of ``callbacks`` that the last fit notified.
    regressor_ : AdaptedRegressor
        What ``predict`` uses: the meta-learner adapted on ``n_support`` rows of
        the fit data, made at its first use (not in ``fit``), then cached.

    See Also
    --------
    MetaLearnerClassifier : The same algorithms, and prototypical networks, for
        few-shot classification.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.meta import MetaLearnerRegressor
    >>> rng = np.random.RandomState(0)
    >>> amplitude, phase = rng.uniform(0.1, 5, 100), rng.uniform(0, np.pi, 100)
    >>> tasks = np.repeat(np.arange(100), 20)  # 100 sinusoids, 20 points each
    >>> X = rng.uniform(-5, 5, (2000, 1))
    >>> y = amplitude[tasks] * np.sin(X[:, 0] - phase[tasks])
    >>> meta = MetaLearnerRegressor(n_episodes=600, learning_rate=1e-2, random_state=0)
    >>> meta = meta.fit(X, y, tasks=tasks)
    >>> x = rng.uniform(-5, 5, (10, 1))  # ten points of a new sinusoid
    >>> reg = meta.adapt(x, 3 * np.sin(x[:, 0] - 1))
    >>> grid = np.linspace(-5, 5, 50)[:, None]
    >>> bool(reg.score(grid, 3 * np.sin(grid[:, 0] - 1)) > 0.5)  # R², 0.05 untrained
    True
    """

    __doc__ = shared_doc(__doc__)
    _loss = staticmethod(squared_error)
    _parameter_constraints = {
        **_MetaLearner._parameter_constraints,
        "algorithm": [StrOptions(set(GRADIENT_BASED))],
        "backbone": [StrOptions({"mlp"}), torch.nn.Module],
    }

    def __init__(self, algorithm="maml", backbone="mlp", *, hidden_layer_sizes=(40, 40),
                 k_shot=10, n_query=10, n_episodes=1000, meta_batch_size=4,
                 learning_rate=1e-3, learning_rate_schedule="constant", meta_optimizer="adam",
                 inner_lr=0.02, inner_steps=5, adapt_steps=None, n_support=20,
                 transductive=False, validation_fraction="auto", early_stopping="auto",
                 n_iter_no_change=3, callbacks=None, random_state=None, device="auto",
                 verbose=0):
        init_params(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # predict after fit adapts on n_support rows in a few gradient steps
        tags.regressor_tags.poor_score = True
        return tags

    @staticmethod
    def _n_out(ys):
        return 1

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, tasks=None):
        """Meta-train on episodes drawn within the tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        tasks : array-like of shape (n_samples,), default=None
            The task of each row; an episode draws its rows within one task.
            None: all rows are one task.

        Returns
        -------
        self : object
        """
        self._check_settings()
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=True)
        tasks = self._check_tasks(tasks, X.shape[0])
        names, counts = np.unique(np.zeros(len(X)) if tasks is None else tasks,
                                  return_counts=True)
        need, few = self.k_shot + self.n_query, int(counts.argmin())
        if counts[few] < need:
            where = "X (one task: no tasks given)" if tasks is None else \
                f"Task {names[few].tolist()!r}"
            raise ValueError(
                f"{where} has {counts[few]} sample{'' if counts[few] == 1 else 's'}; "
                f"meta-training needs at least k_shot + n_query = {need} of every task.")
        y = y.astype(np.float64)
        self._y_mean, self._y_scale = float(y.mean()), float(y.std()) or 1.0
        seed, standard = self._seed(), self._standardize(y)
        train, val = self._validation(tasks, standard, seed)
        sampler = EpisodeSampler(standard[train], None, self.k_shot, self.n_query,
                                 groups=None if tasks is None else tasks[train],
                                 random_state=seed)
        self.validation_scores_ = self._fit_network(X, (X.shape[1],), seed, sampler,
                                                    np.arange(len(X))[train], val)
        support = np.random.RandomState(seed).permutation(len(X))[: self.n_support]
        self._defer_fit_model(X[support], y[support])
        return self

    @property
    def regressor_(self):
        """The :class:`AdaptedRegressor` behind ``predict``: adapted on
        ``n_support`` rows of the fit data at its first use, not in ``fit``, then
        cached."""
        return self._fit_model()

    def _validation(self, tasks, y, seed):
        """Rows of meta-training and fixed validation episodes on held-out tasks."""
        if self.validation_fraction not in (0, "auto") and tasks is None:
            raise ValueError("validation_fraction holds out whole tasks: pass tasks= "
                             "(at least 2 tasks).")

        def make_sampler(rows, rng):
            return EpisodeSampler(y[rows], None, self.k_shot, self.n_query,
                                  groups=tasks[rows], random_state=rng)

        return self._split_validation(tasks, seed, make_sampler,
                                      lambda held: not held.all(), "tasks")

    _advice = "fewer n_episodes or another inner_lr"

    @staticmethod
    def _plain_model():
        return Ridge()

    @staticmethod
    def _plain_score(pred, yq):
        return -float(np.mean((pred - yq) ** 2))

    @staticmethod
    def _episode_score(out, yq):
        return -float(np.mean((out[:, 0].double().cpu().numpy() - yq) ** 2))

    @staticmethod
    def _score_text(score):
        return f"val mse {-score:.4f}"

    def _standardize(self, y):
        return ((y - self._y_mean) / self._y_scale).astype(np.float32)

    def adapt(self, X_support, y_support):
        """A regressor for a new task from a few rows; the meta-learner is left untouched.

        Parameters
        ----------
        X_support : array-like of shape (n_shots, n_features)
        y_support : array-like of shape (n_shots,)

        Returns
        -------
        AdaptedRegressor
            Fitted: ``predict``, ``score`` (R²).
        """
        check_is_fitted(self, "module_")
        X, _ = self._inputs(X_support, reset=False)
        y = column_or_1d(check_array(y_support, ensure_2d=False, dtype=np.float64,
                                     input_name="y_support"))
        check_consistent_length(X, y)
        return self._adapt(X, y)

    def _adapt(self, X, y):
        net, state = self._adapt_state(X, self._standardize(y), 1)
        return AdaptedRegressor(self, net, state, self._y_mean, self._y_scale)

    def predict(self, X):
        """Predict with the network adapted on ``n_support`` rows of the fit data."""
        check_is_fitted(self, "module_")
        return self.regressor_.predict(X)


class AdaptedRegressor(RegressorMixin, _Adapted):
    """A fitted regressor for one task, made by :meth:`MetaLearnerRegressor.adapt`.

    It holds the task's fast weights and head next to a copy of the meta-learned
    network; the meta-learner itself is untouched.  It is already fitted and is
    not meant to be cloned or refitted: adapt the meta-learner again for another
    support set.
    """

    def __init__(self, meta, net, state, y_mean, y_scale):
        super().__init__(meta, net, state)
        self._y_mean, self._y_scale = y_mean, y_scale

    def predict(self, X):
        """Predictions for the task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        out = self._outputs(X, lambda out: out[:, 0].double().cpu().numpy())
        return out * self._y_scale + self._y_mean
