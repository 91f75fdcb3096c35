"""Block coordinate descent for a row-separable norm with the squared loss, in Gram form.

One epoch costs ``O(p^2 T)`` at most (a rank-one update of ``H = G W`` per
feature) instead of the ``O(n p T)`` of a pass over the data, whether the outputs
share one Gram matrix or each task has its own (the long format: a feature's step
is vectorized over the tasks).  Three things make it fast on hard problems:

* **working sets** (as celer / skglm): the epochs run over the features most
  likely to be nonzero (the largest dual scores, every nonzero row), a set that
  doubles until the subproblem's solution is the problem's; with a lazy Gram
  matrix (:class:`~skmtl.linear._grams.LazyGram`) only their columns are computed;
* **Gap Safe screening** (Ndiaye et al. 2015) drops the rows the dual certificate
  proves to be zero;
* **Anderson acceleration** (as skglm): every few epochs, the extrapolation of the
  last iterates, kept where it lowers the objective, which on correlated features
  saves most of the epochs.

An elastic mix (a penalty with ``split_ridge``, :class:`~skmtl.linear._elastic.
ElasticMix`) is solved as scikit-learn's ``enet_coordinate_descent`` solves it: as
the lasso of its norm on the data-fit term plus the ridge (:class:`Ridged`), whose
duality gap and screening are the lasso's.  What it needs of the data-fit term and
of the penalty is declared by :class:`BCD`.
"""

import numpy as np

from ._fista import FISTA, Solver, duality_gap

__all__ = ["BCD", "Ridged", "bcd", "row_rules"]


def row_rules(penalty):
    """``(block_minimiser, block_dual_norms)`` that ``penalty`` declares, or None."""
    rules = (getattr(penalty, "block_minimiser", None),
             getattr(penalty, "block_dual_norms", None))
    return None if None in rules else rules


class Ridged:
    """A Gram-form quadratic plus ``ridge / 2 ||W||_F^2``: the Gram matrices plus
    ``ridge`` times the identity.

    Its state is ``H = (G + ridge I) W``, in which the quadratic's own value,
    gradient and conjugate (:class:`~skmtl.linear._datafit.QuadraticForm`) are the
    sum's: the ridge is the squared loss of ``p`` rows ``sqrt(ridge) I`` with
    targets 0 (the residuals ``-sqrt(ridge) W``, which the conjugate's residual
    norm counts and ``y . r`` does not).
    """

    def __init__(self, fit, ridge):
        self.fit, self.ridge = fit, ridge
        for name in ("value", "gradient", "conjugate", "gradient_row", "tol_scale",
                     "prepare_columns"):
            if hasattr(fit, name):
                setattr(self, name, getattr(fit, name))

    def forward(self, W):
        return self.fit.forward(W) + self.ridge * W

    def gram_diagonal(self):
        return self.fit.gram_diagonal() + self.ridge

    def gram_column(self, j):
        col = self.fit.gram_column(j).copy()
        col[j] += self.ridge
        return col


_REG = 1e-8  # Anderson's regularization, relative to trace(U U^T)


def _objective(fit, penalty, alpha, W, H):
    return fit.value(W, None, H) + alpha * penalty.value(W)


def _gap(fit, penalty, norms, alpha, W, H, rows):
    """The duality gap of the problem restricted to ``rows`` (the others zero)."""
    grad = fit.gradient(W, None, H)[0]
    s = max(1.0, norms(grad[rows]).max(initial=0.0) / alpha)
    return _objective(fit, penalty, alpha, W, H) + fit.conjugate(W, None, H, s)


def _epoch(fit, minimiser, alpha, W, H, rows, diag, lip, exact, scalar=None):
    if scalar is not None:
        return _epoch_one(fit, scalar, alpha, W, H, rows, lip)
    for j in rows:
        wj = W[j]
        d = diag[:, j] if exact else lip[j]
        new = minimiser(d * wj - fit.gradient_row(j, H), d, alpha)
        delta = new - wj
        if delta.any():
            W[j] = new
            H += fit.gram_column(j) * delta


