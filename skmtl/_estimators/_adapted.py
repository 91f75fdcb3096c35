"""Linear models for one task shrunk to a prior model: what ``adapt`` returns.

Both minimise a task's mean loss plus a ridge on the distance to the prior, in the
directions ``basis`` allows (``w = w0 + B z``, ridge on ``z``).  The strength is
chosen by leave-one-out over a small grid and the prior itself (the one-SE rule):
in closed form for the squared loss (one SVD of the k rows), by batched Newton fits
for the logistic loss.  Everything works in
the span of the new rows (``z`` lies in the row space of ``X B``), so the cost is that
of a k x k problem whatever the number of features.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.extmath import softmax
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._prior import _losses, _newton, one_se_choice

__all__ = ["PriorRidge", "PriorLogisticRegression"]

_GRID = np.logspace(-4, 4, 17)  # alphas, relative to the rows' largest curvature
_MIN_ROWS = 3  # fewer rows: the prior itself (no leave-one-out on 1 or 2 rows)
_MAX_FOLDS = 20  # more rows: this many folds rather than leave-one-out


def _priors(coef, intercept, n_out, single_ndim):
    """The priors as (n_priors, n_out, p) and (n_priors, n_out) float64 arrays: one
    prior of ``single_ndim`` dimensions, or a stack of them."""
    W0 = np.asarray(coef, dtype=np.float64)
    if W0.ndim not in (single_ndim, single_ndim + 1) or (
            n_out > 1 or single_ndim == 2) and W0.shape[-2] != n_out:
        shape = "(n_features,)" if single_ndim == 1 else f"({n_out}, n_features)"
        raise ValueError(
            f"prior_coef has shape {W0.shape}; expected {shape} or (n_priors, "
            f"{shape[1:]}.")
    W0 = W0.reshape((-1, n_out, W0.shape[-1]))
    b0 = np.asarray(intercept, dtype=np.float64)
    if b0.size not in (n_out, W0.shape[0] * n_out):
        raise ValueError(f"prior_intercept has {b0.size} values; expected {n_out} "
                         f"or {W0.shape[0] * n_out} (one an output of each prior).")
    return W0, np.broadcast_to(b0.reshape(-1, n_out), W0.shape[:2])


def _check_common(est, X, y, sample_weight, classifier):
    X, y = validate_data(est, X, y, accept_sparse="csr", dtype=np.float64,
                         y_numeric=not classifier)
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
    sw = sw / sw.mean() if sw.sum() > 0 else sw
    p = X.shape[1]
    B = None if est.basis is None else np.asarray(est.basis, dtype=np.float64)
    if B is not None and (B.ndim != 2 or B.shape[0] != p):
        raise ValueError(f"basis has shape {np.shape(est.basis)}; expected ({p}, n_directions).")
    return X, y, sw, B


def _project(X, B):
    """``X B`` (``X`` itself without a basis), dense."""
    XB = X if B is None else X @ B
    return XB.toarray() if hasattr(XB, "toarray") else np.asarray(XB)


def _svd(A):
    """Thin SVD, singular values under the rounding of the largest dropped."""
    if A.size == 0:
        return np.zeros((A.shape[0], 0)), np.zeros(0), np.zeros((0, A.shape[1]))
    U, sig, Vt = np.linalg.svd(A, full_matrices=False)
    keep = sig > sig[0] * max(A.shape) * np.finfo(np.float64).eps
    return U[:, keep], sig[keep], Vt[keep]


class _PriorModel(BaseEstimator):
    _parameter_constraints = {
        "prior_coef": ["array-like"],
        "prior_intercept": ["array-like", numbers.Real],
        "basis": ["array-like", None],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "fit_intercept": ["boolean"],
    }

    def _grid(self, sigma_max, k, scale=1.0, step=1):
        if self.alpha is not None:
            return np.array([float(self.alpha)])
        top = sigma_max**2 / k * scale
        grid = top * _GRID[::step] if top > 0 else np.ones(1)
        return np.append(grid, np.inf)  # the prior itself a candidate too

    def _check_prior(self, p, n_out):
        W0, b0 = _priors(self.prior_coef, self.prior_intercept, n_out,
                         2 if isinstance(self, ClassifierMixin) else 1)
        if W0.shape[-1] != p:
            raise ValueError(
                f"prior_coef has {W0.shape[-1]} features; X has {p}.")
        if not (np.isfinite(W0).all() and np.isfinite(b0).all()):
            raise ValueError("prior_coef and prior_intercept must be finite.")
        return W0, b0


class PriorRidge(RegressorMixin, _PriorModel):
    r"""Ridge regression shrunk to a prior model within a subspace.

    .. math:: \min_{z, \delta}\ \frac{1}{2 \sum_i s_i} \sum_i s_i (y_i - x_i^\top
              (w_0 + B z) - b_0 - \delta)^2 + \frac{\alpha}{2} (\|z\|_2^2 + \delta^2)

    ``B`` is the identity without a ``basis``: the biased ridge that shrinks to
    ``w_0``.  With ``alpha=None`` the strength is chosen among a grid (17 values
    over 8 decades, scaled to the rows) and ``inf`` (the prior itself) by exact
    leave-one-out, in closed form from one SVD, with the one-standard-error rule:
    the strongest whose error is within a standard error of the least (over a few
    rows the least alone is a noisy choice that loses to the prior); with several
    priors (rows of ``prior_coef``) the pair (prior, alpha) so chosen.  With fewer than 3 rows there is no
    leave-one-out: the model is the prior (``alpha_ = inf``), of several the one
    with the least squared error.  The intercept shrinks to the prior's as well
    (with ``fit_intercept``; else it is the prior's): fit freely from a few rows, a
    noisy task's intercept costs more than it gains.

    Parameters
    ----------
    prior_coef : array-like of shape (n_features,) or (n_priors, n_features)
        ``w_0``, or the candidates for it.
    prior_intercept : float or array-like of shape (n_priors,), default=0.0
        ``b_0``.
    basis : array-like of shape (n_features, n_directions), default=None
        ``B``: the directions the model may leave the prior in (None: all).
    alpha : float, default=None
        The strength (> 0); None: chosen by leave-one-out.
    fit_intercept : bool, default=True
        Move the intercept from the prior's too (``delta``); else keep it.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    alpha_ : float
        The strength used (``inf``: the prior's coefficients).
    prior_ : int
        The row of ``prior_coef`` chosen.
    alphas_ : ndarray of shape (n_alphas,)
        The strengths tried (with 3 rows or more), the last ``inf``.
    cv_errors_ : ndarray of shape (n_priors, n_alphas)
        Their leave-one-out errors, the weighted mean squared error of each row
        predicted by the fit without it (with 3 rows or more).
    n_features_in_ : int
    """

    def __init__(self, prior_coef, prior_intercept=0.0, *, basis=None, alpha=None,
                 fit_intercept=True):
        self.prior_coef = prior_coef
        self.prior_intercept = prior_intercept
        self.basis = basis
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit on the rows of one task.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        X, y, s, B = _check_common(self, X, y, sample_weight, classifier=False)
        k = X.shape[0]
        W0, b0 = self._check_prior(X.shape[1], 1)
        W0, b0 = W0[:, 0], b0[:, 0]  # (n_priors, p), (n_priors,)
        R = y[:, None] - np.asarray(X @ W0.T) - b0  # (k, n_priors): the priors' misfit
        A = _project(X, B)
        if self.fit_intercept:  # the intercept a direction too: ones
            A = np.hstack([A, np.ones((k, 1))])
        root = np.sqrt(s)[:, None]
        U, sig, Vt = _svd(root * A)
        rho = U.T @ (root * R)  # (q, n_priors)
        if k < _MIN_ROWS:  # no leave-one-out: of several priors the closest
            alphas, a, j = np.array([self.alpha or np.inf]), 0, int(np.argmin(s @ R**2))
        else:
            alphas = self._grid(sig.max(initial=0.0), k)
            shrink = sig**2 / (sig**2 + k * alphas[:, None])  # (n_alpha, q)
            fit = np.einsum("iq,aq,qc->aic", U, shrink, rho)  # (n_alpha, k, n_priors)
            lev = np.einsum("iq,aq->ai", U**2, shrink)
            loo = (root * R - fit) / (1.0 - lev[:, :, None])  # scaled by sqrt(s)
            self.alphas_ = alphas
            rows = (loo**2).transpose(2, 0, 1)  # (n_priors, n_alpha, k)
            self.cv_errors_ = rows.mean(axis=-1)
            j, a = one_se_choice(rows)
        z = Vt.T @ (sig / (sig**2 + k * alphas[a]) * rho[:, j])
        z, db = (z[:-1], z[-1]) if self.fit_intercept else (z, 0.0)
        self.coef_ = W0[j] + (z if B is None else B @ z)
        self.intercept_ = float(b0[j] + db)
        self.alpha_, self.prior_ = float(alphas[a]), int(j)
        return self

    def predict(self, X):
        """Predictions for the rows of ``X``: ``X @ coef_ + intercept_``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        return np.asarray(X @ self.coef_) + self.intercept_


class PriorLogisticRegression(ClassifierMixin, _PriorModel):
    r"""Logistic regression shrunk to a prior model within a subspace.

    .. math:: \min_{Z, \delta}\ \frac{1}{\sum_i s_i} \sum_i s_i\, \ell(y_i,
              (W_0 + B Z)^\top x_i + b_0 + \delta) + \frac{\alpha}{2}
              (\|Z\|_F^2 + \|\delta\|_2^2)

    the logistic loss for two classes (one output), the multinomial one for more.
    The intercept shrinks to the prior's too (with ``fit_intercept``; else it is
    the prior's): a few rows, some classes absent, would send a free one to
    infinity.  With ``alpha=None`` the strength is chosen among a grid (9 values
    over 8 decades, scaled to the rows) and ``inf`` (the prior itself) by the
    log-loss out of fold, with the one-standard-error rule (as
    :class:`PriorRidge`): leave-one-out up to 20 rows, 20 folds above, every fit
    one batched Newton solve; with several priors the pair (prior, alpha).  With fewer than 3 rows: the
    prior itself (``alpha_ = inf``).

    Parameters
    ----------
    prior_coef : array-like of shape (n_outputs, n_features) or (n_priors, n_outputs, n_features)
        ``W_0^T``: one row for two classes, one a class for more.
    prior_intercept : array-like of shape (n_outputs,) or (n_priors, n_outputs)
    classes : array-like of shape (n_classes,)
        The labels of the prior's outputs (sorted); ``y`` takes at least two.
    basis : array-like of shape (n_features, n_directions), default=None
        ``B``: the directions the model may leave the prior in (None: all).
    alpha : float, default=None
        The strength (> 0); None: chosen out of fold.
    fit_intercept : bool, default=True

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    alpha_ : float
    prior_ : int
    n_features_in_ : int
    """

    _parameter_constraints = {**_PriorModel._parameter_constraints,
                              "classes": ["array-like"]}

    def __init__(self, prior_coef, prior_intercept, classes, *, basis=None, alpha=None,
                 fit_intercept=True):
        self.prior_coef = prior_coef
        self.prior_intercept = prior_intercept
        self.classes = classes
        self.basis = basis
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def _targets(self, y):
        check_classification_targets(y)
        classes = np.asarray(self.classes)
        labels = np.unique(y)
        if labels.size < 2:
            raise ValueError(f"y has {labels.size} class; a classifier needs at least 2.")
        unknown = labels[~np.isin(labels, classes)]
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()} that the prior has no output for; its "
                f"classes are {classes.tolist()}.")
        codes = np.searchsorted(classes, y)
        if classes.size == 2:
            return (codes == 1).astype(np.float64)[:, None]
        return (codes[:, None] == np.arange(classes.size)).astype(np.float64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit on the rows of one task.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        X, y, s, B = _check_common(self, X, y, sample_weight, classifier=True)
        self.classes_ = np.asarray(self.classes)
        Y = self._targets(y)
        k, K = Y.shape
        W0, b0 = self._check_prior(X.shape[1], K)
        n_priors, p = W0.shape[0], X.shape[1]
        O = np.asarray(X @ W0.reshape(-1, p).T).reshape(k, n_priors, K).transpose(1, 0, 2)
        O = O + b0[:, None, :]  # (n_priors, k, K): the priors' outputs
        A = _project(X, B)
        if self.fit_intercept:
            A = np.hstack([A, np.ones((k, 1))])
        U, sig, Vt = _svd(A)
        D = U * sig  # z = V c: the row space of the rows' design
        if k < _MIN_ROWS and self.alpha is None:  # the prior, of several the closest
            alphas, a = np.array([np.inf]), 0
            j, c = int(np.argmin(_losses(O, Y)[0] @ s)), np.zeros((D.shape[1], K))
        else:
            alphas = self._grid(sig.max(initial=0.0), k, scale=0.25, step=2)
            finite = np.isfinite(alphas)
            # nothing to choose (one alpha, one prior): the fit on every row alone
            n_folds = 0 if alphas.size * n_priors == 1 else min(k, _MAX_FOLDS)
            held = np.arange(k) % max(n_folds, 1) == np.arange(n_folds)[:, None]
            M = np.vstack([~held, np.ones((1, k), dtype=bool)]) * s  # the last: all rows
            C = np.zeros((n_priors, alphas.size, M.shape[0], D.shape[1], K))
            C[:, finite] = _newton(D, O, Y, M, alphas[finite])  # inf: C = 0, the prior
            Z = np.einsum("iq,cafqk->cafik", D, C[:, :, :-1]) + O[:, None, None]
            err = np.einsum("cafi,fi->cai", _losses(Z, Y)[0], held * s)
            j, a = one_se_choice(err)
            c = C[j, a, -1]
        delta = Vt.T @ c  # (n_directions (+ 1), K)
        if self.fit_intercept:
            delta, db = delta[:-1], delta[-1]
        else:
            db = np.zeros(K)
        self.coef_ = W0[j] + (delta if B is None else B @ delta).T
        self.intercept_ = b0[j] + db
        self.alpha_, self.prior_ = float(alphas[a]), int(j)
        return self

    def decision_function(self, X):
        """Scores: one a row for two classes (positive: ``classes_[1]``), else one a
        class."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        Z = np.asarray(X @ self.coef_.T) + self.intercept_
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            p = 0.5 * (1.0 + np.tanh(0.5 * Z))
            return np.column_stack([1.0 - p, p])
        return softmax(Z)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
