"""The pieces of FCN's skip connections: crop and the fixed at-once scale.

The sum itself ("fuse") is a plain ``a + b`` in the models, whose backward passes the gradient
unchanged to both inputs; it needs no kernel of its own.

Caffe's ``Crop`` layer cuts from a larger map the window that starts at (offset_y, offset_x) and
has the reference map's height and width. It is not a centred crop: the offsets come from the
coordinate maps of the layers (see ``minifcn.geometry``), e.g. 5 for score_pool4 in FCN-16s.
"""
from ..backend import get_array_module


def crop_forward(x, size, offset, fill=False):
    """x (N, C, H, W) → x[:, :, oy:oy+h, ox:ox+w] for size (h, w) and offset (oy, ox).

    ``fill``: the window may reach past x's edges (a negative offset, or past the far end);
    what lies outside x is 0. FCN with fc6 padded by 2 or 3 needs it for its skips: the coarse
    scores, once upsampled, then reach a pool4/pool3 pixel or two beyond the skip's own map,
    outside the image (models/fcn.py). Without ``fill`` such a window is an error, as in Caffe.
    """
    (h, w), (oy, ox) = size, offset
    H, W = x.shape[2:]
    fits = oy >= 0 and ox >= 0 and oy + h <= H and ox + w <= W
    if fits:
        return x[:, :, oy:oy + h, ox:ox + w], (x.shape, (oy, ox))
    if not fill:
        raise ValueError(f"crop of {h}×{w} at offset ({oy}, {ox}) does not fit in a "
                         f"{H}×{W} input")
    out = get_array_module(x).zeros(x.shape[:2] + (h, w), dtype=x.dtype)
    (y0, y1), (x0, x1) = _overlap(oy, h, H), _overlap(ox, w, W)
    out[:, :, y0 - oy:y1 - oy, x0 - ox:x1 - ox] = x[:, :, y0:y1, x0:x1]
    return out, (x.shape, (oy, ox))


def _overlap(offset, length, size):
    """The rows [start, stop) of a map of ``size`` rows that a window of ``length`` rows from
    ``offset`` covers."""
    return max(0, offset), max(max(0, offset), min(size, offset + length))


def crop_backward(dout, cache):
    """dout (N, C, h, w) → dx (N, C, H, W): the gradient inside the window, zero outside (and
    a filled window's rows beyond the input pass nothing back)."""
    xp = get_array_module(dout)
    x_shape, (oy, ox) = cache
    h, w = dout.shape[2:]
    dx = xp.zeros(x_shape, dtype=dout.dtype)
    (y0, y1), (x0, x1) = _overlap(oy, h, x_shape[2]), _overlap(ox, w, x_shape[3])
    dx[:, :, y0:y1, x0:x1] = dout[:, :, y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return dx


def scale_forward(x, factor):
    """out = factor · x with a fixed factor (FCN-8s-at-once: 0.01 on pool4, 0.0001 on pool3)."""
    return x * x.dtype.type(factor), factor


def scale_backward(dout, cache):
    return dout * dout.dtype.type(cache)
