"""im2col: every window of a convolution side by side, so that the convolution is one GEMM.

A convolution with an (O, C, kh, kw) filter looks, for every output pixel, at the C×kh×kw window
of the (padded) input under it. im2col copies those windows into the columns of one matrix

    cols (C·kh·kw, N·oh·ow)      rows ordered (c, ky, kx), one column per output pixel (n, i, j)

and the convolution is ``W.reshape(O, C·kh·kw) @ cols`` (conv.py). The copy is made in one
operation: ``window_view`` describes all N·C·kh·kw·oh·ow window pixels as a strided *view* of
the padded input (no data moves: window (i, j) at offset (ky, kx) is just the address
(i·s + ky·d)·row + (j·s + kx·d)·column), and ``ascontiguousarray`` copies that view into the
matrix. Both NumPy and CuPy have ``lib.stride_tricks.as_strided``, so the same lines run on the
CPU and on a GPU, where they are two kernels (padding) and one copy, whatever the kernel size.

``col2im`` is the adjoint, for the textbooks' backward (dcols = Wᵀ @ dy, then col2im): it adds
each column back onto the window it came from, one kernel offset at a time. minifcn's own
backward never needs it: conv.py computes the data gradient as a convolution instead.
"""
from ..backend import get_array_module
from .sizes import conv_geometry


def pad2d(x, ph, pw, value=0):
    """x (N, C, H, W) with ph rows and pw columns of ``value`` on each side: a new array,
    or ``x`` itself when there is nothing to pad."""
    if ph == 0 and pw == 0:
        return x
    xp = get_array_module(x)
    N, C, H, W = x.shape
    out = xp.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def window_view(xpad, kernel, stride, dilation, out_hw):
    """The windows of an already padded xpad (N, C, Hp, Wp), without a copy:
    a view (N, C, kh, kw, oh, ow) with view[n, c, ky, kx, i, j] = xpad[n, c, i·sy + ky·dy,
    j·sx + kx·dx]. Write into it only where windows do not overlap (they share memory)."""
    xp = get_array_module(xpad)
    (kh, kw), (sy, sx), (dy, dx), (oh, ow) = kernel, stride, dilation, out_hw
    sN, sC, sH, sW = xpad.strides
    return xp.lib.stride_tricks.as_strided(
        xpad, (xpad.shape[0], xpad.shape[1], kh, kw, oh, ow),
        (sN, sC, sH * dy, sW * dx, sH * sy, sW * sx))


def im2col_padded(xpad, g):
    """cols (C·kh·kw, N·oh·ow) of an already padded input, for geometry ``g``
    (``sizes.ConvGeometry``): the window view, reordered (c, ky, kx, n, i, j), copied once."""
    xp = get_array_module(xpad)
    win = window_view(xpad, g.kernel, g.stride, g.dilation, g.out_hw)
    N, C, kh, kw, oh, ow = win.shape
    return xp.ascontiguousarray(win.transpose(1, 2, 3, 0, 4, 5)).reshape(C * kh * kw, -1)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """x (N, C, H, W) → cols (C·kh·kw, N·oh·ow), the matrix every convolution multiplies."""
    g = conv_geometry(x.shape[2:], kernel_size, stride, padding, dilation)
    return im2col_padded(pad2d(x, *g.padding), g)


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Adjoint of :func:`im2col`: cols (C·kh·kw, N·oh·ow) → dx (N, C, H, W), each column added
    back onto its window (overlapping windows add up; what falls on the padding is dropped)."""
    xp = get_array_module(cols)
    N, C, H, W = x_shape
    g = conv_geometry((H, W), kernel_size, stride, padding, dilation)
    (kh, kw), (sy, sx), (ph, pw), (dy, dx), (oh, ow) = g
    c6 = cols.reshape(C, kh, kw, N, oh, ow)
    dxpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for ky in range(kh):
        for kx in range(kw):        # one offset: distinct pixels, so a plain += is exact
            dxpad[:, :, ky * dy:ky * dy + sy * oh:sy, kx * dx:kx * dx + sx * ow:sx] += \
                c6[:, ky, kx].transpose(1, 0, 2, 3)
    return dxpad[:, :, ph:ph + H, pw:pw + W]
