"""Correct answers to lesson 05's exercises, written with NumPy only (the grader's tests)."""
from fractions import Fraction

import numpy as np


def coord_map(kind, kernel_size, stride, pad):
    centre = Fraction(kernel_size - 1, 2) - pad
    if kind == "deconv":
        return Fraction(1, stride), -centre / stride
    return Fraction(stride), centre


def _compose(path):
    a, b = Fraction(1), Fraction(0)
    for spec in path:                  # i = a·(a_l·o + b_l) + b, the last layer innermost
        a_l, b_l = coord_map(*spec)
        a, b = a * a_l, a * b_l + b
    return a, b


def crop_offset(path, like=()):
    (a, b), (_, b_like) = _compose(path), _compose(like)
    return int((b_like - b) / a)


def fuse_forward(upscored, score_pool, offset):
    h, w = upscored.shape[2:]
    return upscored + score_pool[:, :, offset:offset + h, offset:offset + w]


def fuse_backward(dfused, score_pool_shape, offset):
    h, w = dfused.shape[2:]
    dscore = np.zeros(score_pool_shape)
    dscore[:, :, offset:offset + h, offset:offset + w] = dfused
    return dfused, dscore
