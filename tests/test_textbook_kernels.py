"""The textbook kernels (functional/conv.py, pool.py: im2col, one GEMM, reshape; one window
view for pooling), the path a GPU takes, against the naive loops, on NumPy and on the CuPy
stand-in; and the one door that sends NumPy arrays to the CPU's fast path instead."""
import numpy as np
import pytest

import minifcn.functional as F
from minifcn import backend, nn
from minifcn.functional import conv, cpu, naive, pool
from minifcn.gradcheck import check_layer
from minifcn.testing import count_device_ops
from minifcn.testing import fakecupy

from test_naive_backward import CONV_CASES, DECONV_CASES, POOL_CASES


@pytest.fixture(params=["numpy", "stand-in"])
def lib(request, monkeypatch):
    if request.param == "numpy":
        return np
    monkeypatch.setattr(backend, "_cupy", fakecupy)
    return fakecupy


def _close(got, want, tol=1e-10):
    np.testing.assert_allclose(backend.to_cpu(got), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CONV_CASES + [(2, 3, 7, 9, 4, 3, 1, 3, 1)])
def test_conv2d_forward_and_backward_match_naive(lib, case):
    N, C, H, W, O, k, s, p, d = case
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, k, k)), \
        rng.standard_normal(O)
    out, cache = conv.conv2d_forward(lib.asarray(x), lib.asarray(w), lib.asarray(b), s, p, d)
    _close(out, naive.conv2d_naive(x, w, b, s, p, d))
    dout = rng.standard_normal(out.shape)
    for got, want in zip(conv.conv2d_backward(lib.asarray(dout), cache),
                         naive.conv2d_backward_naive(dout, x, w, s, p, d)):
        _close(got, want)


@pytest.mark.parametrize("case", DECONV_CASES)
def test_conv_transpose2d_matches_naive(lib, case):
    N, C, H, W, O, k, s, p = case
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((C, O, k, k)), \
        rng.standard_normal(O)
    out, cache = conv.conv_transpose2d_forward(lib.asarray(x), lib.asarray(w), lib.asarray(b),
                                               s, p)
    _close(out, naive.conv_transpose2d_naive(x, w, b, s, p))
    dout = rng.standard_normal(out.shape)
    for got, want in zip(conv.conv_transpose2d_backward(lib.asarray(dout), cache),
                         naive.conv_transpose2d_backward_naive(dout, x, w, s, p)):
        _close(got, want)


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_matches_naive_ties_included(lib, case):
    k, s, p, ceil_mode = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 11, 8))
    x[0, 0, :2, :2] = 1.5                # a tie: the first maximum in row-major order wins
    out, cache = pool.max_pool2d_forward(lib.asarray(x), k, s, p, ceil_mode)
    _close(out, naive.max_pool2d_naive(x, k, s, p, ceil_mode), 0)
    dout = rng.standard_normal(out.shape)
    _close(pool.max_pool2d_backward(lib.asarray(dout), cache),
           naive.max_pool2d_backward_naive(dout, x, k, s, p, ceil_mode), 1e-12)


def test_textbook_conv_layer_passes_a_gradient_check():
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=2, dilation=2, seed=0).to(dtype=np.float64)
    x = np.random.default_rng(4).standard_normal((2, 2, 9, 8))
    with cpu.textbook_only():
        errors = check_layer(layer, x)
    assert max(errors.values()) < 1e-6, errors


def test_the_door_sends_numpy_to_the_fast_path_and_device_arrays_to_the_textbook(monkeypatch):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    _, cache = F.conv2d_forward(x, w, None, 1, 1)
    assert isinstance(cache, cpu.FastCache)
    with cpu.textbook_only():
        out_t, cache_t = F.conv2d_forward(x, w, None, 1, 1)
    assert not isinstance(cache_t, cpu.FastCache)
    # a backward follows its forward, whatever the switch says by then
    dx_t = F.conv2d_backward(np.ones_like(out_t), cache_t)[0]
    np.testing.assert_allclose(dx_t, F.conv2d_backward(np.ones_like(out_t), cache)[0],
                               rtol=1e-12)
    monkeypatch.setenv("MINIFCN_CPU_FAST_PATH", "0")
    assert not isinstance(F.max_pool2d_forward(x, 2)[1], cpu.FastCache)
    monkeypatch.setattr(backend, "_cupy", fakecupy)
    monkeypatch.delenv("MINIFCN_CPU_FAST_PATH")
    assert not isinstance(F.conv2d_forward(fakecupy.asarray(x), fakecupy.asarray(w))[1],
                          cpu.FastCache)


@pytest.mark.parametrize("size", [9, 33])
def test_a_textbook_convolution_is_the_same_few_operations_at_any_size(monkeypatch, size):
    # pad (a new array, an assignment), the im2col copy, the GEMM, the bias; backward: spread dy
    # (2), flip the kernel, im2col, GEMM (dx); im2col, GEMM (dW); the bias's sum
    monkeypatch.setattr(backend, "_cupy", fakecupy)
    rng = np.random.default_rng(6)
    x = fakecupy.asarray(rng.standard_normal((1, 4, size, size)).astype(np.float32))
    w = fakecupy.asarray(rng.standard_normal((5, 4, 3, 3)).astype(np.float32))
    b = fakecupy.asarray(np.zeros(5, np.float32))
    with count_device_ops() as fwd:
        out, cache = F.conv2d_forward(x, w, b, 1, 1)
    with count_device_ops() as bwd:
        F.conv2d_backward(out, cache)
    assert (fwd.n, bwd.n) == (5, 8), (fwd.log, bwd.log)
