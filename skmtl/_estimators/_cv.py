"""The cross-validated estimators, MultiTaskRegressorCV and MultiTaskClassifierCV.

They run the regularization path (``_path.py``) on every fold (``n_jobs`` through
joblib), pick ``alpha`` and the penalty (the second hyperparameter is a list of
penalty objects) by the mean validation score, then refit on all the data.
``_CVMixin`` holds that search, ``_fold_path`` one fold's path; the default
metrics are the mean over tasks of each task's weighted mean.
"""

import inspect
import numbers
import warnings

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_sample_weight, check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed  # joblib's, carrying sklearn's config

from .._search_guard import check_search_scorer
from .._tasks import is_missing, plain_label
from ..base import init_params
from ..model_selection import TaskKFold
from ..linear._engine import LinearEngine
from ..linear._path import PathProgress, _grid, _iter_path, check_alphas, solve_threads
from ..linear._penalties import Penalty
from ..linear._registry import PENALTIES, get_penalty
from ._classifier import MultiTaskClassifier
from ._params import FRONT_CONSTRAINTS, LINEAR_CONSTRAINTS
from ._regressor import MultiTaskRegressor

__all__ = ["MultiTaskRegressorCV", "MultiTaskClassifierCV"]


_EXTENSIONS = 3  # decades an automatic grid may grow past an edge


def _check_folds(splits, y, tasks):
    """Every training fold keeps at least 2 labelled rows of every task; else a
    message with the data's counts (not a fold's), and what to change."""
    if tasks is not None:
        labels, codes = np.unique(tasks, return_inverse=True)
        names = [repr(plain_label(v)) for v in labels]
        present = np.ones(codes.size, dtype=bool)
    else:
        Y = y.reshape(len(y), -1)
        present = ~is_missing(Y)
        names = ["0"] if y.ndim == 1 else [f"column {t}" for t in range(Y.shape[1])]
    for k, (train, _) in enumerate(splits):
        if tasks is not None:
            kept = np.bincount(codes[train], minlength=len(labels))
            total = np.bincount(codes, minlength=len(labels))
        else:
            kept, total = present[train].sum(axis=0), present.sum(axis=0)
        short = np.flatnonzero(kept < 2)
        if short.size:
            t = short[0]
            raise ValueError(
                f"Task {names[t]} has {total[t]} labelled rows in all, and training "
                f"fold {k + 1} of {len(splits)} keeps {kept[t]} of them (a fit needs at "
                "least 2): use fewer folds (cv=), or give that task more rows.")


def _take(a, rows):
    return None if a is None else _safe_indexing(a, rows)


def _per_task_mean(values, missing, tasks, sw):
    """Mean over tasks of each task's weighted mean of ``values`` (vectorised)."""
    w = np.ones(values.shape[0]) if sw is None else np.asarray(sw, dtype=float)
    if tasks is not None:
        _, codes = np.unique(tasks, return_inverse=True)
        return float(np.mean(np.bincount(codes, w * values) / np.bincount(codes, w)))
    W = (w[:, None] if values.ndim == 2 else w) * ~missing
    num = (W * np.where(missing, 0.0, values)).sum(axis=0)
    return float(np.mean(num / W.sum(axis=0)))


def _mean_task_mse(est, X, y, tasks, sw):
    y = np.asarray(y, dtype=float)
    missing = np.isnan(y)
    err = (np.where(missing, 0.0, y) - est.predict(X, tasks=tasks)) ** 2
    return _per_task_mean(err, missing, tasks, sw)


def _mean_task_accuracy(est, X, y, tasks, sw):
    y = np.asarray(y)
    missing = is_missing(y)
    return _per_task_mean((y == est.predict(X, tasks=tasks)).astype(float), missing,
                          tasks, sw)


class _Scored:
    """A scorer ``scoring(estimator, X, y, tasks=..., sample_weight=...)`` as a metric."""

    def __init__(self, scoring):
        self.scoring = scoring

    def __call__(self, est, X, y, tasks, sw):
        kwargs = {} if tasks is None else {"tasks": tasks}
        if sw is not None:
            kwargs["sample_weight"] = sw
        return self.scoring(est, X, y, **kwargs)


def _fold_path(base, metric, X, y, tasks, sw, penalty, alphas, train, test):
    """Validation scores along the path fitted on one fold's training rows."""
    est = clone(base)
    scores, not_converged = [], 0
    held_out = [_take(a, test) for a in (X, y, tasks, sw)]  # once, not at every alpha
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for _ in _iter_path(est, _take(X, train), _take(y, train), _take(tasks, train),
                            _take(sw, train), penalty, alphas, structure=False):
            scores.append(metric(est, *held_out))
            not_converged += any(issubclass(w.category, ConvergenceWarning) for w in caught)
            caught.clear()
    for w in caught:  # anything else goes on to the caller
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return np.array(scores), not_converged


