"""The CPU's convolution and transposed convolution: functional/conv.py's, in bands of rows.

Three products make up everything (per image, on a band of output rows):

    apply      y    = W2 @ cols(x)          conv forward               (O, rows·ow)
    data grad  dcol = W2.T @ dy → col2im    conv backward w.r.t. x
    weight grad dW2 += dy @ cols(x).T       conv backward w.r.t. W

with W2 = W.reshape(O, C·kh·kw). A transposed convolution ("deconvolution") is the adjoint of a
convolution: its forward is the convolution's data gradient and its backward uses the other two
products. So both layers share these helpers, and their geometry can never drift apart.

Caches hold the layer input, not the im2col buffer: the buffer is rebuilt band by band in the
backward pass, which keeps memory at the size of the activations (the trade PyTorch makes too).

Reading order, each step calling down: this file (the three products) → ``bands.py`` (one band
of windows, split over threads by ``threads.py``) → ``..sizes`` (which windows read padding).
Convolutions with stride 1 and few input channels skip im2col: ``shifted.py``; 3×3 ones with
many channels take Winograd's algorithm instead: ``winograd.py``.
The bands and the buffer they live in come from ``workspace.py``; the geometry ``g`` is a
``sizes.ConvGeometry``.
"""
import numpy as np

from ...backend import get_array_module
from ..conv import check_conv_args, transposed_geometry
from ..im2col import pad2d
from ..sizes import conv_geometry
from . import shifted, winograd, workspace
from .bands import col2im_band, im2col_band

# Each piece can be switched off, so that bench/bench_cpu_path.py can measure what it buys.
IMPLICIT_PADDING = True     # im2col writes the padding's zeros; no padded copy of the input
TALL_WEIGHT_GRAD = True     # orient the weight-gradient GEMM so that its result is tall
DATA_GRAD_AS_CONV = True    # stride 1, O ≤ C (or where winograd/shifted take it): dx as a conv
PADDING_TRIM = True         # windows that see only padding (conv1_1's 100) are not computed
SHARED_WINDOWS = True       # data grad as conv: its im2col of dy serves the weight grad too
WINOGRAD = True             # wide 3×3 stride-1 convolutions: F(2×2, 3×3), no im2col
BIAS_BY_BLAS = True         # the bias gradient as a product with ones, not NumPy's sum


def _winograd(in_channels, out_channels, g):
    """Whether a convolution of this geometry goes through winograd.py."""
    return WINOGRAD and winograd.applies(in_channels, out_channels, g)


def _cols_bytes_per_row(ckk, ow, itemsize):
    """Bytes of one output row of the im2col matrix (C·kh·kw, ow): what a band is counted in."""
    return ckk * ow * itemsize


def _conv_apply(x, w, g):
    """y = conv(x, w) without bias.  x (N, C, H, W), w (O, C, kh, kw) → y (N, O, oh, ow).

    Per band of output rows: cols (C·kh·kw, rows·ow) = im2col, then one GEMM
    (O, C·kh·kw) @ (C·kh·kw, rows·ow) written straight into y's rows [r0, r1) — y[n] is
    (O, oh·ow) and its band is a strided (O, rows·ow) block that BLAS can write in place.
    """
    if shifted.applies(x.shape[1], w.shape[0], g):         # few channels: no im2col at all
        return shifted.conv_apply(x, w, g)
    if _winograd(x.shape[1], w.shape[0], g):               # many channels: fewer products
        return winograd.conv_apply(x, w, g)
    x, g = _explicitly_padded(x, g)
    xp = get_array_module(x, w)
    N, O = x.shape[0], w.shape[0]
    oh, ow = g.out_hw
    w2 = w.reshape(O, -1)                                  # (O, C·kh·kw)
    y = xp.empty((N, O, oh, ow), dtype=x.dtype)
    for n, r0, r1, cols in _im2col_bands(x, w.shape[2:], g):
        xp.matmul(w2, cols, out=y[n].reshape(O, oh * ow)[:, r0 * ow:r1 * ow])
    return y


def _im2col_bands(x, kernel, g):
    """(n, r0, r1, cols) for each image n and band [r0, r1) of output rows (``workspace.bands``):
    cols (C·kh·kw, (r1 − r0)·ow) holds that band's windows, built by im2col in the shared
    workspace buffer, which the next band overwrites."""
    xp = get_array_module(x)
    N, C = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, g.out_hw
    row_bytes = _cols_bytes_per_row(C * kh * kw, ow, x.itemsize)
    buf = workspace.band_buffer(xp, oh, row_bytes, x.dtype, getattr(x, "device", None), ow)
    for n in range(N):
        for r0, r1 in workspace.bands(oh, row_bytes, ow):
            cols = workspace.view(buf, (1, C, kh, kw, r1 - r0, ow))
            im2col_band(x[n:n + 1], cols, g, r0, r1)
            yield n, r0, r1, cols.reshape(C * kh * kw, -1)


