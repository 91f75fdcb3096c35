"""
Per-task learning curves under different loss weightings
=========================================================

With ``backend="torch"`` the estimators train a network with a trunk shared by
all tasks and one head per task.  Every update combines the tasks' losses (each
the mean over its rows in the batch), and *how* they are combined is the
``loss_weighting``: their plain sum (``"equal"``), a learned, adaptive or random
weighting (``"uncertainty"``, ``"dwa"``, ``"gradnorm"``, ``"famo"``, ``"rlw"``), or
an aggregation of the per-task gradients of the shared layers (``"pcgrad"``,
``"mgda"``, ``"upgrad"``, ``"imtl_g"``, ``"aligned_mtl"``, ``"fairgrad"``, ...,
from torchjd).  A name takes the method's default settings; an object sets them
(``loss_weighting=CAGrad(c=0.2)``, searchable as ``loss_weighting__c``).

The network standardises every regression target before the loss, so a target in
dollars next to one in units no longer drowns the other.  What is left is a
difference of difficulty: here three regression targets are read off the same
customers, one in large units (think revenue in dollars, standard deviation 30),
one in small units, and one noisy.
"""

# %%
# Three targets on different scales
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskRegressor

torch.set_num_threads(1)  # small networks: one thread is the fastest on a CPU

rng = np.random.RandomState(0)
n, n_features = 2000, 10
X = rng.randn(n, n_features)
latent = np.tanh(X @ rng.randn(n_features, 6) / np.sqrt(n_features) * 2)
signal = latent @ rng.randn(6, 3)
signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)
scales, noise = np.array([30.0, 1.0, 1.0]), np.array([0.1, 0.1, 0.8])
Y = scales * (signal + noise * rng.randn(n, 3))  # wide format: one column a task
task_names = ["large scale", "small scale", "small scale, noisy"]
X_train, Y_train, X_test, Y_test = X[:1000], Y[:1000], X[1000:], Y[1000:]

# %%
# One network per weighting
# -------------------------
# The same network, seed and number of epochs for every weighting; only the way the
# three losses make one update changes.  ``task_loss_curve_`` holds each task's mean
# training loss at every epoch (on the standardised targets).  As a reference, the
# last model standardizes the targets itself first (scikit-learn's
# ``TransformedTargetRegressor``): the network's own standardisation makes it
# equal to ``"equal"``.

params = dict(backend="torch", hidden_layer_sizes=(32,), learning_rate=1e-2,
              batch_size=100, max_epochs=100, n_iter_no_change=100, random_state=0)
weightings = ["equal", "uncertainty", "famo", "rlw", "gradnorm", "mgda", "upgrad",
              "imtl_g", "aligned_mtl", "fairgrad", "dualproj"]
models = {w: MultiTaskRegressor(loss_weighting=w, **params).fit(X_train, Y_train)
          for w in weightings}
scaled = TransformedTargetRegressor(MultiTaskRegressor(**params),
                                    transformer=StandardScaler()).fit(X_train, Y_train)
models["equal, standardized Y"] = scaled
curves = {w: m.task_loss_curve_ for w, m in models.items() if w in weightings}
curves["equal, standardized Y"] = scaled.regressor_.task_loss_curve_

test_r2 = {w: [r2_score(Y_test[:, t], m.predict(X_test)[:, t]) for t in range(3)]
           for w, m in models.items()}

# %%
# Learning curves, task by task
# -----------------------------
# Each task's training loss divided by its value after the first epoch, so that the
# three tasks share one axis.  The targets on one scale, the curves of the two
# clean tasks fall alike under most weightings; the noisy task (green) stops at
# its noise.  Uncertainty weighting learns to down-weight it; MGDA and FairGrad
# lean toward the task that improves least.

colors = ["tab:blue", "tab:orange", "tab:green"]
fig, axes = plt.subplots(3, 4, figsize=(13, 8), sharex=True, sharey=True,
                         layout="constrained")
for ax, (name, curve) in zip(axes.ravel(), curves.items()):
    for t in range(3):
        ax.semilogy(np.arange(1, len(curve) + 1), curve[:, t] / curve[0, t],
                    color=colors[t], lw=1.6, label=task_names[t])
    ax.set_title(f'"{name}"' if name in weightings else name, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
for ax in axes[-1]:
    ax.set_xlabel("epoch")
for ax in axes[:, 0]:
    ax.set_ylabel("training loss / first epoch")
axes[0, 0].legend(fontsize=8)
fig.suptitle("Per-task training loss (task_loss_curve_), relative to the first epoch")

# %%
# What each weighting buys on held-out rows
# -----------------------------------------
# Test R^2 of every task.  The noisy task is capped by its noise (R^2 of at most
# about 0.6 here) whatever the weighting; on standardised targets the methods
# differ by little on the clean ones.

names = list(test_r2)
width = 0.8 / len(names)
fig, ax = plt.subplots(figsize=(11, 4), layout="constrained")
cmap = plt.get_cmap("tab10")
for k, name in enumerate(names):
    ax.bar(np.arange(3) + (k - len(names) / 2 + 0.5) * width, test_r2[name], width,
           label=name, color=cmap(k))
ax.set_xticks(np.arange(3), task_names)
ax.set(ylabel="test R$^2$", ylim=(0.4, 1.0), title="Held-out R$^2$ per task")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))

for name, r2 in test_r2.items():
    print(f"{name:22s} " + "  ".join(f"{v:.3f}" for v in r2)
          + f"   mean {np.mean(r2):.3f}")

plt.show()
