"""Validation episodes on held-out classes (tasks), and the check against a plain model.

A mixin of :class:`~skmtl.meta._base._MetaLearner`: which classes (tasks) are held
out of meta-training, the fixed episodes drawn from them, the meta-learner's score
on them, and the warning when a plain scikit-learn model fitted on the same
support rows (``_plain_model``) does better.
"""

import warnings

import numpy as np
import torch

AUTO_FRACTION = 0.2  # validation_fraction="auto": this fraction of the classes (tasks) ...
AUTO_MIN_UNITS = 6  # ... when there are at least this many, and at least 2 of them
N_VALIDATION_EPISODES = 20


class _Validation:
    """Validation episodes, early stopping's switch and the plain-model check."""

    def _split_validation(self, units, seed, make_sampler, enough, what):
        """Rows of meta-training, and 20 fixed episodes for validation drawn by
        ``make_sampler(rows, rng)`` from ``validation_fraction`` of the ``units``
        (classes or tasks; None: nothing to hold out); ``enough(held)`` says
        whether both sides can be used.  Sets ``_stops_early``."""
        names = np.unique(units) if units is not None else np.empty(0)
        auto = self.validation_fraction == "auto"
        fraction = (AUTO_FRACTION if names.size >= AUTO_MIN_UNITS else 0.0) if auto \
            else self.validation_fraction
        if self.early_stopping is True and not fraction:
            raise ValueError(
                "early_stopping=True stops on held-out validation episodes: set "
                "validation_fraction > 0" + (f" ('auto' holds out {what} from "
                f"{AUTO_MIN_UNITS} on; there are {names.size})." if auto else "."))
        self._stops_early = bool(fraction) and self.early_stopping in (True, "auto")
        self._held = what
        if not fraction:
            return slice(None), []
        n_val = int(round(fraction * names.size))
        n_val = max(n_val, 2) if auto else n_val
        rng = np.random.RandomState(seed)
        held = np.isin(units, rng.choice(names, max(n_val, 1), replace=False))
        if n_val < 1 or not enough(held):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves too few {what} "
                f"on one side ({names.size} {what}).")
        rows = np.flatnonzero(held)
        sampler = make_sampler(rows, rng)
        episodes = []
        for _ in range(N_VALIDATION_EPISODES):
            s, ys, q, yq = sampler.sample()
            episodes.append((rows[s], ys, rows[q], yq))
        return np.flatnonzero(~held), episodes

    def _validation_score(self, net, X, episodes):
        """Mean :meth:`_episode_score` of ``net`` adapted to each episode."""
        scores = []
        for s, ys, q, yq in episodes:
            adapted, state = self._adapt_state(X[s], ys, self._n_out(ys), net)
            with torch.no_grad():
                out = self.algorithm_.logits(adapted, state, self._tensor(X[q]))
            scores.append(self._episode_score(out, yq))
        return float(np.mean(scores))

    def _compare_with_plain(self, X, episodes, scores):
        """``plain_validation_score_``: the score of ``_plain_model()`` fitted on each
        validation episode's support rows (flat raw features); a warning when the
        meta-learner kept by fit (the best check with early stopping, else the
        last) scores lower."""
        self.plain_validation_score_ = None
        if not episodes:
            return
        plain = []
        for s, ys, q, yq in episodes:
            model = self._plain_model().fit(X[s].reshape(len(s), -1), ys)
            plain.append(self._plain_score(model.predict(X[q].reshape(len(q), -1)), yq))
        self.plain_validation_score_ = float(np.mean(plain))
        kept = max(scores) if self._stops_early else scores[-1]
        if kept < self.plain_validation_score_:
            def text(score):
                return self._score_text(score).replace("val ", "")

            warnings.warn(
                f"{type(self).__name__}(algorithm={self.algorithm!r}) scores {text(kept)} "
                f"on its validation episodes ({self._held} held out of meta-training) "
                f"where a {type(self._plain_model()).__name__} fitted on the same support "
                f"rows of the raw features scores {text(self.plain_validation_score_)}: "
                f"on this data meta-training does not beat the plain model.  Try "
                f"{self._advice}, or use the plain model on the shots.", UserWarning)
