"""A data-fit term, a bound penalty and the solver that suits them.

:func:`make_problem` is the one place that picks the data-fit form (data space or
Gram space) and the solver (FISTA or block coordinate descent), from what each
solver declares it needs (:class:`~skmtl.linear._fista.FISTA`,
:class:`~skmtl.linear._bcd.BCD`) and from the cost of the two forms.
"""

import numpy as np
import scipy.sparse as sp

from ._bcd import BCD
from ._datafit import DesignFit, GramFit, shared_rows
from ._fista import FISTA

__all__ = ["Problem", "make_problem", "use_gram"]


class Problem:
    """A data-fit term, a bound penalty and the solver that suits them.

    Parameters
    ----------
    datafit : DesignFit, GramFit or the like
    penalty : Penalty
        Bound to the outputs (``penalty.bind``).
    use_cd : bool
        Block coordinate descent (:class:`BCD`) rather than :class:`FISTA`.

    Raises
    ------
    ValueError
        When ``datafit`` or ``penalty`` lacks what the solver needs.
    """

    def __init__(self, datafit, penalty, use_cd):
        self.datafit, self.penalty, self.use_cd = datafit, penalty, use_cd
        self.shape = datafit.shape
        self.solver = BCD() if use_cd else FISTA()
        self.solver.check(datafit, penalty)

    @property
    def gram(self):
        """Whether the data-fit term eliminates the intercept (Gram form)."""
        return not self.datafit.has_intercept_variable

    def start(self):
        """Zero coefficients, and zero intercepts where they are variables."""
        V = self.penalty.variable(np.zeros(self.shape))
        fit_b = not self.gram and self.datafit.fit_intercept
        return V, (np.zeros(self.shape[1]) if fit_b else None)

    def solve(self, alpha, V, b, *, max_iter, tol, verbose=0):
        """Returns ``(V, intercept, gap, n_iter, converged)``."""
        V, b, gap, n_iter, converged = self.solver.solve(
            self.datafit, self.penalty, alpha, V, b, max_iter=max_iter, tol=tol,
            verbose=verbose)
        if self.gram:
            b = self.datafit.intercept(self.penalty.coef(V))
        elif b is None:
            b = np.zeros(self.shape[1])
        return V, b, gap, n_iter, converged


def _pass_cost(blocks):
    """Multiply-adds of one product with X: its nonzeros times the outputs it feeds."""
    total = 0
    for blk in blocks:
        entries = blk.X.nnz if sp.issparse(blk.X) else blk.X.size
        total += entries * blk.Y.shape[1]
    return total


def use_gram(blocks, n_features, n_outputs, shared, precompute="auto"):
    """Whether the Gram form is asked for (``precompute`` a bool) or cheaper.

    ``"auto"``: when the Gram matrices (one if the rows are ``shared``, else one per
    output) hold no more entries than one pass over the data, at most ``5e7``.
    """
    if precompute != "auto":
        return bool(precompute)
    grams = n_outputs if not shared else 1
    return grams * n_features**2 <= min(_pass_cost(blocks), 5e7)


def make_problem(blocks, loss, penalty, n_features, n_outputs, *, fit_intercept=True,
                 solver="auto", precompute="auto", design=None):
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
    solver : {"auto", "fista", "cd"}, default="auto"
        ``"auto"``: coordinate descent where the solver accepts the penalty and the
        loss (``"l21"`` and the squared loss), every output sees the same rows, and
        the Gram form is used; else FISTA.  ``"cd"``: coordinate descent, refused
        when :class:`BCD`'s requirements are not met.
    precompute : {"auto", True, False}, default="auto"
        The Gram form (squared loss only) when True, or when cheaper (``"auto"``,
        see :func:`use_gram`); coordinate descent always uses it.
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
        ``solver="cd"`` with a penalty or a loss coordinate descent cannot take.
    """
    p, m = n_features, n_outputs
    gram_form = loss.quadratic  # the Gram form holds the squared loss exactly
    fits_cd = BCD().accepts(GramFit if gram_form else DesignFit, penalty)
    if solver == "cd" and not fits_cd:
        BCD().check(GramFit if gram_form else DesignFit, penalty)
    shared = shared_rows(blocks)
    gram = use_gram(blocks, p, m, shared, precompute)
    use_cd = solver == "cd" or (solver == "auto" and fits_cd and shared and gram)
    if design is not None:
        return Problem(design(blocks, loss, p, m, fit_intercept), penalty, False)
    if gram_form and (use_cd or gram):
        return Problem(GramFit(blocks, p, m, fit_intercept, shared), penalty, use_cd)
    return Problem(DesignFit(blocks, loss, p, m, fit_intercept), penalty, use_cd)
