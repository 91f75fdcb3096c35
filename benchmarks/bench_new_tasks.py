"""New tasks from the learned structure: ``adapt`` against single-task models.

School (139 schools, regression) and Landmine (29 fields, binary classification):
a third of the tasks is held out entirely (a fixed seed per split; ``--splits``
splits).  On the rest, features standardized on their rows, ``MultiTaskRegressorCV``
/ ``MultiTaskClassifierCV`` (3-fold ``TaskKFold``-like default folds, a short path)
fits each penalty (mean, trace, l21).  Then for each held-out task, ``--draws`` draws of
``k`` = 5, 10, 20 of its rows (Landmine: a draw with both classes, the positives
being rare), each method is fitted on those k rows and scored on the task's other
rows:

adapt <penalty>   ``est.adapt(X_k, y_k)``: the new task shrunk to the learned
                  structure, its strength by leave-one-out
shared <penalty>  the part common to the tasks (``shared_coef``), no rows used
single            ``RidgeCV(alphas=logspace(-3, 3, 13))`` / ``LogisticRegressionCV``
                  (Cs=10, stratified folds as many as the rarer class allows, at most
                  5; ``LogisticRegression()`` with a single row of a class) on the
                  same k rows

Scores: School, R^2 of each task's held-out rows pooled over the held-out tasks
(explained variance, as Argyriou et al.), the median over draws; Landmine, the mean
over tasks of the AUC of each task's other rows, the median over draws.  Then the
mean over splits.  Run time a few minutes with ``OMP_NUM_THREADS=1``.

Usage::

    python benchmarks/bench_new_tasks.py           # 3 splits
    python benchmarks/bench_new_tasks.py --quick   # 1 split, 2 draws (a minute)
"""

import sys
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, RidgeCV
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskClassifierCV, MultiTaskRegressorCV
from skmtl._estimators._new_tasks import shared_coef
from skmtl.datasets import load_landmine, load_school
from _common import Parser, banner, print_environment, print_table

KS = (5, 10, 20)
PENALTIES = ("mean", "trace", "l21")


def split_tasks(tasks, seed):
    """Held-out (a third) and training task labels."""
    labels = np.unique(tasks)
    held = np.random.RandomState(seed).permutation(labels)[: len(labels) // 3]
    return np.isin(tasks, held), held


def draw(y, k, rng, classifier):
    """k row indices of one task (a classifier's: both classes present)."""
    for _ in range(1000):
        rows = rng.choice(len(y), k, replace=False)
        if not classifier or np.unique(y[rows]).size == 2:
            return rows
    raise RuntimeError("no draw with both classes")


def single_task(X, y, classifier):
    if not classifier:
        return RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(X, y)
    folds = min(5, np.bincount(y).min())
    if folds < 2:
        return LogisticRegression().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # sklearn 1.9's default changes
        return LogisticRegressionCV(Cs=10, cv=folds).fit(X, y)


def scores(X, y, models, classifier):
    """AUC of each model on (X, y), or (SSE, SST) to pool for R^2."""
    out = {}
    for name, model in models.items():
        if classifier:
            out[name] = roc_auc_score(y, model(X))
        else:
            out[name] = np.array([np.sum((y - model(X)) ** 2), np.sum((y - y.mean()) ** 2)])
    return out


def run_split(X, y, tasks, seed, args, classifier):
    held_rows, held = split_tasks(tasks, seed)
    scaler = StandardScaler().fit(X[~held_rows])
    X = scaler.transform(X)
    cv_class = MultiTaskClassifierCV if classifier else MultiTaskRegressorCV
    fitted, seconds = {}, {}
    for penalty in PENALTIES:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # grid-edge and convergence notes
            fitted[penalty] = cv_class(penalty=penalty, alphas=args.n_alphas, cv=3).fit(
                X[~held_rows], y[~held_rows], tasks=tasks[~held_rows])
        seconds[penalty] = time.perf_counter() - start
    rng = np.random.RandomState(seed)
    result = {}  # (method, k) -> list over draws of the score
    adapt_ms = []
    for k in KS:
        per_draw = []
        for _ in range(args.draws):
            acc = {}
            for t in held:
                Xt, yt = X[tasks == t], y[tasks == t]
                rows = draw(yt, k, rng, classifier)
                rest = np.setdiff1d(np.arange(len(yt)), rows)
                models = {}
                for penalty, est in fitted.items():
                    start = time.perf_counter()
                    model = est.adapt(Xt[rows], yt[rows])
                    adapt_ms.append(1e3 * (time.perf_counter() - start))
                    models[f"adapt {penalty}"] = (model.decision_function if classifier
                                                  else model.predict)
                    coef, intercept = shared_coef(est)
                    models[f"shared {penalty}"] = (
                        lambda Z, c=coef, b=intercept: Z @ c[0] + b[0])
                single = single_task(Xt[rows], yt[rows], classifier)
                models["single"] = single.decision_function if classifier else single.predict
                for name, value in scores(Xt[rest], yt[rest], models, classifier).items():
                    acc.setdefault(name, []).append(value)
            per_draw.append({name: np.mean(v) if classifier else
                             1 - np.sum(v, axis=0)[0] / np.sum(v, axis=0)[1]
                             for name, v in acc.items()})
        for name in per_draw[0]:
            result[name, k] = np.median([d[name] for d in per_draw])
    return result, seconds, np.median(adapt_ms)


def run_dataset(name, loader, classifier, args):
    X, y, tasks = loader(return_X_y=True)
    y = y.astype(int) if classifier else y
    banner(f"{name}: {np.unique(tasks).size} tasks, a third held out; "
           f"{'mean AUC' if classifier else 'pooled R^2 (explained variance)'}")
    splits = [run_split(X, y, tasks, seed, args, classifier) for seed in range(args.splits)]
    names = sorted({m for m, _ in splits[0][0]},
                   key=lambda m: (m.split()[0] != "adapt", m.split()[0] != "single", m))
    rows = []
    for method in names:
        values = [np.array([s[0][method, k] for s in splits]) for k in KS]
        rows.append([method] + [f"{v.mean():.3f} +- {v.std():.3f}" for v in values])
    print_table(["method"] + [f"k={k}" for k in KS], rows)
    fit_s = {p: np.mean([s[1][p] for s in splits]) for p in PENALTIES}
    print(f"\nCV fit on the training tasks (s, mean over splits): "
          + ", ".join(f"{p} {s:.1f}" for p, s in fit_s.items()))
    print(f"adapt: median {np.median([s[2] for s in splits]):.1f} ms a call")
    for k in KS[:2]:
        best = max(splits[0][0][m, k] for m in names if m.startswith("adapt"))
        gain = [max(s[0][m, k] for m in names if m.startswith("adapt")) - s[0]["single", k]
                for s in splits]
        print(f"k={k}: best adapt - single = {np.mean(gain):+.3f} (mean over splits; "
              f"first split's best adapt {best:.3f})")
    print()


def main(argv=None):
    parser = Parser(__doc__)
    parser.quick_option("--splits", 3, 1, type=int, help="held-out splits")
    parser.quick_option("--draws", 5, 2, type=int, help="draws of the k rows a task")
    parser.quick_option("--n-alphas", 20, 8, type=int, help="alphas on each CV path")
    args = parser.parse(argv)
    print_environment()
    start = time.perf_counter()
    run_dataset("School", load_school, False, args)
    run_dataset("Landmine", load_landmine, True, args)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
