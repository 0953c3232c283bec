"""Exercises for lesson 08: shift-and-stitch.

A net whose output has stride f answers once per f×f block. Run it on f² copies of the input,
copy (dy, dx) moved up by dy and left by dx pixels (zeros coming in at the bottom and right),
and interleave the outputs: pixel (i, j) of copy (dy, dx) goes to (f·i + dy, f·j + dx) of a
dense map. Check with

    python lessons/exercises/check.py 8

The grader checks the dense map against the same net with its stride removed and the following
filters dilated (lesson 08's "dilated twin"), computed with minifcn.functional.conv2d_forward.
"""
import numpy as np  # noqa: F401  (for your answers)


def interleave(outputs, f):
    """outputs (f², N, K, h, w), copy k = dy·f + dx → dense (N, K, f·h, f·w) with
    dense[:, :, f·i + dy, f·j + dx] = outputs[dy·f + dx][:, :, i, j].
    """
    # TODO: one strided slice assignment per (dy, dx).
    raise NotImplementedError("TODO: interleave")


def shift_and_stitch(net, x, f):
    """Dense output of ``net`` (a function of an (N, C, H, W) batch whose output has stride f).

    Build the f² shifted copies of x (copy (dy, dx): shifted[..., :H − dy, :W − dx] =
    x[..., dy:, dx:], zeros elsewhere), run ``net`` on each, and ``interleave`` the outputs.
    Returns the dense map (N, K, f·h, f·w).
    """
    # TODO: the shifted copies, the f² passes, interleave.
    raise NotImplementedError("TODO: shift_and_stitch")
