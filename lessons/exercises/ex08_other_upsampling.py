"""Exercises for lesson 08: shift-and-stitch, and max unpooling.

A net whose output has stride f answers once per f×f block. Run it on f² copies of the input,
copy (dy, dx) moved up by dy and left by dx pixels (zeros coming in at the bottom and right),
and interleave the outputs: pixel (i, j) of copy (dy, dx) goes to (f·i + dy, f·j + dx) of a
dense map. Check with

    python lessons/exercises/check.py 8

The grader compares your answers with stored ones (expected/ex08.npz): the dense map against
the same net with its stride removed and the following filters dilated (lesson 08's "dilated
twin"). Only NumPy and the standard library: the grader refuses a file that imports minifcn.
"""
import numpy as np  # noqa: F401  (for your answers)


def interleave(outputs, f):
    """outputs (f², N, K, h, w), copy k = dy·f + dx → dense (N, K, f·h, f·w) with
    dense[:, :, f·i + dy, f·j + dx] = outputs[dy·f + dx][:, :, i, j].
    """
    # TODO: which pixels of the dense map does copy (dy, dx) fill?
    raise NotImplementedError("TODO: interleave")


def shift_and_stitch(net, x, f):
    """Dense output of ``net`` (a function of an (N, C, H, W) batch whose output has stride f).

    Build the f² shifted copies of x (copy (dy, dx) is x moved up by dy rows and left by dx
    columns, zeros coming in at the bottom and the right), run ``net`` on each, and
    ``interleave`` the outputs.
    Returns the dense map (N, K, f·h, f·w).
    """
    # TODO: the shifted copies, the f² passes, then your interleave.
    raise NotImplementedError("TODO: shift_and_stitch")


def max_unpool2d(x, indices, output_size):
    """Max unpooling (DeconvNet, SegNet; lesson 08): the pooled values back where they came from.

    x (N, C, h, w): a max-pooled map (or what a decoder computed at its size); indices
    (N, C, h, w) int: where each maximum was in the pooling's input, as h·W + w in its own
    (H, W) plane (PyTorch's ``return_indices``); output_size (H, W): the pooling's input size.
    → out (N, C, H, W): zero everywhere except at each index, which holds its value. (The
    windows here never overlap: stride = kernel size, as in SegNet.)
    """
    # TODO: one flat plane per image and channel.
    raise NotImplementedError("TODO: max_unpool2d")
