"""Softmax cross-entropy with ignore label 255: values, gradients, and the corner cases."""
import numpy as np
import pytest

import minifcn.functional as F
from minifcn import nn
from minifcn.backend import to_cpu
from minifcn.gradcheck import numerical_gradient, relative_error


def _reference(score, target, ignore=255, weight=None):
    """Loop over pixels: w[t] · (−log softmax(score[:, i, j])[t]) summed over the pixels that
    count, and the count (without weights) or the summed w[t] (with)."""
    total, count = 0.0, 0
    N, C, H, W = score.shape
    for n in range(N):
        for i in range(H):
            for j in range(W):
                t = target[n, i, j]
                if t == ignore:
                    continue
                s = score[n, :, i, j]
                w = 1.0 if weight is None else weight[t]
                total += w * (np.log(np.exp(s).sum()) - s[t])
                count += w
    return total, count


def _reference_backward(score, target, reduction, ignore=255, weight=None):
    """Loop over pixels: d loss / d score[:, i, j] = w[t] · (softmax − onehot(t)), divided by
    the count (or the summed weights) for 'mean'."""
    dscore = np.zeros_like(score)
    N, C, H, W = score.shape
    for n in range(N):
        for i in range(H):
            for j in range(W):
                t = target[n, i, j]
                if t == ignore:
                    continue
                s = score[n, :, i, j]
                p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                p[t] -= 1
                dscore[n, :, i, j] = (1.0 if weight is None else weight[t]) * p
    norm = _reference(score, target, ignore, weight)[1]
    return dscore / norm if reduction == "mean" and norm else dscore


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


WEIGHT = np.array([0.5, 2.0, 1.0, 0.0, 3.0])    # class 3 weighs nothing


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_weighted_loss_matches_the_loops(reduction, xp, rng):
    score = rng.standard_normal((2, 5, 3, 4))
    target = rng.integers(0, 5, (2, 3, 4)).astype(np.int32)
    target[0, 1, :] = 255
    total, wsum = _reference(score, target, weight=WEIGHT)
    expected = total / wsum if reduction == "mean" else total
    for weight in (WEIGHT, xp.asarray(WEIGHT), list(WEIGHT)):
        loss, cache = F.softmax_cross_entropy_forward(xp.asarray(score), xp.asarray(target),
                                                      reduction=reduction, weight=weight)
        np.testing.assert_allclose(float(loss), expected, rtol=1e-12)
        dscore = to_cpu(F.softmax_cross_entropy_backward(1.0, cache))
        np.testing.assert_allclose(dscore, _reference_backward(score, target, reduction,
                                                               weight=WEIGHT), atol=1e-14)
    # The unweighted backward against the same loop.
    _, cache = F.softmax_cross_entropy_forward(score, target, reduction=reduction)
    np.testing.assert_allclose(F.softmax_cross_entropy_backward(1.0, cache),
                               _reference_backward(score, target, reduction), atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_weighted_loss_gradient_numerical(reduction, rng):
    score = rng.standard_normal((2, 5, 3, 3))
    target = rng.integers(0, 5, (2, 3, 3))
    target[1, 0] = 255
    target[0, 0, 0] = 3

    def loss():
        return F.softmax_cross_entropy_forward(score, target, reduction=reduction,
                                               weight=WEIGHT)[0]

    _, cache = F.softmax_cross_entropy_forward(score, target, reduction=reduction, weight=WEIGHT)
    dscore = F.softmax_cross_entropy_backward(1.0, cache)
    num = numerical_gradient(loss, score, np.float64(1.0))
    assert relative_error(dscore, num) < 1e-7
    assert not dscore[1, :, 0].any()                          # ignored pixels
    per_pixel = dscore.transpose(0, 2, 3, 1)                  # (N, H, W, C)
    assert not per_pixel[target == 3].any()                   # pixels of a class of weight 0


def test_unit_weights_are_the_unweighted_loss(rng):
    score = rng.standard_normal((2, 5, 4, 4)).astype(np.float32)
    target = rng.integers(0, 5, (2, 4, 4))
    target[0, 0] = 255
    for reduction in ("mean", "sum"):
        plain = nn.SoftmaxCrossEntropy(reduction=reduction)
        ones = nn.SoftmaxCrossEntropy(reduction=reduction, weight=np.ones(5))
        np.testing.assert_allclose(float(ones(score, target)), float(plain(score, target)),
                                   rtol=1e-6)
        np.testing.assert_allclose(ones.backward(), plain.backward(), rtol=1e-6, atol=1e-9)
    # 'mean' with weights is a weighted average: scaling every weight changes nothing; 'sum'
    # scales with them.
    for reduction, factor in (("mean", 1.0), ("sum", 4.0)):
        a = nn.SoftmaxCrossEntropy(reduction=reduction, weight=WEIGHT)
        b = nn.SoftmaxCrossEntropy(reduction=reduction, weight=4 * WEIGHT)
        np.testing.assert_allclose(float(b(score, target)), factor * float(a(score, target)),
                                   rtol=1e-5)


def test_weighted_loss_layer_dtype_and_zero_weight_batch(xp):
    score = xp.asarray(np.random.default_rng(0).standard_normal((1, 5, 2, 2)).astype(np.float32))
    target = xp.asarray(np.array([[[3, 3], [255, 3]]]))           # only class 3, weight 0
    crit = nn.SoftmaxCrossEntropy(weight=WEIGHT)
    loss = crit(score, target)
    dscore = crit.backward()
    assert float(loss) == 0.0 and loss.dtype == np.float32 and dscore.dtype == np.float32
    assert not to_cpu(dscore).any()
    assert "weight=[0.5, 2.0" in repr(crit)


def test_weight_errors():
    with pytest.raises(ValueError, match="one value per class"):
        nn.SoftmaxCrossEntropy(weight=np.ones((2, 2)))
    for bad in ([1.0, -1.0], [1.0, float("nan")], [0.0, 0.0]):
        with pytest.raises(ValueError, match="finite, ≥ 0 and not all zero"):
            nn.SoftmaxCrossEntropy(weight=bad)
    crit = nn.SoftmaxCrossEntropy(weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"one value per class, shape \(3,\)"):
        crit(np.zeros((1, 3, 2, 2)), np.zeros((1, 2, 2), dtype=int))
