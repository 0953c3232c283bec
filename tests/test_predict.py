"""predict / predict_proba: any image size, the model's input convention, eval mode restored."""
import numpy as np
import pytest

from minifcn import nn
from minifcn.models import FCN8s, FCN32s
from minifcn.predict import predict, predict_proba

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
