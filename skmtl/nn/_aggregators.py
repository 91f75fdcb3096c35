"""Gradient aggregations: the per-task gradients of the shared parameters (a
Jacobian, through torchjd's ``mtl_backward``) combined into one update by a torchjd
aggregator; and :data:`WEIGHTINGS`, the one list of loss weightings by name.

Each method is a small :class:`~skmtl.nn._weighting.LossWeighting` whose settings
are the aggregator's; the task-specific parameters (the heads) get their own
tasks' gradients unchanged.
"""

from ._weighting import (DWA, FAMO, RLW, Equal, GradNorm, LossWeighting, Uncertainty,
                         Weighting, torchjd)


class _Aggregate(Weighting):
    """A torchjd aggregator of the per-task gradients of the shared parameters."""

    def __init__(self, aggregator):
        super().__init__()
        self.aggregator = aggregator

    def backward(self, losses, present, features, shared):
        jd = torchjd()
        jd.autojac.mtl_backward(list(losses[present]), features=features, retain_graph=True)
        jd.autojac.jac_to_grad(shared, self.aggregator)


class _Aggregator(LossWeighting):
    """Base: ``aggregator(aggregation, n_tasks)`` makes the torchjd aggregator."""

    def aggregator(self, aggregation, n_tasks):
        raise NotImplementedError

    def build(self, n_tasks):
        return _Aggregate(self.aggregator(torchjd().aggregation, n_tasks))


class PCGrad(_Aggregator):
    """Projecting conflicting gradients (Yu et al., NeurIPS 2020)."""

    def aggregator(self, aggregation, n_tasks):
        return aggregation.PCGrad()


class MGDA(_Aggregator):
    """The multiple-gradient descent algorithm (Sener and Koltun, NeurIPS 2018): the
    minimum-norm point of the gradients' convex hull, to ``epsilon`` in at most
    ``max_iters`` Frank-Wolfe steps."""

    def __init__(self, epsilon=1e-3, max_iters=100):
        self.epsilon, self.max_iters = epsilon, max_iters

    def aggregator(self, aggregation, n_tasks):
        return aggregation.MGDA(epsilon=self.epsilon, max_iters=self.max_iters)


class CAGrad(_Aggregator):
    """Conflict-averse gradient descent (Liu et al., NeurIPS 2021): the update within
    ``c`` times the mean gradient's norm of it that most improves the worst task."""

    def __init__(self, c=0.5):
        self.c = c

    def aggregator(self, aggregation, n_tasks):
        return aggregation.CAGrad(c=self.c)


class NashMTL(_Aggregator):
    """Nash bargaining over the tasks' gradients (Navon et al., ICML 2022); the
    weights are solved every ``update_weights_every`` steps."""

    def __init__(self, max_norm=1.0, update_weights_every=1):
        self.max_norm, self.update_weights_every = max_norm, update_weights_every

    def aggregator(self, aggregation, n_tasks):
        return aggregation.NashMTL(n_tasks, max_norm=self.max_norm,
                                   update_weights_every=self.update_weights_every)


class UPGrad(_Aggregator):
    """Unconflicting projection of gradients (Quinton and Rey, 2024): the mean of the
    gradients each projected onto the dual cone of all of them."""

    def aggregator(self, aggregation, n_tasks):
        return aggregation.UPGrad()


class IMTLG(_Aggregator):
    """Impartial multi-task learning, gradient part (Liu et al., ICLR 2021): the
    update with equal projections on every task's gradient direction."""

    def aggregator(self, aggregation, n_tasks):
        return aggregation.IMTLG()


class AlignedMTL(_Aggregator):
    """Aligned-MTL (Senushkin et al., CVPR 2023): the gradients made orthogonal with
    equal singular values, rescaled by the ``scale_mode`` ("min", "median" or
    "rmse") of the original ones."""

    def __init__(self, scale_mode="min"):
        self.scale_mode = scale_mode

    def aggregator(self, aggregation, n_tasks):
        return aggregation.AlignedMTL(scale_mode=self.scale_mode)


class FairGrad(_Aggregator):
    """FairGrad (Ban and Ji, ICML 2024): alpha-fair resource allocation over the
    tasks' improvements (``alpha=0``: the mean; larger: fairer)."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def aggregator(self, aggregation, n_tasks):
        return aggregation.FairGrad(alpha=self.alpha)


class DualProj(_Aggregator):
    """The mean gradient projected onto the gradients' dual cone (GEM's projection,
    Lopez-Paz and Ranzato, NeurIPS 2017): no task's loss increases to first order."""

    def aggregator(self, aggregation, n_tasks):
        return aggregation.DualProj()


class ConFIG(_Aggregator):
    """Conflict-free inverse gradients (Liu et al., ICLR 2025): the direction with
    equal positive cosine to every task's gradient."""

    def aggregator(self, aggregation, n_tasks):
        return aggregation.ConFIG()


class GradVac(_Aggregator):
    """Gradient vaccine (Wang et al., ICLR 2021): each pair of gradients moved toward
    a target cosine similarity, an average of past ones at rate ``beta``."""

    def __init__(self, beta=0.5):
        self.beta = beta

    def aggregator(self, aggregation, n_tasks):
        return aggregation.GradVac(beta=self.beta)


# The one list of loss weightings: name -> class (its default settings).  The
# estimators' loss_weighting check and the documentation read it.
WEIGHTINGS = {
    "equal": Equal, "uncertainty": Uncertainty, "dwa": DWA, "rlw": RLW, "famo": FAMO,
    "gradnorm": GradNorm, "pcgrad": PCGrad, "mgda": MGDA, "cagrad": CAGrad,
    "nash_mtl": NashMTL, "upgrad": UPGrad, "imtl_g": IMTLG, "aligned_mtl": AlignedMTL,
    "fairgrad": FairGrad, "dualproj": DualProj, "config": ConFIG, "gradvac": GradVac,
}

__all__ = ["WEIGHTINGS", "LossWeighting", *(c.__name__ for c in WEIGHTINGS.values())]
