"""Computer-survey benchmark: every skmtl penalty on the conjoint ratings, test RMSE.

190 people (tasks) rated the same 20 computer profiles 0-10; each profile has 13
attributes coded +-1 (shared design X, wide format ``fit(X, Y)`` with Y of shape
(n_profiles, 190)).  Protocol of the literature: profiles 1-16 train, 17-20 test.

* The +-1 design is used as is (no scaling); one unpenalized intercept per person.
* ``alpha`` (and the penalty's own parameter, from a short list of penalty objects)
  chosen by ``MultiTaskRegressorCV`` with leave-profiles-out CV inside the 16
  training profiles: ``KFold(4, shuffle=True)`` over the rows (4 profiles held out
  per fold; every person is in every fold since X is shared), criterion = mean over
  persons of the validation MSE.  Different inner-CV seeds are run (default 0, 1, 2)
  to show how much the choice of hyperparameters moves the test score.
* Test RMSE = sqrt( mean over the 190 persons and the 4 test profiles of the squared
  error ): one pooled root mean squared error over all 760 test ratings.  Also shown:
  mean over persons of each person's RMSE (MALSAR's ``eval_MTL_rmse``, which weights
  tasks by their size, equal here).

Methods: independent ridge (``penalty="l2"``), pooled ridge (one model for all
persons; extra baseline), independent lasso (``"l1"``) and the multi-task penalties
``"l21"``, ``"trace"``, ``"mean"``, ``"graph"`` (10-nearest-neighbour graph of the
persons, from the correlation of their 16 training ratings), ``"cluster"`` and
``"dirty"``.

Usage::

    python benchmarks/bench_survey.py            # 3 inner-CV seeds (a few minutes)
    python benchmarks/bench_survey.py --quick    # smoke run (seconds)
"""

import sys

import numpy as np
from sklearn.model_selection import KFold
from sklearn.neighbors import kneighbors_graph

from skmtl.datasets import load_computer_survey
from _common import (Parser, add_path_cv_options, by_method, met, multitask_methods,
                     path_cv, pm, print_environment, print_selection_table, run_methods,
                     run_splits, summarize)

LITERATURE = {"single-task": 2.381, "multi-task": (2.052, 2.072)}
GOAL_RMSE = 2.05
SINGLE_TASK = ("independent ridge", "pooled ridge", "independent lasso (l1)")


# ------------------------------------------------------------------------ methods
def person_graph(Y_train, n_neighbors=10):
    """Symmetric kNN graph of the persons from the correlation of their ratings."""
    R = Y_train.T - Y_train.T.mean(axis=1, keepdims=True)
    R /= np.maximum(np.linalg.norm(R, axis=1, keepdims=True), 1e-12)
    A = kneighbors_graph(R, n_neighbors, include_self=False).toarray()
    return np.maximum(A, A.T)


def methods(quick, adjacency):
    """(name, [(label, penalty)], per person (not pooled), eps): eps = smallest /
    largest alpha."""
    return [
        ("independent ridge", [("", "l2")], True, 1e-3),
        ("pooled ridge", [("", "l2")], False, 1e-6),
        ("independent lasso (l1)", [("", "l1")], True, 1e-3),
    ] + multitask_methods(
        quick, adjacency, "graph (10-NN persons)", eps=1e-3,
        mean=(0.001, 0.01, 0.1), graph=(0.001, 0.01, 0.1),
        cluster=((2, 0.1), (3, 0.1), (5, 0.1), (2, 1.0)), dirty=(0.15, 0.3, 0.45))


# --------------------------------------------------------------------------- run
def run_seed(survey, seed, args):
    X, Y = survey.data, survey.target
    tr, te = survey.train_profiles, survey.test_profiles
    X_tr, Y_tr, X_te, Y_te = X[tr], Y[tr], X[te], Y[te]
    n_tasks = Y.shape[1]
    folds = list(KFold(args.folds, shuffle=True, random_state=seed).split(X_tr))
    adjacency = person_graph(Y_tr)
    # pooled model: the long format without task ids, folds by profile
    X_long, y_long = np.tile(X_tr, (n_tasks, 1)), Y_tr.T.ravel()
    profile = np.tile(np.arange(len(tr)), n_tasks)
    long_folds = [(np.flatnonzero(np.isin(profile, a)), np.flatnonzero(np.isin(profile, b)))
                  for a, b in folds]

    def fit(penalties, per_person, eps):
        X_fit, Y_fit, cv = (X_tr, Y_tr, folds) if per_person else (X_long, y_long,
                                                                    long_folds)
        model, chosen = path_cv(penalties, eps, cv, args, X_fit, Y_fit)
        P = model.predict(X_te)
        if not per_person:  # the pooled model
            P = np.repeat(P[:, None], n_tasks, axis=1)
        err = (Y_te - P) ** 2
        return {"rmse": float(np.sqrt(err.mean())),
                "rmse_person": float(np.sqrt(err.mean(axis=0)).mean()), **chosen}

    return run_methods(methods(args.quick, adjacency), fit, args, f"seed {seed}",
                       lambda r: f"RMSE {r['rmse']:.4f}")


