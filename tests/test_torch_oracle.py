"""PyTorch as an oracle for the core ops (float64). Skipped when torch is not installed."""
import numpy as np
import pytest

import minifcn.functional as F

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _t(a, grad=True):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("s,p,d", [(1, 1, 1), (2, 100, 1), (3, 2, 2)])
def test_conv2d_matches_torch(s, p, d, rng):
    x, w, b = rng.standard_normal((2, 3, 9, 7)), rng.standard_normal((4, 3, 3, 3)), \
        rng.standard_normal(4)
    out, cache = F.conv2d_forward(x, w, b, s, p, d)
    tx, tw, tb = _t(x), _t(w), _t(b)
    ref = torch.nn.functional.conv2d(tx, tw, tb, s, p, d)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-10)
    for mine, theirs in zip(F.conv2d_backward(dout, cache), (tx, tw, tb)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("k,s,p", [(4, 2, 0), (16, 8, 0), (3, 2, 1)])
def test_conv_transpose2d_matches_torch(k, s, p, rng):
    x, w, b = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((3, 2, k, k)), \
        rng.standard_normal(2)
    out, cache = F.conv_transpose2d_forward(x, w, b, s, p)
    tx, tw, tb = _t(x), _t(w), _t(b)
    ref = torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-10)
    for mine, theirs in zip(F.conv_transpose2d_backward(dout, cache), (tx, tw, tb)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("H,W,k,s,p", [(697, 9, 2, 2, 0), (7, 8, 3, 2, 1), (5, 8, 2, 3, 1)])
def test_max_pool_ceil_mode_matches_torch(H, W, k, s, p, rng):
    x = rng.standard_normal((1, 2, H, W))
    out, cache = F.max_pool2d_forward(x, k, s, p, ceil_mode=True)
    tx = _t(x)
    ref = torch.nn.functional.max_pool2d(tx, k, s, p, ceil_mode=True)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, ref.detach().numpy())
    np.testing.assert_allclose(F.max_pool2d_backward(dout, cache), tx.grad.numpy())


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_torch(reduction, rng):
    score = rng.standard_normal((2, 5, 4, 3))
    target = rng.integers(0, 5, (2, 4, 3))
    target[0, :2] = 255
    loss, cache = F.softmax_cross_entropy_forward(score, target, reduction=reduction)
    ts = _t(score)
    ref = torch.nn.functional.cross_entropy(ts, torch.tensor(target), ignore_index=255,
                                            reduction=reduction)
    ref.backward()
    np.testing.assert_allclose(float(loss), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(F.softmax_cross_entropy_backward(1.0, cache), ts.grad.numpy(),
                               atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_weighted_cross_entropy_matches_torch(reduction, rng):
    score = rng.standard_normal((2, 5, 4, 3))
    target = rng.integers(0, 5, (2, 4, 3))
    target[0, :2] = 255
    weight = rng.uniform(0.1, 3.0, 5)
    weight[2] = 0.0
    loss, cache = F.softmax_cross_entropy_forward(score, target, reduction=reduction,
                                                  weight=weight)
    ts = _t(score)
    ref = torch.nn.functional.cross_entropy(ts, torch.tensor(target), ignore_index=255,
                                            reduction=reduction, weight=_t(weight, grad=False))
    ref.backward()
    np.testing.assert_allclose(float(loss), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(F.softmax_cross_entropy_backward(1.0, cache), ts.grad.numpy(),
                               atol=1e-12)
