"""The linear models of the numpy backend, with the data on a torch device.

:class:`TorchDesignFit` is :class:`skmtl.linear._datafit.DesignFit` with X on a
torch device: it overrides only the two products with X (``forward_product``,
``backward_product``), converting at the boundary; the losses, their conjugates,
the intercept's curvature, the Lipschitz estimate and ``tol_scale`` are the numpy
ones, in float64, on the predictions (n x m, small next to X).  So the same FISTA
loop and the same penalties solve the same problem to the same duality gap
(``backend="torch", hidden_layer_sizes=()``).
"""

import warnings

import numpy as np
import torch

from ..linear._datafit import DesignFit
from ..linear._losses import LOSSES

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TorchDesignFit(DesignFit):
    """``sum_b loss(X_b W_b + b_b; Y_b, S_b)`` with the blocks' X on ``device``.

    Parameters
    ----------
    blocks : list of Block
    loss : str or loss object
        ``"squared"``, ``"squared_hinge"``, ``"logistic"``, or an object of
        ``skmtl.linear._losses``.
    n_features, n_outputs : int
    fit_intercept : bool, default=True
    device : str or torch.device, default="cpu"
    dtype : torch.dtype or {"float32", "float64"}, default=torch.float64
        The dtype of the products on the device (a sparse X is densified there).
    """

    def __init__(self, blocks, loss, n_features, n_outputs, fit_intercept=True,
                 device="cpu", dtype=torch.float64):
        loss = LOSSES[loss]() if isinstance(loss, str) else loss
        super().__init__(blocks, loss, n_features, n_outputs, fit_intercept)
        self.device, self.dtype = torch.device(device), _DTYPES.get(dtype, dtype)
        if self.dtype != torch.float64:  # the uncentred terms round at its precision
            self.rounding = 1e-6
        self._X = [self._tensor(blk.X) for blk in blocks]

    def _tensor(self, a):
        if hasattr(a, "toarray"):
            a = a.toarray()
        with warnings.catch_warnings():  # read-only input (pandas): never written to
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    @staticmethod
    def _array(t):
        return np.asarray(t.cpu().numpy(), dtype=np.float64)

    def forward_product(self, k, W):
        """``X_k @ W`` on the device, back as a float64 array."""
        return self._array(self._X[k] @ self._tensor(W))

    def backward_product(self, k, R):
        """``X_k^T @ R`` on the device, back as a float64 array."""
        return self._array(self._X[k].T @ self._tensor(R))
