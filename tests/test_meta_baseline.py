"""The few-shot baselines ("baseline", "baseline++"): pretraining on all the training
classes, a new head fitted on each support set, and the meta-learners' API."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.linear_model import LogisticRegression  # noqa: E402

from skmtl.meta import MetaLearnerClassifier, episodic_score  # noqa: E402
from skmtl.meta._episodes import BatchSampler  # noqa: E402


def _clusters(n_classes=60, per_class=12, p=10, seed=0):
    """Gaussian classes whose means share a low-dimensional structure (5 directions)."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    centers = 3 * rng.randn(n_classes, 5) @ rng.randn(5, p)
    return centers[y] + rng.randn(len(y), p), y


@pytest.mark.parametrize("algorithm", ["baseline", "baseline++"])
def test_a_baseline_learns_new_classes_well_above_chance(algorithm):
    X, y = _clusters()
    train = y < 40
    meta = MetaLearnerClassifier(algorithm, n_episodes=200, random_state=0)
    meta.fit(X[train], y[train])
    mean, ci = episodic_score(meta, X[~train], y[~train], n_way=5, k_shot=1, n_query=5,
                              n_episodes=60, random_state=0)
    assert mean - ci > 0.6, (mean, ci)  # chance is 0.2


def test_pretraining_is_one_classifier_over_all_the_training_classes(monkeypatch):
    X, y = _clusters(n_classes=30)
    drawn = []
    real = BatchSampler.sample
    monkeypatch.setattr(BatchSampler, "sample",
                        lambda self: drawn.append(real(self)) or drawn[-1])
    meta = MetaLearnerClassifier("baseline", n_way=5, k_shot=1, n_query=5, n_episodes=40,
                                 meta_batch_size=2, validation_fraction=0.2,
                                 early_stopping=False, random_state=0)
    meta.fit(X, y)
    assert meta.algorithm_.head.out_features == 24  # 6 of the 30 classes held out
    assert len(drawn) == 40 and all(len(s) == 30 and len(q) == 0 for s, _, q, _ in drawn)
    labels = np.concatenate([ys for _, ys, _, _ in drawn])
    assert labels.max() > 5 * 2  # labels among all classes, not an episode's 0..n_way-1
    rows = np.concatenate([s for s, _, _, _ in drawn[:8]])  # one pass over the 240 rows
    assert np.unique(rows).size == 240


def test_a_task_head_is_logistic_regression_on_normalised_frozen_features():
    X, y = _clusters(n_classes=20)
    meta = MetaLearnerClassifier("baseline", n_episodes=20, random_state=0).fit(X, y)
    support = np.r_[0:3, 12:15, 24:27]  # three shots of classes 0, 1, 2
    clf = meta.adapt(X[support], y[support])
    with torch.no_grad():
        emb = torch.nn.functional.normalize(meta.module_(torch.as_tensor(X, dtype=torch.float32)))
    emb = emb.double().numpy()
    ref = LogisticRegression(max_iter=1000).fit(emb[support], y[support])
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(emb), atol=1e-5)


def test_baseline_plus_plus_heads_are_normalised_class_means():
    X, y = _clusters(n_classes=20)
    meta = MetaLearnerClassifier("baseline++", n_episodes=20, random_state=0).fit(X, y)
    support = np.r_[0:3, 12:15]
    weight, bias = meta.adapt(X[support], y[support])._state
    assert bias is None
    with torch.no_grad():
        emb = torch.nn.functional.normalize(
            meta.module_(torch.as_tensor(X[support], dtype=torch.float32)))
    means = torch.stack([emb[:3].mean(0), emb[3:].mean(0)])
    torch.testing.assert_close(weight, torch.nn.functional.normalize(means))


@pytest.mark.parametrize("algorithm", ["baseline", "baseline++"])
def test_the_adapt_api_is_the_meta_learners(algorithm):
    X, y = _clusters(n_classes=20)
    meta = MetaLearnerClassifier(algorithm, n_episodes=20, random_state=0).fit(X, y)
    before = [p.detach().clone() for p in meta.module_.parameters()]
    seven = np.isin(y, np.arange(7))
    clf = meta.adapt(X[seven][::4], np.asarray(list("abcdefg"))[y[seven][::4]])
    assert list(clf.classes_) == list("abcdefg")
    assert clf.predict_proba(X[:3]).shape == (3, 7)
    assert set(clf.predict(X[:5])) <= set("abcdefg")
    for a, b in zip(before, meta.module_.parameters()):
        torch.testing.assert_close(a, b.detach())
    again = MetaLearnerClassifier(algorithm, n_episodes=20, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), meta.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(meta))
    np.testing.assert_array_equal(loaded.predict_proba(X), meta.predict_proba(X))


def test_a_baseline_refuses_the_inner_loop_settings():
    X, y = _clusters(n_classes=10)
    with pytest.raises(ValueError, match="inner_lr"):
        MetaLearnerClassifier("baseline", inner_lr=0.1, n_episodes=4).fit(X, y)


def test_a_baseline_stops_early_on_held_out_classes():
    X, y = _clusters(n_classes=30)
    meta = MetaLearnerClassifier("baseline", n_episodes=400, validation_fraction=0.2,
                                 early_stopping=True, n_iter_no_change=1, random_state=0)
    meta.fit(X, y)
    assert len(meta.validation_scores_) >= 2 and min(meta.validation_scores_) > 0.5
