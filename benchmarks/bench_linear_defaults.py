"""The default ``alpha="auto"`` of MultiTaskRegressor / MultiTaskClassifier, measured.

Part A (design) chooses the rule's two constants on synthetic problems: for each
candidate, the held-out score's regret against the best alpha of a fine grid
(the oracle, scored on the same test rows), per penalty family; the engine's
constants (``LinearEngine.norm_factor`` and ``ridge_factor``) are the
candidates with the smallest mean regret.

Part B (check) then runs the defaults, unchanged, on data the constants were
not chosen on: School, Landmine, the computer survey, diabetes and breast cancer
split into pseudo-tasks and a sparse TF-IDF-like text problem.  Each row: the
default's held-out score, the CV-tuned estimator's (MultiTaskRegressorCV /
MultiTaskClassifierCV, 20 alphas, 3 folds), sklearn's ``Ridge()`` /
``LogisticRegression()`` fitted per task with their defaults, and the fit times
(medians of interleaved repeats, the three measured in the same run).  Scores:
mean over tasks of R^2 (regression) or of ROC AUC (classification).

Part C times the fit at one BLAS thread against the default thread count as the
work of an iteration's largest product grows (``SMALL_WORK``, the threshold of
``skmtl.linear._path.solve_threads``).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_linear_defaults.py --part AB``, and
``python benchmarks/bench_linear_defaults.py --part C`` without OMP_NUM_THREADS (it
needs the default thread count).
"""

import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmtl import (MultiTaskClassifier, MultiTaskClassifierCV, MultiTaskRegressor,
                   MultiTaskRegressorCV)
from skmtl.datasets import load_computer_survey, load_landmine, load_school
from skmtl.linear._engine import LinearEngine
from skmtl.metrics import make_task_scorer, task_average
from _common import Parser, print_environment

NORM = (0.25, 0.5, 0.7, 1.0, 2.0)  # candidate norm_factor: of sqrt(log(2 p) / n)
RIDGE = (0.1, 0.3, 1.0, 3.0, 10.0)  # candidate ridge_factor: of c s2 p / n
AUC = make_task_scorer(roc_auc_score, response_method="decision_function")


def _score(est, X, y, tasks):
    if est._classifier:
        return AUC(est, X, y, tasks=tasks)
    return est.score(X, y, tasks=tasks)


