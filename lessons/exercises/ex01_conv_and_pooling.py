"""Exercises for lesson 01: convolution and max pooling as plain loops.

Write the two forward passes the way their definitions read, with Python loops over the output
pixels and NumPy for the dot product of one window. Speed does not matter here; being obviously
right does. Check your answers with

    python lessons/exercises/check.py 1

The grader compares them with stored answers (expected/ex01.npz) on odd sizes, strides and
paddings, in float64. Only NumPy and the standard library: the grader refuses a file that imports
minifcn.
"""
import numpy as np  # noqa: F401  (for your answers)


def conv2d_loops(x, w, b, stride=1, padding=0):
    """2-d convolution (cross-correlation, as every framework computes it).

    x (N, C, H, W), w (O, C, kh, kw), b (O,) → out (N, O, oh, ow), where
        oh = (H + 2·padding − kh) // stride + 1       (the same for ow)
        out[n, o, i, j] = b[o] + Σ_{c, ky, kx} w[o, c, ky, kx] · xpad[n, c, i·stride + ky,
                                                                        j·stride + kx]
    and xpad is x with ``padding`` zeros around each image.
    """
    # TODO: pad, allocate the output, and fill it one output pixel (i, j) at a time: a window of
    # every image against every filter (the batch can stay vectorised).
    raise NotImplementedError("TODO: conv2d_loops")


def max_pool2d_loops(x, kernel_size, stride, ceil_mode=False):
    """Max pooling without padding, as FCN's pool1 … pool5 do it.

    x (N, C, H, W) → out (N, C, oh, ow): out[n, c, i, j] is the largest value of the window of
    size kernel_size × kernel_size that starts at (i·stride, j·stride).
        oh = (H − k) // s + 1           with ceil_mode=False (a last partial window is dropped)
        oh = ceil((H − k) / s) + 1      with ceil_mode=True (Caffe's rounding, FCN's)
    With ceil_mode the last window can hang over the edge of the image: take the maximum of the
    real pixels it covers.
    """
    # TODO: the output size first (both roundings), then one window per output pixel.
    raise NotImplementedError("TODO: max_pool2d_loops")
