"""
Recovering clusters of tasks
============================

Tasks often come in groups: customers of a few types, sensors in a few kinds of
places, schools of a few kinds.  ``penalty="cluster"`` (the convex relaxation of
k-means clustering of the task weight vectors, Jacob, Bach & Vert 2008) pulls the
tasks of a group together without being told the groups.

Here 30 regression tasks fall into three clusters: the weight vectors of a cluster
are its centre plus a little task-specific noise.  Each task has only 15 training
rows for 20 features, too few to fit it alone.  Task ids are given in long format,
``fit(X, y, tasks=ids)``, one row per observation.
"""

# %%
# Thirty tasks in three clusters
# ------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, r2_score

from skmtl import MultiTaskRegressorCV
from skmtl.linear import ClusteredNorm
from skmtl.metrics import task_average

rng = np.random.RandomState(0)
n_features, n_clusters, per_cluster = 20, 3, 10
n_tasks = n_clusters * per_cluster
cluster_of = np.repeat(np.arange(n_clusters), per_cluster)  # the hidden truth
centres = 2.0 * rng.randn(n_clusters, n_features)
W_true = centres[cluster_of] + 0.3 * rng.randn(n_tasks, n_features)  # (tasks, features)


def draw(n_per_task):
    tasks = np.repeat(np.arange(n_tasks), n_per_task)
    X = rng.randn(tasks.size, n_features)
    y = np.einsum("ij,ij->i", X, W_true[tasks]) + 3.0 * rng.randn(tasks.size)
    return X, y, tasks


X, y, tasks = draw(15)
X_test, y_test, tasks_test = draw(200)

# %%
# Independent, mean-regularized and clustered fits
# ------------------------------------------------
# Every model picks ``alpha`` by 5-fold cross-validation stratified by task (the
# default ``cv`` of the CV estimators, as :class:`~skmtl.model_selection.TaskKFold`
# does).  ``"l2"`` fits each task alone (independent ridge), ``"mean"`` pulls all
# tasks towards one common vector, and :class:`~skmtl.linear.ClusteredNorm` towards
# ``n_clusters`` centres that it finds itself.
#
# ``ClusteredNorm`` has a second parameter, ``eta``: the ratio of the
# within-cluster to the global regularization (small ``eta``: tasks are held to
# their cluster's centre more than to zero).  Given a list of penalties, the CV
# estimator chooses among them along with ``alpha``.

models = {
    "independent ridge": "l2",
    "mean-regularized": "mean",
    "clustered (k=3)": [ClusteredNorm(n_clusters=3, eta=eta) for eta in (0.03, 0.1, 1.0)],
}
coefs, scores = {}, {}
for name, penalty in models.items():
    model = MultiTaskRegressorCV(penalty=penalty, alphas=20).fit(X, y, tasks=tasks)
    coefs[name] = model.coef_  # (n_tasks, n_features), tasks in the order of tasks_
    print(f"{name:18s} penalty_ = {model.penalty_}, alpha_ = {model.alpha_:.3g}")
    scores[name] = task_average(r2_score, y_test,
                                model.predict(X_test, tasks=tasks_test),
                                tasks=tasks_test)
coefs["truth"] = W_true

# %%
# The task weight vectors, seen from above
# ----------------------------------------
# The 30 weight vectors projected on the two principal axes of the true ones,
# coloured by their true cluster.  Fitted alone, the tasks of a cluster scatter
# widely and short of their centre (ridge shrinks towards zero); the mean penalty
# pulls everything towards the middle, clusters included; the clustered penalty
# gathers each cluster around its own centre.

pca = PCA(2).fit(W_true)
palette = np.array(["tab:blue", "tab:orange", "tab:green"])
fig, axes = plt.subplots(1, 4, figsize=(14, 3.8), sharex=True, sharey=True,
                         layout="constrained")
for ax, name in zip(axes, ["truth", "independent ridge", "mean-regularized",
                           "clustered (k=3)"]):
    P = pca.transform(coefs[name])
    ax.scatter(*P.T, c=palette[cluster_of], s=28, edgecolor="k", linewidth=0.4)
    C = pca.transform(centres)
    ax.scatter(*C.T, marker="*", s=220, c=palette, edgecolor="k", linewidth=0.8)
    label = name if name == "truth" else f"{name}\ntest R$^2$ {scores[name]:.3f}"
    ax.set_title(label, fontsize=10)
    ax.set_xlabel("PC 1")
axes[0].set_ylabel("PC 2")
fig.suptitle("Task weight vectors (dots) and true cluster centres (stars)")

# %%
# Task similarity matrices
# ------------------------
# Correlation between the weight vectors of every pair of tasks, tasks ordered by
# their true cluster.  The block structure, blurred in the independent fits, comes
# out sharply under the clustered penalty.

fig, axes = plt.subplots(1, 4, figsize=(14, 3.7), layout="constrained")
for ax, name in zip(axes, ["truth", "independent ridge", "mean-regularized",
                           "clustered (k=3)"]):
    im = ax.imshow(np.corrcoef(coefs[name]), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_title(name, fontsize=10)
    ax.set_xticks([4.5, 14.5, 24.5], ["A", "B", "C"])
    ax.set_yticks([4.5, 14.5, 24.5], ["A", "B", "C"])
fig.colorbar(im, ax=axes, shrink=0.8, label="correlation of weight vectors")

# %%
# Reading the clusters off the model
# ----------------------------------
# k-means on the fitted weight vectors gives the groups; the adjusted Rand index
# measures their agreement with the truth (1 is perfect, 0 is chance).  These three
# clusters are far enough apart for every fit to find them: what the clustered
# penalty adds is better estimates (lower coefficient error, higher test R^2),
# each task borrowing strength from the other tasks of its cluster only.

for name in ["independent ridge", "mean-regularized", "clustered (k=3)"]:
    found = KMeans(n_clusters, n_init=10, random_state=0).fit_predict(coefs[name])
    error = np.linalg.norm(coefs[name] - W_true) / np.linalg.norm(W_true)
    print(f"{name:18s} test R^2 {scores[name]:.3f}   coefficient error {error:.3f}   "
          f"adjusted Rand index {adjusted_rand_score(cluster_of, found):.2f}")

plt.show()
