"""Loss weighting: one update from the per-task losses of a batch.

A weighting has ``backward(losses, present, features, shared)`` that fills the
``.grad`` of the parameters, ``parameters()`` (its own learnable ones, if any) and
``end_epoch()``.  Scalarizations (equal, uncertainty, DWA) combine the losses into
one; gradient aggregations (PCGrad, MGDA, CAGrad, Nash-MTL, UPGrad) combine the
per-task gradients of the shared parameters, through torchjd; GradNorm learns
weights that balance the tasks' gradient norms.  Named in ``loss_weighting=``.
"""

import torch
from torch import nn


def _torchjd():
    try:
        import torchjd  # noqa: F401
    except ImportError as exc:  # pragma: no cover - torchjd is in the torch extra
        raise ImportError(
            "This loss_weighting needs torchjd: pip install 'skmtl[torch]'."
        ) from exc
    import torchjd.aggregation
    import torchjd.autojac
    import torchjd.scalarization

    return torchjd


class Weighting(nn.Module):
    """Base: sum of the present tasks' losses (each already a per-task mean)."""

    def backward(self, losses, present, features, shared):
        self.combine(losses, present).backward()

    def combine(self, losses, present):
        # torch.where, not losses[present]: a boolean index waits for the GPU each step
        return torch.where(present, losses, 0.0).sum()

    def end_epoch(self):
        pass


class Equal(Weighting):
    """Every task weighs one: the sum of the per-task mean losses."""


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


class _Aggregator(Weighting):
    """A torchjd aggregator of the per-task gradients of the shared parameters."""

    def __init__(self, aggregator):
        super().__init__()
        self.aggregator = aggregator

    def backward(self, losses, present, features, shared):
        jd = _torchjd()
        jd.autojac.mtl_backward(list(losses[present]), features=features, retain_graph=True)
        jd.autojac.jac_to_grad(shared, self.aggregator)


class GradNorm(Weighting):
    """GradNorm (Chen et al., ICML 2018): learn weights that balance gradient norms.

    Task ``t``'s weight ``w_t`` is moved so that the norm of ``w_t grad L_t`` on the
    shared features tracks the mean norm times ``(L_t / L_t(0) / mean ratio) **
    asymmetry``; the weights are renormalised to sum to the number of tasks.
    """

    def __init__(self, n_tasks, asymmetry=1.5, lr=0.025):
        super().__init__()
        self.log_w = nn.Parameter(torch.zeros(n_tasks))
        self.asymmetry, self.lr = asymmetry, lr
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
            target = norms.mean() * (ratio / ratio.mean()) ** self.asymmetry
        gn_loss = (norms - target.detach()).abs().sum()
        (g,) = torch.autograd.grad(gn_loss, self.log_w, retain_graph=True)
        (w.detach()[idx] * losses[idx]).sum().backward()
        with torch.no_grad():
            self.log_w -= self.lr * g


def _aggregator(make):
    return lambda n_tasks: _Aggregator(make(_torchjd().aggregation, n_tasks))


# The one list of loss weightings: name -> factory(n_tasks).  The estimators'
# ``loss_weighting`` constraint and the documentation read it.
WEIGHTINGS = {
    "equal": lambda n_tasks: Equal(),
    "uncertainty": lambda n_tasks: _Scalarizer(_torchjd().scalarization.UW(n_tasks)),
    "dwa": lambda n_tasks: _Scalarizer(_torchjd().scalarization.DWA()),
    "gradnorm": GradNorm,
    "pcgrad": _aggregator(lambda agg, n: agg.PCGrad()),
    "mgda": _aggregator(lambda agg, n: agg.MGDA()),
    "cagrad": _aggregator(lambda agg, n: agg.CAGrad(c=0.5)),
    "nash_mtl": _aggregator(lambda agg, n: agg.NashMTL(n)),
    "upgrad": _aggregator(lambda agg, n: agg.UPGrad()),
}


def make_weighting(name, n_tasks):
    """The weighting called ``name`` (a key of :data:`WEIGHTINGS`) for ``n_tasks`` tasks."""
    return WEIGHTINGS[name](n_tasks)
