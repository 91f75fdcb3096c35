"""Few-shot meta-learning (needs torch)."""

from ._episodes import EpisodeSampler
from ._classifier import AdaptedClassifier, MetaLearnerClassifier
from ._regressor import AdaptedRegressor, MetaLearnerRegressor
from ._evaluation import EpisodicScorer, episodic_score, make_episodic_scorer
from ..nn._callbacks import Callback, EarlyStopping, Timer

__all__ = ["MetaLearnerClassifier", "MetaLearnerRegressor", "AdaptedClassifier",
           "AdaptedRegressor", "EpisodeSampler", "EpisodicScorer", "episodic_score",
           "make_episodic_scorer", "Callback", "EarlyStopping", "Timer"]
