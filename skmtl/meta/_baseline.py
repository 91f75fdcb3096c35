"""The few-shot baselines: pretrain one classifier over all training classes, then fit
a new head on each task's support set (Chen et al. 2019, "A Closer Look at Few-shot
Classification"; Tian et al. 2020, "Rethinking Few-Shot Image Classification").

The same interface as the meta-learning algorithms: ``meta_backward`` takes a
meta-batch of mini-batches of rows with their classes among all the training ones
(the episodes of :class:`~skmtl.meta._episodes.BatchSampler`: no query rows), and
adds the gradient of their cross-entropy to the backbone's and the training head's
``.grad``; ``adapt`` returns a new task's head fitted on the frozen features of
its support set and ``logits`` scores queries with it.
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from torch import nn

from ._algorithms import CHUNK, ProtoNet

COSINE_SCALE = 10.0  # the cosine heads' logit scale (Chen et al. 2019's, for wide features)


def _embed(net, x):
    """L2-normalised embeddings of ``x``, CHUNK rows at a time."""
    return F.normalize(torch.cat([net(x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)]),
                       dim=1)


class Baseline(nn.Module):
    """Pretrained backbone, new head per task.

    Parameters
    ----------
    width : int
        Width of the backbone's embedding.
    n_classes : int
        Classes of the pretraining head (all the training classes).
    cosine : bool, default=False
        False ("baseline"): a linear pretraining head; a task's head is a
        multinomial logistic regression (scikit-learn's, ``C=C``) on the
        L2-normalised support embeddings, as Tian et al. 2020.  True
        ("baseline++"): cosine heads, scores ``COSINE_SCALE * cos(f, w_c)``, in
        pretraining as in Chen et al. 2019; a task's weights are the normalised
        means of its classes' normalised support embeddings (weight imprinting,
        Qi et al. 2018) where Chen et al. fine-tune them for 100 steps.
    C : float, default=1.0
        Inverse regularisation of the logistic regression.
    """

    def __init__(self, width, n_classes, cosine=False, C=1.0):
        super().__init__()
        self.cosine, self.C = cosine, C
        self.head = nn.Linear(width, n_classes, bias=not cosine)

    def _train_logits(self, emb):
        if self.cosine:
            return COSINE_SCALE * F.normalize(emb, dim=1) @ F.normalize(self.head.weight, dim=1).T
        return self.head(emb)

    def meta_backward(self, net, XS, YS, XQ, YQ, n_out):
        """Cross-entropy of the B mini-batches as one batch; B times its mean, so that
        the caller's division by the meta-batch size leaves the mean."""
        loss = F.cross_entropy(self._train_logits(net(XS.flatten(0, 1))), YS.flatten())
        (len(XS) * loss).backward()
        return len(XS) * loss.detach()

    def adapt(self, net, xs, ys, n_way):
        with torch.no_grad():
            emb = _embed(net, xs)
        if self.cosine:
            return F.normalize(ProtoNet.prototypes(emb, ys, n_way), dim=1), None
        model = LogisticRegression(C=self.C, max_iter=1000)
        model.fit(emb.double().cpu().numpy(), ys.cpu().numpy())
        coef, bias = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # two classes: sklearn keeps one row, the other's logit is 0
            coef, bias = np.vstack([-coef / 2, coef / 2]), np.r_[-bias / 2, bias / 2]
        return (torch.as_tensor(coef, dtype=emb.dtype, device=emb.device),
                torch.as_tensor(bias, dtype=emb.dtype, device=emb.device))

    def logits(self, net, state, xq):
        weight, bias = state
        emb = F.normalize(net(xq), dim=1)
        return COSINE_SCALE * emb @ weight.T if bias is None else emb @ weight.T + bias
