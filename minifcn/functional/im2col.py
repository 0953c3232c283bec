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


def im2col_rows(xpad, kernel, stride, dilation, r0, r1, ow, out=None):
    """Windows of output rows [r0, r1) of an already padded input.

    xpad: (N, C, Hp, Wp) padded input.  kernel, stride, dilation: (h, w) pairs.
    Returns cols (N, C, kh, kw, r1 − r0, ow); ``out`` may be given to reuse a buffer.
    """
    xp = get_array_module(xpad)
    N, C = xpad.shape[:2]
    (kh, kw), (sy, sx), (dy, dx) = kernel, stride, dilation
    rows = r1 - r0
    if out is None:
        out = xp.empty((N, C, kh, kw, rows, ow), dtype=xpad.dtype)
    for ky in range(kh):
        y0 = r0 * sy + ky * dy           # first input row seen by offset ky
        y1 = y0 + sy * (rows - 1) + 1
        for kx in range(kw):
            x0 = kx * dx
            x1 = x0 + sx * (ow - 1) + 1
            out[:, :, ky, kx] = xpad[:, :, y0:y1:sy, x0:x1:sx]
    return out


def col2im_rows(cols, dxpad, stride, dilation, r0):
    """Adjoint of :func:`im2col_rows`: add windows back into a padded gradient, in place.

    cols: (N, C, kh, kw, rows, ow), the gradient w.r.t. the windows of output rows [r0, r0+rows).
    dxpad: (N, C, Hp, Wp), accumulated into (overlapping windows add up).
    """
    N, C, kh, kw, rows, ow = cols.shape
    (sy, sx), (dy, dx) = stride, dilation
    for ky in range(kh):
        y0 = r0 * sy + ky * dy
        y1 = y0 + sy * (rows - 1) + 1
        for kx in range(kw):
            x0 = kx * dx
            x1 = x0 + sx * (ow - 1) + 1
            dxpad[:, :, y0:y1:sy, x0:x1:sx] += cols[:, :, ky, kx]
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
