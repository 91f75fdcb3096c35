"""
A few-shot Omniglot episode
===========================

Omniglot has 1,623 handwritten characters from 50 alphabets, each drawn by 20
people.  Few-shot learning asks: after seeing *one* drawing of each of five
characters it has never met, can a model tell which of the five a new drawing is?

:class:`~skmtl.meta.MetaLearnerClassifier` meta-trains a Prototypical network
(Snell et al. 2017) on episodes drawn from the 964 characters of the 30
"background" alphabets; :meth:`~skmtl.meta.MetaLearnerClassifier.adapt` then turns
the five labelled drawings of a new episode, from the 20 other alphabets, into an
ordinary fitted classifier.  Meta-training is kept to 200 episodes here (well
under a minute on one CPU core); ``benchmarks/RESULTS.md`` has longer runs.
"""

# %%
# The data
# --------
# :func:`~skmtl.datasets.fetch_omniglot` downloads the original archives once, or
# reads a local copy.  The documentation build reads the copy kept beside the
# repository (``../shared/data/omniglot``) or the folder named by the environment
# variable ``SKMTL_OMNIGLOT``; with neither it downloads.
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skmtl.datasets import fetch_omniglot
from skmtl.meta import MetaLearnerClassifier, episodic_score

torch.set_num_threads(1)


def local_omniglot():
    """A local copy of Omniglot (``SKMTL_OMNIGLOT``, else shared/data/omniglot)."""
    if os.environ.get("SKMTL_OMNIGLOT"):
        return Path(os.environ["SKMTL_OMNIGLOT"])
    try:
        here = Path(__file__).resolve().parent
    except NameError:  # pasted into an interactive session
        here = Path.cwd()
    for folder in [here, *here.parents]:
        if (folder / "shared" / "data" / "omniglot").is_dir():
            return folder / "shared" / "data" / "omniglot"
    return None


folder = local_omniglot()
omniglot = fetch_omniglot(path=folder, download=folder is None, image_size=28)
X, y, alphabet = omniglot.data, omniglot.target, omniglot.alphabet
seen = omniglot.background  # meta-train on these characters, test on the others
print(f"{X.shape[0]} drawings of {np.unique(y).size} characters; "
      f"{np.unique(y[seen]).size} for meta-training, {np.unique(y[~seen]).size} new")

# %%
# Meta-training
# -------------
# Each episode draws 20 characters, one support drawing and five query drawings of
# each; the Conv-4 backbone learns an embedding in which every query lies closest
# to the mean embedding (prototype) of its own character's support drawings.
# ``fit`` ends with meta-training: the classifier of the training characters
# themselves (``classifier_``) would only be adapted at a first ``predict`` on the
# meta-learner; we only use ``adapt``.

meta = MetaLearnerClassifier(
    "protonet", backbone="conv4", n_way=20, k_shot=1, n_query=5, n_episodes=200,
    meta_batch_size=1, random_state=0,
).fit(X[seen], y[seen])

# %%
# One 5-way 1-shot episode
# ------------------------
# Five characters never seen in meta-training, one labelled drawing of each (the
# support set, top row), and four other drawings of each to classify (the query
# set).  ``adapt`` returns a fitted classifier; a green title is a correct
# prediction, a red one names the character it was mistaken for.

rng = np.random.RandomState(3)
new_classes = rng.choice(np.unique(y[~seen]), 5, replace=False)
support, query = [], []
for c in new_classes:
    rows = rng.permutation(np.flatnonzero(y == c))
    support.append(rows[0])
    query.extend(rows[1:5])
support, query = np.array(support), np.array(query)
labels = np.array(list("ABCDE"))  # the names this episode gives its five characters
y_support, y_query = labels, np.repeat(labels, 4)

clf = meta.adapt(X[support], y_support)
pred = clf.predict(X[query])
proba = clf.predict_proba(X[query])

fig, axes = plt.subplots(5, 5, figsize=(7.5, 8.4), layout="constrained")
for k, ax in enumerate(axes[0]):
    ax.imshow(X[support[k], 0], cmap="gray_r")
    ax.set_title(f"{labels[k]}: {alphabet[support[k]].replace('_', ' ')[:15]}", fontsize=8.5,
                 fontweight="bold")
for i, ax in enumerate(axes[1:].T.ravel()):  # column k: the queries of character k
    ax.imshow(X[query[i], 0], cmap="gray_r")
    ok = pred[i] == y_query[i]
    ax.set_title(f"{pred[i]} ({proba[i].max():.0%})", fontsize=9,
                 color="tab:green" if ok else "tab:red")
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("support", fontsize=10)
for ax in axes[1:, 0]:
    ax.set_ylabel("query", fontsize=10)
fig.suptitle(f"5-way 1-shot on new alphabets: {np.mean(pred == y_query):.0%} of the "
             "queries right\n(prediction and its probability above each query)")

# %%
# Episodic accuracy
# -----------------
# The few-shot literature reports the mean accuracy over many random episodes with
# a 95% interval.  :func:`~skmtl.meta.episodic_score` does exactly that with any
# object that has an ``adapt(X_support, y_support)`` method, so the baseline below,
# the nearest support drawing in pixel space (no meta-learning), is a two-line
# class.


class PixelNeighbour:
    """1-nearest neighbour on the raw pixels: what a few shots give without learning."""

    def adapt(self, X_support, y_support):
        flatten = FunctionTransformer(lambda Z: Z.reshape(len(Z), -1))
        return make_pipeline(flatten, KNeighborsClassifier(1)).fit(X_support, y_support)


settings = [("5-way 1-shot", 5, 1), ("5-way 5-shot", 5, 5), ("20-way 1-shot", 20, 1)]
results = {}
for name, model in [("pixel nearest neighbour", PixelNeighbour()),
                    ("Prototypical network", meta)]:
    results[name] = [episodic_score(model, X[~seen], y[~seen], n_way=way, k_shot=shot,
                                    n_query=5, n_episodes=100, random_state=0)
                     for _, way, shot in settings]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained",
                               width_ratios=[1, 1.3])
curve = np.convolve(meta.loss_curve_, np.ones(10) / 10, mode="valid")
ax1.plot(meta.loss_curve_, color="0.75", lw=0.8, label="one episode")
ax1.plot(np.arange(9, len(meta.loss_curve_)), curve, lw=2, label="mean of 10")
ax1.set(xlabel="meta-training episode", ylabel="query loss (20-way)",
        title="Meta-training (loss_curve_)")
ax1.legend()
width = 0.38
for k, (name, res) in enumerate(results.items()):
    means = [100 * m for m, _ in res]
    ax2.bar(np.arange(3) + (k - 0.5) * width, means, width,
            yerr=[100 * ci for _, ci in res], capsize=3, label=name)
    for i, m in enumerate(means):
        ax2.text(i + (k - 0.5) * width, m + 3, f"{m:.0f}", ha="center", fontsize=8)
ax2.set_xticks(np.arange(3), [name for name, _, _ in settings])
ax2.set(ylabel="accuracy on new alphabets (%)", ylim=(0, 105),
        title="100 test episodes each (95% intervals)")
ax2.legend(loc="lower left", fontsize=8)

for name, res in results.items():
    print(name + ": " + ", ".join(f"{s} {100 * m:.1f} +- {100 * ci:.1f}%"
                                  for (s, _, _), (m, ci) in zip(settings, res)))

plt.show()
