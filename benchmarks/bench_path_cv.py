"""A 20-alpha L21 path with 5-fold CV: skmtl's MultiTaskRegressorCV vs sklearn's
MultiTaskLassoCV on the same folds, grid and tolerance, measured in one run.

MultiTaskLassoCV needs one X shared by all tasks, so the comparison runs on a
synthetic shared-X problem and on the computer survey (190 people rating the same
20 profiles); School has no shared X (each school its own students).
"""

import sys

import numpy as np
from sklearn.linear_model import MultiTaskLassoCV
from sklearn.model_selection import KFold

from skmtl import MultiTaskRegressorCV
from skmtl.datasets import load_computer_survey
from _common import Parser, best_time, no_convergence_warnings


def _shared_x_problem(n, p, T, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    W = np.zeros((p, T))
    support = rng.choice(p, max(1, p // 10), replace=False)
    W[support] = rng.randn(support.size, T)
    return X, X @ W + rng.randn(n, T)


def compare(name, X, Y, n_alphas, tol, repeats):
    cv = KFold(5, shuffle=True, random_state=0)
    ours_cv = MultiTaskRegressorCV(alphas=n_alphas, cv=cv, tol=tol, max_iter=10000)
    ref_cv = MultiTaskLassoCV(alphas=n_alphas, cv=cv, tol=tol, max_iter=10000)
    with no_convergence_warnings():
        t_ours, ours = best_time(lambda: ours_cv.fit(X, Y), repeats)
        t_ref, ref = best_time(lambda: ref_cv.fit(X, Y), repeats)
    return {
        "problem": name, "shape": f"n={X.shape[0]} p={X.shape[1]} T={Y.shape[1]}",
        "skmtl_s": t_ours, "sklearn_s": t_ref, "ratio": t_ours / t_ref,
        "same_alpha": bool(np.isclose(ours.alpha_, ref.alpha_)),
        "max_coef_diff": float(np.abs(ours.coef_ - ref.coef_).max()),
    }


def main(argv=None):
    args = Parser(__doc__).parse(argv)
    repeats = 1 if args.quick else 3
    problems = [("synthetic shared X", *_shared_x_problem(*((2000, 100, 10) if args.quick
                                                          else (20000, 200, 20))))]
    survey = load_computer_survey()  # a real shared-X data set: 190 people rate 20 profiles
    problems.append(("computer survey (190 tasks)", survey.data, survey.target))
    rows = [compare(name, X, Y, 20, 1e-4, repeats) for name, X, Y in problems]
    print("20-alpha L21 path, 5-fold CV, tol=1e-4: skmtl MultiTaskRegressorCV vs "
          "sklearn MultiTaskLassoCV (same folds and grid; best of %d)" % repeats)
    print(f"{'problem':30s} {'shape':22s} {'skmtl s':>8s} {'sklearn s':>9s} {'ratio':>6s} "
          f"{'same alpha':>10s} {'max |dcoef|':>11s}")
    for r in rows:
        print(f"{r['problem']:30s} {r['shape']:22s} {r['skmtl_s']:8.3f} {r['sklearn_s']:9.3f} "
              f"{r['ratio']:6.2f} {str(r['same_alpha']):>10s} {r['max_coef_diff']:11.2e}")
    print("goal: ratio <= 0.5.  School has no shared X (each school its own students), "
          "so MultiTaskLassoCV cannot fit it; the computer survey is the real shared-X "
          "data set.")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
