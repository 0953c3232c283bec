"""The run folder of ``minifcn.train``: what a training run leaves on disk, and how it resumes.

    config.json       the run's settings (``minifcn.config``), as resolved
    log.csv           one row per iteration: iteration, loss, seconds since the start
    eval.csv          one row per evaluation: iteration, acc, acc_cls, mean_iu, fwavacc
    metrics.json      the last evaluation, with the IU of every class and each class's share of
                      the predicted and of the labelled pixels (pred_share, label_share)
    checkpoint.npz    model + optimizer state + iteration + dropout steps + settings + the
                      evaluations so far (``minifcn.load`` reads it as a model file)
    loss.png, metrics.png, predictions.png    the figures, drawn at the end by
                      ``minifcn.runplots`` (``runplots.plot_run(folder)``: loss and scores
                      side by side); this module only stores and reads files
    train.lock        while a training runs there: its process id and host (``lock``)

Every file is replaced atomically (written beside, then renamed): a crash leaves the old version
or the new one, and a ``*.tmp`` left by a kill -9 is removed when the folder is next used. A
resumed run cuts ``log.csv`` and ``eval.csv`` back to the checkpoint's iteration, so the rows of
iterations that are computed again are not listed twice.

A folder that holds a run (a checkpoint, an evaluation or logged iterations) is never replaced
silently: a new run there needs ``overwrite``, which removes only the files above. Two trainings
never share a folder: the second is refused at once, naming the first's process, and the lock
of a training that was killed is reclaimed.
"""
import csv
import json
import os
import socket
import sys
from io import StringIO
from typing import NamedTuple

from . import io
from .nn import Dropout
from .textfile import read_text

CHECKPOINT = "checkpoint.npz"
LOCK = "train.lock"
LOG_FIELDS = ["iteration", "loss", "seconds"]
METRIC_KEYS = ["acc", "acc_cls", "mean_iu", "fwavacc"]
OPTIM_PREFIX = "optim/"
JSON_FILES = ("config.json", "metrics.json")
RUN_FILES = (CHECKPOINT, "log.csv", "eval.csv", *JSON_FILES, "loss.png", "metrics.png",
             "predictions.png")


def _write_csv(path, fields, rows, append):
    new = not (append and os.path.exists(path))
    with open(path, "a" if append else "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerows(rows)


def _read_csv(path, upto, fields):
    """The rows of a log minifcn wrote (log.csv, eval.csv) up to iteration ``upto``, as dicts
    of ``fields``: 'iteration' an int, the others floats. Read as a spreadsheet may have saved
    it again (a byte-order mark, CRLF, ';' or tabs between the fields, blank rows; a last row
    cut short by a full disk is left out); a file
    without these columns, or a value that is not a number, is a ValueError naming the file
    and the line."""
    if not os.path.exists(path):
        return []
    text = read_text(path, "run log")
    header = text.split("\n", 1)[0]
    reader = csv.DictReader(StringIO(text), delimiter=max(",;\t", key=header.count))
    missing = [k for k in fields if k not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path} is not the log minifcn writes: no column {missing[0]!r} in "
                         f"its header {header[:80]!r} (expected {','.join(fields)}); move it "
                         f"away, or start a new run in another --out")
    rows = []
    for r in reader:
        if not any((v or "").strip() for v in r.values() if isinstance(v, str)):
            continue                                        # a blank row
        try:
            row = {k: float(r[k]) for k in fields}
        except (TypeError, ValueError):
            if not text.endswith("\n") and reader.line_num == text.count("\n") + 1:
                continue                            # a last row cut short (a full disk)
            raise ValueError(f"{path}:{reader.line_num}: {', '.join(str(r[k]) for k in fields)} "
                             f"are not the numbers {', '.join(fields)}") from None
        row["iteration"] = int(row["iteration"])
        if row["iteration"] <= upto:
            rows.append(row)
    return rows


def _write_json(path, obj):
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)                  # atomic: a reader never sees half a file
    except BaseException:                      # a full disk: the old file stays, whole
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _pid_alive(pid):
    """Whether process ``pid`` runs on this machine. (On Windows ``os.kill`` would end it
    instead of probing it: a lock there is taken as held, and its message says to remove it.)"""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                            # it exists, under another user
        return True
    return True


class FolderInUse(RuntimeError):
    """Another training holds the run folder (its lock file names the process)."""


