"""Few-shot meta-learning: each algorithm learns, and its defining property holds."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.model_selection import GridSearchCV, GroupKFold  # noqa: E402

from skmtl.meta import MetaLearnerClassifier, episodic_score, make_episodic_scorer  # noqa: E402
from skmtl.meta._algorithms import GradientBased, ProtoNet, Reptile  # noqa: E402

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
    meta = MetaLearnerClassifier(algorithm, n_episodes=200, random_state=0,
                                 inner_lr=0.05 if reptile else 0.1,
                                 inner_steps=3 if reptile else 1)
    meta.fit(X[train], y[train])
    mean, ci = episodic_score(meta, X[~train], y[~train], n_way=5, k_shot=1, n_query=5,
                              n_episodes=60, random_state=0)
    assert mean - ci > 0.4, (mean, ci)  # chance is 0.2


def _tiny_episode():
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(4, 3, generator=gen, dtype=torch.double)
    xq = torch.randn(4, 3, generator=gen, dtype=torch.double)
    return xs, torch.tensor([0, 1, 0, 1]), xq, torch.tensor([1, 0, 1, 0])


def test_maml_second_order_gradient_matches_finite_differences():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()).double()
    xs, ys, xq, yq = _tiny_episode()
    maml = GradientBased(net, 2, inner_lr=0.5, inner_steps=2)
    net.zero_grad()
    maml.meta_backward(net, xs, ys, xq, yq, 2)
    grad = net[0].weight.grad.clone()

    def query_loss():
        state = maml.adapt(net, xs, ys, 2)
        return torch.nn.functional.cross_entropy(maml.logits(net, state, xq), yq).item()

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
    GradientBased(net, 2, 0.5, 2, first_order=True).meta_backward(net, xs, ys, xq, yq, 2)
    assert (net[0].weight.grad - grad).abs().max() > 1e-4


def test_reptile_update_is_its_definition():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()).double()
    xs, ys, xq, yq = _tiny_episode()
    reptile = Reptile(net, 2, inner_lr=0.3, inner_steps=3)
    theta = {k: p.detach().clone() for k, p in net.named_parameters()}
    fast, _, _ = reptile._inner(net, torch.cat([xs, xq]), torch.cat([ys, yq]), 2, False)
    net.zero_grad()
    reptile.meta_backward(net, xs, ys, xq, yq, 2)
    epsilon = 0.25
    torch.optim.SGD(net.parameters(), lr=epsilon).step()
    for k, p in net.named_parameters():
        expected = theta[k] + epsilon * (fast[k].detach() - theta[k])
        torch.testing.assert_close(p.detach(), expected)


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


def test_explicit_tasks_with_their_own_label_spaces():
    X, y = _clusters()
    tasks = y // 5  # 12 tasks of 5 classes; labels restart at 0 in each
    meta = MetaLearnerClassifier(n_episodes=60, n_way=5, random_state=0)
    meta.fit(X, y % 5, tasks=tasks)
    assert meta.n_iter_ == 60


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
    MetaLearnerClassifier(n_episodes=20, verbose=1, random_state=0).fit(X, y)
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
                                 random_state=0).fit(X, y)
    assert len(meta.validation_scores_) == 10
    assert meta.validation_scores_[-1] > 0.5  # 5-way: chance is 0.2
    assert "val acc" in capsys.readouterr().out
    assert meta.classes_.size == 30  # held-out classes are still predicted after fit
    with pytest.raises(ValueError, match="validation_fraction"):
        MetaLearnerClassifier(validation_fraction=0.99).fit(X, y)


def test_validation_classes_are_never_in_training_episodes(monkeypatch):
    from skmtl.meta import _estimator

    seen = []
    real = _estimator.EpisodeSampler

    class Spy(real):
        def __init__(self, y, *args, **kwargs):
            seen.append(np.unique(y).size)
            super().__init__(y, *args, **kwargs)

    monkeypatch.setattr(_estimator, "EpisodeSampler", Spy)
    X, y = _clusters(n_classes=30)
    MetaLearnerClassifier(n_episodes=4, validation_fraction=0.2, random_state=0).fit(X, y)
    assert seen == [6, 24]  # the validation sampler, then the training sampler


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
