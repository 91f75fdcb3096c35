"""The meta-learners' defaults on small tabular data (issue 15): validation episodes on
held-out classes, early stopping on them, and a warning when a plain model on the
same shots does better."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402

from skmtl.meta import MetaLearnerClassifier, MetaLearnerRegressor, episodic_score  # noqa: E402


def _clusters(n_classes, per_class=12, p=10, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    return 2.5 * rng.randn(n_classes, p)[y] + rng.randn(len(y), p), y


@pytest.mark.parametrize("n_classes, held", [(5, 0), (7, 2), (30, 6)])
def test_auto_validation_holds_out_a_fifth_of_the_classes_from_six_on(n_classes, held):
    X, y = _clusters(n_classes)
    meta = MetaLearnerClassifier(n_episodes=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta.fit(X, y)
    assert (len(meta.validation_scores_) > 0) == (held > 0)
    assert (meta.plain_validation_score_ is not None) == (held > 0)
    if held:  # the training head of a baseline counts the classes left
        base = MetaLearnerClassifier("baseline", n_episodes=4, random_state=0).fit(X, y)
        assert base.algorithm_.head.out_features == n_classes - held


def test_auto_early_stopping_stops_on_the_validation_episodes():
    X, y = _clusters(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = MetaLearnerClassifier(n_episodes=400, random_state=0).fit(X, y)
        off = MetaLearnerClassifier(n_episodes=400, early_stopping=False,
                                    random_state=0).fit(X, y)
    assert off.n_iter_ == 400 and len(off.validation_scores_) == 10
    assert auto.n_iter_ < 400  # the 30 easy classes: no improvement after a few checks
    assert auto.validation_scores_ == off.validation_scores_[: len(auto.validation_scores_)]
    with pytest.raises(ValueError, match="'auto' holds out classes from 6 on; there are 5"):
        MetaLearnerClassifier(early_stopping=True).fit(*_clusters(5))


def test_losing_to_a_logistic_regression_on_the_validation_episodes_is_a_warning():
    X, y = load_digits(return_X_y=True)  # 7 classes: 2 held out by "auto"
    seen = y < 7
    # a meta-learner that learns nothing: one episode of a tiny backbone
    weak = MetaLearnerClassifier(n_episodes=1, hidden_layer_sizes=(2,), random_state=0)
    with pytest.warns(UserWarning, match=r"scores acc 0\.\d+ on its validation episodes "
                      r"\(classes held out.*LogisticRegression fitted on the same support "
                      r"rows of the raw features scores acc 0\.[89]"):
        weak.fit(X[seen], y[seen])
    assert max(weak.validation_scores_) < weak.plain_validation_score_
    X, y = _clusters(30)  # the defaults on easy clusters: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        meta = MetaLearnerClassifier(n_episodes=100, random_state=0).fit(X, y)
    assert max(meta.validation_scores_) >= meta.plain_validation_score_


def test_a_regressor_losing_to_ridge_on_its_validation_tasks_is_a_warning():
    rng = np.random.RandomState(0)
    tasks = np.repeat(np.arange(20), 20)  # 20 linear tasks: a ridge wins on 10 shots
    X = rng.randn(400, 3)
    y = (rng.randn(20, 3)[tasks] * X).sum(1)
    with pytest.warns(UserWarning, match="a Ridge fitted on the same support rows"):
        meta = MetaLearnerRegressor(n_episodes=4, random_state=0).fit(X, y, tasks=tasks)
    assert meta.plain_validation_score_ > max(meta.validation_scores_)


def test_the_defaults_on_digits_come_near_a_logistic_regression():
    """Issue 15: digits 0-6 -> 7-9, 3-way 5-shot; ProtoNet's old defaults (64, 64),
    no validation) reached 0.77 against 0.91 for a LogisticRegression."""
    X, y = load_digits(return_X_y=True)
    seen = y < 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = MetaLearnerClassifier(random_state=0).fit(X[seen], y[seen])
    mean, _ = episodic_score(meta, X[~seen], y[~seen], n_way=3, k_shot=5, n_query=15,
                             n_episodes=100, random_state=0)
    assert mean > 0.85, mean
