"""Max pooling that remembers where each maximum was, and max *unpooling*, forward and backward.

DeconvNet (Noh et al., 2015) and SegNet (Badrinarayanan et al., 2015) upsample with the encoder's
pooling "switches": the position of each window's maximum. Unpooling writes every value back at
the position its maximum came from and leaves zeros everywhere else, a sparse map that the next
(de)convolutions fill in.

Positions follow PyTorch's ``max_pool2d(..., return_indices=True)`` / ``max_unpool2d``: an int64
``indices`` array of the pooled shape holding h·W + w, the flat position of the maximum in its
(H, W) input plane. Unpooling turns each index back into its window offset (ky, kx) =
(h − (i·sy − ph), w − (j·sx − pw)) for output pixel (i, j) and then, like ``pool.py``, loops over
the kh·kw offsets with plain strided slices: no fancy indexing, no ``add.at``, the same code on
NumPy and CuPy.

Where windows overlap (stride < kernel) two outputs can pick the same input pixel; unpooling then
*adds* their values. That makes it exactly max pooling's backward pass, which adds the gradients
of windows that share a maximum, and its own backward the gather x ↦ x[indices]. PyTorch keeps
one of the two values instead; with stride = kernel (DeconvNet, SegNet) windows never overlap and
the two agree.
"""
from ..backend import get_array_module
from .pool import max_pool2d_forward
from .sizes import pair, unpool_output_size


def _window_starts(xp, n, stride, pad):
    """First input coordinate of each of the n windows along one axis: s·i − p."""
    return xp.arange(n, dtype=xp.int64) * stride - pad


def max_pool2d_with_indices_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """x (N, C, H, W) → (out (N, C, oh, ow), indices (N, C, oh, ow) int64, cache).

    ``out`` and ``cache`` are ``max_pool2d_forward``'s (its backward is ``max_pool2d_backward``);
    ``indices`` holds h·W + w of each window's maximum (ties: the first in row-major order, as
    in Caffe and PyTorch). The padding, filled with −inf, never holds the maximum.
    """
    xp = get_array_module(x)
    out, cache = max_pool2d_forward(x, kernel_size, stride, padding, ceil_mode)
    (kh, kw) = pair(kernel_size, "kernel_size")
    (sy, sx) = pair(stride if stride is not None else kernel_size, "stride")
    (ph, pw) = pair(padding, "padding")
    N, C, H, W = x.shape
    oh, ow = out.shape[2:]
    # Which window offset holds the maximum: the first offset whose pixel equals it.
    Hp, Wp = max((oh - 1) * sy + kh, H + ph), max((ow - 1) * sx + kw, W + pw)
    xpad = xp.full((N, C, Hp, Wp), -xp.inf, dtype=x.dtype)
    xpad[:, :, ph:ph + H, pw:pw + W] = x
    ky = xp.full(out.shape, -1, dtype=xp.int64)
    kx = xp.full(out.shape, -1, dtype=xp.int64)
    for dy in range(kh):
        for dx in range(kw):
            win = xpad[:, :, dy:dy + sy * (oh - 1) + 1:sy, dx:dx + sx * (ow - 1) + 1:sx]
            hit = (win == out) & (ky < 0)
            ky = xp.where(hit, dy, ky)
            kx = xp.where(hit, dx, kx)
    rows = _window_starts(xp, oh, sy, ph).reshape(oh, 1) + ky
    cols = _window_starts(xp, ow, sx, pw).reshape(1, ow) + kx
    return out, rows * W + cols, cache


def _index_offsets(indices, size, kernel, stride, padding):
    """Window offsets (ky, kx) of each index, and a check that every index lies in its window."""
    xp = get_array_module(indices)
    (H, W), (kh, kw), (sy, sx), (ph, pw) = size, kernel, stride, padding
    n, c, oh, ow = indices.shape
    ky = indices // W - _window_starts(xp, oh, sy, ph).reshape(oh, 1)
    kx = indices % W - _window_starts(xp, ow, sx, pw).reshape(1, ow)
    bad = (indices < 0) | (indices >= H * W) | (ky < 0) | (ky >= kh) | (kx < 0) | (kx >= kw)
    if bool(bad.any()):     # one host sync: a wrong index would otherwise be dropped silently
        raise ValueError(f"max_unpool2d: some indices are not inside their {kh}×{kw} pooling "
                         f"window (stride {(sy, sx)}, padding {(ph, pw)}) of a {H}×{W} output: "
                         f"were they made by a pooling with these settings and this size?")
    return ky, kx


def max_unpool2d_forward(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """x, indices (N, C, h, w) → out (N, C, H, W), cache.

    out[n, c] is zero except at indices[n, c, i, j], which receives x[n, c, i, j]. (H, W) is
    ``output_size`` (the pooled map's original size, which ceil-mode or odd sizes need) or, by
    default, ((h − 1)·s − 2p + k, (w − 1)·s − 2p + k).
    """
    if x.ndim != 4 or indices.shape != x.shape:
        raise ValueError(f"max_unpool2d expects x and indices of the same shape (N, C, h, w), "
                         f"got {tuple(x.shape)} and {tuple(indices.shape)}")
    xp = get_array_module(x, indices)
    (kh, kw) = pair(kernel_size, "kernel_size")
    (sy, sx) = pair(stride if stride is not None else kernel_size, "stride")
    (ph, pw) = pair(padding, "padding")
    N, C, h, w = x.shape
    if output_size is None:
        H, W = unpool_output_size(h, kh, sy, ph), unpool_output_size(w, kw, sx, pw)
    else:
        H, W = (int(v) for v in tuple(output_size)[-2:])
    ky, kx = _index_offsets(indices, (H, W), (kh, kw), (sy, sx), (ph, pw))
    # A padded canvas large enough for every window, as in max pooling; cut back at the end.
    Hp, Wp = max((h - 1) * sy + kh, H + ph), max((w - 1) * sx + kw, W + pw)
    canvas = xp.zeros((N, C, Hp, Wp), dtype=x.dtype)
    for dy in range(kh):
        for dx in range(kw):
            # Within one offset the windows' pixels are distinct: a plain += is exact.
            canvas[:, :, dy:dy + sy * (h - 1) + 1:sy, dx:dx + sx * (w - 1) + 1:sx] += \
                xp.where((ky == dy) & (kx == dx), x, 0)
    out = xp.ascontiguousarray(canvas[:, :, ph:ph + H, pw:pw + W])
    return out, ((kh, kw), (sy, sx), (ph, pw), (Hp, Wp), ky, kx)


def max_unpool2d_backward(dout, cache):
    """dout (N, C, H, W) → dx (N, C, h, w): each input gets the gradient at its index."""
    xp = get_array_module(dout)
    (kh, kw), (sy, sx), (ph, pw), (Hp, Wp), ky, kx = cache
    N, C, H, W = dout.shape
    h, w = ky.shape[2:]
    dpad = xp.zeros((N, C, Hp, Wp), dtype=dout.dtype)
    dpad[:, :, ph:ph + H, pw:pw + W] = dout
    dx = xp.zeros((N, C, h, w), dtype=dout.dtype)
    for dy in range(kh):
        for dx_ in range(kw):
            win = dpad[:, :, dy:dy + sy * (h - 1) + 1:sy, dx_:dx_ + sx * (w - 1) + 1:sx]
            dx = xp.where((ky == dy) & (kx == dx_), win, dx)
    return dx
