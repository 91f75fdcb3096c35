"""Every public estimator, with its defaults only, learns something on standardised data.

Issue 15's "done when": a newcomer who changes nothing gets a model that is not
constant and beats the trivial prediction clearly (the linear models' closeness to
their CV-tuned versions is in ``test_defaults.py``).  The data are made here: a
shared linear signal over correlated, standardised features, three tasks.
"""

import warnings

import numpy as np
import pytest
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from skmtl import (MultiTaskClassifier, MultiTaskClassifierCV, MultiTaskRegressor,
                   MultiTaskRegressorCV)

torch_installed = True
try:
    import torch  # noqa: F401
except ImportError:
    torch_installed = False
needs_torch = pytest.mark.skipif(not torch_installed, reason="needs the torch extra")

rng = np.random.RandomState(0)
N, P, T = 1500, 12, 3
X = StandardScaler().fit_transform(rng.randn(N, P) @ rng.randn(P, P) / np.sqrt(P))
TASKS = rng.randint(T, size=N)
W = rng.randn(P, 1) + 0.3 * rng.randn(P, T)
F = np.einsum("ij,ji->i", X, W[:, TASKS])
F /= F.std()
Y_REG = F + 0.5 * rng.randn(N)
Y_BIN = (F + 0.5 * rng.randn(N) > 0).astype(int)
TRAIN = np.arange(N) < 1000
TEST = ~TRAIN


def _fit(est, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a ConvergenceWarning is not the point here
        return est.fit(X[TRAIN], y[TRAIN], tasks=TASKS[TRAIN])


REGRESSORS = [MultiTaskRegressor(), MultiTaskRegressorCV()]
CLASSIFIERS = [MultiTaskClassifier(), MultiTaskClassifierCV()]
if torch_installed:
    REGRESSORS.append(MultiTaskRegressor(backend="torch"))
    CLASSIFIERS.append(MultiTaskClassifier(backend="torch"))


@pytest.mark.parametrize("est", REGRESSORS, ids=repr)
def test_default_regressor_is_not_constant_and_fits(est):
    pred = _fit(est, Y_REG).predict(X[TEST], tasks=TASKS[TEST])
    assert np.std(pred) > 0.1
    assert r2_score(Y_REG[TEST], pred) > 0.6  # the noise leaves 0.8 to explain


@pytest.mark.parametrize("est", CLASSIFIERS, ids=repr)
def test_default_classifier_is_not_constant_and_ranks(est):
    proba = _fit(est, Y_BIN).predict_proba(X[TEST], tasks=TASKS[TEST])[:, 1]
    assert np.std(proba) > 0.05
    assert roc_auc_score(Y_BIN[TEST], proba) > 0.85


@needs_torch
def test_default_mixed_estimator_fits_both_kinds():
    from skmtl import MultiTaskEstimator

    Y = np.column_stack([Y_BIN, 100.0 * Y_REG + 500.0])  # dollars: the scale must not matter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MultiTaskEstimator().fit(X[TRAIN], Y[TRAIN])
    pred = est.predict(X[TEST])
    buy, spend = (pred[k] for k in est.task_names_) if isinstance(pred, dict) else pred.T
    assert (buy == Y_BIN[TEST]).mean() > 0.75
    assert r2_score(Y[TEST, 1], spend) > 0.6


@needs_torch
def test_default_meta_learner_beats_chance_on_new_classes():
    from skmtl.meta import MetaLearnerClassifier, episodic_score

    # 30 classes, each a Gaussian blob in 12 standardised dimensions; train on 20
    centres = rng.randn(30, P) * 1.5
    labels = np.repeat(np.arange(30), 40)
    Z = centres[labels] + rng.randn(labels.size, P)
    seen = labels < 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the defaults but a shorter meta-training (test time), and a seed
        meta = MetaLearnerClassifier(n_episodes=300, random_state=0).fit(Z[seen], labels[seen])
    score, _ = episodic_score(meta, Z[~seen], labels[~seen], n_way=5, k_shot=1,
                              n_episodes=40, random_state=0)
    assert score > 0.5  # chance: 0.2
