"""Softmax cross-entropy with ignore label 255: values, gradients, and the corner cases."""
import numpy as np
import pytest

import minifcn.functional as F
from minifcn import nn
from minifcn.backend import to_cpu
from minifcn.gradcheck import numerical_gradient, relative_error


def _reference(score, target, ignore=255):
    """Loop over pixels: −log softmax(score[:, i, j])[t] summed over the pixels that count."""
    total, count = 0.0, 0
    N, C, H, W = score.shape
    for n in range(N):
        for i in range(H):
            for j in range(W):
                t = target[n, i, j]
                if t == ignore:
                    continue
                s = score[n, :, i, j]
                total += np.log(np.exp(s).sum()) - s[t]
                count += 1
    return total, count


def test_loss_values_sum_and_mean(xp, rng):
    score = rng.standard_normal((2, 5, 3, 4))
    target = rng.integers(0, 5, (2, 3, 4)).astype(np.int32)
    target[0, 1, :] = 255
    total, count = _reference(score, target)
    for reduction, expected in (("sum", total), ("mean", total / count)):
        loss, _ = F.softmax_cross_entropy_forward(xp.asarray(score), xp.asarray(target),
                                                  reduction=reduction)
        assert loss.shape == ()
        np.testing.assert_allclose(float(loss), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_gradient_numerical(reduction, rng):
    score = rng.standard_normal((2, 4, 3, 3))
    target = rng.integers(0, 4, (2, 3, 3))
    target[1, 0] = 255
    loss, cache = F.softmax_cross_entropy_forward(score, target, reduction=reduction)
    dscore = F.softmax_cross_entropy_backward(1.0, cache)
    num = numerical_gradient(
        lambda: F.softmax_cross_entropy_forward(score, target, reduction=reduction)[0],
        score, np.float64(1.0))
    assert relative_error(dscore, num) < 1e-7
    assert not dscore[1, :, 0].any()           # ignored pixels get no gradient


def test_loss_is_stable_for_huge_scores():
    score = np.zeros((1, 3, 1, 2))
    score[0, :, 0, 0] = [1000.0, -1000.0, 0.0]     # exp(1000) would overflow without lse
    score[0, :, 0, 1] = [0.0, 2000.0, 0.0]
    loss, cache = F.softmax_cross_entropy_forward(score, np.array([[[0, 0]]]), reduction="sum")
    assert np.isfinite(loss) and np.isclose(float(loss), 2000.0)
    assert np.isfinite(F.softmax_cross_entropy_backward(1.0, cache)).all()


def test_all_ignored_batch_gives_zero_loss_and_gradient(xp):
    score = xp.asarray(np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32))
    target = xp.full((2, 4, 4), 255, dtype=xp.int32)
    crit = nn.SoftmaxCrossEntropy()
    loss = crit(score, target)
    dscore = crit.backward()
    assert float(loss) == 0.0 and not np.isnan(float(loss))
    assert not to_cpu(dscore).any()
    assert dscore.dtype == np.float32 and loss.dtype == np.float32


def test_out_of_range_target_names_the_value():
    score = np.zeros((1, 3, 2, 2))
    target = np.array([[[0, 1], [7, 255]]])
    with pytest.raises(ValueError, match=r"\[7\].*outside \[0, 3\)"):
        F.softmax_cross_entropy_forward(score, target)
    with pytest.raises(ValueError, match=r"\[-1\]"):
        F.softmax_cross_entropy_forward(score, np.array([[[0, -1], [0, 0]]]))


def test_target_shape_and_dtype_errors():
    score = np.zeros((1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"target of shape \(1, 3, 2\)"):
        F.softmax_cross_entropy_forward(score, np.zeros((1, 3, 2), dtype=int))
    with pytest.raises(ValueError, match="integer class indices"):
        F.softmax_cross_entropy_forward(score, np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="reduction"):
        nn.SoftmaxCrossEntropy(reduction="avg")


def test_custom_ignore_index():
    score = np.random.default_rng(1).standard_normal((1, 3, 2, 2))
    target = np.array([[[0, -100], [2, 1]]])
    loss, _ = F.softmax_cross_entropy_forward(score, target, ignore_index=-100, reduction="sum")
    t = target.copy()
    t[t == -100] = 255
    np.testing.assert_allclose(float(loss), _reference(score, t)[0])
