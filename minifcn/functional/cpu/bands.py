"""im2col and col2im: convolution as a matrix product.

A convolution with a (O, C, kh, kw) filter looks, for every output pixel, at a C×kh×kw window of
the (padded) input. im2col copies those windows side by side into a matrix

    cols (C·kh·kw, oh·ow)          one column per output pixel, rows ordered (c, ky, kx)

so that the convolution is one GEMM, ``W.reshape(O, C·kh·kw) @ cols`` → (O, oh·ow), which is
already the NCHW layout of one output image (no transpose afterwards).

The copy is done the Chainer way: a loop over the kh·kw kernel offsets, each a plain strided slice
of the padded input (ky, kx) → all output pixels at once. No fancy indexing, no scatter/``add.at``,
so the same lines run on NumPy and CuPy and col2im is deterministic. (A small input under a large
kernel, fc6's 7×7, is unfolded in one copy of the textbook's window view instead: see
``SMALL_INPUT``.)

Both functions work on a band of output rows ``[r0, r1)`` so that callers can build the (large)
buffer a few rows at a time: for conv1_2 of FCN on a 500×375 image, cols for the whole image
would be 576 × 400k floats (0.9 GB); ``workspace.py`` picks the bands and holds the buffer.
``im2col_band``/``col2im_band`` are what conv.py calls: one band of one image, its channels
split between CPU threads (see threads.py). The arithmetic of which outputs read real pixels
and which read padding is ``sizes.valid_range``, shared with max pooling.
"""
from ...backend import get_array_module
from ..im2col import pad2d, window_view
from ..sizes import strided, valid_range
from . import threads

# A kernel of more than MAX_LOOP_OFFSETS offsets on an input of at most SMALL_INPUT elements (the
# channel block im2col_rows gets: one image, and one thread's channels when threads.py splits
# them) is unfolded in one strided copy of a padded copy of the input (the textbook's window
# view, functional/im2col.py), not offset by offset: there the loop's NumPy calls (49 to 245
# for fc6's 7×7) cost more than copying the input once more. For a 3×3 (conv5 of the small FCN
# at 21²) the loop was as fast or faster (bench/RESULTS.md, "Issue 23, sixth round").
SMALL_INPUT, MAX_LOOP_OFFSETS = 2 ** 16, 9


def im2col_rows(xpad, kernel, stride, dilation, r0, r1, ow, out=None, padding=(0, 0)):
    """Windows of output rows [r0, r1).

    xpad: (N, C, Hp, Wp), already padded, or the unpadded input together with ``padding``
    (ph, pw): then the padding is implicit — each kernel offset copies only the block of the
    band that reads real pixels and writes zeros around it, so no padded copy of the input is
    made (one fewer pass over 100 MB for FCN's first layers); only a small input under a large
    kernel (``SMALL_INPUT``) is padded, then copied through the window view at once.
    kernel, stride, dilation: (h, w) pairs.
    Returns cols (N, C, kh, kw, r1 − r0, ow); ``out`` may be given to reuse a buffer.
    """
    xp = get_array_module(xpad)
    N, C, H, W = xpad.shape
    (kh, kw), (sy, sx), (dy, dx), (ph, pw) = kernel, stride, dilation, padding
    if out is None:
        out = xp.empty((N, C, kh, kw, r1 - r0, ow), dtype=xpad.dtype)
    if xpad.size <= SMALL_INPUT and kh * kw > MAX_LOOP_OFFSETS:
        xpad = pad2d(xpad, ph, pw)
        # the view does not check its bounds: the band's last window must end inside xpad
        if r1 > r0 and ((r1 - 1) * sy + (kh - 1) * dy >= xpad.shape[2]
                        or (ow - 1) * sx + (kw - 1) * dx >= xpad.shape[3]):
            raise ValueError(f"im2col_rows: output rows [{r0}, {r1}) × {ow} columns reach past "
                             f"the padded input {tuple(xpad.shape[2:])}")
        out[...] = window_view(xpad[:, :, r0 * sy:], kernel, stride, dilation, (r1 - r0, ow))
        return out
    for ky in range(kh):
        i0, i1, y0 = valid_range(ky * dy, sy, ph, H, r0, r1)     # band rows that see real rows
        for kx in range(kw):
            j0, j1, x0 = valid_range(kx * dx, sx, pw, W, 0, ow)
            dst = out[:, :, ky, kx]                             # (N, C, rows, ow)
            if i1 == i0 or j1 == j0:
                dst[...] = 0
                continue
            dst[:, :, i0 - r0:i1 - r0, j0:j1] = xpad[:, :, strided(y0, i1 - i0, sy),
                                                     strided(x0, j1 - j0, sx)]
            if ph or pw:                                        # the zeros of the padding
                dst[:, :, :i0 - r0] = 0
                dst[:, :, i1 - r0:] = 0
                dst[:, :, i0 - r0:i1 - r0, :j0] = 0
                dst[:, :, i0 - r0:i1 - r0, j1:] = 0
    return out


def col2im_rows(cols, dxpad, stride, dilation, r0, padding=(0, 0)):
    """Adjoint of :func:`im2col_rows`: add windows back into a gradient, in place.

    cols: (N, C, kh, kw, rows, ow), the gradient w.r.t. the windows of output rows [r0, r0+rows).
    dxpad: (N, C, Hp, Wp), accumulated into (overlapping windows add up); with ``padding`` it
    is the unpadded gradient, and what falls on the padding is dropped (its adjoint of zeros).
    """
    N, C, kh, kw, rows, ow = cols.shape
    H, W = dxpad.shape[2:]
    (sy, sx), (dy, dx), (ph, pw) = stride, dilation, padding
    for ky in range(kh):
        i0, i1, y0 = valid_range(ky * dy, sy, ph, H, r0, r0 + rows)
        for kx in range(kw):
            j0, j1, x0 = valid_range(kx * dx, sx, pw, W, 0, ow)
            if i1 > i0 and j1 > j0:
                dxpad[:, :, strided(y0, i1 - i0, sy), strided(x0, j1 - j0, sx)] \
                    += cols[:, :, ky, kx, i0 - r0:i1 - r0, j0:j1]
    return dxpad


def im2col_band(x1, cols, g, r0, r1):
    """cols (1, C, kh, kw, r1 − r0, ow) ← the windows of output rows [r0, r1) of x1 (1, C, H, W)
    for the convolution geometry ``g`` (``sizes.ConvGeometry``), split over channels between
    CPU threads: channel c of cols reads only channel c of x, so each thread writes its own."""
    threads.over_channels(
        lambda c0, c1: im2col_rows(x1[:, c0:c1], g.kernel, g.stride, g.dilation, r0, r1,
                                   g.out_hw[1], out=cols[:, c0:c1], padding=g.padding),
        x1.shape[1], cols.size, get_array_module(x1))


def col2im_band(dcols, dx1, g, r0):
    """dx1 (1, C, H, W) += the windows dcols (1, C, kh, kw, rows, ow) of output rows from r0,
    split over channels like ``im2col_band`` (channel c of dx only receives channel c)."""
    threads.over_channels(
        lambda c0, c1: col2im_rows(dcols[:, c0:c1], dx1[:, c0:c1], g.stride, g.dilation, r0,
                                   padding=g.padding),
        dx1.shape[1], dcols.size, get_array_module(dcols))
