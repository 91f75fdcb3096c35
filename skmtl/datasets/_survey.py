"""The Computer Survey conjoint data set (190 tasks, regression, shared design)."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

_FEATURES = [
    "telephone_hot_line", "ram", "screen_size", "cpu_speed", "hard_disk", "cd_rom",
    "cache", "color", "availability", "warranty", "software", "guarantee", "price",
]

DESCR = """\
Computer Survey data set
------------------------

Conjoint study of Lenk, DeSarbo, Green & Young (1996): 190 MBA students (survey of
November 1994) rated how likely they were to buy each of the same 20 hypothetical
personal computers, on a 0-10 scale.  Each person is a task and all tasks share the
design matrix: every profile is described by 13 binary attributes coded +1/-1
(telephone hot line, amount of RAM, screen size, CPU speed, hard disk size,
CD-ROM/multimedia, cache, colour, availability, warranty, bundled software,
money-back guarantee, price).  The constant column of the original design is
dropped.  The attribute order and names are those of Lenk et al. (also used by
Argyriou, Evgeniou & Pontil 2008); the source files themselves do not name the
design columns.

``data`` (20 x 13) and ``target`` (20 x 190, one column a person) give the wide
format; ``data_long``, ``target_long`` and ``tasks_long`` the same 3,800 ratings in
long format, person by person (row ``20 * (t - 1) + p`` is profile ``p`` of person
``t``).  Profiles 1-16 are used for calibration and 17-20 for validation
(``train_profiles`` = 0..15, ``test_profiles`` = 16..19, 0-based); in long format
the training rows are ``np.isin(np.arange(3800) % 20, train_profiles)``.

Reported test RMSE: single-task 2.381, multi-task 2.052-2.072 (collected in Zhang &
Yang, Table I).  Protocols differ between papers: state yours.

Source: ``conjointAnalysisComputerBuyers.mat`` (``likeBuy`` 190 x 20,
``designMarix`` [sic] 20 x 14); identical to ``LikeBuy.txt`` and
``DesignMatrix.txt`` of the original distribution; converted without other change
(sha256 of conjointAnalysisComputerBuyers.mat:
6e6b5f98f438c7d15ed6c7adab44322c9345f52263a4f3026322019f184679b5).  The person
covariates (``computerDataZ``) are not included.

References
----------
P. J. Lenk, W. S. DeSarbo, P. E. Green, M. R. Young. Hierarchical Bayes conjoint
analysis: recovery of partworth heterogeneity from reduced experimental designs.
Marketing Science 15(2), 1996.
A. Argyriou, T. Evgeniou, M. Pontil. Convex multi-task feature learning. Machine
Learning 73(3), 2008.
Y. Zhang, Q. Yang. A survey on multi-task learning. IEEE Transactions on Knowledge
and Data Engineering, 2022.
"""


def load_computer_survey(*, return_X_y=False):
    """Load the Computer Survey data set (190 tasks, regression), bundled with skmtl.

    ================  ==============================
    Tasks (people)    190
    Samples           20 profiles per person (shared)
    Features          13, binary coded +1/-1
    Target            likelihood of buying, 0-10
    ================  ==============================

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` in wide format instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (20, 13) float design shared by all tasks, ``target`` (20, 190)
        float ratings (one column a person), the long format ``data_long``
        (3800, 13), ``target_long`` (3800,) and ``tasks_long`` (3800,) person ids
        1-190, ``train_profiles`` (profiles 0-15) and ``test_profiles`` (16-19),
        ``feature_names`` and ``DESCR``.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skmtl.datasets import load_computer_survey
    >>> survey = load_computer_survey()
    >>> survey.data.shape, survey.target.shape, survey.data_long.shape
    ((20, 13), (20, 190), (3800, 13))
    >>> len(survey.train_profiles), len(survey.test_profiles)
    (16, 4)
    """
    path = "data/computer_survey.npz"
    with resources.files(__package__).joinpath(path).open("rb") as f:
        raw = np.load(f)
        X = raw["data"].astype(np.float64)
        Y = raw["target"].astype(np.float64)
    if return_X_y:
        return X, Y
    n_profiles, n_tasks = Y.shape
    return Bunch(
        data=X, target=Y,
        data_long=np.tile(X, (n_tasks, 1)),
        target_long=Y.T.ravel(),
        tasks_long=np.repeat(np.arange(1, n_tasks + 1), n_profiles),
        train_profiles=np.arange(16), test_profiles=np.arange(16, n_profiles),
        feature_names=list(_FEATURES), DESCR=DESCR)
