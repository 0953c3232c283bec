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
with ``TrainingDiverged``, and the last good checkpoint stays.

The settings and their defaults are ``minifcn.config``; what the run folder holds is
``minifcn.runfolder``; everything before the first iteration (settings, data, model, optimizer,
run folder) is ``minifcn.runsetup``. This module is the loop: ``train`` hands what ``runsetup``
prepared to a ``Trainer`` and runs it; the ``Trainer`` steps, logs, checkpoints, evaluates.
"""
import math
import signal
import sys
import threading
import time
import warnings


from . import backend
from .config import DEFAULTS
from .data.batches import TrainBatches
from .evaluate import evaluate
from .nn import SoftmaxCrossEntropy, no_grad
from .optim import learning_rate
from .runfolder import METRIC_KEYS
from .runsetup import prepare

__all__ = ["train", "learning_rate", "TrainingDiverged", "DEFAULTS"]


# NumPy's floating-point warnings ("overflow encountered in matmul", …).
FLOAT_WARNINGS = r"(overflow|invalid value|divide by zero|underflow) encountered"


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or Inf; the last good checkpoint was kept."""


def train(**kwargs):
    """Train an FCN; every keyword is also a ``python -m minifcn train`` flag.

    model: 'fcn32s' | 'fcn16s' | 'fcn8s' | 'fcn8s-atonce', or a model object.
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
    trainer = Trainer(**prepare(kwargs))
    it = trainer.run()
    trainer.run_folder.figures(trainer.model, trainer.val_set, trainer.history,
                               trainer.log_rows)
    metrics = {**trainer.history[-1]} if trainer.history else None
    return {"metrics": metrics, "model": trainer.model, "out": trainer.run_folder.path,
            "iteration": it}


class Trainer:
    """The loop: one SGD/Adam step per iteration; every ``log_every`` the losses are read back
    and logged; every ``eval_every`` a checkpoint and an evaluation; Ctrl-C stops cleanly."""

    def __init__(self, model, optimizer, cfg, run_folder, train_set, val_set, start, history,
                 log_rows, last_good=None):
        self.model, self.optimizer, self.cfg, self.run_folder = model, optimizer, cfg, run_folder
        self.train_set, self.val_set = train_set, val_set
        self.start, self.history, self.log_rows = start, history, log_rows
        self.crit = SoftmaxCrossEntropy(train_set.ignore_index, cfg["reduction"],
                                        check_target=False, weight=cfg.get("class_weights"))
        self.batches = TrainBatches(train_set, cfg["seed"], cfg["batch_size"], cfg["augment"],
                                getattr(model, "input_convention", "caffe"), model.dtype)
        self.pending, self.last_good, self.t0 = [], last_good, time.time()
        self.bar = None
        if cfg["progress"]:
            from tqdm import tqdm
            self.bar = tqdm(total=cfg["iterations"], initial=start, desc=f"train {cfg['model']}",
                            unit="it", dynamic_ncols=True)

    def say(self, text):
        if self.bar is not None:
            self.bar.write(text)

    def run(self):
        """Iterate from the start to ``iterations``; return the last iteration done."""
        try:
            with warnings.catch_warnings():     # a diverging run's overflows: the error says it
                warnings.filterwarnings("ignore", FLOAT_WARNINGS, RuntimeWarning)
                return self._loop()
        finally:
            if self.bar is not None:
                self.bar.close()

    def _loop(self):
        it, iterations, eval_every = self.start, self.cfg["iterations"], self.cfg["eval_every"]
        with _StopOnInterrupt() as stop:
            for it in range(self.start + 1, iterations + 1):
                self.step(it)
                if stop.requested:
                    break
                if it % self.cfg["log_every"] == 0:
                    self.flush()
                if eval_every and it % eval_every == 0 and it != iterations:
                    self.checkpoint(it, evaluate_now=True)
        if stop.requested:
            # Ctrl-C: the iteration in flight was finished first, so the checkpoint is exact.
            self.checkpoint(it, evaluate_now=False)
            print(f"interrupted: checkpoint at iteration {it} in {self.run_folder.checkpoint}; "
                  f"continue with resume=True (--resume)", file=sys.stderr)
            raise KeyboardInterrupt
        if self.last_good is None or it > self.last_good or not self.history:
            self.checkpoint(it, evaluate_now=bool(eval_every))
        return it

    def step(self, it):
        """One iteration: forward, loss, backward, update. The loss stays on the device."""
        x, t = self.batches(it - 1)
        device = self.cfg["device"]
        x, t = backend.to_device(x, device), backend.to_device(t, device)
        score = self.model(x)                                     # N×n_class×H×W
        loss = self.crit(score, t)
        self.model.zero_grad()
        self.model.backward(self.crit.backward(), need_input_grad=False)
        self.optimizer.lr = learning_rate(self.cfg, it)
        self.optimizer.step()
        self.pending.append((it, loss, time.time() - self.t0))   # read back every log_every
        if self.bar is not None:
            self.bar.update(1)

    def flush(self):
        """Read the pending losses back (one transfer), check them, log them."""
        if not self.pending:
            return
        xp = backend.get_array_module(self.pending[0][1])
        values = backend.to_cpu(xp.stack([v for _, v, _ in self.pending]))
        rows = [{"iteration": i, "loss": float(v), "seconds": round(sec, 3)}
                for (i, _, sec), v in zip(self.pending, values)]
        self.pending = []
        bad = [r for r in rows if not math.isfinite(r["loss"])]
        if bad:
            self._diverged(f"loss became {bad[0]['loss']} at iteration {bad[0]['iteration']}")
        self.run_folder.log(rows)
        self.log_rows.extend(rows)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{rows[-1]['loss']:.4f}")

    def _diverged(self, what):
        cfg = self.cfg
        if self.last_good is None:
            kept = "No checkpoint was written: the run diverged before its first one."
        else:
            kept = (f"The last good checkpoint (iteration {self.last_good}) is kept in "
                    f"{self.run_folder.checkpoint}.")
        raise TrainingDiverged(
            f"{what} (lr {cfg['lr']}, reduction {cfg['reduction']!r}): training stopped. {kept} "
            f"With reduction='sum' the loss grows with the image size, so lr must be tiny (the "
            f"papers use 1e-10); with 'mean', try a smaller lr.")

    def checkpoint(self, it, evaluate_now):
        """Save the state after iteration ``it`` if it is good; then evaluate, and save again
        with the evaluation in the history. An evaluation that fails (a broken validation image)
        loses no training, and a resumed run never drops an evaluation row."""
        self.flush()
        self._check_good(it)
        self._save(it)
        if evaluate_now:
            self.evaluate(it)
            self._save(it)

    def _save(self, it):
        self.run_folder.save_checkpoint(self.model, self.optimizer, it, self.cfg, self.history)
        self.last_good = it

    def _check_good(self, it):
        """The weights after iteration ``it`` must be finite and give a finite loss (on the next
        batch, in eval mode): a step can blow the weights up after the last loss was computed.
        Checked here, not every iteration: one forward pass and one read-back per checkpoint."""
        x, t = (backend.to_device(a, self.cfg["device"]) for a in self.batches(it))
        self.model.eval()
        try:
            with no_grad():
                loss = self.crit(self.model(x), t)
        finally:
            self.model.train()
        xp = backend.get_array_module(loss)
        finite = [xp.isfinite(p.data).all() for p in self.model.parameters()]
        weights_ok, loss_ok = backend.to_cpu(xp.stack([xp.stack(finite).all(),
                                                       xp.isfinite(loss)]))
        if not weights_ok:
            self._diverged(f"the weights after iteration {it} are not finite")
        if not loss_ok:
            self._diverged(f"the weights after iteration {it} give a loss of "
                           f"{float(backend.to_cpu(loss))}")

    def evaluate(self, it):
        """Score the model on the validation set; log the scores and how the predicted pixels
        are shared between the classes; warn when the predictions collapsed to one class."""
        scores = evaluate(self.model, self.val_set, iteration=it,
                          iterations=self.cfg["iterations"])
        self.history.append({"iteration": it, **{k: scores[k] for k in METRIC_KEYS}})
        shares = {k: scores[k] for k in ("pred_share", "label_share")}
        self.run_folder.log_evaluation(self.history[-1], scores["iu"], shares)
        predicted = ", ".join(f"{n} {100 * v:.0f}%" for n, v in scores["pred_share"].items())
        self.say(f"iteration {it}: mean IU {scores['mean_iu']:.4f}, pixel acc "
                 f"{scores['acc']:.4f}; predicted {predicted}")
        if scores["collapse"]:
            if self.bar is not None:
                self.bar.write(scores["collapse"], file=sys.stderr)
            else:
                print(scores["collapse"], file=sys.stderr)


class _StopOnInterrupt:
    """Turn the first Ctrl-C into a request to stop after the current iteration.

    Stopping between iterations (never inside an SGD step, which would leave half the weights
    updated) is what makes the checkpoint written on Ctrl-C exact. A second Ctrl-C interrupts
    at once. Outside the main thread signals cannot be caught, and Ctrl-C acts as usual.
    """

    def __init__(self):
        self.requested, self._previous = False, None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