def _conv_data_grad(dy, w, x_shape, g):
    """dx of y = conv(x, w): dy (N, O, oh, ow) → dx (N, C, H, W).

    With stride 1 the data gradient is itself a convolution: of dy, padded by d(k−1) − p, with
    the kernel flipped and its two channel axes swapped (each input pixel collects from the
    outputs whose windows held it). That is one im2col of dy (O·kh·kw rows) and a GEMM written
    straight into dx, instead of a GEMM into dcols (C·kh·kw rows) and kh·kw col2im passes that
    read, add and write dx. It is faster where O ≤ C; with O > C the im2col of dy is the larger
    one, so col2im stays there (bench/RESULTS.md, "Figures that were in code comments"), unless
    the convolution of dy skips im2col: through winograd.py, or shifted.py (the small FCN's
    conv2_1, 8 → 16 channels, whose dy has 16).
    """
    flipped = _flipped_geometry(dy, w, g)
    if flipped is not None:
        return _conv_apply(dy, _flipped(w), flipped)
    return _conv_data_grad_col2im(dy, w, x_shape, g)


def _flipped_geometry(dy, w, g):
    """The geometry of the data gradient as a convolution of dy (see ``_conv_data_grad``), or
    None where it does not go that way (stride > 1, a padding over d(k−1), or O > C outside
    winograd.py and shifted.py)."""
    (ph, pw), (dh, dw_), (kh, kw) = g.padding, g.dilation, w.shape[2:]
    flipped_pad = (dh * (kh - 1) - ph, dw_ * (kw - 1) - pw)
    if not (DATA_GRAD_AS_CONV and g.stride == (1, 1) and min(flipped_pad) >= 0):
        return None
    O, C = w.shape[:2]
    flipped = conv_geometry(dy.shape[2:], (kh, kw), 1, flipped_pad, g.dilation)
    return flipped if O <= C or _winograd(O, C, flipped) or shifted.applies(O, C, flipped) \
        else None


def _flipped(w):
    """(O, C, kh, kw) → (C, O, kh, kw), each kernel turned by 180°: the data gradient's kernel."""
    return get_array_module(w).ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def _conv_grads_from_dy_windows(dy, x, w, g, flipped):
    """(dx, dW) of y = conv(x, w) from one im2col of dy: stride 1, ``flipped`` its geometry.

    The data gradient's windows of dy are also the weight gradient's: with cols_dy (O·kh·kw,
    H·W), whose row (o, ky', kx') at input pixel q holds dy[o, q − d·(k−1−ky') + p], and
    x2 = x (C, H·W),

        dW[o, c, ky, kx] = Σ_q x[c, q] · dy[o, q − d·ky + p]
                         = (cols_dy @ x2ᵀ)[(o, k−1−ky, k−1−kx), c].

    So each band of cols_dy feeds two GEMMs, dx's and dW's (a tall (O·kh·kw, C) product, like
    ``_conv_weight_grad``'s), and x is never unfolded: one im2col per backward instead of two.
    """
    xp = get_array_module(dy, x)
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    wf2 = _flipped(w).reshape(C, -1)                       # (C, O·kh·kw)
    dyp, flipped = _explicitly_padded(dy, flipped)
    dx = xp.empty(x.shape, dtype=dy.dtype)
    acc = None
    for n, r0, r1, cols in _im2col_bands(dyp, (kh, kw), flipped):
        xp.matmul(wf2, cols, out=dx[n].reshape(C, H * W)[:, r0 * W:r1 * W])
        prod = cols @ x[n].reshape(C, H * W)[:, r0 * W:r1 * W].T        # (O·kh·kw, C)
        if acc is None:
            acc = prod
        else:
            acc += prod
    dw = acc.reshape(O, kh, kw, C)[:, ::-1, ::-1].transpose(0, 3, 1, 2)
    return dx, xp.ascontiguousarray(dw)


