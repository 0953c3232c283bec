"""Naive loop references for convolution, transposed convolution and max pooling.

Written straight from the definitions, independently of im2col, so that the fast kernels (and
the lessons) have something obvious to be compared against. They loop over output pixels in
Python: use them on small inputs only. NumPy only.
"""
import math

import numpy as np


def conv2d_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    """out[n, o, i, j] = b[o] + Σ_{c,ky,kx} w[o, c, ky, kx] · x_pad[n, c, i·s + ky·d, j·s + kx·d]."""
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


def max_pool2d_naive(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Max over each window, clipped to the real pixels; sizes by PyTorch's documented formula."""
    N, C, H, W = x.shape
    k, p = kernel_size, padding
    s = stride or kernel_size

    def out_size(n):
        o = (math.ceil if ceil_mode else math.floor)((n + 2 * p - k) / s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        return o

    oh, ow = out_size(H), out_size(W)
    out = np.empty((N, C, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s - p, j * s - p
            ys, xs = max(y0, 0), max(x0, 0)
            ye, xe = min(y0 + k, H), min(x0 + k, W)
            out[:, :, i, j] = x[:, :, ys:ye, xs:xe].max(axis=(2, 3))
    return out
