"""The Landmine detection data set (29 tasks, binary classification)."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

_FEATURES = [f"feature_{j}" for j in range(9)]

DESCR = """\
Landmine detection data set
---------------------------

Radar measurements of 14,820 objects in 29 landmine fields (Xue et al. 2007).  Each
field is a task (445-690 objects); the binary target is 1 for a landmine and 0 for
clutter, with 2.9-9.4 % landmines per field.  Fields 1-15 are highly foliated
regions, fields 16-29 bare earth or desert, so the tasks form two groups.

Each object has 9 real-valued features extracted from the radar image (Xue et al.
describe moment-based, correlation-based, energy-ratio and spatial-variance
features).  The source file does not name the columns, so ``feature_names`` are
the generic ``feature_0`` ... ``feature_8``.  The features are not standardized.

Reported mean AUC over the 29 tasks: single-task 74.6 %, multi-task 75.9-76.8 %
(collected in Zhang & Yang, Table I).  Protocols (training-set size per task,
number of repetitions) differ between papers: state yours.

Source: ``LandmineData.mat`` (``feature`` and ``label``, 1 x 29 cells) as
distributed with the code of Xue et al.; the per-task arrays are stacked in task
order, float64 features kept exactly (sha256 of LandmineData.mat:
2163ab20a80e33a8b65593c48cf283c540599dcb291105e63fa4af2ce24c2bea).

References
----------
Y. Xue, X. Liao, L. Carin, B. Krishnapuram. Multi-task learning for classification
with Dirichlet process priors. Journal of Machine Learning Research 8, 2007.
Y. Zhang, Q. Yang. A survey on multi-task learning. IEEE Transactions on Knowledge
and Data Engineering, 2022.
"""


def load_landmine(*, return_X_y=False):
    """Load the Landmine data set (29 tasks, binary classification), bundled with skmtl.

    ================  ==============================
    Tasks (fields)    29 (1-15 foliated, 16-29 bare)
    Samples           14,820 (445-690 per field)
    Features          9, real-valued
    Target            1 = landmine (2.9-9.4 %), 0
    ================  ==============================

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target, tasks)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (14820, 9) float array, ``target`` (14820,) int labels in {0, 1},
        ``tasks`` (14820,) field ids 1-29 (long format), ``feature_names`` and
        ``DESCR``.
    (data, target, tasks) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skmtl.datasets import load_landmine
    >>> X, y, tasks = load_landmine(return_X_y=True)
    >>> X.shape, len(set(tasks)), int(y.sum())
    ((14820, 9), 29, 904)
    """
    with resources.files(__package__).joinpath("data/landmine.npz").open("rb") as f:
        raw = np.load(f)
        X = raw["data"].astype(np.float64)
        y = raw["target"].astype(np.int64)
        tasks = raw["tasks"].astype(np.int64)
    if return_X_y:
        return X, y, tasks
    return Bunch(data=X, target=y, tasks=tasks, feature_names=list(_FEATURES),
                 DESCR=DESCR)
