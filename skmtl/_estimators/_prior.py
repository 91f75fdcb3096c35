"""Batched ridge-logistic Newton fits: the solver of :class:`._adapted.PriorLogisticRegression`."""

import numpy as np


def _losses(Z, Y):
    """Per-row log-loss of outputs ``Z`` (..., k, K): binary (K = 1, ``Y`` 0/1) or
    multinomial (``Y`` one-hot), with the probabilities (..., k, K)."""
    if Z.shape[-1] == 1:
        loss = np.logaddexp(0.0, Z[..., 0]) - Y[:, 0] * Z[..., 0]
        return loss, 0.5 * (1.0 + np.tanh(0.5 * Z))
    top = Z.max(axis=-1, keepdims=True)
    lse = top[..., 0] + np.log(np.exp(Z - top).sum(axis=-1))
    return lse - np.einsum("...ik,ik->...i", Z, Y), np.exp(Z - lse[..., None])


def _newton(D, O, Y, M, alphas, max_iter=50, tol=1e-10):
    """Ridge-logistic fits of many problems at once, by damped Newton steps.

    Problem ``(c, a, f)`` minimises ``sum_i M[f, i] loss(Y_i, O[c, i] + D_i C) /
    sum_i M[f, i] + alphas[a] / 2 ||C||^2`` over ``C`` of shape (q, K).

    Returns ``C`` of shape (n_priors, n_alpha, n_masks, q, K).
    """
    q, K = D.shape[1], Y.shape[1]
    Mn = M / M.sum(axis=1, keepdims=True)  # (F, k)
    lam = alphas[None, :, None, None, None]
    C = np.zeros((O.shape[0], alphas.size, M.shape[0], q, K))

    def objective(C):
        Z = O[:, None, None] + np.einsum("iq,cafqk->cafik", D, C)
        loss, P = _losses(Z, Y)
        return np.einsum("cafi,fi->caf", loss, Mn) + 0.5 * alphas[:, None] * \
            np.einsum("cafqk,cafqk->caf", C, C), P

    f, P = objective(C)
    eye = np.eye(q * K)
    for _ in range(max_iter):
        G = np.einsum("fi,iq,cafik->cafqk", Mn, D, P - Y) + lam * C
        if K == 1:
            h = P[..., 0] * (1.0 - P[..., 0])
            H = np.einsum("fi,cafi,iq,ir->cafqr", Mn, h, D, D)
        else:
            S = np.einsum("cafik,kl->cafikl", P, np.eye(K)) - np.einsum(
                "cafik,cafil->cafikl", P, P)
            H = np.einsum("fi,iq,ir,cafikl->cafqkrl", Mn, D, D, S)
        H = H.reshape(C.shape[:3] + (q * K, q * K)) + lam * eye
        step = np.linalg.solve(H, G.reshape(C.shape[:3] + (q * K, 1))).reshape(C.shape)
        t = np.ones(C.shape[:3])
        for _ in range(30):  # halve each problem's step until its objective decreases
            f_new, P_new = objective(C - t[..., None, None] * step)
            worse = f_new > f + 1e-12 * np.abs(f)
            if not worse.any():
                break
            t = np.where(worse, 0.5 * t, t)
        C = C - t[..., None, None] * step
        f, P = f_new, P_new
        if np.abs(t[..., None, None] * step).max(initial=0.0) < tol:
            break
    return C


def one_se_choice(errors):
    """The (prior, alpha) pair of the one-standard-error rule (Hastie, Tibshirani &
    Friedman 2009, sec. 7.10): the strongest pull (alphas increasing) whose
    out-of-fold error is within one standard error of the least one.

    ``errors`` (n_priors, n_alphas, k): each row's out-of-fold error.  A few rows
    make the least error a noisy choice; the rule leans to the prior unless the
    rows show clearly that moving away from it helps.
    """
    k = errors.shape[-1]
    mean = errors.mean(axis=-1)
    j, a = np.unravel_index(np.argmin(mean), mean.shape)
    se = errors[j, a].std(ddof=1) / np.sqrt(k) if k > 1 else 0.0
    ok = mean <= mean[j, a] + se
    a_best = np.max(np.nonzero(ok)[1])  # the strongest within reach, of any prior
    return int(np.argmin(np.where(ok[:, a_best], mean[:, a_best], np.inf))), int(a_best)