class _CVMixin:
    """Cross-validation along the path; shared by the two CV estimators."""

    _cv_constraints = {
        **{k: v for k, v in LINEAR_CONSTRAINTS.items() if k not in ("alpha", "warm_start")},
        **FRONT_CONSTRAINTS,
        "penalty": [StrOptions(set(PENALTIES)), Penalty, list, tuple],
        "alphas": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "eps": [Interval(numbers.Real, 0, 1, closed="neither")],
        "cv": ["cv_object"],
        "n_jobs": [numbers.Integral, None],
        "scoring": [callable, None],
    }

    _own_params = ("alphas", "eps", "cv", "n_jobs", "scoring")

    def _backend(self):
        return "numpy"  # paths are a numpy-backend feature

    def _engine_class(self, network=None):
        return LinearEngine

    def _base(self):
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k in self._base_class()._get_param_names()}
        return self._base_class()(**params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, tasks=None):
        """Choose alpha and the penalty by cross-validation, then refit on all data.

        Parameters are those of the base estimator's ``fit``.

        Returns
        -------
        self : object
        """
        check_search_scorer(self, y, tasks)
        penalties = list(self.penalty) if isinstance(self.penalty, (list, tuple)) \
            else [self.penalty]
        base = self._base().set_params(verbose=max(self.verbose - 1, 0))  # per alpha
        if y is None:
            raise ValueError(
                "This estimator requires y to be passed, but the target y is None.")
        Xa = check_array(X, accept_sparse="csr", dtype=np.float64, input_name="X",
                         estimator=self)
        ya = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=False,
                         input_name="y", estimator=self)
        ta = None if tasks is None else np.asarray(tasks)
        sw = None if sample_weight is None else _check_sample_weight(
            sample_weight, Xa, ensure_non_negative=True)  # a scalar: one weight each
        if not isinstance(self.alphas, numbers.Integral):
            check_alphas(self.alphas)  # before any fit
        grids = [_grid(clone(base)._prepare(Xa, ya, ta, sw, pen), self.alphas, self.eps)
                 for pen in penalties]
        splits = self._splits(Xa, ya, ta)
        _check_folds(splits, ya, ta)
        metric, lower = self._metric, self._lower_is_better
        if self.scoring is not None:  # e.g. make_task_scorer(roc_auc_score, ...)
            metric, lower = _Scored(self.scoring), False
        progress = PathProgress(type(self).__name__, self.verbose, lower,
                                "score" if self.scoring is not None else self._score_name)
        path, not_converged = self._cv_path(base, metric, (Xa, ya, ta, sw), penalties,
                                            grids, splits, progress)
        if isinstance(self.alphas, numbers.Integral) and len(penalties) == 1:
            grids, path, extra = self._extend(base, metric, (Xa, ya, ta, sw),
                                              penalties[0], grids[0], path, splits,
                                              progress)
            not_converged += extra
        if not_converged:  # one warning for the whole search, not one a fit
            warnings.warn(
                f"{not_converged} of {sum(len(g) for g in grids) * len(splits)} path fits "
                "in cross-validation stopped at max_iter before reaching tol; their "
                "validation scores may be off.  Increase max_iter or tol, or use "
                "larger alphas (eps).", ConvergenceWarning)
        mean = path.mean(axis=2)
        k, j = np.unravel_index(
            np.argmin(mean) if lower else np.argmax(mean), mean.shape)
        self.penalty_, self.alpha_ = penalties[k], float(grids[k][j])
        if isinstance(self.alphas, numbers.Integral) and j == len(grids[k]) - 1 > 0:
            grown = f", grown {_EXTENSIONS} decades down" if len(penalties) == 1 else ""
            warnings.warn(
                f"The best alpha ({self.alpha_:.3g}) is the smallest of the grid "
                f"(eps={self.eps}{grown}): the optimum may lie below it; lower eps or "
                "pass alphas.", UserWarning)
        squeeze = len(penalties) == 1
        self.alphas_ = grids[0] if squeeze else np.array(grids)
        setattr(self, self._path_name, path[0] if squeeze else path)
        problem = self._prepare(X, y, tasks, sample_weight, self.penalty_)
        V, b = problem.start()
        params = dict(self._solver_params(), verbose=max(self.verbose - 1, 0))
        with solve_threads(problem):
            self._store(problem, *problem.solve(self.alpha_, V, b, **params))
        progress.note(f"refit on all the data at alpha {self.alpha_:.3g}"
                      f"{'' if squeeze else f', penalty {self.penalty_!r}'}")
        return self

    def _cv_path(self, base, metric, data, penalties, grids, splits, progress):
        """Validation scores (n_penalties, n_alphas, n_folds) along each penalty's
        grid, a path a fold (in parallel), and how many fits did not converge.
        ``progress`` prints a line as each fold's path comes back."""
        jobs = [(k, f) for k in range(len(penalties)) for f in range(len(splits))]
        results = []
        calls = [delayed(_fold_path)(base, metric, *data, penalties[k], grids[k], *splits[f])
                 for k, f in jobs]
        try:  # each fold's line as it comes back (ray's joblib backend: all at once)
            paths = Parallel(n_jobs=self.n_jobs, return_as="generator")(calls)
        except ValueError:
            paths = Parallel(n_jobs=self.n_jobs)(calls)
        for (k, f), result in zip(jobs, paths):
            results.append(result)
            label = f"penalty {k + 1}/{len(penalties)} {penalties[k]!r}, " \
                if len(penalties) > 1 else ""
            progress.fold(label, f, len(splits), grids[k],
                          [scores for (kk, _), (scores, _) in zip(jobs, results) if kk == k])
        path = np.array([scores for scores, _ in results]).reshape(
            len(penalties), len(splits), -1)
        return path.transpose(0, 2, 1), sum(n for _, n in results)

    def _extend(self, base, metric, data, penalty, grid, path, splits, progress):
        """The automatic grid, extended a decade at a time (up to ``_EXTENSIONS``)
        past an edge where the best alpha lies: below the smallest alpha, and above
        the largest for a penalty that never zeroes the model (mean, graph, l2 ...).
        Returns the grids, the path and the extra fits that did not converge."""
        per_decade = max(2, int(np.ceil(len(grid) / max(np.log10(1 / self.eps), 1))))
        shrinks_to_zero = get_penalty(penalty).is_norm
        extra, lower = 0, progress.lower
        for _ in range(_EXTENSIONS):
            mean = path[0].mean(axis=1)
            j = int(np.argmin(mean) if lower else np.argmax(mean))
            if j == len(grid) - 1:
                new = grid[-1] * np.geomspace(1, 0.1, per_decade + 1)[1:]
            elif j == 0 and not shrinks_to_zero:
                new = grid[0] * np.geomspace(10, 1, per_decade + 1)[:-1]
            else:
                break
            progress.note(f"best alpha {grid[j]:.3g} at the grid's edge: {len(new)} more "
                          f"alphas {'below' if j else 'above'} it")
            scores, bad = self._cv_path(base, metric, data, [penalty], [new], splits,
                                        progress)
            extra += bad
            below = new[0] < grid[-1]
            grid = np.concatenate([grid, new] if below else [new, grid])
            path = np.concatenate([path, scores] if below else [scores, path], axis=1)
        return [grid], path, extra

    def _splits(self, X, y, tasks):
        """The folds: ``cv`` as given, or stratified by task (and class)."""
        if self.cv is not None and not isinstance(self.cv, numbers.Integral):
            cv = check_cv(self.cv)
            takes_tasks = "tasks" in inspect.signature(cv.split).parameters
            if takes_tasks and tasks is not None:  # a task-aware splitter: TaskKFold
                return list(cv.split(X, y, tasks=tasks))
            return list(cv.split(X, y))
        n_splits = 5 if self.cv is None else self.cv
        if self._classifier and y.ndim == 1:  # every class of every task in every fold
            _, key = np.unique(y, return_inverse=True)
            if tasks is not None:
                _, task_codes = np.unique(tasks, return_inverse=True)
                key = task_codes * (key.max() + 1) + key
            return list(StratifiedKFold(n_splits).split(X, key))
        return list(TaskKFold(n_splits).split(X, y, tasks=tasks))


