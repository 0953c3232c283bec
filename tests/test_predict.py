"""predict / predict_proba: any image size, the model's input convention, eval mode restored."""
import numpy as np
import pytest

from minifcn import nn
from minifcn.models import FCN8s, FCN32s
from minifcn.predict import nearest_resize, predict, predict_proba, shrink, tile_spans

transforms = pytest.importorskip("minifcn.data.transforms")


def trained_looking(cls=FCN8s, seed=0, **kwargs):
    """A tiny model with random weights everywhere (score layers too), so predictions vary."""
    model = cls(n_class=4, base_channels=2, fc_channels=4, **kwargs)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = (0.5 * rng.standard_normal(p.shape)).astype(np.float32)
    return model


def image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def softmax(score):
    e = np.exp(score - score.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("convention", ["caffe", "torchvision"])
def test_predict_proba_preprocesses_in_the_models_convention(convention):
    model = trained_looking(input_convention=convention)
    img = image(37, 53)
    prob = predict_proba(model, img)
    assert prob.shape == (4, 37, 53) and isinstance(prob, np.ndarray)
    np.testing.assert_allclose(prob.sum(axis=0), 1, rtol=1e-5)
    x = transforms.preprocess(img, convention)[None]
    np.testing.assert_allclose(prob, softmax(model.eval()(x))[0], rtol=1e-5, atol=1e-7)
    other = "torchvision" if convention == "caffe" else "caffe"
    assert not np.allclose(prob, softmax(model(transforms.preprocess(img, other)[None]))[0])


def test_predict_is_the_argmax_label_map():
    model = trained_looking()
    img = image(21, 30, seed=1)
    labels = predict(model, img)
    assert labels.shape == (21, 30) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, predict_proba(model, img).argmax(axis=0))
    assert len(np.unique(labels)) > 1


def test_any_size_and_batches():
    model = trained_looking(FCN32s)
    for h, w in [(1, 1), (2, 5), (33, 31)]:
        assert predict(model, image(h, w)).shape == (h, w)
    batch = np.stack([image(9, 11, seed=s) for s in range(3)])
    labels = predict(model, batch)
    assert labels.shape == (3, 9, 11)
    np.testing.assert_array_equal(labels[1], predict(model, batch[1]))
    assert predict_proba(model, batch).shape == (3, 4, 9, 11)
    with pytest.raises(ValueError, match="RGB"):
        predict(model, np.zeros((5, 5), np.uint8))


def test_mode_is_restored_and_no_caches_are_kept():
    model = trained_looking()
    model.train()
    first = predict_proba(model, image(12, 12))
    second = predict_proba(model, image(12, 12))
    np.testing.assert_array_equal(first, second)           # dropout off during prediction
    assert model.training and model.drop6.training          # … and back on afterwards
    assert model.drop6.step == 0                            # no training steps were taken
    assert all(m.cache is None for m in model.modules())
    model.eval()
    predict(model, image(4, 4))
    assert not model.training
    assert nn.is_grad_enabled()


def test_float64_models():
    model = trained_looking().to(dtype=np.float64)
    assert predict_proba(model, image(6, 7)).dtype == np.float64


def test_images_below_the_minimum_size_are_padded_and_cropped_back():
    model = trained_looking(conv1_1_padding=69)
    assert model.min_input_size == 57                  # 57 + 2·69 − 2 = 193: pool5 is 7×7
    image = np.random.default_rng(0).integers(0, 255, (20, 70, 3), dtype=np.uint8)
    prob = predict_proba(model, image)
    assert prob.shape == (4, 20, 70) and predict(model, image).shape == (20, 70)
    # by hand: 0 (the mean colour, preprocessed) below the image, the scores cropped back
    x = transforms.preprocess(image, model.input_convention)[None]
    model.eval()
    score = model(np.pad(x, ((0, 0), (0, 0), (0, 37), (0, 0))))[0, :, :20]
    e = np.exp(score - score.max(axis=0))
    np.testing.assert_allclose(prob, e / e.sum(axis=0), rtol=1e-5, atol=1e-6)


# ---- large photos: max_size and tiles -------------------------------------------------------


# How far an FCN-8s output pixel reaches into its input (either way, worst phase against the
# stride of 32): measured below.
FCN8S_REACH = 245