def _conv_data_grad_col2im(dy, w, x_shape, g):
    """dx of y = conv(x, w) through col2im, for any stride.

    Per band: dcols (C·kh·kw, rows·ow) = W2ᵀ @ dy_band into the reused buffer, then col2im adds
    the kh·kw slices of dcols into the padded gradient.
    """
    xp = get_array_module(dy, w)
    N, C, H, W = x_shape
    O, _, kh, kw = w.shape
    oh, ow = g.out_hw
    w2t = w.reshape(O, -1).T                               # (C·kh·kw, O)
    ckk = w2t.shape[0]
    dx = xp.zeros((N, C, H, W), dtype=dy.dtype)
    row_bytes = _cols_bytes_per_row(ckk, ow, dy.itemsize)
    buf = workspace.band_buffer(xp, oh, row_bytes, dy.dtype, getattr(dy, "device", None), ow)
    for n in range(N):
        dyn = dy[n].reshape(O, oh * ow)
        for r0, r1 in workspace.bands(oh, row_bytes, ow):
            dcols = workspace.view(buf, (ckk, (r1 - r0) * ow))
            xp.matmul(w2t, dyn[:, r0 * ow:r1 * ow], out=dcols)
            col2im_band(dcols.reshape(1, C, kh, kw, r1 - r0, ow), dx[n:n + 1], g, r0)
    return dx


def _explicitly_padded(x, g):
    """(x, g) as they are, or with IMPLICIT_PADDING off a padded copy and no padding."""
    if IMPLICIT_PADDING or g.padding == (0, 0):
        return x, g
    return pad2d(x, *g.padding), g._replace(padding=(0, 0))


def _conv_weight_grad(x, dy, w_shape, g):
    """dW of y = conv(x, w): sums dy_band @ colsᵀ over images and bands → (O, C, kh, kw).

    The orientation of this GEMM matters. Its inner dimension is the number of pixels, up to
    50k per band, and OpenBLAS is fast on such a product only when the result is *tall*
    (more rows than columns): for conv1_2, cols @ dyᵀ → (576, 64) runs many times faster than
    dy @ colsᵀ → (64, 576) (bench/RESULTS.md); for conv1_1 it is the other way round ((64, 27)
    is the fast one). So we accumulate dW2ᵀ (C·kh·kw, O) when C·kh·kw ≥ O and transpose it once
    at the end (a few MB). fc6 and fc7 have few pixels (192) and a huge dW (100M floats), where the
    direct product is fast and the final transpose would cost more than the GEMM: direct.
    """
    O, C, kh, kw = w_shape
    if _winograd(C, O, g):
        return winograd.weight_grad(x, dy, g)
    x, g = _explicitly_padded(x, g)
    xp = get_array_module(x, dy)
    oh, ow = g.out_hw
    transposed = TALL_WEIGHT_GRAD and C * kh * kw >= O and oh * ow >= O
    acc = None                      # the first product is the accumulator: no zeros, no add
    for n, r0, r1, cols in _im2col_bands(x, (kh, kw), g):
        dyb = dy[n].reshape(O, oh * ow)[:, r0 * ow:r1 * ow]
        prod = cols @ dyb.T if transposed else dyb @ cols.T
        if acc is None:
            acc = prod
        else:
            acc += prod
    return (xp.ascontiguousarray(acc.T) if transposed else acc).reshape(w_shape)


