"""``minifcn.train()``: the FCN training loop, with evaluation, checkpoints and exact resume.

One iteration, as in the paper (batch 1, whole images):

    x, t   = a training image (preprocessed, N×3×H×W) and its label map (N×H×W, 255 = ignored)
    score  = model(x)                          N×n_class×H×W, the same size as the image
    loss   = softmax cross-entropy(score, t)   'mean' over counted pixels, or the paper's 'sum'
    model.backward(dloss/dscore)               every layer's gradient, by hand, in reverse
    SGD step                                   momentum 0.99, decay 5e-4, biases 2× lr, no decay

Everything random is a pure function of the seed and the iteration (the image order of each
epoch, the augmentation, the dropout masks), so a run resumed from ``checkpoint.npz`` computes
bit for bit what the uninterrupted run would have (on the CPU).

Nothing is lost: every argument is checked before the run folder is touched; a checkpoint is
written before the evaluation that follows it (and again after it, with the evaluation in its
history); and a checkpoint is written only when it is good: its weights are finite and give a
finite loss on the next batch. A NaN loss, or a checkpoint that fails that check, stops the run
with ``TrainingDiverged``, and the last good checkpoint stays; so does a write that fails (a full
disk: ``CheckpointNotWritten`` says which checkpoint was kept). The run folder is locked while
the run lasts (``RunFolder.lock``): a second training into it is refused.

The settings and their defaults are ``minifcn.config``; what the run folder holds is
``minifcn.runfolder``; everything before the first iteration (settings, data, model, optimizer,
run folder) is ``minifcn.runsetup``. ``train`` below is the loop, in plain sight: data, step,
log, evaluate, checkpoint. The small helpers after it each do one job: ``LossLog`` reads the
losses back and logs them, ``Guard`` refuses a diverged run and keeps the last good checkpoint,
``evaluates_at`` is the evaluation and checkpoint cadence, ``Progress`` the progress bar and the
messages, ``StopOnInterrupt`` Ctrl-C, SIGTERM and SIGHUP.
"""
import math
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager

from . import backend
from .config import DEFAULTS, FLOAT_WARNINGS
from .data.batches import TrainBatches
from .evaluate import evaluate
from .nn import SoftmaxCrossEntropy, no_grad
from .optim import learning_rate
from .runfolder import METRIC_KEYS
from .runplots import draw_run
from .runsetup import setup_run

