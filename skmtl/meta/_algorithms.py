"""Meta-learning algorithms: each an adapt step plus a meta-update.

``meta_backward(net, xs, ys, xq, yq, n_out)`` accumulates the meta-gradient of one
episode into the ``.grad`` of the network (and of the algorithm's own meta-learned
parameters) and returns the query loss (a detached scalar tensor: no device sync);
``adapt(net, xs, ys, n_out)`` returns the task's adapted state (prototypes, or fast
weights and head), leaving ``net`` untouched, and ``logits(net, state, xq)`` scores
queries with it (``n_out``: the number of ways, or 1 in regression).

The gradient-based methods start every task from a zero head of ``n_out`` outputs
(so the number of ways may change between meta-training and adaptation), adapt
with plain gradient steps through ``torch.func.functional_call`` and take their
loss as a parameter: ``F.cross_entropy`` (classification) or :func:`squared_error`
(regression, a one-output head).
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

CHUNK = 1024  # rows a forward pass when adapting on a large support set


def squared_error(out, y, reduction="mean"):
    """Squared error of a one-output head: ``out`` of shape (n, 1), ``y`` of shape (n,)."""
    return F.mse_loss(out[:, 0], y, reduction=reduction)


class ProtoNet(nn.Module):
    """Prototypical networks (Snell et al. 2017).

    A class's prototype is the mean embedding of its support rows; a query is
    scored by minus its squared distance to each prototype.
    """

    @staticmethod
    def prototypes(emb, ys, n_way):
        total = torch.zeros(n_way, emb.shape[1], dtype=emb.dtype, device=emb.device)
        counts = torch.bincount(ys, minlength=n_way).clamp_min(1).to(emb.dtype)
        return total.index_add(0, ys, emb) / counts[:, None]

    @staticmethod
    def _logits(emb_q, protos):
        return -torch.cdist(emb_q, protos) ** 2

    def meta_backward(self, net, xs, ys, xq, yq, n_way):
        emb = net(torch.cat([xs, xq]))
        protos = self.prototypes(emb[: len(xs)], ys, n_way)
        loss = F.cross_entropy(self._logits(emb[len(xs) :], protos), yq)
        loss.backward()
        return loss.detach()

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
    """

    def __init__(self, net, width, inner_lr, inner_steps, first_order=False,
                 head_only=False, learn_lr=False, loss=F.cross_entropy):
        super().__init__()
        self.width, self.inner_steps, self.loss = width, inner_steps, loss
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

    def _inner(self, net, xs, ys, n_out, create_graph, steps=None):
        p0 = next(net.parameters())
        head_w = torch.zeros(n_out, self.width, dtype=p0.dtype, device=p0.device,
                             requires_grad=True)
        head_b = torch.zeros(n_out, dtype=p0.dtype, device=p0.device, requires_grad=True)
        fast = {} if self.head_only else dict(net.named_parameters())
        feats = None
        if self.head_only:
            feats = net(xs) if create_graph else torch.cat(
                [net(xs[i : i + CHUNK]).detach() for i in range(0, len(xs), CHUNK)])
        names = list(fast)
        for _ in range(self.inner_steps if steps is None else steps):
            if create_graph or len(xs) <= CHUNK:
                emb = feats if self.head_only else functional_call(net, fast, (xs,))
                loss = self.loss(emb @ head_w.T + head_b, ys)
                grads = torch.autograd.grad(loss, [fast[k] for k in names] + [head_w, head_b],
                                            create_graph=create_graph)
            else:  # a large support set (adaptation after fit): accumulate over chunks
                grads = self._chunked_grads(net, fast, head_w, head_b, xs, ys, feats)
            if not create_graph:
                grads = [g.detach() for g in grads]
            fast = {k: fast[k] - self._lr(k) * g for k, g in zip(names, grads)}
            head_w = head_w - self.head_lr * grads[-2]
            head_b = head_b - self.head_lr * grads[-1]
        return fast, head_w, head_b

    def _chunked_grads(self, net, fast, head_w, head_b, xs, ys, feats):
        wrt = [fast[k] for k in fast] + [head_w, head_b]
        total = [torch.zeros_like(w) for w in wrt]
        for i in range(0, len(xs), CHUNK):
            emb = feats[i : i + CHUNK] if self.head_only else \
                functional_call(net, fast, (xs[i : i + CHUNK],))
            loss = self.loss(emb @ head_w.T + head_b, ys[i : i + CHUNK],
                             reduction="sum") / len(xs)
            for t, g in zip(total, torch.autograd.grad(loss, wrt)):
                t += g
        return total

    def _forward(self, net, fast, x):
        return net(x) if self.head_only else functional_call(net, fast, (x,))

    def meta_backward(self, net, xs, ys, xq, yq, n_out):
        fast, head_w, head_b = self._inner(net, xs, ys, n_out, not self.first_order)
        loss = self.loss(self._forward(net, fast, xq) @ head_w.T + head_b, yq)
        loss.backward()
        return loss.detach()

    def adapt(self, net, xs, ys, n_out, steps=None):
        with torch.enable_grad():
            fast, head_w, head_b = self._inner(net, xs, ys, n_out, False, steps)
        return {k: v.detach() for k, v in fast.items()}, head_w.detach(), head_b.detach()

    def logits(self, net, state, xq):
        fast, head_w, head_b = state
        return self._forward(net, fast, xq) @ head_w.T + head_b


class Reptile(GradientBased):
    """Reptile (Nichol et al. 2018): move the initialisation towards adapted weights.

    The inner loop trains on the whole episode (support and query); the
    meta-gradient is ``theta - phi`` (with SGD at step ``epsilon`` the update is
    exactly ``theta <- theta + epsilon (phi - theta)``).
    """

    def __init__(self, net, width, inner_lr, inner_steps, loss=F.cross_entropy):
        super().__init__(net, width, inner_lr, inner_steps, first_order=True, loss=loss)

    def meta_backward(self, net, xs, ys, xq, yq, n_out):
        x, y = torch.cat([xs, xq]), torch.cat([ys, yq])
        fast, head_w, head_b = self._inner(net, x, y, n_out, False)
        for name, p in net.named_parameters():
            step = p.detach() - fast[name].detach()
            p.grad = step if p.grad is None else p.grad + step
        with torch.no_grad():
            return self.loss(self._forward(net, fast, x) @ head_w.T + head_b, y)
