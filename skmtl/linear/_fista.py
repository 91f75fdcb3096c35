"""The one accelerated proximal-gradient loop: arrays in, arrays out.

FISTA (Beck & Teboulle 2009) with backtracking on the Lipschitz constant and
adaptive restart (O'Donoghue & Candes 2015).  The data-fit state is linear in the
iterate, so the extrapolated state is extrapolated too: each iteration costs one
forward product and one gradient product.

Stopping: the duality gap (checked every ``check_every`` iterations) for every
penalty with a norm or a finite conjugate; for the others, the relative size of the
proximal-gradient step.  With an intercept, the gap is taken at the best intercept
for the current coefficients (:func:`best_intercept`): there the residuals sum to
zero in every output, so the gap of the problem in W bounds the suboptimality of
the joint problem in (W, b), whatever the coupling between the two (uncentred X).

:class:`Solver` declares what a solver needs of the data-fit term and the penalty;
:class:`FISTA` is this loop's declaration (and :class:`~skmtl.linear._bcd.BCD`
coordinate descent's).
"""

import numpy as np


def duality_gap(datafit, penalty, alpha, V, b, state):
    """Duality gap at ``(V, b)`` and the intercept's squared gradient norm.

    The gap is that of the problem in W with the intercept held at ``b``; together
    with a zero intercept gradient it certifies optimality, since the intercept is
    not penalized.
    """
    W = penalty.coef(V)
    GW, gb = datafit.gradient(W, b, state)
    if penalty.is_norm:  # rescale the dual point into the dual-norm ball
        s, penalty_conjugate = max(1.0, penalty.dual_norm(GW) / alpha), 0.0
    else:
        s, penalty_conjugate = 1.0, alpha * penalty.conjugate(-GW / alpha)
    gap = (
        datafit.value(W, b, state)
        + alpha * penalty.value(V)
        + datafit.conjugate(W, b, state, s)
        + penalty_conjugate
    )
    if gb is not None:  # the conjugate of u -> F(u + b) is F*(U) - <U, b>
        gap -= np.vdot(b, gb) / s
    return max(gap, 0.0), (0.0 if gb is None else float(np.vdot(gb, gb)))


def best_intercept(datafit, W, b, state, max_iter=50):
    """Minimise the data-fit term over the intercept, ``W`` fixed: damped Newton with
    the diagonal curvature, per output.  Returns ``(b, state)``."""
    value = datafit.value(W, b, state)
    for _ in range(max_iter):
        g, h = datafit.intercept_newton(state)
        if not np.abs(g).max(initial=0.0) > 1e-12:  # g: weighted means of the residuals
            break
        step = g / np.maximum(h, 1e-12 * max(h.max(initial=0.0), 1e-300))
        t = 1.0
        while t > 1e-10:
            bn, sn = b - t * step, datafit.shift(state, -t * step)
            vn = datafit.value(W, bn, sn)
            if vn <= value + 1e-14 * abs(value):  # near the minimum: rounding only
                break
            t *= 0.5
        else:  # no descent left: at the minimum to rounding
            break
        b, state, value = bn, sn, vn
    return b, state


def _dot(a, b, a0, b0):
    out = np.vdot(a, b)
    return out + np.vdot(a0, b0) if a0 is not None else out


