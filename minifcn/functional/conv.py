"""Convolution and transposed convolution, forward and backward: im2col, one GEMM, reshape.

This is the textbook algorithm, whole, and the path a GPU takes (the CPU takes a tuned version
of it behind one door: ``functional/cpu/``, tested against this file). With W2 = W.reshape(O,
C·kh·kw) and cols = im2col(x) (C·kh·kw, N·oh·ow), im2col.py:

    forward       y2  = W2 @ cols                 (O, N·oh·ow) → y (N, O, oh, ow)
    weight grad   dW2 = dy2 @ colsᵀ               (O, C·kh·kw), dy2 = dy as (O, N·oh·ow)
    data grad     dx  = the transposed convolution of dy, which is itself a convolution:
                  of dy spread out by the stride and padded by d(k−1) − p, with the kernel
                  flipped and its two channel axes swapped (each input pixel collects from
                  the outputs whose windows held it) — again im2col and one GEMM

Textbooks write the data grad as dcols = W2ᵀ @ dy2 followed by col2im, which adds kh·kw slices
back one kernel offset at a time; as a convolution it is the same sum in one copy and one
product, whatever the kernel size, which is what a GPU wants. A transposed convolution
("deconvolution") is the adjoint of a convolution: its forward is the data grad above, and its
backward the forward and the weight grad with x and dy swapped (Chainer and DeZero do the same).

The number of operations per call does not depend on the image size: on a GPU, each is one
kernel launch. A layer caches its padded input, not the im2col matrix, which is rebuilt in the
backward (kh·kw times the activations' memory otherwise: PyTorch makes the same trade).
"""
from ..backend import get_array_module
from .im2col import im2col_padded, pad2d
from .sizes import conv_geometry, conv_transpose_output_size, pair


def _to_rows(a):
    """(N, C, H, W) → (C, N·H·W), GEMM's layout: a view when N = 1, else one copy."""
    xp = get_array_module(a)
    return xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(a.shape[1], -1)


def _from_rows(a2, N, hw):
    """(C, N·H·W) → (N, C, H, W): a view (strided when N > 1)."""
    return a2.reshape(a2.shape[0], N, *hw).transpose(1, 0, 2, 3)


def _conv(xpad, w, g):
    """y = conv(xpad, w) without bias, xpad already padded: im2col, GEMM, reshape."""
    cols = im2col_padded(xpad, g)                          # (C·kh·kw, N·oh·ow)
    y2 = w.reshape(w.shape[0], -1) @ cols                  # (O, N·oh·ow)
    return _from_rows(y2, xpad.shape[0], g.out_hw)


def _weight_grad(xpad, dy, w_shape, g):
    """dW of y = conv(xpad, w): dy2 (O, N·oh·ow) @ colsᵀ (N·oh·ow, C·kh·kw)."""
    cols = im2col_padded(xpad, g)
    return (_to_rows(dy) @ cols.T).reshape(w_shape)


def _data_grad(dy, w, x_hw, g):
    """dx (N, C, H, W) of y = conv(x, w) with geometry g: a stride-1 convolution of dy spread
    by the stride (zeros between its pixels) and padded by d(k−1) − p on the leading side,
    with the kernel flipped and its channel axes swapped. Output row h of dx reads dy rows i
    with i·s − p + ky·d = h, i.e. the spread, padded dy at h + d(k−1) − ky·d."""
    xp = get_array_module(dy, w)
    N, O = dy.shape[:2]
    (kh, kw), (sy, sx), (ph, pw), (dh, dw), (oh, ow) = g
    lead = (dh * (kh - 1) - ph, dw * (kw - 1) - pw)        # rows of zeros before dy's first
    size = (x_hw[0] + dh * (kh - 1), x_hw[1] + dw * (kw - 1))   # so that dx is (H, W)
    spread = _spread(dy, lead, (sy, sx), size)
    w_flip = xp.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])   # (C, O, kh, kw)
    return _conv(spread, w_flip, conv_geometry(size, (kh, kw), 1, 0, (dh, dw)))


def _spread(dy, lead, stride, size):
    """A zero (N, O, *size) canvas with dy[:, :, i, j] at (lead + i·s): dy itself when that
    is the identity. Rows that would land outside (windows that saw only padding) are
    dropped: they send nothing back."""
    xp = get_array_module(dy)
    (oh, ow), (ly, lx), (sy, sx) = dy.shape[2:], lead, stride
    if (ly, lx) == (0, 0) and (sy, sx) == (1, 1) and (oh, ow) == tuple(size):
        return dy
    i0, i1 = _inside(ly, sy, oh, size[0])
    j0, j1 = _inside(lx, sx, ow, size[1])
    canvas = xp.zeros(dy.shape[:2] + tuple(size), dtype=dy.dtype)
    canvas[:, :, ly + i0 * sy:ly + (i1 - 1) * sy + 1:sy, lx + j0 * sx:lx + (j1 - 1) * sx + 1:sx] \
        = dy[:, :, i0:i1, j0:j1]
    return canvas


