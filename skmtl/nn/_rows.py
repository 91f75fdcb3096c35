"""Where a network's rows come from: resident on the device, or streamed a batch at a time.

An in-memory ``X`` goes to the training device once per fit (zero-copy on the CPU
when its dtype already matches) and every mini-batch indexes it there: one small
transfer of row indices a batch.  A :class:`numpy.memmap` or a
``torch.utils.data.Dataset`` is never loaded whole: :class:`LazyRows` keeps a row
index into it, so reordering rows (the long format groups them by task) costs an
index array, and each batch reads, converts and checks only its own rows.
"""

import copy
import warnings

import numpy as np
import torch


# elements of X up to which an epoch gathers its rows once (a batch is then a slice)
TAKE_MAX = 2**24


class LazyRows:
    """Rows of a memmap or a ``torch.utils.data.Dataset``, read only when needed.

    ``lazy[rows]`` is another ``LazyRows`` (an index, no data read);
    ``np.asarray(lazy)`` reads the rows.  A Dataset item is a feature vector, or a
    tuple whose first element is one (the rest, e.g. a label, is ignored: pass
    ``y`` to ``fit``).
    """

    def __init__(self, source, index=None, _row=None):
        self.source = source
        self.index = np.arange(len(source)) if index is None else index
        if _row is None:  # (row shape, dtype) from the source, read once
            first = np.asarray(self._item(0)) if len(self.index) else np.zeros(0)
            _row = (first.shape, first.dtype if isinstance(source, torch.utils.data.Dataset)
                    else source.dtype)
        self._row = _row
        self.shape, self.dtype = (self.index.size,) + _row[0], _row[1]
        self.ndim = len(self.shape)

    def _item(self, i):
        item = self.source[int(self.index[i])]
        return item[0] if isinstance(item, (tuple, list)) else item

    def __len__(self):
        return self.index.size

    def __getitem__(self, rows):
        return LazyRows(self.source, self.index[rows], self._row)

    def __array__(self, dtype=None, copy=None):
        if isinstance(self.source, np.ndarray):
            out = self.source[np.sort(self.index)] if self.index.size else \
                self.source[:0]
            out = out[np.argsort(np.argsort(self.index))]  # read in file order
        else:
            out = np.stack([np.asarray(self._item(i)) for i in range(self.index.size)]) \
                if self.index.size else np.zeros((0,) + self.shape[1:])
        return out if dtype is None else out.astype(dtype, copy=False)


def is_streamed(X):
    return isinstance(X, (LazyRows, np.memmap, torch.utils.data.Dataset))


def as_lazy(X):
    """A memmap or Dataset as :class:`LazyRows`; anything else unchanged."""
    if isinstance(X, (np.memmap, torch.utils.data.Dataset)):
        return LazyRows(X)
    return X


def fits_on_device(X, device, dtype):
    """Whether ``X`` in ``dtype`` takes at most half of the GPU's free memory."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return X.shape[0] * int(np.prod(X.shape[1:])) * torch.finfo(dtype).bits // 8 <= free // 2


class RowSource:
    """Mini-batches of ``X``'s rows as tensors on ``device``.

    ``X`` is resident on the device unless it is a memmap, a Dataset, a sparse
    matrix, or too large for the GPU's free memory: then each batch is read (made
    dense) and moved alone.
    """

    def __init__(self, X, device, dtype):
        self.device, self.dtype = device, dtype
        # a sparse X (TF-IDF, one-hot) is made dense a batch at a time
        self.streamed = is_streamed(X) or hasattr(X, "toarray") or \
            not fits_on_device(X, device, dtype)
        if self.streamed:
            self.X = X
        else:
            with warnings.catch_warnings():  # read-only input (pandas): never written to
                warnings.filterwarnings("ignore", "The given NumPy array is not writable")
                self.X = torch.as_tensor(np.asarray(X)).to(device=device, dtype=dtype)

    @property
    def takes(self):
        """Whether :meth:`take` applies: ``X`` on the device and small (an epoch's copy
        of it in its row order costs little)."""
        return not self.streamed and self.X.numel() <= TAKE_MAX

    def take(self, rows_t):
        """This source with the rows ``rows_t`` only, in that order (see :attr:`takes`)."""
        out = copy.copy(self)
        out.X = self.X[rows_t]
        return out

    def batch(self, rows, rows_t):
        if not self.streamed:
            return self.X[rows_t]
        xb = self.X[rows]
        xb = torch.as_tensor(xb.toarray() if hasattr(xb, "toarray") else np.asarray(xb)).to(
            device=self.device, dtype=self.dtype)
        if not torch.isfinite(xb).all():
            raise ValueError("Input X contains NaN or infinity (found while streaming a "
                             "mini-batch).")
        return xb.reshape(len(rows), -1)