# ------------------------------------------------------------------------ output
def report(rows, args):
    print_selection_table(
        rows, "Computer survey (190 persons x 20 profiles): profiles 1-16 train, 17-20 "
        f"test; alpha by {args.folds}-fold leave-profiles-out path CV ({args.n_alphas} "
        f"alphas) inside the training profiles; mean +- std over {rows[0]['n_cv_seeds']} "
        "inner-CV seed(s) (the test set is fixed)",
        ["method", "test RMSE", "per-person RMSE"],
        lambda r: [r["method"], pm(r, "rmse"), pm(r, "rmse_person")], "seeds", args)

    by, mtl = by_method(rows, SINGLE_TASK)
    best = min(mtl, key=lambda r: r["rmse_mean"])
    stl = by["independent ridge"]
    ok_level = best["rmse_mean"] <= GOAL_RMSE
    ok_stl = best["rmse_mean"] < stl["rmse_mean"]
    print(f"\nGoal (multi-task test RMSE <= {GOAL_RMSE} and below single-task):")
    print(f"  best: {best['method']} {best['rmse_mean']:.4f} vs independent ridge "
          f"{stl['rmse_mean']:.4f} ({100 * (1 - best['rmse_mean'] / stl['rmse_mean']):.1f}% "
          "lower)")
    n_below = sum(r["rmse_mean"] < stl["rmse_mean"] for r in mtl)
    print(f"  multi-task penalties below independent ridge: {n_below} of {len(mtl)}")
    print(f"  <= {GOAL_RMSE}: {met(ok_level)};  below single-task: {met(ok_stl)};  "
          f"overall: {met(ok_level and ok_stl)}")
    lo, hi = LITERATURE["multi-task"]
    print(f"""
Literature (Zhang & Yang survey, Table I; not the same protocol): test RMSE
  single-task {LITERATURE['single-task']}, multi-task {lo}-{hi}.  Ours: independent ridge
  {stl['rmse_mean']:.3f}, multi-task {min(r['rmse_mean'] for r in mtl):.3f}-{max(r['rmse_mean'] for r in mtl):.3f}.

Protocol differences: the same calibration / validation profiles (1-16 / 17-20).
  Whether the papers pool the squared errors over all test ratings or average
  per-person RMSEs could not be checked here; both are printed (they differ by
  about 0.2).  Here every method, the single-task ridge included (one alpha shared
  by all persons), is tuned by leave-profiles-out CV inside the 16 training
  profiles; the papers' baselines and tuning are not documented in the data notes.""")


# -------------------------------------------------------------------------- main
def main(argv=None):
    """Run the benchmark, print the tables, return one dict a method.

    ``argv``: command-line arguments (``None``: the defaults, not ``sys.argv``, so
    that another script can call ``main()`` or ``main(["--quick"])``).
    """
    parser = Parser(__doc__, "smoke run: one inner-CV seed, short grids and lists")
    parser.quick_option("--cv-seeds", [0, 1, 2], [0], type=int, nargs="*",
                        help="seeds of the inner KFold (default 0 1 2; --quick: 0)")
    parser.add_argument("--folds", type=int, default=4,
                        help="inner CV folds over the 16 training profiles")
    add_path_cv_options(parser, n_alphas=(12, 8), max_iter=5000)
    args = parser.parse(argv)

    print_environment()
    survey = load_computer_survey()
    return run_splits(args.cv_seeds, lambda seed: run_seed(survey, seed, args),
                      lambda seed: f"inner-CV seed {seed}",
                      lambda per_seed: summarize(per_seed, "survey", ("rmse", "rmse_person"),
                                                 count="n_cv_seeds"),
                      lambda rows, per_seed: report(rows, args))


if __name__ == "__main__":
    main(sys.argv[1:])