# ------------------------------------------------------------------ part A: design
def _synthetic(n_t, p, snr, classify, seed, T=8):
    """Long format, correlated standardised features, a shared sparse support with
    task-specific deviations, noise at signal-to-noise ratio ``snr``."""
    rng = np.random.RandomState(seed)
    n = n_t * T
    C = 0.5 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.randn(2 * n, p) @ np.linalg.cholesky(C).T
    X = StandardScaler().fit_transform(X)
    tasks = np.tile(np.arange(T), 2 * n_t)
    support = rng.choice(p, max(2, p // 5), replace=False)
    W = np.zeros((p, T))
    W[support] = rng.randn(support.size, 1) + 0.5 * rng.randn(support.size, T)
    f = np.einsum("ij,ji->i", X, W[:, tasks])
    y = f + rng.randn(2 * n) * f.std() / np.sqrt(snr)
    if classify:
        y = (y > np.median(y)).astype(int)
    half = slice(0, n), slice(n, 2 * n)
    return [(X[h], y[h], tasks[h]) for h in half]


def _regrets(Est, penalty, train, test, candidates):
    """Regret of each candidate constant against the best alpha of a fine grid."""
    name = "norm_factor" if candidates is NORM else "ridge_factor"
    kept = getattr(LinearEngine, name)
    alphas = []
    try:
        for c in candidates:  # the default rule with constant c
            setattr(LinearEngine, name, c)
            alphas.append(Est(penalty=penalty).fit(*train[:2], tasks=train[2]).alpha_)
    finally:
        setattr(LinearEngine, name, kept)
    grid = np.union1d(np.median(alphas) * np.geomspace(1e-2, 1e2, 13), alphas)
    scores = {a: _score(Est(penalty=penalty, alpha=a).fit(*train[:2], tasks=train[2]),
                        *test) for a in grid}
    best = max(scores.values())
    return [best - scores[a] for a in alphas]


def design(quick):
    print("\nPart A (design, synthetic): mean / worst regret of the held-out score "
          "against the best alpha of a grid, per candidate constant")
    sizes = [(40, 20), (200, 100)] if quick else [(40, 20), (40, 100), (200, 20),
                                                    (200, 100), (1000, 20)]
    snrs = (0.5, 4.0)
    families = [("regression", MultiTaskRegressor, ("l21", "trace"), ("l2", "mean")),
                ("classification", MultiTaskClassifier, ("l21",), ("l2",))]
    for name, Est, norms, quads in families:
        for label, pens, cands in (("norm_factor", norms, NORM),
                                   ("ridge_factor", quads, RIDGE)):
            regret = []
            for seed, ((n_t, p), snr) in enumerate(
                    (s, r) for s in sizes for r in snrs):
                train, test = _synthetic(n_t, p, snr, Est is MultiTaskClassifier, seed)
                for pen in pens:
                    regret.append(_regrets(Est, pen, train, test, cands))
            regret = np.array(regret)
            cells = "  ".join(f"{c:g}: {m:.3f}/{w:.3f}" for c, m, w in
                              zip(cands, regret.mean(0), regret.max(0)))
            pick = cands[int(np.argmin(regret.mean(0)))]
            print(f"  {name:14s} {label:13s} ({'+'.join(pens)}, {len(regret)} fits) "
                  f"{cells}  -> {pick:g}")


# ------------------------------------------------------------------- part B: check
def _pseudo_tasks(X, y, n_tasks, seed):
    return np.random.RandomState(seed).randint(n_tasks, size=len(y))


def _text_like(seed=0, n=3000, p=5000, T=4):
    """Sparse TF-IDF-like rows: Zipf word frequencies, ~60 words a document, tf-idf
    weights, rows of unit l2 norm; each task's label from a few topic words."""
    import scipy.sparse as sp

    rng = np.random.RandomState(seed)
    freq = 1.0 / np.arange(1, p + 1) ** 1.1
    freq /= freq.sum()
    lengths = rng.poisson(60, n) + 5
    rows = np.repeat(np.arange(n), lengths)
    cols = rng.choice(p, lengths.sum(), p=freq)
    tasks = rng.randint(T, size=n)
    topic = rng.choice(np.arange(50, 2000), (T, 30), replace=False)
    label = rng.rand(n) < 0.5
    # a positive document repeats its task's topic words
    extra = [rng.choice(topic[tasks[i]], 4) for i in np.flatnonzero(label)]
    rows = np.concatenate([rows, np.repeat(np.flatnonzero(label), 4)])
    cols = np.concatenate([cols, np.concatenate(extra)])
    counts = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, p))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=p)
    idf = np.log((1 + n) / (1 + df)) + 1
    X = sp.csr_matrix(counts.multiply(idf[None]))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    X = sp.csr_matrix(X.multiply(1 / np.maximum(norms, 1e-12)[:, None]))
    flip = rng.rand(n) < 0.1  # label noise
    return X, (label ^ flip).astype(int), tasks


def _check_sets(quick):
    school_X, school_y, school_t = load_school(return_X_y=True)
    mine_X, mine_y, mine_t = load_landmine(return_X_y=True)
    survey_X, survey_Y = load_computer_survey(return_X_y=True)
    dia_X, dia_y = load_diabetes(return_X_y=True)
    bc_X, bc_y = load_breast_cancer(return_X_y=True)
    sets = [
        ("school", False, school_X, school_y, school_t, ("l21", "mean")),
        ("landmine", True, mine_X, mine_y, mine_t, ("l21", "l2")),
        ("survey", False, survey_X, survey_Y, None, ("l21", "mean")),
        ("diabetes/4", False, dia_X, dia_y, _pseudo_tasks(dia_X, dia_y, 4, 0),
         ("l21", "l2")),
        ("cancer/4", True, bc_X, bc_y, _pseudo_tasks(bc_X, bc_y, 4, 0), ("l21", "l2")),
        ("text-like", True, *_text_like(), ("l21",)),
    ]
    return sets[:3] if quick else sets


def _split(X, y, tasks, classify, seed=0):
    if tasks is None:  # wide: split the rows
        return train_test_split(X, y, test_size=0.3, random_state=seed) + [None, None]
    key = tasks * 2 + y if classify else tasks
    return train_test_split(X, y, tasks, test_size=0.3, random_state=seed, stratify=key)


