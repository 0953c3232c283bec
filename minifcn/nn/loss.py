"""The loss layer: ``loss = crit(score, target)``, then ``dscore = crit.backward()``."""
from .. import functional as F
from .module import Module


class SoftmaxCrossEntropy(Module):
    """Per-pixel softmax cross-entropy over (N, C, H, W) scores and (N, H, W) integer targets.

    reduction 'mean' averages over the pixels that are not ``ignore_index``; 'sum' is the FCN
    papers' unnormalised loss (use learning rates around 1e-10 with it).
    ``check_target`` validates class values (one device→host read of a flag per call).
    """

    def __init__(self, ignore_index=255, reduction="mean", check_target=True):
        super().__init__()
        if reduction not in F.loss.REDUCTIONS:
            raise ValueError(f"reduction must be one of {F.loss.REDUCTIONS}, got {reduction!r}")
        self.ignore_index, self.reduction, self.check_target = ignore_index, reduction, check_target

    def forward(self, score, target):
        loss, cache = F.softmax_cross_entropy_forward(score, target, self.ignore_index,
                                                      self.reduction, self.check_target)
        self.save_cache(cache)
        return loss

    def backward(self, dout=1.0):
        return F.softmax_cross_entropy_backward(dout, self.pop_cache())

    def extra_repr(self):
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"
