"""The bad-input matrix: every public estimator against every kind of bad input.

Each case ends in a ``ValueError``/``TypeError`` whose message names the problem, or
in a result that is checked.  One table of cases (functions registered with
:func:`case`) times one table of estimators; a case lists the estimators it does not
apply to (the meta-learner has no task formats) rather than skipping at run time.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier

from skmtl import (
    MultiTaskClassifier,
    MultiTaskClassifierCV,
    MultiTaskRegressor,
    MultiTaskRegressorCV,
)

try:
    import torch
except ImportError:  # the torch backend is an optional extra: its estimators skip
    torch = None

NET = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, learning_rate=1e-2)
NAMES = ["reg", "clf", "reg-torch", "clf-torch", "reg-torch-linear", "reg-cv", "clf-cv",
         "mixed", "meta"]
ESTIMATORS = {
    "reg": MultiTaskRegressor(alpha=0.1),
    "clf": MultiTaskClassifier(alpha=0.1),
    "reg-cv": MultiTaskRegressorCV(alphas=3, cv=2),
    "clf-cv": MultiTaskClassifierCV(alphas=3, cv=2),
}
NUMPY = set(ESTIMATORS)
NETWORKS = {"reg-torch", "clf-torch", "mixed", "meta"}
if torch is not None:  # without torch, the cases of these estimators skip
    from skmtl import MultiTaskEstimator
    from skmtl.meta import MetaLearnerClassifier

    ESTIMATORS.update({
        "reg-torch": MultiTaskRegressor(backend="torch", **NET),
        "clf-torch": MultiTaskClassifier(backend="torch", **NET),
        "reg-torch-linear": MultiTaskRegressor(backend="torch", hidden_layer_sizes=(),
                                               alpha=0.1),
        "mixed": MultiTaskEstimator(**NET),
        "meta": MetaLearnerClassifier(n_way=2, k_shot=1, n_query=1, n_episodes=4,
                                      hidden_layer_sizes=(8,), random_state=0),
    })
assert set(ESTIMATORS) == set(NAMES) or torch is None
NEEDS_TORCH = pytest.mark.skip(reason="needs pip install 'skmtl[torch]'")

N = 42
_rng = np.random.RandomState(0)
X = _rng.randn(N, 3)
TASKS = np.repeat(["a", "b"], N // 2)
Y_REG = X @ [1.0, -2.0, 0.5] + 0.1 * _rng.randn(N)
Y_CLF = np.arange(N) % 3  # three classes in each task, 7 rows each


def _y(name):
    est = ESTIMATORS[name]
    return Y_CLF if is_classifier(est) or name == "mixed" else Y_REG


def _fit(name, X=X, y=None, tasks=TASKS, **kwargs):
    est = clone(ESTIMATORS[name])
    y = _y(name) if y is None else y
    if tasks is not None:
        kwargs["tasks"] = tasks
    return est.fit(X, y, **kwargs)


def _predict(name, est, X=X, tasks=TASKS):
    if name == "meta" or tasks is None:  # the meta-learner takes no tasks at predict
        return est.predict(X)
    return est.predict(X, tasks=tasks)


CASES = {}


def case(*, exclude=(), xfail=None):
    """Register a case; ``xfail``: {estimator: reason} for known bugs."""

    def register(fn):
        CASES[fn.__name__] = (fn, set(exclude), xfail or {})
        return fn

    return register


def _params():
    for cname, (fn, exclude, xfail) in CASES.items():
        for ename in NAMES:
            if ename in exclude:
                continue
            marks = [pytest.mark.xfail(reason=xfail[ename], strict=True)] \
                if ename in xfail else []
            if ename not in ESTIMATORS:
                marks = [NEEDS_TORCH]
            yield pytest.param(fn, ename, id=f"{cname}-{ename}", marks=marks)


# ---------------------------------------------------------------- non-finite X
@case()
def nan_in_X_at_fit(name):
    Xb = X.copy()
    Xb[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        _fit(name, X=Xb)


@case()
def inf_in_X_at_fit(name):
    Xb = X.copy()
    Xb[3, 1] = -np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        _fit(name, X=Xb)


@case()
def nan_in_X_at_predict(name):
    est = _fit(name)
    Xb = X.copy()
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        _predict(name, est, X=Xb)


@case(exclude={"meta"})
def inf_in_y(name):
    y = _y(name).astype(float)
    y[5] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        _fit(name, y=y)


@case()
def X_too_large_for_the_arithmetic(name):
    """Finite X whose products overflow: refused with the reason, not NaN or LAPACK."""
    match = "too large for dtype" if name == "meta" else r"X has values as large as .*e\+200"
    with pytest.raises(ValueError, match=match):
        _fit(name, X=X * 1e200)


@case(exclude=NUMPY | {"reg-torch-linear"})
def X_at_the_edge_of_float32_at_predict(name):
    """A network given X of scale 1e30 at predict: finite outputs, or it says why."""
    est = _fit(name)
    try:
        out = _predict(name, est, X=X * 1e30)
        if name == "meta":
            out = est.predict_proba(X * 1e30)
        elif name == "clf-torch":
            out = est.predict_proba(X * 1e30, tasks=TASKS)
    except ValueError as exc:
        assert "outputs overflow float32" in str(exc), exc
        return
    assert np.isfinite(out.astype(float)).all()


@case(exclude={"clf", "clf-cv", "clf-torch", "reg-torch", "mixed", "meta"})
def y_too_large_for_the_arithmetic(name):
    big = 1e30 if name == "reg-torch-linear" else 1e200  # float32 or float64
    y = Y_REG * big / np.abs(Y_REG).max()
    with pytest.raises(ValueError, match=re.escape(f"y has values as large as {big:.3g}")):
        _fit(name, y=y)


# -------------------------------------------------------------------- tasks
@case(exclude={"meta"})
def unknown_task_at_predict(name):
    est = _fit(name)
    with pytest.raises(ValueError, match="Unknown task.*'zurich'"):
        est.predict(X[:2], tasks=["a", "zurich"])


@case()
def task_with_one_class(name):
    """A classifier refuses it, naming the task; a regressor fits it (exactly)."""
    if name == "meta":  # no task formats: one class in all of y
        with pytest.raises(ValueError, match="needs at least 2 classes; y has one"):
            _fit(name, y=np.zeros(N, int))
        return
    y = _y(name).copy()
    y[TASKS == "b"] = 2
    if is_classifier(ESTIMATORS[name]) or name == "mixed":
        with pytest.raises(ValueError, match="Task 'b' has one class"):
            _fit(name, y=y)
        return
    pred = _predict(name, _fit(name, y=y), tasks=np.full(N, "b"))
    if name == "reg-torch":  # a few epochs: not yet the constant
        assert np.isfinite(pred).all()
    else:  # the constant task's weights are exactly zero (to the solver's tol)
        np.testing.assert_allclose(pred, 2.0, atol=1e-3 if "torch" in name else 1e-6)


@case(exclude={"meta"})
def wide_Y_with_an_empty_task(name):
    Y = np.column_stack([_y(name), _y(name)]).astype(float)
    Y[:, 1] = np.nan
    with pytest.raises(ValueError, match="column 1 of Y has no label"):
        _fit(name, y=Y, tasks=None)


@case(exclude={"meta"})
def long_task_id_with_no_labelled_row(name):
    y = _y(name).astype(float)
    y[TASKS == "b"] = np.nan  # task 'b' is listed but has no row with a label
    with pytest.raises(ValueError, match="Task 'b' has 0 sample"):
        _fit(name, y=y)


@case(exclude={"meta"})
def long_task_weighing_zero(name):
    sw = np.where(TASKS == "b", 0.0, 1.0)
    with pytest.raises(ValueError, match="Task 'b' has 0 sample"):
        _fit(name, sample_weight=sw)


@case(exclude={"meta"})
def task_labels_of_mixed_types(name):
    tasks = np.array([1] * (N // 2) + ["b"] * (N // 2), dtype=object)
    with pytest.raises(TypeError, match=r"tasks mix labels of types \['int', 'str'\]"):
        _fit(name, tasks=tasks)


# ------------------------------------------------------------------- shapes
@case()
def y_length_mismatch(name):
    with pytest.raises(ValueError, match=f"inconsistent numbers of samples: {N} and {N - 1}"):
        _fit(name, y=_y(name)[:-1])


@case()
def tasks_length_mismatch(name):
    with pytest.raises(ValueError, match=f"X and tasks have inconsistent numbers of "
                                         f"samples: {N} and {N - 1}"):
        _fit(name, tasks=TASKS[:-1])


@case()
def wrong_n_features_at_predict(name):
    est = _fit(name)
    with pytest.raises(ValueError, match="X has 2 features, but .* is expecting 3"):
        _predict(name, est, X=X[:, :2])


@case()
def one_dimensional_X(name):
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        _fit(name, X=X[:, 0])


@case()
def zero_rows_at_fit(name):
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        _fit(name, X=X[:0], y=_y(name)[:0], tasks=TASKS[:0])


@case()
def zero_rows_at_predict(name):
    est = _fit(name)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        _predict(name, est, X=X[:0], tasks=TASKS[:0])


@case()
def zero_features(name):
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        _fit(name, X=X[:, :0])


# -------------------------------------------------------------- input types
@case()
def strings_in_X(name):
    Xs = X.astype(str).astype(object)
    Xs[2, 2] = "north"
    with pytest.raises(ValueError, match="could not convert string to float: .*north"):
        _fit(name, X=Xs)


@case()
def numeric_strings_in_X_are_numbers(name):
    a = _predict(name, _fit(name))
    b = _predict(name, _fit(name, X=X.astype(str)), X=X.astype(str))
    np.testing.assert_array_equal(a, b)


@case()
def sparse_X(name):
    """Sparse X gives the dense result; the meta-learner refuses it clearly."""
    if name == "meta":
        with pytest.raises(TypeError, match="Sparse data was passed for X, but dense"):
            _fit(name, X=sp.csr_matrix(X))
        return
    dense = _predict(name, _fit(name))
    for fmt in (sp.csr_matrix, sp.csc_array):
        out = _predict(name, _fit(name, X=fmt(X)), X=fmt(X))
        if name == "reg-torch-linear":  # float32 products in another order
            np.testing.assert_allclose(out, dense, atol=1e-4)
        elif out.dtype.kind == "f":
            np.testing.assert_allclose(out, dense, rtol=1e-9, atol=1e-12)
        else:
            np.testing.assert_array_equal(out, dense)


@case()
def float32_and_float64_X(name):
    """float32 X fits as float64 X does; a linear model keeps float32 (coef_ and
    predictions, as scikit-learn's), a network's outputs are float64 (or labels)."""
    f64 = _fit(name)
    f32 = _fit(name, X=X.astype(np.float32))
    a, b = _predict(name, f64), _predict(name, f32, X=X.astype(np.float32))
    if is_classifier(f64) or name == "mixed":
        assert b.dtype == Y_CLF.dtype
        # float32 rounding of X can flip at most a row sitting on a boundary
        assert np.mean(a == b) >= 0.95
        proba = f32.predict_proba(X.astype(np.float32)) if name == "meta" else \
            None if name == "mixed" else f32.predict_proba(X.astype(np.float32),
                                                           tasks=TASKS)
        if proba is not None:
            assert proba.dtype == np.float64
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    else:
        linear = name not in NETWORKS
        assert b.dtype == (np.float32 if linear else np.float64)
        if linear:
            assert f32.coef_.dtype == np.float32 and f64.coef_.dtype == np.float64
        np.testing.assert_allclose(b, a, atol=1e-4 if name in NETWORKS else 1e-5)


@case()
def dataframe_feature_names(name):
    df = pd.DataFrame(X, columns=["age", "income", "visits"])
    est = _fit(name, X=df, tasks=None if name == "meta" else pd.Series(TASKS))
    np.testing.assert_array_equal(est.feature_names_in_, ["age", "income", "visits"])
    ref = _predict(name, _fit(name))
    tol = dict(atol=1e-5, rtol=0) if name == "reg-torch-linear" else \
        dict(rtol=1e-6 if "torch" in name else 1e-12)  # float32: products in another order
    assert_same = np.testing.assert_array_equal if ref.dtype.kind != "f" else \
        lambda a, b: np.testing.assert_allclose(a, b, **tol)
    assert_same(_predict(name, est, X=df), ref)
    with pytest.raises(ValueError, match="feature names should match"):
        _predict(name, est, X=df.rename(columns={"income": "salary"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert_same(_predict(name, est, X=X), ref)
    plain = _fit(name)
    with pytest.warns(UserWarning, match="X has feature names, but"):
        _predict(name, plain, X=df)


@case(exclude={"meta"})
def dataframe_Y_with_missing_labels(name):
    """A wide Y as a DataFrame with NaN / pd.NA equals the ndarray with NaN."""
    Y = np.column_stack([_y(name), _y(name)[::-1]]).astype(float)
    Y[:6, 1] = np.nan
    ref = _predict(name, _fit(name, y=Y, tasks=None), tasks=None)
    frame = pd.DataFrame({"u": Y[:, 0], "v": pd.array(
        [None if np.isnan(v) else v for v in Y[:, 1]], dtype="Float64")})
    out = _predict(name, _fit(name, y=frame, tasks=None), tasks=None)
    if isinstance(ref, dict):  # MultiTaskEstimator: keyed by column name / index
        out, ref = list(out.values()), list(ref.values())
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("check, name", list(_params()))
def test_bad_input(check, name):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The solver did not converge")
        check(name)


@pytest.mark.skipif(torch is None, reason="needs pip install 'skmtl[torch]'")
@pytest.mark.parametrize("name", ["reg-torch", "clf-torch", "mixed"])
def test_network_outputs_that_overflow_are_an_error(name):
    """Outputs past float32 are refused at predict, not returned as inf or NaN."""
    est = clone(ESTIMATORS[name]).set_params(activation="relu")  # tanh saturates
    est.fit(X, _y(name), tasks=TASKS)
    with torch.no_grad():  # a network whose outputs reach 1e38 on X of scale 1e30
        for param in est.module_.parameters():
            param.mul_(1e6)
    with pytest.raises(ValueError, match="The network's outputs overflow float32"):
        _predict(name, est, X=X * 1e30)
    assert np.isfinite(np.asarray(_predict(name, est), dtype=float)).all()
