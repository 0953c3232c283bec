"""Exercises for lesson 05: where FCN's crop offsets come from, and the skip fusion itself.

Layers are given as spec tuples (kind, kernel_size, stride, pad) with kind 'conv', 'pool' or
'deconv' (square layers; FCN's are). Check with

    python lessons/exercises/check.py 5

The grader compares your answers with stored ones (expected/ex05.npz): the layer maps, the crop
offsets of FCN-32s, FCN-16s and FCN-8s (19; 5 and 27; 5, 9 and 31) and of variants with another
padding of conv1_1, and the fusion's forward and backward. Only NumPy and the standard library:
the grader refuses a file that imports minifcn. The capstone (check.py --mine) fuses its skip
with your two fusion functions.
"""
from fractions import Fraction  # noqa: F401  (for your answers)

import numpy as np  # noqa: F401  (for your answers)


def coord_map(kind, kernel_size, stride, pad):
    """One layer's map from an output pixel o to the input position it sits on: i = a·o + b.

    conv, pool: the centre of o's window, i = s·o + (k − 1)/2 − pad.
    deconv: the inverse of the convolution it is the transpose of, whose map is
            o = s·i + (k − 1)/2 − pad; solve for i.
    Returns (a, b). Use Fraction for exact half pixels.
    """
    # TODO: the two cases.
    raise NotImplementedError("TODO: coord_map")


def crop_offset(path, like=()):
    """The offset at which to crop the blob at the end of ``path`` to line it up with the blob
    at the end of ``like`` (both lists of specs from the image upwards; () is the image itself).

    Compose the layer maps of each path into one map from the blob to the image (the blob's
    pixel o goes through the *last* layer's map first: i = map_1(map_2(… map_n(o)))). Two blobs
    of the same scale a line up when pixel j of the first and pixel o of the second are the same
    image point: a·j + b_path = a·o + b_like, so j = o + (b_like − b_path) / a. Return that
    offset as an int.
    """
    # TODO: compose with coord_map, then the formula above.
    raise NotImplementedError("TODO: crop_offset")


def fuse_forward(upscored, score_pool, offset):
    """FCN's skip: the coarse scores upsampled ×2 plus the finer scores, cropped to line up.

    upscored (N, K, h, w): the coarse scores after upscore2 (or upscore_pool4);
    score_pool (N, K, H, W), H ≥ offset + h: score_pool4 (or score_pool3), the larger map;
    offset: the crop offset of lesson 05 (5 for FCN-16s' score_pool4), the same on both axes.
    → fused (N, K, h, w): upscored plus the h×w window of score_pool that starts at
    (offset, offset), Caffe's Crop followed by Eltwise SUM.
    """
    # TODO: one window, one sum.
    raise NotImplementedError("TODO: fuse_forward")


def fuse_backward(dfused, score_pool_shape, offset):
    """Gradients of fused = fuse_forward(upscored, score_pool, offset): → (dupscored,
    dscore_pool).

    dfused (N, K, h, w) is dL/d(fused); score_pool_shape is (N, K, H, W). The sum passes its
    gradient to both inputs; the crop puts score_pool's share back where the window came from.
    Pixels of score_pool outside the window never reached the loss.
    """
    # TODO: the two gradients, with the shapes of the two inputs.
    raise NotImplementedError("TODO: fuse_backward")
