"""Whole-model gradient checks: each model's hand-written backward against central differences,
in float64, for the input and a random sample of every parameter (deconvolutions included)."""
import numpy as np
import pytest

from minifcn import gradcheck
from minifcn.models import FCN8s, FCN8sAtOnce, FCN16s, FCN32s, VGG16


def randomized(model, seed=0, keep_upsampling=False):
    """Every parameter random (the score layers start at zero, which would check little), with
    He-like scales so activations neither vanish nor explode through 15 layers, and learning
    (the deconvolutions too, so that their weight gradients are checked). ``keep_upsampling``
    keeps the frozen bilinear deconvolutions, the models' default, which take the per-class
    separable path."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if keep_upsampling and name.startswith("upscore"):
            continue
        fan_in = np.prod(p.shape[1:]) if p.data.ndim > 1 else 1
        std = 0.3 if name.endswith("bias") or name.startswith("upscore") else np.sqrt(2 / fan_in)
        p.data = std * rng.standard_normal(p.shape)
        p.requires_grad = True
    return model.eval()          # dropout off: the same function at every evaluation


def check_model(model, x, n_samples):
    errors = gradcheck.check_layer(model, x, n_samples=n_samples)
    assert set(errors) == {"x"} | {name for name, p in model.named_parameters()
                                   if p.requires_grad}
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def test_fcn8s_backward_quick():
    # One coordinate per array of a very small FCN-8s: the always-run version of the check below.
    model = randomized(FCN8s(n_class=2, base_channels=2, fc_channels=4).to(dtype=np.float64))
    check_model(model, np.random.default_rng(0).standard_normal((1, 3, 5, 6)), n_samples=1)


def test_fcn8s_backward_through_frozen_bilinear_upsampling():
    # The default model: upscore layers frozen and bilinear, on the separable path, no dW.
    model = randomized(FCN8s(n_class=3, base_channels=2, fc_channels=4).to(dtype=np.float64),
                       keep_upsampling=True)
    assert all(getattr(model, n).is_frozen_bilinear()
               for n in ("upscore2", "upscore_pool4", "upscore8"))
    check_model(model, np.random.default_rng(4).standard_normal((1, 3, 9, 11)), n_samples=2)
    assert model.upscore8.weight.grad is None


@pytest.mark.slow       # 7–10 s each on two busy cores
@pytest.mark.parametrize("cls", [FCN32s, FCN16s, FCN8s, FCN8sAtOnce])
def test_fcn_backward_matches_numerical_gradient(cls):
    model = randomized(cls(n_class=3, base_channels=4, fc_channels=8).to(dtype=np.float64))
    check_model(model, np.random.default_rng(1).standard_normal((1, 3, 13, 17)), n_samples=3)


@pytest.mark.parametrize("fc6_padding", [2, 3])
def test_fcn8s_backward_through_zero_filled_skips(fc6_padding):
    # fc6 padded by 2 or 3: the upsampled coarse scores reach past score_pool4 and score_pool3,
    # whose crops fill with zeros there (and pass no gradient back from there).
    pad = FCN8s.smallest_padding(20, fc6_padding=fc6_padding)
    model = randomized(FCN8s(n_class=3, base_channels=2, fc_channels=4, fc6_padding=fc6_padding,
                             conv1_1_padding=pad).to(dtype=np.float64))
    x = np.random.default_rng(5).standard_normal((1, 3, 20, 24))
    _, b = model(x, return_blobs=True)
    overhang = [b[ref].shape[2] + crop.offset[0] - b[skip].shape[2]
                for skip, ref, crop in (("score_pool4", "upscore2", model.score_pool4c),
                                        ("score_pool3", "upscore_pool4", model.score_pool3c))]
    assert min(model.crop_offsets["score_pool4c"], model.crop_offsets["score_pool3c"]) < 0 \
        or max(overhang) > 0                                 # the fill is really used
    check_model(model, x, n_samples=3)


def test_at_once_scales_reach_the_skip_gradients():
    # The 0.01 and 0.0001 factors scale score_pool4's and score_pool3's weight gradients.
    x = np.random.default_rng(2).standard_normal((1, 3, 13, 17))
    grads = {}
    for cls in (FCN8s, FCN8sAtOnce):
        model = randomized(cls(n_class=3, base_channels=4, fc_channels=8).to(dtype=np.float64))
        out = model(x)
        model.backward(np.ones_like(out))
        grads[cls] = {n: p.grad for n, p in model.named_parameters()}
    for name, factor in (("score_pool4.weight", 0.01), ("score_pool3.weight", 0.0001)):
        np.testing.assert_allclose(grads[FCN8sAtOnce][name], factor * grads[FCN8s][name],
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_vgg16_backward_matches_numerical_gradient():
    model = randomized(VGG16(n_class=5, base_channels=2, fc_channels=4).to(dtype=np.float64))
    check_model(model, np.random.default_rng(3).standard_normal((1, 3, 224, 224)), n_samples=2)