def fista(datafit, penalty, alpha, V, b, *, max_iter=1000, tol=1e-4, verbose=0,
          check_every=10):
    """Minimise ``datafit(coef(V), b) + alpha * penalty(V)``.

    Returns
    -------
    V, b : ndarray
        The solution (``b`` is None without intercept).
    gap : float
        The last duality gap (NaN when the penalty has no known dual).
    n_iter : int
    converged : bool
    """
    coef = penalty.coef
    use_gap = penalty.has_dual and alpha > 0
    # the step of the intercept has its own scale (kappa L): with X far from unit
    # scale, one step for both would leave one of them all but frozen
    if b is not None and hasattr(datafit, "lipschitz_parts"):
        L, Lb = datafit.lipschitz_parts()
        L *= penalty.lipschitz_factor
        kappa = Lb / L if np.isfinite(L) and L > 0 else 1.0
    else:
        L, kappa = datafit.lipschitz() * penalty.lipschitz_factor, 1.0
    L0 = L
    if not np.isfinite(L0):  # the backtracking below would never end
        raise ValueError(
            f"The curvature of the data-fit term is {L0}: the values of X (or y) "
            "overflow this model's arithmetic; scale them (e.g. with StandardScaler).")
    shrink = not datafit.constant_curvature  # quadratic: L0 is already the curvature
    scale = datafit.tol_scale()
    x, bx = V, b
    Zx = datafit.forward(coef(x), bx)
    y, by, Zy = x, bx, Zx
    fy = datafit.value(coef(y), by, Zy)
    t, gap, converged, calm_until = 1.0, np.nan, False, 0
    for it in range(1, max_iter + 1):
        GW, gb = datafit.gradient(coef(y), by, Zy)
        Gy = penalty.var_gradient(GW)
        if shrink and it > calm_until:  # let the step grow where the curvature is low
            L = max(0.9 * L, 1e-3 * L0)
        while True:
            xn = penalty.prox(y - Gy / L, alpha / L)
            bn = None if by is None else by - gb / (kappa * L)
            Zn = datafit.forward(coef(xn), bn)
            fn = datafit.value(coef(xn), bn, Zn)
            d, db = xn - y, (None if bn is None else bn - by)
            step2 = _dot(d, d, None if db is None else kappa * db, db)
            slack = 1e-12 * max(abs(fy), scale)  # rounding in the function values
            if fn <= fy + _dot(Gy, d, gb, db) + 0.5 * L * step2 + slack or L > 1e12 * L0:
                break
            L *= 2.0
            calm_until = it + 10  # after a backtrack, hold L for a while
        # adaptive restart when the momentum points uphill
        if _dot(y - xn, xn - x, None if bn is None else kappa * (by - bn),
                None if bn is None else bn - bx) > 0:
            t = 1.0
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        beta = (t - 1.0) / t_next
        t = t_next
        x_prev, bx_prev, Zx_prev = x, bx, Zx
        x, bx, Zx = xn, bn, Zn
        y = x + beta * (x - x_prev)
        by = None if bx is None else bx + beta * (bx - bx_prev)
        Zy = Zx + beta * (Zx - Zx_prev)
        fy = datafit.value(coef(y), by, Zy)

        if use_gap:
            if it % check_every and it not in (1, max_iter):
                continue
            gap, gb2 = duality_gap(datafit, penalty, alpha, x, bx, Zx)
            converged = gap <= tol * scale and gb2 / (kappa * L) <= tol * scale
            if bx is not None and (converged or it == max_iter):
                # certified only at the best intercept for this W (a Newton solve, so
                # only once the cheap gap at the current intercept is small)
                bg, Zg = best_intercept(datafit, coef(x), bx, Zx)
                gap, gb2 = duality_gap(datafit, penalty, alpha, x, bg, Zg)
                converged = gap <= tol * scale and gb2 / (kappa * L) <= tol * scale
                if converged or it == max_iter:  # the better intercept for the same W
                    bx, Zx = bg, Zg
        else:
            size = np.sqrt(step2 / max(_dot(xn, xn, bn, bn), 1e-300))
            converged = size <= tol
        if verbose and (converged or it % (10 * check_every) == 0):
            obj = datafit.value(coef(x), bx, Zx) + alpha * penalty.value(x)
            print(f"[fista] iter {it:5d}  objective {obj:.8e}  gap {gap:.3e}  L {L:.3e}")
        if converged:
            break
    return x, bx, gap, it, converged


class Solver:
    """What a solver needs of a data-fit term and a penalty, declared.

    As skglm's ``_datafit_required_attr`` / ``_penalty_required_attr``: a solver
    lists the attributes it uses, and a data-fit term or penalty (or its class)
    qualifies when it has them all and passes :meth:`custom_checks`.
    """

    name = None
    datafit_required = ()
    penalty_required = ()
    needs = "a data-fit term and a penalty with the attributes below"  # for the error
    advice = ""

    def custom_checks(self, datafit, penalty):
        """Missing attributes that depend on what the datafit declares."""
        return []

    def missing(self, datafit, penalty):
        """The attributes ``datafit`` and ``penalty`` lack, as ``'datafit.name'``."""
        out = [f"datafit.{a}" for a in self.datafit_required if not hasattr(datafit, a)]
        out += [f"penalty.{a}" for a in self.penalty_required if not hasattr(penalty, a)]
        return out + self.custom_checks(datafit, penalty)

    def accepts(self, datafit, penalty):
        return not self.missing(datafit, penalty)

    def check(self, datafit, penalty):
        """Raise a ValueError naming what is missing, if anything."""
        missing = self.missing(datafit, penalty)
        if missing:
            raise ValueError(f"solver={self.name!r} needs {self.needs}{self.advice}. "
                             f"Missing: {', '.join(missing)}.")


class FISTA(Solver):
    """:func:`fista`: any smooth data-fit term and any penalty with a prox."""

    name = "fista"
    datafit_required = ("forward", "value", "gradient", "conjugate", "lipschitz",
                        "tol_scale", "constant_curvature", "has_intercept_variable")
    penalty_required = ("coef", "variable", "var_gradient", "prox", "value",
                        "lipschitz_factor", "is_norm", "has_dual")

    def custom_checks(self, datafit, penalty):
        """An intercept variable needs the Newton hooks; without, ``intercept(W)``."""
        if not hasattr(datafit, "has_intercept_variable"):
            return []
        need = ("intercept_newton", "shift") if datafit.has_intercept_variable else \
            ("intercept",)
        return [f"datafit.{a}" for a in need if not hasattr(datafit, a)]

    def solve(self, datafit, penalty, alpha, V, b, **params):
        """Returns ``(V, b, gap, n_iter, converged)``, as :func:`fista`."""
        return fista(datafit, penalty, alpha, V, b, **params)
