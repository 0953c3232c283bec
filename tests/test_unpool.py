"""Max pooling with indices and max unpooling: naive loop references, float64 gradient checks,
the pool → unpool round trip, and PyTorch as an oracle where it is installed.

Sizes are odd on purpose; floor and ceil mode, padding, and overlapping windows (stride < kernel,
where two outputs can pick the same input pixel) are all covered.
"""
import math

import numpy as np
import pytest

import minifcn.functional as F
from minifcn import nn
from minifcn.backend import to_cpu
from minifcn.functional import naive
from minifcn.gradcheck import check_layer, numerical_gradient, relative_error

TOL = 1e-7           # float64 gradient checks

CASES = [  # (N, C, H, W, kernel, stride, padding, ceil_mode)
    (2, 3, 7, 9, 2, 2, 0, False),      # odd sizes, floor: the last row/column is never pooled
    (2, 3, 7, 9, 2, 2, 0, True),       # odd sizes, ceil: partial windows at the edge
    (1, 2, 9, 8, 3, 2, 1, True),       # overlapping windows, padding, ceil
    (1, 2, 10, 11, 3, 3, 1, False),
    (2, 1, 5, 6, 3, 1, 1, False),      # stride 1: many windows share their maximum
]


# --- naive references -------------------------------------------------------------------------
def pool_size(n, k, s, p, ceil_mode):
    o = (math.ceil if ceil_mode else math.floor)((n + 2 * p - k) / s) + 1
    return o - 1 if ceil_mode and (o - 1) * s >= n + p else o


