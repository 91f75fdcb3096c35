"""The linear models of the numpy backend, with the data on a torch device.

``TorchDesignFit`` has the interface of :class:`skmtl.linear._datafit.DesignFit`
(``forward``/``value``/``gradient``/``conjugate``/``lipschitz``/``tol_scale``): the
products with X and the losses run on the device, the coefficients (p x m, small)
stay numpy, so the same FISTA loop and the same penalties solve the same problem
to the same duality gap (``backend="torch", hidden_layer_sizes=()``).
"""

import warnings

import numpy as np
import torch
import torch.nn.functional as F


def _segments(seg, n_cols, device):
    """(n_seg, k_max) column index of each task's outputs (-1 pads), and singletons."""
    if seg is None:
        return None
    starts, sizes = seg
    k_max = int(sizes.max())
    idx = starts[:, None] + np.arange(k_max)
    idx = np.where(np.arange(k_max) < sizes[:, None], idx, -1)
    return torch.as_tensor(idx, device=device), torch.as_tensor(sizes == 1, device=device)


class _TorchLoss:
    """Squared, squared-hinge and logistic / multinomial losses on tensors."""

    def __init__(self, name):
        self.name = name

    def _lse(self, Z, seg):
        if seg is None:
            return F.softplus(Z)
        idx, single = seg
        cols = Z[:, idx.clamp(min=0)].masked_fill(idx < 0, float("-inf"))  # (n, s, k)
        zero = torch.where(single, 0.0, float("-inf")).to(Z.dtype).expand(Z.shape[0], -1)
        return torch.logsumexp(torch.cat([cols, zero[..., None]], dim=-1), dim=-1)

    def value(self, Z, Y, S, seg):
        if self.name == "squared":
            return 0.5 * (S * (Z - Y) ** 2).sum()
        if self.name == "squared_hinge":
            return 0.5 * (S * torch.clamp(1 - Y * Z, min=0) ** 2).sum()
        S_seg = S if seg is None else S[:, seg[0][:, 0]]
        return (S_seg * self._lse(Z, seg)).sum() - (S * Y * Z).sum()

    def gradient(self, Z, Y, S, seg):
        if self.name == "squared":
            return S * (Z - Y)
        if self.name == "squared_hinge":
            return -S * Y * torch.clamp(1 - Y * Z, min=0)
        if seg is None:
            return S * (torch.sigmoid(Z) - Y)
        lse = self._lse(Z, seg)  # (n, s)
        owner = torch.zeros(Z.shape[1], dtype=torch.long, device=Z.device)
        idx = seg[0]
        valid = idx >= 0
        owner[idx[valid]] = torch.nonzero(valid)[:, 0]
        return S * (torch.exp(Z - lse[:, owner]) - Y)

    def conjugate(self, U, Y, S, seg):
        ratio = torch.where(S > 0, U / torch.where(S > 0, S, 1.0), 0.0)
        if self.name in ("squared", "squared_hinge"):
            return (U * Y).sum() + 0.5 * (ratio * U).sum()
        P = (ratio + Y).clamp(0.0, 1.0)
        ent = torch.xlogy(P, P)
        if seg is None:
            rest = torch.where(S > 0, torch.xlogy(1 - P, 1 - P), 0.0)
            return (S * (ent + rest)).sum()
        idx, single = seg
        total = (S * ent).sum()
        first = idx[single, 0]
        p1 = P[:, first]
        return total + (S[:, first] * torch.xlogy(1 - p1, 1 - p1)).sum()


