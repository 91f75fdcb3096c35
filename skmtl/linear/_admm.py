"""ADMM with exact steps in W, for the penalties with a prox and the squared loss.

FISTA's iterations grow with the conditioning of the Gram matrices: on raw School
(unscaled percentages, collinear dummies, school-level features constant within
a task) the trace norm needed 640 to 6,000 iterations cold.  ADMM on
``min f(W) + alpha Omega(Z), W = Z`` (scaled form) takes its W-step exactly,
``(G_j + rho I) w_j = c_j + rho (z_j - u_j)``, from the factorization of
:class:`~skmtl.linear._exact.Spectral` (``O(p r m)``, any ``rho``: no
refactorization when ``rho`` adapts), and its Z-step is the penalty's prox; the
conditioning of G then costs nothing (70 to 400 iterations on School).

A penalty on another variable ``V`` with ``W = coef(V)`` (the dirty model's ``P +
Q``) solves its Z-step ``min_V alpha Omega(V) + rho/2 ||A V - M||^2`` by a few
accelerated proximal steps (warm-started; the subproblem's curvature is ``rho L``,
``L = penalty.lipschitz_factor >= ||A||^2``, so it is well conditioned whatever
G is); with ``coef`` the identity one step is the exact prox.  Raw School's dirty
model: 100 to 200 iterations cold where FISTA took 800 to 19,000.

It stops on the duality gap at ``Z`` (a point where the penalty is evaluated, so
the certificate is FISTA's).  ``rho`` starts at the geometric mean of the largest
and the median curvature and is balanced by the residuals (Boyd et al. 2011,
section 3.4.1); the scaled dual starts at ``-grad f(Z0) / rho``, optimal when the
start is; a start that meets ``tol`` already is returned after that one check
(``n_iter`` 1, as FISTA's first check).

A warm start on the same problem continues the run (the scaled dual ``U``, ``rho``
and the iteration count travel with the solution, an :class:`~skmtl.linear._fista.
Iterate`); ``rho`` adapts only at the scheduled checks, so 5 + 5 iterations are 10.
"""

import numpy as np

from ._fista import FISTA, Iterate, Solver, SolverState, duality_gap

__all__ = ["ADMM", "admm"]


def _z_step(penalty, step, V, M, lin, inner):
    """``argmin_V step * Omega(V) + 1/2 ||coef(V) - M||^2``, approximately: ``inner``
    accelerated proximal steps from ``V`` (exact in one when ``coef`` is the
    identity and ``lin`` 1)."""
    if inner == 1 and lin == 1:  # coef is the identity: the prox itself
        return penalty.prox(M, step)
    x = y = V
    t = 1.0
    for _ in range(inner):
        xn = penalty.prox(y - penalty.var_gradient(penalty.coef(y) - M) / lin, step / lin)
        tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        y = xn + ((t - 1.0) / tn) * (xn - x)
        x, t = xn, tn
    return x


def admm(fit, penalty, alpha, V, *, max_iter=1000, tol=1e-4, verbose=0, check_every=5,
         inner_steps=20):
    """Minimise ``fit(coef(V)) + alpha * penalty(V)`` for a factored Gram-form
    ``fit``.  Returns ``(V, gap, n_iter, converged)``."""
    p, m = fit.shape
    cols = np.arange(m)
    top = fit.e.max(initial=0.0)
    e = fit.e[fit.e > 1e-10 * top]  # not the rounding of G's null space
    # the geometric mean as a product of roots: no under/overflow at extreme scales
    rho = float(np.sqrt(top) * np.sqrt(np.median(e))) if e.size else 1.0
    rho = rho if 0.0 < rho < np.inf else 1.0
    lin = float(penalty.lipschitz_factor)
    inner = 1 if lin == 1 else inner_steps
    Z = penalty.coef(np.asarray(V))
    HZ = fit.forward(Z)
    key = (alpha, top, fit.value(Z, None, HZ), penalty.value(np.asarray(V)))
    saved = SolverState.of(V, "admm", key)
    V = np.array(V, dtype=np.float64, copy=True)
    scale = fit.tol_scale()
    if saved is None:  # a fresh start: the dual optimal for the start
        U, it0 = (fit.C - HZ) / rho, 0
    else:
        U, rho, it0 = saved["U"].copy(), saved["rho"], saved["it"]
    gap = duality_gap(fit, penalty, alpha, V, None, HZ)[0]
    if gap <= tol * scale:  # a warm start at the solution: one check, no step
        return Iterate(V, SolverState("admm", key, U=U, rho=rho, it=it0)), gap, 1, True
    converged, it, last = False, it0, it0 + max_iter
    for it in range(it0 + 1, last + 1):
        W = fit.inverse_apply(np.full(m, rho), fit.C + rho * (Z - U), cols)
        Z_old = Z
        V = _z_step(penalty, alpha / rho, V, W + U, lin, inner)
        Z = penalty.coef(V)
        U += W - Z
        scheduled = it % check_every == 0 or it == 1
        if not scheduled and it != last:
            continue
        gap = duality_gap(fit, penalty, alpha, V, None, fit.forward(Z))[0]
        if verbose:
            print(f"[admm] iter {it:5d}  gap {gap:.3e}  rho {rho:.3e}")
        if gap <= tol * scale:
            converged = True
            break
        r, s = np.linalg.norm(W - Z), rho * np.linalg.norm(Z - Z_old)
        if scheduled and r > 10 * s:  # (not at an unscheduled last check: the
            rho, U = 2 * rho, U / 2  # run that continues must see the same rho)
        elif scheduled and s > 10 * r:
            rho, U = rho / 2, U * 2
    key = (alpha, top, fit.value(Z, None, fit.forward(Z)), penalty.value(V))
    state = SolverState("admm", key, U=U, rho=rho, it=it)
    return Iterate(V, state), gap, it - it0, converged


class ADMM(Solver):
    """:func:`admm`: a factored data-fit term (:class:`~skmtl.linear._exact.
    Spectral`) and a penalty with a prox and a dual (``"trace"``, ``"cluster"``,
    ``"dirty"``).  With ``alpha = 0`` the problem is least squares, solved
    exactly (by FISTA under ``positive=True``)."""

    name = "admm"
    datafit_required = ("factors", "inverse_apply", "forward", "value", "gradient",
                        "conjugate", "tol_scale", "intercept")
    penalty_required = ("coef", "variable", "var_gradient", "prox", "value",
                        "lipschitz_factor", "is_norm", "has_dual")
    needs = "a penalty with a prox and a dual, and the squared loss"

    def custom_checks(self, datafit, penalty):
        if not isinstance(penalty, type) and not penalty.has_dual:
            return ["penalty.has_dual"]
        return []

    def solve(self, datafit, penalty, alpha, V, b, **params):
        """Returns ``(V, None, gap, n_iter, converged)``, as :meth:`FISTA.solve`."""
        if not alpha > 0:  # least squares (Problem solves it exactly unconstrained)
            return FISTA().solve(datafit, penalty, alpha, V, b, **params)
        V, gap, n_iter, converged = admm(datafit, penalty, alpha, V, **params)
        return V, None, gap, n_iter, converged
