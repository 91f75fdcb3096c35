"""``warm_start=True`` continues the run: 5 + 5 iterations are 10.

FISTA's momentum (the extrapolated point, ``t_k``) and step size, and ADMM's scaled
dual and ``rho``, travel with the solution (an ``Iterate``); coordinate descent has
no momentum.  A new alpha or new data restarts the momentum.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.linear._fista import Iterate

rng = np.random.RandomState(0)
N, P = 70, 12
X = rng.randn(N, P) @ np.diag(np.linspace(0.2, 3, P))  # unequal scales: slow
Y = X @ rng.randn(P, 4) + 0.5 * rng.randn(N, 4) + 2.0
LABELS = (Y > Y.mean(axis=0)).astype(int)
NEVER = dict(tol=1e-300)  # no early stop: every run takes its max_iter


def _fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kw)


def _split_run(make, target, first, second, **fit):
    est = make(max_iter=first, warm_start=True)
    _fit(est, X, target, **fit)
    est.set_params(max_iter=second)
    _fit(est, X, target, **fit)
    whole = _fit(make(max_iter=first + second), X, target, **fit)
    return est, whole


CASES = {
    "fista_l21": (lambda **kw: MultiTaskRegressor("l21", alpha=0.05, solver="fista",
                                                  **NEVER, **kw), Y),
    "fista_trace_design": (lambda **kw: MultiTaskRegressor(
        "trace", alpha=0.5, solver="fista", precompute=False, **NEVER, **kw), Y),
    "fista_logistic": (lambda **kw: MultiTaskClassifier("l21", alpha=0.01, **NEVER,
                                                        **kw), LABELS),
    "admm_trace": (lambda **kw: MultiTaskRegressor("trace", alpha=0.5, solver="admm",
                                                   **NEVER, **kw), Y),
    "admm_dirty": (lambda **kw: MultiTaskRegressor("dirty", alpha=0.1, solver="admm",
                                                   **NEVER, **kw), Y),
    "fista_positive": (lambda **kw: MultiTaskRegressor(
        "l1", alpha=0.05, positive=True, solver="fista", **NEVER, **kw), Y),
}


@pytest.mark.parametrize("split", [(5, 5), (3, 7)], ids=["5+5", "3+7"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_warm_started_runs_continue_exactly(case, split):
    make, target = CASES[case]
    est, whole = _split_run(make, target, *split)
    assert np.max(est.n_iter_) == split[1]
    np.testing.assert_allclose(est.coef_, whole.coef_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(est.intercept_, whole.intercept_, rtol=0, atol=1e-12)


def test_coordinate_descent_continues_exactly_without_state():
    """Coordinate descent has no momentum: its epochs continue as they are (5 + 5,
    one Anderson step every 5 epochs in both runs)."""
    make = lambda **kw: MultiTaskRegressor("l21", alpha=0.05, solver="cd",  # noqa: E731
                                           **NEVER, **kw)
    est, whole = _split_run(make, Y, 5, 5)
    np.testing.assert_allclose(est.coef_, whole.coef_, rtol=0, atol=1e-12)


def test_a_restarted_momentum_differs():
    """Without the state (a plain array: a coef_ assigned by hand), the same 5 + 5
    iterations do not give the 10: the test above can fail."""
    make, target = CASES["fista_l21"]
    est = _fit(make(max_iter=5, warm_start=True), X, target)
    est.coef_ = est.coef_.copy()  # assigned: the solver's state is not the user's
    _fit(est, X, target)
    whole = _fit(make(max_iter=10), X, target)
    assert np.abs(est.coef_ - whole.coef_).max() > 1e-6


@pytest.mark.parametrize("change", ["alpha", "data"])
def test_a_new_alpha_or_new_data_restarts_the_momentum(change):
    """The second fit is then a fresh run from the first's solution (as from an
    assigned coef_, which carries no state)."""
    make, target = CASES["fista_logistic"]
    est = _fit(make(max_iter=5, warm_start=True), X, target)
    fresh = make(max_iter=5, warm_start=True)
    _fit(fresh, X[:20], target[:20])
    fresh.coef_, fresh.intercept_ = est.coef_.copy(), est.intercept_.copy()
    Xn = X * 1.01 if change == "data" else X
    if change == "alpha":
        est.set_params(alpha=0.02)
        fresh.set_params(alpha=0.02)
    _fit(est, Xn, target)
    _fit(fresh, Xn, target)
    np.testing.assert_allclose(est.coef_, fresh.coef_, rtol=0, atol=1e-12)


def test_the_state_stays_with_the_solution_not_with_derived_arrays():
    est = _fit(CASES["fista_l21"][0](max_iter=5), X, Y)
    V = est._variable
    assert isinstance(V, Iterate) and V.state is not None
    assert V.copy().state is V.state  # a copy continues the same run
    for derived in (V * 2, V @ V.T, np.abs(V), np.linalg.svd(V)[0], V.sum(axis=0)):
        assert type(derived) is np.ndarray
    assert type(est.coef_) is np.ndarray