def max_pool2d_indices_naive(x, k, s, p, ceil_mode):
    """Index h·W + w of the maximum of every window (clipped to real pixels; first on ties)."""
    N, C, H, W = x.shape
    oh, ow = pool_size(H, k, s, p, ceil_mode), pool_size(W, k, s, p, ceil_mode)
    idx = np.empty((N, C, oh, ow), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    best = None
                    for h in range(max(i * s - p, 0), min(i * s - p + k, H)):
                        for w in range(max(j * s - p, 0), min(j * s - p + k, W)):
                            if best is None or x[n, c, h, w] > x[n, c, best // W, best % W]:
                                best = h * W + w
                    idx[n, c, i, j] = best
    return idx


def max_unpool2d_naive(x, indices, size):
    """A zero (H, W) map per channel; every x value added at its index."""
    N, C = x.shape[:2]
    H, W = size
    out = np.zeros((N, C, H * W), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for v, i in zip(x[n, c].ravel(), indices[n, c].ravel()):
                out[n, c, i] += v
    return out.reshape(N, C, H, W)


# --- forward against the references -----------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_pool_indices_match_naive(xp, case):
    N, C, H, W, k, s, p, ceil = case
    x = np.random.default_rng(1).standard_normal((N, C, H, W))
    out, idx, _ = F.max_pool2d_with_indices_forward(xp.asarray(x), k, s, p, ceil)
    ref_idx = max_pool2d_indices_naive(x, k, s, p, ceil)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(to_cpu(idx), ref_idx)
    np.testing.assert_array_equal(to_cpu(out), naive.max_pool2d_naive(x, k, s, p, ceil))
    # the value at each index is the window's maximum
    np.testing.assert_array_equal(
        np.take_along_axis(x.reshape(N, C, -1), ref_idx.reshape(N, C, -1), 2),
        to_cpu(out).reshape(N, C, -1))


def test_pool_indices_ties_go_to_the_first_pixel():
    x = np.zeros((1, 1, 4, 4))
    _, idx, _ = F.max_pool2d_with_indices_forward(x, 2, 2)
    np.testing.assert_array_equal(idx[0, 0], [[0, 2], [8, 10]])


@pytest.mark.parametrize("case", CASES)
def test_unpool_matches_naive(xp, case):
    N, C, H, W, k, s, p, ceil = case
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, C, H, W))
    _, idx, _ = F.max_pool2d_with_indices_forward(x, k, s, p, ceil)
    v = rng.standard_normal(idx.shape)
    out, _ = F.max_unpool2d_forward(xp.asarray(v), xp.asarray(idx), k, s, p, (H, W))
    assert out.shape == (N, C, H, W)
    np.testing.assert_allclose(to_cpu(out), max_unpool2d_naive(v, idx, (H, W)), atol=1e-15)


def test_unpool_default_output_size_and_float32():
    x = np.random.default_rng(3).standard_normal((1, 2, 8, 6)).astype(np.float32)
    pooled, idx, _ = F.max_pool2d_with_indices_forward(x, 2, 2)
    out, _ = F.max_unpool2d_forward(pooled, idx, 2, 2)
    assert out.shape == (1, 2, 8, 6) and out.dtype == np.float32
    assert F.unpool_output_size(4, 2, 2) == 8 and F.unpool_output_size(3, 3, 2, 1) == 5


# --- the round trip ---------------------------------------------------------------------------
@pytest.mark.parametrize("H,W,ceil", [(8, 10, False), (7, 9, True), (7, 9, False)])
def test_round_trip_puts_each_max_back_at_its_argmax(H, W, ceil):
    """pool → unpool: the maxima are back where they were, every other pixel is zero."""
    x = np.random.default_rng(4).uniform(0.1, 1, (2, 3, H, W))   # > 0: a zero never wins
    pool, unpool = nn.MaxPool2dWithIndices(2, 2, ceil_mode=ceil), nn.MaxUnpool2d(2, 2)
    pooled, idx = pool(x)
    y = unpool(pooled, idx, output_size=x.shape)
    assert y.shape == x.shape
    is_max = np.zeros(x.shape, dtype=bool)
    ref_idx = max_pool2d_indices_naive(x, 2, 2, 0, ceil)
    np.put_along_axis(is_max.reshape(2, 3, -1), ref_idx.reshape(2, 3, -1), True, 2)
    np.testing.assert_array_equal(y, np.where(is_max, x, 0))
    assert (y != 0).sum() == pooled.size                     # one survivor per window
    np.testing.assert_array_equal(pool(y)[0], pooled)        # pooling again finds the same maxima


# --- backward ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_unpool_backward_numerical(case):
    N, C, H, W, k, s, p, ceil = case
    rng = np.random.default_rng(5)
    _, idx, _ = F.max_pool2d_with_indices_forward(rng.standard_normal((N, C, H, W)), k, s, p, ceil)
    errors = check_layer(nn.MaxUnpool2d(k, s, p), rng.standard_normal(idx.shape), idx, (H, W))
    assert errors["x"] < TOL, errors


@pytest.mark.parametrize("case", CASES)
def test_pool_with_indices_backward_numerical(case):
    N, C, H, W, k, s, p, ceil = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal((N, C, H, W))
    pool = nn.MaxPool2dWithIndices(k, s, p, ceil_mode=ceil)
    out, _ = pool(x)
    dout = rng.standard_normal(out.shape)
    dx = pool.backward(dout)
    num = numerical_gradient(lambda: pool(x)[0], x, dout)
    assert relative_error(dx, num) < TOL


def test_unpool_backward_is_the_adjoint_of_forward(xp):
    """<unpool(v), g> = <v, unpool_backward(g)> for every v, g: forward and backward are adjoint."""
    rng = np.random.default_rng(7)
    _, idx, _ = F.max_pool2d_with_indices_forward(rng.standard_normal((2, 2, 9, 7)), 3, 2, 1, True)
    v, g = rng.standard_normal(idx.shape), rng.standard_normal((2, 2, 9, 7))
    out, cache = F.max_unpool2d_forward(xp.asarray(v), xp.asarray(idx), 3, 2, 1, (9, 7))
    back = F.max_unpool2d_backward(xp.asarray(g), cache)
    assert abs(float((to_cpu(out) * g).sum()) - float((v * to_cpu(back)).sum())) < 1e-12


# --- errors and the module --------------------------------------------------------------------
def test_unpool_rejects_indices_outside_their_window():
    x = np.ones((1, 1, 2, 2))
    F.max_unpool2d_forward(x, np.array([[[[0, 2], [8, 15]]]]), 2, 2)     # 15 = (3, 3): fine
    with pytest.raises(ValueError, match="not inside"):                  # 5 = (1, 1): window 0
        F.max_unpool2d_forward(x, np.array([[[[0, 2], [8, 5]]]]), 2, 2)
    with pytest.raises(ValueError, match="same shape"):
        F.max_unpool2d_forward(x, np.zeros((1, 1, 2, 1), dtype=np.int64), 2, 2)


def test_modules_repr_and_no_parameters():
    pool, unpool = nn.MaxPool2dWithIndices(2, 2, ceil_mode=True), nn.MaxUnpool2d(2)
    assert isinstance(pool, nn.MaxPool2d) and pool.parameters() == unpool.parameters() == []
    assert "stride=2" in repr(unpool)


@pytest.mark.torch
@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[2]])
def test_matches_torch(case):
    """Same indices as torch's max_pool2d(return_indices=True); same unpooled map and gradient
    as torch's max_unpool2d where the windows do not overlap."""
    torch = pytest.importorskip("torch")
    N, C, H, W, k, s, p, ceil = case
    x = np.random.default_rng(8).standard_normal((N, C, H, W))
    out, idx, _ = F.max_pool2d_with_indices_forward(x, k, s, p, ceil)
    t_out, t_idx = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil,
                                                  return_indices=True)
    np.testing.assert_array_equal(idx, t_idx.numpy())
    np.testing.assert_array_equal(out, t_out.numpy())
    if s == k:
        v = torch.tensor(np.random.default_rng(9).standard_normal(idx.shape), requires_grad=True)
        ref = torch.nn.functional.max_unpool2d(v, t_idx, k, s, p, output_size=(H, W))
        g = np.random.default_rng(10).standard_normal(ref.shape)
        ref.backward(torch.tensor(g))
        mine, cache = F.max_unpool2d_forward(v.detach().numpy(), idx, k, s, p, (H, W))
        np.testing.assert_array_equal(mine, ref.detach().numpy())
        np.testing.assert_array_equal(F.max_unpool2d_backward(g, cache), v.grad.numpy())
