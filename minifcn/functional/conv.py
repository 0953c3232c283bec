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
from . import threads
from .im2col import col2im_rows, conv_output_size, im2col_rows, pair, rows_per_chunk

# Budget for one im2col band. Whole-image cols would be 0.9 GB for conv1_2 (576 rows × 400k
# pixels at 375×500); bands bound that. Measured (conv forward + both gradients, against
# PyTorch, interleaved): 8 MiB bands are 2× slower than 64 MiB at conv1_2 — OpenBLAS pays a
# thread synchronisation per GEMM call and small-N products run poorly — and 128 MiB is a few
# percent faster again, so 128 MiB (one buffer, reused; see _band_buffer).
CHUNK_BYTES = 128 * 2 ** 20


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


def _bands(n_rows, ckk, ow, itemsize, chunk_bytes=None):
    """(r0, r1) bands of output rows whose im2col buffer fits in ``chunk_bytes``
    (None: the module's CHUNK_BYTES, read at call time so tests can shrink it)."""
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    step = rows_per_chunk(ckk * ow * itemsize, n_rows, chunk_bytes)
    for r0 in range(0, n_rows, step):
        yield r0, min(n_rows, r0 + step)


_WORKSPACE = {}      # (library, dtype, device) → the flat im2col buffer, kept between calls


def _band_buffer(xp, ckk, n_rows, ow, dtype, chunk_bytes=None, device=None):
    """A flat buffer for the largest band, reused by every band, image, layer and call.

    Allocating a fresh 64 MiB array per band (or per call) costs a page fault and the kernel's
    zeroing for each 4 KiB page on first touch — large blocks are mmap'ed and handed back to
    the OS on free — measured 30–100 ms per 100 MB here, a second or more per FCN training
    step. So one buffer per dtype and device is kept and grown when a layer needs more.
    (Only one band is alive at a time: no kernel here calls another while holding it.)
    """
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    step = rows_per_chunk(ckk * ow * xp.dtype(dtype).itemsize, n_rows, chunk_bytes)
    size = ckk * step * ow
    key = (xp.__name__, xp.dtype(dtype).str, str(device))
    buf = _WORKSPACE.get(key)
    if buf is None or buf.size < size:
        _WORKSPACE.pop(key, None)                      # free the old one before growing
        buf = _WORKSPACE[key] = xp.empty(size, dtype=dtype)
    return buf


def _band(buf, shape):
    """The first prod(shape) elements of a flat buffer, as a C-contiguous array of that shape."""
    size = 1
    for s in shape:
        size *= s
    return buf[:size].reshape(shape)


def _im2col_band(xp, x1, cols, g, r0, r1):
    """cols (1, C, kh, kw, r1 − r0, ow) ← the windows of output rows [r0, r1) of x1 (1, C, H, W),
    split over channels between CPU threads (see threads.py: each writes its own channels)."""
    C = x1.shape[1]
    threads.over_channels(
        lambda c0, c1: im2col_rows(x1[:, c0:c1], g["kernel"], g["stride"], g["dilation"], r0, r1,
                                   g["out_hw"][1], out=cols[:, c0:c1], padding=g["padding"]),
        C, cols.size, xp)


def _col2im_band(xp, dcols, dx1, g, r0):
    """dx1 (1, C, H, W) += the windows dcols (1, C, kh, kw, rows, ow) of output rows from r0,
    split over channels like _im2col_band (channel c of dx only receives channel c of dcols)."""
    C = dx1.shape[1]
    threads.over_channels(
        lambda c0, c1: col2im_rows(dcols[:, c0:c1], dx1[:, c0:c1], g["stride"], g["dilation"],
                                   r0, padding=g["padding"]),
        C, dcols.size, xp)


