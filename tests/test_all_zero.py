"""A fit whose solution is all zero says so, and gives alpha_max (issue 15)."""

import warnings

import numpy as np
import pytest

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.linear import multitask_path

rng = np.random.RandomState(0)
X = rng.randn(500, 8)
y = 0.3 * X[:, 0] + rng.randn(500)


@pytest.mark.parametrize("est, target", [
    (MultiTaskRegressor(alpha=1.0), y),
    (MultiTaskClassifier(alpha=1.0), (y > 0).astype(int)),
    (MultiTaskRegressor(penalty="trace", alpha=10.0), np.column_stack([y, -y])),
], ids=["l21", "logistic", "trace"])
def test_an_all_zero_solution_warns_with_alpha_max(est, target):
    with pytest.warns(UserWarning, match=r"Every coefficient is zero: alpha=\S+ is at or "
                                         r"above alpha_max=(\S+),") as record:
        est.fit(X, target)
    assert not np.any(est.coef_)
    top = float(str(record[0].message).split("alpha_max=")[1].split(",")[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # below alpha_max: a model, no warning
        est.set_params(alpha=top / 2).fit(X, target)
    assert np.any(est.coef_)


def test_quadratic_penalties_and_paths_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        MultiTaskRegressor(penalty="l2", alpha=1e6).fit(X, y)  # shrinks, never zero
        multitask_path(MultiTaskRegressor(), X, y, alphas=4)  # starts at alpha_max
