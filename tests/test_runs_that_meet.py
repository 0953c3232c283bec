"""Runs that meet each other, and the signals and disks a run meets: one training per run folder
(a lock file with its pid, removed at exit, a stale one reclaimed), SIGTERM and SIGHUP handled as
Ctrl-C is (the checkpoint written, ``--resume`` exact), and a full disk that keeps the previous
checkpoint and says so."""
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from minifcn import io
from minifcn.data.shapes import make_shapes
from minifcn.runfolder import LOCK, RunFolder
from minifcn.train import CheckpointNotWritten, train
from test_bad_inputs import REPO, TINY, cli, hashes, one_error_line, photos_and_masks

TINY_KW = dict(base_channels=2, fc_channels=8, progress=False)
N = 600                      # iterations of the run that a signal stops (a few seconds)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_shapes(str(tmp_path_factory.mktemp("shapes") / "data"), n_train=3, n_val=1,
                       size=32, seed=0)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The uninterrupted run the stopped ones must end at, bit for bit."""
    out = str(tmp_path_factory.mktemp("reference") / "run")
    train(data=data, iterations=N, eval_every=0, out=out, **TINY_KW)
    return out


def _weights(out):
    model, extra, meta = io.read(os.path.join(out, "checkpoint.npz"))
    return {k: np.asarray(v) for k, v in model.state_dict().items()}, extra, meta


def _start_training(data, out):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "minifcn", "train", "--data", data, "--out",
                             out, "--iterations", str(N), "--eval-every", "0", "--log-every", "1",
                             *TINY], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    log = os.path.join(out, "log.csv")
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(log) and len(open(log).read().splitlines()) >= 3:   # 2 iterations
            return proc
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"the training did not start: {proc.communicate()}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
def test_a_signal_writes_the_checkpoint_and_resume_ends_exactly(capsys, data, reference,
                                                                tmp_path, signum):
    out = str(tmp_path / "run")
    proc = _start_training(data, out)
    try:
        # while it runs, the folder is locked: a second training is refused at once, by pid
        lock = os.path.join(out, LOCK)
        assert open(lock).read().split()[0] == str(proc.pid)
        code, _, err = cli(capsys, "train", "--data", data, "--out", out, "--resume", *TINY)
        line = one_error_line(err)
        assert code == 2 and f"is in use by another training (process {proc.pid}; lock file " \
                             f"{lock})" in line, line
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert f"stopped by {name}: checkpoint at iteration" in err and "Traceback" not in err
    assert not os.path.exists(lock)
    _, _, meta = _weights(out)
    assert 2 <= meta["iteration"] < N
    assert f"iteration {meta['iteration']} in" in err
    train(out=out, resume=True)
    ours, theirs = _weights(out), _weights(reference)
    for k in theirs[0]:
        np.testing.assert_array_equal(ours[0][k], theirs[0][k], err_msg=k)
    for k in theirs[1]:
        np.testing.assert_array_equal(ours[1][k], theirs[1][k], err_msg=k)
    rows = RunFolder(out).read_log()
    assert [r["iteration"] for r in rows] == list(range(1, N + 1))
    assert [r["loss"] for r in rows] == [r["loss"] for r in RunFolder(reference).read_log()]


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_is_reclaimed_with_a_message(capsys, data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    pid = _dead_pid()
    (out / LOCK).write_text(f"{pid} {socket.gethostname()}\n")
    code, _, err = cli(capsys, "train", "--data", data, "--out", out, "--iterations", "2",
                       "--eval-every", "0", *TINY)
    assert code == 0, err
    assert f"reclaimed the lock of process {pid}, which has ended" in err
    assert not (out / LOCK).exists()


@pytest.mark.parametrize("holder", ["live pid", "other host", "no pid"])
def test_a_held_lock_refuses_at_once_and_changes_nothing(capsys, data, tmp_path, holder):
    out = tmp_path / "run"
    train(data=data, iterations=2, eval_every=0, out=str(out), **TINY_KW)
    text = {"live pid": f"{os.getppid()} {socket.gethostname()}\n",
            "other host": f"{_dead_pid()} another-machine\n", "no pid": ""}[holder]
    (out / LOCK).write_text(text)
    before = hashes(out)
    for args in (["--resume", "--iterations", "4"], ["--overwrite", "--data", data, *TINY]):
        code, _, err = cli(capsys, "train", "--out", out, *args)
        line = one_error_line(err)
        assert code == 2 and "is in use by another training" in line, line
        assert {"live pid": f"process {os.getppid()};", "other host": "on another-machine",
                "no pid": "a process that wrote no pid"}[holder] in line
    assert hashes(out) == before


def test_the_lock_goes_with_the_run_however_it_ends(capsys, data, tmp_path):
    out = tmp_path / "run"
    train(data=data, iterations=2, eval_every=0, out=str(out), **TINY_KW)
    assert not (out / LOCK).exists()
    # a run refused during its setup leaves neither a lock nor a folder it made
    code, _, err = cli(capsys, "train", "--out", out, "--resume", "--iterations", "1")
    assert code == 2 and not (out / LOCK).exists()
    code, _, err = cli(capsys, "train", "--out", tmp_path / "new", "--resume")
    assert code == 2 and "no checkpoint" in one_error_line(err)
    assert not (tmp_path / "new").exists()


# --- a full disk --------------------------------------------------------------------------------
def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so(capsys, data, tmp_path,
                                                               monkeypatch):
    out = tmp_path / "run"
    real_savez, calls, kept = np.savez, {"n": 0}, {}

    def disk_full(f, **arrays):           # the checkpoint after iteration 4: half written
        calls["n"] += 1
        if calls["n"] == 3:               # saves: 2 (before its evaluation), 2 (after), 4
            kept.update(hashes(out / "checkpoint.npz"))
            f.write(b"PK\x03\x04 half an archive")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_savez(f, **arrays)
    monkeypatch.setattr(io.np, "savez", disk_full)
    code, _, err = cli(capsys, "train", "--data", data, "--out", out, "--iterations", "6",
                       "--eval-every", "2", *TINY)
    line = one_error_line(err.replace("iteration 2: mean IU", "").split("\n", 1)[-1])
    assert code == 2
    assert (f"could not write the checkpoint of iteration 4 in {out} (No space left on device). "
            f"The checkpoint of iteration 2 is kept, whole, in {out / 'checkpoint.npz'}") in line
    assert hashes(out / "checkpoint.npz") == kept
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")] and not (out / LOCK).exists()
    monkeypatch.undo()
    result = train(out=str(out), resume=True)
    assert result["iteration"] == 6


def test_a_log_row_cut_short_by_a_full_disk_is_left_out(data, tmp_path):
    out = str(tmp_path / "run")
    train(data=data, iterations=4, eval_every=2, out=out, log_every=1, **TINY_KW)
    shutil.copy(os.path.join(out, "checkpoint.npz"), tmp_path / "keep.npz")
    with open(os.path.join(out, "log.csv"), "a") as f:
        f.write("5,0.12")                                   # no seconds, no line end
    assert [r["iteration"] for r in RunFolder(out).read_log()] == [1, 2, 3, 4]
    assert train(out=out, resume=True, iterations=6)["iteration"] == 6


def test_a_failed_log_write_says_what_was_kept(data, tmp_path, monkeypatch):
    out = str(tmp_path / "run")

    def no_space(self, rows):
        raise OSError(errno.EFBIG, "File too large")
    monkeypatch.setattr(RunFolder, "log", no_space)
    with pytest.raises(CheckpointNotWritten, match=r"could not write log.csv in .*run \(File too "
                                                   r"large\)\. No checkpoint had been written"):
        train(data=data, iterations=4, eval_every=2, out=out, **TINY_KW)
    assert not os.path.exists(os.path.join(out, LOCK))


def test_a_full_disk_in_prepare_keeps_nothing_half_made_and_says_so(capsys, tmp_path,
                                                                    monkeypatch):
    import importlib

    prepare_module = importlib.import_module("minifcn.data.prepare")   # (data.prepare: a function)
    images, masks = photos_and_masks(tmp_path, 3)
    before = hashes(tmp_path)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".hidden"))
    monkeypatch.setattr(prepare_module, "save_label_png", disk_full)
    code, _, err = cli(capsys, "prepare", "--images", images, "--masks", masks, "--out",
                       tmp_path / "new" / "out")
    line = one_error_line(err)
    assert code == 2 and (f"could not write the dataset {tmp_path / 'new' / 'out'} (No space "
                          f"left on device): nothing was kept") in line, line
    assert hashes(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["masks", "photos"]


def test_a_full_disk_when_a_model_is_saved_keeps_the_earlier_file(tmp_path, monkeypatch):
    from minifcn.models import FCN8s
    path = tmp_path / "model.npz"
    model = FCN8s(n_class=5, base_channels=2, fc_channels=8)
    io.save(model, path)
    before = hashes(tmp_path)

    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 half")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(io.np, "savez", disk_full)
    with pytest.raises(OSError, match=rf"could not write {path} \(No space left on device\): "
                                      r"the earlier file there is kept, whole"):
        io.save(model, path)
    assert hashes(tmp_path) == before
    with pytest.raises(OSError, match=r"other.npz \(No space left on device\): nothing was "
                                      r"written"):
        io.save(model, tmp_path / "other.npz")
    assert hashes(tmp_path) == before


def test_without_out_a_run_in_progress_is_passed_by(capsys, data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    busy = tmp_path / "runs" / "fcn8s"
    busy.mkdir(parents=True)
    (busy / LOCK).write_text(f"{os.getppid()} {socket.gethostname()}\n")   # a live process
    before = hashes(busy)
    code, _, err = cli(capsys, "train", "--data", data, "--iterations", "1", "--eval-every", "0",
                       *TINY)
    assert code == 0, err
    assert f"holds an earlier run (or one in progress): this one goes to {busy}-2" in err
    assert (tmp_path / "runs" / "fcn8s-2" / "checkpoint.npz").exists()
    assert hashes(busy) == before
