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

Warm starts continue the run: the solution is returned as an :class:`Iterate`, an
array that carries the solver's state (here the extrapolated point, ``t_k``, the
step size and the iteration count), and a solve started from it on the same problem
(the same data, penalty and ``alpha``) resumes it, so that 5 + 5 iterations are 10;
on another problem (a new ``alpha``, new data) the momentum restarts.

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


class Iterate(np.ndarray):
    """A solver's solution that carries its ``state`` (a :class:`SolverState`).

    Copies and views keep the state; arithmetic gives plain arrays (a state belongs
    to this point only).  Pickling drops it (a later warm start then restarts).
    """

    def __new__(cls, V, state=None):
        out = np.asarray(V).view(cls)
        out.state = state
        return out

    def __array_finalize__(self, obj):
        self.state = getattr(obj, "state", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(a) for a in kwargs["out"])
        return getattr(ufunc, method)(*(_plain(a) for a in inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        out = super().__array_function__(func, types, args, kwargs)
        return tuple(map(_plain, out)) if isinstance(out, tuple) else _plain(out)


def _plain(a):
    return a.view(np.ndarray) if isinstance(a, Iterate) else a


class SolverState:
    """What a solver needs to continue a run: its ``variables``, and ``key``, values
    that identify the problem (``alpha``, the objective's parts at the point)."""

    def __init__(self, solver, key, **variables):
        self.solver, self.key, self.variables = solver, np.asarray(key, float), variables

    @staticmethod
    def of(V, solver, key):
        """The variables ``V`` carries from ``solver`` on the problem ``key``, or None."""
        state = getattr(V, "state", None)
        if state is None or state.solver != solver or state.key.shape != np.shape(key) \
                or not np.allclose(state.key, key, rtol=1e-12, atol=0):
            return None
        return state.variables


def _dot(a, b, a0, b0):
    out = np.vdot(a, b)
    return out + np.vdot(a0, b0) if a0 is not None else out


def fista(datafit, penalty, alpha, V, b, *, max_iter=1000, tol=1e-4, verbose=0,
          check_every=10):
    """Minimise ``datafit(coef(V), b) + alpha * penalty(V)``.

    ``V`` an :class:`Iterate` of an earlier run on the same problem continues that
    run (its ``b`` is then the one the run kept, before the intercept's polish).

    Returns
    -------
    V : Iterate
        The solution, with the state that continues the run.
    b : ndarray or None
        Its intercept (None without intercept).
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
    x, bx = np.asarray(V), b
    saved = getattr(V, "state", None)
    if saved is not None and saved.solver == "fista" and \
            (b is None) == (saved.variables["bx"] is None):
        bx = saved.variables["bx"]  # the raw intercept (not the returned best one)
    Zx = datafit.forward(coef(x), bx)
    key = (alpha, L0, kappa, datafit.value(coef(x), bx, Zx), penalty.value(x))
    saved = SolverState.of(V, "fista", key)
    if saved is None:  # a fresh start
        if bx is not b:
            bx, Zx = b, datafit.forward(coef(x), b)
        y, by, Zy, t, it0, calm_until = x, bx, Zx, 1.0, 0, 0
    else:  # the same problem: continue the run
        y, by, t, L = saved["y"], saved["by"], saved["t"], saved["L"]
        it0, calm_until = saved["it"], saved["calm_until"]
        Zy = datafit.forward(coef(y), by)
    fy = datafit.value(coef(y), by, Zy)
    gap, converged, first, last, best = np.nan, False, it0 + 1, it0 + max_iter, None
    for it in range(first, last + 1):
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
            if it % check_every and it not in (first, last):
                continue
            gap, gb2 = duality_gap(datafit, penalty, alpha, x, bx, Zx)
            converged = gap <= tol * scale and gb2 / (kappa * L) <= tol * scale
            if bx is not None and (converged or it == last):
                # certified only at the best intercept for this W (a Newton solve, so
                # only once the cheap gap at the current intercept is small)
                bg, Zg = best_intercept(datafit, coef(x), bx, Zx)
                gap, gb2 = duality_gap(datafit, penalty, alpha, x, bg, Zg)
                converged = gap <= tol * scale and gb2 / (kappa * L) <= tol * scale
                if converged or it == last:  # the better intercept for the same W
                    best = (bg, Zg)  # returned; the run continues from bx
        else:
            size = np.sqrt(step2 / max(_dot(xn, xn, bn, bn), 1e-300))
            converged = size <= tol
        if verbose and (converged or it % (10 * check_every) == 0):
            bv, Zv = best if best is not None else (bx, Zx)
            obj = datafit.value(coef(x), bv, Zv) + alpha * penalty.value(x)
            print(f"[fista] iter {it:5d}  objective {obj:.8e}  gap {gap:.3e}  L {L:.3e}")
        if converged:
            break
    key = (alpha, L0, kappa, datafit.value(coef(x), bx, Zx), penalty.value(x))
    state = SolverState("fista", key, bx=bx, y=y, by=by, t=t, L=L, it=it,
                        calm_until=calm_until)
    return Iterate(x, state), (bx if best is None else best[0]), gap, it - it0, converged


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
