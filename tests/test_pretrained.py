"""The trained nets in data/pretrained/ are what their manifest says, and what the lessons need.

Retraining them is a bench (bench/bench_pretrained.py), not a test: here the shipped files are
loaded, sized, and scored again on the validation set they were scored on.
"""
import json
import os

import pytest

import minifcn
from minifcn import data

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(REPO, "data", "pretrained")
NAMES = ("fcn32s", "fcn16s", "fcn8s")


@pytest.fixture(scope="module")
def manifest():
    with open(os.path.join(PRETRAINED, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def test_each_file_is_small_and_loads_as_the_manifest_says(manifest):
    for name in NAMES:
        path = os.path.join(PRETRAINED, name + ".npz")
        stage = manifest["stages"][name]
        assert os.path.getsize(path) <= 3_000_000, f"{path} is over 3 MB"
        assert os.path.getsize(path) == stage["bytes"]
        model = minifcn.load(path)
        assert type(model).__name__.lower() == name
        assert model.config == stage["config"]
        assert model.base_channels == 8 and model.fc_channels == 128     # the main job's widths


def test_lesson08s_nets_are_small_and_load_as_the_manifest_says(manifest, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "lessons"))
    import make_pretrained
    import upsampling_nets
    entries = manifest["lesson08"]
    assert sorted(entries) == sorted(make_pretrained.LESSON08)
    for name, entry in entries.items():
        path = os.path.join(PRETRAINED, entry["file"])
        assert os.path.getsize(path) <= 3_000_000, f"{path} is over 3 MB"
        assert os.path.getsize(path) == entry["bytes"]
        model = upsampling_nets.load(path)
        assert type(model).__name__ == entry["class"] and model.config == entry["config"]
        assert entry["metrics"]["iteration"] == make_pretrained.LESSON08_ITERATIONS
        # every net learned something: no panel of lesson 08's figure is "background" only
        assert entry["metrics"]["acc_cls"] > 0.3, (name, entry["metrics"]["acc_cls"])


def test_the_stages_show_the_papers_order(manifest):
    iu = [manifest["stages"][n]["metrics"]["mean_iu"] for n in NAMES]
    assert iu[2] >= 0.85, f"FCN-8s scores {iu[2]:.3f} mean IU"
    assert iu[1] - iu[0] > 0.03 and iu[2] - iu[1] > 0.03, iu
    assert [manifest["stages"][n]["init"] for n in NAMES] == [None, "fcn32s", "fcn16s"]


@pytest.mark.slow
def test_fcn8s_scores_what_the_manifest_records(manifest):
    # Inference only: another CPU's rounding can flip a few pixels' argmax, not more.
    root = os.path.join(REPO, manifest["data"]["folder"])
    val = data.load_dataset(data.ensure_shapes(root, **_made_with(manifest)), "val")
    model = minifcn.load(os.path.join(PRETRAINED, "fcn8s.npz"))
    scores = minifcn.evaluate(model, val)
    assert scores["mean_iu"] == pytest.approx(manifest["stages"]["fcn8s"]["metrics"]["mean_iu"],
                                              abs=0.005)


def _made_with(manifest):
    """The make_shapes arguments of the dataset the nets were scored on (ensure_shapes refuses
    an existing folder that was made with others)."""
    made = manifest["data"]["shapes.json"]
    keys = ("n_train", "n_val", "size", "seed")
    return {k: made[k] for k in keys if k in made}
