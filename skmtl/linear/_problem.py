"""A data-fit term, a bound penalty and the solver that suits them.

:func:`make_problem` is the one place that picks the data-fit form (data space,
Gram space or a factorization) and the solver (an exact solve, coordinate
descent, ADMM or FISTA), from what each solver declares it needs (:class:`~skmtl.
linear._exact.Exact`, :class:`~skmtl.linear._bcd.BCD`, :class:`~skmtl.linear.
_admm.ADMM`, :class:`~skmtl.linear._fista.FISTA`) and from the cost of the forms.
"""

import functools

import numpy as np
import scipy.sparse as sp

from ._admm import ADMM
from ._bcd import BCD
from ._datafit import DesignFit, GramFit, shared_rows
from ._exact import Exact, Spectral, factorizable
from ._fista import FISTA
from ._penalties import Penalty

__all__ = ["Positive", "Problem", "make_problem", "use_gram"]


class Positive(Penalty):
    r"""A ``sign_invariant`` penalty plus the constraint ``W >= 0`` (``positive=True``).

    A function of :math:`|W|` whose minimisers keep the signs of their linear terms
    (l21, l1, l2, their elastic mixes): the prox of the sum is the penalty's prox of
    ``max(V, 0)``, a block step the penalty's on ``max(u, 0)`` and the conjugate at
    ``G`` the penalty's at ``max(G, 0)``.  For a norm, the dual ball of the
    constrained problem holds the ``-G`` whose positive part is in the norm's dual
    ball: ``dual_norm(G)`` of a gradient ``G`` is the dual norm of ``max(-G, 0)``,
    which the duality gap, ``alpha_max`` and Gap Safe screening (a 1-Lipschitz map
    of the gradient, so the sphere test holds) read as they read a dual norm.  An
    elastic mix's lasso form (``split_ridge``, coordinate descent's) is the
    constrained norm's.

    Parameters
    ----------
    penalty : Penalty
        Bound, ``sign_invariant``.
    """

    def __init__(self, penalty):
        self.penalty = penalty
        self.is_norm = penalty.is_norm
        self.lipschitz_factor = penalty.lipschitz_factor

    def value(self, V):
        return self.penalty.value(V)

    def prox(self, V, step):
        return self.penalty.prox(np.maximum(V, 0.0), step)

    def dual_norm(self, G):
        return self.penalty.dual_norm(np.maximum(-G, 0.0))

    # only what the penalty itself has (the solvers read these by hasattr)
    @property
    def conjugate(self):
        conjugate = self.penalty.conjugate
        return lambda G: conjugate(np.maximum(G, 0.0))

    @property
    def block_dual_norms(self):
        norms = self.penalty.block_dual_norms
        return lambda G: norms(np.maximum(-G, 0.0))

    @property
    def block_minimiser(self):
        step = self.penalty.block_minimiser
        return lambda u, d, alpha: step(np.maximum(u, 0.0), d, alpha)

    @property
    def scalar_minimiser(self):
        step = self.penalty.scalar_minimiser
        return lambda u, d, alpha: step(max(u, 0.0), d, alpha)

    @property
    def split_ridge(self):
        split = self.penalty.split_ridge

        def positive_split():
            norm, r = split()
            return Positive(norm), r
        return positive_split


def nonnegative(penalty):
    """``Positive(penalty)``, or a ValueError naming the penalties that take it."""
    if not penalty.sign_invariant:
        raise ValueError(
            "positive=True takes the penalties 'l21', 'l1', 'l2' and their ElasticMix "
            f"(a function of |W|); got {type(penalty).__name__}.  Use positive=False.")
    return Positive(penalty)


