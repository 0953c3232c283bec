"""Convolution with few channels and stride 1 as a sum of shifted matrix products, no im2col.

Pad one image into (C, Hp, Wp) and flatten it to xf (C, Hp·Wp). For kernel offset (ky, kx) the
pixels that all outputs read are then one *contiguous* slice of every row of xf, starting at
ky·d·Wp + kx·d, if the output is computed on the "wide" grid of Wp columns per row (its last
Wp − ow columns are junk, thrown away):

    y_wide (O, oh·Wp) = Σ_{ky,kx} W[:, :, ky, kx] (O, C) @ xf[:, off : off + oh·Wp]     (C, oh·Wp)

Each slice is a BLAS matrix as it is (row stride Hp·Wp), so nothing is copied kh·kw times: the
im2col matrix, kh·kw times the input, is never written and never read back. With few channels
im2col's copies, not the arithmetic, are what a convolution costs.

The kh·kw slices of one band are themselves one strided view (kh, kw, C, L) of xf (tap (ky, kx)
starts ky·d·Wp + kx·d further), so a band is a single batched ``matmul`` of the taps (kh, kw,
O, C) with that view, then one sum over the kh·kw partial products: two NumPy calls per band,
not two per tap. Bands are small enough (``BAND_BYTES``) that the partial products are still in
the cache when they are summed, and threads take whole bands (threads.py): each band is
computed the same way on any number of threads, so the result is bitwise the same.

When it runs (``applies``, bench/RESULTS.md "Shifted products in cache-sized bands"): 8 to 16
input channels and no more output channels than input ones. With more outputs than inputs the
kh·kw sums of the (larger) output cost more than im2col's copies of the (smaller) input; from
32 channels on the GEMMs are deep enough that im2col is as fast; with fewer than 8 input
channels (conv1_1's 3) the (O, C) taps are too thin for BLAS. The weight gradient always goes
through im2col: its per-tap products (O, pixels) @ (pixels, C) have a tiny result and run far
below the tall GEMM of conv.py.
"""
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...backend import get_array_module
from . import threads, workspace

MIN_CHANNELS, MAX_CHANNELS = 8, 16
# Per thread: a band's kh·kw partial products, their sum and its input rows. On two threads
# conv1_2 of the small FCN (8 channels at 326²) ran best with bands of about 2–4 MB, 16
# channels at 163² with 1–2 MB, and with about 7 MB conv1_2's products ran at a third of the
# speed (bench/RESULTS.md, "Issue 23, fifth round").
BAND_BYTES = 2 * 2 ** 20

_local = threading.local()      # each thread's band buffer (partial products and their sum)


def applies(in_channels, out_channels, g):
    """Whether conv.py should take this path: stride 1, MIN_CHANNELS ≤ C ≤ MAX_CHANNELS input
    channels and no more output channels than input ones; on several threads only for at most
    MIN_CHANNELS outputs.

    On several cores only the thinnest outputs gain, whose im2col GEMM (8 rows) BLAS runs
    poorly on any number of cores: the paper geometry's conv1_2 at 326². Two-thread steps with
    16 outputs allowed too were no faster, in the paper's geometry or the main job's
    (bench/RESULTS.md, "Issue 23, fifth round").
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


def _rows_per_band(oh, Wp, C, O, taps, itemsize):
    """Output rows per band: the taps' partial products and their sum (O each) and the input
    rows (C), all Wp wide, within BAND_BYTES; at least one row."""
    return max(1, min(oh, BAND_BYTES // max(1, ((taps + 1) * O + C) * Wp * itemsize)))


def _band_buffer(size, dtype):
    """This thread's buffer of at least ``size`` elements, kept between calls (the threads of
    threads.py live as long as the process, and a fresh buffer per band would page-fault)."""
    buf = getattr(_local, "buf", None)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = _local.buf = np.empty(size, dtype=dtype)
    return buf


def _band(xf, taps, Wp, g, r0, r1):
    """The wide output rows [r0, r1) of one image, (O, (r1 − r0)·Wp): the sum over taps of
    taps[ky, kx] (O, C) @ the slice of xf that tap reads, as one batched product."""
    (kh, kw, O, C), (dh, dw), L = taps.shape, g.dilation, (r1 - r0) * Wp
    step, item = xf.strides
    view = as_strided(xf[:, r0 * Wp:], shape=(kh, kw, C, L),
                      strides=(dh * Wp * item, dw * item, step, item), writeable=False)
    buf = _band_buffer((kh * kw + 1) * O * L, xf.dtype)
    parts = buf[:kh * kw * O * L].reshape(kh, kw, O, L)
    np.matmul(taps, view, out=parts)
    total = buf[kh * kw * O * L:(kh * kw + 1) * O * L].reshape(O, L)
    return np.add.reduce(parts.reshape(kh * kw, O, L), axis=0, out=total)


def conv_apply(x, w, g):
    """y = conv(x, w), stride 1, no bias: x (N, C, H, W), w (O, C, kh, kw) → (N, O, oh, ow)."""
    xp = get_array_module(x, w)
    (N, C), (O, _, kh, kw) = x.shape[:2], w.shape
    oh, ow = g.out_hw
    Hp, Wp, _ = _layout(x.shape, g)
    taps = xp.ascontiguousarray(w.transpose(2, 3, 0, 1))                  # (kh, kw, O, C)
    rows = _rows_per_band(oh, Wp, C, O, kh * kw, x.itemsize)
    bands = [(r0, min(oh, r0 + rows)) for r0 in range(0, oh, rows)]
    buf = workspace.band_buffer(xp, 1, C * Hp * Wp * x.itemsize, x.dtype,
                                getattr(x, "device", None))
    xf = workspace.view(buf, (C, Hp * Wp))
    y = xp.empty((N, O, oh, ow), dtype=x.dtype)
    for n in range(N):
        _padded(x[n], xf, Hp, Wp, g)

        def some_bands(b0, b1):                     # bands [b0, b1) write only their rows of y
            for r0, r1 in bands[b0:b1]:
                y[n, :, r0:r1] = _band(xf, taps, Wp, g, r0, r1).reshape(
                    O, r1 - r0, Wp)[:, :, :ow]
        threads.over_channels(some_bands, len(bands), y[n].size * kh * kw, xp)
    return y
