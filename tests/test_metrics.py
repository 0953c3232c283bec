"""The four FCN scores, checked against numbers worked out by hand."""
import warnings

import numpy as np
import pytest

from minifcn.metrics import ConfusionMatrix, label_accuracy_score


def test_two_class_example_by_hand():
    # gt   = 0 0      pred = 0 1      hist (rows = truth) = [[1, 1],
    #        1 1             1 1                             [0, 2]]
    # pixel acc = (1 + 2) / 4 = 0.75
    # mean acc  = mean(1/2, 2/2) = 0.75
    # IU_0 = 1 / (2 + 1 - 1) = 1/2,  IU_1 = 2 / (2 + 3 - 2) = 2/3  → mean IU = 7/12
    # freq = (2/4, 2/4)  → f.w. IU = 1/2·1/2 + 1/2·2/3 = 7/12
    gt = np.array([[0, 0], [1, 1]])
    pred = np.array([[0, 1], [1, 1]])
    acc, acc_cls, mean_iu, fwavacc = label_accuracy_score([gt], [pred], n_class=2)
    assert acc == pytest.approx(0.75)
    assert acc_cls == pytest.approx(0.75)
    assert mean_iu == pytest.approx(7 / 12)
    assert fwavacc == pytest.approx(7 / 12)


def test_void_ignored_and_absent_classes():
    # gt   = 0 0 1 1 255   the 255 pixel is not counted, whatever is predicted there
    # pred = 0 2 1 1 0
    # hist = [[1, 0, 1],   rows: 2, 2, 0   columns: 1, 2, 1
    #         [0, 2, 0],
    #         [0, 0, 0]]
    # pixel acc = 3/4; mean acc = nanmean(1/2, 1, 0/0) = 3/4 (class 2 is never true: nan, left out)
    # IU = (1/(2+1-1), 2/(2+2-2), 0/(0+1-0)) = (1/2, 1, 0): class 2 was predicted, so it counts as 0
    # mean IU = 1/2; freq = (1/2, 1/2, 0) → f.w. IU = 1/4 + 1/2 = 3/4
    gt = np.array([0, 0, 1, 1, 255])
    pred = np.array([0, 2, 1, 1, 0])
    m = ConfusionMatrix(3).update(gt, pred)
    np.testing.assert_array_equal(m.hist, [[1, 0, 1], [0, 2, 0], [0, 0, 0]])
    np.testing.assert_allclose(m.iu, [0.5, 1.0, 0.0])
    s = m.scores()
    assert s == pytest.approx({"acc": 0.75, "acc_cls": 0.75, "mean_iu": 0.5, "fwavacc": 0.75})


def test_class_in_neither_truth_nor_prediction_is_nan_and_excluded():
    gt = np.array([0, 1, 1])
    pred = np.array([0, 1, 0])
    m = ConfusionMatrix(4).update(gt, pred)
    # IU_0 = 1/(1+2-1) = 1/2, IU_1 = 1/(2+1-1) = 1/2, classes 2, 3 absent → nan
    iu = m.iu
    assert np.isnan(iu[2]) and np.isnan(iu[3])
    np.testing.assert_allclose(iu[:2], [0.5, 0.5])
    assert m.scores()["mean_iu"] == pytest.approx(0.5)


def test_scores_accumulate_over_the_set_not_per_image():
    # image A: 4 pixels of class 0, all right. image B: 1 pixel of class 1, predicted 0.
    # set: hist = [[4, 0], [1, 0]] → IU_0 = 4/(4+5-4) = 0.8, IU_1 = 0/(1+0-0) = 0 → mean IU 0.4
    # (averaging per image would give (1 + 0) / 2 = 0.5)
    trues = [np.zeros((2, 2), int), np.ones((1, 1), int)]
    preds = [np.zeros((2, 2), int), np.zeros((1, 1), int)]
    acc, acc_cls, mean_iu, fwavacc = label_accuracy_score(trues, preds, 2)
    assert acc == pytest.approx(0.8)
    assert acc_cls == pytest.approx(0.5)  # mean(4/4, 0/1)
    assert mean_iu == pytest.approx(0.4)
    assert fwavacc == pytest.approx(0.8 * 0.8)  # freq (0.8, 0.2) · IU (0.8, 0)


def test_perfect_prediction_scores_one():
    gt = np.random.default_rng(0).integers(0, 5, size=(3, 7, 9))
    gt[0, 0, :3] = 255
    pred = np.where(gt == 255, 0, gt)
    assert label_accuracy_score(gt, pred, 5) == pytest.approx((1.0, 1.0, 1.0, 1.0))


def test_matches_counting_each_class_directly():
    # an independent route: intersection and union of boolean masks, class by class
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 4, size=(2, 11, 13))
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = rng.integers(0, 4, size=gt.shape)
    valid = gt != 255
    ius, recalls = [], []
    for c in range(4):
        inter = np.sum((gt == c) & (pred == c) & valid)
        union = np.sum(((gt == c) | (pred == c)) & valid)
        ius.append(inter / union)
        recalls.append(inter / np.sum(gt == c))
    freq = np.array([np.sum(gt == c) for c in range(4)]) / valid.sum()
    acc, acc_cls, mean_iu, fwavacc = label_accuracy_score(gt, pred, 4)
    assert acc == pytest.approx(np.sum((gt == pred) & valid) / valid.sum())
    assert acc_cls == pytest.approx(np.mean(recalls))
    assert mean_iu == pytest.approx(np.mean(ius))
    assert fwavacc == pytest.approx(np.sum(freq * np.array(ius)))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        ConfusionMatrix(2).update(np.zeros((2, 3), int), np.zeros((3, 2), int))


def test_prediction_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="0..1"):
        ConfusionMatrix(2).update(np.array([0, 1]), np.array([0, 2]))


def test_reset_and_empty_scores():
    m = ConfusionMatrix(2).update(np.array([0, 1]), np.array([0, 1]))
    assert m.hist.sum() == 2
    m.reset()
    assert m.hist.sum() == 0
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")  # no warning escapes: the scores are just nan
        s = m.scores()
    assert all(np.isnan(v) for v in s.values())


def test_unequal_numbers_of_maps():
    with pytest.raises(ValueError, match="2 true.*1 predicted"):
        label_accuracy_score([np.zeros(2, int)] * 2, [np.zeros(2, int)], 2)
