"""Meta-learning algorithms: each an adapt step plus a meta-update.

``meta_backward(net, XS, YS, XQ, YQ, n_out)`` takes a meta-batch of B episodes of
one shape, stacked (``XS`` of shape (B, n_support, ...), ``YS`` of shape
(B, n_support), ...), runs them all at once with :func:`torch.func.vmap`, adds the
sum of their meta-gradients to the ``.grad`` of the network (and of the
algorithm's own meta-learned parameters) and returns the sum of their query
losses (a detached scalar tensor: no device sync).  ``adapt(net, xs, ys, n_out)``
returns one task's adapted state (prototypes, or fast weights and head), leaving
``net`` untouched, and ``logits(net, state, xq)`` scores queries with it
(``n_out``: the number of ways, or 1 in regression).

The gradient-based methods start every task from a head of ``n_out`` outputs made
for it (so the number of ways may change between meta-training and adaptation):
zero, or (classification) the prototypes' linear form (Proto-MAML, Triantafillou
et al. 2020), where a zero head leaves the backbone untouched by the first inner
step (its gradient is the head's weight times the loss's); they adapt
with plain gradient steps (:func:`torch.func.grad` of the support loss through
:func:`torch.func.functional_call`) and take their loss as a parameter:
``F.cross_entropy`` (classification) or :func:`squared_error` (regression, a
one-output head).
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

CHUNK = 1024  # rows a forward pass when adapting on a large support set
# Layers whose networks run a meta-batch as a loop on the CPU: there vmap's batched
# convolutions and pooling ran conv4 1.4-2x slower than B plain calls, while MLPs ran
# 1.4-6.7x faster under vmap (meta-batch 4-16; benchmarks/bench_meta_batch.py).
LOOP_ON_CPU = (nn.modules.conv._ConvNd,)
# Layers whose second derivatives vmap gets wrong: with torch 2.13, MAML's
# meta-gradient of a conv + batch-norm network under vmap differs from the loop's by
# up to 25% (the loop's matches finite differences); first order is exact.  Known
# upstream: "batch_norm backward batching rule is incorrect for grad_input"
# (pytorch/functorch#534, open).
LOOP_SECOND_ORDER = (nn.modules.batchnorm._BatchNorm,)


def squared_error(out, y, reduction="mean"):
    """Squared error of a one-output head: ``out`` of shape (n, 1), ``y`` of shape (n,)."""
    return F.mse_loss(out[:, 0], y, reduction=reduction)


def vmapped(net, device, second_order=False):
    """Whether a meta-batch of ``net`` on ``device`` runs under vmap: not for a
    network with buffers (vmap cannot update running statistics in place), on the
    CPU for one with ``LOOP_ON_CPU`` layers, nor, when the task differentiates twice,
    for one with ``LOOP_SECOND_ORDER`` layers."""
    loop = LOOP_ON_CPU if device.type == "cpu" else ()
    loop += LOOP_SECOND_ORDER if second_order else ()
    return next(net.buffers(), None) is None and \
        not any(isinstance(m, loop) for m in net.modules())


def over_tasks(net, task, *episodes, second_order=False, backward=False):
    """``task`` applied to each episode of the stacked ``episodes``, outputs stacked.

    One :func:`torch.func.vmap` call for the whole meta-batch where :func:`vmapped`
    says so, else a loop.  With ``backward``, ``task`` returns a loss whose gradient
    is accumulated (an episode at a time in the loop: one episode's graph in
    memory) and the losses come back detached.
    """
    n = len(episodes[0])
    if n > 1 and vmapped(net, episodes[0].device, second_order):
        out = vmap(task, randomness="different")(*episodes)
        if backward:
            out.sum().backward()
            out = out.detach()
        return out
    outs = []
    for i in range(n):
        out = task(*(e[i] for e in episodes))
        if backward:
            out.backward()
            out = out.detach()
        outs.append(out)
    return torch.utils._pytree.tree_map(lambda *t: torch.stack(t), *outs)


class ProtoNet(nn.Module):
    """Prototypical networks (Snell et al. 2017).

    A class's prototype is the mean embedding of its support rows; a query is
    scored by minus its squared distance to each prototype.
    """

    @staticmethod
    def prototypes(emb, ys, n_way):
        onehot = (ys[:, None] == torch.arange(n_way, device=ys.device)).to(emb.dtype)
        return onehot.T @ emb / onehot.sum(0).clamp_min(1)[:, None]

    @staticmethod
    def _logits(emb_q, protos):
        return -torch.cdist(emb_q, protos) ** 2

    def meta_backward(self, net, XS, YS, XQ, YQ, n_way):
        def task(xs, ys, xq, yq):
            emb = net(torch.cat([xs, xq]))
            protos = self.prototypes(emb[: len(xs)], ys, n_way)
            return F.cross_entropy(self._logits(emb[len(xs) :], protos), yq)

        return over_tasks(net, task, XS, YS, XQ, YQ, backward=True).sum()

    def adapt(self, net, xs, ys, n_way):
        with torch.no_grad():
            emb = torch.cat([net(xs[i : i + CHUNK]) for i in range(0, len(xs), CHUNK)])
            return self.prototypes(emb, ys, n_way)

    def logits(self, net, protos, xq):
        return self._logits(net(xq), protos)


class GradientBased(nn.Module):
    """MAML (Finn et al. 2017), first-order MAML, ANIL and Meta-SGD.

    Parameters
    ----------
    width : int
        Width of the backbone's embedding (the head's input).
    inner_lr : float
        Step size of the inner loop (Meta-SGD: its initial value, then learned).
    inner_steps : int
    first_order : bool
        Drop the second-order terms (FOMAML).
    head_only : bool
        Adapt the head alone in the inner loop (ANIL, Raghu et al. 2020).
    learn_lr : bool
        Learn one inner step size per parameter (Meta-SGD, Li et al. 2017).
    loss : callable, default=F.cross_entropy
        ``loss(outputs, y, reduction="mean")`` of the head's outputs, inner loop
        and query alike: :func:`squared_error` for regression.
    head_init : {"zero", "prototypes"}, default="zero"
        A task's head before its inner steps.  ``"prototypes"`` (classification):
        ``W_c = 2 mu_c``, ``b_c = -|mu_c|^2`` of the class means ``mu_c`` of the
        support embeddings, the linear form of ProtoNet's scores (Proto-MAML).
        ``"zero"``: the backbone's gradient at the first step is zero, so MAML
        with one inner step only adapts the head, as ANIL.
    """

    def __init__(self, net, width, inner_lr, inner_steps, first_order=False,
                 head_only=False, learn_lr=False, loss=F.cross_entropy, head_init="zero"):
        super().__init__()
        self.width, self.inner_steps, self.loss = width, inner_steps, loss
        self.head_init = head_init
        self.first_order, self.head_only = first_order, head_only
        self.base_lr = inner_lr
        if learn_lr:
            self.lrs = nn.ParameterDict({
                k.replace(".", "__"): nn.Parameter(torch.full_like(p, inner_lr))
                for k, p in net.named_parameters()})
            self.head_lr = nn.Parameter(torch.tensor(float(inner_lr)))
        else:
            self.lrs, self.head_lr = None, inner_lr

    def _lr(self, name):
        return self.lrs[name.replace(".", "__")] if self.lrs is not None else self.base_lr

    def _inner(self, net, xs, ys, n_out, first_order, steps=None):
        """Fast weights (empty for ANIL), head weight and bias after the inner steps.

        The support loss's gradient is summed over chunks of CHUNK rows (one chunk in
        meta-training); ``first_order`` takes it at detached weights, so no graph of
        the inner loop is recorded.
        """
        embed = self.head_only or self.head_init == "prototypes"
        feats = torch.cat([net(xs[i : i + CHUNK]) for i in range(0, len(xs), CHUNK)]) \
            if embed else None
        head = self._initial_head(net, feats, ys, n_out)
        feats = feats if self.head_only else None
        fast = {} if self.head_only else dict(net.named_parameters())
        for _ in range(self.inner_steps if steps is None else steps):
            at = (fast, head, feats)
            if first_order:
                at = torch.utils._pytree.tree_map(
                    lambda t: t.detach() if isinstance(t, torch.Tensor) else t, at)
            g_fast, g_head = self._support_grads(net, *at, xs, ys)
            fast = {k: fast[k] - self._lr(k) * g_fast[k] for k in fast}
            head = tuple(h - self.head_lr * g for h, g in zip(head, g_head))
        return fast, head

    def _initial_head(self, net, feats, ys, n_out):
        """(weight, bias) of a task's head before the inner loop."""
        if self.head_init == "prototypes":
            protos = ProtoNet.prototypes(feats, ys, n_out)
            return 2 * protos, -(protos ** 2).sum(1)
        p0 = next(net.parameters())
        return (torch.zeros(n_out, self.width, dtype=p0.dtype, device=p0.device),
                torch.zeros(n_out, dtype=p0.dtype, device=p0.device))

    def _support_grads(self, net, fast, head, feats, xs, ys):
        def support_loss(fast, head, buffers, x, y, f):
            emb = f if self.head_only else functional_call(net, (fast, buffers), (x,))
            return self.loss(emb @ head[0].T + head[1], y, reduction="sum") / len(xs)

        buffers = dict(net.named_buffers())  # an input: batch norm may update them
        total = None
        for i in range(0, len(xs), CHUNK):
            f = feats[i : i + CHUNK] if self.head_only else None
            part = grad(support_loss, argnums=(0, 1))(
                fast, head, buffers, xs[i : i + CHUNK], ys[i : i + CHUNK], f)
            total = part if total is None else torch.utils._pytree.tree_map(
                torch.add, total, part)
        return total

    def _outputs(self, net, fast, head, x):
        emb = net(x) if self.head_only else functional_call(net, fast, (x,))
        return emb @ head[0].T + head[1]

    def meta_backward(self, net, XS, YS, XQ, YQ, n_out):
        def task(xs, ys, xq, yq):
            fast, head = self._inner(net, xs, ys, n_out, self.first_order)
            return self.loss(self._outputs(net, fast, head, xq), yq)

        second = not (self.first_order or self.head_only)  # through the backbone twice
        return over_tasks(net, task, XS, YS, XQ, YQ, second_order=second,
                          backward=True).sum()

    def adapt(self, net, xs, ys, n_out, steps=None):
        with torch.no_grad():
            fast, (head_w, head_b) = self._inner(net, xs, ys, n_out, True, steps)
        return fast, head_w, head_b

    def logits(self, net, state, xq):
        fast, head_w, head_b = state
        return self._outputs(net, fast, (head_w, head_b), xq)


