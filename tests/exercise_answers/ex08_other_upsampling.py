"""Correct answers to lesson 08's exercises, written with NumPy only (the grader's tests)."""
import numpy as np


def interleave(outputs, f):
    _, N, K, h, w = outputs.shape
    dense = np.zeros((N, K, f * h, f * w))
    for dy in range(f):
        for dx in range(f):
            dense[:, :, dy::f, dx::f] = outputs[dy * f + dx]
    return dense


def shift_and_stitch(net, x, f):
    H, W = x.shape[2:]
    outs = []
    for dy in range(f):
        for dx in range(f):
            shifted = np.zeros_like(x)
            shifted[:, :, :H - dy, :W - dx] = x[:, :, dy:, dx:]
            outs.append(net(shifted))
    return interleave(np.stack(outs), f)


def max_unpool2d(x, indices, output_size):
    N, C = x.shape[:2]
    H, W = output_size
    out = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            out[n, c, indices[n, c].ravel()] = x[n, c].ravel()
    return out.reshape(N, C, H, W)
