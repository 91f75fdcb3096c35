"""Few-shot meta-learning (needs torch)."""

from ._episodes import EpisodeSampler
from ._estimator import (
    AdaptedClassifier,
    AdaptedRegressor,
    MetaLearnerClassifier,
    MetaLearnerRegressor,
)
from ._evaluation import episodic_score, make_episodic_scorer

__all__ = ["MetaLearnerClassifier", "MetaLearnerRegressor", "AdaptedClassifier",
           "AdaptedRegressor", "EpisodeSampler", "episodic_score", "make_episodic_scorer"]
