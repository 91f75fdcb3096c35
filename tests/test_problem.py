"""make_problem: the data-fit form and the solver, from the solvers' declared needs."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl._tasks import split_tasks
from skmtl.linear._bcd import BCD
from skmtl.linear._datafit import DesignFit, GramFit, make_blocks
from skmtl.linear._fista import FISTA
from skmtl.linear._penalties import L21, Penalty
from skmtl.linear._problem import Problem, make_problem
from skmtl.linear._registry import get_penalty

# data, penalty, solver, precompute -> form, solver: "gram1" one shared Gram matrix,
# "gramT" one per output, "design" the data space.  Since issue 12 "auto" also
# picks the exact solve (quadratic penalties), ADMM (trace) and coordinate descent
# with per-task Grams (long format, missing labels).
_TABLE = """
wide                l21    auto   auto   gram1   cd
wide                l21    fista  auto   gram1   fista
wide                l21    cd     False  gram1   cd
wide                l21    auto   False  design  fista
wide                trace  auto   auto   gram1   admm
wide                l2     auto   True   gram1   exact
wide_missing        l21    auto   auto   gramT   cd
wide_missing        l21    cd     auto   gramT   cd
wide_many_features  l21    auto   auto   design  fista
wide_many_features  l21    auto   True   gram1   cd
wide_many_features  l21    cd     auto   gram1   cd
long                l21    auto   auto   gramT   cd
long                trace  fista  False  design  fista
long                l21    cd     auto   gramT   cd
sparse              l21    auto   auto   design  fista
sparse              l21    auto   True   gram1   cd
sparse              trace  auto   True   gram1   admm
logistic            l21    auto   auto   design  fista
logistic            trace  fista  True   design  fista
hinge               l21    auto   True   design  fista
"""
_PRECOMPUTE = {"auto": "auto", "True": True, "False": False}
CASES = [(k, pen, sol, _PRECOMPUTE[pre], form, chosen)
         for k, pen, sol, pre, form, chosen in map(str.split, _TABLE.strip().splitlines())]


def _data(kind, seed=0):
    """``(estimator class, extra params, X, y, tasks)`` of a kind of problem."""
    rng = np.random.RandomState(seed)
    if kind in ("logistic", "hinge"):
        X, tasks = rng.randn(150, 5), np.repeat([0, 1, 2], 50)
        y = np.digitize(X[:, 0] + tasks * X[:, 1], [-0.5, 0.5]) * (tasks != 2) \
            + (X[:, 2] > 0) * (tasks == 2)  # two 3-class tasks and a binary one
        loss = "logistic" if kind == "logistic" else "squared_hinge"
        return MultiTaskClassifier, dict(loss=loss), X, y, tasks
    if kind == "long":
        X, tasks = rng.randn(180, 6), np.repeat([0, 1, 2], 60)
        return MultiTaskRegressor, {}, X, X[:, 0] * (1 + tasks) + rng.randn(180), tasks
    n, p = {"wide_many_features": (15, 50), "sparse": (200, 40)}.get(kind, (200, 10))
    X = sp.random(n, p, density=0.05, format="csr", random_state=seed) \
        if kind == "sparse" else rng.randn(n, p)
    Y = np.asarray(X @ rng.randn(p, 3)) + rng.randn(n, 3)
    if kind == "wide_missing":
        Y[:40, 1] = np.nan
    return MultiTaskRegressor, {}, X, Y, None


def _problem(kind, penalty, solver="auto", precompute="auto", design=None):
    """make_problem on the estimator's blocks, and the estimator's own _prepare."""
    Est, extra, X, y, tasks = _data(kind)
    if "precompute" in Est().get_params():  # the classifiers may not take it
        extra = dict(extra, precompute=precompute)
    est = Est(penalty=penalty, solver=solver, **extra)
    table = split_tasks(X, y, tasks, classifier=est._classifier)
    targets, out_groups = est._encode_targets(table)
    loss = est._loss()
    blocks, out_task = make_blocks(table, targets, segmented=loss.name == "logistic")
    bound = clone(get_penalty(penalty)).bind(out_task, out_groups)
    problem = make_problem(blocks, loss, bound, X.shape[1], out_task.size,
                           fit_intercept=True, solver=solver, precompute=precompute,
                           design=design)
    return problem, est, (X, y, tasks)


def _outcome(problem):
    fit = problem.datafit
    form = "design" if isinstance(fit, DesignFit) else \
        ("gram1" if fit.G.shape[0] == 1 else "gramT")
    return form, problem.solver.name


@pytest.mark.parametrize("kind,penalty,solver,precompute,form,chosen", CASES)
def test_make_problem_picks_the_form_and_solver_of_the_estimator(
        kind, penalty, solver, precompute, form, chosen):
    problem, est, (X, y, tasks) = _problem(kind, penalty, solver, precompute)
    assert _outcome(problem) == (form, chosen)
    assert problem.use_cd == (chosen == "cd")
    assert _outcome(est._prepare(X, y, tasks, None, penalty)) == (form, chosen)
    assert problem.gram == (form != "design")
    V, b = problem.start()
    assert (b is None) == problem.gram  # the Gram form eliminates the intercept


@pytest.mark.parametrize("kind,penalty", [
    ("wide", "trace"), ("wide", "l2"), ("long", "dirty"), ("logistic", "l21"),
    ("hinge", "l21"),
])
def test_cd_is_refused_where_its_requirements_are_not_met(kind, penalty):
    with pytest.raises(ValueError, match="solver='cd' needs penalty='l21' and the "
                                         "squared loss; use solver='fista'"):
        _problem(kind, penalty, solver="cd")


def test_the_refusal_names_what_is_missing():
    with pytest.raises(ValueError, match=r"Missing: datafit\.gram_column"):
        _problem("logistic", "l21", solver="cd")
    with pytest.raises(ValueError, match=r"Missing: penalty\.block_minimiser"):
        _problem("wide", "trace", solver="cd")


def test_the_declared_requirements():
    assert BCD().accepts(GramFit, L21()) and not BCD().accepts(DesignFit, L21())
    assert FISTA().accepts(GramFit, L21()) and FISTA().accepts(DesignFit, L21())
    assert not GramFit.has_intercept_variable and DesignFit.has_intercept_variable
    assert set(FISTA.datafit_required) < set(BCD.datafit_required)


class RowNorm(Penalty):
    """The l21 norm written again, not an L21: it declares what BCD needs."""

    is_norm = True

    def __init__(self):
        self._l21 = L21()

    def value(self, V):
        return self._l21.value(V)

    def prox(self, V, step):
        return self._l21.prox(V, step)

    def dual_norm(self, G):
        return self._l21.dual_norm(G)

    def block_minimiser(self, u, d, alpha):
        return self._l21.block_minimiser(u, d, alpha)

    def block_dual_norms(self, G):
        return self._l21.block_dual_norms(G)


@pytest.mark.parametrize("kind", ["wide", "wide_missing"])
def test_a_penalty_that_declares_the_cd_requirements_gets_cd(kind):
    custom, _, _ = _problem(kind, RowNorm(), solver="cd")
    assert custom.use_cd and isinstance(custom.solver, BCD)
    ref, _, _ = _problem(kind, "l21", solver="fista")
    V, b = custom.start()
    cd = custom.solve(0.05, V, b, max_iter=5000, tol=1e-12)
    fista = ref.solve(0.05, *ref.start(), max_iter=20000, tol=1e-12)
    assert cd[4] and fista[4]
    np.testing.assert_allclose(cd[0], fista[0], atol=1e-6)
    np.testing.assert_allclose(cd[1], fista[1], atol=1e-6)
    auto, _, _ = _problem("wide", RowNorm())
    assert auto.use_cd  # "auto" reads the declaration too


def test_cd_at_alpha_zero_falls_back_to_fista():
    problem, _, _ = _problem("wide", "l21", solver="cd")
    V, b, gap, n_iter, converged = problem.solve(0.0, *problem.start(), max_iter=50,
                                                 tol=1e-8)
    assert np.isfinite(V).all() and V.any()


def test_fista_refuses_a_penalty_without_a_prox():
    problem, _, _ = _problem("wide", "trace", solver="fista")
    with pytest.raises(ValueError, match=r"solver='fista' needs .*penalty\.prox"):
        Problem(problem.datafit, Penalty(), False)


def test_design_gives_the_datafit_and_fista():
    seen = {}

    def design(blocks, loss, n_features, n_outputs, fit_intercept):
        seen.update(loss=loss.name, shape=(n_features, n_outputs))
        return DesignFit(blocks, loss, n_features, n_outputs, fit_intercept)

    problem, _, _ = _problem("wide", "l21", design=design)  # "auto" would be CD
    assert seen == {"loss": "squared", "shape": (10, 3)}
    assert _outcome(problem) == ("design", "fista")
    with pytest.raises(ValueError, match="solver='cd' needs"):
        _problem("wide", "trace", solver="cd", design=design)
