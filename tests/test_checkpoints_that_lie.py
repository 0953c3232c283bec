"""Checkpoints that cannot be right are not used, and say why: a header that claims a huge
array (decided from the header, before anything is allocated), non-finite weights, a model file
where a run's checkpoint is expected and the reverse, a resume that would go backwards, a model
scored on a dataset of other class names, and ``convert`` on a file it refuses."""
import os
import re
import shutil
import zipfile

import numpy as np
import pytest

import minifcn
from minifcn import io
from minifcn.data.shapes import make_shapes
from minifcn.models import FCN8s
from minifcn.train import train
from test_bad_inputs import TINY, cli, hashes, one_error_line, photo

TINY_KW = dict(base_channels=2, fc_channels=8, progress=False)
ANSI = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_shapes(str(tmp_path_factory.mktemp("shapes") / "data"), n_train=3, n_val=2,
                       size=32, seed=0)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data):
    out = str(tmp_path_factory.mktemp("finished") / "run")
    train(data=data, iterations=2, eval_every=2, out=out, **TINY_KW)
    return out


@pytest.fixture
def run_copy(finished, tmp_path):
    copy = str(tmp_path / "run")
    shutil.copytree(finished, copy)
    return copy


def _rewrite_member(src, dst, key, header_shape):
    """A copy of the .npz ``src`` whose array ``key`` has a header that claims ``header_shape``
    (its data bytes unchanged)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename == key + ".npy":
                with zin.open(info) as f:
                    np.lib.format.read_magic(f)
                    _, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                    data = blob[f.tell():]
                import io as stdio
                buf = stdio.BytesIO()
                np.lib.format.write_array_header_1_0(buf, {
                    "descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
                    "shape": header_shape})
                blob = buf.getvalue() + data          # the magic string, the header, the data
            zout.writestr(info.filename, blob)


def test_a_header_that_claims_a_huge_array_is_refused_before_allocating(capsys, finished, data,
                                                                       tmp_path, monkeypatch):
    bad = tmp_path / "ck" / "checkpoint.npz"
    bad.parent.mkdir()
    _rewrite_member(os.path.join(finished, "checkpoint.npz"), bad, "param/conv1_1.weight",
                    (100000, 100000, 1000))
    read = []                             # np.load reads (and allocates) each array here
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: read.append(a))
    with pytest.raises(ValueError, match=r"checkpoint.npz' is damaged and was not loaded: .*"
                                         r"conv1_1.weight.*\(100000, 100000, 1000\).*TiB"):
        io.load(bad)
    assert read == []
    monkeypatch.undo()
    before = hashes(tmp_path)
    for args in (["eval", "--checkpoint", bad, "--data", data],
                 ["train", "--out", bad.parent, "--resume"],
                 ["train", "--data", data, "--init", bad, "--out", tmp_path / "new", *TINY]):
        code, _, err = cli(capsys, *args)
        line = one_error_line(err)
        assert code == 2 and "checkpoint.npz" in line and "damaged" in line, line
    assert hashes(tmp_path) == before and not os.path.exists(tmp_path / "new")


def test_a_header_that_claims_too_little_is_refused(tmp_path, finished):
    bad = tmp_path / "small.npz"
    _rewrite_member(os.path.join(finished, "checkpoint.npz"), bad, "param/conv1_1.weight", (1,))
    with pytest.raises(ValueError, match="small.npz' is damaged.*holds"):
        io.load(bad)


def test_a_bare_npy_is_named_without_being_loaded(tmp_path):
    np.save(tmp_path / "weights.npy", np.zeros(3))
    with pytest.raises(ValueError, match="a single .npy array"):
        io.load(tmp_path / "weights.npy")


# --- non-finite weights -------------------------------------------------------------------------
@pytest.fixture
def nan_model(tmp_path):
    model = FCN8s(n_class=5, base_channels=2, fc_channels=8)
    model.score_fr.weight.data[0, 0] = np.nan
    model.fc7.bias.data[1] = np.inf
    path = tmp_path / "diverged.npz"
    io.save(model, path)
    return str(path)


def test_nonfinite_weights_are_refused_unless_asked(nan_model):
    with pytest.raises(ValueError, match=r"diverged.npz' holds weights that are not finite: "
                                         r"fc7.bias \(0 NaN, 1 infinite of 8\), score_fr.weight "
                                         r"\(1 NaN.*allow_nonfinite=True"):
        minifcn.load(nan_model)
    model = minifcn.load(nan_model, allow_nonfinite=True)
    assert np.isnan(model.score_fr.weight.data).any()


def test_eval_predict_and_init_refuse_nonfinite_weights(capsys, nan_model, data, tmp_path):
    image = photo(tmp_path / "a.jpg")
    before = hashes(tmp_path)
    for args in (["eval", "--checkpoint", nan_model, "--data", data],
                 ["predict", "--checkpoint", nan_model, image, "--out", tmp_path / "pred"],
                 ["train", "--data", data, "--init", nan_model, "--out", tmp_path / "new",
                  *TINY]):
        code, _, err = cli(capsys, *args)
        line = one_error_line(err)
        assert code == 2 and "diverged.npz" in line and "not finite" in line, line
        if args[0] == "train":
            assert line.startswith("error: --init ")
    assert hashes(tmp_path) == before
    code, out, _ = cli(capsys, "eval", "--checkpoint", nan_model, "--data", data,
                       "--allow-nonfinite")
    assert code == 0 and '"mean_iu"' in out


# --- model files and checkpoints ----------------------------------------------------------------
def test_a_model_file_given_as_a_runs_checkpoint_is_named(capsys, data, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    io.save(FCN8s(n_class=5, base_channels=2, fc_channels=8), folder / "checkpoint.npz")
    before = hashes(tmp_path)
    code, _, err = cli(capsys, "train", "--out", folder, "--resume")
    line = one_error_line(err)
    assert code == 2 and "is a model file (saved by minifcn.save), not a training run's " \
                         "checkpoint" in line and "--init" in line, line
    assert hashes(tmp_path) == before


def test_a_checkpoint_given_to_convert_is_named(capsys, finished, tmp_path):
    src = os.path.join(finished, "checkpoint.npz")
    code, _, err = cli(capsys, "convert", src, tmp_path / "out.npz")
    line = one_error_line(err)
    assert code == 2 and "checkpoint.npz is already minifcn's (a training run's checkpoint)" \
        in line, line
    assert not os.path.exists(tmp_path / "out.npz")


def test_init_from_a_model_of_other_widths_names_the_file_and_the_flag(capsys, data, tmp_path):
    wide = tmp_path / "wide.npz"
    io.save(FCN8s(n_class=5, base_channels=4, fc_channels=8), wide)
    code, _, err = cli(capsys, "train", "--data", data, "--init", wide, "--out",
                       tmp_path / "run", *TINY)
    line = one_error_line(err)
    assert code == 2 and line.startswith(f"error: --init {wide}: ") and "base_channels" in line
    assert not os.path.exists(tmp_path / "run")


def test_resume_with_fewer_iterations_changes_nothing_and_says_so(capsys, run_copy):
    before = hashes(run_copy)
    code, _, err = cli(capsys, "train", "--out", run_copy, "--resume", "--iterations", "1")
    line = one_error_line(err)
    assert code == 2 and "is at iteration 2, past --iterations 1; nothing was changed" in line
    assert hashes(run_copy) == before


# --- a model and a dataset that disagree --------------------------------------------------------
def test_eval_names_both_class_lists_when_they_differ(capsys, finished, data, tmp_path):
    swapped = str(tmp_path / "data")
    shutil.copytree(data, swapped)
    path = os.path.join(swapped, "classes.txt")
    lines = open(path, encoding="utf-8").read().splitlines()
    lines[1], lines[2] = lines[2], lines[1]                 # circle and square swapped
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    ck = os.path.join(finished, "checkpoint.npz")
    code, out, err = cli(capsys, "eval", "--checkpoint", ck, "--data", swapped)
    line = one_error_line(err)
    assert code == 2 and "1: 'circle' / 'square'; 2: 'square' / 'circle'" in line, line
    assert "Model: background, circle, square" in line and "--allow-other-names" in line
    assert out == ""
    code, out, _ = cli(capsys, "eval", "--checkpoint", ck, "--data", swapped,
                       "--allow-other-names")
    assert code == 0 and '"square"' in out
    # and a resumed run on those data
    code, _, err = cli(capsys, "train", "--out", finished, "--resume", "--data", swapped,
                       "--iterations", "3")
    assert code == 2 and "differ in name" in one_error_line(err)


# --- convert on files it refuses ----------------------------------------------------------------
def test_convert_names_a_malicious_pth_in_one_line_without_colour_codes(capsys, tmp_path):
    torch = pytest.importorskip("torch")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    src = tmp_path / "evil.pth"
    torch.save({"weight": Evil()}, src)
    code, out, err = cli(capsys, "convert", src, tmp_path / "out.npz")
    line = one_error_line(err)
    assert code == 2 and "pwned" not in out + err and not ANSI.search(err)
    assert line.startswith(f"error: cannot convert {src}: it is a pickle that would import "
                           f"{os.name == 'posix' and 'posix' or 'nt'}.system"), line
    assert not os.path.exists(tmp_path / "out.npz")
    src.write_bytes(b"\x80\x04not really a pickle")
    code, _, err = cli(capsys, "convert", src, tmp_path / "out.npz")
    line = one_error_line(err)
    assert code == 2 and f"cannot convert {src}: PyTorch's safe loader" in line
    assert not ANSI.search(err)
