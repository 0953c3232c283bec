"""Max pooling with Caffe/PyTorch ceil mode, forward and backward, through one window view.

Like im2col, the windows are a strided view of the input (``im2col.window_view``): no copy, and
the same lines on NumPy and CuPy. The forward is one reduction over the window axes. The
backward needs, for every output pixel, *which* window pixel won (the "switch", argmax over the
kh·kw pixels; ties go to the first in row-major order, as in Caffe and PyTorch) and routes the
gradient back to it. The switch is found in the backward, from the cached input, so that an
evaluation forward costs one reduction and keeps nothing.

Ceil mode (Caffe's only mode, PyTorch's ``ceil_mode=True``, Chainer's ``cover_all``) rounds the
output size up so that the last, partial window still counts, which is why a 697-pixel map pools
to 349 and not 348 in FCN. Windows that hang over the edge see −inf there, so only real pixels
can win. Both Caffe and PyTorch drop a last window that would *start* in the padding
(``sizes.pool_output_size``).
"""
from ..backend import get_array_module
from .im2col import pad2d, window_view
from .sizes import pair, pool_output_size


def _pool_geometry(x_shape, kernel_size, stride, padding, ceil_mode):
    """(kh, kw), (sy, sx), (ph, pw), (oh, ow) and the padding after the image (ceil mode's
    partial windows) that the −inf canvas needs, checked."""
    (kh, kw) = pair(kernel_size, "kernel_size")
    (sy, sx) = pair(stride if stride is not None else kernel_size, "stride")
    (ph, pw) = pair(padding, "padding")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"max_pool2d: padding {(ph, pw)} should be at most half the kernel "
                         f"{(kh, kw)}")
    H, W = x_shape[2:]
    oh = pool_output_size(H, kh, sy, ph, ceil_mode)
    ow = pool_output_size(W, kw, sx, pw, ceil_mode)
    extra = (max(0, (oh - 1) * sy + kh - H - 2 * ph), max(0, (ow - 1) * sx + kw - W - 2 * pw))
    return (kh, kw), (sy, sx), (ph, pw), (oh, ow), extra


def _neg_inf_canvas(x, pad, extra):
    """x with pad rows/columns of −inf before it and pad + extra after: every window inside."""
    (ph, pw), (ey, ex) = pad, extra
    if ey == 0 and ex == 0:
        return pad2d(x, ph, pw, value=-float("inf"))
    xp = get_array_module(x)
    N, C, H, W = x.shape
    out = xp.full((N, C, H + 2 * ph + ey, W + 2 * pw + ex), -xp.inf, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """x (N, C, H, W) → out (N, C, oh, ow), cache: the maximum of each window."""
    if x.ndim != 4:
        raise ValueError(f"max_pool2d expects input of shape (N, C, H, W), got {tuple(x.shape)}")
    k, s, p, out_hw, extra = _pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
    xpad = _neg_inf_canvas(x, p, extra)
    win = window_view(xpad, k, s, (1, 1), out_hw)          # (N, C, kh, kw, oh, ow)
    out = win.max(axis=(2, 3))
    return out, (xpad, x.shape, k, s, p)


def max_pool2d_backward(dout, cache):
    """dout (N, C, oh, ow) → dx (N, C, H, W): each gradient goes to its window's argmax.

    switch = argmax over the window's kh·kw pixels (N, C, oh, ow); the gradient of each window,
    dout at its switch and 0 elsewhere, (N, C, oh, ow, kh, kw), is then laid back over the
    input. Windows that do not overlap (stride ≥ kernel: FCN's 2×2/2) tile the input, so that
    is one copy; overlapping ones add up, one kernel offset at a time.
    """
    xp = get_array_module(dout)
    xpad, x_shape, (kh, kw), (sy, sx), (ph, pw) = cache
    N, C, oh, ow = dout.shape
    win = window_view(xpad, (kh, kw), (sy, sx), (1, 1), (oh, ow))
    flat = xp.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(N, C, oh, ow, -1)
    switch = flat.argmax(axis=-1)[..., None]               # (N, C, oh, ow, 1)
    hit = xp.arange(kh * kw).reshape(1, 1, 1, 1, -1) == switch
    dwin = (hit * dout[..., None]).reshape(N, C, oh, ow, kh, kw)
    dxpad = xp.zeros(xpad.shape, dtype=dout.dtype)
    if sy >= kh and sx >= kw:
        tiles = dwin.transpose(0, 1, 2, 4, 3, 5)           # (N, C, oh, kh, ow, kw)
        view = window_view(dxpad, (kh, kw), (sy, sx), (1, 1), (oh, ow)).transpose(0, 1, 4, 2, 5, 3)
        view[...] = tiles
    else:
        for ky in range(kh):
            for kx in range(kw):
                dxpad[:, :, ky:ky + sy * oh:sy, kx:kx + sx * ow:sx] += dwin[:, :, :, :, ky, kx]
    H, W = x_shape[2:]
    if dxpad.shape[2:] == (H, W):
        return dxpad
    # padded, or ceil mode's extra row or column: a contiguous copy, as every other backward
    # returns (a strided view would change how the next layer's sums are ordered)
    return xp.ascontiguousarray(dxpad[:, :, ph:ph + H, pw:pw + W])
