"""Compact progress of the CV estimators (issue 15): at verbose=1 one line a fold's
path (fold k/K, alphas, best score so far, elapsed), not one a solver iteration."""

import re

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skmtl import MultiTaskClassifierCV, MultiTaskRegressorCV
from skmtl.metrics import make_task_scorer


def _long(n=150, seed=0):
    rng = np.random.RandomState(seed)
    X, tasks = rng.randn(n, 4), np.tile(["a", "b", "c"], n // 3)
    return X, X @ rng.randn(4) + 0.5 * rng.randn(n), tasks


def _lines(capsys):
    return [line for line in capsys.readouterr().out.splitlines() if line]


def test_verbose_1_prints_a_line_a_fold_and_no_solver_lines(capsys):
    X, y, tasks = _long()
    MultiTaskRegressorCV(alphas=6, cv=3, verbose=1).fit(X, y, tasks=tasks)
    lines = _lines(capsys)
    assert all(line.startswith("[MultiTaskRegressorCV] ") for line in lines), lines
    folds = [line for line in lines if " fold " in line]
    assert len(folds) % 3 == 0 and len(folds) >= 3
    assert re.search(r"fold 3/3: 6 alphas, best mse so far \S+ at alpha \S+ "
                     r"\(mean of 3 folds\); \d+\.\d s$", folds[2])
    assert "refit on all the data at alpha" in lines[-1]
    # one line a fold (and a grid extension), not one an alpha or an iteration
    assert len(lines) == len(folds) + 1 + sum("edge" in line for line in lines)


def test_verbose_0_prints_nothing_and_2_adds_the_path_and_solver_lines(capsys):
    X, y, tasks = _long()
    MultiTaskRegressorCV(alphas=4, cv=2).fit(X, y, tasks=tasks)
    assert _lines(capsys) == []
    MultiTaskRegressorCV(alphas=4, cv=2, verbose=2).fit(X, y, tasks=tasks)
    out = "\n".join(_lines(capsys))
    assert "[path] alpha 4/4" in out and "fold 2/2" in out
    assert re.search(r"^\[(bcd|fista|admm)\]", out, re.M)


def test_several_penalties_and_the_classifiers_score_are_named(capsys):
    X, y, tasks = _long()
    MultiTaskRegressorCV(penalty=["l21", "mean"], alphas=4, cv=2, verbose=1).fit(
        X, y, tasks=tasks)
    out = "\n".join(_lines(capsys))
    assert "penalty 2/2 'mean', fold 2/2" in out
    assert re.search(r"refit on all the data at alpha \S+, penalty '(l21|mean)'", out)
    labels = (y > 0).astype(int)
    MultiTaskClassifierCV(alphas=4, cv=2, verbose=1).fit(X, labels, tasks=tasks)
    assert "best accuracy so far" in "\n".join(_lines(capsys))
    scorer = make_task_scorer(roc_auc_score, response_method="predict_proba")
    MultiTaskClassifierCV(alphas=4, cv=2, verbose=1, scoring=scorer).fit(
        X, labels, tasks=tasks)
    assert "best score so far" in "\n".join(_lines(capsys))


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_the_lines_come_in_fold_order_from_joblib_too(capsys, n_jobs):
    X, y, tasks = _long()
    MultiTaskRegressorCV(alphas=4, cv=3, verbose=1, n_jobs=n_jobs).fit(X, y, tasks=tasks)
    folds = [int(m) for m in re.findall(r"fold (\d)/3", capsys.readouterr().out)]
    assert folds[:3] == [1, 2, 3]