def _epoch_one(fit, step, alpha, W, H, rows, lip):
    """:func:`_epoch` for one output (``W`` of shape (p, 1)) and a penalty's
    ``scalar_minimiser``: each coefficient's arithmetic in Python floats, where a
    numpy call a coefficient costs more than the arithmetic; the same steps."""
    w, d = W[:, 0], lip.tolist()
    for j in rows.tolist():
        wj = float(w[j])
        new = step(d[j] * wj - float(fit.gradient_row(j, H)[0]), d[j], alpha)
        if new != wj:
            w[j] = new
            H += fit.gram_column(j) * (new - wj)


def _anderson(fit, penalty, alpha, W, H, rows, past):
    """Replace ``W[rows]`` (and ``H``) by the Anderson extrapolation of ``past``
    (the last iterates on ``rows``) where it lowers the objective."""
    P = np.stack(past)  # (K + 1, |rows|, m)
    U = np.diff(P, axis=0).reshape(P.shape[0] - 1, -1)
    M = U @ U.T
    try:
        # regularized: the weights of nearly collinear differences would amplify
        # rounding (two fits of the same problem must follow the same steps)
        c = np.linalg.solve(M + _REG * np.trace(M) * np.eye(M.shape[0]),
                            np.ones(M.shape[0]))
    except np.linalg.LinAlgError:
        return False
    if not np.all(np.isfinite(c)) or c.sum() == 0:
        return False
    c /= c.sum()
    extra = np.tensordot(c, P[1:], axes=1)
    delta = extra - W[rows]
    moved = np.flatnonzero(np.any(delta != 0, axis=1))
    if moved.size == 0:
        return False
    Wn = W.copy()
    Wn[rows] = extra
    Hn = H.copy()
    for k in moved:  # the Gram columns of the rows that moved
        Hn += fit.gram_column(rows[k]) * delta[k]
    if _objective(fit, penalty, alpha, Wn, Hn) < _objective(fit, penalty, alpha, W, H):
        W[...], H[...] = Wn, Hn
        return True
    return False


def bcd(fit, penalty, alpha, W, *, max_iter=1000, tol=1e-4, screen=True, verbose=0,
        ws_start=16, anderson=5):
    """Minimise ``fit(W) + alpha * penalty(W)`` for a Gram-form ``fit``.

    The penalty separates over the rows of ``W`` (its variable is ``W``); each
    row's step and the screening rule come from :func:`row_rules`.  ``max_iter``
    counts epochs over the working set.

    It stops at a duality gap below ``tol * fit.tol_scale()``, checked (as in
    scikit-learn's coordinate descent) only after an epoch whose largest change
    of a coefficient is below ``tol`` times the largest coefficient: the gap
    alone stops as soon as it is met, some way from the optimum (5e-6 to 3e-4 of
    the largest coefficient at ``tol=1e-4``), where scikit-learn's rule goes on
    to 2e-7 to 2e-6; the same rule gives the same accuracy at the same ``tol``.
    A warm start whose gap already meets the target takes no epoch.

    A ``penalty`` with ``split_ridge`` (an elastic mix) is solved as the lasso
    of its norm on ``Ridged(fit)``, the same objective.

    Returns ``(W, gap, n_iter, converged)``: the gap of the whole problem.
    """
    if hasattr(penalty, "split_ridge"):
        norm, r = penalty.split_ridge()
        fit, penalty, alpha = Ridged(fit, alpha * (1.0 - r)), norm, alpha * r
    minimiser, norms = row_rules(penalty)
    W = np.array(W, dtype=np.float64, copy=True)
    scalar = getattr(penalty, "scalar_minimiser", None) if W.shape[1] == 1 else None
    diag = fit.gram_diagonal()  # (Tg, p)
    lip = diag.max(axis=0)
    exact = diag.shape[0] > 1 and not np.allclose(diag, lip)
    W[lip <= 0] = 0.0
    H = fit.forward(W)
    active = np.flatnonzero(lip > 0)
    scale = fit.tol_scale()
    target = tol * scale
    gap, converged, it = np.nan, False, 0
    ws_size, last = ws_start, np.inf
    small = True  # the last epoch's steps were small (none yet: the start is checked)
    while True:
        gap, _ = duality_gap(fit, penalty, alpha, W, None, H)
        if gap > max(0.5 * last, target):  # the working set was too small to progress
            ws_size *= 2
        last = gap
        if verbose:
            print(f"[bcd] epoch {it:5d}  gap {gap:.3e}  active {active.size}")
        if gap <= target and (small or it >= max_iter):
            converged = True
            break
        if it >= max_iter:
            break
        if screen:
            active = _screen(fit, norms, alpha, W, H, active, lip, gap)
        grad = fit.gradient(W, None, H)[0][active]
        score = norms(grad)
        score[np.any(W[active] != 0, axis=1)] = np.inf  # every nonzero row
        nnz = int(np.isinf(score).sum())
        violators = int((score[np.isfinite(score)] > alpha).sum())  # KKT violated
        # the support and its violators (at most the support again, as skglm's
        # twice the support): the Gram columns of a lazy Gram cost n p each
        ws_size = min(active.size, max(ws_size, nnz + min(violators, max(nnz, ws_start))))
        if ws_size < active.size:
            rows = np.sort(active[np.argpartition(-score, ws_size - 1)[:ws_size]])
        else:
            rows = active
        if hasattr(fit, "prepare_columns"):
            fit.prepare_columns(rows)
        if rows.size < active.size:  # the subproblem's gap, to a fraction of the gap
            inner_target, check = max(0.3 * gap, target), rows
        else:
            inner_target, check = target, slice(None)
        final = inner_target <= target  # the last stage: its steps must be small too
        past = [W[rows].copy()]
        while it < max_iter:
            before = past[-1]
            _epoch(fit, minimiser, alpha, W, H, rows, diag, lip, exact, scalar)
            it += 1
            past.append(W[rows].copy())
            if anderson and len(past) == anderson + 1:
                if _anderson(fit, penalty, alpha, W, H, rows, past):
                    past.append(W[rows].copy())  # the step counts the jump
                past = past[-1:]
            elif not anderson:
                past = past[-1:]
            small = _small_steps(before, past[-1], tol)
            if (small or not final) and \
                    _gap(fit, penalty, norms, alpha, W, H, check) <= inner_target:
                break
    return W, gap, it, converged


