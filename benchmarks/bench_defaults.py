"""Do the torch network's defaults work untuned?  (issue 18)

A suite of small tabular multi-task problems; on each, the network with its
default settings (``MultiTaskRegressor`` / ``MultiTaskClassifier(backend="torch")``,
``MultiTaskEstimator`` for the mixed case, only ``random_state`` set) against the
best of a small grid that changes one setting at a time from the defaults
(learning rate, epochs, width, activation, weight decay, early stopping), and
against sklearn's ``MLPRegressor`` / ``MLPClassifier`` at their defaults, one per
task.  Scores on held-out rows: mean over tasks of R^2 (regression) or ROC AUC
(classification); the mixed case, the mean of the buy task's AUC and the spend
task's R^2.  The grid's best is chosen on the test rows (an oracle: how far the
defaults are from the best of the grid, not a model-selection result).

Problems: ``reg T20 n40`` (20 tasks of 40 rows reading one tanh representation of
12 features, the issue's case), ``reg T5 n200``, ``clf T10 n100``, ``clf T30 n300``
(binary), School (139 schools, regression, 75 % of each school's rows to train),
Landmine (29 fields, binary, 75 %), and ``buy/spend`` (2,000 rows: buy?
classification, spend in dollars regression, one ``MultiTaskEstimator``).

Columns: default score, best grid score and its setting, best - default (goal <=
0.02), default fit time, the sklearn MLPs' total time and score, time ratio
(default / sklearn; goal <= 1).  One torch thread (``torch.set_num_threads(1)``).

Usage::

    python benchmarks/bench_defaults.py           # the suite (about 10 minutes)
    python benchmarks/bench_defaults.py --quick   # two small problems
    python benchmarks/bench_defaults.py --problems School "reg T5 n200"
    python benchmarks/bench_defaults.py --set "activation='relu'"  # other defaults
    python benchmarks/bench_defaults.py --held-out --compare learning_rate=1e-3

``--held-out``: problems the defaults were not chosen on (the shared tanh
representation at other sizes, noise levels and seeds, of 1,000 rows or more and
under; small subsets of Landmine and School), without the grid: the defaults,
each ``--compare`` setting, and the sklearn MLPs.
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskClassifier, MultiTaskEstimator, MultiTaskRegressor
from skmtl.datasets import load_landmine, load_school

GRID = [  # one setting changed from the defaults
    ("learning_rate=1e-2", dict(learning_rate=1e-2)),
    ("learning_rate=1e-3", dict(learning_rate=1e-3)),
    ("learning_rate=1e-4", dict(learning_rate=1e-4)),
    ("max_epochs=50", dict(max_epochs=50)),
    ("hidden=(256,)", dict(hidden_layer_sizes=(256,))),
    ("hidden=(100,)", dict(hidden_layer_sizes=(100,))),
    ("hidden=(32,)", dict(hidden_layer_sizes=(32,))),
    ("activation=tanh", dict(activation="tanh")),
    ("activation=relu", dict(activation="relu")),
    ("weight_decay=1e-2", dict(weight_decay=1e-2)),
    ("weight_decay=1e-4", dict(weight_decay=1e-4)),
    ("early_stopping=True", dict(early_stopping=True)),
    ("early_stopping=False", dict(early_stopping=False)),
    ("batch_size=200", dict(batch_size=200)),
    ("n_iter_no_change=10", dict(n_iter_no_change=10)),
]


def _synthetic(T, n, classify, seed=0, p=12, n_test=100, noise=None):
    noise = (0.3 if classify else 0.1) if noise is None else noise
    rs = np.random.RandomState(seed)
    A, heads = 2 * rs.randn(p, 4) / np.sqrt(p), rs.randn(4, T)

    def draw(m, rng):
        X = rng.randn(T * m, p)
        tasks = np.repeat(np.arange(T), m)
        f = np.einsum("ij,ji->i", np.tanh(X @ A), heads[:, tasks])
        if classify:
            return X, (f + noise * rng.randn(len(X)) > 0).astype(int), tasks
        return X, f + noise * rng.randn(len(X)), tasks

    return draw(n, np.random.RandomState(seed + 1)) + draw(n_test, np.random.RandomState(
        seed + 2))


def _dataset(load):
    X, y, tasks = load(return_X_y=True)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, stratify=tasks, random_state=0)
    scaler = StandardScaler().fit(X[tr])
    return (scaler.transform(X[tr]), y[tr], tasks[tr], scaler.transform(X[te]), y[te],
            tasks[te])


def _shop(n=2000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n + 1000, 10)
    buy = (X[:, 0] + 0.5 * X[:, 1] + 0.5 * rng.randn(len(X)) > 0).astype(int)
    spend = 300 * np.tanh(X[:, 0]) + 100 * X[:, 2] + 30 * rng.randn(len(X))
    Y = np.column_stack([buy, spend])
    return X[:n], Y[:n], None, X[n:], Y[n:], None


def _task_scores(pred_fn, Xte, yte, tte, classify):
    scores = []
    for t in np.unique(tte):
        rows = tte == t
        if classify and np.unique(yte[rows]).size < 2:
            continue
        p = pred_fn(Xte[rows], tte[rows])
        scores.append(roc_auc_score(yte[rows], p) if classify else r2_score(yte[rows], p))
    return float(np.mean(scores))


def score_network(est, data, kind):
    X, y, tasks, Xte, yte, tte = data
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "mixed":
            est.fit(X, y)
        else:
            est.fit(X, y, tasks=tasks)
    seconds = time.perf_counter() - t0
    if kind == "mixed":
        buy = roc_auc_score(yte[:, 0], est.predict_proba(Xte)[0][:, 1])
        spend = r2_score(yte[:, 1], est.predict(Xte)[1])
        return (buy + spend) / 2, seconds
    classify = kind == "clf"
    pred = (lambda Xr, tr: est.predict_proba(Xr, tasks=tr)[:, 1]) if classify else \
        (lambda Xr, tr: est.predict(Xr, tasks=tr))
    return _task_scores(pred, Xte, yte, tte, classify), seconds


def score_sklearn(data, kind):
    X, y, tasks, Xte, yte, tte = data
    t0 = time.perf_counter()
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "mixed":
            buy = MLPClassifier(random_state=0).fit(X, y[:, 0])
            spend = MLPRegressor(random_state=0).fit(X, y[:, 1])
            seconds = time.perf_counter() - t0
            s = (roc_auc_score(yte[:, 0], buy.predict_proba(Xte)[:, 1])
                 + r2_score(yte[:, 1], spend.predict(Xte))) / 2
            return s, seconds
        for t in np.unique(tasks):
            rows = tasks == t
            cls = MLPClassifier if kind == "clf" else MLPRegressor
            models[t] = cls(random_state=0).fit(X[rows], y[rows])
    seconds = time.perf_counter() - t0

    def pred(Xr, tr):
        m = models[tr[0]]
        return m.predict_proba(Xr)[:, 1] if kind == "clf" else m.predict(Xr)

    return _task_scores(pred, Xte, yte, tte, kind == "clf"), seconds


# held out: problems the defaults were not chosen on (other sizes, noise levels
# and draws): six with validation rows (1,000 rows or more), six without
HELD_OUT = [("noisy reg T50 n80", 50, 80, False, 2.0), ("noisy reg T20 n100", 20, 100, False, 1.0),
            ("reg T10 n400", 10, 400, False, 0.3), ("clf T20 n150", 20, 150, True, 1.0),
            ("noisy clf T40 n60", 40, 60, True, 2.0), ("reg T3 n1500", 3, 1500, False, 0.5),
            ("reg T10 n50", 10, 50, False, 0.3), ("reg T40 n20", 40, 20, False, 0.3),
            ("reg T5 n150", 5, 150, False, 0.3), ("clf T20 n40", 20, 40, True, 0.5),
            ("noisy reg T10 n80", 10, 80, False, 1.5), ("clf T4 n200", 4, 200, True, 0.5),
            ("clf T10 n60", 10, 60, True, 0.5), ("clf T40 n16", 40, 16, True, 0.5),
            ("noisy clf T2 n300", 2, 300, True, 1.0), ("clf T10 n20", 10, 20, True, 0.5),
            ("clf T4 n50", 4, 50, True, 0.5), ("clf T2 n150", 2, 150, True, 0.5),
            ("noisy clf T5 n100", 5, 100, True, 1.0)]


def _subset(load, per_task, seed):
    """``per_task`` training rows of each task (Landmine: a sixth of them, and at
    least 2, mines), the other rows to test: a small real problem."""
    X, y, tasks = load(return_X_y=True)
    rng, train = np.random.RandomState(seed), []
    for t in np.unique(tasks):
        rows = np.flatnonzero(tasks == t)
        if load is load_landmine:
            pos, neg = rows[y[rows] == 1], rows[y[rows] == 0]
            k = max(2, min(len(pos) // 2, per_task // 6))
            train += [rng.choice(pos, k, replace=False),
                      rng.choice(neg, per_task - k, replace=False)]
        else:
            train.append(rng.choice(rows, min(per_task, len(rows) // 2), replace=False))
    tr = np.concatenate(train)
    te = np.setdiff1d(np.arange(len(y)), tr)
    scaler = StandardScaler().fit(X[tr])
    return scaler.transform(X[tr]), y[tr], tasks[tr], scaler.transform(X[te]), y[te], \
        tasks[te]


SUBSETS = [("Landmine 10/task", "clf", load_landmine, 10),
           ("Landmine 16/task", "clf", load_landmine, 16),
           ("Landmine 30/task", "clf", load_landmine, 30),
           ("School 6/task", "reg", load_school, 6)]


def held_out():
    return [(f"{name} s{seed}", "clf" if c else "reg",
             lambda T=T, n=n, c=c, e=e, seed=seed: _synthetic(T, n, c, seed, noise=e))
            for seed in (5, 11) for name, T, n, c, e in HELD_OUT] + [
        (f"{name} s{seed}", kind, lambda load=load, k=k, seed=seed: _subset(load, k, seed))
        for seed in (0, 1) for name, kind, load, k in SUBSETS]


def problems(quick, only=None):
    if only:
        return [p for p in problems(False) if p[0] in only]
    out = [("reg T20 n40", "reg", lambda: _synthetic(20, 40, False)),
           ("clf T10 n100", "clf", lambda: _synthetic(10, 100, True))]
    if quick:
        return out
    return out + [
        ("reg T5 n200", "reg", lambda: _synthetic(5, 200, False)),
        ("clf T30 n300", "clf", lambda: _synthetic(30, 300, True)),
        ("School", "reg", lambda: _dataset(load_school)),
        ("Landmine", "clf", lambda: _dataset(load_landmine)),
        ("buy/spend", "mixed", _shop),
    ]


def base_estimator(kind):
    if kind == "mixed":
        return MultiTaskEstimator(random_state=0)
    cls = MultiTaskClassifier if kind == "clf" else MultiTaskRegressor
    return cls(backend="torch", random_state=0)


def warm_up():
    """One tiny fit of each kind first: torch's one-off start-up costs (about a
    second) are not the first problem's."""
    X, y, tasks, *_ = _synthetic(2, 20, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in ("reg", "clf"):
            base_estimator(kind).set_params(max_epochs=2).fit(X, y, tasks=tasks)
            (MLPClassifier if kind == "clf" else MLPRegressor)(max_iter=2).fit(X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--set", nargs="*", default=[],
                        help="defaults to try, as name=python-literal (e.g. "
                             "early_stopping='auto')")
    parser.add_argument("--held-out", action="store_true",
                        help="the held-out problems, without the grid: the defaults "
                             "(and each --compare setting) against the sklearn MLPs")
    parser.add_argument("--compare", nargs="*", default=[],
                        help="with --held-out: settings to score beside the defaults, "
                             "each as name=python-literal[;name=...]")
    parser.add_argument("--problems", nargs="*", default=None,
                        help="names of the problems to run (e.g. 'reg T20 n40' School)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    override = {k: eval(v) for k, v in (s.split("=", 1) for s in args.set)}  # noqa: S307
    print(f"torch threads 1; defaults overridden: {override or 'none'}")
    if args.held_out:
        return _held_out(override, args.compare)
    head = (f"{'problem':<13} {'default':>8} {'best':>8} {'best setting':<21} {'gap':>6} "
            f"{'ok':>3} {'fit s':>7} {'sk s':>7} {'sk score':>8} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    warm_up()
    t_all = time.perf_counter()
    for name, kind, make in problems(args.quick, args.problems):
        data = make()
        base = base_estimator(kind).set_params(**override)
        default, seconds = score_network(clone(base), data, kind)
        best, best_name = default, "(the defaults)"
        for label, params in GRID:
            if all(base.get_params()[k] == v for k, v in params.items()):
                continue  # that is the default
            s, _ = score_network(clone(base).set_params(**params), data, kind)
            if s > best:
                best, best_name = s, label
        sk, sk_seconds = score_sklearn(data, kind)
        gap = best - default
        print(f"{name:<13} {default:8.3f} {best:8.3f} {best_name:<21} {gap:6.3f} "
              f"{'yes' if gap <= 0.02 else 'no':>3} {seconds:7.2f} {sk_seconds:7.2f} "
              f"{sk:8.3f} {seconds / sk_seconds:6.2f}", flush=True)
    print(f"total {time.perf_counter() - t_all:.0f} s")


def _held_out(override, compare):
    """The held-out problems: the defaults' score and time, each ``compare``
    setting's, and the sklearn MLPs'."""
    settings = [{k: eval(v) for k, v in (kv.split("=", 1) for kv in c.split(";"))}  # noqa: S307
                for c in compare]
    print("settings: " + "; ".join(f"[{i + 1}] {c}" for i, c in enumerate(compare)))
    head = f"{'problem':<22} {'default':>8} {'fit s':>6}" + "".join(
        f" {'[%d]' % (i + 1):>6} {'s':>5}" for i in range(len(settings))) + \
        f" {'sklearn':>8} {'sk s':>6} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    warm_up()
    for name, kind, make in held_out():
        data = make()
        base = base_estimator(kind).set_params(**override)
        default, seconds = score_network(clone(base), data, kind)
        line = f"{name:<22} {default:8.3f} {seconds:6.2f}"
        for params in settings:
            s, sec = score_network(clone(base).set_params(**params), data, kind)
            line += f" {s:6.3f} {sec:5.2f}"
        sk, sk_seconds = score_sklearn(data, kind)
        print(line + f" {sk:8.3f} {sk_seconds:6.2f} {seconds / sk_seconds:6.2f}", flush=True)


if __name__ == "__main__":
    main()
