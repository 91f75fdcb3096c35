"""Block coordinate descent for the L21 penalty with the squared loss, in Gram form.

One epoch costs ``O(p^2 T)`` (a rank-one update of ``H = G W`` per feature) instead
of the ``O(n p T)`` of a pass over the data, and Gap Safe screening (Ndiaye et al.
2015) drops the rows the dual certificate proves to be zero.
"""

import numpy as np

from ._fista import duality_gap
from ._penalties import L21, _row_norms


def _block_minimiser(u, d, alpha):
    """``argmin_w sum_t (d_t w_t^2 / 2 - u_t w_t) + alpha ||w||_2``.

    The exact block step when the tasks' curvatures ``d_t`` differ: ``w_t = u_t r
    / (d_t r + alpha)`` with ``r = ||w||`` the root of ``sum_t u_t^2 / (d_t r +
    alpha)^2 = 1``, found by Newton's method on the near-linear ``h(r) = (sum
    ...)^(-1/2)`` (exact in one step when all ``d_t`` are equal).
    """
    if np.dot(u, u) <= alpha * alpha:
        return 0.0 * u
    r = 0.0
    for _ in range(50):
        den = d * r + alpha
        q = u / den
        s2 = np.dot(q, q)
        h = 1.0 / np.sqrt(s2)
        step = (1.0 - h) / (np.dot(q * q, d / den) * h**3)
        r += step
        if abs(step) <= 1e-14 * r:
            break
    return u * r / (d * r + alpha)


def bcd_l21(fit, alpha, W, *, max_iter=1000, tol=1e-4, screen=True, verbose=0,
            check_every=5):
    """Minimise ``fit(W) + alpha * ||W||_21`` for a :class:`GramFit` ``fit``.

    Returns ``(W, gap, n_iter, converged)``.
    """
    penalty = L21()
    W = np.array(W, dtype=np.float64, copy=True)
    diag = fit.G[:, np.arange(W.shape[0]), np.arange(W.shape[0])]  # (Tg, p)
    lip = diag.max(axis=0)
    exact = diag.shape[0] > 1 and not np.allclose(diag, lip)
    W[lip <= 0] = 0.0
    H = fit.forward(W)
    C = fit.C
    active = np.flatnonzero(lip > 0)
    scale = fit.tol_scale()
    gap, converged, it = np.nan, False, 0
    for it in range(1, max_iter + 1):
        for j in active:
            wj = W[j]
            if exact:
                new = _block_minimiser(diag[:, j] * wj - (H[j] - C[j]), diag[:, j], alpha)
            else:
                z = wj - (H[j] - C[j]) / lip[j]
                norm = np.sqrt(np.dot(z, z))
                thr = alpha / lip[j]
                new = z * (1.0 - thr / norm) if norm > thr else 0.0 * z
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