def _per_task_sklearn(classify, Xtr, ytr, ttr, Xte, yte, tte):
    """sklearn's defaults fitted per task: the held-out score."""
    if ttr is None:  # wide: one model a column (Ridge takes them all at once)
        pred = Ridge().fit(Xtr, ytr).predict(Xte)
        return task_average(r2_score, yte, pred)
    pred = np.empty(len(yte))
    for t in np.unique(ttr):
        tr, te = ttr == t, tte == t
        if classify:
            model = LogisticRegression().fit(Xtr[tr], ytr[tr])
            pred[te] = model.decision_function(Xte[te])
        else:
            pred[te] = Ridge().fit(Xtr[tr], ytr[tr]).predict(Xte[te])
    metric = roc_auc_score if classify else r2_score
    return task_average(metric, yte, pred, tasks=tte)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def check(quick, repeats):
    print("\nPart B (check, the defaults unchanged): held-out score and fit time "
          "(median of interleaved repeats)")
    head = (f"  {'data':11s} {'penalty':7s} {'alpha_':>9s} {'default':>8s} {'CV':>7s} "
            f"{'sklearn':>8s} {'used':>5s} {'t_def':>7s} {'t_CV':>7s} {'t_skl':>7s} "
            f"{'t_CV/t_def':>10s}")
    print(head)
    for name, classify, X, y, tasks, pens in _check_sets(quick):
        Xtr, Xte, ytr, yte, ttr, tte = _split(X, y, tasks, classify)
        if not hasattr(Xtr, "tocsr"):  # standardised (the text stays tf-idf)
            scaler = StandardScaler().fit(Xtr)
            Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
        for pen in pens:
            Est, EstCV = (MultiTaskClassifier, MultiTaskClassifierCV) if classify else \
                (MultiTaskRegressor, MultiTaskRegressorCV)
            cv_kw = dict(scoring=AUC) if classify else {}
            runs = {
                "def": lambda: Est(penalty=pen).fit(Xtr, ytr, tasks=ttr),
                "cv": lambda: EstCV(penalty=pen, alphas=20, cv=3, **cv_kw).fit(
                    Xtr, ytr, tasks=ttr),
                "skl": lambda: _per_task_sklearn(classify, Xtr, ytr, ttr, Xte, yte, tte),
            }
            times = {k: [] for k in runs}
            out = {}
            for _ in range(repeats):  # interleaved
                for k, fn in runs.items():
                    out[k], t = _timed(fn)
                    times[k].append(t)
            med = {k: float(np.median(v)) for k, v in times.items()}
            default, cv = out["def"], out["cv"]
            used = np.mean(np.any(np.atleast_2d(default.coef_).reshape(
                -1, Xtr.shape[1]) != 0, axis=0))
            print(f"  {name:11s} {pen:7s} {default.alpha_:9.3g} "
                  f"{_score(default, Xte, yte, tte):8.3f} {_score(cv, Xte, yte, tte):7.3f} "
                  f"{out['skl']:8.3f} {used:5.0%} {med['def']:7.3f} {med['cv']:7.3f} "
                  f"{med['skl']:7.3f} {med['cv'] / med['def']:10.1f}", flush=True)


# ------------------------------------------------------------ part C: BLAS threads
def threads(quick, repeats):
    """The fit at one BLAS thread against the default count, by the work of an
    iteration's largest product (the rule: one thread below ``SMALL_WORK``)."""
    import skmtl.linear._path as path
    from threadpoolctl import threadpool_info

    default = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    print(f"\nPart C (BLAS threads, default {default}): fit time at 1 thread and at the "
          f"default count, medians of {max(repeats, 3)} interleaved repeats; "
          f"SMALL_WORK={path.SMALL_WORK:.0e}")
    rng = np.random.RandomState(0)
    sizes = [(500, 20, 4), (2000, 100, 8), (5000, 200, 10), (20000, 300, 16)]
    for n, p, m in sizes[:3] if quick else sizes:
        X, Y = rng.randn(n, p), rng.randn(n, m)
        est = MultiTaskRegressor(alpha=0.01, precompute=False, solver="fista",
                                 max_iter=50, tol=1e-12)
        problem = est._prepare(X, Y, None, None, "l21")
        kept, times = path.SMALL_WORK, {"1": [], "default": []}
        try:
            for _ in range(max(repeats, 3)):
                for key, limit in (("1", np.inf), ("default", 0.0)):
                    path.SMALL_WORK = limit
                    times[key].append(_timed(lambda: est.fit(X, Y))[1])
        finally:
            path.SMALL_WORK = kept
        one, many = (float(np.median(times[k])) for k in ("1", "default"))
        print(f"  n={n:6d} p={p:4d} m={m:3d} work {problem.work:8.1e}: 1 thread "
              f"{one:7.3f} s, default {many:7.3f} s, default/1 {many / one:6.2f}, "
              f"rule: {'1 thread' if problem.work < kept else 'default'}", flush=True)


def main(argv=None):
    parser = Parser(__doc__)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--part", default="ABC", help="any of A, B, C (default ABC)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    repeats = args.repeats or (1 if args.quick else 3)
    print_environment()
    print(f"LinearEngine.norm_factor={LinearEngine.norm_factor}, "
          f"max_fraction={LinearEngine.max_fraction}, "
          f"ridge_factor={LinearEngine.ridge_factor}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and edge warnings: not the subject
        if "A" in args.part:
            design(args.quick)
        if "B" in args.part:
            check(args.quick, repeats)
        if "C" in args.part:
            threads(args.quick, repeats)


if __name__ == "__main__":
    sys.exit(main())