def _inside(lead, stride, n, size):
    """The dy rows [i0, i1) whose spread position lead + i·stride lies in [0, size)."""
    i0 = max(0, -(lead // stride))
    i1 = min(n, (size - 1 - lead) // stride + 1)
    return i0, max(i0, i1)


def check_conv_args(x, w, b, in_axis, what):
    if x.ndim != 4:
        raise ValueError(f"{what} expects input of shape (N, C, H, W), got {tuple(x.shape)}")
    if w.ndim != 4:
        raise ValueError(f"{what} expects a 4-d weight, got {tuple(w.shape)}")
    if x.shape[1] != w.shape[in_axis]:
        raise ValueError(f"{what}: input has {x.shape[1]} channels but the weight "
                         f"{tuple(w.shape)} expects {w.shape[in_axis]}")
    if b is not None and b.shape != (w.shape[1 - in_axis],):
        raise ValueError(f"{what}: bias of shape {tuple(b.shape)} does not match "
                         f"{w.shape[1 - in_axis]} output channels")


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """2-d convolution (cross-correlation, as in every framework).

    x (N, C, H, W), w (O, C, kh, kw), b (O,) or None
    → out (N, O, oh, ow) with oh = ⌊(H + 2p − d(kh−1) − 1)/s⌋ + 1, and a cache.
    """
    check_conv_args(x, w, b, 1, "conv2d")
    g = conv_geometry(x.shape[2:], w.shape[2:], stride, padding, dilation)
    xpad = pad2d(x, *g.padding)                            # (N, C, H + 2p, W + 2p)
    out = _conv(xpad, w, g)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out, (xpad, x.shape, w, b is not None, g)


def conv2d_backward(dout, cache, need_dx=True, need_dw=True):
    """dout (N, O, oh, ow) → (dx (N, C, H, W) or None, dw (O, C, kh, kw) or None, db (O,) or None).

    ``need_dx=False`` skips the data gradient (the first layer of a network never needs it),
    ``need_dw=False`` the weight gradient (a frozen weight: nothing would use it).
    """
    xpad, x_shape, w, has_bias, g = cache
    dx = _data_grad(dout, w, x_shape[2:], g) if need_dx else None
    dw = _weight_grad(xpad, dout, w.shape, g) if need_dw else None
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db


def transposed_geometry(x_shape, w_shape, stride, padding):
    """(g, (OH, OW)): the geometry of the convolution that a transposed convolution of an
    x_shape input with a w_shape weight is the adjoint of, and its output size, checked."""
    (kh, kw), (sy, sx), (ph, pw) = w_shape[2:], pair(stride, "stride"), pair(padding, "padding")
    OH = conv_transpose_output_size(x_shape[2], kh, sy, ph)
    OW = conv_transpose_output_size(x_shape[3], kw, sx, pw)
    if OH < 1 or OW < 1:
        raise ValueError(f"conv_transpose2d: padding {(ph, pw)} leaves no output for input "
                         f"{tuple(x_shape[2:])} and kernel {(kh, kw)}")
    return conv_geometry((OH, OW), (kh, kw), (sy, sx), (ph, pw)), (OH, OW)


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0):
    """Transposed convolution ("deconvolution"), the adjoint of conv2d.

    x (N, C_in, H, W), w (C_in, C_out, kh, kw) as in PyTorch and Caffe, b (C_out,) or None
    → out (N, C_out, (H−1)·s − 2p + kh, (W−1)·s − 2p + kw), and a cache.

    It is exactly conv2d's data grad for a convolution with weight w that maps
    (C_out, OH, OW) to (C_in, H, W): each input pixel stamps a scaled copy of the kernel.
    """
    check_conv_args(x, w, b, 0, "conv_transpose2d")
    g, (OH, OW) = transposed_geometry(x.shape, w.shape, stride, padding)
    out = _data_grad(x, w, (OH, OW), g)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out, (x, w, b is not None, g)


def conv_transpose2d_backward(dout, cache, need_dx=True, need_dw=True):
    """dout (N, C_out, OH, OW) → (dx (N, C_in, H, W) or None, dw (C_in, C_out, kh, kw) or None,
    db); ``need_dx``/``need_dw`` as in conv2d_backward."""
    x, w, has_bias, g = cache
    dpad = pad2d(dout, *g.padding) if need_dx or need_dw else None
    dx = _conv(dpad, w, g) if need_dx else None                  # the adjoint of the adjoint
    dw = _weight_grad(dpad, x, w.shape, g) if need_dw else None  # x and dy swap roles
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db
