"""The ILEA School data set (139 tasks, regression)."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

_FEATURES = (
    ["year_1985", "year_1986", "year_1987", "pct_free_school_meals", "pct_vr1_band",
     "gender_male", "gender_female", "vr_band_3", "vr_band_1", "vr_band_2"]
    + [f"ethnic_{e}" for e in (
        "eswi", "african", "arab", "bangladeshi", "caribbean", "greek", "indian",
        "pakistani", "se_asian", "turkish", "other")]
    + ["school_mixed", "school_boys", "school_girls",
       "school_maintained", "school_church_of_england", "school_roman_catholic"]
)

DESCR = """\
ILEA School data set
--------------------

Examination scores of 15,362 students in 139 secondary schools of the Inner London
Education Authority (1985-1987), a random 50% sample used to study school
effectiveness (Goldstein 1991).  Each school is a task; the target is the exam
score (1-70).  The 27 features are the year (3 binary), the school's percentage of
students eligible for free school meals and in verbal-reasoning band 1, the
student's gender (2 binary), VR band (3 binary) and ethnic group (11 binary), and
the school's gender (3 binary) and denomination (3 binary).  The constant column of
the original ``school_b.mat`` is dropped.

``splits`` are the 10 fixed train/test splits of Argyriou, Evgeniou & Pontil (2008),
about 75/25 within each school.

Source: ``school_b.mat`` and ``school_{1..10}_indexes.mat`` as distributed by
A. Argyriou with the code of "Convex multi-task feature learning" (originally from
the Centre for Multilevel Modelling, University of Bristol); converted without
other change (sha256 of school_b.mat:
973f1ca99d0d41a838ec6ae86001a48e7b69391eb74646b9e4fc54f62866a146).

References
----------
H. Goldstein. Multilevel modelling of survey data. The Statistician 40, 1991.
T. Evgeniou, M. Pontil. Regularized multi-task learning. KDD 2004.
A. Argyriou, T. Evgeniou, M. Pontil. Convex multi-task feature learning. Machine
Learning 73(3), 2008.
"""


def load_school(*, return_X_y=False):
    """Load the School data set (139 tasks, regression), bundled with skmtl.

    ================  ==============================
    Tasks (schools)   139
    Samples           15,362 (22-251 per school)
    Features          27 (2 percentages, 25 binary)
    Target            exam score, 1-70
    ================  ==============================

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target, tasks)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (15362, 27) float array, ``target`` (15362,), ``tasks`` (15362,)
        school ids 1-139 (long format), ``feature_names``, ``splits`` (the 10
        Argyriou et al. train/test splits as ``(train_idx, test_idx)`` pairs, usable
        as ``cv=``), and ``DESCR``.
    (data, target, tasks) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skmtl.datasets import load_school
    >>> school = load_school()
    >>> school.data.shape, len(set(school.tasks)), len(school.splits)
    ((15362, 27), 139, 10)
    """
    with resources.files(__package__).joinpath("data/school.npz").open("rb") as f:
        raw = np.load(f)
        X = raw["data"].astype(np.float64)
        y = raw["target"].astype(np.float64)
        tasks = raw["tasks"].astype(np.int64)
        train = np.unpackbits(raw["train"], axis=1, count=len(y)).astype(bool)
    if return_X_y:
        return X, y, tasks
    splits = [(np.flatnonzero(m), np.flatnonzero(~m)) for m in train]
    return Bunch(data=X, target=y, tasks=tasks, feature_names=list(_FEATURES),
                 splits=splits, DESCR=DESCR)
