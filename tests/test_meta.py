"""Few-shot meta-learning: each algorithm learns, and its defining property holds."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.model_selection import GridSearchCV, GroupKFold  # noqa: E402

from skmtl.meta import (  # noqa: E402
    EpisodeSampler,
    MetaLearnerClassifier,
    MetaLearnerRegressor,
    episodic_score,
    make_episodic_scorer,
)
from skmtl.meta._algorithms import GradientBased, ProtoNet, Reptile, squared_error  # noqa: E402
from torch.func import vmap  # noqa: E402

ALGORITHMS = ["protonet", "maml", "fomaml", "reptile", "anil", "metasgd"]


def _clusters(n_classes=60, per_class=12, p=10, seed=0):
    """Gaussian clusters per class, shifted by the group (task) they belong to."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    centers = 2.5 * rng.randn(n_classes, p)
    shift = np.repeat(rng.randn(n_classes // 5, p), 5, axis=0)
    return centers[y] + shift[y] + rng.randn(len(y), p), y


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_learns_new_classes_well_above_chance(algorithm):
    X, y = _clusters()
    train = y < 40
    reptile = algorithm == "reptile"
    inner = {} if algorithm == "protonet" else dict(  # ProtoNet adapts no weights
        inner_lr=0.05 if reptile else 0.1, inner_steps=3 if reptile else 1)
    meta = MetaLearnerClassifier(algorithm, n_episodes=200, random_state=0, **inner)
    meta.fit(X[train], y[train])
    mean, ci = episodic_score(meta, X[~train], y[~train], n_way=5, k_shot=1, n_query=5,
                              n_episodes=60, random_state=0)
    assert mean - ci > 0.4, (mean, ci)  # chance is 0.2


def _tiny_episode(regression=False):
    """(xs, ys, xq, yq, loss, n_out): 2-way classification, or regression."""
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(4, 3, generator=gen, dtype=torch.double)
    xq = torch.randn(4, 3, generator=gen, dtype=torch.double)
    if regression:
        return (xs, torch.randn(4, generator=gen, dtype=torch.double), xq,
                torch.randn(4, generator=gen, dtype=torch.double), squared_error, 1)
    return (xs, torch.tensor([0, 1, 0, 1]), xq, torch.tensor([1, 0, 1, 0]),
            torch.nn.functional.cross_entropy, 2)


@pytest.mark.parametrize("regression", [False, True])
def test_maml_second_order_gradient_matches_finite_differences(regression):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()).double()
    xs, ys, xq, yq, loss, n_out = _tiny_episode(regression)
    maml = GradientBased(net, 2, inner_lr=0.5, inner_steps=2, loss=loss)
    net.zero_grad()
    maml.meta_backward(net, xs[None], ys[None], xq[None], yq[None], n_out)
    grad = net[0].weight.grad.clone()

    def query_loss():
        state = maml.adapt(net, xs, ys, n_out)
        return loss(maml.logits(net, state, xq), yq).item()

    numeric = torch.zeros_like(grad)
    eps = 1e-6
    for i in range(grad.shape[0]):
        for j in range(grad.shape[1]):
            with torch.no_grad():
                net[0].weight[i, j] += eps
            up = query_loss()
            with torch.no_grad():
                net[0].weight[i, j] -= 2 * eps
            down = query_loss()
            with torch.no_grad():
                net[0].weight[i, j] += eps
            numeric[i, j] = (up - down) / (2 * eps)
    torch.testing.assert_close(grad, numeric, atol=1e-8, rtol=1e-6)
    # the first-order variant drops exactly those second-order terms
    net.zero_grad()
    GradientBased(net, 2, 0.5, 2, first_order=True, loss=loss).meta_backward(
        net, xs[None], ys[None], xq[None], yq[None], n_out)
    assert (net[0].weight.grad - grad).abs().max() > 1e-4


@pytest.mark.parametrize("regression", [False, True])
def test_reptile_update_is_its_definition(regression):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()).double()
    xs, ys, xq, yq, loss, n_out = _tiny_episode(regression)
    reptile = Reptile(net, 2, inner_lr=0.3, inner_steps=3, loss=loss)
    theta = {k: p.detach().clone() for k, p in net.named_parameters()}
    fast, _ = reptile._inner(net, torch.cat([xs, xq]), torch.cat([ys, yq]), n_out, True)
    assert all((fast[k] - theta[k]).abs().max() > 1e-3 for k in theta)  # it did move
    net.zero_grad()
    reptile.meta_backward(net, xs[None], ys[None], xq[None], yq[None], n_out)
    epsilon = 0.25
    torch.optim.SGD(net.parameters(), lr=epsilon).step()
    for k, p in net.named_parameters():
        expected = theta[k] + epsilon * (fast[k].detach() - theta[k])
        torch.testing.assert_close(p.detach(), expected)


