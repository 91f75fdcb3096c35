"""
Regularization paths, one penalty at a time
===========================================

:func:`skmtl.linear.multitask_path` fits a multi-task model along a decreasing grid of
``alpha``, each fit starting from the previous solution (as scikit-learn's
``lasso_path`` does).  Following a path is the quickest way to see what a penalty
does: which features enter first, whether they enter for every task at once, how
fast the tasks are pulled together.

We draw twenty related regression tasks, 40 training rows each, that use the same
5 of 20 features, with coefficients of rank 2 (two directions shared by all tasks),
and plot for every penalty the norm of each feature's row of ``W`` (its
coefficients across the tasks) against ``alpha``.
"""

# %%
# The data: shared support, low rank
# ----------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import r2_score

from skmtl import MultiTaskRegressor
from skmtl.linear import multitask_path
from skmtl.metrics import task_average

rng = np.random.RandomState(0)
n_features, n_tasks, n_active = 20, 20, 5
W_true = np.zeros((n_features, n_tasks))
W_true[:n_active] = rng.randn(n_active, 2) @ rng.randn(2, n_tasks)

X = rng.randn(240, n_features)
Y = X @ W_true + 2.0 * rng.randn(240, n_tasks)  # wide format: one column a task
X_train, Y_train, X_test, Y_test = X[:40], Y[:40], X[40:], Y[40:]

# %%
# One path per penalty
# --------------------
# For the norm penalties (``l21``, ``l1``, ``trace``, ``dirty``) the grid starts at
# ``alpha_max``, the smallest ``alpha`` whose solution is all zero.  The quadratic
# penalties (``l2``, ``mean``, ``graph``) and the clustered one shrink without ever
# zeroing, so their grid starts at ten times the curvature of the data-fit term.
# Each fit is warm-started, so 40 values of ``alpha`` cost little more than one
# cold fit.  ``tol`` is tighter than the default so that the curves are smooth: the
# default stops on a duality gap relative to the sum of all twenty tasks' label
# variances, accurate enough for prediction but visible as wiggles on a plot.

penalties = ["l21", "l1", "trace", "dirty", "l2", "mean", "graph", "cluster"]
paths = {}
for penalty in penalties:
    alphas, coefs, intercepts, _ = multitask_path(
        MultiTaskRegressor(penalty=penalty, tol=1e-7), X_train, Y_train, alphas=40, eps=1e-4)
    # held-out score of every point of the path (wide format: one column a task)
    scores = [task_average(r2_score, Y_test, X_test @ c.T + b)
              for c, b in zip(coefs, intercepts)]
    paths[penalty] = alphas, coefs, np.array(scores)

# %%
# Feature rows along each path
# ----------------------------
# Coloured lines are the 5 features the tasks use, grey ones the 15 noise features;
# the dashed line (right axis) is the held-out R^2, averaged over the tasks.
#
# * ``l21`` (group lasso on rows) selects features for all tasks at once: the
#   coloured rows leave zero well before any grey one.
# * ``l1`` selects entries task by task, so noise features slip in for some task
#   (grey lines rise early).
# * ``trace`` keeps every feature but few directions: all rows grow together.
# * ``dirty`` is ``l21`` plus an ``l1`` part for task-specific exceptions; these
#   tasks have none, and its path follows the ``l21`` one.
# * ``l2``, ``mean``, ``graph`` and ``cluster`` shrink smoothly and never select.

colors = plt.cm.tab10(np.arange(n_active))
fig, axes = plt.subplots(2, 4, figsize=(13, 6.2), sharey=True)
for ax, penalty in zip(axes.ravel(), penalties):
    alphas, coefs, scores = paths[penalty]
    row_norms = np.linalg.norm(coefs, axis=1)  # (n_alphas, n_features)
    for j in range(n_features - 1, -1, -1):
        active = j < n_active
        ax.semilogx(alphas, row_norms[:, j], color=colors[j] if active else "0.7",
                    lw=1.8 if active else 1, zorder=3 if active else 2)
    ax.set_title(f'penalty="{penalty}"')
    ax.invert_xaxis()  # strong regularization on the left, as in lasso paths
    twin = ax.twinx()
    twin.semilogx(alphas, scores, "k--", lw=1)
    twin.set_ylim(-0.1, 1)
    twin.tick_params(labelsize=8)
    if penalty in ("dirty", "cluster"):
        twin.set_ylabel("held-out R$^2$ (dashed)")
    best = np.argmax(scores)
    twin.plot(alphas[best], scores[best], "ko", ms=4)
for ax in axes[:, 0]:
    ax.set_ylabel(r"row norm $\|W_{j,:}\|_2$")
for ax in axes[1]:
    ax.set_xlabel("alpha")
fig.suptitle("Regularization paths: 5 shared features (colour) among 15 noise features "
             "(grey)")
fig.tight_layout()

# %%
# How much structure each path buys
# ---------------------------------
# The same paths summarised by the structure each penalty is built to find: the
# number of features used by some task, and the rank of ``W`` (singular values above
# 1% of the largest).  The truth has 5 features and rank 2 (dotted lines).  Cross-
# validation tends to stop late on such paths, with a few noise features in, as it
# does for the lasso.


def n_rows(W):
    return int((np.abs(W).max(axis=0) > 1e-10).sum())


def rank(W):
    s = np.linalg.svd(W, compute_uv=False)
    return int((s > 1e-2 * max(s[0], 1e-12)).sum()) if s[0] > 1e-10 else 0


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for penalty in ["l21", "l1", "trace", "dirty"]:
    alphas, coefs, scores = paths[penalty]
    rel = alphas / alphas[0]
    style = dict(label=penalty, lw=2, ls="--" if penalty == "dirty" else "-")
    ax1.semilogx(rel, [n_rows(c) for c in coefs], **style)
    ax2.semilogx(rel, [rank(c) for c in coefs], **style)
ax1.axhline(n_active, color="k", ls=":", lw=1)
ax2.axhline(2, color="k", ls=":", lw=1)
ax1.set(xlabel="alpha / alpha_max", ylabel="features used (nonzero rows)",
        title="Feature selection along the path")
ax2.set(xlabel="alpha / alpha_max", ylabel="rank of W (1% threshold)",
        title="Rank along the path")
for ax in (ax1, ax2):
    ax.invert_xaxis()
    ax.legend()
fig.tight_layout()

# %%
# The best point of each path
# ---------------------------
# In practice :class:`~skmtl.MultiTaskRegressorCV` walks the same path on every
# cross-validation fold and picks ``alpha``; here we read the best held-out score
# off each path.
for penalty in penalties:
    alphas, coefs, scores = paths[penalty]
    best = np.argmax(scores)
    print(f"{penalty:8s} best alpha {alphas[best]:9.3g}  held-out R^2 {scores[best]:.3f}"
          f"  features used {n_rows(coefs[best]):2d}  rank {rank(coefs[best])}")

plt.show()
