"""The bilinear upsampling filter that FCN initialises its deconvolutions with.

Caffe's ``surgery.upsample_filt``: for a kernel of size k, factor f = (k + 1) // 2 and centre
c = f − 1 (k odd) or f − 0.5 (k even); w[i, j] = (1 − |i − c|/f)(1 − |j − c|/f). With stride f
and k = 2f this transposed convolution is exactly bilinear interpolation by a factor f (away from
the borders): every output pixel gets weights that sum to 1 from its two nearest input pixels per
axis. FCN uses k = 4, s = 2 (×2), k = 16, s = 8 (×8), k = 32, s = 16 and k = 64, s = 32.
"""
import numpy as np


def upsample_filter_1d(kernel_size, dtype=np.float32):
    """The (k,) bilinear weights along one axis: 1 − |i − c|/f. The 2-D kernel is their outer
    product, so bilinear upsampling can also be done one axis at a time."""
    k = int(kernel_size)
    factor = (k + 1) // 2
    center = factor - 1 if k % 2 == 1 else factor - 0.5
    og = np.arange(k, dtype=np.float64)
    return (1 - np.abs(og - center) / factor).astype(dtype)


def upsample_filter(kernel_size, dtype=np.float32):
    """The (k, k) bilinear kernel."""
    filt = upsample_filter_1d(kernel_size, np.float64)
    return np.outer(filt, filt).astype(dtype)


def bilinear_weight(in_channels, out_channels, kernel_size, dtype=np.float32):
    """(in, out, k, k) deconvolution weight: the bilinear kernel on the channel diagonal.

    Class c is upsampled into class c only; every other channel pair is zero.
    """
    w = np.zeros((in_channels, out_channels, kernel_size, kernel_size), dtype=dtype)
    filt = upsample_filter(kernel_size, dtype)
    for c in range(min(in_channels, out_channels)):
        w[c, c] = filt
    return w