class Reptile(GradientBased):
    """Reptile (Nichol et al. 2018): move the initialisation towards adapted weights.

    The inner loop trains on the whole episode (support and query); the
    meta-gradient is ``theta - phi`` (with SGD at step ``epsilon`` the update is
    exactly ``theta <- theta + epsilon (phi - theta)``).
    """

    def __init__(self, net, width, inner_lr, inner_steps, loss=F.cross_entropy,
                 head_init="zero"):
        super().__init__(net, width, inner_lr, inner_steps, first_order=True, loss=loss,
                         head_init=head_init)

    def meta_backward(self, net, XS, YS, XQ, YQ, n_out):
        theta = dict(net.named_parameters())

        def task(xs, ys, xq, yq):
            x, y = torch.cat([xs, xq]), torch.cat([ys, yq])
            fast, head = self._inner(net, x, y, n_out, True)
            steps = {k: theta[k] - fast[k] for k in theta}
            return self.loss(self._outputs(net, fast, head, x), y), steps

        with torch.no_grad():
            losses, steps = over_tasks(net, task, XS, YS, XQ, YQ)
        for name, p in theta.items():
            step = steps[name].sum(0)
            p.grad = step if p.grad is None else p.grad + step
        return losses.sum()


def freeze_support_statistics(net, forward, xs):
    """From now on normalise as on the support set: every batch-norm layer of ``net``
    (an adapted copy) keeps the mean and variance its input had over ``forward(xs)``
    (``forward`` runs ``net``, CHUNK rows at a time) and is put in eval mode, so that
    a prediction depends on its own row alone, not on the rest of its batch."""
    layers = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    stats = {}  # layer: (count, mean, sum of squared deviations), merged chunk by chunk

    def hook(layer, inputs, _):
        x = inputs[0]
        var, mean = torch.var_mean(x, [0] + list(range(2, x.dim())), correction=0)
        n = x.numel() // x.shape[1]  # values a channel
        m2 = var * n
        if layer in stats:  # Chan et al.'s pairwise update
            n0, mean0, m20 = stats[layer]
            delta = mean - mean0
            mean = mean0 + delta * n / (n0 + n)
            m2, n = m20 + m2 + delta ** 2 * n0 * n / (n0 + n), n0 + n
        stats[layer] = (n, mean, m2)

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad():
            for i in range(0, len(xs), CHUNK):
                forward(xs[i : i + CHUNK])
    finally:
        for h in handles:
            h.remove()
    for layer in layers:
        n, mean, m2 = stats[layer]
        layer.running_mean, layer.running_var = mean, m2 / n  # the biased batch variance
        layer.eval()