class TorchDesignFit:
    """``sum_b loss(X_b W_b + b_b; Y_b, S_b)`` with the blocks' arrays on ``device``."""

    constant_curvature = False

    def __init__(self, blocks, loss_name, n_features, n_outputs, fit_intercept, device,
                 dtype=torch.float64):
        self.shape = (n_features, n_outputs)
        self.fit_intercept = fit_intercept
        self.loss = _TorchLoss(loss_name)
        self.constant_curvature = loss_name == "squared"
        self.curvature = {"squared": 1.0, "squared_hinge": 1.0, "logistic": 0.5}[loss_name]
        self.device, self.dtype = device, dtype

        def tensor(a):
            if hasattr(a, "toarray"):
                a = a.toarray()
            with warnings.catch_warnings():  # read-only input (pandas): never written to
                warnings.filterwarnings("ignore", "The given NumPy array is not writable")
                return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

        self.blocks = [(tensor(b.X), tensor(b.Y), tensor(b.S), b.cols,
                        _segments(b.seg, b.Y.shape[1], device)) for b in blocks]

    def _t(self, a):
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def forward(self, W, b):
        W = self._t(W)
        out = []
        for X, _, _, cols, _ in self.blocks:
            Z = X @ W[:, cols]
            out.append(Z + self._t(b)[cols] if b is not None else Z)
        return _State(out)

    def _backward(self, R):
        G = torch.zeros(self.shape, dtype=self.dtype, device=self.device)
        gb = torch.zeros(self.shape[1], dtype=self.dtype, device=self.device)
        for (X, _, _, cols, _), Rb in zip(self.blocks, R.parts):
            G[:, cols] += X.T @ Rb
            gb[cols] += Rb.sum(0)
        return G.cpu().numpy(), (gb.cpu().numpy() if self.fit_intercept else None)

    def _residual(self, Z):
        return _State([self.loss.gradient(Zb, Y, S, seg)
                       for (_, Y, S, _, seg), Zb in zip(self.blocks, Z.parts)])

    def intercept_newton(self, Z):
        g = torch.zeros(self.shape[1], dtype=self.dtype, device=self.device)
        h = torch.zeros_like(g)
        for (_, Y, S, cols, _), Rb in zip(self.blocks, self._residual(Z).parts):
            g[cols] += Rb.sum(0)
            if self.loss.name == "squared":
                curv = S
            elif self.loss.name == "squared_hinge":
                curv = S * (Rb != 0)
            else:
                P = (torch.where(S > 0, Rb / torch.where(S > 0, S, 1.0), 0.0) + Y).clamp(0, 1)
                curv = S * P * (1 - P)
            h[cols] += curv.sum(0)
        return g.cpu().numpy(), h.cpu().numpy()

    def shift(self, Z, delta):
        delta = self._t(delta)
        return _State([Zb + delta[cols] for (_, _, _, cols, _), Zb in zip(self.blocks, Z.parts)])

    def value(self, W, b, Z):
        return float(sum(self.loss.value(Zb, Y, S, seg)
                         for (_, Y, S, _, seg), Zb in zip(self.blocks, Z.parts)))

    def gradient(self, W, b, Z):
        return self._backward(self._residual(Z))

    def conjugate(self, W, b, Z, s):
        R = self._residual(Z)
        return float(sum(self.loss.conjugate(Rb / s, Y, S, seg)
                         for (_, Y, S, _, seg), Rb in zip(self.blocks, R.parts)))

    def lipschitz(self, n_iter=8):
        g = torch.Generator(device="cpu").manual_seed(0)
        W = torch.randn(self.shape, generator=g, dtype=torch.float64).numpy()
        b = np.ones(self.shape[1]) if self.fit_intercept else None
        lam = 0.0
        for _ in range(n_iter):
            norm = np.sqrt(np.vdot(W, W) + (np.vdot(b, b) if b is not None else 0.0))
            if not norm > 0:  # an all-zero X without intercept: no curvature
                break
            W, b = W / norm, (b / norm if b is not None else None)
            Z = self.forward(W, b)
            Z = _State([Zb * S for (_, _, S, _, _), Zb in zip(self.blocks, Z.parts)])
            # norms in float64: the squares of float32 products overflow from |X| ~ 1e10
            W, b = (None if a is None else a.astype(np.float64) for a in self._backward(Z))
            lam = np.sqrt(np.vdot(W, W) + (np.vdot(b, b) if b is not None else 0.0))
        return max(lam * self.curvature, 1e-12)

    def tol_scale(self):
        if self.loss.name == "squared":
            total = raw = 0.0
            for _, Y, S, _, _ in self.blocks:
                mean = (S * Y).sum(0) if self.fit_intercept else 0.0
                total += float((S * (Y - mean) ** 2).sum())
                raw += float((S * Y ** 2).sum())
            # no smaller than the rounding of the uncentred terms (constant y)
            rounding = 1e-10 if self.dtype == torch.float64 else 1e-6
            return max(total, rounding * raw, 1e-300)
        W = np.zeros(self.shape)
        b = np.zeros(self.shape[1]) if self.fit_intercept else None
        return max(self.value(W, b, self.forward(W, b)), 1e-300)


class _State:
    """The per-block predictions, with the arithmetic FISTA's extrapolation uses."""

    __array_ufunc__ = None  # numpy scalars defer to __rmul__

    def __init__(self, parts):
        self.parts = parts

    def __add__(self, other):
        return _State([a + b for a, b in zip(self.parts, other.parts)])

    def __sub__(self, other):
        return _State([a - b for a, b in zip(self.parts, other.parts)])

    def __rmul__(self, scalar):
        return _State([scalar * a for a in self.parts])