def _conv_apply(x, w, g, chunk_bytes=None):
    """y = conv(x, w) without bias.  x (N, C, H, W), w (O, C, kh, kw) → y (N, O, oh, ow).

    Per band of output rows: cols (C·kh·kw, rows·ow) = im2col, then one GEMM
    (O, C·kh·kw) @ (C·kh·kw, rows·ow) written straight into y's rows [r0, r1) — y[n] is
    (O, oh·ow) and its band is a strided (O, rows·ow) block that BLAS can write in place.
    """
    xp = get_array_module(x, w)
    N, C = x.shape[:2]
    O, _, kh, kw = w.shape
    oh, ow = g["out_hw"]
    w2 = w.reshape(O, -1)                                  # (O, C·kh·kw)
    ckk = w2.shape[1]
    y = xp.empty((N, O, oh, ow), dtype=x.dtype)
    buf = _band_buffer(xp, ckk, oh, ow, x.dtype, chunk_bytes, getattr(x, "device", None))
    for n in range(N):
        yn = y[n].reshape(O, oh * ow)
        for r0, r1 in _bands(oh, ckk, ow, x.itemsize, chunk_bytes):
            cols = _band(buf, (1, C, kh, kw, r1 - r0, ow))
            _im2col_band(xp, x[n:n + 1], cols, g, r0, r1)
            xp.matmul(w2, cols.reshape(ckk, -1), out=yn[:, r0 * ow:r1 * ow])
    return y


def _conv_data_grad(dy, w, x_shape, g, chunk_bytes=None):
    """dx of y = conv(x, w): dy (N, O, oh, ow) → dx (N, C, H, W), through col2im.

    Per band: dcols (C·kh·kw, rows·ow) = W2ᵀ @ dy_band into the reused buffer, then col2im adds
    the kh·kw slices of dcols into the padded gradient.
    """
    xp = get_array_module(dy, w)
    N, C, H, W = x_shape
    O, _, kh, kw = w.shape
    oh, ow = g["out_hw"]
    w2t = w.reshape(O, -1).T                               # (C·kh·kw, O)
    ckk = w2t.shape[0]
    dx = xp.zeros((N, C, H, W), dtype=dy.dtype)
    buf = _band_buffer(xp, ckk, oh, ow, dy.dtype, chunk_bytes, getattr(dy, "device", None))
    for n in range(N):
        dyn = dy[n].reshape(O, oh * ow)
        for r0, r1 in _bands(oh, ckk, ow, dy.itemsize, chunk_bytes):
            dcols = _band(buf, (ckk, (r1 - r0) * ow))
            xp.matmul(w2t, dyn[:, r0 * ow:r1 * ow], out=dcols)
            _col2im_band(xp, dcols.reshape(1, C, kh, kw, r1 - r0, ow), dx[n:n + 1], g, r0)
    return dx


def _conv_weight_grad(x, dy, w_shape, g, chunk_bytes=None):
    """dW of y = conv(x, w): sums dy_band @ colsᵀ over images and bands → (O, C, kh, kw).

    The orientation of this GEMM matters. Its inner dimension is the number of pixels, up to
    50k per band, and OpenBLAS is fast on such a product only when the result is *tall*
    (more rows than columns): for conv1_2, dy @ colsᵀ → (64, 576) runs at 4 GFLOP/s and
    cols @ dyᵀ → (576, 64) at 100; for conv1_1 it is the other way round ((64, 27) is the fast
    one). So we accumulate dW2ᵀ (C·kh·kw, O) when C·kh·kw ≥ O and transpose it once at the end
    (a few MB). fc6 and fc7 have few pixels (192) and a huge dW (100M floats), where the
    direct product is fast and the final transpose would cost more than the GEMM: direct.
    """
    xp = get_array_module(x, dy)
    N, C = x.shape[:2]
    O, _, kh, kw = w_shape
    oh, ow = g["out_hw"]
    ckk = C * kh * kw
    buf = _band_buffer(xp, ckk, oh, ow, x.dtype, chunk_bytes, getattr(x, "device", None))
    transposed = ckk >= O and oh * ow >= O
    acc = None                      # the first product is the accumulator: no zeros, no add
    for n in range(N):
        dyn = dy[n].reshape(O, oh * ow)
        for r0, r1 in _bands(oh, ckk, ow, x.itemsize, chunk_bytes):
            cols = _band(buf, (1, C, kh, kw, r1 - r0, ow))
            _im2col_band(xp, x[n:n + 1], cols, g, r0, r1)
            cols = cols.reshape(ckk, -1)
            dyb = dyn[:, r0 * ow:r1 * ow]
            prod = cols @ dyb.T if transposed else dyb @ cols.T
            if acc is None:
                acc = prod
            else:
                acc += prod
    return (xp.ascontiguousarray(acc.T) if transposed else acc).reshape(w_shape)


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
