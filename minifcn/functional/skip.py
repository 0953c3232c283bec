"""The pieces of FCN's skip connections: crop and the fixed at-once scale.

The sum itself ("fuse") is a plain ``a + b`` in the models, whose backward passes the gradient
unchanged to both inputs; it needs no kernel of its own.

Caffe's ``Crop`` layer cuts from a larger map the window that starts at (offset_y, offset_x) and
has the reference map's height and width. It is not a centred crop: the offsets come from the
coordinate maps of the layers (see ``minifcn.geometry``), e.g. 5 for score_pool4 in FCN-16s.
"""
from ..backend import get_array_module


def crop_forward(x, size, offset):
    """x (N, C, H, W) → x[:, :, oy:oy+h, ox:ox+w] for size (h, w) and offset (oy, ox)."""
    (h, w), (oy, ox) = size, offset
    H, W = x.shape[2:]
    if oy < 0 or ox < 0 or oy + h > H or ox + w > W:
        raise ValueError(f"crop of {h}×{w} at offset ({oy}, {ox}) does not fit in a "
                         f"{H}×{W} input")
    return x[:, :, oy:oy + h, ox:ox + w], (x.shape, (oy, ox))


def crop_backward(dout, cache):
    """dout (N, C, h, w) → dx (N, C, H, W): the gradient inside the window, zero outside."""
    xp = get_array_module(dout)
    x_shape, (oy, ox) = cache
    h, w = dout.shape[2:]
    dx = xp.zeros(x_shape, dtype=dout.dtype)
    dx[:, :, oy:oy + h, ox:ox + w] = dout
    return dx


def scale_forward(x, factor):
    """out = factor · x with a fixed factor (FCN-8s-at-once: 0.01 on pool4, 0.0001 on pool3)."""
    return x * x.dtype.type(factor), factor


def scale_backward(dout, cache):
    return dout * dout.dtype.type(cache)
