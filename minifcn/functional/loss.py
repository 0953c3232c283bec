"""Softmax cross-entropy over every pixel of an NCHW score map, with an ignore label and optional
class weights.

FCN's loss is the per-pixel multinomial logistic loss, *summed* over the pixels in the original
(hence its tiny learning rates, 1e-10 for FCN-32s); ``reduction='mean'`` divides by the number of
pixels that count, which is what the usual learning rates (1e-3 … 1e-4) assume. Pixels labelled
``ignore_index`` (255: VOC's object borders and "void") contribute neither loss nor gradient.

``weight`` (C,) multiplies the loss of each pixel by the weight of its target class, so that a
rare class counts for more (median-frequency balancing; Eigen & Fergus 2015). With weights,
'mean' divides by the summed weights of the counted pixels instead of their number, as
PyTorch's ``cross_entropy(weight=...)`` does: the loss stays an average, now a weighted one.
"""
from ..backend import get_array_module

REDUCTIONS = ("mean", "sum")


def _check_target(score, target, ignore_index):
    xp = get_array_module(score, target)
    N, C, H, W = score.shape
    if target.shape != (N, H, W):
        raise ValueError(f"target of shape {tuple(target.shape)} does not match scores "
                         f"{tuple(score.shape)}: expected {(N, H, W)}")
    if target.dtype.kind not in "iu":
        raise ValueError(f"target must hold integer class indices, got dtype {target.dtype}")
    bad = ((target < 0) | (target >= C)) & (target != ignore_index)
    if bool(bad.any()):       # one scalar read; training checks labels on the host instead
        values = sorted(int(v) for v in xp.unique(target[bad])[:5].tolist())
        raise ValueError(f"target holds class value(s) {values} outside [0, {C}) that are not "
                         f"the ignore index {ignore_index}")


def _pixel_weights(weight, t, valid, score):
    """weight (C,) → the weight of each counted pixel's class, (N, H, W), 0 where ignored."""
    xp = get_array_module(score)
    w = xp.asarray(weight).astype(score.dtype, copy=False)     # to the scores' device and dtype
    if w.shape != (score.shape[1],):
        raise ValueError(f"weight must hold one value per class, shape ({score.shape[1]},), "
                         f"got shape {tuple(w.shape)}")
    return w[t[:, 0]] * valid


def softmax_cross_entropy_forward(score, target, ignore_index=255, reduction="mean",
                                  check_target=True, weight=None):
    """score (N, C, H, W) float, target (N, H, W) int, weight None or (C,) → (loss, cache).

    loss is a 0-d array on the scores' device (call ``float()`` to read it). A batch in which
    every pixel is ignored (or, with weights, every counted pixel has weight 0) has loss 0 and
    a zero gradient, never NaN.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if score.ndim != 4:
        raise ValueError(f"scores must be (N, C, H, W), got shape {tuple(score.shape)}")
    if check_target:
        _check_target(score, target, ignore_index)
    xp = get_array_module(score, target)
    valid = target != ignore_index                          # (N, H, W)
    t = xp.where(valid, target, 0).astype(xp.int64)[:, None]  # (N, 1, H, W), ignored → class 0
    # log-softmax by log-sum-exp: subtracting the max keeps exp() from overflowing.
    shifted = score - score.max(axis=1, keepdims=True)
    lse = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - lse                                   # (N, C, H, W)
    # Each pixel's share of the loss: 1 or 0 (valid), or its class weight (0 where ignored).
    pixel_w = valid if weight is None else _pixel_weights(weight, t, valid, score)
    nll = -xp.take_along_axis(log_p, t, axis=1)[:, 0] * pixel_w
    norm = pixel_w.sum()                                    # counted pixels, or their weights
    loss = nll.sum()
    if reduction == "mean":
        loss = loss / xp.where(norm > 0, norm, 1).astype(score.dtype)
    return loss.astype(score.dtype), (log_p, t, pixel_w, norm, reduction)


def softmax_cross_entropy_backward(dout, cache):
    """d loss / d score = w[target] · (softmax − onehot(target)) on counted pixels (w = 1
    without weights), / the counted pixels (or their summed weights) for 'mean'.

    dout is the upstream gradient of the scalar loss (1 for a plain loss).
    """
    xp = get_array_module(cache[0])
    log_p, t, pixel_w, norm, reduction = cache
    dscore = xp.exp(log_p)                                  # softmax
    onehot = xp.arange(dscore.shape[1]).reshape(1, -1, 1, 1) == t
    dscore -= onehot
    dscore *= pixel_w[:, None]
    scale = dout if reduction == "sum" else dout / xp.where(norm > 0, norm, 1)
    # A host number (dout = 1.0 with 'sum') stays a scalar: xp.asarray would copy it to the GPU.
    dscore *= scale.astype(dscore.dtype) if hasattr(scale, "astype") else dscore.dtype.type(scale)
    return dscore
