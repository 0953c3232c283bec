"""Converters: torchfcn .pth, torchvision VGG16 .pth and Chainer fcn .npz → minifcn files.

Each test writes random weights in the source format itself (names and shapes as the source
library uses them) and checks that the converted model holds exactly those weights."""
import sys

import numpy as np
import pytest

from minifcn import io
from minifcn.cli import main as cli_main
from minifcn.convert import (TORCHVISION_CLASSIFIER, TORCHVISION_FEATURES, chainer_to_state_dict,
                             convert, load_torch_state_dict)
from minifcn.models import FCN8s, FCN8sAtOnce, FCN16s, FCN32s, VGG16
from minifcn.models.vgg import VGG16_CONVS

TINY = dict(base_channels=2, fc_channels=4)


def random_state(model, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(p.shape).astype(np.float32) for n, p in model.named_parameters()}


def to_chainer(state):
    """Our names → Chainer's: conv1_1.weight → conv1_1/W, .bias → /b (same array layouts)."""
    return {name.replace(".weight", "/W").replace(".bias", "/b"): v for name, v in state.items()}


def assert_holds(model, state):
    assert set(model.state_dict()) == set(state)
    for name, value in state.items():
        np.testing.assert_array_equal(model.state_dict()[name], value, err_msg=name)


# --- Chainer ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [FCN32s, FCN16s, FCN8s])
def test_chainer_npz(cls, tmp_path):
    state = random_state(cls(n_class=5, **TINY))
    chainer = to_chainer(state)
    assert chainer["fc6/W"].shape == (4, 16, 7, 7)           # a 7×7 Convolution2D in Chainer
    np.savez(tmp_path / "fcn_from_caffe.npz", **chainer)
    model = convert(tmp_path / "fcn_from_caffe.npz", tmp_path / "out.npz")
    assert type(model) is cls and model.input_convention == "caffe" and model.n_class == 5
    loaded = io.load(tmp_path / "out.npz")
    assert_holds(loaded, state)
    assert io.read_metadata(tmp_path / "out.npz")["meta"]["source"] == "chainer"


def test_chainer_prefixes_biases_and_at_once(tmp_path):
    state = random_state(FCN8s(**TINY))
    chainer = {f"updater/model:main/{k}": v for k, v in to_chainer(state).items()}
    chainer["updater/model:main/upscore8/b"] = np.zeros(21, np.float32)   # old fcn: zero bias
    chainer["updater/optimizer:main/conv1_1/W/msg"] = np.zeros(3)        # optimizer state
    chainer["updater/iteration"] = np.array(100)
    np.savez(tmp_path / "snapshot.npz", **chainer)
    model = convert(tmp_path / "snapshot.npz", tmp_path / "out.npz", model="fcn8s_atonce")
    assert type(model) is FCN8sAtOnce
    assert_holds(model, state)
    with pytest.raises(ValueError, match="nonzero deconvolution bias"):
        chainer_to_state_dict({"upscore2/b": np.ones(3)})


