"""Max pooling with Caffe/PyTorch ceil mode, forward and backward.

Like im2col, the kernel loops over the kh·kw window offsets with plain strided slices. The forward
keeps, for every output pixel, *which* offset won (the "switch", an int8 in 0..kh·kw−1); the
backward routes each output gradient back to that one input pixel. Ties go to the first offset in
row-major order, as in Caffe and PyTorch.

Ceil mode (Caffe's only mode, PyTorch's ``ceil_mode=True``, Chainer's ``cover_all``) rounds the
output size up so that the last, partial window still counts, which is why a 697-pixel map pools
to 349 and not 348 in FCN. Both Caffe and PyTorch then drop a last window that would *start* in
the right/bottom padding. The sizes, and which outputs' windows see real pixels at each offset,
are ``sizes.py``'s, shared with im2col.
"""
from ...backend import get_array_module
from ..sizes import pair, pool_output_size, strided, valid_range
from . import threads

# Each thread walks its channels in blocks of about this many bytes of input, so that the kh·kw
# passes over a block (one per window offset) find it still in the cache instead of reading the
# whole layer (100 MB at pool1 of FCN) from memory kh·kw times.
BLOCK_BYTES = 2 ** 20
# How many elements of copying (threads.py's measure of work) one element of a pooling layer's
# input counts for. A pool makes several short passes per window offset over strided slices
# (forward: compare, max and three int8 updates; backward: compare and a strided write), with
# no BLAS threads to share the cores with, so it is split from a smaller layer than im2col's
# copies: with 8, pool1 and pool2 of the small FCN in the paper's geometry (850k and 425k
# inputs) run on two threads, pool3 (215k) on one (bench/RESULTS.md, "Issue 23, sixth round").
WORK_PER_ELEMENT = 8


def _offset_blocks(kh, kw, sy, sx, ph, pw, H, W, oh, ow):
    """Per window offset (ky, kx): its number ky·kw + kx, the output block whose pixel at that
    offset is real, and the strided input slice that block reads."""
    for ky in range(kh):
        i0, i1, y0 = valid_range(ky, sy, ph, H, 0, oh)
        for kx in range(kw):
            j0, j1, x0 = valid_range(kx, sx, pw, W, 0, ow)
            if i1 > i0 and j1 > j0:
                yield (ky * kw + kx, (slice(i0, i1), slice(j0, j1)),
                       (strided(y0, i1 - i0, sy), strided(x0, j1 - j0, sx)))


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """x (N, C, H, W) → out (N, C, oh, ow), cache.

    Windows that hang over the edge (padding, or ceil mode) only see real pixels. Instead of
    copying x into a −inf-padded array, each offset (ky, kx) updates only the block of outputs
    whose window pixel at that offset is real (see ``_offset_blocks``), starting from −inf: the same
    result, without a full copy of the input (102 MB at pool1 of FCN).
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
    out = xp.empty((N, C, oh, ow), dtype=x.dtype)
    switch = xp.zeros((N, C, oh, ow), dtype=xp.int8)     # winning offset ky·kw + kx
    offsets = list(_offset_blocks(kh, kw, sy, sx, ph, pw, H, W, oh, ow))

    def pool_channels(c0, c1):                            # channels [c0, c1) of out and switch
        xc, outc, switchc = x[:, c0:c1], out[:, c0:c1], switch[:, c0:c1]
        better, step = xp.empty(outc.shape, dtype=bool), xp.empty(outc.shape, dtype=xp.int8)
        for i, (k, (oi, oj), (yi, xj)) in enumerate(offsets):
            win, o = xc[:, :, yi, xj], outc[:, :, oi, oj]
            if i == 0 and o.shape == outc.shape:
                o[...] = win                              # offset 0 covers every window
                continue
            if i == 0:                                    # padding: some windows start outside
                outc[...] = -xp.inf
            # Where win > o (strict: ties keep the first offset), the switch becomes k:
            # s += (k − s)·better, in int8 arithmetic. Whole-array passes, unlike a masked copy.
            b, d, s = better[:, :, oi, oj], step[:, :, oi, oj], switchc[:, :, oi, oj]
            xp.greater(win, o, out=b)
            xp.maximum(o, win, out=o)
            xp.subtract(xp.int8(k), s, out=d)
            xp.multiply(d, b.view(xp.int8), out=d)
            s += d

    threads.over_channels(_in_blocks(pool_channels, N * H * W * x.itemsize), C,
                          x.size * WORK_PER_ELEMENT, xp)
    cache = (x.shape, (kh, kw), (sy, sx), (ph, pw), switch)
    return out, cache


def max_pool2d_backward(dout, cache):
    """dout (N, C, oh, ow) → dx (N, C, H, W): each gradient goes to its window's argmax.

    Written straight into dx, offset by offset, over the same blocks as the forward. When the
    windows do not overlap (stride ≥ kernel, FCN's 2×2/2 pools) the slices of different offsets
    are disjoint, so each is written once with ``multiply(..., out=)``, no temporary; and when
    they also tile the input (FCN's pools in ceil mode), every pixel of dx is written once, so
    dx needs no zeros first.
    """
    xp = get_array_module(dout)
    x_shape, (kh, kw), (sy, sx), (ph, pw), switch = cache
    N, C, H, W = x_shape
    oh, ow = dout.shape[2:]
    disjoint = sy >= kh and sx >= kw
    offsets = list(_offset_blocks(kh, kw, sy, sx, ph, pw, H, W, oh, ow))
    # Disjoint windows tile the input when their offsets' blocks, one input pixel per output
    # pixel of the block (oi, oj), add up to every pixel.
    tiled = disjoint and sum((oi.stop - oi.start) * (oj.stop - oj.start)
                             for _, (oi, oj), _ in offsets) == H * W
    dx = (xp.empty if tiled else xp.zeros)(x_shape, dtype=dout.dtype)

    def unpool_channels(c0, c1):                          # channels [c0, c1) of dx
        doutc, switchc, dxc = dout[:, c0:c1], switch[:, c0:c1], dx[:, c0:c1]
        hit = xp.empty(doutc.shape, dtype=bool)           # one mask, reused by every offset
        for k, (oi, oj), (yi, xj) in offsets:
            hit_k = hit[:, :, oi, oj]
            xp.equal(switchc[:, :, oi, oj], k, out=hit_k)
            if disjoint:
                xp.multiply(doutc[:, :, oi, oj], hit_k, out=dxc[:, :, yi, xj])
            else:
                # Overlapping windows: within one offset the pixels are distinct, so += is exact.
                dxc[:, :, yi, xj] += doutc[:, :, oi, oj] * hit_k

    threads.over_channels(_in_blocks(unpool_channels, N * H * W * dx.itemsize), C,
                          dx.size * WORK_PER_ELEMENT, xp)
    return dx


def _in_blocks(fn, channel_bytes):
    """``fn(c0, c1)`` made to run on blocks of about BLOCK_BYTES of [c0, c1) in turn; it still
    writes only channels [c0, c1), so threads may split the range first (threads.py)."""
    step = max(1, BLOCK_BYTES // max(1, channel_bytes))

    def blocked(c0, c1):
        for b0 in range(c0, c1, step):
            fn(b0, min(c1, b0 + step))
    return blocked

