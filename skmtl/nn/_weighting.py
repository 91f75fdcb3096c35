"""Loss weighting: how the per-task losses of a batch make one update.

``loss_weighting=`` takes a name (a key of :data:`WEIGHTINGS`, for GridSearchCV) or
a configured object (``CAGrad(c=0.2)``, ``DWA(temperature=1.0)``): a
:class:`LossWeighting` holds the method's settings, with sklearn's
``get_params`` / ``set_params`` (so ``clone``, pickling and a search over
``loss_weighting__c`` work), and builds its trainable part for a fit with
``build(n_tasks)``: a :class:`Weighting` module.

A :class:`Weighting` has ``backward(losses, present, features, shared)`` that fills
the ``.grad`` of the parameters, ``after_step(recompute)`` (called after the
optimizer step; ``recompute()`` gives the batch's losses again) and ``end_epoch()``.
Scalarizations (equal, uncertainty, DWA, RLW, FAMO) combine the losses into one;
GradNorm learns weights that balance the tasks' gradient norms; the gradient
aggregations of :mod:`skmtl.nn._aggregators` combine the per-task gradients of the
shared parameters, through torchjd.
"""

import inspect

import torch
from torch import nn


def torchjd():
    """torchjd, with its aggregation, autojac and scalarization modules loaded."""
    try:
        import torchjd as jd
    except ImportError as exc:  # pragma: no cover - torchjd is in the torch extra
        raise ImportError(
            "This loss_weighting needs torchjd: pip install 'skmtl[torch]'."
        ) from exc
    import torchjd.aggregation
    import torchjd.autojac
    import torchjd.scalarization

    return jd


class LossWeighting:
    """Base class of the configured loss weightings.

    A subclass takes its settings as keyword arguments of ``__init__`` (stored
    unchanged under the same names, as sklearn estimators do) and implements
    :meth:`build`.
    """

    @classmethod
    def _param_names(cls):
        init = cls.__init__
        if init is object.__init__:
            return []
        return sorted(p.name for p in inspect.signature(init).parameters.values()
                      if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD)

    def get_params(self, deep=True):
        """The settings, as ``{name: value}``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Change settings; returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__} has no setting {name!r}; its "
                                 f"settings are {valid}.")
            setattr(self, name, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_params() == other.get_params()

    __hash__ = None

    def build(self, n_tasks):
        """The :class:`Weighting` module that trains with ``n_tasks`` tasks."""
        raise NotImplementedError


class Weighting(nn.Module):
    """Base of the modules that make the update: sum of the present tasks' losses
    (each already a per-task mean)."""

    def backward(self, losses, present, features, shared):
        self.combine(losses, present).backward()

    def combine(self, losses, present):
        # torch.where, not losses[present]: a boolean index waits for the GPU each step
        return torch.where(present, losses, 0.0).sum()

    def after_step(self, recompute):
        """Called after the optimizer step; ``recompute()``: the batch's losses again."""

    def end_epoch(self):
        pass


class _Scalarizer(Weighting):
    """A torchjd scalarizer over the full task vector (absent tasks count zero)."""

    def __init__(self, scalarizer):
        super().__init__()
        self.scalarizer = scalarizer

    def combine(self, losses, present):
        return self.scalarizer(torch.where(present, losses, losses.detach() * 0))

    def end_epoch(self):
        step = getattr(self.scalarizer, "step", None)
        if step is not None:
            step()


class Equal(LossWeighting):
    """Every task weighs one: the sum of the per-task mean losses."""

    def build(self, n_tasks):
        return Weighting()


class Uncertainty(LossWeighting):
    """Homoscedastic uncertainty weighting (Kendall et al., CVPR 2018): a learned
    log-variance a task, ``sum_t exp(-s_t) L_t + s_t``."""

    def build(self, n_tasks):
        return _Scalarizer(torchjd().scalarization.UW(n_tasks))


class DWA(LossWeighting):
    """Dynamic Weight Average (Liu et al., CVPR 2019): weights from the ratio of each
    task's last two epoch losses, softened by ``temperature``."""

    def __init__(self, temperature=2.0):
        self.temperature = temperature

    def build(self, n_tasks):
        return _Scalarizer(torchjd().scalarization.DWA(temperature=self.temperature))


class RLW(LossWeighting):
    """Random loss weighting (Lin et al., TMLR 2022): each batch, the weights of its
    tasks are the softmax of standard normal draws (from the fit's seeded torch
    generator), times their number (so that they sum as equal weighting's do)."""

    def build(self, n_tasks):
        return _RandomWeights()


