"""Class weights: median-frequency balancing over the training labels, or a file."""
import numpy as np
import pytest

from minifcn.data.weights import (
    class_pixel_counts,
    median_frequency_weights,
    read_class_weights,
)


class Labels:
    """A dataset stand-in: label maps only."""

    def __init__(self, labels, n_class):
        self.labels, self.n_class, self.ids = labels, n_class, list(range(len(labels)))

    def label_path(self, i):
        return i

    def read_label(self, i):
        return self.labels[i]


def test_median_frequency_by_hand():
    a = np.array([[0, 0, 0, 1]])            # 4 px: class 0 ×3, class 1 ×1
    b = np.array([[0, 2, 2, 255]])          # 3 counted px: class 0 ×1, class 2 ×2
    pixels, image_pixels = class_pixel_counts(Labels([a, b], 4))
    assert pixels.tolist() == [4, 1, 2, 0] and image_pixels.tolist() == [7, 4, 3, 0]
    freq = np.array([4 / 7, 1 / 4, 2 / 3])   # median 4/7
    w = median_frequency_weights(pixels, image_pixels)
    np.testing.assert_allclose(w, list(np.median(freq) / freq) + [1.0])
    assert w[0] == pytest.approx(1.0) and w[1] > 2


def test_a_training_set_without_counted_pixels_is_an_error():
    with pytest.raises(ValueError, match="no counted pixel"):
        median_frequency_weights([0, 0], [0, 0])


def test_weights_file(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("# weights\nbackground 0.5\ncircle 2\n3\n")
    assert read_class_weights(f, ["background", "circle", "square"]) == [0.5, 2.0, 3.0]
    for text, message in [("1\n2\n", "gives 2 weights for 3 classes"),
                          ("1\nx\n3\n", "'x' is not a number"),
                          ("1\n-2\n3\n", "must be a finite number"),
                          ("1\nsquare 2\n3\n", "names class 'square' where"),
                          ("0\n0\n0\n", "every weight is 0")]:
        f.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_class_weights(f, ["background", "circle", "square"])
    with pytest.raises(FileNotFoundError, match="class-weight file not found"):
        read_class_weights(tmp_path / "nope", ["a"])


def test_class_weights_spec(tmp_path):
    from minifcn.data.weights import class_weights
    ds = Labels([np.array([[0, 0, 0, 1]])], 2)
    ds.class_names = ("background", "thing")
    assert class_weights("none", ds) is None and class_weights(None, ds) is None
    np.testing.assert_allclose(class_weights("auto", ds), [(0.75 + 0.25) / 2 / 0.75,
                                                          (0.75 + 0.25) / 2 / 0.25])
    (tmp_path / "w.txt").write_text("1\n4\n")
    assert class_weights(str(tmp_path / "w.txt"), ds) == [1.0, 4.0]
    with pytest.raises(FileNotFoundError, match="class-weight file not found: auto2"):
        class_weights("auto2", ds)