def _cv_doc(base_name, path_doc):
    return f"""{base_name} with alpha (and the penalty) chosen by cross-validation.

    The path of ``alphas`` values from ``alpha_max`` down is fitted with warm
    starts on every fold; the alpha with the best mean validation score is refitted
    on all the data.  Give ``penalty`` a list (e.g. ``[Dirty(l1_ratio=r) for r in
    (0.2, 0.3, 0.4)]``) to choose the penalty's own parameter too.

    Parameters
    ----------
    penalty : str, Penalty or list of them, default="l21"
    alphas : int or array-like, default=100
        Grid of alphas, or its size: that many values from ``alpha_max`` to
        ``eps * alpha_max``, computed on all the data (scikit-learn 1.9's
        convention).  With one penalty, an automatic grid grows a decade at a time
        (up to 3) past an edge where the best alpha lies: below its smallest value,
        or above its largest for a penalty that never zeroes the model (``"mean"``,
        ``"graph"``, ``"l2"``...); ``alphas_`` and the path attribute hold the grown grid.
    eps : float, default=1e-3
    cv : int, cross-validation generator or iterable, default=None
        ``None`` or an int: that many folds (5 by default) stratified by task, as
        :class:`~skmtl.model_selection.TaskKFold` does (and, for the classifier, by
        class within each task), so every task is in every training fold.
    n_jobs : int, default=None
        Folds (and penalties) fitted in parallel through joblib.
    scoring : callable, default=None
        A task-aware scorer, e.g. ``skmtl.metrics.make_task_scorer(roc_auc_score,
        response_method="predict_proba")`` (greater is better; its values are
        stored in the path attribute); ``None``: the default metric below.
    {"loss, class_weight, " if base_name == "MultiTaskClassifier" else ""}fit_intercept, solver, \
{"" if base_name == "MultiTaskClassifier" else "precompute, "}max_iter, tol, verbose
        As in :class:`~skmtl.{base_name}`.

    Attributes
    ----------
    alpha_ : float
    penalty_ : str or Penalty
    alphas_ : ndarray of shape (n_alphas,) or (n_penalties, n_alphas)
    {path_doc}
    coef_, intercept_, tasks_, n_tasks_, n_iter_, dual_gap_
        Of the model refitted on all data, as in :class:`{base_name}`.
    """


