"""
What each penalty does to the coefficient matrix
================================================

A multi-task linear model is a coefficient matrix ``W``: one row a feature, one
column a task.  The penalties of skmtl impose different shapes on it.  Here the
true ``W`` has the structure most multi-task methods look for (a few features used
by every task, with values spanned by two directions) plus three task-specific
exceptions, and each model picks its ``alpha`` by cross-validation with
:class:`~skmtl.MultiTaskRegressorCV`.
"""

# %%
# A structured truth
# ------------------
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm

from skmtl import MultiTaskRegressorCV

rng = np.random.RandomState(0)
n_features, n_tasks, n_train = 30, 16, 30
W_true = np.zeros((n_features, n_tasks))
W_true[:6] = rng.randn(6, 2) @ rng.randn(2, n_tasks)  # 6 shared rows, rank 2
for j, t in [(12, 3), (20, 9), (26, 14)]:  # exceptions: one task, one feature
    W_true[j, t] = 3.0

X = rng.randn(n_train, n_features)
Y = X @ W_true + rng.randn(n_train, n_tasks)

# %%
# Five models, alpha by cross-validation
# --------------------------------------
# ``MultiTaskRegressorCV`` walks the regularization path on every fold (warm starts)
# and refits at the best ``alpha``.  ``l2`` and ``l1`` fit each task on its own
# (independent ridge and lasso); ``l21``, ``trace`` and ``dirty`` share strength.
#
# The dirty model mixes its two parts only for ``l1_ratio`` between
# ``1 / (1 + sqrt(T))`` and 1/2: from 1/2 on the shared part is never more expensive
# (the model is ``l21``), below the lower end even a row used by all ``T`` tasks is
# cheaper in the specific part (the model is ``l1``).  The default,
# ``1 / (1 + T ** 0.25)``, is the geometric middle: 1/3 for our 16 tasks.

penalties = {
    "l2": "independent ridge",
    "l1": "independent lasso",
    "l21": "joint feature selection",
    "trace": "low rank",
    "dirty": "shared rows + exceptions",
}
models = {}
for penalty in penalties:
    models[penalty] = MultiTaskRegressorCV(penalty=penalty, alphas=30, cv=4,
                                           tol=1e-6).fit(X, Y)


def coef_error(W):
    return np.linalg.norm(W - W_true) / np.linalg.norm(W_true)


# %%
# The coefficient maps
# --------------------
# Rows are features (the first six are the shared ones), columns are tasks; red is
# positive, blue negative, white zero.  Under each name: the relative error
# ``||W - W_true||_F / ||W_true||_F``.
#
# * ``l2`` shrinks but keeps every entry: the noise features are speckled.
# * ``l1`` zeros entries one by one: it finds the exceptions, but also speckle,
#   and it misses shared entries that a single task's data cannot support.
# * ``l21`` keeps or drops whole rows: the six shared rows, clean, plus the rows of
#   the exceptions, which it has to open for every task.
# * ``trace`` keeps the rows but few directions (see the spectrum below).
# * ``dirty`` splits ``W`` into shared rows (group lasso) and exceptions (lasso):
#   its two parts are drawn on their own at the end.

norm = TwoSlopeNorm(0, vmin=-np.abs(W_true).max(), vmax=np.abs(W_true).max())
fig, axes = plt.subplots(1, 6, figsize=(13, 5.5), sharey=True, layout="constrained")
maps = [("truth", W_true)] + [(p, m.coef_.T) for p, m in models.items()]
for ax, (name, W) in zip(axes, maps):
    im = ax.imshow(W, cmap="RdBu_r", norm=norm, aspect="auto", interpolation="nearest")
    title = "truth\n\n" if name == "truth" else (
        f'"{name}"\n{penalties[name]}\nerror {coef_error(W):.2f}')
    ax.set_title(title, fontsize=9.5)
    ax.set_xlabel("task")
axes[0].set_ylabel("feature")
fig.colorbar(im, ax=axes, shrink=0.6, label="coefficient")
fig.suptitle(f"Estimated W (features x tasks), {n_train} rows per task")

# %%
# Singular values
# ---------------
# The spectrum of each estimate: the truth has two large singular values (the
# shared rows) and three small ones (the exceptions).  ``trace`` soft-thresholds
# the singular values, so its spectrum drops to zero after a few; the others keep a
# long tail of noise directions.

fig, ax = plt.subplots(figsize=(7, 4))
for name, W in maps:
    s = np.linalg.svd(W, compute_uv=False)
    ax.plot(np.arange(1, s.size + 1), s, "o-" if name != "truth" else "k*--",
            ms=4 if name != "truth" else 8, label=name, lw=1.5)
ax.set(xlabel="index", ylabel="singular value", yscale="symlog",
       title="Spectrum of W: low rank under the trace norm")
ax.legend(ncol=2)
fig.tight_layout()

# %%
# The two parts of the dirty model
# --------------------------------
# With ``penalty="dirty"`` the fitted model also exposes ``coef_shared_`` (rows shared
# by all tasks) and ``coef_specific_`` (task-specific entries); ``coef_`` is their
# sum.

dirty = models["dirty"]
fig, axes = plt.subplots(1, 3, figsize=(7, 4.5), sharey=True, layout="constrained")
for ax, (name, W) in zip(axes, [("coef_shared_", dirty.coef_shared_.T),
                                 ("coef_specific_", dirty.coef_specific_.T),
                                 ("coef_ (sum)", dirty.coef_.T)]):
    ax.imshow(W, cmap="RdBu_r", norm=norm, aspect="auto", interpolation="nearest")
    ax.set(title=name, xlabel="task")
axes[0].set_ylabel("feature")

for name, model in models.items():
    W = model.coef_.T
    rows = int((np.abs(W).max(axis=1) > 1e-10).sum())
    print(f"{name:6s} alpha {model.alpha_:8.3g}  nonzero rows {rows:2d}/{n_features}  "
          f"nonzero entries {int((np.abs(W) > 1e-10).sum()):3d}  "
          f"error {coef_error(W):.3f}")

plt.show()
