"""
Multi-task beats single-task on the School data
===============================================

139 London schools, one regression task each (exam score from student and school
features).  We fit one ridge model per school (single-task), one ridge model for all
schools pooled, and multi-task models that share strength across schools, choosing
every ``alpha`` by cross-validation on the training part of the first Argyriou et
al. split, and compare them on its test part.

Run it with ``make demo``.
"""

import time
import warnings

import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskRegressor
from skmtl.datasets import load_school
from skmtl.metrics import make_task_scorer, task_average

sklearn.set_config(enable_metadata_routing=True)


def nmse(y_true, y_pred):
    """Normalised mean squared error of one task: MSE / Var(y)."""
    return np.mean((y_true - y_pred) ** 2) / np.var(y_true)


school = load_school()
train, test = school.splits[0]
X, y, tasks = school.data, school.target, school.tasks

methods = {
    "pooled ridge (one model)": ("l2", False),
    "independent ridge": ("l2", True),
    "mean-regularized MTL": ("mean", True),
    "joint feature selection (l21)": ("l21", True),
    "low rank (trace norm)": ("trace", True),
}
rows, per_task = [], {}
for name, (penalty, use_tasks) in methods.items():
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(penalty=penalty))
    search = GridSearchCV(
        pipe,
        {"multitaskregressor__alpha": np.logspace(-1, 2, 7)},
        cv=KFold(3, shuffle=True, random_state=0),
        scoring=make_task_scorer(nmse, greater_is_better=False),
    )
    fit_tasks = tasks[train] if use_tasks else None
    start = time.perf_counter()
    with warnings.catch_warnings():
        # the grid's largest alphas zero some models (each such fit says so): the
        # search scores them and moves on
        warnings.filterwarnings("ignore", message="Every coefficient is zero")
        if use_tasks:
            search.fit(X[train], y[train], tasks=fit_tasks)
        else:
            search.fit(X[train], y[train])
    best = search.best_estimator_
    pred = best.predict(X[test], tasks=tasks[test]) if use_tasks else best.predict(X[test])
    seconds = time.perf_counter() - start
    score = task_average(nmse, y[test], pred, tasks=tasks[test])
    resid = np.sum((y[test] - pred) ** 2)
    explained = 1 - resid / np.sum((y[test] - y[test].mean()) ** 2)
    alpha = search.best_params_["multitaskregressor__alpha"]
    rows.append((name, alpha, score, 100 * explained, seconds))
    per_task[name] = np.array(
        [nmse(y[test][tasks[test] == t], pred[tasks[test] == t]) for t in np.unique(tasks)]
    )

print("School, Argyriou et al. split 1 (alpha by 3-fold CV on the training part)\n")
print(f"{'method':32s} {'alpha':>8s} {'nMSE':>7s} {'expl. var.':>10s} {'CV+fit s':>9s}")
for name, alpha, score, explained, seconds in rows:
    print(f"{name:32s} {alpha:8.1e} {score:7.4f} {explained:9.1f}% {seconds:9.2f}")
best = min(rows[2:], key=lambda r: r[2])
stl = rows[1]
print(f"\nbest multi-task model: {best[0]}, per-task nMSE {best[2]:.4f} vs "
      f"{stl[2]:.4f} for independent ridge ({100 * (1 - best[2] / stl[2]):.1f}% lower)")

# The default alpha="auto" needs no search: one fit on standardised features
scaler = StandardScaler().fit(X[train])
start = time.perf_counter()
default = MultiTaskRegressor(penalty="trace").fit(scaler.transform(X[train]), y[train],
                                                  tasks=tasks[train])
pred = default.predict(scaler.transform(X[test]), tasks=tasks[test])
print(f"low rank at the default alpha='auto' ({default.alpha_:.1e}, no search): "
      f"per-task nMSE {task_average(nmse, y[test], pred, tasks=tasks[test]):.4f} "
      f"in {time.perf_counter() - start:.2f} s")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # matplotlib is an optional extra of the demo
    print("(install matplotlib to get the per-task plot)")
else:
    fig, ax = plt.subplots(figsize=(5, 5))
    a, b = per_task["independent ridge"], per_task[best[0]]
    ax.scatter(a, b, s=12, alpha=0.7)
    lim = [0, np.percentile(np.r_[a, b], 99)]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set(xlim=lim, ylim=lim, xlabel="independent ridge: test nMSE per school",
           ylabel=f"{best[0]}: test nMSE per school",
           title=f"School: {np.mean(b < a):.0%} of the schools do better with MTL")
    fig.tight_layout()
    fig.savefig("school_per_task.png", dpi=120)
    print("per-task plot saved to school_per_task.png")
