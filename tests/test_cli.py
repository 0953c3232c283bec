"""The command line, run as a user runs it: ``python -m minifcn …`` in a subprocess."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "minifcn", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    data, out = str(base / "data"), str(base / "run")
    r = run("make-data", data, "--n-train", "4", "--n-val", "2", "--size", "32")
    assert r.returncode == 0, r.stderr
    r = run("train", "--data", data, "--iterations", "4", "--eval-every", "2",
            "--base-channels", "2", "--fc-channels", "8", "--out", out, "--progress", "false")
    assert r.returncode == 0, r.stderr
    return data, out, r


def test_train_writes_the_run_folder(trained):
    data, out, r = trained
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["iteration"] == 4 and 0 <= metrics["mean_iu"] <= 1
    assert "mean_iu" in r.stdout and os.path.exists(os.path.join(out, "checkpoint.npz"))


def test_resume_continues_with_saved_settings(trained, tmp_path):
    data, out, _ = trained
    copy = str(tmp_path / "run")
    shutil.copytree(out, copy)
    r = run("train", "--out", copy, "--resume", "--iterations", "6")
    assert r.returncode == 0, r.stderr
    assert json.load(open(os.path.join(copy, "metrics.json")))["iteration"] == 6
    config = json.load(open(os.path.join(copy, "config.json")))
    assert config["base_channels"] == 2 and config["iterations"] == 6


def test_eval(trained):
    data, out, _ = trained
    r = run("eval", "--checkpoint", os.path.join(out, "checkpoint.npz"), "--data", data)
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert set(scores) >= {"acc", "acc_cls", "mean_iu", "fwavacc", "iu"}


def test_predict_writes_palette_pngs_of_each_size(trained, tmp_path):
    data, out, _ = trained
    images = []
    for i, size in enumerate([(37, 23), (64, 48)]):
        path = str(tmp_path / f"img{i}.jpg")
        Image.fromarray(np.random.default_rng(i).integers(0, 255, size + (3,), dtype=np.uint8)
                        ).save(path)
        images.append(path)
    r = run("predict", "--checkpoint", os.path.join(out, "checkpoint.npz"), *images,
            "--out", str(tmp_path / "pred"), "--overlay")
    assert r.returncode == 0, r.stderr
    for i, size in enumerate([(37, 23), (64, 48)]):
        png = Image.open(tmp_path / "pred" / f"img{i}.png")
        assert png.mode == "P" and png.size == (size[1], size[0])
        assert (tmp_path / "pred" / f"img{i}_overlay.jpg").exists()


def test_errors_are_short_and_clear(tmp_path):
    r = run("eval", "--checkpoint", str(tmp_path / "nope.npz"), "--data", str(tmp_path))
    assert r.returncode == 2 and "nope.npz" in r.stderr and "Traceback" not in r.stderr
    r = run("train", "--bogus")
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr


def test_console_script_when_installed():
    exe = shutil.which("minifcn")
    if exe is None:
        pytest.skip("the minifcn console script is not installed (pip install -e .)")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "make-data" in r.stdout