def _algorithm(name, net, width, loss=torch.nn.functional.cross_entropy):
    if name == "protonet":
        return ProtoNet()
    if name == "reptile":
        return Reptile(net, width, inner_lr=0.3, inner_steps=3, loss=loss)
    return GradientBased(net, width, 0.5, 2, first_order=name == "fomaml",
                         head_only=name == "anil", learn_lr=name == "metasgd", loss=loss)


@pytest.mark.parametrize("network", ["mlp", "conv4", "buffers", "conv4 on cpu"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_meta_batch_at_once_equals_its_episodes_one_by_one(algorithm, network,
                                                             monkeypatch):
    """The vmapped meta-batch: the same summed loss and meta-gradients as a loop.
    conv4 is vmapped on a GPU only (forced here) and not for the second-order
    methods (vmap's batch-norm second derivatives are wrong); a network with
    buffers, which vmap cannot update, always takes the loop."""
    from skmtl.meta import _algorithms
    from skmtl.meta._backbones import conv4

    if network == "conv4":
        monkeypatch.setattr(_algorithms, "LOOP_ON_CPU", ())
    calls = []
    monkeypatch.setattr(_algorithms, "vmap", lambda *a, **k: calls.append(1) or vmap(*a, **k))
    torch.manual_seed(0)
    layers = [torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4), torch.nn.Tanh()]
    if network == "buffers":
        layers.insert(1, torch.nn.BatchNorm1d(8))
    net = conv4(1, width=4) if "conv4" in network else torch.nn.Sequential(*layers)
    net = net.double()
    algo = _algorithm(algorithm, net, 4)
    gen = torch.Generator().manual_seed(1)
    shape = (1, 16, 16) if "conv4" in network else (3,)
    XS, XQ = (torch.randn(5, n, *shape, generator=gen, dtype=torch.double) for n in (6, 9))
    YS, YQ = (torch.randint(0, 3, (5, n), generator=gen) for n in (6, 9))
    params = list(net.parameters()) + list(algo.parameters())

    def run(*episodes):
        for p in params:
            p.grad = None
        loss = sum(algo.meta_backward(net, *e, 3) for e in episodes)
        return loss, [p.grad.clone() for p in params]

    backwards = []
    real_backward = torch.Tensor.backward
    monkeypatch.setattr(torch.Tensor, "backward",
                        lambda self, *a, **k: backwards.append(1) or real_backward(self, *a, **k))
    batch_loss, batch_grads = run((XS, YS, XQ, YQ))
    batch_backwards = len(backwards)
    loop_loss, loop_grads = run(*[(XS[i : i + 1], YS[i : i + 1], XQ[i : i + 1],
                                  YQ[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(batch_loss, loop_loss)
    for a, b in zip(batch_grads, loop_grads):
        torch.testing.assert_close(a, b)
    assert loop_loss > 0 and net[-2 if "conv4" not in network else 0].weight.grad.abs().max() > 0
    second_order_bn = network == "conv4" and algorithm in ("maml", "metasgd")
    vmapped = network in ("mlp", "conv4") and not second_order_bn
    assert len(calls) == (1 if vmapped else 0)
    # the loop backpropagates an episode at a time (one graph in memory); Reptile never
    expected = 0 if algorithm == "reptile" else 1 if vmapped else 5
    assert batch_backwards == expected


def test_protonet_prototypes_are_class_means_of_the_embeddings():
    emb = torch.randn(9, 4)
    ys = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    protos = ProtoNet.prototypes(emb, ys, 3)
    for c in range(3):
        torch.testing.assert_close(protos[c], emb[ys == c].mean(0))


@pytest.mark.parametrize("algorithm", ["protonet", "maml"])
def test_adapt_takes_any_way_and_leaves_the_meta_learner_untouched(algorithm):
    X, y = _clusters()
    meta = MetaLearnerClassifier(algorithm, n_episodes=40, random_state=0).fit(X, y)
    before = [p.detach().clone() for p in meta.module_.parameters()]
    seven = np.isin(y, np.arange(7))
    clf = meta.adapt(X[seven][::4], np.asarray(list("abcdefg"))[y[seven][::4]])
    assert list(clf.classes_) == list("abcdefg")
    assert clf.predict_proba(X[:3]).shape == (3, 7)
    for a, b in zip(before, meta.module_.parameters()):
        torch.testing.assert_close(a, b.detach())


def test_predict_after_fit_uses_the_classes_seen_in_fit():
    X, y = _clusters(n_classes=10)
    meta = MetaLearnerClassifier(n_episodes=60, random_state=0).fit(X, y)
    assert meta.score(X, y) > 0.8
    assert meta.predict_proba(X[:2]).shape == (2, 10)


def _drawn_episodes(monkeypatch):
    """Record every episode drawn: (the sampler's labels, support rows, query rows)."""
    drawn = []
    real = EpisodeSampler.sample

    def sample(self):
        episode = real(self)
        drawn.append((self, episode[0], episode[2]))
        return episode

    monkeypatch.setattr(EpisodeSampler, "sample", sample)
    return drawn


def test_explicit_tasks_with_their_own_label_spaces(monkeypatch):
    X, y = _clusters()
    tasks = y // 5  # 12 tasks of 5 classes; labels restart at 0 in each
    drawn = _drawn_episodes(monkeypatch)
    meta = MetaLearnerClassifier(n_episodes=60, n_way=5, validation_fraction=0.0,
                                 random_state=0)
    meta.fit(X, y % 5, tasks=tasks)
    assert meta.n_iter_ == 60
    assert len(drawn) == 60
    for _, s, q in drawn:  # an episode's 5 classes are those of one task
        rows = np.r_[s, q]
        assert np.unique(tasks[rows]).size == 1
        assert np.unique(y[rows]).size == 5


def test_same_seed_same_meta_learner():
    X, y = _clusters(n_classes=20)
    a = MetaLearnerClassifier("maml", n_episodes=20, random_state=3).fit(X, y)
    b = MetaLearnerClassifier("maml", n_episodes=20, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_conv4_on_images_and_flat_rows():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(8), 7)
    patterns = rng.rand(8, 1, 16, 16) > 0.5
    X = (patterns[y] ^ (rng.rand(len(y), 1, 16, 16) < 0.05)).astype(np.float32)
    meta = MetaLearnerClassifier(backbone="conv4", n_way=4, k_shot=1, n_query=2,
                                 n_episodes=20, random_state=0).fit(X, y)
    assert meta.predict(X[:3]).shape == (3,)
    flat = MetaLearnerClassifier(backbone="conv4", input_shape=(1, 16, 16), n_way=4,
                                 k_shot=1, n_query=2, n_episodes=8, random_state=0)
    flat.fit(X.reshape(len(X), -1), y)
    images = MetaLearnerClassifier(backbone="conv4", n_way=4, k_shot=1, n_query=2,
                                   n_episodes=8, random_state=0).fit(X, y)
    # flat rows with input_shape are the images: the same conv4 and the same model
    assert flat.n_features_in_ == 256 and flat._input_shape == (1, 16, 16)
    assert isinstance(flat.module_[0], torch.nn.Conv2d)
    np.testing.assert_allclose(flat.predict_proba(X.reshape(len(X), -1)),
                               images.predict_proba(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs images"):
        MetaLearnerClassifier(backbone="conv4", input_shape=(1, 10, 10)).fit(
            X.reshape(len(X), -1), y)


def test_bad_input_is_a_clear_error():
    X, y = _clusters(n_classes=10, per_class=4)
    with pytest.raises(ValueError, match="needs at least k_shot \\+ n_query = 6"):
        MetaLearnerClassifier(k_shot=1, n_query=5).fit(X, y)
    meta = MetaLearnerClassifier(n_way=3, n_query=2, n_episodes=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="adapt needs at least 2"):
        meta.adapt(X[:2], [0, 0])
    with pytest.raises(ValueError, match="20-way episodes need 20 classes"):
        episodic_score(meta, X, y, n_way=20, k_shot=1, n_query=1)


def test_pickle_and_grid_search_on_held_out_classes():
    X, y = _clusters(n_classes=30)
    meta = MetaLearnerClassifier(n_episodes=30, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(meta))
    np.testing.assert_array_equal(again.predict(X), meta.predict(X))
    search = GridSearchCV(
        MetaLearnerClassifier(n_episodes=30, random_state=0),
        {"hidden_layer_sizes": [(8,), (64, 64)]},
        cv=GroupKFold(3),
        scoring=make_episodic_scorer(n_way=5, k_shot=1, n_query=5, n_episodes=20),
    )
    search.fit(X, y, groups=y)
    assert search.best_score_ > 0.5


def test_verbose_prints_episodes(capsys):
    X, y = _clusters(n_classes=10)
    MetaLearnerClassifier(n_episodes=20, verbose=1, validation_fraction=0.0,
                          random_state=0).fit(X, y)
    assert "[skmtl] episode     20/20" in capsys.readouterr().out


@pytest.mark.parametrize("algorithm", ["protonet", "maml", "anil"])
def test_adaptation_on_a_large_support_set_runs_in_chunks(algorithm, monkeypatch):
    """Above CHUNK rows adaptation accumulates over chunks, to the same result."""
    from skmtl.meta import _algorithms

    X, y = _clusters(n_classes=10, per_class=30)
    meta = MetaLearnerClassifier(algorithm, n_episodes=8, random_state=0).fit(X, y)
    whole = meta.adapt(X, y).predict_proba(X)
    calls = []
    real_forward = torch.nn.Sequential.forward

    def counted(self, x):
        calls.append(len(x))
        return real_forward(self, x)

    monkeypatch.setattr(_algorithms, "CHUNK", 64)
    monkeypatch.setattr(torch.nn.Sequential, "forward", counted)
    chunked = meta.adapt(X, y).predict_proba(X[:5])
    assert max(calls[:-1]) <= 64  # no pass over all 300 rows while adapting
    np.testing.assert_allclose(chunked, whole[:5], rtol=1e-4, atol=1e-6)


def test_validation_fraction_holds_out_classes_and_reports_accuracy(capsys):
    X, y = _clusters(n_classes=30)
    meta = MetaLearnerClassifier(n_episodes=40, validation_fraction=0.3, verbose=1,
                                 early_stopping=False, random_state=0).fit(X, y)
    assert len(meta.validation_scores_) == 10
    assert meta.validation_scores_[-1] > 0.5  # 5-way: chance is 0.2
    assert "val acc" in capsys.readouterr().out
    assert meta.classes_.size == 30  # held-out classes are still predicted after fit
    with pytest.raises(ValueError, match="validation_fraction"):
        MetaLearnerClassifier(validation_fraction=0.99).fit(X, y)


def test_validation_classes_are_never_in_training_episodes(monkeypatch):
    from skmtl.meta import _classifier

    seen = []
    real = _classifier.EpisodeSampler

    class Spy(real):
        def __init__(self, y, *args, **kwargs):
            seen.append(np.unique(y).size)
            self.y_ = np.asarray(y)
            super().__init__(y, *args, **kwargs)

    monkeypatch.setattr(_classifier, "EpisodeSampler", Spy)
    drawn = _drawn_episodes(monkeypatch)
    X, y = _clusters(n_classes=30)
    MetaLearnerClassifier(n_episodes=40, validation_fraction=0.2, early_stopping=False,
                          random_state=0).fit(X, y)
    assert seen == [6, 24]  # the validation sampler, then the training sampler
    classes = {}  # the classes (codes of y) each sampler actually drew
    for sampler, s, q in drawn:
        classes.setdefault(sampler, set()).update(sampler.y_[np.r_[s, q]].tolist())
    validation, training = classes.values()
    assert len(drawn) == 20 + 40 and len(validation) == 6 and len(training) > 6
    assert not validation & training


def test_pickling_leaves_the_fitted_meta_learner_untouched():
    X, y = _clusters(n_classes=10)
    meta = MetaLearnerClassifier(n_episodes=4, random_state=0).fit(X, y)
    module, device, clf = meta.module_, meta.device_, meta.classifier_
    net = clf._net
    pickle.dumps(meta)
    assert meta.module_ is module and meta.device_ is device and clf._net is net


def test_a_meta_training_loss_that_turns_nan_is_a_clear_error():
    X, y = _clusters(n_classes=10)
    with pytest.raises(ValueError, match="meta-training loss became nan at episode"):
        MetaLearnerClassifier("maml", n_episodes=8, inner_lr=1e30, random_state=0).fit(
            X * 1e18, y)


# ------------------------------------------------------------ few-shot regression
def _sinusoids(n_tasks, n_points, seed):
    """The MAML sinusoid family (Finn et al. 2017): A sin(x - phase) on [-5, 5]."""
    rng = np.random.RandomState(seed)
    amplitude, phase = rng.uniform(0.1, 5, n_tasks), rng.uniform(0, np.pi, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), n_points)
    X = rng.uniform(-5, 5, (n_tasks * n_points, 1))
    return X, amplitude[tasks] * np.sin(X[:, 0] - phase[tasks]), tasks


def _ten_shot_mse(meta, n_tasks=50):
    """Mean query MSE of ``meta`` adapted on 10 shots of new sinusoids, and of the
    support mean."""
    X, y, tasks = _sinusoids(n_tasks, 110, seed=1)
    adapted, mean = [], []
    for task in range(n_tasks):
        rows = np.flatnonzero(tasks == task)
        s, q = rows[:10], rows[10:]
        adapted.append(np.mean((meta.adapt(X[s], y[s]).predict(X[q]) - y[q]) ** 2))
        mean.append(np.mean((y[s].mean() - y[q]) ** 2))
    return np.mean(adapted), np.mean(mean)


def test_maml_adapts_to_new_sinusoids_from_ten_shots():
    X, y, tasks = _sinusoids(200, 20, seed=0)
    kwargs = dict(k_shot=10, n_query=10, learning_rate=1e-2, inner_lr=0.02,
                  inner_steps=5, random_state=0)
    meta = MetaLearnerRegressor("maml", n_episodes=1000, **kwargs).fit(X, y, tasks=tasks)
    untrained = MetaLearnerRegressor("maml", n_episodes=1, **kwargs).fit(X, y, tasks=tasks)
    mse, support_mean = _ten_shot_mse(meta)
    untrained_mse, _ = _ten_shot_mse(untrained)
    # measured: 1.09 after meta-training, 3.64 untrained, 4.07 for the support mean
    assert mse < 0.4 * untrained_mse and mse < 0.4 * support_mean, (
        mse, untrained_mse, support_mean)


def test_regression_episodes_draw_rows_within_one_task():
    y = np.arange(30.0)
    tasks = np.repeat(["a", "b", "c"], 10)
    sampler = EpisodeSampler(y, None, 3, 4, groups=tasks, random_state=0)
    for _ in range(20):
        s, ys, q, yq = sampler.sample()
        assert len(s) == 3 and len(q) == 4 and len(set(tasks[np.r_[s, q]])) == 1
        assert not set(s) & set(q)
        np.testing.assert_array_equal(ys, y[s])
        np.testing.assert_array_equal(yq, y[q])


def test_regressor_adapt_leaves_the_meta_learner_untouched():
    X, y, tasks = _sinusoids(20, 20, seed=0)
    meta = MetaLearnerRegressor("metasgd", n_episodes=8, random_state=0).fit(
        X, y, tasks=tasks)
    before = {k: v.clone() for k, v in meta.module_.state_dict().items()}
    before_lr = {k: v.clone() for k, v in meta.algorithm_.state_dict().items()}
    pred = meta.predict(X[:20])
    reg = meta.adapt(X[:10], 10 * y[:10] + 3)
    assert reg.predict(X[:4]).shape == (4,) and np.isfinite(reg.score(X[:20], y[:20]))
    for key, value in meta.module_.state_dict().items():
        torch.testing.assert_close(before[key], value)
    for key, value in meta.algorithm_.state_dict().items():
        torch.testing.assert_close(before_lr[key], value)
    np.testing.assert_array_equal(meta.predict(X[:20]), pred)


def test_regressor_seeded_pickled_and_verbose(capsys):
    X, y, tasks = _sinusoids(20, 20, seed=0)
    a = MetaLearnerRegressor("reptile", n_episodes=20, verbose=1, early_stopping=False,
                             random_state=3)
    a.fit(X, y, tasks=tasks)
    assert "[skmtl] episode     20/20" in capsys.readouterr().out
    b = MetaLearnerRegressor("reptile", n_episodes=20, early_stopping=False,
                             random_state=3).fit(X, y, tasks=tasks)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    module = a.module_
    again = pickle.loads(pickle.dumps(a))
    assert a.module_ is module
    np.testing.assert_array_equal(again.predict(X), a.predict(X))
    reg = a.adapt(X[:10], y[:10])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_regressor_bad_input_is_a_clear_error():
    X, y, tasks = _sinusoids(5, 20, seed=0)
    few = tasks != 3
    few[np.flatnonzero(tasks == 3)[:7]] = True  # task 3 keeps 7 rows
    with pytest.raises(ValueError, match="Task 3 has 7 samples"):
        MetaLearnerRegressor(k_shot=5, n_query=5).fit(X[few], y[few], tasks=tasks[few])
    with pytest.raises(ValueError, match="needs at least k_shot \\+ n_query = 30"):
        MetaLearnerRegressor(k_shot=10, n_query=20).fit(X[:20], y[:20])  # one task
    y_nan = y.copy()
    y_nan[4] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        MetaLearnerRegressor().fit(X, y_nan, tasks=tasks)
    with pytest.raises(ValueError, match="'algorithm' parameter"):
        MetaLearnerRegressor("protonet").fit(X, y, tasks=tasks)
    meta = MetaLearnerRegressor(n_episodes=4, random_state=0).fit(X, y, tasks=tasks)
    with pytest.raises(ValueError, match="y_support contains NaN"):
        meta.adapt(X[:3], [0.0, np.nan, 1.0])


def test_episodic_score_in_regression_is_the_squared_error_on_one_task_episodes():
    X, y, tasks = _sinusoids(20, 20, seed=0)
    meta = MetaLearnerRegressor("maml", n_episodes=8, random_state=0).fit(X, y, tasks=tasks)
    Xn, yn, tn = _sinusoids(6, 30, seed=2)
    mean, ci = episodic_score(meta, Xn, yn, k_shot=5, n_query=7, n_episodes=12, tasks=tn,
                              random_state=0)
    sampler = EpisodeSampler(yn, None, 5, 7, groups=tn, random_state=0)
    errors = []
    for _ in range(12):
        s, _, q, _ = sampler.sample()
        assert len(set(tn[np.r_[s, q]])) == 1
        errors.append(np.mean((meta.adapt(Xn[s], yn[s]).predict(Xn[q]) - yn[q]) ** 2))
    np.testing.assert_allclose([mean, ci], [np.mean(errors),
                                            1.96 * np.std(errors) / np.sqrt(12)])
    assert mean > 0.1  # a squared error, not an R^2 near 1 nor an accuracy
    few = tn != 4
    few[np.flatnonzero(tn == 4)[:9]] = True
    with pytest.raises(ValueError, match="Task 4 has 9 rows; episodes need .* = 12"):
        episodic_score(meta, Xn[few], yn[few], k_shot=5, n_query=7, tasks=tn[few])


def test_grid_search_picks_a_meta_regressor_on_held_out_tasks(routing, monkeypatch):
    from skmtl.meta import _evaluation

    X, y, tasks = _sinusoids(24, 20, seed=0)
    seen = []
    real = _evaluation.episodic_score
    monkeypatch.setattr(_evaluation, "episodic_score",
                        lambda *a, tasks=None, **k: seen.append(tasks) or real(
                            *a, tasks=tasks, **k))
    search = GridSearchCV(
        MetaLearnerRegressor("maml", n_episodes=16, random_state=0),
        {"inner_lr": [1e-3, 0.05]}, cv=GroupKFold(2),
        scoring=make_episodic_scorer(k_shot=5, n_query=5, n_episodes=10))
    search.fit(X, y, tasks=tasks, groups=tasks)
    assert len(seen) == 4 and all(t is not None and np.unique(t).size == 12 for t in seen)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores < 0) and np.all(np.isfinite(scores))  # minus a squared error


@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_learning_rate_schedule_anneals_the_meta_step(schedule, monkeypatch):
    X, y = _clusters(n_classes=10)
    steps = []
    real = torch.optim.SGD.step
    monkeypatch.setattr(torch.optim.SGD, "step", lambda self, *a, **k: steps.append(
        self.param_groups[0]["lr"]) or real(self, *a, **k))
    MetaLearnerClassifier("reptile", n_episodes=10, meta_batch_size=2, learning_rate=0.5,
                          meta_optimizer="sgd", learning_rate_schedule=schedule,
                          validation_fraction=0.0, random_state=0).fit(X, y)
    expected = [0.5 * (5 - u) / 5 if schedule == "linear" else 0.5 for u in range(5)]
    np.testing.assert_allclose(steps, expected)


def test_episodic_score_takes_any_object_with_adapt():
    """A baseline needs only ``adapt`` returning a fitted classifier (no sklearn base)."""
    from sklearn.neighbors import KNeighborsClassifier

    class NearestNeighbour:
        def adapt(self, X_support, y_support):
            return KNeighborsClassifier(1).fit(X_support, y_support)

    X, y = _clusters(n_classes=20)
    mean, ci = episodic_score(NearestNeighbour(), X, y, n_way=5, k_shot=1, n_query=5,
                              n_episodes=30, random_state=0)
    assert 0.6 < mean <= 1 and ci > 0  # clusters: far above chance (0.2)


def _patterns(seed=0):
    """Noisy binary 16 x 16 patterns, 8 classes of 7 images."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(8), 7)
    patterns = rng.rand(8, 1, 16, 16) > 0.5
    return (patterns[y] ^ (rng.rand(len(y), 1, 16, 16) < 0.05)).astype(np.float32), y


@pytest.mark.parametrize("algorithm", ["protonet", "maml", "anil"])
def test_a_conv4_prediction_depends_on_its_row_alone(algorithm):
    """Batch norm keeps the support set's statistics: predicting a row alone or in
    any batch gives the same answer; transductive=True normalises each batch."""
    X, y = _patterns()
    params = dict(backbone="conv4", n_way=4, k_shot=1, n_query=2, n_episodes=12,
                  validation_fraction=0.0, random_state=0)  # the same model both ways
    support = np.r_[0, 7, 14, 21]
    probas = {}
    for transductive in (False, True):
        meta = MetaLearnerClassifier(algorithm, transductive=transductive, **params)
        clf = meta.fit(X, y).adapt(X[support], y[support])
        whole = clf.predict_proba(X)
        alone = np.vstack([clf.predict_proba(X[i : i + 1]) for i in range(0, 56, 5)])
        reordered = clf.predict_proba(X[::-1])[::-1]
        probas[transductive] = clf.predict_proba(X[support]), whole
        if not transductive:
            np.testing.assert_allclose(alone, whole[::5], rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(reordered, whole, rtol=1e-4, atol=1e-6)
        else:  # the batch's statistics: the answers move with the batch
            assert np.abs(alone - whole[::5]).max() > 1e-3
    # on the support set itself the two agree: its statistics are the batch's there
    np.testing.assert_allclose(probas[False][0], probas[True][0], rtol=1e-4, atol=1e-6)


def test_support_statistics_over_chunks_are_those_of_the_whole_support_set(monkeypatch):
    """Above CHUNK rows the support statistics merge chunk by chunk, exactly."""
    from skmtl.meta import _algorithms

    torch.manual_seed(0)
    xs = torch.randn(300, 3, dtype=torch.double) * 4 + 1
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5)).double()
    monkeypatch.setattr(_algorithms, "CHUNK", 64)
    _algorithms.freeze_support_statistics(net, net, xs)
    h = net[0](xs).detach()
    torch.testing.assert_close(net[1].running_mean, h.mean(0))
    torch.testing.assert_close(net[1].running_var, h.var(0, unbiased=False))
    assert not net[1].training


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_fit_ends_with_meta_training_and_predict_adapts_once(estimator, monkeypatch):
    """The adaptation on the fit data waits for the first prediction, is cached, and
    gives what adapting on those support rows gives; pickling keeps it lazy."""
    if estimator == "classifier":
        X, y = _clusters(n_classes=10)
        meta, tasks = MetaLearnerClassifier(n_episodes=8, random_state=0), None
    else:
        X, y, tasks = _sinusoids(10, 20, seed=0)
        meta = MetaLearnerRegressor(n_episodes=8, random_state=0)
    kind = type(meta)
    calls = []
    real = kind._adapt
    monkeypatch.setattr(kind, "_adapt", lambda self, *a: calls.append(1) or real(self, *a))
    meta.fit(X, y, tasks=tasks)
    assert calls == []  # fit did not adapt
    support = meta._fit_model_cache["support"]
    loaded = pickle.loads(pickle.dumps(meta))
    predicted = meta.predict(X)
    meta.predict(X), meta.score(X, y)
    assert calls == [1]  # the first prediction adapted, the others reused it
    eager = meta.adapt(*support).predict(X)
    np.testing.assert_array_equal(predicted, eager)
    np.testing.assert_array_equal(loaded.predict(X), eager)


def test_conv4_on_images_too_small_names_the_minimum_size():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(6), 6)
    X = rng.rand(len(y), 1, 8, 8).astype(np.float32)  # sklearn's digits
    with pytest.raises(ValueError, match=r"H and W at least 16; got \(1, 8, 8\)"):
        MetaLearnerClassifier(backbone="conv4", n_way=3, n_episodes=2).fit(X, y)
    with pytest.raises(ValueError, match=r"at least 16; got \(1, 64\)"):
        MetaLearnerClassifier(backbone="conv4", input_shape=(1, 64), n_way=3,
                              n_episodes=2).fit(X.reshape(len(X), -1), y)


@pytest.mark.parametrize("head_init", ["zero", "prototypes"])
def test_maml_first_inner_step_moves_the_backbone_unless_the_head_is_zero(head_init):
    """From a zero head the backbone's support gradient is zero (MAML with one inner
    step is then ANIL); from the prototypes' head the first step moves it."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh()).double()
    xs, ys, _, _, loss, n_out = _tiny_episode()
    algo = GradientBased(net, 5, 0.5, 1, head_init=head_init, loss=loss)
    fast, (weight, bias) = algo._inner(net, xs, ys, n_out, first_order=False)
    moved = max(float((fast[k] - p).detach().abs().max()) for k, p in net.named_parameters())
    if head_init == "zero":
        assert moved == 0.0
    else:
        assert moved > 1e-3
        protos = ProtoNet.prototypes(net(xs), ys, n_out)
        ref = -torch.cdist(net(xs), protos) ** 2  # ProtoNet's scores before the step
        start = algo._initial_head(net, net(xs), ys, n_out)
        shift = net(xs) @ start[0].T + start[1] - ref  # ... up to a per-row constant
        torch.testing.assert_close(shift, shift[:, :1].expand_as(shift))
