"""Exercises for lesson 05: where FCN's crop offsets come from.

Layers are given as spec tuples (kind, kernel_size, stride, pad) with kind 'conv', 'pool' or
'deconv' (square layers; FCN's are). Check with

    python lessons/exercises/check.py 5

The grader compares ``coord_map`` with minifcn.geometry.coord_map, and ``crop_offset`` with
minifcn.geometry.crop_offset on the paths of FCN-32s, FCN-16s and FCN-8s (offsets 19; 5 and 27;
5, 9 and 31) and on variants with another padding of conv1_1.
"""
from fractions import Fraction  # noqa: F401  (for your answers)


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
