"""Loss weightings: by name or as configured objects (clone, pickle, search), and the
methods added from torchjd 0.18, FAMO and RLW."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchjd")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skmtl import MultiTaskRegressor  # noqa: E402
from skmtl.nn import (DWA, FAMO, RLW, WEIGHTINGS, AlignedMTL, CAGrad, FairGrad,  # noqa: E402
                      GradNorm, IMTLG, LossWeighting, Weighting)
from skmtl.nn._weighting import make_weighting  # noqa: E402

NET = dict(backend="torch", hidden_layer_sizes=(16,), max_epochs=8, learning_rate=1e-2,
           random_state=0)


def _data(n_tasks=3, n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_tasks * n, 6)
    tasks = np.repeat(np.arange(n_tasks), n)
    y = np.tanh(X @ rng.randn(6)) * (1 + tasks) + 0.1 * rng.randn(len(X))
    return X, y, tasks


def test_every_name_builds_a_module_and_its_class_takes_default_settings():
    for name, cls in WEIGHTINGS.items():
        assert isinstance(cls(), LossWeighting), name
        assert isinstance(make_weighting(name, 3), Weighting), name


def test_a_configured_object_trains_with_its_settings():
    X, y, tasks = _data()
    a = MultiTaskRegressor(**NET, loss_weighting=CAGrad(c=0.05)).fit(X, y, tasks=tasks)
    b = MultiTaskRegressor(**NET, loss_weighting=CAGrad(c=0.9)).fit(X, y, tasks=tasks)
    assert a._trainer.weighting.aggregator.c == 0.05
    assert not np.allclose(a.predict(X, tasks=tasks), b.predict(X, tasks=tasks))
    # the default object is the name
    c = MultiTaskRegressor(**NET, loss_weighting=CAGrad()).fit(X, y, tasks=tasks)
    d = MultiTaskRegressor(**NET, loss_weighting="cagrad").fit(X, y, tasks=tasks)
    np.testing.assert_array_equal(c.predict(X, tasks=tasks), d.predict(X, tasks=tasks))


def test_objects_clone_pickle_and_compare_by_settings():
    est = MultiTaskRegressor(**NET, loss_weighting=DWA(temperature=0.5))
    copy = clone(est)
    assert copy.loss_weighting is not est.loss_weighting
    assert copy.loss_weighting == DWA(temperature=0.5) != DWA()
    assert est.get_params()["loss_weighting__temperature"] == 0.5
    assert pickle.loads(pickle.dumps(est)).loss_weighting == DWA(temperature=0.5)
    assert repr(GradNorm(alpha=0.5)) == "GradNorm(alpha=0.5, lr=0.025)"
    with pytest.raises(ValueError, match="no setting 'T'.*'temperature'"):
        DWA().set_params(T=1.0)


def test_grid_search_tunes_an_objects_setting():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 6)
    Y = np.tanh(X @ rng.randn(6, 2))  # wide format: two tasks, the default scorer
    search = GridSearchCV(MultiTaskRegressor(**{**NET, "max_epochs": 3},
                                             loss_weighting=CAGrad()),
                          {"loss_weighting__c": [0.1, 0.6]}, cv=2)
    search.fit(X, Y)
    assert [p["loss_weighting__c"] for p in search.cv_results_["params"]] == [0.1, 0.6]
    assert search.best_estimator_.loss_weighting.c in (0.1, 0.6)


@pytest.mark.parametrize("bad, error, match", [
    ("cagrd", ValueError, r"'cagrd' is not a known weighting; use one of \[.*'cagrad'"),
    (3, TypeError, r"must be a name in \[.*or a skmtl.nn.LossWeighting"),
    (torch.nn.Linear(2, 2), TypeError, "LossWeighting object"),
])
def test_a_bad_weighting_is_refused_at_fit(bad, error, match):
    X, y, tasks = _data(n=10)
    with pytest.raises(error, match=match):
        MultiTaskRegressor(**NET, loss_weighting=bad).fit(X, y, tasks=tasks)


def test_a_user_weighting_subclass_trains():
    class Double(Weighting):
        def combine(self, losses, present):
            return 2 * super().combine(losses, present)

    class Twice(LossWeighting):
        def build(self, n_tasks):
            return Double()

    X, y, tasks = _data()
    est = MultiTaskRegressor(**NET, loss_weighting=Twice()).fit(X, y, tasks=tasks)
    assert isinstance(est._trainer.weighting, Double)


@pytest.mark.parametrize("spec, cls", [(IMTLG(), "IMTLG"), (AlignedMTL("median"), "AlignedMTL"),
                                       (FairGrad(alpha=2.0), "FairGrad")])
def test_torchjd_aggregators_are_the_ones_named(spec, cls):
    import torchjd.aggregation as agg

    module = spec.build(3)
    assert type(module.aggregator) is getattr(agg, cls)


def test_famo_moves_its_weights_toward_the_slow_tasks():
    X, y, tasks = _data()
    est = MultiTaskRegressor(**NET, loss_weighting=FAMO(lr=0.05)).fit(X, y, tasks=tasks)
    logits = est._trainer.weighting.scalarizer._w.detach().numpy()
    assert np.ptp(logits) > 1e-3  # the after-step update ran
    assert np.all(np.isfinite(est.predict(X, tasks=tasks)))


def test_rlw_draws_from_the_fits_seed():
    X, y, tasks = _data()
    a, b = (MultiTaskRegressor(**NET, loss_weighting=RLW()).fit(X, y, tasks=tasks)
            for _ in range(2))
    eq = MultiTaskRegressor(**NET).fit(X, y, tasks=tasks)
    np.testing.assert_array_equal(a.predict(X, tasks=tasks), b.predict(X, tasks=tasks))
    assert not np.allclose(a.predict(X, tasks=tasks), eq.predict(X, tasks=tasks))


def test_rlw_weights_sum_to_the_tasks_present():
    losses = torch.ones(4)
    present = torch.tensor([True, True, False, True])
    assert float(RLW().build(4).combine(losses, present)) == pytest.approx(3.0)
