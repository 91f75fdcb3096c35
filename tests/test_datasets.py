"""The bundled data sets: shapes, dtypes, tasks, splits, and agreement with the raw files."""

from pathlib import Path

import numpy as np
import pytest

from skmtl.datasets import load_computer_survey, load_landmine, load_school

SHARED = Path(__file__).parents[2] / "shared" / "data"


def _shared(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"raw data not available: {path} is absent")
    return path


def _loadmat(path):
    scipy_io = pytest.importorskip("scipy.io")
    return scipy_io.loadmat(path)


# --------------------------------------------------------------------- School
def test_school_shapes_and_tasks():
    school = load_school()
    assert school.data.shape == (15362, 27) and school.data.dtype == np.float64
    assert school.target.shape == (15362,) and school.tasks.shape == (15362,)
    assert np.array_equal(np.unique(school.tasks), np.arange(1, 140))
    assert np.all(np.diff(school.tasks) >= 0)  # tasks are contiguous
    assert len(school.feature_names) == 27
    assert np.all(np.ptp(school.data, axis=0) > 0)  # no constant column
    X, y, tasks = load_school(return_X_y=True)
    assert np.array_equal(X, school.data) and np.array_equal(y, school.target)
    assert np.array_equal(tasks, school.tasks)


def test_school_splits():
    school = load_school()
    n = len(school.target)
    assert len(school.splits) == 10
    for train, test in school.splits:
        assert np.intersect1d(train, test).size == 0
        assert np.array_equal(np.union1d(train, test), np.arange(n))
        for t in np.unique(school.tasks):
            rows = np.flatnonzero(school.tasks == t)
            frac = np.isin(rows, train).mean()
            assert 0.70 <= frac <= 0.80, (t, frac)


def test_school_matches_raw():
    raw = _loadmat(_shared("school", "school_b.mat"))
    school = load_school()
    X = raw["x"].T
    const = np.flatnonzero(np.ptp(X, axis=0) == 0)
    assert const.size == 1
    assert np.array_equal(np.delete(X, const, axis=1), school.data)
    assert np.array_equal(raw["y"].ravel(), school.target)
    starts = np.flatnonzero(np.r_[True, np.diff(school.tasks) != 0]) + 1
    assert np.array_equal(raw["task_indexes"].ravel(), starts)
    split = _loadmat(_shared("school", "school_1_indexes.mat"))
    train, test = school.splits[0]
    assert np.array_equal(np.sort(split["tr"].ravel() - 1), train)
    assert np.array_equal(np.sort(split["tst"].ravel() - 1), test)


# ------------------------------------------------------------------- Landmine
def test_landmine_shapes_and_tasks():
    mine = load_landmine()
    assert mine.data.shape == (14820, 9) and mine.data.dtype == np.float64
    assert mine.target.shape == (14820,) and mine.target.dtype.kind == "i"
    assert mine.tasks.shape == (14820,) and mine.tasks.dtype.kind == "i"
    assert set(np.unique(mine.target)) == {0, 1}
    assert np.array_equal(np.unique(mine.tasks), np.arange(1, 30))
    assert np.all(np.diff(mine.tasks) >= 0)
    sizes = np.bincount(mine.tasks)[1:]
    assert sizes.min() == 445 and sizes.max() == 690
    assert mine.feature_names == [f"feature_{j}" for j in range(9)]
    assert "Xue" in mine.DESCR and "feature_0" in mine.DESCR
    assert np.all(np.isfinite(mine.data))
    X, y, tasks = load_landmine(return_X_y=True)
    assert np.array_equal(X, mine.data) and np.array_equal(y, mine.target)
    assert np.array_equal(tasks, mine.tasks)


def test_landmine_positive_rate_per_task():
    mine = load_landmine()
    for t in range(1, 30):
        rate = mine.target[mine.tasks == t].mean()
        assert 0.029 <= rate <= 0.094, (t, rate)


def test_landmine_matches_raw():
    raw = _loadmat(_shared("landmine", "LandmineData.mat"))
    mine = load_landmine()
    feats, labels = raw["feature"][0], raw["label"][0]
    assert len(feats) == 29
    for t in range(29):
        rows = mine.tasks == t + 1
        assert np.array_equal(mine.data[rows], feats[t])  # exact, float64
        assert np.array_equal(mine.target[rows], labels[t].ravel())


# ------------------------------------------------------------ Computer survey
def test_survey_shapes():
    survey = load_computer_survey()
    assert survey.data.shape == (20, 13) and survey.data.dtype == np.float64
    assert survey.target.shape == (20, 190) and survey.target.dtype == np.float64
    assert set(np.unique(survey.data)) == {-1.0, 1.0}  # no constant column
    assert np.all(np.ptp(survey.data, axis=0) > 0)
    assert survey.target.min() >= 0 and survey.target.max() <= 10
    assert len(survey.feature_names) == 13
    assert np.array_equal(survey.train_profiles, np.arange(16))
    assert np.array_equal(survey.test_profiles, np.arange(16, 20))
    assert "Lenk" in survey.DESCR and "2.381" in survey.DESCR
    X, Y = load_computer_survey(return_X_y=True)
    assert np.array_equal(X, survey.data) and np.array_equal(Y, survey.target)


def test_survey_long_matches_wide():
    survey = load_computer_survey()
    assert survey.data_long.shape == (3800, 13)
    assert survey.target_long.shape == (3800,) and survey.tasks_long.shape == (3800,)
    assert np.array_equal(np.unique(survey.tasks_long), np.arange(1, 191))
    assert np.all(np.bincount(survey.tasks_long)[1:] == 20)
    for t in (1, 2, 95, 190):
        rows = survey.tasks_long == t
        assert np.array_equal(survey.data_long[rows], survey.data)
        assert np.array_equal(survey.target_long[rows], survey.target[:, t - 1])
    # the long-format training mask given in DESCR
    train = np.isin(np.arange(3800) % 20, survey.train_profiles)
    assert train.sum() == 16 * 190
    profiles = np.tile(np.arange(20), 190)
    assert np.array_equal(
        survey.target_long[train].reshape(190, 16),
        survey.target[survey.train_profiles].T)
    assert np.all(profiles[train] < 16)


def test_survey_matches_raw():
    raw = _loadmat(_shared("computer_survey", "conjointAnalysisComputerBuyers.mat"))
    survey = load_computer_survey()
    design = raw["designMarix"]
    assert np.all(design[:, 0] == 1)
    assert np.array_equal(design[:, 1:], survey.data)
    assert np.array_equal(raw["likeBuy"].T, survey.target)
    like = np.loadtxt(_shared("computer_survey", "LikeBuy.txt"), skiprows=1)
    assert np.array_equal(like.T, survey.target)
