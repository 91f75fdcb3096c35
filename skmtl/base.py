"""What every skmtl estimator shares: the task formats at predict time, tags, score."""

import functools
import inspect

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._tasks import encode_tasks, task_rows


def init_params(est, values):
    """Set each ``__init__`` argument in ``values`` (its ``locals()``) as an attribute
    of the same name, unchanged, as scikit-learn expects of ``__init__``."""
    for name, value in values.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def _same(a, b):
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return tuple(a) == tuple(b)
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(np.all(a == b))
    except Exception:  # noqa: BLE001 - e.g. objects whose == raises
        return False


@functools.cache
def _param_names(cls):
    """scikit-learn's parameter names of ``cls`` (sorted), read from its
    ``__init__`` signature once a class rather than at every ``get_params``."""
    return tuple(BaseEstimator._get_param_names.__func__(cls))


@functools.cache
def init_defaults(cls):
    """``{name: default}`` of ``cls.__init__``'s parameters, read once a class."""
    return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
            if k != "self"}


def refuse_unused(est, used, where, users):
    """Raise a ValueError naming the first parameter of ``est`` set away from its
    ``__init__`` default that is not in ``used`` (the parameters its configuration
    reads): ``where`` names that configuration, ``users(name)`` the setting that
    reads ``name``."""
    defaults = init_defaults(type(est))
    for name, value in est.get_params(deep=False).items():
        if name in used or _same(value, defaults.get(name, value)):
            continue
        raise ValueError(
            f"{name}={value!r} has no effect on {where}: it is a parameter of "
            f"{users(name)}.  Leave {name} at its default ({defaults[name]!r}) or "
            "choose that setting.")


class Engine:
    """A configuration behind a front-door estimator: its parameters, fit, outputs.

    A subclass declares ``name`` and ``setting`` (how a user selects it, for
    messages), ``params`` (the estimator parameters it reads), ``conditions``
    (those read only under another setting: name -> (test of the estimator, that
    setting)), ``attributes`` (the fitted attributes it sets) and ``network``
    (whether it is a network: lazy X, no sums of squares), and implements ``fit``
    and ``outputs(est, X, cols)``.  ``selects``: parameters whose values pick this
    engine (accepted, not listed as its own).
    """

    name = setting = ""
    params = attributes = selects = ()
    conditions = {}
    network = False

    @classmethod
    def uses(cls, est):
        """The parameters of ``est`` this engine reads, given its other settings."""
        return {p for p in cls.params
                if p not in cls.conditions or cls.conditions[p][0](est)} | set(cls.selects)


class MultiTaskMixin:
    """Mixin for estimators that take tasks as a 2-D Y or as ``tasks=`` ids.

    After ``fit`` the estimator has ``tasks_`` (long format: the task labels seen,
    sorted; wide format: ``None``) and ``n_tasks_``.  ``tasks`` is requested by
    default in ``fit``, ``predict`` and ``score`` when metadata routing is enabled.
    """

    __metadata_request__fit = {"tasks": True}
    __metadata_request__predict = {"tasks": True}
    __metadata_request__score = {"tasks": True}
    __metadata_request__partial_fit = {"tasks": True}

    @classmethod
    def _get_param_names(cls):
        # scikit-learn reads the signature at each get_params (four a fit) and
        # clone: here once a class (a small fit took 0.15 ms of its 0.56 on it)
        return list(_param_names(cls))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.sparse = True
        return tags

    def _task_codes(self, tasks, n_samples):
        """Task index of each row at predict time (None in wide format); with
        ``unknown_task="shared"``, ``n_tasks_`` for a task not seen in fit."""
        check_is_fitted(self)
        if self.tasks_ is None:
            if tasks is not None:
                raise ValueError(
                    "tasks were given at predict but not at fit: this model was fit on "
                    "a 2-D Y (or a single task); pass no tasks, or refit with tasks=."
                )
            return None
        if tasks is None:
            raise ValueError(
                "This model was fit with tasks= (long format): pass tasks= to "
                "predict/score too, one task label per row.  Inside a Pipeline, "
                "tasks reach this step only with metadata routing on: "
                "sklearn.set_config(enable_metadata_routing=True).  In GridSearchCV "
                "or cross_validate, a named scorer such as scoring='r2' never passes "
                "tasks to predict: use skmtl.metrics.make_task_scorer."
            )
        return encode_tasks(self.tasks_, tasks, n_samples,
                            getattr(self, "unknown_task", "error"))

    def _assemble(self, per_task, codes, n_samples):
        """Put per-task outputs back in row order.

        ``per_task(t, rows)`` returns task ``t``'s output on ``rows`` (``rows`` is
        None for all rows).  Wide format: a list over tasks; long: one array.
        """
        if codes is None:
            return [per_task(t, None) for t in range(self.n_tasks_)]
        out = None
        for t, rows in task_rows(codes, self.n_tasks_):
            part = per_task(t, rows)
            if out is None:
                out = np.empty((n_samples,) + part.shape[1:], dtype=part.dtype)
            elif part.dtype != out.dtype:
                out = out.astype(np.result_type(out.dtype, part.dtype))
            out[rows] = part
        return out
