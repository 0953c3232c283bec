"""Naive loop references for convolution, transposed convolution and max pooling, forward and
backward.

Written straight from the definitions, independently of im2col, so that the fast kernels (and
the lessons) have something obvious to be compared against. They loop over output pixels in
Python: use them on small inputs only. NumPy only; stride, padding, dilation are plain ints.

The backward passes are written the way a student writes them first (CS231n's
``conv_backward_naive``): walk over the same windows as the forward, and for each output pixel
send its gradient back to every input and weight that produced it. A forward that *reads*
``x[window]`` has a backward that *adds into* ``dx[window]``.
"""
import math

import numpy as np


def conv2d_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    """out[n, o, i, j] = b[o] + Σ_{c,ky,kx} w[o, c, ky, kx] · x_pad[n, c, i·s + ky·d, j·s + kx·d].
    """
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    s, p, d = stride, padding, dilation
    xpad = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=x.dtype)
    xpad[:, :, p:p + H, p:p + W] = x
    oh = (H + 2 * p - d * (kh - 1) - 1) // s + 1
    ow = (W + 2 * p - d * (kw - 1) - 1) // s + 1
    out = np.zeros((N, O, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = xpad[:, :, i * s:i * s + d * (kh - 1) + 1:d, j * s:j * s + d * (kw - 1) + 1:d]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", window, w)
    if b is not None:
        out += b[None, :, None, None]
    return out


def conv_transpose2d_naive(x, w, b=None, stride=1, padding=0):
    """Scatter form: every input pixel adds x[n, c, i, j] · w[c] into the output at (i·s, j·s).

    w: (C_in, C_out, kh, kw). The full (uncropped) map is (H−1)·s + kh; padding p then removes
    p rows/columns from each side.
    """
    N, C, H, W = x.shape
    _, O, kh, kw = w.shape
    s, p = stride, padding
    full = np.zeros((N, O, (H - 1) * s + kh, (W - 1) * s + kw), dtype=x.dtype)
    for i in range(H):
        for j in range(W):
            full[:, :, i * s:i * s + kh, j * s:j * s + kw] += np.einsum("nc,cohw->nohw",
                                                                       x[:, :, i, j], w)
    out = full[:, :, p:full.shape[2] - p, p:full.shape[3] - p].copy()
    if b is not None:
        out += b[None, :, None, None]
    return out


def _pool_out_size(n, k, s, p, ceil_mode):
    """PyTorch's documented formula; a last window starting in the padding is dropped."""
    o = (math.ceil if ceil_mode else math.floor)((n + 2 * p - k) / s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def max_pool2d_naive(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Max over each window, clipped to the real pixels; sizes by PyTorch's documented formula."""
    N, C, H, W = x.shape
    k, p = kernel_size, padding
    s = stride or kernel_size
    oh, ow = _pool_out_size(H, k, s, p, ceil_mode), _pool_out_size(W, k, s, p, ceil_mode)
    out = np.empty((N, C, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s - p, j * s - p
            ys, xs = max(y0, 0), max(x0, 0)
            ye, xe = min(y0 + k, H), min(x0 + k, W)
            out[:, :, i, j] = x[:, :, ys:ye, xs:xe].max(axis=(2, 3))
    return out


def conv2d_backward_naive(dout, x, w, stride=1, padding=0, dilation=1):
    """Backward of ``conv2d_naive``: dout (N, O, oh, ow) → (dx (N, C, H, W), dw (O, C, kh, kw),
    db (O,)).

    out[n, o, i, j] = Σ w[o] · window(n, i, j), so each output pixel adds dout[n, o, i, j] · w[o]
    into its window of dx and dout[n, o, i, j] · window into dw[o].
    """
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    s, p, d = stride, padding, dilation
    xpad = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=x.dtype)
    xpad[:, :, p:p + H, p:p + W] = x
    dxpad = np.zeros_like(xpad)
    dw = np.zeros_like(w)
    oh, ow = dout.shape[2:]
    for n in range(N):
        for o in range(O):
            for i in range(oh):
                for j in range(ow):
                    rows = slice(i * s, i * s + d * (kh - 1) + 1, d)
                    cols = slice(j * s, j * s + d * (kw - 1) + 1, d)
                    dw[o] += dout[n, o, i, j] * xpad[n, :, rows, cols]
                    dxpad[n, :, rows, cols] += dout[n, o, i, j] * w[o]
    dx = dxpad[:, :, p:p + H, p:p + W]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def conv_transpose2d_backward_naive(dout, x, w, stride=1, padding=0):
    """Backward of ``conv_transpose2d_naive``: dout (N, C_out, OH, OW) → (dx (N, C_in, H, W),
    dw (C_in, C_out, kh, kw), db (C_out,)).

    The forward stamped x[n, c, i, j] · w[c] into the full map at (i·s, j·s) and cut p from each
    side; so each input pixel's gradient is the stamp's window of the (uncut) gradient against
    w[c], and w[c] collects that window times x[n, c, i, j].
    """
    N, C, H, W = x.shape
    _, O, kh, kw = w.shape
    s, p = stride, padding
    OH, OW = dout.shape[2:]
    dfull = np.zeros((N, O, OH + 2 * p, OW + 2 * p), dtype=dout.dtype)
    dfull[:, :, p:p + OH, p:p + OW] = dout          # what the cut removed had no effect: zero
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    window = dfull[n, :, i * s:i * s + kh, j * s:j * s + kw]     # (O, kh, kw)
                    dx[n, c, i, j] = (window * w[c]).sum()
                    dw[c] += x[n, c, i, j] * window
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def max_pool2d_backward_naive(dout, x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Backward of ``max_pool2d_naive``: dout (N, C, oh, ow) → dx (N, C, H, W).

    Only the maximum of each window (the first one in row-major order when there is a tie, as
    in Caffe and PyTorch) passed through, so only it receives the window's gradient. Windows that
    overlap can share a maximum: their gradients add up.
    """
    N, C, H, W = x.shape
    k, p = kernel_size, padding
    s = stride or kernel_size
    oh, ow = _pool_out_size(H, k, s, p, ceil_mode), _pool_out_size(W, k, s, p, ceil_mode)
    if dout.shape != (N, C, oh, ow):
        raise ValueError(f"dout {dout.shape} is not the pooled shape {(N, C, oh, ow)}")
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    y0, x0 = max(i * s - p, 0), max(j * s - p, 0)
                    window = x[n, c, y0:min(i * s - p + k, H), x0:min(j * s - p + k, W)]
                    dy, dx_ = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, y0 + dy, x0 + dx_] += dout[n, c, i, j]
    return dx


def expand_runs_naive(x, rows, cols):
    """The full map of a map stored once per run (functional/runs.py): stored pixel (i, j)
    copied into every pixel of its block, rows[i] rows by cols[j] columns."""
    out = np.zeros(x.shape[:2] + (sum(rows), sum(cols)), dtype=x.dtype)
    r0 = 0
    for i, n_rows in enumerate(rows):
        c0 = 0
        for j, n_cols in enumerate(cols):
            out[:, :, r0:r0 + n_rows, c0:c0 + n_cols] = x[:, :, i:i + 1, j:j + 1]
            c0 += n_cols
        r0 += n_rows
    return out


def expand_runs_backward_naive(dout, rows, cols):
    """The adjoint of ``expand_runs_naive``: each stored pixel gets the sum over its block."""
    dx = np.zeros(dout.shape[:2] + (len(rows), len(cols)), dtype=dout.dtype)
    r0 = 0
    for i, n_rows in enumerate(rows):
        c0 = 0
        for j, n_cols in enumerate(cols):
            dx[:, :, i, j] = dout[:, :, r0:r0 + n_rows, c0:c0 + n_cols].sum(axis=(2, 3))
            c0 += n_cols
        r0 += n_rows
    return dx


def take_backward_naive(dout, rows_index, cols_index, stored_hw):
    """The adjoint of taking rows ``rows_index`` and columns ``cols_index`` (None: all) of a
    (N, C, h, w) map: each taken pixel's gradient added into the pixel it was taken from."""
    h, w = stored_hw
    rows_index = range(h) if rows_index is None else rows_index
    cols_index = range(w) if cols_index is None else cols_index
    dx = np.zeros(dout.shape[:2] + (h, w), dtype=dout.dtype)
    for a, i in enumerate(rows_index):
        for b, j in enumerate(cols_index):
            dx[:, :, i, j] += dout[:, :, a, b]
    return dx
