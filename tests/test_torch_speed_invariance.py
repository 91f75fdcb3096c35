"""The training loop's speed-ups change no result: the same random_state gives the
loss curve and predictions recorded before them (regression and classification,
long and wide format, early stopping on and off, a gradient aggregation)."""

import numpy as np
import pytest

pytest.importorskip("torch")
import torch  # noqa: E402

from skmtl import MultiTaskClassifier, MultiTaskRegressor  # noqa: E402


def data(n=200, T=5, p=12, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n * T, p)
    tasks = np.repeat(np.arange(T), n)
    W = rng.randn(T, p)
    y = np.tanh(X @ rng.randn(p)) + np.einsum("ij,ij->i", X, W[tasks]) \
        + 0.1 * rng.randn(n * T)
    return X, y, tasks


# the width, and in the fits with validation rows the learning rate, the results
# were recorded with (the defaults of that time)
NET = dict(backend="torch", hidden_layer_sizes=(100,))


def configs():
    """(name, estimator, fit args, fit keywords, rows to predict, their tasks)."""
    X, y, tasks = data()
    yield ("reg_long", MultiTaskRegressor(**NET, max_epochs=12, learning_rate=1e-3,
                                          random_state=0),
           (X, y), dict(tasks=tasks), X[:4], tasks[:4])
    Xw, Y = X[:300], np.stack([y[:300], y[300:600], y[600:900]], 1)
    yield ("reg_wide_es", MultiTaskRegressor(**NET, max_epochs=12, early_stopping=True,
                                             learning_rate=1e-2, random_state=1),
           (Xw, Y), {}, Xw[:4], None)
    yb = (y > 0).astype(int)
    yield ("clf_long_pcgrad", MultiTaskClassifier(**NET, max_epochs=8, loss_weighting="pcgrad",
                                                  early_stopping=False, random_state=2),
           (X[:400], yb[:400]), dict(tasks=tasks[:400] % 2), X[:4], tasks[:4] % 2)
    yield ("clf_wide", MultiTaskClassifier(**NET, max_epochs=12, early_stopping=False,
                                           random_state=3),
           (Xw, (Y > 0).astype(int)), {}, Xw[:4], None)
    yield ("clf_multi_long_es", MultiTaskClassifier(**NET, max_epochs=12, early_stopping=True,
                                                    learning_rate=1e-3, random_state=4),
           (X, np.digitize(y, [-0.5, 0.5])), dict(tasks=tasks), X[:4], tasks[:4])


# recorded before the per-step overhead was removed (commit 88a548e), 1 thread
REFERENCE = {
    'reg_long': dict(
        loss=[
            2.167370642616373, 1.3087397947421542, 0.739976660226998, 0.38541459628259356,
            0.2075088402438585, 0.11688815416646717, 0.07921575755893212,
            0.06360854171014027, 0.05690267936164593, 0.05291175075589031,
            0.05212794641113799, 0.05139037189276322],
        pred=[
            0.8246168446638102, 2.508639310970287, 6.815366803833757, -1.2497056604219523]),
    'reg_wide_es': dict(
        loss=[
            1.3489587952693305, 1.1511406898498535, 1.1499365443984666, 1.0907732496658962,
            1.1134339405430689, 1.0896799175275695, 1.0913408949143357, 1.0633693734804788,
            1.092668246063921, 1.075765512055821, 1.0566507333682642, 1.026642700036367],
        pred=[
            2.163711083022526, 0.20896255487686582, 0.005157933144638371,
            1.4310359828612034, -1.008256208674083, 0.2331854112978059, 5.949641227657638,
            -0.13315898344255467, 1.6422917665287835, 0.468012216579354, 0.5049932997382013,
            0.10347017974836933]),
    'clf_long_pcgrad': dict(
        loss=[
            1.0128651100855608, 0.4554872287867161, 0.2931033842838727, 0.22243613778398585,
            0.19880515358482415, 0.16059860286231226, 0.1517534407858665,
            0.14662132354883048],
        pred=[
            0.08276844874326783, 0.9172315512567322, 0.005916790399725591,
            0.9940832096002744, 2.8061822470171194e-06, 0.999997193817753,
            0.9874980027208204, 0.012501997279179555]),
    'clf_wide': dict(
        loss=[
            1.9416468292474747, 1.711288157105446, 1.6423277825117113, 1.6217133037745954,
            1.6466770350933075, 1.62475124001503, 1.613070809841156, 1.5862127289175987,
            1.617379604279995, 1.5859666138887407, 1.5841511324048043, 1.5572132535278798],
        pred=[
            0.06098761827789756, 0.9390123817221024, 0.0860461198626492, 0.9139538801373508,
            0.0028322966525631266, 0.9971677033474369, 0.5581344330713514,
            0.4418655669286487, 0.3381483147822315, 0.6618516852177685, 0.5753387383716639,
            0.42466126162833606, 0.2987201308226981, 0.7012798691773019, 0.3557490057111433,
            0.6442509942888567, 0.6682458606196054, 0.33175413938039455, 0.5701706601396634,
            0.4298293398603365, 0.3728327815195842, 0.6271672184804158, 0.5693794761661399,
            0.4306205238338601]),
    'clf_multi_long_es': dict(
        loss=[
            5.232574784237405, 4.416775713796201, 3.796335684216541, 3.36994162461032,
            3.052559018135071, 2.7335880152557204, 2.5095950429854184, 2.3267104016697924,
            2.1570714984251103, 2.056166518965493, 1.9942168807205947, 1.9072945765827014],
        pred=[
            0.18222590647868975, 0.09418443588124296, 0.7235896576400672,
            0.05408866258100728, 0.04138305655633724, 0.9045282808626555,
            0.0018832429718720779, 0.0072642627241990484, 0.9908524943039289,
            0.7997008801870484, 0.11495384012789236, 0.0853452796850591]),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_same_results_as_before(name):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        est, args, kw, Xp, tp = next(c[1:] for c in configs() if c[0] == name)
        est.fit(*args, **kw)
        pk = {} if tp is None else dict(tasks=tp)
        pred = est.predict_proba(Xp, **pk) if name.startswith("clf") else \
            est.predict(Xp, **pk)
    finally:
        torch.set_num_threads(threads)
    if isinstance(pred, list):
        pred = np.concatenate([np.ravel(p) for p in pred])
    ref = REFERENCE[name]
    np.testing.assert_allclose(est.loss_curve_, ref["loss"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.ravel(pred), ref["pred"], rtol=1e-6, atol=1e-6)
