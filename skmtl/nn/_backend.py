"""The torch backend behind MultiTaskRegressor / MultiTaskClassifier(backend="torch").

The estimators validate the data and encode the targets exactly as for the numpy
backend; this module builds the network, trains it with :class:`Trainer` and
predicts in batches.
"""

import copy
import os
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from ._callbacks import check_callbacks
from ._data import BINARY, MULTICLASS, REGRESSION, TaskLayout, make_pairs
from ._modules import MMoE, SharedBottom, mlp, output_size
from ._rows import LazyRows, is_streamed
from ._state import seed_from
from ._threads import step_flops, threads_for
from ._training import Trainer, world
from ._weighting import Equal, check_weighting, make_weighting

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device):
    """``"auto"``: the GPU when there is one, else the CPU."""
    if device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        # one GPU a process under torchrun: LOCAL_RANK picks it
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) if world() else None)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but no CUDA GPU is available here; use device='auto' "
            "or device='cpu'."
        )
    return dev


def _trunk(est, n_features):
    if est.module is None:
        return mlp(n_features, est.hidden_layer_sizes, est.activation, est.dropout,
                   est.batch_norm)
    trunk = est.module() if isinstance(est.module, type) else copy.deepcopy(est.module)
    if not isinstance(trunk, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module or its class, got {trunk!r}.")
    try:
        return trunk, output_size(trunk, n_features)
    except RuntimeError as exc:
        raise ValueError(
            f"The custom trunk does not fit the data's {n_features} features: {exc}"
        ) from exc


def build_network(est, n_features, out_task, n_tasks):
    if est.architecture == "mmoe":
        experts = [_trunk(est, n_features) for _ in range(est.n_experts)]
        return MMoE([e for e, _ in experts], experts[0][1], n_features, out_task, n_tasks)
    trunk, width = _trunk(est, n_features)
    return SharedBottom(trunk, width, len(out_task))


def task_layout(targets, kinds):
    n_out = np.array([E.shape[1] for E in targets])
    start = np.concatenate([[0], np.cumsum(n_out)[:-1]])
    return TaskLayout(torch.as_tensor(start), torch.as_tensor(n_out), torch.as_tensor(kinds))


def _codes_and_kinds(targets, regression):
    codes, kinds = [], []
    for E, is_reg in zip(targets, regression):
        if is_reg:
            codes.append(E[:, 0])
            kinds.append(REGRESSION)
        elif E.shape[1] == 1:
            codes.append(E[:, 0])
            kinds.append(BINARY)
        else:
            codes.append(E.argmax(axis=1))
            kinds.append(MULTICLASS)
    return codes, kinds


def _standardise(est, table, codes, kinds, n_out, resume):
    """Regression codes minus their task's weighted mean, over its deviation.

    The (mean, deviation) of each output column is kept in ``est._target_scale``
    for :func:`network_outputs` (0 and 1 for classification outputs; a
    ``partial_fit`` keeps its first call's): targets in dollars and in units weigh
    alike in the shared loss, and one learning rate suits every scale.
    """
    if not (resume and getattr(est, "_target_scale", None) is not None):
        mean, scale = [], []
        for code, kind, w, k in zip(codes, kinds, table.weights, n_out):
            m = float(w @ code) if kind == REGRESSION else 0.0
            s = float(np.sqrt(w @ (code - m) ** 2)) if kind == REGRESSION else 1.0
            mean.append(np.full(k, m))
            scale.append(np.full(k, s if s > 0 else 1.0))
        est._target_scale = (np.concatenate(mean), np.concatenate(scale))
    mean, scale = est._target_scale
    first = np.concatenate([[0], np.cumsum(n_out)[:-1]])
    return [(c - mean[j]) / scale[j] if kind == REGRESSION else c
            for c, kind, j in zip(codes, kinds, first)]


# early_stopping="auto": on from this many rows (a validation split of 10 % has 100);
# when every task is a classification task, from AUTO_EARLY_STOPPING_LABELS rows
AUTO_EARLY_STOPPING, AUTO_EARLY_STOPPING_LABELS = 1000, 200


def early_stopping(est, n_samples, labels_only=False):
    """Whether this fit holds out validation rows (``"auto"``: from
    :data:`AUTO_EARLY_STOPPING` rows; from :data:`AUTO_EARLY_STOPPING_LABELS` when
    ``labels_only``, every task a classification task).

    Labels are noisy draws, and without validation rows a small network fits them
    past their best epoch: 29 Landmine fields of 10 to 30 rows score an AUC
    0.03-0.07 higher with validation, in a third of the time.  Small clean
    regression loses by it (20 tasks of 40 rows: R^2 0.95 for 0.975), where 10 %
    of the rows are too few to stop on."""
    if est.early_stopping == "auto":
        return n_samples >= (AUTO_EARLY_STOPPING_LABELS if labels_only
                             else AUTO_EARLY_STOPPING)
    return bool(est.early_stopping)


# learning_rate="auto": (shared layers, task heads) without validation rows, and with
AUTO_LEARNING_RATES = ((1e-2, 1e-2), (5e-3, 1e-3))


def learning_rate(est, validated):
    """The learning rates of the shared layers and of the task heads, for a fit
    with validation rows or (``validated`` False) without.

    ``learning_rate="auto"``: 1e-2 for both without validation rows (by default
    below :data:`AUTO_EARLY_STOPPING` rows, and in ``partial_fit``); with them,
    5e-3 for the shared layers and 1e-3 for the heads.  Without validation rows
    the larger steps settle where the small ones overfit (20 tasks of 40 rows:
    test R^2 0.97 for 0.91).  With them, a head reads only its task's rows of a
    batch, and large steps of the heads overfit noisy targets (School: 0.10 at
    1e-2 for 0.21), while the shared layers, which read every row, find the
    representation at 5e-3 in a third of the epochs that 1e-3 takes (5 tasks of
    200 rows).  A number is used for both."""
    if est.learning_rate != "auto":
        return est.learning_rate, est.learning_rate
    return AUTO_LEARNING_RATES[bool(validated)]


# batch_size="auto": about AUTO_STEPS steps an epoch, within [AUTO_BATCH_MIN, AUTO_BATCH_MAX]
AUTO_STEPS, AUTO_BATCH_MIN, AUTO_BATCH_MAX = 25, 32, 256


def auto_batch_size(n_samples):
    """``batch_size="auto"``: ``n_samples / 25`` rows, clipped to [32, 256] (and to
    ``n_samples``).  Small data then takes enough steps an epoch to train within
    ``max_epochs`` (800 rows: 25 steps, where 200-row batches take 4), large data
    large batches (fewer, cheaper steps)."""
    batch = int(np.clip(n_samples // AUTO_STEPS, AUTO_BATCH_MIN, AUTO_BATCH_MAX))
    return max(1, min(batch, n_samples))


def warn_poor_fit(trainer, start, validated, min_epochs=5):
    """Warn, naming the parameter to change, when this run's last epochs show a poor
    fit: the training loss far above the validation loss, or the monitored loss
    best in the first epochs."""
    ran = trainer.epochs - start
    if ran < min_epochs:
        return
    train = np.asarray(trainer.loss_curve[start:])
    curve = -np.asarray(trainer.validation_scores[start:]) if validated else train
    best = int(np.argmin(curve)) + 1
    which = "validation" if validated else "training"
    if best <= 2 and curve[best - 1] < curve[-1]:
        warnings.warn(
            f"The {which} loss was lowest at epoch {best} of {ran} and did not improve "
            f"after ({curve[best - 1]:.4g} then, {curve[-1]:.4g} at the end): the steps "
            "are too large (lower learning_rate), or X says little of y.",
            ConvergenceWarning, stacklevel=4)
    elif validated and train[-1] > 1.5 * curve[-1]:
        warnings.warn(
            f"The final training loss ({train[-1]:.4g}) is over 1.5 times the "
            f"validation loss ({curve[-1]:.4g}): the training is noisy or held back; "
            "lower dropout or weight_decay (or learning_rate).", ConvergenceWarning,
            stacklevel=4)


# a column of X whose root mean square is over this saturates the first layer
UNSCALED_RMS = 10.0


def warn_unscaled(X, stacklevel=6):
    """Warn, naming the fix, when a column of an in-memory ``X`` is far from unit
    scale (a root mean square over :data:`UNSCALED_RMS`): tanh units saturate and
    the fit is poor without any other sign (10 tasks of 100 rows: R^2 0.89 on
    standardised X, 0.62 on 1,000 X, -0.04 on columns of scales 0.01-1,000 and
    offsets of +-50).  A streamed X is not read for it."""
    if is_streamed(X) or X.shape[0] == 0:
        return
    if sp.issparse(X):
        squares = np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel()
    else:
        squares = sum(np.einsum("ij,ij->j", b, b) for b in
                      (np.asarray(X[i : i + 65536], dtype=np.float64)
                       for i in range(0, X.shape[0], 65536)))
    rms = np.sqrt(squares / X.shape[0])
    over = np.flatnonzero(rms > UNSCALED_RMS)
    if over.size:
        j = over[np.argmax(rms[over])]
        warnings.warn(
            f"X has {over.size} of {rms.size} columns with a root mean square over "
            f"{UNSCALED_RMS:g} (column {j}: {rms[j]:.3g}): the network's units "
            "saturate on unscaled inputs.  Standardise X first, e.g. "
            "make_pipeline(StandardScaler(), estimator).", UserWarning,
            stacklevel=stacklevel)


def fit_network(est, table, targets, regression, *, partial=False, resume=False):
    """Train ``est.module_`` on the encoded targets.

    ``partial``: one epoch (``partial_fit``); ``resume``: continue the network and
    optimizer of the previous call (``warm_start``, later ``partial_fit`` calls).
    """
    if getattr(est, "loss", "logistic") != "logistic":
        raise ValueError("backend='torch' supports loss='logistic' only.")
    if world() is not None and type(check_weighting(est.loss_weighting)) is not Equal:
        raise ValueError(
            "Under torch.distributed only loss_weighting='equal' gives the one-process "
            f"model (the processes' shares of a batch add up); got {est.loss_weighting!r}.")
    est.callbacks_ = copy.deepcopy(check_callbacks(getattr(est, "callbacks", None)))
    codes, kinds = _codes_and_kinds(targets, regression)
    n_out = [E.shape[1] for E in targets]
    codes = _standardise(est, table, codes, kinds, n_out, resume)
    out_task = np.repeat(np.arange(len(targets)), n_out)
    device = resolve_device(est.device)
    dtype = DTYPES[est.dtype]
    X = table.X  # RowSource puts it on the device once, or streams it (memmap, Dataset)
    if not resume:
        warn_unscaled(X)
    seed = seed_from(est.random_state)
    rng = np.random.RandomState(seed)
    stops = early_stopping(est, X.shape[0], REGRESSION not in kinds)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if not (resume and getattr(est, "_trainer", None) is not None):
            net = build_network(est, X.shape[1], out_task, table.n_tasks)
            net = net.to(device=device, dtype=dtype)
            weighting = make_weighting(est.loss_weighting, table.n_tasks).to(device)
            shared = net.experts.parameters() if isinstance(net, MMoE) \
                else net.trunk.parameters()
            est._trainer = Trainer(net, weighting, shared,
                                   lr=learning_rate(est, stops and not partial),
                                   weight_decay=est.weight_decay, device=device,
                                   dtype=dtype)
        trainer = est._trainer
        start = trainer.epochs
        pairs = make_pairs(table, codes)
        val_rows = None
        if stops and not partial:
            n_val = max(1, int(round(est.validation_fraction * X.shape[0])))
            val_rows = np.sort(rng.permutation(X.shape[0])[:n_val])
        batch = auto_batch_size(X.shape[0]) if est.batch_size == "auto" \
            else min(est.batch_size, X.shape[0])
        names = table.names if table.labels is not None else None
        with threads_for(device, step_flops(trainer.net, batch)):
            trainer.run(X, pairs, task_layout(targets, kinds).to(device), table.n_tasks,
                        max_epochs=1 if partial else est.max_epochs, batch_size=batch,
                        rng=rng, val_rows=val_rows, n_iter_no_change=est.n_iter_no_change,
                        tol=est.tol, verbose=est.verbose, task_names=names,
                        callbacks=est.callbacks_)
    est.module_ = trainer.net
    est.loss_curve_ = list(trainer.loss_curve)
    est.task_loss_curve_ = np.array(trainer.task_loss_curve)
    est.validation_scores_ = list(trainer.validation_scores) if stops else None
    if not partial:
        warn_poor_fit(trainer, start, val_rows is not None)
    est.n_iter_ = trainer.epochs
    est.device_ = device
    return est


def input_batches(X, param, batch_size):
    """The rows of ``X`` as tensors of ``param``'s dtype and device, ``batch_size``
    at a time (a sparse X is made dense a batch at a time; a lazy one is checked)."""
    for start in range(0, X.shape[0], batch_size):
        xb = X[start : start + batch_size]
        xb = torch.tensor(xb.toarray() if hasattr(xb, "toarray") else np.asarray(xb),
                          dtype=param.dtype, device=param.device)
        if isinstance(X, LazyRows) and not torch.isfinite(xb).all():
            raise ValueError("Input X contains NaN or infinity.")
        yield xb


def network_outputs(est, X, batch_size=4096):
    """All task outputs for the rows of ``X``, computed in batches: (n, n_outputs)."""
    net = est.module_
    param = next(net.parameters())
    net.eval()
    with torch.no_grad(), threads_for(param.device, step_flops(net, batch_size, 2)):
        out = [net(xb)[1].double().cpu().numpy()
               for xb in input_batches(X, param, batch_size)]
    if not out:
        return np.zeros((0, 0))
    mean, scale = getattr(est, "_target_scale", (0.0, 1.0))  # fitted before: none
    return np.concatenate(out) * scale + mean
