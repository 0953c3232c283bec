"""The collapse warning: one class takes nearly all predicted pixels, far above its labels."""
import numpy as np
import pytest

from minifcn.metrics import ConfusionMatrix, class_shares, collapse_warning, collapsed_class

NAMES = ["background", "circle", "square"]


def hist_from(true_share, pred_rows):
    """A confusion matrix of 10,000 pixels: row i = how the pixels labelled i are predicted."""
    n = 10_000
    return np.array([[round(n * t * p) for p in row] for t, row in zip(true_share, pred_rows)])


def test_shares_from_a_confusion_matrix():
    cm = ConfusionMatrix(3).update(np.array([0, 0, 1, 2, 255]), np.array([0, 1, 1, 1, 0]))
    pred, true = class_shares(cm.hist)
    np.testing.assert_allclose(pred, [0.25, 0.75, 0])          # the void pixel is not counted
    np.testing.assert_allclose(true, [0.5, 0.25, 0.25])
    assert class_shares(np.zeros((3, 3)))[0].tolist() == [0, 0, 0]


def test_everything_predicted_as_background_is_a_collapse():
    hist = hist_from([0.7, 0.2, 0.1], [[1, 0, 0]] * 3)
    assert collapsed_class(hist) == 0
    text = collapse_warning(hist, NAMES)
    assert "'background': 100.0% of the predicted pixels, against 70.0% of the labels" in text
    for cause in ("--lr", "--reduction", "--iterations", "--class-weight auto", "imbalance"):
        assert cause in text


def test_a_nearly_collapsed_run_with_rare_classes_still_counts():
    # 96% predicted background where 70% is: the others get 4% of their 30%
    hist = hist_from([0.7, 0.2, 0.1], [[1, 0, 0], [0.9, 0.1, 0], [0.9, 0, 0.1]])
    assert collapsed_class(hist) == 0


@pytest.mark.parametrize("true_share,pred_rows", [
    ([0.7, 0.2, 0.1], [[0.95, 0.03, 0.02], [0.2, 0.8, 0], [0.3, 0, 0.7]]),   # a decent model
    ([0.97, 0.02, 0.01], [[1, 0, 0], [0.3, 0.7, 0], [0.5, 0, 0.5]]),          # imbalanced data,
    ([0.3, 0.4, 0.3], [[0.5, 0.5, 0], [0, 1, 0], [0, 0.6, 0.4]]),             # 98.1% background
])
def test_healthy_or_merely_imbalanced_runs_do_not_warn(true_share, pred_rows):
    hist = hist_from(true_share, pred_rows)
    assert collapsed_class(hist) is None and collapse_warning(hist, NAMES) is None


def test_collapse_to_an_object_class_is_named_too():
    hist = hist_from([0.7, 0.2, 0.1], [[0, 1, 0]] * 3)
    assert collapsed_class(hist) == 1
    assert "'circle'" in collapse_warning(hist, NAMES)
    assert "'class 1'" in collapse_warning(hist)
    assert collapse_warning(np.zeros((3, 3), dtype=np.int64)) is None


def test_no_warning_in_the_first_quarter_of_a_run():
    # From scratch a net predicts the majority class first: the main job does at iteration 1000
    # of 6000 (95.5% background predicted, 73.1% labelled) and still ends at 0.85 mean IU.
    hist = hist_from([0.731, 0.15, 0.119], [[1, 0, 0], [0.8, 0.2, 0], [0.85, 0, 0.15]])
    assert collapsed_class(hist) == 0
    assert collapse_warning(hist, NAMES, 1000, 6000) is None
    assert collapse_warning(hist, NAMES, 1499, 6000) is None
    assert "collapsed to 'background'" in collapse_warning(hist, NAMES, 1500, 6000)
    assert "collapsed to 'background'" in collapse_warning(hist, NAMES)     # eval: no run


class Pairs:
    """A dataset stand-in: (image, label) pairs."""

    def __init__(self, labels):
        self.labels, self.n_class, self.class_names = labels, 3, NAMES

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return np.zeros(self.labels[i].shape + (3,), np.uint8), self.labels[i]


def test_evaluate_logs_the_shares_and_warns_on_a_collapse():
    from minifcn.evaluate import evaluate
    from minifcn.models import FCN32s
    model = FCN32s(n_class=3, base_channels=2, fc_channels=4)   # score layers at zero: class 0
    label = np.zeros((8, 8), np.int64)
    label[:4] = 1
    label[0, 0] = 255
    scores = evaluate(model, Pairs([label, label]), iteration=100, iterations=200)
    assert scores["pred_share"] == {"background": 1.0, "circle": 0.0, "square": 0.0}
    assert scores["label_share"]["circle"] == pytest.approx(31 / 63, abs=1e-6)
    assert "collapsed to 'background'" in scores["collapse"]
    all_background = evaluate(model, Pairs([np.zeros((8, 8), np.int64)]))
    assert all_background["collapse"] is None                     # right, not collapsed