class MultiTaskRegressorCV(_CVMixin, MultiTaskRegressor):
    __doc__ = _cv_doc("MultiTaskRegressor", """mse_path_ : ndarray of shape (n_alphas, n_folds) or (n_penalties, n_alphas, n_folds)
        Validation error: the mean over tasks of each task's mean squared error.""") + """
    Examples
    --------
    >>> import numpy as np
    >>> from skmtl import MultiTaskRegressorCV
    >>> rng = np.random.RandomState(0)
    >>> X, tasks = rng.randn(120, 6), np.repeat([0, 1, 2], 40)
    >>> y = X[:, 0] - X[:, 1] + 0.1 * rng.randn(120)
    >>> model = MultiTaskRegressorCV(alphas=10, cv=3).fit(X, y, tasks=tasks)
    >>> model.mse_path_.shape
    (10, 3)
    >>> bool(model.score(X, y, tasks=tasks) > 0.95)
    True
    """

    _base_class = staticmethod(lambda: MultiTaskRegressor)
    _lower_is_better = True
    _path_name = "mse_path_"
    _score_name = "mse"
    _parameter_constraints = {
        **_CVMixin._cv_constraints,
    }

    def __init__(self, penalty="l21", *, alphas=100, eps=1e-3, cv=None, n_jobs=None,
                 fit_intercept=True, positive=False, solver="auto", precompute="auto",
                 max_iter=1000, tol=1e-4, verbose=0, scoring=None, unknown_task="error"):
        init_params(self, locals())

    _metric = staticmethod(_mean_task_mse)


class MultiTaskClassifierCV(_CVMixin, MultiTaskClassifier):
    __doc__ = _cv_doc("MultiTaskClassifier", """scores_path_ : ndarray of shape (n_alphas, n_folds) or (n_penalties, n_alphas, n_folds)
        Validation score: the mean over tasks of each task's accuracy.""") + """
    Examples
    --------
    >>> import numpy as np
    >>> from skmtl import MultiTaskClassifierCV
    >>> rng = np.random.RandomState(0)
    >>> X, tasks = rng.randn(150, 4), np.repeat(["a", "b", "c"], 50)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = MultiTaskClassifierCV(alphas=5, cv=3).fit(X, y, tasks=tasks)
    >>> clf.scores_path_.shape
    (5, 3)
    """

    _base_class = staticmethod(lambda: MultiTaskClassifier)
    _lower_is_better = False
    _path_name = "scores_path_"
    _score_name = "accuracy"
    _parameter_constraints = {
        **{k: v for k, v in _CVMixin._cv_constraints.items() if k != "precompute"},
        "loss": MultiTaskClassifier._parameter_constraints["loss"],
        "class_weight": MultiTaskClassifier._parameter_constraints["class_weight"],
    }

    _own_params = _CVMixin._own_params + ("class_weight",)

    def __init__(self, penalty="l21", *, loss="logistic", alphas=100, eps=1e-3, cv=None,
                 n_jobs=None, fit_intercept=True, positive=False, solver="auto",
                 max_iter=1000, tol=1e-4, verbose=0, scoring=None, class_weight=None,
                 unknown_task="error"):
        init_params(self, locals())

    _metric = staticmethod(_mean_task_accuracy)
