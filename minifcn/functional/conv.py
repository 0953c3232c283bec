"""Convolution and transposed convolution, forward and backward, through im2col.

Three products make up everything (per image, on a band of output rows):

    apply      y    = W2 @ cols(x)          conv forward               (O, rows·ow)
    data grad  dcol = W2.T @ dy → col2im    conv backward w.r.t. x
    weight grad dW2 += dy @ cols(x).T       conv backward w.r.t. W

with W2 = W.reshape(O, C·kh·kw). A transposed convolution ("deconvolution") is the adjoint of a
convolution: its forward is the convolution's data gradient and its backward uses the other two
products. So both layers share these helpers, and their geometry can never drift apart.

Caches hold the layer input, not the im2col buffer: the buffer is rebuilt band by band in the
backward pass, which keeps memory at the size of the activations (the trade PyTorch makes too).
"""
from ..backend import get_array_module
from .im2col import col2im_rows, conv_output_size, im2col_rows, pad2d, pair, rows_per_chunk

# Budget for one im2col band. 64 MiB keeps the largest FCN layers (conv1_2: 576 rows × 400k
# pixels) from allocating a gigabyte at once, and is large enough that the GEMMs stay efficient.
CHUNK_BYTES = 64 * 2 ** 20


def _geometry(x_hw, w_shape, stride, padding, dilation):
    (kh, kw), (sy, sx), (ph, pw), (dy, dx) = (w_shape[-2:], pair(stride, "stride"),
                                              pair(padding, "padding"), pair(dilation, "dilation"))
    H, W = x_hw
    oh = conv_output_size(H, kh, sy, ph, dy)
    ow = conv_output_size(W, kw, sx, pw, dx)
    if oh < 1 or ow < 1:
        raise ValueError(f"input {H}×{W} is too small for kernel {kh}×{kw} with padding "
                         f"{(ph, pw)} and dilation {(dy, dx)}: the output would be {oh}×{ow}")
    return dict(kernel=(kh, kw), stride=(sy, sx), padding=(ph, pw), dilation=(dy, dx),
                out_hw=(oh, ow))


def _bands(n_rows, ckk, ow, itemsize, chunk_bytes):
    step = rows_per_chunk(ckk * ow * itemsize, n_rows, chunk_bytes)
    for r0 in range(0, n_rows, step):
        yield r0, min(n_rows, r0 + step)


def _conv_apply(x, w, g, chunk_bytes=CHUNK_BYTES):
    """y = conv(x, w) without bias.  x (N, C, H, W), w (O, C, kh, kw) → y (N, O, oh, ow)."""
    xp = get_array_module(x, w)
    N, C = x.shape[:2]
    O = w.shape[0]
    (oh, ow), (ph, pw) = g["out_hw"], g["padding"]
    w2 = w.reshape(O, -1)                                  # (O, C·kh·kw)
    xpad = pad2d(x, ph, pw)
    y = xp.empty((N, O, oh, ow), dtype=x.dtype)
    for n in range(N):
        for r0, r1 in _bands(oh, w2.shape[1], ow, x.itemsize, chunk_bytes):
            cols = im2col_rows(xpad[n:n + 1], g["kernel"], g["stride"], g["dilation"], r0, r1, ow)
            y[n, :, r0:r1] = (w2 @ cols.reshape(w2.shape[1], -1)).reshape(O, r1 - r0, ow)
    return y


def _conv_data_grad(dy, w, x_shape, g, chunk_bytes=CHUNK_BYTES):
    """dx of y = conv(x, w): dy (N, O, oh, ow) → dx (N, C, H, W), through col2im."""
    xp = get_array_module(dy, w)
    N, C, H, W = x_shape
    O, _, kh, kw = w.shape
    (oh, ow), (ph, pw) = g["out_hw"], g["padding"]
    w2 = w.reshape(O, -1)
    dxpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dy.dtype)
    for n in range(N):
        for r0, r1 in _bands(oh, w2.shape[1], ow, dy.itemsize, chunk_bytes):
            dcols = w2.T @ dy[n, :, r0:r1].reshape(O, -1)   # (C·kh·kw, rows·ow)
            col2im_rows(dcols.reshape(1, C, kh, kw, r1 - r0, ow), dxpad[n:n + 1],
                        g["stride"], g["dilation"], r0)
    if ph or pw:
        return xp.ascontiguousarray(dxpad[:, :, ph:ph + H, pw:pw + W])
    return dxpad


