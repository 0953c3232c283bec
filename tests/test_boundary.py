"""IU near boundaries: the band of labelled pixels just outside the void, checked by hand."""
import numpy as np
import pytest

from minifcn.metrics import boundary_band, boundary_iu, boundary_labels

V = 255


def band_naive(label, k, ignore_index=V):
    """Loop reference: a labelled pixel is in the band when any pixel of its (2k+1)² window
    (inside the image) holds another value (a void pixel or another class)."""
    H, W = label.shape[-2:]
    out = np.zeros(label.shape, dtype=bool)
    for idx in np.ndindex(label.shape):
        *lead, y, x = idx
        if label[idx] == ignore_index:
            continue
        window = label[(*lead, slice(max(y - k, 0), min(y + k + 1, H)),
                        slice(max(x - k, 0), min(x + k + 1, W)))]
        out[idx] = bool((window != label[idx]).any())
    return out


def test_band_along_a_void_band_by_hand():
    # index:   0  1  2  3  4  5  6  7  8  9
    # label:   0  0  0  0  V  V  1  1  1  1    k = 2: within 2 px of the void pixels 4 and 5
    # band:    .  .  x  x  .  .  x  x  .  .    (the void itself is never in the band)
    label = np.array([[0, 0, 0, 0, V, V, 1, 1, 1, 1]])
    expect = np.array([[0, 0, 1, 1, 0, 0, 1, 1, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(boundary_band(label, k=2), expect)


def test_band_along_a_class_change_without_void():
    # label 0 0 0 0 1 1 1 1: a change between pixels 3 and 4; k = 1 → 3, 4; k = 2 → 2 … 5
    label = np.array([[0, 0, 0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(boundary_band(label, k=1)[0], [0, 0, 0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(boundary_band(label, k=2)[0], [0, 0, 1, 1, 1, 1, 0, 0])


def test_ring_around_a_void_square():
    # 11×11 background with a 3×3 void square in the middle: the band is the square ring
    # around it, (3 + 2k)² − 3² pixels: 16 for k = 1, 40 for k = 2. The border is not an edge.
    label = np.zeros((11, 11), dtype=np.int32)
    label[4:7, 4:7] = V
    for k, count in ((1, 16), (2, 40), (3, 72)):
        band = boundary_band(label, k=k)
        assert band.sum() == count
        assert band[4 - k:7 + k, 4 - k:7 + k].sum() == count       # all inside the ring's box
    assert not boundary_band(np.zeros((5, 5), dtype=np.int32), k=3).any()   # no edge, no band


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_band_matches_loop_reference(rng, k):
    # random blocky labels with void, a batch of two, odd sizes; k = 7 is wider than the image
    label = rng.integers(0, 3, size=(2, 3, 4)).repeat(3, axis=1).repeat(2, axis=2)[:, :7, :7]
    label[label == 2] = V
    label[0, 0, 0] = 1
    np.testing.assert_array_equal(boundary_band(label, k), band_naive(label, k))


def test_band_on_both_backends(xp):
    label = xp.asarray(np.array([[0, 0, 0, 0, V, V, 1, 1, 1, 1]]))
    band = boundary_band(label, k=2)
    assert type(band) is type(label)                 # no hidden trip through NumPy
    np.testing.assert_array_equal(np.asarray(band.tolist()), [[0, 0, 1, 1, 0, 0, 1, 1, 0, 0]])


def test_boundary_labels_and_iu_by_hand():
    # truth  0 0 0 V 1 1 1, k = 1: band = pixels 2 and 4 (truth 0 and 1)
    truth = np.array([[0, 0, 0, V, 1, 1, 1]])
    np.testing.assert_array_equal(boundary_labels(truth, k=1), [[V, V, 0, V, 1, V, V]])
    # Errors away from the band do not count: pixels 2 and 4 right → IU 1 for both classes.
    assert boundary_iu([truth], [np.array([[1, 1, 0, 0, 1, 0, 0]])], n_class=2, k=1) == 1.0
    # Pixel 4 wrong (1 predicted as 0): hist = [[1, 0], [1, 0]] → IU_0 = 1/(1 + 2 − 1) = 1/2,
    # IU_1 = 0/(1 + 0 − 0) = 0 → mean 1/4.
    pred = np.array([[1, 1, 0, 0, 0, 1, 1]])
    assert boundary_iu([truth], [pred], n_class=2, k=1) == pytest.approx(0.25)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="k must be at least 1"):
        boundary_band(np.zeros((3, 3), dtype=np.int32), k=0)
    with pytest.raises(ValueError, match="expected"):
        boundary_band(np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError, match="2 true label maps but 1"):
        boundary_iu([np.zeros((2, 2))] * 2, [np.zeros((2, 2))], n_class=2)
