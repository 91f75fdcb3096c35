"""The torch backend's side of the linear estimators: network fits and streamed X.

``_TorchBackend`` holds what only ``backend="torch"`` uses: ``partial_fit`` and
the network's fit, X streamed from a memmap or torch Dataset, the network's
outputs, the penalized linear problem on the device (``hidden_layer_sizes=()``),
and pickling the weights on the CPU.  The torch code itself (``skmtl.nn``) is
imported only when it runs.
"""

import numpy as np
from sklearn.utils.metaestimators import available_if

from ._problem import Problem
from ._torch_params import _is_torch


def _network_outputs(est, X):
    """The network's outputs for ``X``, refused when they overflow its dtype."""
    from ..nn._backend import network_outputs

    Z = network_outputs(est, X)
    if not np.isfinite(Z).all():
        raise ValueError(
            f"The network's outputs overflow {est.dtype} on these rows of X: scale X "
            "as in fit, or use dtype='float64'.")
    return Z


def _same_tasks(a, b):
    (ta, na, ca), (tb, nb, cb) = a, b
    same = na == nb and (ta is None) == (tb is None)
    same = same and (ta is None or np.array_equal(ta, tb))
    if same and ca is not None:
        same = cb is not None and all(np.array_equal(x, y) for x, y in zip(ca, cb))
    return bool(same)


class _TorchBackend:
    """The torch backend of :class:`_MultiTaskLinear` (a mixin)."""

    @available_if(_is_torch)
    def partial_fit(self, X, y, tasks=None, sample_weight=None):
        """One more epoch of training on this data (``backend="torch"`` only).

        The first call initialises the network; later calls need the same tasks
        (and, for a classifier, the same classes in each task).

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "module_")
        if first:
            self._validate_params()
        return self._fit_network(X, y, tasks, sample_weight, partial=True, resume=not first)

    def _fit_network(self, X, y, tasks, sample_weight, partial, resume=False):
        from ..nn._backend import fit_network

        before = (self.tasks_, self.n_tasks_, getattr(self, "_classes", None)) \
            if resume else None
        table, targets, _ = self._tables(X, y, tasks, sample_weight, reset=not resume)
        if resume and not _same_tasks(
                before, (self.tasks_, self.n_tasks_, getattr(self, "_classes", None))):
            raise ValueError(
                "partial_fit got other tasks or classes than the first call; fit again "
                "to change them.")
        self._uses_network = True
        fit_network(self, table, targets, self._regression_tasks(table), partial=partial,
                     resume=resume or self.warm_start)
        return self

    def _linear_torch(self):
        """``hidden_layer_sizes=()``: the penalized linear model, solved on the device."""
        return (len(self.hidden_layer_sizes) == 0 and self.module is None
                and self.architecture == "shared")

    def _on_network(self):
        """Whether the estimator is a network (torch backend, not the linear model)."""
        return self.backend == "torch" and not self._linear_torch()

    def _regression_tasks(self, table):
        return [not self._classifier] * table.n_tasks

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the default is self.__dict__
        if "module_" in state:  # the weights travel on the CPU
            import copy

            state["module_"] = copy.deepcopy(state["module_"]).cpu()
            state.pop("_trainer", None)
        return state

    def _streamed_X(self, X, reset):
        """A memmap or torch Dataset for a network, lazy (on disk); ``None`` otherwise.

        Each batch is checked when it is read; here only the shape.
        """
        if not self._on_network():
            return None
        from ..nn._rows import as_lazy, is_streamed

        if not is_streamed(X):
            return None
        X = as_lazy(X)
        if X.ndim != 2:
            raise ValueError(f"Expected 2D rows, got rows of shape {X.shape[1:]}.")
        if reset:
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input.")
        return X

    def _device_problem(self, blocks, loss, p, m, penalty):
        """The same penalized problem as the numpy backend's, with X on the device."""
        from ..nn._backend import DTYPES, resolve_device
        from ..nn._linear import TorchDesignFit

        datafit = TorchDesignFit(blocks, loss.name, p, m, self.fit_intercept,
                                 resolve_device(self.device), DTYPES[self.dtype])
        return Problem(datafit, penalty, False)