def reach_along_x(model, width=576):
    """Per phase 0..31 of a pixel against the stride: how far (left, right) a change of it
    changes any score. The model's weights are made positive, the photo flat gray and the change
    an increase, so every ReLU is active and every max pool passes it on: nothing masks the
    influence, and what is measured is the network's geometry (float64)."""
    rng = np.random.default_rng(0)
    for p in model.parameters():
        fan_in = np.prod(p.shape[1:]) if p.data.ndim > 1 else 1
        p.data = rng.uniform(0.5, 1.0, p.shape) / fan_in
    model.to(dtype=np.float64)
    flat = np.full((32, width, 3), 128, np.uint8)
    base = predict_proba(model, flat)
    reach = []
    for x in range(256, 288):
        img = flat.copy()
        img[16, x] = 255
        changed = np.nonzero((predict_proba(model, img) != base).any(axis=(0, 1)))[0]
        reach.append((x - changed.min(), changed.max() - x))
    return reach


def float64_model():
    return trained_looking(FCN8s).to(dtype=np.float64)


def test_nearest_resize_keeps_labels():
    label = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(nearest_resize(label, (4, 4)), label.repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(nearest_resize(label.repeat(3, 0).repeat(3, 1), (2, 2)), label)
    assert nearest_resize(np.zeros((3, 5, 7)), (10, 20)).shape == (3, 10, 20)


def test_max_size_predicts_small_and_scales_labels_back():
    model = trained_looking()
    img = image(90, 150, seed=2)
    small = shrink(img, 60)
    assert small.shape == (36, 60, 3)
    labels = predict(model, img, max_size=60)
    assert labels.shape == (90, 150)
    np.testing.assert_array_equal(labels, nearest_resize(predict(model, small), (90, 150)))
    np.testing.assert_array_equal(predict(model, img, max_size=150), predict(model, img))
    with pytest.raises(ValueError, match="max_size must be"):
        predict(model, img, max_size=0)
    with pytest.raises(ValueError, match="one H×W×3"):
        predict(model, np.stack([img, img]), max_size=60)


@pytest.mark.parametrize("length,tile,overlap", [(700, 256, 64), (700, 544, 480), (300, 256, 128),
                                                 (270, 256, 64), (100, 256, 64)])
def test_tiles_start_on_the_stride_and_own_every_pixel_once(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    owned = np.concatenate([np.arange(a, b) for _, _, a, b in spans])
    np.testing.assert_array_equal(owned, np.arange(length))
    for k, (start, stop, a, b) in enumerate(spans):
        assert start % 32 == 0 and start <= a < b <= stop and stop - start <= tile + 31
        if k > 0:                              # the seam is in the middle of the overlap
            assert a - start >= overlap // 2
        if k < len(spans) - 1:
            assert stop - b >= overlap // 2
    with pytest.raises(ValueError, match="must exceed overlap"):
        tile_spans(700, 256, 240)


def test_an_fcn8s_output_pixel_reaches_245_px_into_the_input():
    reach = reach_along_x(FCN8s(n_class=2, base_channels=2, fc_channels=4))
    assert max(max(r) for r in reach) == FCN8S_REACH
    assert min(min(r) for r in reach) > 200               # every phase reaches far


def test_tiles_overlapping_by_twice_the_reach_give_the_whole_image_result():
    model = float64_model()
    img = image(160, 700, seed=3)
    whole = predict_proba(model, img)
    tiled = predict_proba(model, img, tile=544, overlap=2 * FCN8S_REACH + 8)
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(predict(model, img, tile=544, overlap=480), whole.argmax(0))


def test_small_overlaps_agree_away_from_the_tile_edges():
    """Tolerance: pixels farther than FCN8S_REACH from every edge of their tile that the photo
    does not share equal the whole-image result to 1e-9 (float64); nearer, they may differ."""
    model = float64_model()
    img = image(96, 1000, seed=4)
    whole = predict_proba(model, img)
    tiled = predict_proba(model, img, tile=320, overlap=64)
    far = np.zeros(1000, dtype=bool)
    for start, stop, a, b in tile_spans(1000, 320, 64):
        x = np.arange(a, b)
        left = np.where(start > 0, x - start, np.inf)     # edges inside the photo only
        right = np.where(stop < 1000, stop - 1 - x, np.inf)
        far[a:b] = np.minimum(left, right) > FCN8S_REACH
    assert far.sum() > 100 and (~far).sum() > 800
    np.testing.assert_allclose(tiled[..., far], whole[..., far], rtol=0, atol=1e-9)
    assert np.abs(tiled[..., ~far] - whole[..., ~far]).max() > 1e-3     # the seams do show