def _conv_weight_grad(x, dy, w_shape, g, chunk_bytes=CHUNK_BYTES):
    """dW of y = conv(x, w): sums dy @ cols(x).T over images and bands → (O, C, kh, kw)."""
    xp = get_array_module(x, dy)
    O = w_shape[0]
    (oh, ow), (ph, pw) = g["out_hw"], g["padding"]
    xpad = pad2d(x, ph, pw)
    dw2 = xp.zeros((O, x.shape[1] * w_shape[2] * w_shape[3]), dtype=dy.dtype)
    for n in range(x.shape[0]):
        for r0, r1 in _bands(oh, dw2.shape[1], ow, x.itemsize, chunk_bytes):
            cols = im2col_rows(xpad[n:n + 1], g["kernel"], g["stride"], g["dilation"], r0, r1, ow)
            dw2 += dy[n, :, r0:r1].reshape(O, -1) @ cols.reshape(dw2.shape[1], -1).T
    return dw2.reshape(w_shape)


def _check_conv_args(x, w, b, in_axis, what):
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
    → out (N, O, oh, ow) with oh = floor((H + 2p − d(kh−1) − 1)/s) + 1, and a cache.
    """
    _check_conv_args(x, w, b, 1, "conv2d")
    g = _geometry(x.shape[2:], w.shape, stride, padding, dilation)
    out = _conv_apply(x, w, g)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out, (x, w, b is not None, g)


def conv2d_backward(dout, cache, need_dx=True):
    """dout (N, O, oh, ow) → (dx (N, C, H, W) or None, dw (O, C, kh, kw), db (O,) or None).

    ``need_dx=False`` skips the data gradient (the first layer of a network never needs it).
    """
    x, w, has_bias, g = cache
    dx = _conv_data_grad(dout, w, x.shape, g) if need_dx else None
    dw = _conv_weight_grad(x, dout, w.shape, g)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db


def conv_transpose_output_size(size, kernel_size, stride=1, padding=0):
    """(in − 1)·s − 2p + k: the input size of the convolution this one is the adjoint of."""
    return (size - 1) * stride - 2 * padding + kernel_size


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0):
    """Transposed convolution ("deconvolution"), the adjoint of conv2d.

    x (N, C_in, H, W), w (C_in, C_out, kh, kw) as in PyTorch and Caffe, b (C_out,) or None
    → out (N, C_out, (H−1)·s − 2p + kh, (W−1)·s − 2p + kw), and a cache.

    It is exactly conv2d's backward-data pass for a convolution with weight w that maps
    (C_out, OH, OW) to (C_in, H, W): each input pixel stamps a scaled copy of the kernel.
    """
    _check_conv_args(x, w, b, 0, "conv_transpose2d")
    (kh, kw), (sy, sx), (ph, pw) = w.shape[2:], pair(stride, "stride"), pair(padding, "padding")
    OH = conv_transpose_output_size(x.shape[2], kh, sy, ph)
    OW = conv_transpose_output_size(x.shape[3], kw, sx, pw)
    if OH < 1 or OW < 1:
        raise ValueError(f"conv_transpose2d: padding {(ph, pw)} leaves no output for input "
                         f"{tuple(x.shape[2:])} and kernel {(kh, kw)}")
    g = _geometry((OH, OW), w.shape, (sy, sx), (ph, pw), 1)    # the convolution it is adjoint to
    out = _conv_data_grad(x, w, (x.shape[0], w.shape[1], OH, OW), g)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out, (x, w, b is not None, g)


def conv_transpose2d_backward(dout, cache, need_dx=True):
    """dout (N, C_out, OH, OW) → (dx (N, C_in, H, W) or None, dw (C_in, C_out, kh, kw), db)."""
    x, w, has_bias, g = cache
    dx = _conv_apply(dout, w, g) if need_dx else None          # the adjoint of the adjoint
    dw = _conv_weight_grad(dout, x, w.shape, g)                # roles of x and dy swap
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db
