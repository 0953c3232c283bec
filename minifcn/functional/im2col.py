"""im2col and col2im: convolution as a matrix product.

A convolution with a (O, C, kh, kw) filter looks, for every output pixel, at a C×kh×kw window of
the (padded) input. im2col copies those windows side by side into a matrix

    cols (C·kh·kw, oh·ow)          one column per output pixel, rows ordered (c, ky, kx)

so that the convolution is one GEMM, ``W.reshape(O, C·kh·kw) @ cols`` → (O, oh·ow), which is
already the NCHW layout of one output image (no transpose afterwards).

The copy is done the Chainer way: a loop over the kh·kw kernel offsets, each a plain strided slice
of the padded input (ky, kx) → all output pixels at once. No fancy indexing, no scatter/``add.at``,
so the same lines run on NumPy and CuPy and col2im is deterministic.

Both functions work on a band of output rows ``[r0, r1)`` so that callers can build the (large)
buffer a few rows at a time: for conv1_2 of FCN on a 500×375 image, cols for the whole image
would be 576 × 400k floats (0.9 GB). ``rows_per_chunk`` picks the band height for a byte budget.
"""
from ..backend import get_array_module


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution: floor((size + 2p − d(k−1) − 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def pair(v, name="value"):
    """An int or a pair of ints → (v_h, v_w)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def pad2d(x, ph, pw, value=0):
    """Pad the last two axes of (N, C, H, W) by ph rows and pw columns on each side.

    Returns ``x`` itself when there is nothing to pad.
    """
    if ph == 0 and pw == 0:
        return x
    xp = get_array_module(x)
    N, C, H, W = x.shape
    out = xp.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def rows_per_chunk(bytes_per_row, total_rows, chunk_bytes):
    """How many output rows fit in ``chunk_bytes`` (at least one, at most all)."""
    if not chunk_bytes:
        return total_rows
    return max(1, min(total_rows, int(chunk_bytes // max(1, bytes_per_row))))


def valid_range(offset, stride, pad, size, o0, o1):
    """Outputs o in [o0, o1) whose input index o·stride + offset − pad is a real pixel
    (0 … size−1), as (lo, hi, first input index); lo == hi when there is none.

    ``offset`` is ky·dilation for a convolution's kernel row ky. The rest of [o0, o1) reads
    padding, i.e. zeros (convolution) or nothing (pooling).
    """
    lo = max(o0, -(-(pad - offset) // stride))          # ceil((pad − offset) / stride)
    hi = min(o1, (size - 1 + pad - offset) // stride + 1)
    hi = max(hi, lo)
    return lo, hi, lo * stride + offset - pad


def im2col_rows(xpad, kernel, stride, dilation, r0, r1, ow, out=None, padding=(0, 0)):
    """Windows of output rows [r0, r1).

    xpad: (N, C, Hp, Wp), already padded, or the unpadded input together with ``padding``
    (ph, pw): then the padding is implicit — each kernel offset copies only the block of the
    band that reads real pixels and writes zeros around it, so no padded copy of the input is
    ever made (one fewer pass over 100 MB for FCN's first layers).
    kernel, stride, dilation: (h, w) pairs.
    Returns cols (N, C, kh, kw, r1 − r0, ow); ``out`` may be given to reuse a buffer.
    """
    xp = get_array_module(xpad)
    N, C, H, W = xpad.shape
    (kh, kw), (sy, sx), (dy, dx), (ph, pw) = kernel, stride, dilation, padding
    if out is None:
        out = xp.empty((N, C, kh, kw, r1 - r0, ow), dtype=xpad.dtype)
    for ky in range(kh):
        i0, i1, y0 = valid_range(ky * dy, sy, ph, H, r0, r1)     # band rows that see real rows
        for kx in range(kw):
            j0, j1, x0 = valid_range(kx * dx, sx, pw, W, 0, ow)
            dst = out[:, :, ky, kx]                             # (N, C, rows, ow)
            if i1 == i0 or j1 == j0:
                dst[...] = 0
                continue
            dst[:, :, i0 - r0:i1 - r0, j0:j1] = xpad[:, :, y0:y0 + sy * (i1 - i0 - 1) + 1:sy,
                                                     x0:x0 + sx * (j1 - j0 - 1) + 1:sx]
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
                dxpad[:, :, y0:y0 + sy * (i1 - i0 - 1) + 1:sy, x0:x0 + sx * (j1 - j0 - 1) + 1:sx] \
                    += cols[:, :, ky, kx, i0 - r0:i1 - r0, j0:j1]
    return dxpad


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """x (N, C, H, W) → cols (N, C, kh, kw, oh, ow), all output rows at once."""
    (kh, kw), (sy, sx), (ph, pw), (dy, dx) = (pair(kernel_size), pair(stride),
                                              pair(padding), pair(dilation))
    N, C, H, W = x.shape
    oh = conv_output_size(H, kh, sy, ph, dy)
    ow = conv_output_size(W, kw, sx, pw, dx)
    if oh < 1 or ow < 1:
        raise ValueError(f"input {H}×{W} is too small for kernel {kh}×{kw} "
                         f"(dilation {dy}, padding {ph}): output would be {oh}×{ow}")
    return im2col_rows(pad2d(x, ph, pw), (kh, kw), (sy, sx), (dy, dx), 0, oh, ow)


def col2im(cols, x_shape, stride=1, padding=0, dilation=1):
    """Adjoint of :func:`im2col`: cols (N, C, kh, kw, oh, ow) → dx (N, C, H, W)."""
    xp = get_array_module(cols)
    N, C, H, W = x_shape
    (sy, sx), (ph, pw), (dy, dx) = pair(stride), pair(padding), pair(dilation)
    dxpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    col2im_rows(cols, dxpad, (sy, sx), (dy, dx), 0)
    return dxpad[:, :, ph:ph + H, pw:pw + W]