def padding_margin(g, x_hw):
    """(mh, mw): how many output rows (columns) at each edge have windows that see only padding,
    and the geometry of the convolution that computes the rest, with the padding trimmed.

    FCN's conv1_1 pads by 100: at 128×128 its output is 326×326 and only the middle 130×130
    windows touch the image; the others are the bias alone, and send no gradient anywhere. With
    m = ⌊(p − d(k−1))/s⌋ ≥ 0 rows trimmed, the inner convolution pads by p − s·m ≥ d(k−1), and its
    output is rows [m, m + oh') of the full one; every row after those starts past the image.
    """
    margin = tuple(max(0, (p - d * (k - 1)) // s) if PADDING_TRIM else 0
                   for k, s, p, d in zip(g.kernel, g.stride, g.padding, g.dilation))
    if margin == (0, 0):
        return margin, g
    inner_pad = tuple(p - s * m for p, s, m in zip(g.padding, g.stride, margin))
    return margin, conv_geometry(x_hw, g.kernel, g.stride, inner_pad, g.dilation)


def _inner_block(margin, inner):
    """The index of the outputs that the trimmed convolution ``inner`` computes."""
    (mh, mw), (ih, iw) = margin, inner.out_hw
    return (slice(None), slice(None), slice(mh, mh + ih), slice(mw, mw + iw))


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """2-d convolution (cross-correlation, as in every framework).

    x (N, C, H, W), w (O, C, kh, kw), b (O,) or None
    → out (N, O, oh, ow) with oh = floor((H + 2p − d(kh−1) − 1)/s) + 1, and a cache.
    Outputs whose windows see only padding are the bias: only the others are computed.
    """
    check_conv_args(x, w, b, 1, "conv2d")
    g = conv_geometry(x.shape[2:], w.shape[2:], stride, padding, dilation)
    margin, inner = padding_margin(g, x.shape[2:])
    if margin == (0, 0):
        out = _conv_apply(x, w, g)
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
    else:
        xp = get_array_module(x, w)
        out = xp.empty((x.shape[0], w.shape[0], *g.out_hw), dtype=x.dtype)
        out[...] = 0 if b is None else b.reshape(1, -1, 1, 1)
        out[_inner_block(margin, inner)] += _conv_apply(x, w, inner)
    return out, (x, w, b is not None, margin, inner)


def conv2d_backward(dout, cache, need_dx=True, need_dw=True):
    """dout (N, O, oh, ow) → (dx (N, C, H, W) or None, dw (O, C, kh, kw) or None, db (O,) or None).

    ``need_dx=False`` skips the data gradient (the first layer of a network never needs it),
    ``need_dw=False`` the weight gradient (a frozen weight: nothing would use it).
    """
    x, w, has_bias, margin, g = cache
    dy = dout if margin == (0, 0) else dout[_inner_block(margin, g)]   # the rest sent nothing
    flipped = _flipped_geometry(dy, w, g) if need_dx and need_dw else None
    O, C = w.shape[:2]
    # dW from dy's windows is an (O·kh·kw, C) product: only where that is tall (not the 1×1
    # score layers, O < C), not in Winograd (no windows), and only where dy is no wider than x:
    # with O ≤ C one im2col of dy for both gradients beat shifted.py's data gradient plus an
    # im2col of x for the weight gradient (conv1_2), with O > C it lost (conv2_1, bench/
    # RESULTS.md "Issue 23, fifth round")
    if SHARED_WINDOWS and flipped is not None and O * w.shape[2] * w.shape[3] >= C \
            and O <= C and not _winograd(O, C, flipped):
        dx, dw = _conv_grads_from_dy_windows(dy, x, w, g, flipped)
    else:
        dx = _conv_data_grad(dy, w, x.shape, g) if need_dx else None
        dw = _conv_weight_grad(x, dy, w.shape, g) if need_dw else None
    db = _bias_grad(dout) if has_bias else None
    return dx, dw, db


def _bias_grad(dout):
    """db (O,) = dout (N, O, oh, ow) summed over images and pixels: each image's (O, oh·ow)
    times a vector of ones, a matrix-vector product in BLAS, then the sum over images. NumPy's
    sum over axes (0, 2, 3) was slower at the convolutions' map sizes (bench/RESULTS.md, "Issue
    23, sixth round"). The ones are kept between calls (``workspace.constant``); only NumPy
    arrays come here, anything else takes NumPy's sum."""
    N, O, oh, ow = dout.shape
    if not (BIAS_BY_BLAS and isinstance(dout, np.ndarray) and dout.flags.c_contiguous):
        return dout.sum(axis=(0, 2, 3))
    return (dout.reshape(N, O, oh * ow) @ workspace.constant(1, oh * ow, dout.dtype)).sum(axis=0)


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0):
    """Transposed convolution ("deconvolution"), the adjoint of conv2d.

    x (N, C_in, H, W), w (C_in, C_out, kh, kw) as in PyTorch and Caffe, b (C_out,) or None
    → out (N, C_out, (H−1)·s − 2p + kh, (W−1)·s − 2p + kw), and a cache.

    It is exactly conv2d's backward-data pass for a convolution with weight w that maps
    (C_out, OH, OW) to (C_in, H, W): each input pixel stamps a scaled copy of the kernel.
    """
    check_conv_args(x, w, b, 0, "conv_transpose2d")
    g, (OH, OW) = transposed_geometry(x.shape, w.shape, stride, padding)
    out = _conv_data_grad(x, w, (x.shape[0], w.shape[1], OH, OW), g)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out, (x, w, b is not None, g)


def conv_transpose2d_backward(dout, cache, need_dx=True, need_dw=True):
    """dout (N, C_out, OH, OW) → (dx (N, C_in, H, W) or None, dw (C_in, C_out, kh, kw) or None,
    db); ``need_dx``/``need_dw`` as in conv2d_backward."""
    x, w, has_bias, g = cache
    dx = _conv_apply(dout, w, g) if need_dx else None          # the adjoint of the adjoint
    dw = _conv_weight_grad(dout, x, w.shape, g) if need_dw else None   # x and dy swap roles
    db = _bias_grad(dout) if has_bias else None
    return dx, dw, db