def test_wrong_shapes_are_refused(tmp_path):
    state = to_chainer(random_state(FCN32s(**TINY)))
    state["fc7/W"] = state["fc7/W"][:, :, 0, 0]                        # a Linear, not a 1×1 conv
    np.savez(tmp_path / "bad.npz", **state)
    with pytest.raises(ValueError, match="fc7.weight"):
        convert(tmp_path / "bad.npz", tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_convert_command(tmp_path, capsys):
    state = random_state(FCN16s(**TINY))
    np.savez(tmp_path / "fcn16s.npz", **to_chainer(state))
    assert cli_main(["convert", str(tmp_path / "fcn16s.npz"), str(tmp_path / "out.npz"),
                     "--input-convention", "torchvision"]) == 0
    assert "FCN16s" in capsys.readouterr().out
    model = io.load(tmp_path / "out.npz")
    assert model.input_convention == "torchvision"
    assert_holds(model, state)
    assert cli_main(["convert", str(tmp_path / "missing.npz"), str(tmp_path / "x.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err


# --- PyTorch ------------------------------------------------------------------------------------
def test_torch_missing_gives_a_clear_import_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)                  # import torch → ImportError
    (tmp_path / "w.pth").write_bytes(b"")
    with pytest.raises(ImportError, match="pip install torch"):
        load_torch_state_dict(tmp_path / "w.pth")


@pytest.mark.torch
@pytest.mark.parametrize("cls", [FCN32s, FCN16s, FCN8s])
def test_torchfcn_pth(cls, tmp_path):
    torch = pytest.importorskip("torch")
    state = random_state(cls(**TINY))
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, tmp_path / "fcn.pth")
    model = convert(tmp_path / "fcn.pth", tmp_path / "out.npz")
    assert type(model) is cls and model.input_convention == "caffe"
    assert_holds(io.load(tmp_path / "out.npz"), state)


@pytest.mark.torch
def test_torchfcn_checkpoint_and_data_parallel_names(tmp_path):
    torch = pytest.importorskip("torch")
    state = random_state(FCN8s(**TINY))
    checkpoint = {"epoch": 3, "iteration": 1000, "arch": "FCN8s", "best_mean_iu": 0.6,
                  "model_state_dict": {f"module.{k}": torch.from_numpy(v)
                                       for k, v in state.items()}}
    torch.save(checkpoint, tmp_path / "checkpoint.pth.tar")
    model = convert(tmp_path / "checkpoint.pth.tar", tmp_path / "out.npz", model="fcn8s-atonce")
    assert type(model) is FCN8sAtOnce
    assert_holds(model, state)


def torchvision_vgg16_state(base_channels=2, fc_channels=4, n_class=1000, seed=0):
    """torchvision.models.vgg16().state_dict(), written by hand: features.<i> are the convs
    (between them ReLUs and pools), classifier.0/3/6 the Linear layers."""
    rng = np.random.default_rng(seed)
    state, c_in = {}, 3
    widths = [1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 8, 8, 8]
    for i, width in zip(TORCHVISION_FEATURES, widths):
        c_out = width * base_channels
        state[f"features.{i}.weight"] = rng.standard_normal((c_out, c_in, 3, 3))
        state[f"features.{i}.bias"] = rng.standard_normal(c_out)
        c_in = c_out
    for i, (n_in, n_out) in zip(TORCHVISION_CLASSIFIER, [(c_in * 49, fc_channels),
                                                        (fc_channels, fc_channels),
                                                        (fc_channels, n_class)]):
        state[f"classifier.{i}.weight"] = rng.standard_normal((n_out, n_in))
        state[f"classifier.{i}.bias"] = rng.standard_normal(n_out)
    return {k: v.astype(np.float32) for k, v in state.items()}


@pytest.mark.torch
def test_torchvision_vgg16(tmp_path):
    torch = pytest.importorskip("torch")
    state = torchvision_vgg16_state()
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, tmp_path / "vgg16.pth")
    vgg = convert(tmp_path / "vgg16.pth", tmp_path / "vgg.npz")
    assert type(vgg) is VGG16 and vgg.input_convention == "torchvision" and vgg.n_class == 1000
    loaded = io.load(tmp_path / "vgg.npz")
    for i, name in zip(TORCHVISION_FEATURES, VGG16_CONVS):
        np.testing.assert_array_equal(getattr(loaded, name).weight.data,
                                      state[f"features.{i}.weight"])
    np.testing.assert_array_equal(loaded.fc6.weight.data, state["classifier.0.weight"])
    np.testing.assert_array_equal(loaded.fc8.bias.data, state["classifier.6.bias"])
    # --model builds the FCN from it: fc6 convolutionized, convention 'torchvision' recorded.
    assert cli_main(["convert", str(tmp_path / "vgg16.pth"), str(tmp_path / "fcn.npz"),
                     "--model", "fcn32s", "--n-class", "3"]) == 0
    fcn = io.load(tmp_path / "fcn.npz")
    assert type(fcn) is FCN32s and fcn.n_class == 3 and fcn.input_convention == "torchvision"
    np.testing.assert_array_equal(fcn.fc6.weight.data,
                                  state["classifier.0.weight"].reshape(4, 16, 7, 7))
    np.testing.assert_array_equal(fcn.conv5_3.bias.data, state["features.28.bias"])


@pytest.mark.torch
def test_torchvision_variants_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    state = torchvision_vgg16_state()
    state["features.1.running_mean"] = np.zeros(2, np.float32)          # vgg16_bn
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, tmp_path / "vgg16_bn.pth")
    with pytest.raises(ValueError, match="vgg16_bn"):
        convert(tmp_path / "vgg16_bn.pth", tmp_path / "out.npz")
