"""Convolution with few channels and stride 1 as a sum of shifted matrix products, no im2col.

Pad one image into (C, Hp, Wp) and flatten it to xf (C, Hp·Wp). For kernel offset (ky, kx) the
pixels that all outputs read are then one *contiguous* slice of every row of xf, starting at
ky·d·Wp + kx·d, if the output is computed on the "wide" grid of Wp columns per row (its last
Wp − ow columns are junk, thrown away):

    y_wide (O, oh·Wp) = Σ_{ky,kx} W[:, :, ky, kx] (O, C) @ xf[:, off : off + oh·Wp]     (C, oh·Wp)
    dW[:, :, ky, kx]  = dy_wide (O, oh·Wp) @ xf[:, off : off + oh·Wp]ᵀ     (dy's junk columns: 0)

Each slice is a BLAS matrix as it is (row stride Hp·Wp), so nothing is copied kh·kw times: the
im2col matrix, kh·kw times the input, is never written and never read back. With few channels
im2col's copies, not the arithmetic, are what a convolution costs, and this path is faster for
8–16 input channels and at most 16 output channels; from 32 channels on the GEMMs are large enough
and im2col is as fast, and with fewer than 8 input channels (conv1_1's 3) the (O, C) taps are too
thin for BLAS (bench/RESULTS.md, "Figures that were in code comments"). It runs only when minifcn
runs on one thread (see ``applies``). Output rows go in bands of at most ``BAND_BYTES``, which
holds every layer of the small FCN in one band, so each product is one BLAS call per tap (with two
BLAS threads each call is a hand-off between them).
"""
from ...backend import get_array_module
from . import threads, workspace

MIN_CHANNELS, MAX_CHANNELS = 8, 16
# On smaller maps im2col's copy is cheap and the kh·kw products cost more than they save: the
# main job's 126² and 63² layers ran faster without this path, the paper geometry's 326² and
# 163² ones with it (bench/RESULTS.md).
MIN_OUTPUT_PIXELS = 160 * 160
BAND_BYTES = 16 * 2 ** 20


def applies(in_channels, out_channels, g):
    """Whether conv.py should take this path: stride 1, MIN_CHANNELS ≤ C ≤ MAX_CHANNELS input
    channels, at most MAX_CHANNELS output channels, at least MIN_OUTPUT_PIXELS outputs, and
    minifcn's copies on one thread.

    The last condition because the padding copy and the kh·kw partial sums here run on one core,
    while im2col's copies are split between threads (threads.py); the gains were measured on one
    thread only.
    """
    return (g.stride == (1, 1) and MIN_CHANNELS <= in_channels <= MAX_CHANNELS
            and out_channels <= MAX_CHANNELS and g.out_hw[0] * g.out_hw[1] >= MIN_OUTPUT_PIXELS
            and threads.num_threads() == 1)


def _layout(x_shape, g):
    """Padded plane (Hp, Wp), with one spare row so that the last offset's slice stays inside,
    and the flat offset of each kernel tap, in (ky, kx) order."""
    (H, W), (kh, kw), (ph, pw), (dh, dw) = x_shape[2:], g.kernel, g.padding, g.dilation
    Hp, Wp = H + 2 * ph + 1, W + 2 * pw
    return Hp, Wp, [ky * dh * Wp + kx * dw for ky in range(kh) for kx in range(kw)]


def _padded(x1, xf, Hp, Wp, g):
    """xf (C, Hp·Wp) ← image x1 (C, H, W), zero padded (xf is reused workspace memory)."""
    (H, W), (ph, pw) = x1.shape[1:], g.padding
    plane = xf.reshape(-1, Hp, Wp)
    plane[...] = 0
    plane[:, ph:ph + H, pw:pw + W] = x1


def _bands(oh, Wp, O, itemsize):
    step = max(1, min(oh, BAND_BYTES // max(1, O * Wp * itemsize)))
    for r0 in range(0, oh, step):
        yield r0, min(oh, r0 + step)


def _buffers(xp, x, O, Hp, Wp, extra):
    """Views of the shared workspace: xf (C, Hp·Wp) and ``extra`` more elements."""
    C = x.shape[1]
    row_bytes = (C * Hp * Wp + extra) * x.itemsize
    buf = workspace.band_buffer(xp, 1, row_bytes, x.dtype, getattr(x, "device", None))
    return workspace.view(buf, (C, Hp * Wp)), buf[C * Hp * Wp:C * Hp * Wp + extra]


def conv_apply(x, w, g):
    """y = conv(x, w), stride 1, no bias: x (N, C, H, W), w (O, C, kh, kw) → (N, O, oh, ow)."""
    xp = get_array_module(x, w)
    N, O = x.shape[0], w.shape[0]
    oh, ow = g.out_hw
    Hp, Wp, offsets = _layout(x.shape, g)
    taps = [xp.ascontiguousarray(w[:, :, k // g.kernel[1], k % g.kernel[1]])     # (O, C) each
            for k in range(len(offsets))]
    band = next(_bands(oh, Wp, O, x.itemsize))
    xf, rest = _buffers(xp, x, O, Hp, Wp, 2 * O * (band[1] - band[0]) * Wp)
    y = xp.empty((N, O, oh, ow), dtype=x.dtype)
    for n in range(N):
        _padded(x[n], xf, Hp, Wp, g)
        for r0, r1 in _bands(oh, Wp, O, x.itemsize):
            L = (r1 - r0) * Wp
            acc, tmp = rest[:O * L].reshape(O, L), rest[O * L:2 * O * L].reshape(O, L)
            for k, off in enumerate(offsets):
                cols = xf[:, r0 * Wp + off:r0 * Wp + off + L]                # (C, L)
                if k == 0:
                    xp.matmul(taps[0], cols, out=acc)
                else:
                    xp.matmul(taps[k], cols, out=tmp)
                    acc += tmp
            y[n, :, r0:r1] = acc.reshape(O, r1 - r0, Wp)[:, :, :ow]
    return y


def conv_weight_grad(x, dy, w_shape, g):
    """dW of y = conv(x, w), stride 1: x (N, C, H, W), dy (N, O, oh, ow) → (O, C, kh, kw)."""
    xp = get_array_module(x, dy)
    N, (O, C, kh, kw) = x.shape[0], w_shape
    oh, ow = g.out_hw
    Hp, Wp, offsets = _layout(x.shape, g)
    xf, rest = _buffers(xp, x, O, Hp, Wp, O * oh * Wp)
    dy_wide = rest.reshape(O, oh, Wp)
    dw = xp.zeros((kh * kw, O, C), dtype=x.dtype)
    for n in range(N):
        _padded(x[n], xf, Hp, Wp, g)
        dy_wide[:, :, ow:] = 0                                  # the junk columns send nothing
        dy_wide[:, :, :ow] = dy[n]
        dyf = dy_wide.reshape(O, oh * Wp)
        for r0, r1 in _bands(oh, Wp, O, x.itemsize):
            band = dyf[:, r0 * Wp:r1 * Wp]
            for k, off in enumerate(offsets):
                dw[k] += band @ xf[:, r0 * Wp + off:r1 * Wp + off].T        # (O, C)
    return xp.ascontiguousarray(dw.reshape(kh, kw, O, C).transpose(2, 3, 0, 1))
