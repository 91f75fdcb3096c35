"""Task labels that are missing or of the wrong kind: messages that name the rows
and say what to do (issue 16, item 13).  Self-contained: the estimators are built
here, the data made up."""

import numpy as np
import pandas as pd
import pytest

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl._tasks import encode_tasks, plain_label, split_tasks

try:
    import torch  # noqa: F401
except ImportError:
    BACKENDS = ["numpy"]
else:
    BACKENDS = ["numpy", "torch"]

RNG = np.random.RandomState(0)
X = RNG.randn(12, 3)
Y = RNG.randn(12)
LABELS = np.array(list("aaaabbbbcccc"))


def _estimators(backend):
    extra = {"max_epochs": 2} if backend == "torch" else {}
    return [MultiTaskRegressor(backend=backend, **extra),
            MultiTaskClassifier(backend=backend, **extra)]


def _target(est):
    return (Y > 0).astype(int) if isinstance(est, MultiTaskClassifier) else Y


MISSING = {
    "pandas NA, string dtype": lambda t: pd.array(list(t[:-1]) + [pd.NA], dtype="string"),
    "pandas NA, object Series": lambda t: pd.Series(list(t[:-1]) + [pd.NA], dtype=object),
    "None": lambda t: np.array(list(t[:-1]) + [None], dtype=object),
    "NaN in float tasks": lambda t: np.r_[np.searchsorted(np.unique(t), t[:-1]), np.nan],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(MISSING))
def test_a_missing_task_label_in_fit_names_its_row(backend, kind):
    """Was "boolean value of NA is ambiguous" (pd.NA) or "Input tasks contains NaN"."""
    tasks = MISSING[kind](LABELS)
    for est in _estimators(backend):
        with pytest.raises(ValueError, match=r"missing task label .* at row 11 of 12: "
                                             r"drop those rows, or give them a task label"):
            est.fit(X, _target(est), tasks=tasks)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(MISSING))
def test_a_missing_task_label_at_predict_names_its_row_and_the_fitted_tasks(backend, kind):
    for est in _estimators(backend):
        numeric = kind.startswith("NaN")
        fit_tasks = np.searchsorted(np.unique(LABELS), LABELS) * 1.0 if numeric else LABELS
        est.fit(X, _target(est), tasks=fit_tasks)
        tasks = MISSING[kind](fit_tasks[-4:])  # rows 0-2 of task c, row 3 missing
        expected = "0.0, 1.0, 2.0" if numeric else "'a', 'b', 'c'"
        with pytest.raises(ValueError, match=(
                rf"missing task label .* at row 3 of 4: predict needs one of the fitted "
                rf"tasks \(tasks_: {expected}\) for every row")):
            est.predict(X[-4:], tasks=tasks)


def test_many_missing_rows_are_listed_up_to_five():
    tasks = np.array(["a"] * 4 + [None] * 8, dtype=object)
    with pytest.raises(ValueError, match=r"at rows 4, 5, 6, 7, 8 and 3 more of 12"):
        MultiTaskRegressor().fit(X, Y, tasks=tasks)


def test_task_names_print_as_plain_values_not_numpy_scalars():
    """``np.str_('a')`` / ``np.int64(3)`` never reach a message."""
    assert plain_label(np.str_("a")) == "a" and type(plain_label(np.str_("a"))) is str
    assert type(plain_label(np.int64(3))) is int and plain_label("b") == "b"
    table = split_tasks(X, Y, LABELS)
    assert table.names == ["a", "b", "c"] and all(type(v) is str for v in table.names)
    assert [table.name(t) for t in range(3)] == ["'a'", "'b'", "'c'"]
    wide = split_tasks(X, np.column_stack([Y, Y]))
    assert wide.names == [0, 1] and wide.name(1) == "column 1"
    assert split_tasks(X, Y).name(0) == "0"
    ints = split_tasks(X, Y, np.repeat([3, 5, 7], 4))
    assert ints.names == [3, 5, 7] and type(ints.names[0]) is int and ints.name(0) == "3"
    with pytest.raises(ValueError, match=r"Unknown task\(s\) 'z'") as info:
        encode_tasks(np.unique(LABELS), np.array(["z", "a"]), 2)
    assert "np." not in str(info.value)


def test_unknown_tasks_at_predict_are_named_with_the_fitted_ones():
    est = MultiTaskRegressor().fit(X, Y, tasks=np.repeat([3, 5, 7], 4))
    with pytest.raises(ValueError, match=r"Unknown task\(s\) 'a', 'b': not seen in fit "
                                         r"\(tasks_: 3, 5, 7\)"):
        est.predict(X[:2], tasks=np.array(["a", "b"]))


def test_predict_tasks_of_another_type_than_in_fit_says_which():
    tasks = np.repeat(np.array([3, 5, 7], dtype=object), 4)  # object labels: no casting
    est = MultiTaskRegressor().fit(X, Y, tasks=tasks)
    with pytest.raises(ValueError, match=r"tasks given to predict are of type object \('a', "
                                         r"\.\.\.\), unlike the tasks seen in fit \(tasks_: "
                                         r"object, 3, \.\.\.\): give the task labels used"):
        est.predict(X[:2], tasks=np.array(["a", "b"], dtype=object))
