"""Lesson 08's nets (lessons/upsampling_nets.py): hand-written backwards against numerical
gradients, and saved nets that minifcn.load rebuilds only when the caller names their class."""
import os
import sys

import numpy as np
import pytest

import minifcn
from minifcn import gradcheck

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lessons"))
import upsampling_nets  # noqa: E402


def randomized(net, seed):
    """Random weights everywhere (the score layers start at zero, which would check little)."""
    rng = np.random.default_rng(seed)
    for name, p in net.named_parameters():
        if p.requires_grad:
            fan_in = np.prod(p.shape[1:]) if p.data.ndim > 1 else 1
            std = 0.3 if name.endswith("bias") else np.sqrt(2 / fan_in)
            p.data = std * rng.standard_normal(p.shape)
    return net.eval()


@pytest.mark.parametrize("stem", sorted(upsampling_nets.VARIANTS))
def test_backward_matches_numerical_gradient(stem):
    net = randomized(upsampling_nets.build(stem, c=2, n_class=3).to(dtype=np.float64), 1)
    x = np.random.default_rng(2).standard_normal((1, 3, 20, 24))
    assert net(x).shape == (1, 3, 20, 24)
    errors = gradcheck.check_layer(net, x, n_samples=4)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def test_shift_and_stitch_backward_matches_numerical_gradient():
    trunk = randomized(upsampling_nets.build("lesson08_coarse", c=2, n_class=2), 3)
    net = upsampling_nets.stitched_trunk(trunk.to(dtype=np.float64))
    x = np.random.default_rng(4).standard_normal((1, 3, 16, 16))
    assert net(x).shape == (1, 2, 16, 16)
    errors = gradcheck.check_layer(net, x, n_samples=4)
    assert max(errors.values()) < 1e-6, errors


def test_a_saved_net_loads_only_with_its_class_named(tmp_path):
    net = randomized(upsampling_nets.build("lesson08_dilated", c=2, n_class=3), 5)
    path = str(tmp_path / "dilated.npz")
    minifcn.save(net, path)
    with pytest.raises(ValueError, match="UpsampledTrunk"):
        minifcn.load(path)                  # the file names a class; it brings no code
    again = upsampling_nets.load(path)
    assert type(again) is upsampling_nets.UpsampledTrunk and again.config == net.config
    x = np.random.default_rng(6).standard_normal((1, 3, 24, 24)).astype(np.float32)
    np.testing.assert_array_equal(again.eval()(x), net(x))