class Problem:
    """A data-fit term, a bound penalty and the solver that suits them.

    Parameters
    ----------
    datafit : DesignFit, GramFit, Spectral or the like
    penalty : Penalty
        Bound to the outputs (``penalty.bind``).
    use_cd : bool
        Block coordinate descent (:class:`BCD`) rather than :class:`FISTA`.
    solver : Solver, default=None
        The solver itself (e.g. :class:`Exact`); None: as ``use_cd`` says.
    least_squares : callable, default=None
        Returns a :class:`Spectral` factorization of the same squared loss: at
        ``alpha = 0`` the problem is then solved as least squares, exactly.

    Raises
    ------
    ValueError
        When ``datafit`` or ``penalty`` lacks what the solver needs.
    """

    def __init__(self, datafit, penalty, use_cd, solver=None, least_squares=None):
        self.datafit, self.penalty, self.use_cd = datafit, penalty, use_cd
        self.shape = datafit.shape
        self.solver = solver if solver is not None else (BCD() if use_cd else FISTA())
        self.solver.check(datafit, penalty)
        self._least_squares = least_squares
        # the intercept the solver sees is b - offset (DesignFit centres y)
        self._offset = getattr(datafit, "offset", None)

    @property
    def gram(self):
        """Whether the data-fit term eliminates the intercept (Gram form)."""
        return not self.datafit.has_intercept_variable

    def start(self):
        """Zero coefficients, and where they are variables the intercepts of W = 0
        (the targets' means, with the squared loss)."""
        V = self.penalty.variable(np.zeros(self.shape))
        if self.gram or not self.datafit.fit_intercept:
            return V, None
        b = np.zeros(self.shape[1])
        return V, (b if self._offset is None else b + self._offset)

    def solve(self, alpha, V, b, *, max_iter, tol, verbose=0):
        """Returns ``(V, intercept, gap, n_iter, converged)``.

        ``V`` is the solver's :class:`~skmtl.linear._fista.Iterate` where it has a
        state (FISTA, ADMM): passed back as the start of a solve on the same
        problem and ``alpha``, it continues that run (an exact warm start).
        """
        if isinstance(self.penalty, Positive) and np.any(V < 0):
            V = np.maximum(V, 0.0)  # a start off the constraint (an assigned coef_)
        if not alpha > 0 and self._least_squares is not None:
            fit = self._least_squares()
            if fit is not None:
                W = fit.least_squares()
                return self.penalty.variable(W), fit.intercept(W), np.nan, 1, True
        if b is not None and self._offset is not None:
            b = b - self._offset
        V, b, gap, n_iter, converged = self.solver.solve(
            self.datafit, self.penalty, alpha, V, b, max_iter=max_iter, tol=tol,
            verbose=verbose)
        if self.gram:
            b = self.datafit.intercept(self.penalty.coef(V))
        elif b is None:
            b = np.zeros(self.shape[1])
        elif self._offset is not None:
            b = b + self._offset
        return V, b, gap, n_iter, converged


def _pass_cost(blocks):
    """Multiply-adds of one product with X: its nonzeros times the outputs it feeds."""
    layout = getattr(blocks, "layout", None)
    if layout is not None:
        X = layout.X
        if sp.issparse(X):
            return int(np.diff(X.tocsr().indptr)[layout.row].sum())
        return layout.Y.size * X.shape[1]
    total = 0
    for blk in blocks:
        entries = blk.X.nnz if sp.issparse(blk.X) else blk.X.size
        total += entries * blk.Y.shape[1]
    return total


def use_gram(blocks, n_features, n_outputs, shared, precompute="auto", cd=False):
    """Whether the Gram form is asked for (``precompute`` a bool) or cheaper.

    ``"auto"``: when the Gram matrices (one if the rows are ``shared``, else one per
    output) hold no more entries than one pass over the data, at most ``5e7``;
    with ``cd`` (coordinate descent takes the problem) and one Gram matrix per
    output, up to 8 passes: an epoch of coordinate descent costs about what the
    Gram matrices hold, and does the work of many iterations of FISTA.
    """
    if precompute != "auto":
        return bool(precompute)
    grams = n_outputs if not shared else 1
    budget = _pass_cost(blocks) * (8 if cd and not shared else 1)
    return grams * n_features**2 <= min(budget, 5e7)


