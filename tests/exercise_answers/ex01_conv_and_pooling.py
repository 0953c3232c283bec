"""Correct answers to lesson 01's exercises, written with NumPy only (the grader's tests)."""
import math

import numpy as np


def conv2d_loops(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    out = np.zeros((N, O, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xpad[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(win, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def max_pool2d_loops(x, kernel_size, stride, ceil_mode=False):
    N, C, H, W = x.shape
    k, s = kernel_size, stride
    size = (lambda n: math.ceil((n - k) / s) + 1) if ceil_mode else (lambda n: (n - k) // s + 1)
    oh, ow = size(H), size(W)
    out = np.zeros((N, C, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out
