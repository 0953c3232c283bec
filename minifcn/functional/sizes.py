"""The kernels' geometry in one place: output sizes, ``pair``, and which outputs see real pixels.

Every sliding-window kernel (convolution, im2col/col2im, max pooling, unpooling, transposed
convolution) is described by the same four numbers per axis: kernel k, stride s, padding p,
dilation d. Window o of an axis reads the inputs o·s + ky·d − p for ky = 0 … k−1, and

    convolution          out = ⌊(in + 2p − d(k−1) − 1) / s⌋ + 1
    max pooling          out = ⌊ or ⌈(in + 2p − k) / s⌉ + 1   (ceil mode: Caffe's, see below)
    transposed conv      out = (in − 1)·s − 2p + k          (the input size of the conv it undoes)

This module is pure integer arithmetic, on the kernel level: it imports nothing from minifcn.
``minifcn.geometry`` is a different thing: it composes these per-layer maps into coordinate maps
over a whole network (and so imports ``nn``), to compute FCN's crop offsets.
"""
import math
from typing import NamedTuple


def pair(v, name="value"):
    """An int or a pair of ints → (v_h, v_w)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution: floor((size + 2p − d(k−1) − 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_output_size(size, kernel_size, stride=1, padding=0):
    """(in − 1)·s − 2p + k: the input size of the convolution this one is the adjoint of."""
    return (size - 1) * stride - 2 * padding + kernel_size


def unpool_output_size(size, kernel_size, stride=None, padding=0):
    """PyTorch's default output length of ``max_unpool2d``: a transposed convolution's,
    with the stride defaulting to the kernel size as in pooling."""
    stride = kernel_size if stride is None else stride
    return conv_transpose_output_size(size, kernel_size, stride, padding)


def pool_output_size(size, kernel_size, stride, padding=0, ceil_mode=False):
    """Pooled length, Caffe/PyTorch rule.

    Ceil mode (Caffe's only mode, PyTorch's ``ceil_mode=True``, Chainer's ``cover_all``) rounds
    up so that the last, partial window still counts: a 697-pixel map pools to 349, not 348.
    A last window that would *start* in the right/bottom padding is dropped, as in both.
    """
    span = size + 2 * padding - kernel_size
    if span < 0:
        raise ValueError(f"pooling window {kernel_size} is larger than the padded input "
                         f"({size} + 2·{padding})")
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1                  # the last window would start in the padding: drop it
    return out


def valid_range(offset, stride, pad, size, o0, o1):
    """Outputs o in [o0, o1) whose input index o·stride + offset − pad is a real pixel
    (0 … size−1), as (lo, hi, first input index); lo == hi when there is none.

    ``offset`` is ky·dilation for a convolution's kernel row ky (ky for pooling). The rest of
    [o0, o1) reads padding, i.e. zeros (convolution) or nothing (pooling). The outputs in
    [lo, hi) read the strided input slice ``strided(first, hi − lo, stride)``.
    """
    lo = max(o0, -(-(pad - offset) // stride))          # ceil((pad − offset) / stride)
    hi = min(o1, (size - 1 + pad - offset) // stride + 1)
    hi = max(hi, lo)
    return lo, hi, lo * stride + offset - pad


def strided(first, count, stride):
    """The slice of ``count`` input indices first, first + stride, …"""
    return slice(first, first + stride * (count - 1) + 1, stride)


class ConvGeometry(NamedTuple):
    """One convolution's geometry, as (h, w) pairs, and its output size."""
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_hw: tuple


def conv_geometry(x_hw, kernel_hw, stride=1, padding=0, dilation=1):
    """The geometry of a convolution of an (H, W) input with a (kh, kw) kernel, checked:
    a clear error when the input is too small to hold one window."""
    (kh, kw), (sy, sx), (ph, pw), (dy, dx) = (pair(kernel_hw, "kernel_size"),
                                              pair(stride, "stride"), pair(padding, "padding"),
                                              pair(dilation, "dilation"))
    H, W = x_hw
    oh = conv_output_size(H, kh, sy, ph, dy)
    ow = conv_output_size(W, kw, sx, pw, dx)
    if oh < 1 or ow < 1:
        raise ValueError(f"input {H}×{W} is too small for kernel {kh}×{kw} with padding "
                         f"{(ph, pw)} and dilation {(dy, dx)}: the output would be {oh}×{ow}")
    return ConvGeometry((kh, kw), (sy, sx), (ph, pw), (dy, dx), (oh, ow))
