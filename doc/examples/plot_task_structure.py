"""
The learned task structure: similarities, clusters and a task covariance
========================================================================

A multi-task model learns more than its coefficients: which tasks resemble each
other.  Every fitted multi-task linear model has ``task_similarity_``, the cosine
of the angle between the tasks' coefficient vectors; the clustered penalty
(:class:`~skmtl.linear.ClusteredNorm`) also gives ``labels_``, the task clusters,
and multi-task relationship learning (:class:`~skmtl.linear.TaskRelationship`,
Zhang & Yeung 2010) a learned ``task_covariance_``.  See :ref:`task_structure`.

On Landmine the answer can be checked: its 29 tasks are fields of two terrain
types, 1-15 highly foliated and 16-29 bare earth or desert (Xue et al. 2007), which
the models are not told.
"""

# %%
# Landmine: do the recovered groups match the terrains?
# -----------------------------------------------------
# Nine features per field, about 500 rows, 3-9 % mines.  The clustered penalty
# with two clusters; ``eta`` small holds the tasks to their cluster's centre more
# than to zero.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.datasets import load_landmine, load_school
from skmtl.linear import ClusteredNorm, TaskRelationship

X, y, tasks = load_landmine(return_X_y=True)
X = StandardScaler().fit_transform(X)
terrain = np.where(np.unique(tasks) <= 15, 0, 1)  # foliated, bare

clustered = MultiTaskClassifier(ClusteredNorm(n_clusters=2, eta=0.1), alpha=0.01)
clustered.fit(X, y, tasks=tasks)
print("labels_:", clustered.labels_)
print("adjusted Rand index against the terrains:",
      adjusted_rand_score(terrain, clustered.labels_))


def similarity(model):
    """The model's ``task_similarity_`` (cosine of the tasks' coefficients)."""
    if hasattr(model, "task_similarity_"):
        return model.task_similarity_
    W = np.atleast_2d(model.coef_)
    W = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-300)
    return W @ W.T


def correlation(C):
    """A covariance as correlations (a task of zero variance: 0)."""
    d = np.sqrt(np.clip(np.diag(C), 0, None))
    d = np.where(d > 0, d, np.inf)
    return C / np.outer(d, d)


# %%
# Multi-task relationship learning on the same data: its covariance is learned
# with the coefficients (it is :math:`(W^\top W)^{1/2}` over its trace), shown
# here as correlations.
relationship = MultiTaskClassifier(TaskRelationship(), alpha=0.01).fit(X, y, tasks=tasks)
R = correlation(relationship.task_covariance_)
within = (R[:15, :15].mean(), R[15:, 15:].mean())
print(f"mean correlation within the terrains {within[0]:.2f} and {within[1]:.2f}, "
      f"across {R[:15, 15:].mean():.2f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
panels = [(similarity(clustered), "task_similarity_ (clustered penalty)"),
          (R, "task_covariance_ of MTRL, as correlations")]
for ax, (M, title) in zip(axes, panels):
    im = ax.imshow(M, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.axhline(14.5, color="k", lw=1)
    ax.axvline(14.5, color="k", lw=1)
    ax.set_title(title)
    ax.set_xlabel("task (field)")
axes[0].set_ylabel("task: 1-15 foliated, 16-29 bare")
fig.colorbar(im, ax=axes, shrink=0.8)

# %%
# Both find the two terrains: the clusters are the terrains exactly, and the
# tasks are correlated within a terrain, hardly across.
#
# School: structure without a known answer
# ----------------------------------------
# 139 schools, exam scores.  Three clusters; the tasks are shown sorted by
# cluster, so a block structure on the diagonal is what the clusters found.
school = load_school()
Xs = StandardScaler().fit_transform(school.data)
model = MultiTaskRegressor(ClusteredNorm(n_clusters=3, eta=0.1), alpha=0.1)
model.fit(Xs, school.target, tasks=school.tasks)
order = np.argsort(model.labels_, kind="stable")
print("schools per cluster:", np.bincount(model.labels_))

mtrl = MultiTaskRegressor(TaskRelationship(), alpha=0.1)
mtrl.fit(Xs, school.target, tasks=school.tasks)

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
panels = [(similarity(model), "task_similarity_ (clustered), by labels_"),
          (correlation(mtrl.task_covariance_),
           "MTRL's task_covariance_ (correlations), by labels_")]
bounds = np.cumsum(np.bincount(model.labels_))[:-1] - 0.5
for ax, (M, title) in zip(axes, panels):
    im = ax.imshow(M[np.ix_(order, order)], cmap="RdBu_r", vmin=-1, vmax=1)
    for b in bounds:
        ax.axhline(b, color="k", lw=0.8)
        ax.axvline(b, color="k", lw=0.8)
    ax.set_title(title)
    ax.set_xlabel("school, sorted by cluster")
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()

same = model.labels_[:, None] == model.labels_[None, :]
off = ~np.eye(same.shape[0], dtype=bool)
for M, name in panels:
    print(f"{name}: mean {M[same & off].mean():.2f} within the clusters, "
          f"{M[~same].mean():.2f} across")

# %%
# The schools' models are much alike (the similarities are mostly high: one
# common direction dominates, as the low-rank models of School find), and the
# clusters are a mild structure on top of it: the tasks of a cluster are somewhat
# more alike than tasks of different clusters, in the clustered model's own
# similarities and in MTRL's correlations, which were learned without clusters.
