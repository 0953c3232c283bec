"""The naive backward references, and the fast kernels against them.

First the references themselves: each loop backward in ``minifcn.functional.naive`` must be the
numerical gradient of its loop forward. Then every fast backward (im2col/col2im convolution,
transposed convolution as the convolution's adjoint, max pooling with switches) must give the
references' gradients, on odd sizes, strides 1–3, padding (up to FCN's 100), dilation 2 and ceil
mode, in float64.
"""
import numpy as np
import pytest

import minifcn.functional as F
from minifcn.backend import to_cpu
from minifcn.functional import naive
from minifcn.functional.cpu import shifted
from minifcn.gradcheck import numerical_gradient, relative_error

CONV_CASES = [  # (N, C, H, W, O, k, stride, pad, dilation)
    (2, 3, 7, 9, 4, 3, 1, 1, 1),
    (1, 2, 8, 5, 3, 3, 2, 0, 1),
    (2, 3, 9, 11, 2, 2, 3, 4, 2),
    (1, 2, 11, 7, 3, 3, 2, 2, 2),
    (2, 1, 6, 6, 2, 5, 3, 1, 1),
    (1, 3, 5, 4, 2, 3, 1, 100, 1),     # FCN's conv1_1 padding: only the middle is computed
    (1, 2, 6, 5, 3, 3, 2, 7, 1),       # stride 2, 2 rows of padding-only windows per edge
    (2, 2, 5, 6, 2, 3, 1, 9, 2),       # dilation 2, 5 rows of padding-only windows per edge
    (2, 4, 7, 6, 4, 3, 1, 1, 1),       # O = C: the forward and the data gradient both shifted
    (1, 2, 4, 7, 3, 3, 3, 5, 1),       # stride 3, uneven margins against the input size
    (1, 4, 7, 7, 3, 7, 1, 0, 1),       # fc6-like: the kernel as large as the input
]
DECONV_CASES = [  # (N, C_in, H, W, C_out, k, stride, pad)
    (2, 3, 4, 5, 2, 4, 2, 1),
    (1, 2, 3, 3, 3, 3, 1, 0),
    (1, 3, 5, 3, 3, 16, 8, 0),         # upscore8's geometry
    (2, 2, 3, 4, 4, 5, 3, 2),
    (1, 1, 2, 2, 1, 2, 3, 0),          # stride > kernel: gaps in the output
]
POOL_CASES = [  # (kernel, stride, padding, ceil_mode)
    (2, 2, 0, True), (2, 2, 0, False), (3, 2, 1, True), (3, 2, 0, True), (3, 1, 1, False),
    (2, 3, 1, True), (3, 3, 1, False),
]


def _randn(rng, *shape):
    return rng.standard_normal(shape)


# --- the references are the gradients of the naive forwards ----------------------------------
@pytest.mark.parametrize("case", [CONV_CASES[0], CONV_CASES[2], CONV_CASES[3]])
def test_conv2d_backward_naive_is_the_gradient(case, rng):
    N, C, H, W, O, k, s, p, d = case
    x, w, b = _randn(rng, N, C, H, W), _randn(rng, O, C, k, k), _randn(rng, O)
    dout = rng.standard_normal(naive.conv2d_naive(x, w, b, s, p, d).shape)
    grads = naive.conv2d_backward_naive(dout, x, w, s, p, d)
    for g, arr in zip(grads, (x, w, b)):
        num = numerical_gradient(lambda: naive.conv2d_naive(x, w, b, s, p, d), arr, dout)
        assert relative_error(g, num) < 1e-7


@pytest.mark.parametrize("case", DECONV_CASES[:2] + DECONV_CASES[3:])
def test_conv_transpose2d_backward_naive_is_the_gradient(case, rng):
    N, C, H, W, O, k, s, p = case
    x, w, b = _randn(rng, N, C, H, W), _randn(rng, C, O, k, k), _randn(rng, O)
    dout = rng.standard_normal(naive.conv_transpose2d_naive(x, w, b, s, p).shape)
    grads = naive.conv_transpose2d_backward_naive(dout, x, w, s, p)
    for g, arr in zip(grads, (x, w, b)):
        num = numerical_gradient(lambda: naive.conv_transpose2d_naive(x, w, b, s, p), arr, dout)
        assert relative_error(g, num) < 1e-7


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_backward_naive_is_the_gradient(case, rng):
    k, s, p, ceil_mode = case
    x = _randn(rng, 2, 2, 7, 8)          # random values: no ties, the max is differentiable
    dout = rng.standard_normal(naive.max_pool2d_naive(x, k, s, p, ceil_mode).shape)
    dx = naive.max_pool2d_backward_naive(dout, x, k, s, p, ceil_mode)
    num = numerical_gradient(lambda: naive.max_pool2d_naive(x, k, s, p, ceil_mode), x, dout)
    assert relative_error(dx, num) < 1e-7


# --- the fast kernels against the references --------------------------------------------------
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("max_shifted", [0, 16], ids=["im2col", "shifted"])
def test_conv2d_backward_matches_naive(xp, case, max_shifted, monkeypatch):
    # Stride-1 convolutions with few channels, O ≤ C, take shifted.py's path; 0 forces im2col.
    monkeypatch.setattr(shifted, "MAX_CHANNELS", max_shifted)
    monkeypatch.setattr(shifted, "MIN_CHANNELS", 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")          # every O ≤ C, not only O ≤ 8
    N, C, H, W, O, k, s, p, d = case
    rng = np.random.default_rng(7)
    x, w, b = _randn(rng, N, C, H, W), _randn(rng, O, C, k, k), _randn(rng, O)
    out, cache = F.conv2d_forward(xp.asarray(x), xp.asarray(w), xp.asarray(b), s, p, d)
    dout = rng.standard_normal(out.shape)
    fast = F.conv2d_backward(xp.asarray(dout), cache)
    for got, want in zip(fast, naive.conv2d_backward_naive(dout, x, w, s, p, d)):
        np.testing.assert_allclose(to_cpu(got), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", DECONV_CASES)
def test_conv_transpose2d_matches_naive(xp, case):
    N, C, H, W, O, k, s, p = case
    rng = np.random.default_rng(8)
    x, w, b = _randn(rng, N, C, H, W), _randn(rng, C, O, k, k), _randn(rng, O)
    out, cache = F.conv_transpose2d_forward(xp.asarray(x), xp.asarray(w), xp.asarray(b), s, p)
    np.testing.assert_allclose(to_cpu(out), naive.conv_transpose2d_naive(x, w, b, s, p),
                               rtol=1e-10, atol=1e-10)
    dout = rng.standard_normal(out.shape)
    fast = F.conv_transpose2d_backward(xp.asarray(dout), cache)
    for got, want in zip(fast, naive.conv_transpose2d_backward_naive(dout, x, w, s, p)):
        np.testing.assert_allclose(to_cpu(got), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_backward_matches_naive(xp, case):
    k, s, p, ceil_mode = case
    rng = np.random.default_rng(9)
    x = _randn(rng, 2, 3, 11, 8)
    x[0, 0, :2, :2] = 1.5                # a tie: the first maximum in row-major order wins
    out, cache = F.max_pool2d_forward(xp.asarray(x), k, s, p, ceil_mode)
    dout = rng.standard_normal(out.shape)
    dx = F.max_pool2d_backward(xp.asarray(dout), cache)
    np.testing.assert_allclose(to_cpu(dx), naive.max_pool2d_backward_naive(dout, x, k, s, p,
                                                                           ceil_mode),
                               rtol=1e-12, atol=1e-12)