class Checkpoint(NamedTuple):
    """A run's checkpoint as read back: the model with its weights, the extra arrays (the
    optimizer's buffers, under ``OPTIM_PREFIX``) and the metadata ``save_checkpoint`` wrote."""
    model: object
    arrays: dict
    meta: dict             # iteration, config, history, dropout_steps, optimizer

    @property
    def iteration(self):
        return self.meta["iteration"]

    @property
    def config(self):
        """The run's settings, as saved (``minifcn.config``)."""
        return self.meta["config"]

    @property
    def history(self):
        return self.meta.get("history", [])


def _create_with(path, text):
    """Create ``path`` holding ``text``, atomically: False if it exists. (The text is written
    beside and linked in, so a reader never sees the file empty.)"""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:                            # a file system without hard links
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return True
    finally:
        os.remove(tmp)


def dropout_layers(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, Dropout)]


class RunFolder:
    """The files of one training run, in the folder ``path``."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.checkpoint = os.path.join(self.path, CHECKPOINT)
        self._made = False

    def file(self, name):
        return os.path.join(self.path, name)

    @classmethod
    def for_training(cls, out, default, resume, overwrite):
        """The run folder of a ``train`` call, checked: ``out`` if given, else ``default``
        (``runs/<model>``), or for a new run the first of ``default-2``, ``default-3``… that
        holds no run and no other training's lock (it says so). A new run in a folder that
        holds one needs ``overwrite``."""
        folder = cls(out or default)
        if resume or overwrite:
            return folder
        if out and folder.holds_run():
            raise FileExistsError(f"{folder.path} already holds a training run; continue it with "
                                  f"--resume (resume=True), replace it with --overwrite, or "
                                  f"choose another --out")
        n = 1
        while folder.holds_run() or folder.in_use():
            n += 1
            folder = cls(f"{default}-{n}")
        if n > 1:
            print(f"{os.path.abspath(default)} holds an earlier run (or one in progress): this "
                  f"one goes to {folder.path}", file=sys.stderr)
        return folder

    def holds_run(self):
        """True when the folder has a checkpoint, an evaluation or a logged iteration."""
        if any(os.path.exists(self.file(n)) for n in (CHECKPOINT, "eval.csv", "metrics.json")):
            return True
        try:
            return bool(_read_csv(self.file("log.csv"), float("inf"), LOG_FIELDS))
        except ValueError:                                  # a log.csv minifcn did not write
            return True

    # --- the lock: one training at a time -------------------------------------------------------
    def lock(self):
        """Hold the folder for this process: ``train.lock`` holds its pid and host, and is
        removed by ``unlock``. Another live training's lock is a ``FolderInUse`` naming it; the
        lock of a process that is gone (killed) is reclaimed, with a message. The folder is made
        if needed (``unlock(remove_folder=True)`` removes it again if it is still empty)."""
        self._made = not os.path.isdir(self.path)
        os.makedirs(self.path, exist_ok=True)
        lock, mine = self.file(LOCK), f"{os.getpid()} {socket.gethostname()}\n"
        for _ in range(3):
            if _create_with(lock, mine):
                return
            pid, host = self._lock_holder()
            here = host == socket.gethostname()
            if pid is None or not here or _pid_alive(pid):
                who = (f"process {pid}" + ("" if here else f" on {host}") if pid is not None
                       else "a process that wrote no pid")
                raise FolderInUse(f"{self.path} is in use by another training ({who}; lock file "
                                  f"{lock}): wait for it to end, or choose another --out. If no "
                                  f"training runs there, remove the lock file")
            try:
                os.remove(lock)
            except FileNotFoundError:          # another process reclaimed it first
                pass
            print(f"reclaimed the lock of process {pid}, which has ended (killed?): {lock}",
                  file=sys.stderr)
        raise FolderInUse(f"{self.path}: could not take the lock {lock}; try again")

    def in_use(self):
        """True while another live training holds the folder's lock."""
        if not os.path.exists(self.file(LOCK)):
            return False
        pid, host = self._lock_holder()
        return pid != os.getpid() and (pid is None or host != socket.gethostname()
                                       or _pid_alive(pid))

    def _lock_holder(self):
        """(pid, host) from the lock file; (None, host) when it holds no pid."""
        try:
            with open(self.file(LOCK), encoding="utf-8", errors="replace") as f:
                parts = f.read().split()
        except FileNotFoundError:
            return None, socket.gethostname()
        pid = int(parts[0]) if parts and parts[0].isdigit() else None
        return pid, parts[1] if len(parts) > 1 else socket.gethostname()

    def unlock(self, remove_folder=False):
        """Remove this process's lock (another's stays); ``remove_folder``: the folder too, if
        ``lock`` made it and it is empty."""
        if self._lock_holder()[0] == os.getpid():
            os.remove(self.file(LOCK))
        if remove_folder and self._made and not os.listdir(self.path):
            os.rmdir(self.path)

    # --- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, model, optimizer, iteration, config, history):
        """Model + what a resumed run needs to continue bit for bit."""
        buffers, info = optimizer.state_dict()
        extra = {OPTIM_PREFIX + k: v for k, v in buffers.items()}
        meta = {"iteration": iteration, "config": config, "history": history,
                "dropout_steps": {n: m.step for n, m in dropout_layers(model)},
                "optimizer": info}
        io.save(model, self.checkpoint, extra=extra, meta=meta)

    def read_checkpoint(self):
        """The run's ``Checkpoint``, for ``resume``."""
        if not os.path.exists(self.checkpoint):
            raise FileNotFoundError(f"resume: no checkpoint at {self.checkpoint}")
        checkpoint = Checkpoint(*io.read(self.checkpoint))
        missing = [k for k in ("iteration", "config", "optimizer", "dropout_steps")
                   if k not in checkpoint.meta]
        if missing:
            source = checkpoint.meta.get("converted_from")
            made = f"converted from {source}" if source else "saved by minifcn.save"
            raise ValueError(f"resume: {self.checkpoint} is a model file ({made}), not a "
                             f"training run's checkpoint: it holds weights but no "
                             f"{' or '.join(missing[:2])}. Start a new run from it with --init "
                             f"{self.checkpoint} (and another --out)")
        return checkpoint

    @staticmethod
    def restore(checkpoint, model, optimizer):
        """Put the optimizer state and dropout steps of ``checkpoint`` (a ``Checkpoint``) back
        into ``model`` and ``optimizer``."""
        optimizer.load_state_dict({k[len(OPTIM_PREFIX):]: v for k, v in checkpoint.arrays.items()
                                   if k.startswith(OPTIM_PREFIX)}, checkpoint.meta["optimizer"])
        for n, m in dropout_layers(model):
            m.step = checkpoint.meta["dropout_steps"][n]

    # --- logs -----------------------------------------------------------------------------------
    def start(self, config, iteration, history, overwrite=False):
        """Create the folder (``overwrite``: remove the run files there), write config.json, cut
        log.csv back to ``iteration`` and eval.csv to ``history``; return the log rows kept.
        The first write into the folder: every argument has been checked before."""
        # log.csv is read first: one that cannot be read stops the run before anything is written
        rows = [] if overwrite else _read_csv(self.file("log.csv"), iteration, LOG_FIELDS)
        os.makedirs(self.path, exist_ok=True)
        self._remove_stale()
        if overwrite:
            for name in RUN_FILES:
                if os.path.exists(self.file(name)):
                    os.remove(self.file(name))
        _write_json(self.file("config.json"), config)
        _write_csv(self.file("log.csv"), LOG_FIELDS, rows, append=False)
        if history:
            _write_csv(self.file("eval.csv"), ["iteration"] + METRIC_KEYS, history, append=False)
        elif os.path.exists(self.file("eval.csv")):
            os.remove(self.file("eval.csv"))
        return rows

    def _remove_stale(self):
        """Temporary files of a write that was killed (``io.save``'s and ``_write_json``'s)."""
        for name in os.listdir(self.path):
            if name.endswith(".tmp") and (name.startswith(CHECKPOINT + ".")
                                          or name[:-len(".tmp")] in JSON_FILES):
                os.remove(self.file(name))

    def read_log(self):
        """log.csv as dicts {'iteration': int, 'loss': float, 'seconds': float}."""
        return _read_csv(self.file("log.csv"), float("inf"), LOG_FIELDS)

    def read_evaluations(self):
        """eval.csv as dicts {'iteration': int, 'acc': float, …} (METRIC_KEYS), one per
        evaluation in iteration order."""
        return _read_csv(self.file("eval.csv"), float("inf"), ["iteration"] + METRIC_KEYS)

    def log(self, rows):
        _write_csv(self.file("log.csv"), LOG_FIELDS, rows, append=True)

    def log_evaluation(self, row, iu, shares=None):
        """Append an evaluation (``row``: iteration and METRIC_KEYS) to eval.csv and write it,
        with the per-class IU and ``shares`` (each class's share of the predicted and of the
        labelled pixels), to metrics.json."""
        _write_csv(self.file("eval.csv"), ["iteration"] + METRIC_KEYS, [row], append=True)
        _write_json(self.file("metrics.json"), {**row, "iu": iu, **(shares or {})})
