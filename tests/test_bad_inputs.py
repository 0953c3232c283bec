"""Bad inputs, as a hostile but realistic user makes them: every one gets one clear line, and no
file the user had is changed or lost (each case hashes the user's files before and after).

Most cases call the command line in-process (``minifcn.cli.main``, what ``python -m minifcn``
runs); a few run it in a subprocess, where a traceback or a warning would really be printed.
"""
import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import minifcn
from minifcn import backend, io
from minifcn.cli import main
from minifcn.data import read_image, read_label_png
from minifcn.data.shapes import make_shapes
from minifcn.models import FCN8s
from minifcn.train import TrainingDiverged, train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--base-channels", "2", "--fc-channels", "8", "--progress", "false"]
TINY_KW = dict(base_channels=2, fc_channels=8, progress=False)


def photos_and_masks(root, n, mask=None):
    """root/photos and root/masks holding n grey 8×8 photos p0.png … and their masks (``mask``,
    all 0 by default): the smallest folders ``prepare`` reads. Returns the two folders."""
    images, masks = root / "photos", root / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(n):
        Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(images / f"p{i}.png")
        Image.fromarray(np.zeros((8, 8), np.uint8) if mask is None else mask).save(
            masks / f"p{i}.png")
    return images, masks


def hashes(*roots):
    """{path: sha256} of every file under ``roots`` (files or folders)."""
    out = {}
    for root in roots:
        root = str(root)
        paths = [root] if os.path.isfile(root) else [
            os.path.join(d, f) for d, _, files in os.walk(root) for f in files]
        for path in paths:
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def cli(capsys, *args):
    """(exit code, stdout, stderr) of ``python -m minifcn *args``, run in-process."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def run_subprocess(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "minifcn", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_shapes(str(tmp_path_factory.mktemp("shapes") / "data"), n_train=4, n_val=2,
                       size=32, seed=0)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data):
    """A finished 4-iteration run (evaluated at 2 and 4)."""
    out = str(tmp_path_factory.mktemp("finished") / "run")
    train(data=data, iterations=4, eval_every=2, out=out, **TINY_KW)
    return out


@pytest.fixture
def run_copy(finished, tmp_path):
    copy = str(tmp_path / "run")
    shutil.copytree(finished, copy)
    return copy


def copy_data(data, tmp_path):
    copy = str(tmp_path / "data")
    shutil.copytree(data, copy)
    return copy


def photo(path, size=(20, 30), seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(path)
    return str(path)


# --- 1. nothing the user had is lost ------------------------------------------------------------
def test_predict_never_writes_over_an_input(capsys, finished, tmp_path):
    cat = photo(tmp_path / "cat.png")
    before = hashes(tmp_path)
    code, _, err = cli(capsys, "predict", "--checkpoint", f"{finished}/checkpoint.npz", cat,
                       "--out", tmp_path)
    assert code != 0 and "cat.png" in one_error_line(err) and "input" in err
    assert hashes(tmp_path) == before
    # not even with --overwrite
    code, _, err = cli(capsys, "predict", "--checkpoint", f"{finished}/checkpoint.npz", cat,
                       "--out", tmp_path, "--overwrite")
    assert code != 0 and "cat.png" in one_error_line(err)
    assert hashes(tmp_path) == before


def test_predict_gives_inputs_of_the_same_name_distinct_outputs(capsys, finished, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inputs = [photo(tmp_path / "a" / "x.jpg", seed=1), photo(tmp_path / "b" / "x.jpg", seed=2)]
    before = hashes(*inputs)
    code, out, err = cli(capsys, "predict", "--checkpoint", f"{finished}/checkpoint.npz",
                         *inputs, "--out", tmp_path / "pred", "--overlay")
    assert code == 0, err
    written = sorted(os.listdir(tmp_path / "pred"))
    assert len(written) == 4 and "x.png" in written, written        # two labels, two overlays
    for name in written:
        assert name in out                                           # each output is named
    assert hashes(*inputs) == before


def test_predict_does_not_replace_earlier_outputs_unless_asked(capsys, finished, tmp_path):
    image = photo(tmp_path / "x.jpg")
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "x.png").write_bytes(b"an earlier result, or a file of the user's")
    before = hashes(tmp_path)
    code, _, err = cli(capsys, "predict", "--checkpoint", f"{finished}/checkpoint.npz", image,
                       "--out", pred)
    assert code != 0 and "x.png" in one_error_line(err) and "--overwrite" in err
    assert hashes(tmp_path) == before
    code, _, err = cli(capsys, "predict", "--checkpoint", f"{finished}/checkpoint.npz", image,
                       "--out", pred, "--overwrite")
    assert code == 0, err
    assert read_label_png(str(pred / "x.png")).shape == (20, 30)


def test_fresh_train_into_an_existing_run_is_refused(capsys, run_copy, data):
    before = hashes(run_copy)
    code, _, err = cli(capsys, "train", "--data", data, "--iterations", "2", "--out", run_copy,
                       *TINY)
    line = one_error_line(err)
    assert code != 0 and run_copy in line and "--resume" in line and "--overwrite" in line
    assert hashes(run_copy) == before


def test_overwrite_replaces_only_the_run_files(capsys, run_copy, data):
    notes = os.path.join(run_copy, "notes.txt")
    with open(notes, "w") as f:
        f.write("the user's own notes")
    code, _, err = cli(capsys, "train", "--data", data, "--iterations", "1", "--eval-every",
                       "0", "--out", run_copy, "--overwrite", *TINY)
    assert code == 0, err
    assert io.read(os.path.join(run_copy, "checkpoint.npz"))[2]["iteration"] == 1
    assert not os.path.exists(os.path.join(run_copy, "eval.csv"))     # the old run's rows
    assert open(notes).read() == "the user's own notes"


def test_default_run_folder_is_never_reused(capsys, data, tmp_path, monkeypatch):
    # The README's main-job command, run twice: the second run goes to runs/fcn8s-2.
    monkeypatch.chdir(tmp_path)
    args = ("train", "--data", data, "--iterations", "1", "--eval-every", "0", *TINY)
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    first = hashes(tmp_path / "runs" / "fcn8s")
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert "fcn8s-2" in out + err and "runs" in err                  # it says where it went
    assert (tmp_path / "runs" / "fcn8s-2" / "checkpoint.npz").exists()
    assert hashes(tmp_path / "runs" / "fcn8s") == first


def test_resume_without_out_says_which_folder(capsys, data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli(capsys, "train", "--data", data, "--iterations", "1", "--eval-every", "0", *TINY)
    code, out, err = cli(capsys, "train", "--resume", "--iterations", "2")
    assert code == 0, err
    assert "resum" in err and str(tmp_path / "runs" / "fcn8s") in err


@pytest.mark.parametrize("flag,value", [("--batch-size", "0"), ("--iterations", "-5"),
                                        ("--lr", "0"), ("--eval-every", "-1"),
                                        ("--log-every", "0"), ("--subset", "0"),
                                        ("--lr", "nan"), ("--momentum", "1.5"),
                                        ("--base-channels", "0"), ("--seed", "-1"),
                                        ("--val-subset", "-2")])
def test_a_bad_value_changes_nothing_in_a_finished_run(capsys, run_copy, flag, value):
    before = hashes(run_copy)
    for resume in (["--resume"], []):
        code, _, err = cli(capsys, "train", "--out", run_copy, *resume, flag, value)
        line = one_error_line(err)
        assert code != 0 and flag in line and value in line, line
        assert hashes(run_copy) == before


def test_resume_and_overwrite_contradict(capsys, run_copy):
    before = hashes(run_copy)
    code, _, err = cli(capsys, "train", "--out", run_copy, "--resume", "--overwrite")
    assert code != 0 and "--overwrite" in one_error_line(err)
    assert hashes(run_copy) == before


def test_checkpoint_is_written_before_the_evaluation_that_fails(capsys, data, tmp_path):
    data = copy_data(data, tmp_path)
    bad = os.path.join(data, "JPEGImages", "val_00001.jpg")      # not the first: found late
    with open(bad, "wb") as f:
        f.write(b"not a jpeg")
    before = hashes(data)
    out = str(tmp_path / "run")
    code, _, err = cli(capsys, "train", "--data", data, "--iterations", "4", "--eval-every", "2",
                       "--out", out, *TINY)
    assert code != 0 and "val_00001.jpg" in one_error_line(err)
    _, _, meta = io.read(os.path.join(out, "checkpoint.npz"))
    assert meta["iteration"] == 2                                   # the training is kept
    assert hashes(data) == before


def test_the_checkpoint_history_includes_a_finished_evaluation(finished, run_copy, capsys):
    _, _, meta = io.read(os.path.join(finished, "checkpoint.npz"))
    assert [h["iteration"] for h in meta["history"]] == [2, 4]
    code, _, err = cli(capsys, "train", "--out", run_copy, "--resume", "--iterations", "6")
    assert code == 0, err
    with open(os.path.join(run_copy, "eval.csv")) as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["2", "4", "6"]


def _blow_up_at(model, call):
    """Make training iteration ``call`` leave conv1_1's weights at 3e38 (finite in float32, and
    every conv1_1 output overflows)."""
    backward, state = model.backward, {"n": 0}

    def wrapped(*args, **kwargs):
        state["n"] += 1
        result = backward(*args, **kwargs)
        if state["n"] == call:
            model.conv1_1.weight.data[...] = np.float32(3e38)
        return result
    model.backward = wrapped
    return model


def test_last_good_checkpoint_has_finite_weights_and_a_finite_loss(data, tmp_path):
    # Iteration 4 leaves weights of 3e38: the losses logged up to 4 were all computed before
    # and are finite, but the checkpoint due at 4 would predict NaN. It is refused; the one at 2
    # stays.
    out = str(tmp_path / "run")
    model = _blow_up_at(FCN8s(n_class=5, base_channels=2, fc_channels=8), call=4)
    with pytest.raises(TrainingDiverged, match=r"after iteration 4 give a loss of nan.*"
                                               r"checkpoint \(iteration 2\)"):
        train(model=model, data=data, iterations=8, eval_every=2, out=out, **TINY_KW)
    loaded, _, meta = io.read(os.path.join(out, "checkpoint.npz"))
    assert meta["iteration"] == 2
    assert all(np.isfinite(p.data).all() for p in loaded.parameters())
    assert np.isfinite(minifcn.predict_proba(loaded, np.zeros((32, 32, 3), np.uint8))).all()


def test_a_real_divergence_keeps_a_good_checkpoint(data, tmp_path):
    # SGD on the summed loss at lr 3e-4 (the papers' recipe needs ~1e-10 at this loss scale):
    # on this machine the weights after iteration 4 are no longer finite while every logged
    # loss is; whatever the exact iteration, the checkpoint kept must be a good one.
    out = str(tmp_path / "run")
    with pytest.raises(TrainingDiverged) as info:
        train(data=data, iterations=60, eval_every=2, log_every=1, out=out, optimizer="sgd",
              lr=3e-4, reduction="sum", **TINY_KW)
    loaded, _, meta = io.read(os.path.join(out, "checkpoint.npz"))
    assert f"(iteration {meta['iteration']}) is kept" in str(info.value)
    assert all(np.isfinite(p.data).all() for p in loaded.parameters())
    for i in range(2):
        image = read_image(os.path.join(data, "JPEGImages", f"train_0000{i}.jpg"))
        assert np.isfinite(minifcn.predict_proba(loaded, image)).all()


def test_divergence_before_the_first_checkpoint_names_no_file(data, tmp_path):
    out = str(tmp_path / "run")
    model = FCN8s(n_class=5, base_channels=2, fc_channels=8)
    forward = model.forward
    model.forward = lambda x: forward(x) * np.float32("nan")
    with pytest.raises(TrainingDiverged, match="No checkpoint was written") as info:
        train(model=model, data=data, iterations=4, eval_every=0, log_every=1, out=out,
              **TINY_KW)
    assert "checkpoint.npz" not in str(info.value)
    assert not os.path.exists(os.path.join(out, "checkpoint.npz"))


def test_divergence_on_the_command_line_is_one_line_without_warnings(data, tmp_path):
    r = run_subprocess("train", "--data", data, "--iterations", "30", "--log-every", "1",
                       "--optimizer", "sgd", "--lr", "1e6", "--reduction", "sum",
                       "--out", tmp_path / "run", *TINY)
    assert r.returncode != 0
    one_error_line(r.stderr)
    assert "diverged" in r.stderr or "loss became" in r.stderr
    assert "RuntimeWarning" not in r.stderr


def test_stale_temporary_files_are_cleaned_up(capsys, run_copy):
    stale = [os.path.join(run_copy, "checkpoint.npz.k3j2_1a.tmp"),
             os.path.join(run_copy, "metrics.json.tmp")]
    for path in stale:
        with open(path, "wb") as f:
            f.write(b"half a file, left by kill -9")
    assert io.read(os.path.join(run_copy, "checkpoint.npz"))[2]["iteration"] == 4  # ignored
    code, _, err = cli(capsys, "train", "--out", run_copy, "--resume", "--iterations", "5")
    assert code == 0, err
    assert not any(os.path.exists(p) for p in stale)


# --- 2. arguments are validated up front --------------------------------------------------------
def test_resume_with_another_model_or_optimizer_says_what_the_checkpoint_holds(capsys, run_copy):
    before = hashes(run_copy)
    code, _, err = cli(capsys, "train", "--out", run_copy, "--resume", "--model", "fcn32s")
    line = one_error_line(err)
    assert code != 0 and "fcn8s" in line and "fcn32s" in line
    code, _, err = cli(capsys, "train", "--out", run_copy, "--resume", "--optimizer", "sgd")
    line = one_error_line(err)
    assert code != 0 and "adam" in line and "sgd" in line
    code, _, err = cli(capsys, "train", "--out", run_copy, "--resume", "--base-channels", "4")
    assert code != 0 and "2" in one_error_line(err)
    assert hashes(run_copy) == before


def test_the_api_validates_as_the_cli_does(run_copy, tmp_path):
    before = hashes(run_copy)
    with pytest.raises(ValueError, match="batch_size"):
        train(out=run_copy, resume=True, batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        train(out=str(tmp_path / "new"), lr=-1.0)
    with pytest.raises(ValueError, match="model"):
        train(out=str(tmp_path / "new"), model="fcn4s")
    with pytest.raises(ValueError, match="iterations"):
        train(out=str(tmp_path / "new"), iterations=2.5)
    assert hashes(run_copy) == before
    assert not os.path.exists(tmp_path / "new")


def test_out_that_is_a_file(capsys, data, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    code, _, err = cli(capsys, "train", "--data", data, "--out", target, *TINY)
    assert code != 0 and "precious.txt" in one_error_line(err)
    code, _, err = cli(capsys, "predict", "--checkpoint", "x.npz", photo(tmp_path / "a.jpg"),
                       "--out", target)
    assert code != 0 and "precious.txt" in one_error_line(err)
    assert target.read_text() == "keep me"


def test_help_shows_choices_and_defaults_once(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "fcn8s-atonce" in text and "{sgd,adam}" in text and "{fixed,poly}" in text
    assert "(default None)" not in text and "default: …" not in text
    assert text.count("(default 8000)") == 1
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "make-data" in text


def test_device_cuda_without_a_gpu(capsys, data, tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)     # no CuPy, whatever this machine has
    code, _, err = cli(capsys, "train", "--data", data, "--device", "cuda", "--out",
                       tmp_path / "run", *TINY)
    assert code != 0 and "cuda" in one_error_line(err)
    assert not os.path.exists(tmp_path / "run")


# --- 3. one error line, or a traceback with --debug ---------------------------------------------
def test_debug_shows_the_traceback(tmp_path):
    r = run_subprocess("eval", "--checkpoint", tmp_path / "nope.npz", "--data", tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "nope.npz" in r.stderr
    one_error_line(r.stderr)
    r = run_subprocess("eval", "--checkpoint", tmp_path / "nope.npz", "--data", tmp_path,
                       "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "fcn4s"])
    assert info.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "fcn4s" in line and "--model" in line


def test_make_data_bad_size_and_foreign_folder(capsys, tmp_path):
    code, _, err = cli(capsys, "make-data", tmp_path / "d", "--size", "8")
    assert code != 0 and "size" in one_error_line(err)
    assert not os.path.exists(tmp_path / "d")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "train.txt").write_text("my own list")
    before = hashes(mine)
    code, _, err = cli(capsys, "make-data", mine, "--n-train", "2", "--n-val", "1", "--size",
                       "32")
    assert code != 0 and str(mine) in one_error_line(err)
    assert hashes(mine) == before


def test_convert_missing_or_refused_source(capsys, tmp_path):
    code, _, err = cli(capsys, "convert", tmp_path / "missing.pth", tmp_path / "out.npz")
    assert code != 0 and "missing.pth" in one_error_line(err)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x80\x04not really a pickle")
    code, _, err = cli(capsys, "convert", bad, tmp_path / "out.npz")
    assert code != 0
    one_error_line(err)
    assert not os.path.exists(tmp_path / "out.npz")


def test_convert_never_writes_over_a_file(capsys, finished, tmp_path):
    src = tmp_path / "src.npz"
    shutil.copy(os.path.join(finished, "checkpoint.npz"), src)
    dst = tmp_path / "dst.npz"
    dst.write_bytes(b"the user's file")
    before = hashes(tmp_path)
    for target in (src, dst):
        code, _, err = cli(capsys, "convert", src, target)
        assert code != 0 and os.path.basename(target) in one_error_line(err)
    assert hashes(tmp_path) == before


# --- 4. clear errors for bad files --------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_checkpoints_are_named(capsys, finished, tmp_path, damage, data):
    path = tmp_path / "ckpt" / "checkpoint.npz"
    path.parent.mkdir()
    blob = open(os.path.join(finished, "checkpoint.npz"), "rb").read()
    path.write_bytes({"truncated": blob[:len(blob) // 2], "garbage": b"PK\x03\x04" + b"x" * 100,
                      "empty": b""}[damage])
    before = hashes(tmp_path)
    with pytest.raises(ValueError, match="checkpoint.npz"):
        minifcn.load(str(path))
    for args in (["eval", "--checkpoint", path, "--data", data],
                 ["predict", "--checkpoint", path, photo(tmp_path / "a.jpg"), "--out",
                  tmp_path / "pred"],
                 ["train", "--out", path.parent, "--resume"]):
        before = hashes(tmp_path)
        code, _, err = cli(capsys, *args)
        assert code != 0 and "checkpoint.npz" in one_error_line(err), args
        assert hashes(tmp_path) == before


def test_eval_with_another_class_count_names_both(capsys, data, tmp_path):
    three = tmp_path / "three.npz"
    io.save(FCN8s(n_class=3, base_channels=2, fc_channels=8), three)
    code, _, err = cli(capsys, "eval", "--checkpoint", three, "--data", data)
    line = one_error_line(err)
    assert code != 0 and "3" in line and "5" in line and "class" in line


@pytest.mark.parametrize("split", ["train", "val"])
def test_empty_splits(capsys, data, finished, tmp_path, split):
    data = copy_data(data, tmp_path)
    open(os.path.join(data, "ImageSets", "Segmentation", f"{split}.txt"), "w").close()
    before = hashes(data)
    code, _, err = cli(capsys, "train", "--data", data, "--out", tmp_path / "run", *TINY)
    assert code != 0 and f"{split}.txt" in one_error_line(err)
    code, _, err = cli(capsys, "eval", "--checkpoint", f"{finished}/checkpoint.npz", "--data",
                       data, "--split", split)
    assert code != 0 and f"{split}.txt" in one_error_line(err)
    assert hashes(data) == before
    assert not os.path.exists(tmp_path / "run")


def test_unreadable_images_are_named(capsys, finished, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for path in (bad, text):
        code, _, err = cli(capsys, "predict", "--checkpoint", f"{finished}/checkpoint.npz", path,
                           "--out", tmp_path / "pred")
        assert code != 0 and os.path.basename(path) in one_error_line(err)
    code, _, err = cli(capsys, "predict", "--checkpoint", f"{finished}/checkpoint.npz",
                       tmp_path / "nowhere.jpg", "--out", tmp_path / "pred")
    assert code != 0 and "nowhere.jpg" in one_error_line(err)


def test_a_16_bit_photo_is_scaled_to_8_bits(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = str(tmp_path / "deep.png")
    Image.fromarray(values).save(path)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (1, 4, 3)
    np.testing.assert_array_equal(image[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_a_16_bit_label_is_refused(tmp_path):
    path = str(tmp_path / "label.png")
    Image.fromarray(np.array([[0, 1], [2, 255]], dtype=np.uint16)).save(path)
    with pytest.raises(ValueError, match="label.png"):
        read_label_png(path)
