"""Block coordinate descent for a row-separable norm with the squared loss, in Gram form.

One epoch costs ``O(p^2 T)`` (a rank-one update of ``H = G W`` per feature) instead
of the ``O(n p T)`` of a pass over the data, and Gap Safe screening (Ndiaye et al.
2015) drops the rows the dual certificate proves to be zero.  What it needs of the
data-fit term and of the penalty is declared by :class:`BCD`.
"""

import numpy as np

from ._fista import FISTA, Solver, duality_gap


def bcd(fit, penalty, alpha, W, *, max_iter=1000, tol=1e-4, screen=True, verbose=0,
        check_every=5):
    """Minimise ``fit(W) + alpha * penalty(W)`` for a Gram-form ``fit``.

    The penalty separates over the rows of ``W`` (its variable is ``W``); each
    row's step is ``penalty.block_minimiser`` and the screening rule reads
    ``penalty.block_dual_norms``.

    Returns ``(W, gap, n_iter, converged)``.
    """
    W = np.array(W, dtype=np.float64, copy=True)
    diag = fit.gram_diagonal()  # (Tg, p)
    lip = diag.max(axis=0)
    exact = diag.shape[0] > 1 and not np.allclose(diag, lip)
    W[lip <= 0] = 0.0
    H = fit.forward(W)
    active = np.flatnonzero(lip > 0)
    scale = fit.tol_scale()
    gap, converged, it = np.nan, False, 0
    for it in range(1, max_iter + 1):
        for j in active:
            wj = W[j]
            d = diag[:, j] if exact else lip[j]
            new = penalty.block_minimiser(d * wj - fit.gradient_row(j, H), d, alpha)
            delta = new - wj
            if delta.any():
                W[j] = new
                H += fit.gram_column(j) * delta
        if it % check_every and it not in (1, max_iter):
            continue
        if alpha <= 0:
            gap = np.nan
            converged = False
        else:
            gap, _ = duality_gap(fit, penalty, alpha, W, None, H)
            converged = gap <= tol * scale
        if verbose:
            print(f"[bcd] epoch {it:5d}  gap {gap:.3e}  active {active.size}")
        if converged:
            break
        if screen and alpha > 0:
            active = _screen(fit, penalty, alpha, W, H, active, lip, gap)
    return W, gap, it, converged


def _screen(fit, penalty, alpha, W, H, active, lip, gap):
    """Gap Safe: zero the active rows the dual certificate proves zero (in place)."""
    grad = fit.gradient(W, None, H)[0]
    s = max(1.0, penalty.block_dual_norms(grad).max(initial=0.0) / alpha)
    radius = np.sqrt(2.0 * gap) / alpha
    score = penalty.block_dual_norms(grad[active]) / (s * alpha)
    dead = active[score + np.sqrt(lip[active]) * radius < 1.0]
    for j in dead:
        if W[j].any():
            H -= fit.gram_column(j) * W[j]
            W[j] = 0.0
    return np.setdiff1d(active, dead, assume_unique=True)


class BCD(Solver):
    """:func:`bcd`: a Gram-form data-fit term and a row-separable norm (``"l21"``).

    With ``alpha = 0`` there is no norm to screen with: FISTA solves.
    """

    name = "cd"
    datafit_required = FISTA.datafit_required + (
        "gram_column", "gram_diagonal", "gradient_row")
    penalty_required = FISTA.penalty_required + ("block_minimiser", "block_dual_norms")
    needs = "penalty='l21' and the squared loss"
    advice = "; use solver='fista'"

    def custom_checks(self, datafit, penalty):
        return FISTA().custom_checks(datafit, penalty)

    def solve(self, datafit, penalty, alpha, V, b, **params):
        """Returns ``(V, None, gap, n_iter, converged)``, as :meth:`FISTA.solve`."""
        if not alpha > 0:
            return FISTA().solve(datafit, penalty, alpha, V, b, **params)
        V, gap, n_iter, converged = bcd(datafit, penalty, alpha, V, **params)
        return V, None, gap, n_iter, converged
