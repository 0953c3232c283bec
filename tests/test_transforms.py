"""Network input conventions and the flip/crop augmentations."""
import numpy as np
import pytest

from minifcn.data.transforms import (
    INPUT_CONVENTIONS,
    MEAN_RGB,
    deprocess,
    make_batch,
    preprocess,
    random_crop,
    random_flip,
)


def _image(h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_caffe_is_bgr_minus_mean_on_0_255():
    image = np.zeros((1, 2, 3), dtype=np.uint8)
    image[0, 0] = (10, 20, 30)  # R, G, B
    x = preprocess(image, "caffe")
    assert x.shape == (3, 1, 2) and x.dtype == np.float32
    # channel 0 is blue: 30 - 104.00698793; channel 2 is red: 10 - 122.67891434
    np.testing.assert_allclose(
        x[:, 0, 0], [30 - 104.00698793, 20 - 116.66876762, 10 - 122.67891434], rtol=1e-6
    )
    np.testing.assert_allclose(x[:, 0, 1], [-104.00698793, -116.66876762, -122.67891434], rtol=1e-6)


def test_torchvision_is_rgb_scaled_and_normalised():
    image = np.full((2, 2, 3), (10, 20, 30), dtype=np.uint8)
    x = preprocess(image, "torchvision", dtype=np.float64)
    assert x.dtype == np.float64
    expected = [(10 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (30 / 255 - 0.406) / 0.225]
    np.testing.assert_allclose(x[:, 1, 1], expected)


@pytest.mark.parametrize("convention", sorted(INPUT_CONVENTIONS))
def test_deprocess_inverts_preprocess(convention):
    image = _image()
    np.testing.assert_array_equal(deprocess(preprocess(image, convention), convention), image)
    batch = np.stack([_image(seed=1), _image(seed=2)])
    x = preprocess(batch, convention)
    assert x.shape == (2, 3, 5, 7)
    np.testing.assert_array_equal(deprocess(x, convention), batch)


def test_mean_colour_becomes_about_zero():
    pad = np.full((1, 1, 3), MEAN_RGB, dtype=np.uint8)
    assert np.abs(preprocess(pad, "caffe")).max() < 1.0  # on the 0–255 scale
    assert np.abs(preprocess(pad, "torchvision")).max() < 0.05


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 4), (3, 4, 5)])
def test_preprocess_rejects_non_rgb_and_names_the_shape(shape):
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        preprocess(np.zeros(shape, dtype=np.uint8))


def test_unknown_convention():
    with pytest.raises(ValueError, match="'bgr01'"):
        preprocess(_image(), "bgr01")


def test_flip_moves_image_and_label_together():
    image = _image(4, 6)
    label = np.arange(24).reshape(4, 6)
    rng = np.random.default_rng(0)
    flipped = 0
    for _ in range(40):
        im, lb = random_flip(image, label, rng)
        if lb[0, 0] == 5:  # the label's right column came to the left: it was mirrored
            flipped += 1
            np.testing.assert_array_equal(im, image[:, ::-1])
            np.testing.assert_array_equal(lb, label[:, ::-1])
        else:
            np.testing.assert_array_equal(im, image)
            np.testing.assert_array_equal(lb, label)
    assert 5 < flipped < 35  # about half the time


def test_crop_takes_one_aligned_window():
    image = _image(10, 12)
    label = np.arange(120).reshape(10, 12)
    rng = np.random.default_rng(3)
    corners = set()
    for _ in range(20):
        im, lb = random_crop(image, label, (4, 5), rng)
        assert im.shape == (4, 5, 3) and lb.shape == (4, 5)
        top, left = divmod(int(lb[0, 0]), 12)
        np.testing.assert_array_equal(lb, label[top:top + 4, left:left + 5])
        np.testing.assert_array_equal(im, image[top:top + 4, left:left + 5])
        corners.add((top, left))
    assert len(corners) > 5  # it is random


def test_crop_pads_small_images_with_mean_and_void():
    image = _image(3, 4)
    label = np.ones((3, 4), dtype=np.int32)
    im, lb = random_crop(image, label, 6, np.random.default_rng(0))
    assert im.shape == (6, 6, 3) and lb.shape == (6, 6)
    # the whole padded image fits in the window, so it is all there, at the top left
    np.testing.assert_array_equal(im[:3, :4], image)
    np.testing.assert_array_equal(lb[:3, :4], label)
    assert (lb[3:] == 255).all() and (lb[:, 4:] == 255).all()
    assert (im[3:] == MEAN_RGB).all() and (im[:, 4:] == MEAN_RGB).all()


def test_size_mismatch_between_image_and_label():
    with pytest.raises(ValueError, match="differ"):
        random_crop(_image(4, 4), np.zeros((4, 5)), 2, np.random.default_rng(0))


def test_make_batch():
    samples = [(_image(4, 6, s), np.full((4, 6), s)) for s in range(3)]
    x, t = make_batch(samples, "caffe")
    assert x.shape == (3, 3, 4, 6) and x.dtype == np.float32
    assert t.shape == (3, 4, 6) and t.dtype == np.int32
    np.testing.assert_array_equal(t[:, 0, 0], [0, 1, 2])
    np.testing.assert_allclose(x[1], preprocess(samples[1][0], "caffe"))
    with pytest.raises(ValueError, match=r"\(4, 6\).*\(5, 6\)|\(5, 6\).*\(4, 6\)"):
        make_batch(samples + [(_image(5, 6), np.zeros((5, 6)))])
