"""Exercises for lesson 02: the backward passes of convolution and max pooling, as loops.

CS231n's students write these before any fast version: the loop form makes each gradient's
path visible. For an upstream gradient dout = dL/d(out), return dL/d(inputs). Check with

    python lessons/exercises/check.py 2

The grader compares your gradients with stored answers (expected/ex02.npz), in float64: the
gradients of L = Σ dout · f(x), which lesson 02 checks against central differences. The
capstone (check.py --mine) trains a network with them. Only NumPy and the standard library: the
grader refuses a file that imports minifcn.
"""
import numpy as np  # noqa: F401  (for your answers)


def conv2d_backward_loops(dout, x, w, stride=1, padding=0):
    """Gradients of out = conv2d(x, w, b, stride, padding) (see ex01's conv2d_loops).

    dout (N, O, oh, ow), x (N, C, H, W), w (O, C, kh, kw) → (dx, dw, db) with the shapes of
    x, w and (O,). Output pixel (i, j) was computed from the window of xpad at
    (i·stride … i·stride + kh − 1, j·stride … j·stride + kw − 1), so its gradient
    dout[n, :, i, j] flows back
      - into dw, as dout[n, o, i, j] times that window, for every o;
      - into the window of dxpad, as Σ_o dout[n, o, i, j] · w[o] (windows overlap: add up);
      - into db[o], as itself.
    Then cut the padding off dxpad.
    """
    # TODO: follow each output pixel's gradient back to what produced it.
    raise NotImplementedError("TODO: conv2d_backward_loops")


def max_pool2d_backward_loops(dout, x, kernel_size, stride):
    """Gradient of out = max_pool2d(x, kernel_size, stride) (no padding, floor mode).

    dout (N, C, oh, ow), x (N, C, H, W) → dx (N, C, H, W). Each output pixel took the largest
    value of its window: its gradient goes to that one input pixel (the argmax), and every other
    pixel of the window gets nothing from it. When windows overlap (stride < kernel_size), a
    pixel can win several windows: add their gradients.
    """
    # TODO: for each window, find its winner and pass the window's gradient to it.
    raise NotImplementedError("TODO: max_pool2d_backward_loops")
