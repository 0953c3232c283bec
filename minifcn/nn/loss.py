"""The loss layer: ``loss = crit(score, target)``, then ``dscore = crit.backward()``."""
import numpy as np

from .. import backend
from .. import functional as F
from .module import Module


class SoftmaxCrossEntropy(Module):
    """Per-pixel softmax cross-entropy over (N, C, H, W) scores and (N, H, W) integer targets.

    reduction 'mean' averages over the pixels that are not ``ignore_index``; 'sum' is the FCN
    papers' unnormalised loss (use learning rates around 1e-10 with it).
    ``check_target`` validates class values (one device→host read of a flag per call).
    ``weight``: None, or one finite weight ≥ 0 per class (C,), multiplying the loss of each
    pixel of that class; 'mean' then divides by the summed weights of the counted pixels, as
    PyTorch's ``cross_entropy(weight=...)``. Kept on the host; the first call on a device (and
    dtype) copies it there once, so that a training iteration sends only its batch.
    """

    def __init__(self, ignore_index=255, reduction="mean", check_target=True, weight=None):
        super().__init__()
        if reduction not in F.loss.REDUCTIONS:
            raise ValueError(f"reduction must be one of {F.loss.REDUCTIONS}, got {reduction!r}")
        self.ignore_index, self.reduction, self.check_target = ignore_index, reduction, check_target
        self.weight = None if weight is None else _class_weights(weight)
        self._on_device = None                  # (key, the weights on the scores' device)

    def forward(self, score, target):
        loss, cache = F.softmax_cross_entropy_forward(score, target, self.ignore_index,
                                                      self.reduction, self.check_target,
                                                      self._weight_like(score))
        self.save_cache(cache)
        return loss

    def _weight_like(self, score):
        """The class weights on ``score``'s device and in its dtype, copied there once."""
        if self.weight is None:
            return None
        key = (id(self.weight), backend.device_of(score), score.dtype)
        if self._on_device is None or self._on_device[0] != key:
            xp = backend.get_array_module(score)
            self._on_device = (key, xp.asarray(self.weight).astype(score.dtype))
        return self._on_device[1]

    def backward(self, dout=1.0):
        return F.softmax_cross_entropy_backward(dout, self.pop_cache())

    def extra_repr(self):
        text = f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"
        return text if self.weight is None else text + f", weight={self.weight.tolist()}"


def _class_weights(weight):
    """A host float64 copy of the class weights, checked: 1-D, finite, ≥ 0, not all zero."""
    w = np.array(backend.to_cpu(weight), dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weight must be one value per class, got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or not w.any():
        raise ValueError(f"class weights must be finite, ≥ 0 and not all zero, got {w.tolist()}")
    return w
