"""Correct answers to lesson 02's exercises, written with NumPy only (the grader's tests)."""
import numpy as np


def conv2d_backward_loops(dout, x, w, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    p, s = padding, stride
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxpad, dw = np.zeros_like(xpad), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = xpad[:, :, i * s:i * s + kh, j * s:j * s + kw]
            g = dout[:, :, i, j]                                  # (N, O)
            dw += np.tensordot(g, win, axes=([0], [0]))
            dxpad[:, :, i * s:i * s + kh, j * s:j * s + kw] += np.tensordot(g, w, axes=([1], [0]))
    db = dout.sum(axis=(0, 2, 3))
    return dxpad[:, :, p:p + H, p:p + W], dw, db


def max_pool2d_backward_loops(dout, x, kernel_size, stride):
    k, s = kernel_size, stride
    dx = np.zeros_like(x)
    N, C = x.shape[:2]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(N, C, -1)
            a = win.argmax(axis=2)
            ky, kx = np.unravel_index(a, (k, k))
            for n in range(N):
                for c in range(C):
                    dx[n, c, i * s + ky[n, c], j * s + kx[n, c]] += dout[n, c, i, j]
    return dx
