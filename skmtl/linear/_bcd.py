"""Block coordinate descent for the L21 penalty with the squared loss, in Gram form.

One epoch costs ``O(p^2 T)`` (a rank-one update of ``H = G W`` per feature) instead
of the ``O(n p T)`` of a pass over the data, and Gap Safe screening (Ndiaye et al.
2015) drops the rows the dual certificate proves to be zero.
"""

import numpy as np

from ._fista import duality_gap
from ._penalties import L21, _row_norms


def bcd_l21(fit, alpha, W, *, max_iter=1000, tol=1e-4, screen=True, verbose=0,
            check_every=5):
    """Minimise ``fit(W) + alpha * ||W||_21`` for a :class:`GramFit` ``fit``.

    Returns ``(W, gap, n_iter, converged)``.
    """
    penalty = L21()
    W = np.array(W, dtype=np.float64, copy=True)
    lip = fit.G[:, np.arange(W.shape[0]), np.arange(W.shape[0])].max(axis=0)
    W[lip <= 0] = 0.0
    H = fit.forward(W)
    C = fit.C
    active = np.flatnonzero(lip > 0)
    scale = fit.tol_scale()
    gap, converged, it = np.nan, False, 0
    for it in range(1, max_iter + 1):
        for j in active:
            wj = W[j]
            z = wj - (H[j] - C[j]) / lip[j]
            norm = np.sqrt(np.dot(z, z))
            thr = alpha / lip[j]
            new = z * (1.0 - thr / norm) if norm > thr else 0.0 * z
            delta = new - wj
            if delta.any():
                W[j] = new
                H += fit.gram_column(j) * delta
        if it % check_every and it != max_iter:
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
            s = max(1.0, _row_norms(H - C).max(initial=0.0) / alpha)
            radius = np.sqrt(2.0 * gap) / alpha
            score = _row_norms((C - H)[active]) / (s * alpha)
            dead = active[score + np.sqrt(lip[active]) * radius < 1.0]
            for j in dead:
                if W[j].any():
                    H -= fit.gram_column(j) * W[j]
                    W[j] = 0.0
            active = np.setdiff1d(active, dead, assume_unique=True)
    return W, gap, it, converged