__all__ = ["train", "learning_rate", "TrainingDiverged", "Stopped", "CheckpointNotWritten",
           "DEFAULTS"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or Inf; the last good checkpoint was kept."""


class Stopped(KeyboardInterrupt):
    """Training stopped on a signal (``signum``: Ctrl-C's SIGINT, SIGTERM, SIGHUP) after the
    iteration in flight, with its checkpoint written."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class CheckpointNotWritten(OSError):
    """A write into the run folder failed (a full disk); the last checkpoint was kept."""


def train(**kwargs):
    """Train an FCN; every keyword is also a ``python -m minifcn train`` flag.

    model: 'fcn32s' | 'fcn16s' | 'fcn8s' | 'fcn8s-atonce', or a model object. A name builds
        ``FCN.main_job`` in the run's settings (the main job's geometry unless
        ``conv1_1_padding``/``fc6_padding``/``dropout`` say otherwise).
    data: a VOC-layout folder (real VOC, or the shapes dataset); None: the offline shapes
        dataset at 128×128 (``minifcn.data.default_train_data``), generated on first use.
    iterations: the total count (a resumed run continues up to it). optimizer: 'adam' or
        'sgd'. lr, lr_policy ('fixed' or 'poly'), momentum, weight_decay (SGD: biases get 2× lr
        and no decay; frozen bilinear deconvolutions are never updated). reduction: 'mean' or
        the paper's 'sum'.
    base_channels, fc_channels: the model's widths (64 and 4096 are VGG16's).
    init: a saved model to start from (a VGG16 for FCN-32s or at-once; FCN-32s for FCN-16s;
        FCN-16s for FCN-8s). device: 'cpu' or 'cuda' (default: $MINIFCN_DEVICE or cpu).
    seed, subset: randomness and an optional subset of the training images.
    eval_every: iterations between evaluations and checkpoints (0: only at the end, and
        without evaluation). out: the run folder (default runs/<model>). resume: continue from
        out/checkpoint.npz.

    Returns a dict: the final metrics (or None), the model, the run folder, the last iteration.
    """
    run = setup_run(kwargs)                    # the run folder is locked from here
    try:
        return _loop(run)
    finally:
        run.folder.unlock()


def _loop(run):
    model, optimizer, cfg = run.model, run.optimizer, run.cfg
    loss_fn = SoftmaxCrossEntropy(run.train_set.ignore_index, cfg["reduction"],
                                  check_target=False, weight=cfg.get("class_weights"))
    batches = TrainBatches(run.train_set, cfg["seed"], cfg["batch_size"], cfg["augment"],
                           getattr(model, "input_convention", "caffe"), model.dtype)
    progress = Progress(cfg, run.start)
    guard = Guard(run, loss_fn, batches)
    losses = LossLog(run, guard, progress)
    it = run.start
    with progress, quiet_float_warnings():
        with StopOnInterrupt() as stop:
            for it in range(run.start + 1, cfg["iterations"] + 1):
                x, t = (backend.to_device(a, cfg["device"]) for a in batches(it - 1))  # data
                score = model(x)                                  # N×n_class×H×W
                loss = loss_fn(score, t)                          # stays on the device
                model.zero_grad()
                model.backward(loss_fn.backward(), need_input_grad=False)
                optimizer.lr = learning_rate(cfg, it)
                optimizer.step()
                losses.append(it, loss)
                progress.update()
                if stop.requested:
                    break
                if it % cfg["log_every"] == 0:
                    losses.flush()                                # one read-back, then log.csv
                if evaluates_at(it, cfg):
                    checkpoint(run, it, losses, guard, progress, evaluate_now=True)
        if stop.requested:
            # Ctrl-C, SIGTERM or SIGHUP: the iteration in flight was finished first, so the
            # checkpoint is exact.
            checkpoint(run, it, losses, guard, progress, evaluate_now=False)
            progress.say(f"{stop.name}: checkpoint at iteration {it} in "
                         f"{run.folder.checkpoint}; continue with resume=True (--resume)",
                         file=sys.stderr)
            raise Stopped(stop.signum)
        if guard.last_good is None or it > guard.last_good or not run.history:
            checkpoint(run, it, losses, guard, progress, evaluate_now=bool(cfg["eval_every"]))
    draw_run(run.folder, model, run.val_set, run.history, run.log_rows)
    metrics = {**run.history[-1]} if run.history else None
    return {"metrics": metrics, "model": model, "out": run.folder.path, "iteration": it}


def evaluates_at(it, cfg):
    """The cadence: a checkpoint and an evaluation every ``eval_every`` iterations; the last
    iteration's are written after the loop."""
    return bool(cfg["eval_every"]) and it % cfg["eval_every"] == 0 and it != cfg["iterations"]


def checkpoint(run, it, losses, guard, progress, evaluate_now):
    """Save the state after iteration ``it`` if it is good; then evaluate, and save again with
    the evaluation in the history. An evaluation that fails (a broken validation image) loses
    no training, and a resumed run never drops an evaluation row."""
    losses.flush()
    guard.save_if_good(it)
    if evaluate_now:
        evaluate_and_log(run, it, progress, guard)
        guard.save_if_good(it, checked=True)


def evaluate_and_log(run, it, progress, guard):
    """Score the model on the validation set; log the scores and how the predicted pixels are
    shared between the classes; warn when the predictions collapsed to one class."""
    scores = evaluate(run.model, run.val_set, iteration=it, iterations=run.cfg["iterations"])
    run.history.append({"iteration": it, **{k: scores[k] for k in METRIC_KEYS}})
    shares = {k: scores[k] for k in ("pred_share", "label_share")}
    with guard.keeping("the evaluation's eval.csv and metrics.json"):
        run.folder.log_evaluation(run.history[-1], scores["iu"], shares)
    predicted = ", ".join(f"{n} {100 * v:.0f}%" for n, v in scores["pred_share"].items())
    progress.say(f"iteration {it}: mean IU {scores['mean_iu']:.4f}, pixel acc "
                 f"{scores['acc']:.4f}; predicted {predicted}")
    if scores["collapse"]:
        progress.say(scores["collapse"], file=sys.stderr)


class LossLog:
    """The losses of the last iterations, kept on the device and read back together every
    ``log_every`` (one transfer), checked by the ``Guard`` and appended to log.csv."""

    def __init__(self, run, guard, progress):
        self.run, self.guard, self.progress = run, guard, progress
        self.pending, self.t0 = [], time.time()

    def append(self, it, loss):
        self.pending.append((it, loss, time.time() - self.t0))

    def flush(self):
        if not self.pending:
            return
        xp = backend.get_array_module(self.pending[0][1])
        values = backend.to_cpu(xp.stack([v for _, v, _ in self.pending]))
        rows = [{"iteration": i, "loss": float(v), "seconds": round(sec, 3)}
                for (i, _, sec), v in zip(self.pending, values)]
        self.pending = []
        self.guard.check_losses(rows)
        with self.guard.keeping("log.csv"):
            self.run.folder.log(rows)
        self.run.log_rows.extend(rows)
        self.progress.show_loss(rows[-1]["loss"])


class Guard:
    """The divergence guard. A NaN or infinite loss stops the run with ``TrainingDiverged``; a
    checkpoint is written only when it is good (finite weights that give a finite loss on the
    next batch), so the last one written (``last_good``, an iteration) is always good."""

    def __init__(self, run, loss_fn, batches):
        self.run, self.loss_fn, self.batches = run, loss_fn, batches
        self.last_good = run.start if run.resumed else None

    def check_losses(self, rows):
        bad = [r for r in rows if not math.isfinite(r["loss"])]
        if bad:
            self.diverged(f"loss became {bad[0]['loss']} at iteration {bad[0]['iteration']}")

    def save_if_good(self, it, checked=False):
        """Save the run after iteration ``it`` (model, optimizer, settings, evaluations) once
        its weights pass the check (``checked``: they did, for this iteration, already)."""
        if not checked:
            self.check_weights(it)
        run = self.run
        with self.keeping(f"the checkpoint of iteration {it}"):
            run.folder.save_checkpoint(run.model, run.optimizer, it, run.cfg, run.history)
        self.last_good = it

    @contextmanager
    def keeping(self, what):
        """A failed write (a full disk, a file too large) into the run folder becomes a
        ``CheckpointNotWritten`` that says which checkpoint was kept, and where."""
        try:
            yield
        except OSError as e:
            folder = self.run.folder
            if self.last_good is None:
                kept = "No checkpoint had been written yet."
            else:
                kept = (f"The checkpoint of iteration {self.last_good} is kept, whole, in "
                        f"{folder.checkpoint}; free some space and continue with --resume.")
            why = os.strerror(e.errno) if e.errno else e
            raise CheckpointNotWritten(f"could not write {what} in {folder.path} ({why}). "
                                       f"{kept}") from e

    def check_weights(self, it):
        """The weights after iteration ``it`` must be finite and give a finite loss (on the next
        batch, in eval mode): a step can blow the weights up after the last loss was computed.
        Checked at checkpoints, not every iteration: one forward pass and one read-back."""
        model = self.run.model
        x, t = (backend.to_device(a, self.run.cfg["device"]) for a in self.batches(it))
        model.eval()
        try:
            with no_grad():
                loss = self.loss_fn(model(x), t)
        finally:
            model.train()
        xp = backend.get_array_module(loss)
        finite = [xp.isfinite(p.data).all() for p in model.parameters()]
        weights_ok, loss_ok = backend.to_cpu(xp.stack([xp.stack(finite).all(),
                                                       xp.isfinite(loss)]))
        if not weights_ok:
            self.diverged(f"the weights after iteration {it} are not finite")
        if not loss_ok:
            self.diverged(f"the weights after iteration {it} give a loss of "
                          f"{float(backend.to_cpu(loss))}")

    def diverged(self, what):
        cfg, folder = self.run.cfg, self.run.folder
        if self.last_good is None:
            kept = "No checkpoint was written: the run diverged before its first one."
        else:
            kept = (f"The last good checkpoint (iteration {self.last_good}) is kept in "
                    f"{folder.checkpoint}.")
        raise TrainingDiverged(
            f"{what} (lr {cfg['lr']}, reduction {cfg['reduction']!r}): training stopped. {kept} "
            f"With reduction='sum' the loss grows with the image size, so lr must be tiny (the "
            f"papers use 1e-10); with 'mean', try a smaller lr.")


class Progress:
    """The progress bar (tqdm, when ``progress`` is on) and the run's messages, which print
    either way: through the bar, so as not to break it, or straight to the stream."""

    def __init__(self, cfg, start):
        self.bar = None
        if cfg["progress"]:
            from tqdm import tqdm
            self.bar = tqdm(total=cfg["iterations"], initial=start, desc=f"train {cfg['model']}",
                            unit="it", dynamic_ncols=True)

    def update(self):
        if self.bar is not None:
            self.bar.update(1)

    def show_loss(self, loss):
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}")

    def say(self, text, file=None):
        if self.bar is not None:
            self.bar.write(text, file=file)
        else:
            print(text, file=file)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


@contextmanager
def quiet_float_warnings():
    """A diverging run's overflow warnings, silenced: ``TrainingDiverged`` says what happened."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", FLOAT_WARNINGS, RuntimeWarning)
        yield


class StopOnInterrupt:
    """Turn the first Ctrl-C, SIGTERM or SIGHUP into a request to stop after the current
    iteration.

    SIGTERM is what ``timeout``, Slurm, ``docker stop`` and systemd send, SIGHUP what a closed
    terminal sends. Stopping between iterations (never inside an SGD step, which would leave
    half the weights updated) is what makes the checkpoint written then exact. A second signal
    interrupts at once. Outside the main thread signals cannot be caught, and they act as usual.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))

    def __init__(self):
        self.requested, self.signum, self._previous = False, None, {}

    @property
    def name(self):
        return "interrupted" if self.signum == signal.SIGINT else \
            f"stopped by {signal.Signals(self.signum).name}"

    def _handler(self, signum, frame):
        if self.requested:
            raise Stopped(signum)
        self.requested, self.signum = True, signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False