class _RandomWeights(Weighting):
    def combine(self, losses, present):
        draw = torch.randn(losses.shape, dtype=losses.dtype, device=losses.device)
        w = torch.softmax(draw.masked_fill(~present, float("-inf")), dim=0)
        return (w * torch.where(present, losses, 0.0)).sum() * present.sum()


class FAMO(LossWeighting):
    """Fast Adaptive Multitask Optimization (Liu et al., NeurIPS 2023): weights on the
    log-losses, moved after each step (an Adam step of rate ``lr``, decay
    ``weight_decay``) toward the tasks whose loss fell least.  Losses must stay
    positive (true of squared error and cross-entropy)."""

    def __init__(self, lr=0.025, weight_decay=1e-3):
        self.lr, self.weight_decay = lr, weight_decay

    def build(self, n_tasks):
        return _FAMO(torchjd().scalarization.FAMO(n_tasks, lr=self.lr,
                                                   weight_decay=self.weight_decay))


class _FAMO(_Scalarizer):
    def combine(self, losses, present):
        return self.scalarizer(torch.where(present, losses, losses.detach() * 0 + 1))

    def after_step(self, recompute):
        losses, present = recompute()  # an absent task's loss "did not change"
        self.scalarizer.update(torch.where(present, losses, self.scalarizer._prev_losses))


class GradNorm(LossWeighting):
    """GradNorm (Chen et al., ICML 2018): learn weights that balance gradient norms.

    Task ``t``'s weight ``w_t`` is moved (by steps of ``lr``) so that the norm of
    ``w_t grad L_t`` on the shared features tracks the mean norm times ``(L_t /
    L_t(0) / mean ratio) ** alpha``; the weights are renormalised to sum to the
    number of tasks.
    """

    def __init__(self, alpha=1.5, lr=0.025):
        self.alpha, self.lr = alpha, lr

    def build(self, n_tasks):
        return _GradNorm(n_tasks, self.alpha, self.lr)


class _GradNorm(Weighting):
    def __init__(self, n_tasks, alpha, lr):
        super().__init__()
        self.log_w = nn.Parameter(torch.zeros(n_tasks))
        self.alpha, self.lr = alpha, lr
        self.register_buffer("initial", torch.full((n_tasks,), float("nan")))

    def backward(self, losses, present, features, shared):
        w = torch.exp(self.log_w)
        w = w * w.numel() / w.sum()
        idx = torch.nonzero(present).ravel()
        grads = [torch.autograd.grad(losses[t], features, retain_graph=True)[0] for t in idx]
        norms = torch.stack([g.norm() for g in grads]) * w[idx]
        with torch.no_grad():
            first = torch.isnan(self.initial) & present
            self.initial[first] = losses[first].detach()
            ratio = losses[idx].detach() / self.initial[idx].clamp_min(1e-12)
            target = norms.mean() * (ratio / ratio.mean()) ** self.alpha
        gn_loss = (norms - target.detach()).abs().sum()
        (g,) = torch.autograd.grad(gn_loss, self.log_w, retain_graph=True)
        (w.detach()[idx] * losses[idx]).sum().backward()
        with torch.no_grad():
            self.log_w -= self.lr * g


def make_weighting(spec, n_tasks):
    """The :class:`Weighting` module of ``spec`` (a name in :data:`WEIGHTINGS` or a
    :class:`LossWeighting`) for ``n_tasks`` tasks."""
    spec = check_weighting(spec)
    module = spec.build(n_tasks)
    if not isinstance(module, Weighting):
        raise TypeError(f"{type(spec).__name__}.build returned {module!r}, not a "
                        "skmtl.nn.Weighting module.")
    return module


def check_weighting(spec):
    """``spec`` as a :class:`LossWeighting` object; a clear error for anything else."""
    from ._aggregators import WEIGHTINGS

    if isinstance(spec, LossWeighting):
        return spec
    if isinstance(spec, str):
        if spec in WEIGHTINGS:
            return WEIGHTINGS[spec]()
        raise ValueError(f"loss_weighting={spec!r} is not a known weighting; use one of "
                         f"{sorted(WEIGHTINGS)} or a skmtl.nn.LossWeighting object.")
    raise TypeError(f"loss_weighting must be a name in {sorted(WEIGHTINGS)} or a "
                    f"skmtl.nn.LossWeighting object (e.g. CAGrad(c=0.2)), got {spec!r}.")
