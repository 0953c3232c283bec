"""Max pooling with Caffe/PyTorch ceil mode, forward and backward.

Like im2col, the kernel loops over the kh·kw window offsets with plain strided slices. The forward
keeps, for every output pixel, *which* offset won (the "switch", an int8 in 0..kh·kw−1); the
backward routes each output gradient back to that one input pixel. Ties go to the first offset in
row-major order, as in Caffe and PyTorch.

Ceil mode (Caffe's only mode, PyTorch's ``ceil_mode=True``, Chainer's ``cover_all``) rounds the
output size up so that the last, partial window still counts, which is why a 697-pixel map pools
to 349 and not 348 in FCN. Both Caffe and PyTorch then drop a last window that would *start* in
the right/bottom padding.
"""
import math

from ..backend import get_array_module
from .im2col import pad2d, pair


def pool_output_size(size, kernel_size, stride, padding=0, ceil_mode=False):
    """Pooled length, Caffe/PyTorch rule."""
    span = size + 2 * padding - kernel_size
    if span < 0:
        raise ValueError(f"pooling window {kernel_size} is larger than the padded input "
                         f"({size} + 2·{padding})")
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1                  # the last window would start in the padding: drop it
    return out


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """x (N, C, H, W) → out (N, C, oh, ow), cache.

    Windows that hang over the edge (padding, or ceil mode) only see real pixels: the overhang
    is filled with −inf, so it can never win.
    """
    if x.ndim != 4:
        raise ValueError(f"max_pool2d expects input of shape (N, C, H, W), got {tuple(x.shape)}")
    xp = get_array_module(x)
    (kh, kw) = pair(kernel_size, "kernel_size")
    (sy, sx) = pair(stride if stride is not None else kernel_size, "stride")
    (ph, pw) = pair(padding, "padding")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"max_pool2d: padding {(ph, pw)} should be at most half the kernel "
                         f"{(kh, kw)}")
    N, C, H, W = x.shape
    oh = pool_output_size(H, kh, sy, ph, ceil_mode)
    ow = pool_output_size(W, kw, sx, pw, ceil_mode)
    # Padded input large enough for every window: −inf in the padding and overhang.
    Hp, Wp = (oh - 1) * sy + kh, (ow - 1) * sx + kw
    xpad = xp.full((N, C, max(Hp, H + ph), max(Wp, W + pw)), -xp.inf, dtype=x.dtype)
    xpad[:, :, ph:ph + H, pw:pw + W] = x
    out = None
    switch = xp.zeros((N, C, oh, ow), dtype=xp.int8)     # winning offset ky·kw + kx
    for ky in range(kh):
        for kx in range(kw):
            win = xpad[:, :, ky:ky + sy * (oh - 1) + 1:sy, kx:kx + sx * (ow - 1) + 1:sx]
            if out is None:
                out = win.copy()
                continue
            better = win > out                          # strict: ties keep the first offset
            out = xp.where(better, win, out)
            switch[better] = ky * kw + kx
    cache = (x.shape, (kh, kw), (sy, sx), (ph, pw), xpad.shape, switch)
    return out, cache


def max_pool2d_backward(dout, cache):
    """dout (N, C, oh, ow) → dx (N, C, H, W): each gradient goes to its window's argmax."""
    xp = get_array_module(dout)
    x_shape, (kh, kw), (sy, sx), (ph, pw), pad_shape, switch = cache
    N, C, H, W = x_shape
    oh, ow = dout.shape[2:]
    dxpad = xp.zeros(pad_shape, dtype=dout.dtype)
    for ky in range(kh):
        for kx in range(kw):
            # Within one offset the windows' pixels are distinct, so a plain += is exact.
            dxpad[:, :, ky:ky + sy * (oh - 1) + 1:sy, kx:kx + sx * (ow - 1) + 1:sx] += \
                xp.where(switch == ky * kw + kx, dout, 0)
    return xp.ascontiguousarray(dxpad[:, :, ph:ph + H, pw:pw + W])
