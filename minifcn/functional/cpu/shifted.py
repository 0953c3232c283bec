"""Convolution with few channels and stride 1 as a sum of shifted matrix products, no im2col.

Pad one image into (C, Hp, Wp) and flatten it to xf (C, Hp·Wp). For kernel offset (ky, kx) the
pixels that all outputs read are then one *contiguous* slice of every row of xf, starting at
ky·d·Wp + kx·d, if the output is computed on the "wide" grid of Wp columns per row (its last
Wp − ow columns are junk, thrown away):

    y_wide (O, oh·Wp) = Σ_{ky,kx} W[:, :, ky, kx] (O, C) @ xf[:, off : off + oh·Wp]     (C, oh·Wp)

Each slice is a BLAS matrix as it is (row stride Hp·Wp), so nothing is copied kh·kw times: the
im2col matrix, kh·kw times the input, is never written and never read back. With few channels
im2col's copies, not the arithmetic, are what a convolution costs. The kh·kw partial products
are summed in an accumulator, so output rows go in bands small enough (``BAND_BYTES``) that the
accumulator, the product being added and the input slice stay in a core's L2 cache: with the
whole map in one band those sums ran from memory and the path lost most of its gain.

When it runs (``applies``, bench/RESULTS.md "Shifted products in cache-sized bands"): 8 to 16
input channels and no more output channels than input ones. With more outputs than inputs the
kh·kw sums of the (larger) output cost more than im2col's copies of the (smaller) input; from
32 channels on the GEMMs are deep enough that im2col is as fast; with fewer than 8 input
channels (conv1_1's 3) the (O, C) taps are too thin for BLAS. The weight gradient always goes
through im2col: its per-tap products (O, pixels) @ (pixels, C) have a tiny result and run far
below the tall GEMM of conv.py.
"""
from ...backend import get_array_module
from . import threads, workspace

MIN_CHANNELS, MAX_CHANNELS = 8, 16
# The accumulator, one partial product and the input slice of a band: about a core's L2 cache.
BAND_BYTES = 384 * 2 ** 10


def applies(in_channels, out_channels, g):
    """Whether conv.py should take this path: stride 1, MIN_CHANNELS ≤ C ≤ MAX_CHANNELS input
    channels and no more output channels than input ones; on several threads only for at most
    MIN_CHANNELS outputs.

    The products here are small enough that BLAS runs them on one core, while conv.py's im2col
    GEMMs use every core and its copies are split between threads (threads.py). On several
    cores only the thinnest outputs still gain, whose im2col GEMM (8 rows) BLAS runs poorly on
    any number of cores: the paper geometry's conv1_2 at 326².
    """
    return (g.stride == (1, 1) and MIN_CHANNELS <= in_channels <= MAX_CHANNELS
            and out_channels <= in_channels
            and (out_channels <= MIN_CHANNELS or threads.num_threads() == 1))


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


def _rows_per_band(oh, Wp, C, O, itemsize):
    """Output rows per band: accumulator and partial product (O each) and input slice (C), all
    Wp wide, within BAND_BYTES; at least one row."""
    return max(1, min(oh, BAND_BYTES // max(1, (2 * O + C) * Wp * itemsize)))


def conv_apply(x, w, g):
    """y = conv(x, w), stride 1, no bias: x (N, C, H, W), w (O, C, kh, kw) → (N, O, oh, ow)."""
    xp = get_array_module(x, w)
    (N, C), O = x.shape[:2], w.shape[0]
    oh, ow = g.out_hw
    Hp, Wp, offsets = _layout(x.shape, g)
    taps = [xp.ascontiguousarray(w[:, :, k // g.kernel[1], k % g.kernel[1]])     # (O, C) each
            for k in range(len(offsets))]
    rows = _rows_per_band(oh, Wp, C, O, x.itemsize)
    buf = workspace.band_buffer(xp, 1, (C * Hp * Wp + 2 * O * rows * Wp) * x.itemsize, x.dtype,
                                getattr(x, "device", None))
    xf = workspace.view(buf, (C, Hp * Wp))
    sums = buf[C * Hp * Wp:C * Hp * Wp + 2 * O * rows * Wp]       # accumulator, partial product
    y = xp.empty((N, O, oh, ow), dtype=x.dtype)
    for n in range(N):
        _padded(x[n], xf, Hp, Wp, g)
        for r0 in range(0, oh, rows):
            r1 = min(oh, r0 + rows)
            L = (r1 - r0) * Wp
            acc, part = sums[:O * L].reshape(O, L), sums[O * L:2 * O * L].reshape(O, L)
            for k, off in enumerate(offsets):
                cols = xf[:, r0 * Wp + off:r0 * Wp + off + L]                # (C, L)
                xp.matmul(taps[k], cols, out=part if k else acc)
                if k:
                    acc += part
            y[n, :, r0:r1] = acc.reshape(O, r1 - r0, Wp)[:, :, :ow]
    return y
