"""Properties that must hold on every small problem, checked with hypothesis.

(a) the wide format ``fit(X, Y)`` and the long format ``fit(X, y, tasks=)`` give the
same model; (b) relabeling or permuting the tasks permutes the outputs; (c) the row
order does not matter; (d) finite inputs give finite predictions, or a clear error
when the values overflow the arithmetic; and the same ``random_state`` gives the
same torch model across fits and across pickling.

The properties are exact for the optimum, so the numpy backend is run at a tight
``tol``.  Where the optimum's coefficients are not unique (a rank-deficient design
under a penalty that is not strictly convex) only the fitted values are: the
coefficients are compared when the design has full column rank.
"""

import os
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import ConvergenceWarning

from skmtl import MultiTaskClassifier, MultiTaskRegressor

try:
    import torch
except ImportError:  # the torch backend is an optional extra: only its tests skip
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs pip install 'skmtl[torch]'")

# CI: 25 fixed examples a test (derandomized, reproducible); set
# SKMTL_HYPOTHESIS=thorough for a longer random search on a workstation
_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("skmtl-ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("skmtl-thorough", max_examples=500, **_COMMON)
PROFILE = settings.get_profile(f"skmtl-{os.environ.get('SKMTL_HYPOTHESIS', 'ci')}")

PENALTIES = ["l21", "l1", "l2", "trace", "mean", "graph", "cluster", "dirty",
             "relationship", "robust"]
TIGHT = dict(tol=1e-10, max_iter=20_000)
ALPHAS = st.sampled_from([0.01, 0.1, 1.0])
VALUES = st.floats(-5, 5, allow_nan=False, allow_subnormal=False)


@st.composite
def wide_problems(draw, classification=False, min_tasks=1, max_tasks=4):
    """Shared X, a Y with one column a task and NaN for missing labels."""
    T = draw(st.integers(min_tasks, max_tasks))
    p = draw(st.integers(1, 4))
    n = draw(st.integers(4, 14))
    X = draw(arrays(np.float64, (n, p), elements=VALUES))
    if classification:  # rows 0 and 1 give every task two classes
        Y = draw(arrays(np.int64, (n, T), elements=st.integers(0, 2))).astype(float)
        Y[:2] = [[0.0], [1.0]]
    else:  # not every task constant: see test_constant_targets_converge
        Y = draw(arrays(np.float64, (n, T), elements=VALUES))
        Y[:2, 0] = [-1.0, 1.0]
    missing = draw(arrays(np.bool_, (n, T)))
    missing[:2] = False  # at least two labels a task
    Y[missing] = np.nan
    return X, Y


def to_long(X, Y):
    """The present labels of a wide Y, stacked task after task."""
    rows, cols = np.nonzero(~np.isnan(Y.T))[::-1]
    return X[rows], Y[rows, cols], cols


def full_rank(X, Y):
    """Every task's centred design is well conditioned (unique, stable coefficients)."""
    for t in range(Y.shape[1]):
        Xt = X[~np.isnan(Y[:, t])]
        Xt = Xt - Xt.mean(axis=0)
        if Xt.shape[0] <= Xt.shape[1] or np.linalg.cond(Xt) > 100:
            event("fitted values compared")
            return False
    event("fitted values and coefficients compared")
    return True


def _fit(est, *args, **kwargs):
    """Fit to the optimum; a problem too ill-conditioned to reach it says so (a
    ConvergenceWarning) and is left out: the properties are about the optimum."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            return est.fit(*args, **kwargs)
        except ConvergenceWarning:
            event("left out: the solver did not reach tol")
            reject()


def _close(a, b, scale=1.0):
    """Equal to the solver's precision: a duality gap of ``tol`` bounds the error of
    the fitted values by about ``sqrt(tol)`` (the loss is strongly convex in them)."""
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale)


def _as_list(proba):
    """Wide-format probabilities are a list over tasks; a single task's an array."""
    return proba if isinstance(proba, list) else [proba]


def _scale(Y):
    return 1.0 + np.nanmax(np.abs(Y))


# ------------------------------------------------------ (a) wide == long
@PROFILE
@given(wide_problems(), st.sampled_from(PENALTIES), ALPHAS, st.booleans())
def test_wide_and_long_formats_give_the_same_regressor(problem, penalty, alpha,
                                                       fit_intercept):
    X, Y = problem
    params = dict(penalty=penalty, alpha=alpha, fit_intercept=fit_intercept, **TIGHT)
    wide = _fit(MultiTaskRegressor(**params), X, Y)
    Xl, yl, tl = to_long(X, Y)
    long = _fit(MultiTaskRegressor(**params), Xl, yl, tasks=tl)
    np.testing.assert_array_equal(long.tasks_, np.arange(Y.shape[1]))
    pred = wide.predict(X).reshape(len(X), -1)
    for t in range(Y.shape[1]):
        _close(long.predict(X, tasks=np.full(len(X), t)), pred[:, t], _scale(Y))
    if full_rank(X, Y):
        _close(long.coef_, wide.coef_, _scale(Y))
        _close(long.intercept_, wide.intercept_, _scale(Y))


@PROFILE
@given(wide_problems(classification=True), st.sampled_from(PENALTIES),
       st.sampled_from([0.1, 1.0]))
def test_wide_and_long_formats_give_the_same_classifier(problem, penalty, alpha):
    X, Y = problem
    params = dict(penalty=penalty, alpha=alpha, **TIGHT)
    wide = _fit(MultiTaskClassifier(**params), X, Y)
    Xl, yl, tl = to_long(X, Y)
    long = _fit(MultiTaskClassifier(**params), Xl, yl, tasks=tl)
    proba = _as_list(wide.predict_proba(X))
    for t in range(Y.shape[1]):
        classes = np.unique(Y[~np.isnan(Y[:, t]), t])
        cols = np.searchsorted(long.classes_, classes)
        lp = long.predict_proba(X, tasks=np.full(len(X), t))
        _close(lp[:, cols], proba[t])
        np.testing.assert_allclose(lp.sum(axis=1), 1.0)  # no mass off the task
    if full_rank(X, Y):
        _close(long.coef_, wide.coef_, 10.0)


# ------------------------------------------ (b) relabeled tasks, permuted outputs
@PROFILE
@given(wide_problems(min_tasks=2), st.sampled_from(PENALTIES), ALPHAS, st.randoms())
def test_permuting_the_columns_of_Y_permutes_the_model(problem, penalty, alpha, rnd):
    X, Y = problem
    perm = np.array(rnd.sample(range(Y.shape[1]), Y.shape[1]))
    params = dict(penalty=penalty, alpha=alpha, **TIGHT)
    ref = _fit(MultiTaskRegressor(**params), X, Y)
    new = _fit(MultiTaskRegressor(**params), X, Y[:, perm])
    _close(new.predict(X), ref.predict(X)[:, perm], _scale(Y))
    if full_rank(X, Y):
        _close(new.coef_, ref.coef_[perm], _scale(Y))


@PROFILE
@given(wide_problems(min_tasks=2), wide_problems(classification=True, min_tasks=2),
       st.sampled_from(PENALTIES), st.randoms())
def test_relabeling_the_tasks_relabels_the_model(problem, cproblem, penalty, rnd):
    """Long format: task k renamed 'task{perm[k]}' moves to row perm[k] of coef_."""
    for classifier, (X, Y) in ((False, problem), (True, cproblem)):
        Xl, yl, tl = to_long(X, Y)
        T = Y.shape[1]
        perm = np.array(rnd.sample(range(T), T))
        names = np.array([f"task{perm[k]}" for k in range(T)])
        Est = MultiTaskClassifier if classifier else MultiTaskRegressor
        ref = _fit(Est(penalty=penalty, alpha=0.1, **TIGHT), Xl, yl, tasks=tl)
        new = _fit(Est(penalty=penalty, alpha=0.1, **TIGHT), Xl, yl, tasks=names[tl])
        np.testing.assert_array_equal(new.tasks_, np.sort(names))
        out = "predict_proba" if classifier else "predict"
        _close(getattr(new, out)(Xl, tasks=names[tl]), getattr(ref, out)(Xl, tasks=tl),
               _scale(Y))
        if full_rank(X, Y):
            # the outputs of task k (one row, or one per class) move to task perm[k]
            rows = np.concatenate([np.arange(T)[perm == j] for j in range(T)])
            ref_rows = np.concatenate([np.arange(*ref._out_slices[k].indices(10**6))
                                       for k in rows])
            _close(new.coef_, ref.coef_[ref_rows], 10 * _scale(Y))


@pytest.mark.parametrize("penalty", ["l2", "mean", "cluster"])
def test_constant_targets_converge(penalty):
    """The tolerance's scale (the centred sum of squares of y) is 0 up to rounding
    when every y is constant: it is floored at the rounding of the gap's terms."""
    rng = np.random.RandomState(0)
    X, tasks = rng.randn(40, 3), np.repeat([0, 1], 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MultiTaskRegressor(penalty=penalty, alpha=0.01).fit(X, np.full(40, 0.1),
                                                                  tasks=tasks)
    np.testing.assert_allclose(est.predict(X, tasks=tasks), 0.1)


@pytest.mark.parametrize("torch_linear", [False, pytest.param(True, marks=needs_torch)])
@pytest.mark.parametrize("classifier", [False, True])
def test_the_default_tol_is_reached_on_uncentred_X(classifier, torch_linear):
    """With the intercept a FISTA variable (always for the classification losses,
    for the squared loss without a Gram matrix), the gap is taken at the best
    intercept: it bounds the joint suboptimality even on uncentred X."""
    rng = np.random.RandomState(0)
    X, tasks = rng.randn(500, 10) + 3.0, np.repeat(np.arange(5), 100)
    y = X @ rng.randn(10) + 10 + rng.randn(500)
    if classifier:
        y = (y > np.median(y)).astype(int)
        Est, out, err = MultiTaskClassifier, "predict_proba", 0.02
    else:
        Est, out, err = MultiTaskRegressor, "predict", 0.02 * y.std()
    # no Gram matrix: only the numpy regressor has one to turn off (precompute)
    gram = {} if classifier or torch_linear else dict(precompute=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        backend = dict(backend="torch", hidden_layer_sizes=(), dtype="float64",
                       device="cpu") if torch_linear else {}
        default = Est(penalty="l2", alpha=0.01, **gram, **backend).fit(
            X, y, tasks=tasks)
        exact = Est(penalty="l2", alpha=0.01, tol=1e-12, max_iter=100_000).fit(
            X, y, tasks=tasks)
    np.testing.assert_allclose(getattr(default, out)(X, tasks=tasks),
                               getattr(exact, out)(X, tasks=tasks), atol=err)


# ------------------------------------------------------- (c) row order
@PROFILE
@given(wide_problems(), st.sampled_from(PENALTIES), ALPHAS, st.booleans(), st.randoms())
def test_row_order_does_not_matter(problem, penalty, alpha, long_format, rnd):
    X, Y = problem
    if long_format:
        X, y, tasks = to_long(X, Y)
    else:
        y, tasks = Y, None
    perm = np.array(rnd.sample(range(len(X)), len(X)))
    kw = {} if tasks is None else {"tasks": tasks}
    kw_perm = {} if tasks is None else {"tasks": tasks[perm]}
    params = dict(penalty=penalty, alpha=alpha, **TIGHT)
    ref = _fit(MultiTaskRegressor(**params), X, y, **kw)
    new = _fit(MultiTaskRegressor(**params), X[perm], y[perm], **kw_perm)
    _close(new.predict(X, **kw), ref.predict(X, **kw), _scale(Y))
    if full_rank(*problem):
        _close(new.coef_, ref.coef_, _scale(Y))
        _close(new.intercept_, ref.intercept_, _scale(Y))


@PROFILE
@given(wide_problems(classification=True), st.sampled_from(PENALTIES), st.randoms())
def test_row_order_does_not_matter_to_the_classifier(problem, penalty, rnd):
    X, Y = problem
    perm = np.array(rnd.sample(range(len(X)), len(X)))
    ref = _fit(MultiTaskClassifier(penalty=penalty, alpha=0.1, **TIGHT), X, Y)
    new = _fit(MultiTaskClassifier(penalty=penalty, alpha=0.1, **TIGHT), X[perm], Y[perm])
    for a, b in zip(_as_list(new.predict_proba(X)), _as_list(ref.predict_proba(X))):
        _close(a, b)


# ------------------------------------------------- (d) finite in, finite out
def _finite_or_clear(fit_predict, top, ok_below, patterns):
    """Finite predictions; an error only past ``ok_below``, naming the overflow."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way
            out = fit_predict()
    except ValueError as exc:
        assert top > ok_below, f"refused values of magnitude {top:.3g}: {exc}"
        assert any(p in str(exc) for p in patterns), exc
        event("refused with a clear error")
        return
    assert all(np.isfinite(np.asarray(o, dtype=float)).all() for o in out)
    event(f"finite predictions, |values| {'>' if top > ok_below else '<='} {ok_below:g}")


NUMPY_PATTERNS = ("values as large as",)


@PROFILE
@given(wide_problems(), st.integers(-300, 300), st.integers(-300, 300),
       st.sampled_from(PENALTIES), st.booleans())
def test_numpy_backend_predictions_are_finite(problem, x_exp, y_exp, penalty,
                                              classifier):
    X, Y = problem
    X = X * 10.0**x_exp
    fit_predict, top = _scaled_fit(X, Y, y_exp, classifier,
                                   dict(penalty=penalty, alpha=0.1, max_iter=200))
    _finite_or_clear(fit_predict, top, 1e100, NUMPY_PATTERNS)


def _scaled_fit(X, Y, y_exp, classifier, params):
    """The fit-and-predict closure of a scaled problem, and its largest value."""
    if classifier:
        Y = np.where(np.isnan(Y), np.nan, (Y > np.nanmedian(Y)).astype(float))
        Y[:2] = [[0.0], [1.0]]
        est, top = MultiTaskClassifier(**params), np.abs(X).max()
    else:
        Y = Y * 10.0**y_exp
        est = MultiTaskRegressor(**params)
        top = max(np.abs(X).max(), np.nanmax(np.abs(Y)))

    def fit_predict():
        est.fit(X, Y)
        out = [est.predict(X)]
        if classifier:
            out += _as_list(est.predict_proba(X))
        return out

    return fit_predict, top


# ------------------------------------------------------------- the torch backend
if torch is not None:  # without torch, the tests below skip (needs_torch)
    from skmtl import MultiTaskEstimator
    from skmtl.meta import MetaLearnerClassifier

TORCH_PATTERNS = ("values as large as", "outputs overflow", "became inf", "became nan")


@needs_torch
@PROFILE
@given(wide_problems(), st.integers(-30, 30), st.integers(-30, 30),
       st.sampled_from(["network", "linear"]), st.booleans())
def test_torch_backend_predictions_are_finite(problem, x_exp, y_exp, kind, classifier):
    X, Y = problem
    X = X * 10.0**x_exp
    # a few epochs of the network, a few iterations of the linear model's solver
    budget = dict(hidden_layer_sizes=(8,), max_epochs=2) if kind == "network" else \
        dict(hidden_layer_sizes=(), max_iter=50)
    params = dict(backend="torch", **budget, random_state=0, device="cpu")
    fit_predict, top = _scaled_fit(X, Y, y_exp, classifier, params)
    _finite_or_clear(fit_predict, top, 1e6, TORCH_PATTERNS)


# ------------------------------------------------ same seed, same model
def _torch_data():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 5)
    tasks = np.repeat(["a", "b", "c"], 40)
    y = (X[:, 0] + (tasks == "b") * X[:, 1] > 0).astype(int)
    return X, y, tasks


NET = dict(hidden_layer_sizes=(16,), max_epochs=8, learning_rate=1e-2)
SEEDED = {
    "classifier": lambda seed: MultiTaskClassifier(backend="torch", **NET,
                                                   random_state=seed),
    "classifier-mmoe-pcgrad-dropout": lambda seed: MultiTaskClassifier(
        backend="torch", **NET, architecture="mmoe", n_experts=2,
        loss_weighting="pcgrad", dropout=0.3, random_state=seed),
    "regressor-early-stopping-batch-norm": lambda seed: MultiTaskRegressor(
        backend="torch", **NET, early_stopping=True, batch_norm=True, batch_size=16,
        random_state=seed),
    "mixed": lambda seed: MultiTaskEstimator(
        task_types={"a": "classification", "b": "regression", "c": "classification"},
        **NET, random_state=seed),
}
META = ["protonet", "fomaml", "reptile", "anil", "metasgd"]


def _outputs(est, X, tasks):
    if isinstance(est, MetaLearnerClassifier):
        return [est.predict_proba(X)]
    if isinstance(est, MultiTaskClassifier):
        return [est.predict_proba(X, tasks=tasks)]
    return [np.asarray(est.predict(X, tasks=tasks), dtype=float)]


def _fit_seeded(name, seed, X, y, tasks):
    # the global RNGs are disturbed: only random_state may decide the model
    torch.manual_seed(seed + 1000)
    np.random.seed(seed + 1000)
    if name in META:
        meta = MetaLearnerClassifier(name, n_way=3, k_shot=2, n_query=2, n_episodes=12,
                                     hidden_layer_sizes=(16,), random_state=seed)
        return meta.fit(X, np.arange(len(X)) % 6)
    return SEEDED[name](seed).fit(X, y, tasks=tasks)


@needs_torch
@pytest.mark.parametrize("name", list(SEEDED) + META)
def test_same_random_state_same_model_across_fits_and_pickling(name):
    X, y, tasks = _torch_data()
    a = _fit_seeded(name, 0, X, y, tasks)
    b = _fit_seeded(name, 0, X, y, tasks)
    c = _fit_seeded(name, 1, X, y, tasks)
    again = pickle.loads(pickle.dumps(a))
    for out_a, out_b, out_c, out_again in zip(*(_outputs(e, X, tasks)
                                                for e in (a, b, c, again))):
        np.testing.assert_array_equal(out_a, out_b)
        np.testing.assert_array_equal(out_again, out_a)
        assert not np.array_equal(out_a, out_c)  # the seed does decide the model
    if name in META:  # a new task adapted after unpickling: the same classifier
        support = np.arange(12)
        labels = np.array(list("uvwxyz"))[support % 6]
        np.testing.assert_array_equal(again.adapt(X[support], labels).predict_proba(X),
                                      a.adapt(X[support], labels).predict_proba(X))


def test_subnormal_targets_fit_the_cluster_penalty():
    """Found by the permutation property: subnormal values of Y gave subnormal
    singular values, whose cluster weights overflowed to NaN (SVD did not converge)."""
    tiny = np.finfo(np.float64).tiny
    X = np.eye(4)[[1, 2]]
    X = np.vstack([X, np.zeros((2, 4))])
    Y = np.full((4, 4), tiny)
    Y[0, :3], Y[1, 0] = [-1.0, 0.0, 0.0], 1.0
    est = MultiTaskRegressor(penalty="cluster", alpha=0.01, **TIGHT).fit(X, Y)
    assert np.isfinite(est.coef_).all()
