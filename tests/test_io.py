"""Weights files: save/load round trips, checkpoints (extra arrays, metadata), atomic writes, and
the refusal of pickles and of files that are not minifcn's."""
import json
import os
import pickle

import numpy as np
import pytest

from minifcn import io
from minifcn.models import FCN8s, FCN8sAtOnce, FCN16s, FCN32s, VGG16

TINY = dict(base_channels=2, fc_channels=4)


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = rng.standard_normal(p.shape).astype(p.data.dtype)
    return model


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


@pytest.mark.parametrize("cls", [FCN32s, FCN16s, FCN8s, FCN8sAtOnce, VGG16])
def test_save_load_round_trip(cls, tmp_path):
    kwargs = dict(n_class=3, class_names=["bg", "a", "b"], input_convention="torchvision",
                  seed=7, **TINY)
    if cls is not VGG16:
        kwargs.update(conv1_1_padding=101, learn_upsampling=True)
    model = randomize(cls(**kwargs))
    path = tmp_path / "model.npz"
    io.save(model, path)
    loaded = io.load(path)
    assert type(loaded) is cls and loaded.config == model.config
    assert loaded.class_names == ["bg", "a", "b"] and loaded.input_convention == "torchvision"
    assert_same_weights(model, loaded)
    if cls is not VGG16:
        assert loaded.crop_offsets["score"] == model.crop_offsets["score"]
        assert all(p.requires_grad for p in loaded.parameters())      # learn_upsampling kept
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    np.testing.assert_array_equal(model.eval()(x), loaded.eval()(x))


def test_file_layout_is_plain_arrays_and_json(tmp_path):
    model = FCN8s(**TINY)
    path = tmp_path / "m.npz"
    io.save(model, path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {f"param/{n}" for n in model.state_dict()} | {"__minifcn__"}
        header = json.loads(str(data["__minifcn__"]))
    assert header["class"] == "FCN8s" and header["format"] == "minifcn"
    assert header["format_version"] == io.FORMAT_VERSION and header["minifcn_version"]
    assert header["config"]["base_channels"] == 2 and header["input_convention"] == "caffe"
    assert header["class_names"][15] == "person" and header["dtype"] == "float32"
    assert io.read_metadata(path) == header


def test_dtype_is_kept(tmp_path):
    model = randomize(FCN32s(**TINY)).to(dtype=np.float64)
    io.save(model, tmp_path / "m.npz")
    loaded = io.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float64
    assert_same_weights(model, loaded)


def test_checkpoint_extra_and_meta(tmp_path):
    model = randomize(FCN16s(**TINY))
    momentum = {f"momentum/{n}": np.full(p.shape, 0.5, np.float32)
                for n, p in model.named_parameters()}
    extra = dict(momentum, rng_state=np.arange(4, dtype=np.uint64))
    meta = {"iteration": 1234, "lr": 1e-10, "history": [{"mean_iu": 0.5}]}
    io.save(model, tmp_path / "ckpt.npz", extra=extra, meta=meta)
    loaded, extra2, meta2 = io.read(tmp_path / "ckpt.npz")
    assert_same_weights(model, loaded)
    assert meta2 == meta
    assert set(extra2) == set(extra)
    for name, value in extra.items():
        assert extra2[name].dtype == value.dtype
        np.testing.assert_array_equal(extra2[name], value)


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    first = randomize(FCN8s(**TINY), seed=1)
    io.save(first, path)
    io.save(randomize(FCN8s(**TINY), seed=2), path)                # overwrite in place
    assert os.listdir(tmp_path) == ["m.npz"]                       # no temp file left behind

    def crash(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save(first, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.npz"]
    assert_same_weights(io.load(path), randomize(FCN8s(**TINY), seed=2))   # the old file stands


def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="config"):
        io.save(object.__new__(type("NotAModel", (), {})), tmp_path / "x.npz")
    model = FCN8s(**TINY)
    with pytest.raises(TypeError, match="JSON"):
        io.save(model, tmp_path / "x.npz", meta={"f": lambda: 0})
    with pytest.raises(TypeError, match="object"):
        io.save(model, tmp_path / "x.npz", extra={"o": np.array([{}], dtype=object)})
    assert not os.listdir(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        io.load(tmp_path / "nothere.npz")


def test_pickles_are_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "objects.npz", __minifcn__=np.array("{}"),
             payload=np.array([{"x": 1}], dtype=object))
    with open(tmp_path / "raw.pkl", "wb") as f:
        pickle.dump({"conv1_1.weight": np.zeros(3)}, f)
    for name in ("objects.npy", "objects.npz", "raw.pkl"):
        with pytest.raises(ValueError, match="pickled") as err:
            io.load(tmp_path / name)
        assert name in str(err.value)


def test_not_a_minifcn_file(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "text.txt").write_text("hello")
    np.savez(tmp_path / "other.npz", __minifcn__=np.array(json.dumps({"format": "other"})))
    for name in ("plain.npz", "array.npy", "text.txt", "other.npz"):
        with pytest.raises(ValueError, match="not a minifcn weights file") as err:
            io.load(tmp_path / name)
        assert name in str(err.value)


def test_newer_format_is_refused(tmp_path):
    io.save(FCN8s(**TINY), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["__minifcn__"]))
    header["format_version"] = io.FORMAT_VERSION + 1
    arrays["__minifcn__"] = np.array(json.dumps(header))
    np.savez(tmp_path / "new.npz", **arrays)
    with pytest.raises(ValueError, match="format version"):
        io.load(tmp_path / "new.npz")


def test_strict_loading_catches_tampered_weights(tmp_path):
    io.save(FCN8s(**TINY), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        arrays = {k: data[k] for k in data.files if k != "param/score_pool3.bias"}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad\.npz.*score_pool3\.bias"):
        io.load(tmp_path / "bad.npz")
