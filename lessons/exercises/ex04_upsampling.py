"""Exercises for lesson 04: the bilinear kernel, and a transposed convolution by stamping.

Check with

    python lessons/exercises/check.py 4

The grader compares ``bilinear_kernel`` with minifcn.functional.upsample_filter (Caffe's
``upsample_filt``) and ``conv_transpose2d_stamps`` with minifcn's loop reference
(minifcn.functional.naive.conv_transpose2d_naive) and its fast kernel (conv_transpose2d_forward).
"""
import numpy as np  # noqa: F401  (for your answers)


def bilinear_kernel(k):
    """The (k, k) bilinear upsampling kernel FCN initialises its deconvolutions with.

    factor f = (k + 1) // 2; centre c = f − 1 if k is odd, else f − 0.5;
    w[i, j] = (1 − |i − c| / f) · (1 − |j − c| / f).
    With stride f and k = 2f, a transposed convolution with this kernel is bilinear
    interpolation by a factor f (away from the borders).
    """
    # TODO: a 1-d profile over 0 … k−1, then the outer product of it with itself.
    raise NotImplementedError("TODO: bilinear_kernel")


def conv_transpose2d_stamps(x, w, stride, padding=0):
    """Transposed convolution ("deconvolution") as a sum of stamped kernels, without bias.

    x (N, C_in, H, W), w (C_in, C_out, kh, kw) (PyTorch's and Caffe's layout)
    → out (N, C_out, (H − 1)·stride − 2·padding + kh, (W − 1)·stride − 2·padding + kw).
    Every input pixel (i, j) stamps its kernel, scaled by its value, onto the full output at
    (i·stride, j·stride): full[n, :, i·s : i·s + kh, j·s : j·s + kw] += Σ_c x[n, c, i, j] · w[c].
    The stamps overlap where kh > stride, and add up there. Then ``padding`` rows and columns
    are cut from each side of the full map.
    """
    # TODO: allocate the full map (H − 1)·s + kh by (W − 1)·s + kw, loop over the input pixels,
    # add the stamps, crop the padding.
    raise NotImplementedError("TODO: conv_transpose2d_stamps")