def make_problem(blocks, loss, penalty, n_features, n_outputs, *, fit_intercept=True,
                 positive=False, solver="auto", precompute="auto", design=None):
    """The penalized problem, in the data-fit form and with the solver that suit it.

    Parameters
    ----------
    blocks : list of Block
        From :func:`~skmtl.linear._datafit.make_blocks`.
    loss : Squared, SquaredHinge or Logistic
    penalty : Penalty
        Already bound to the outputs.
    n_features, n_outputs : int
    fit_intercept : bool, default=True
    positive : bool, default=False
        Constrain ``W >= 0`` (:class:`Positive`; ``sign_invariant`` penalties only);
        the exact solve and the least-squares shortcut at ``alpha = 0`` then do not
        apply.
    solver : {"auto", "fista", "cd", "exact", "admm"}, default="auto"
        ``"auto"``: with the squared loss and a penalty that declares a quadratic
        coupling (``"l2"``, ``"mean"``, ``"graph"``), the exact solve
        (:class:`Exact`) when its factorization fits in memory; else coordinate
        descent where the solver accepts the penalty and the loss (``"l21"``,
        ``"l1"``, their elastic mixes and the squared loss) and the Gram form is
        used; else, with the
        squared loss, a penalty on W with a prox (``"trace"``, ``"cluster"``) and
        ``precompute`` not False, ADMM with exact W-steps (:class:`ADMM`) on the
        same factorization; else FISTA.
        ``"cd"``, ``"exact"``, ``"admm"``: that solver, refused when its
        requirements are not met.  ``"fista"``: FISTA.
    precompute : {"auto", True, False}, default="auto"
        The Gram form (squared loss only) of the iterative solvers when True, or
        when cheaper (``"auto"``, see :func:`use_gram`); coordinate descent always
        uses it.
    design : callable, default=None
        ``design(blocks, loss, n_features, n_outputs, fit_intercept)`` returns a
        data-space datafit (``DesignFit``-like, e.g. X on a torch device), which
        FISTA then solves, without the Gram form.

    Returns
    -------
    Problem

    Raises
    ------
    ValueError
        A ``solver`` that cannot take the penalty, the loss or the data's size
        (naming what it needs); ``positive=True`` with a penalty that is not
        ``sign_invariant``.
    """
    p, m = n_features, n_outputs
    if positive:
        penalty = nonnegative(penalty)
    gram_form = loss.quadratic  # the Gram form holds the squared loss exactly
    fits_cd = BCD().accepts(GramFit if gram_form else DesignFit, penalty)
    if solver == "cd" and not fits_cd:
        BCD().check(GramFit if gram_form else DesignFit, penalty)
    if solver in ("exact", "admm"):
        _check_factored(solver, blocks, loss, penalty, p, m, design)
    shared = shared_rows(blocks)
    if design is not None:
        return Problem(design(blocks, loss, p, m, fit_intercept), penalty, False)
    factored = None  # the factorization: built at its first use, then kept
    if gram_form and factorizable(blocks, p, m):
        factored = functools.cache(lambda: Spectral(blocks, p, m, fit_intercept, shared))
        if solver == "exact" or solver == "auto" and Exact().accepts(Spectral, penalty):
            fit = factored()
            return Problem(fit, penalty, False, solver=Exact(), least_squares=lambda: fit)
        if solver == "admm" or solver == "auto" and not fits_cd and \
                precompute is not False and ADMM().accepts(Spectral, penalty):
            fit = factored()
            return Problem(fit, penalty, False, solver=ADMM(),
                           least_squares=None if positive else (lambda: fit))
    gram = use_gram(blocks, p, m, shared, precompute, cd=fits_cd)
    use_cd = solver == "cd" or (solver == "auto" and fits_cd and gram)
    if gram_form and (use_cd or gram):
        fit = GramFit(blocks, p, m, fit_intercept, shared)
    else:
        fit = DesignFit(blocks, loss, p, m, fit_intercept)
    return Problem(fit, penalty, use_cd, least_squares=None if positive else factored)


def _check_factored(solver, blocks, loss, penalty, p, m, design):
    """A ValueError naming what ``solver="exact"`` or ``"admm"`` lacks here, if any."""
    chosen = Exact() if solver == "exact" else ADMM()
    name = type(penalty.penalty if isinstance(penalty, Positive) else penalty).__name__
    lacks = []
    if design is not None:
        lacks.append("the numpy backend (backend='torch' solves by FISTA)")
    if not loss.quadratic:
        lacks.append(f"the squared loss, not loss={loss.name!r}")
    if solver == "exact" and isinstance(penalty, Positive):
        lacks.append("positive=False (W >= 0 makes the problem no linear system)")
    elif not chosen.accepts(Spectral, penalty):
        lacks.append(f"a quadratic penalty ('l2', 'mean', 'graph'), not {name}"
                     if solver == "exact" else f"a penalty with a prox and a duality "
                     f"gap ('trace', 'cluster', 'dirty', ...), not {name}")
    if loss.quadratic and design is None and not factorizable(blocks, p, m):
        lacks.append(f"a factorization of the Gram matrices that fits in memory "
                     f"({m} outputs x {p} features here)")
    if lacks:
        raise ValueError(f"solver={solver!r} needs " + "; ".join(lacks) +
                         ".  Use solver='auto' or 'fista'.")