def _small_steps(before, after, tol):
    """scikit-learn's rule: the largest change of a coefficient is at most ``tol``
    times the largest coefficient (or every coefficient is zero)."""
    w_max = np.abs(after).max(initial=0.0)
    return w_max == 0.0 or np.abs(after - before).max(initial=0.0) <= tol * w_max


def _screen(fit, norms, alpha, W, H, active, lip, gap):
    """Gap Safe: zero the active rows the dual certificate proves zero (in place)."""
    grad = fit.gradient(W, None, H)[0]
    s = max(1.0, norms(grad).max(initial=0.0) / alpha)
    radius = np.sqrt(2.0 * max(gap, 0.0)) / alpha
    score = norms(grad[active]) / (s * alpha)
    dead = active[score + np.sqrt(lip[active]) * radius < 1.0]
    for j in dead:
        if W[j].any():
            H -= fit.gram_column(j) * W[j]
            W[j] = 0.0
    return np.setdiff1d(active, dead, assume_unique=True)


class BCD(Solver):
    """:func:`bcd`: a Gram-form data-fit term and a row-separable norm (``"l21"``,
    ``"l1"``) or its elastic mix with a ridge.

    With ``alpha = 0`` there is no norm to screen with: FISTA solves.
    """

    name = "cd"
    datafit_required = FISTA.datafit_required + (
        "gram_column", "gram_diagonal", "gradient_row")
    penalty_required = FISTA.penalty_required + ("block_minimiser", "block_dual_norms")
    needs = "penalty='l21' and the squared loss"  # (or 'l1', or their ElasticMix)
    advice = "; use solver='fista'"

    def custom_checks(self, datafit, penalty):
        return FISTA().custom_checks(datafit, penalty)

    def solve(self, datafit, penalty, alpha, V, b, **params):
        """Returns ``(V, None, gap, n_iter, converged)``, as :meth:`FISTA.solve`."""
        if not alpha > 0:
            return FISTA().solve(datafit, penalty, alpha, V, b, **params)
        V, gap, n_iter, converged = bcd(datafit, penalty, alpha, V, **params)
        return V, None, gap, n_iter, converged
