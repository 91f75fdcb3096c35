"""A data-fit term, a bound penalty and the solver that suits them."""

import numpy as np

from ._bcd import bcd_l21
from ._datafit import GramFit
from ._fista import fista


class Problem:
    """A data-fit term, a bound penalty and the solver that suits them."""

    def __init__(self, datafit, penalty, use_cd):
        self.datafit, self.penalty, self.use_cd = datafit, penalty, use_cd
        self.shape = datafit.shape

    @property
    def gram(self):
        return isinstance(self.datafit, GramFit)

    def start(self):
        """Zero coefficients, and zero intercepts where they are variables."""
        V = self.penalty.variable(np.zeros(self.shape))
        fit_b = not self.gram and self.datafit.fit_intercept
        return V, (np.zeros(self.shape[1]) if fit_b else None)

    def solve(self, alpha, V, b, *, max_iter, tol, verbose=0):
        """Returns ``(V, intercept, gap, n_iter, converged)``."""
        if self.use_cd and alpha > 0:
            V, gap, n_iter, converged = bcd_l21(
                self.datafit, alpha, V, max_iter=max_iter, tol=tol, verbose=verbose)
        else:
            V, b, gap, n_iter, converged = fista(
                self.datafit, self.penalty, alpha, V, b, max_iter=max_iter, tol=tol,
                verbose=verbose)
        if self.gram:
            b = self.datafit.intercept(self.penalty.coef(V))
        elif b is None:
            b = np.zeros(self.shape[1])
        return V, b, gap, n_iter, converged
