"""Exercise for lesson 03: turn a fully connected layer into a convolution.

A Linear layer that reads a flattened C×H×W map (flattened in C, H, W order, as nn.Flatten and
NumPy's reshape do) computes, for each of its outputs, one weighted sum over the whole map: the
same number as an H×W convolution at a single position. This is how FCN turns VGG16's fc6 into
a 7×7 convolution over pool5 and fc7 into a 1×1 convolution. Check with

    python lessons/exercises/check.py 3

The grader compares your filters with stored answers (expected/ex03.npz). Only NumPy and the
standard library: the grader refuses a file that imports minifcn.
"""
import numpy as np  # noqa: F401  (for your answers)


def convolutionize(weight, bias, input_shape):
    """weight (out, C·H·W), bias (out,), input_shape (C, H, W) → (conv_weight, conv_bias).

    conv_weight has shape (out, C, H, W) and conv_bias (out,), so that a convolution with them
    over a C×H×W map gives a 1×1 map equal to weight @ map.reshape(-1) + bias.
    """
    # TODO: which shape must the filter bank have, and does it share memory with the Linear?
    raise NotImplementedError("TODO: convolutionize")
