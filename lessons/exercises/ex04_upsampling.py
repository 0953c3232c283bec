"""Exercises for lesson 04: the bilinear kernel, and a transposed convolution by stamping,
forward and backward.

Check with

    python lessons/exercises/check.py 4

The grader compares your answers with stored ones (expected/ex04.npz), in float64. Only NumPy
and the standard library: the grader refuses a file that imports minifcn. The capstone
(check.py --mine) upsamples with your kernel and your transposed convolution, and learns its
intermediate upsampling with your backward.
"""
import numpy as np  # noqa: F401  (for your answers)


def bilinear_kernel(k):
    """The (k, k) bilinear upsampling kernel FCN initialises its deconvolutions with.

    factor f = (k + 1) // 2; centre c = f − 1 if k is odd, else f − 0.5;
    w[i, j] = (1 − |i − c| / f) · (1 − |j − c| / f).
    With stride f and k = 2f, a transposed convolution with this kernel is bilinear
    interpolation by a factor f (away from the borders).
    """
    # TODO: a 1-d profile first; how does a 2-d kernel follow from it?
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
    # TODO: the full map, one stamp per input pixel, then the cut.
    raise NotImplementedError("TODO: conv_transpose2d_stamps")


def conv_transpose2d_backward(dout, x, w, stride, padding=0):
    """Gradients of out = conv_transpose2d_stamps(x, w, stride, padding): → (dx, dw).

    dout (N, C_out, OH, OW) is dL/d(out); return dx (N, C_in, H, W) and dw (C_in, C_out, kh, kw).
    Every stamp was x[n, c, i, j] · w[c] added to a window of the full (uncut) map, so
      - x[n, c, i, j] gets the sum, over that window, of the full map's gradient times w[c];
      - w[c] gets that window of the full map's gradient times x[n, c, i, j], from every pixel
        and every image.
    The full map's gradient is dout with ``padding`` zeros around it: the cut rows and columns
    never reached the loss. (Compare with conv2d_backward_loops of ex02: the same two sums with
    the roles of input and output swapped. That is what "adjoint" means in lesson 04.)
    """
    # TODO: rebuild the full map's gradient, then visit the stamps again.
    raise NotImplementedError("TODO: conv_transpose2d_backward")
