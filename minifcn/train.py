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

The run folder ``out`` holds: ``log.csv`` (one row per iteration), ``eval.csv`` (one row per
evaluation), ``metrics.json`` (the last evaluation), ``checkpoint.npz`` (model + optimizer +
iteration; ``minifcn.load`` reads it), ``config.json`` and the figures ``loss.png``,
``metrics.png``, ``predictions.png``.
"""
import csv
import json
import math
import os
import signal
import threading
import time

import numpy as np

from . import backend, io, plots
from .data import load_dataset
from .data.shapes import default_data_root, ensure_shapes
from .data.transforms import make_batch, random_crop, random_flip
from .evaluate import evaluate
from .models import MODELS, get_model
from .nn import Dropout, SoftmaxCrossEntropy
from .predict import predict
from .optim import SGD, Adam

# The main job (`python -m minifcn train`): a small FCN-8s on the offline shapes dataset, from
# scratch, so with Adam (see minifcn.optim: SGD with the paper's recipe needs VGG16 weights).
# lr 1e-3 suits the per-pixel *mean* loss (the papers' 1e-10..1e-14 are SGD on the summed loss),
# and it decays as lr·(1 − i/iterations)^0.9 ("poly", DeepLab's policy): from scratch, the last
# stretch at a small rate is worth a lot of mean IU. The papers keep it fixed.
# Widths are VGG16's / 8 (8, 16, 32, 64, 64; fc6/fc7 128) and the images 128×128: with conv1_1's
# pad 100 a 128×128 image is computed at 326×326, only 1.6× the cost of a 64×64 one (262×262)
# for 4× the labelled pixels, and it learns about twice as fast per second (bench/RESULTS.md).
DEFAULTS = dict(model="fcn8s", data=None, iterations=6000, optimizer="adam", lr=1e-3,
                lr_policy="poly", momentum=0.99, weight_decay=5e-4, reduction="mean",
                base_channels=8, fc_channels=128, conv1_1_padding=None, init=None, device=None,
                seed=0, subset=None,
                eval_every=1000, out=None, resume=False, batch_size=1, augment=True,
                progress=True, val_subset=None, log_every=10)
MAIN_JOB_SHAPES = dict(size=128)      # the shapes dataset the default run trains on


def default_train_data():
    """The main job's dataset: $MINIFCN_DATA if set, else the 128×128 shapes dataset beside the
    default one (``data/shapes-128`` in a checkout), generated on first use."""
    if os.environ.get("MINIFCN_DATA"):
        return ensure_shapes()
    root = os.path.join(os.path.dirname(default_data_root()), "shapes-128")
    return ensure_shapes(root, **MAIN_JOB_SHAPES)

CHECKPOINT = "checkpoint.npz"
LOG_FIELDS = ["iteration", "loss", "seconds"]
METRIC_KEYS = ["acc", "acc_cls", "mean_iu", "fwavacc"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or Inf; the last good checkpoint was kept."""


def _dropout_layers(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, Dropout)]


def smallest_side(*datasets):
    """The smallest image side in these datasets (image headers only, no decoding)."""
    from PIL import Image
    side = None
    for ds in datasets:
        for image_id in ds.ids:
            with Image.open(ds.image_path(image_id)) as im:
                side = min(im.size) if side is None else min(side, *im.size)
    return side


def _build_model(spec, class_names, base_channels, fc_channels, seed, init, padding=None,
                 min_size=1):
    if not isinstance(spec, str):
        return spec
    if padding is None:     # the smallest that works for these images (see FCN.smallest_padding)
        padding = model_class_of(spec).smallest_padding(min_size)
    model = get_model(spec, n_class=len(class_names), base_channels=base_channels,
                      fc_channels=fc_channels, seed=seed, class_names=list(class_names),
                      conv1_1_padding=padding)
    if init is not None:
        source = io.load(init)
        if type(source).__name__ == "VGG16":
            model.copy_params_from_vgg16(source)      # convolutionize fc6/fc7, copy the convs
        else:
            model.copy_params_from(source)            # staged training: 32s → 16s → 8s
        model.input_convention = getattr(source, "input_convention", model.input_convention)
    return model


def model_class_of(name):
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODELS or key == "vgg16":
        raise ValueError(f"unknown model {name!r}: expected one of "
                         f"{tuple(k for k in MODELS if k != 'vgg16')}")
    return MODELS[key]


LR_POLICIES = ("fixed", "poly")


def learning_rate(cfg, iteration):
    """The rate of (1-based) ``iteration``: a pure function of it, so resume is exact."""
    if cfg["lr_policy"] == "fixed":
        return cfg["lr"]
    if cfg["lr_policy"] == "poly":
        return cfg["lr"] * (1 - (iteration - 1) / max(1, cfg["iterations"])) ** 0.9
    raise ValueError(f"unknown lr_policy {cfg['lr_policy']!r}: expected one of {LR_POLICIES}")


def _build_optimizer(model, cfg):
    name = cfg["optimizer"]
    if name == "sgd":          # FCN's recipe: biases at 2× lr without decay
        return SGD(model.named_parameters(), cfg["lr"], cfg["momentum"], cfg["weight_decay"])
    if name == "adam":
        return Adam(model.named_parameters(), cfg["lr"], weight_decay=cfg["weight_decay"])
    raise ValueError(f"unknown optimizer {name!r}: expected 'sgd' or 'adam'")


class _Batches:
    """Training samples as a pure function of (seed, iteration)."""

    def __init__(self, dataset, seed, batch_size, augment, convention, dtype):
        self.dataset, self.seed, self.batch_size = dataset, seed, batch_size
        self.augment, self.convention, self.dtype = augment, convention, dtype
        self._epoch, self._order = None, None

    def _index(self, k):
        epoch, pos = divmod(k, len(self.dataset))
        if epoch != self._epoch:    # a fresh permutation every epoch, from (seed, epoch)
            self._epoch = epoch
            self._order = np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset))
        return int(self._order[pos])

    def __call__(self, iteration):
        samples, size = [], None
        for j in range(self.batch_size):
            image, label = self.dataset[self._index(iteration * self.batch_size + j)]
            if self.augment:
                rng = np.random.default_rng([self.seed, iteration, j])
                image, label = random_flip(image, label, rng)
            if size is None:
                size = label.shape
            elif label.shape != size:      # batches of VOC images: crop to the first one's size
                image, label = random_crop(image, label, size,
                                           np.random.default_rng([self.seed, iteration, j, 1]))
            samples.append((image, label))
        return make_batch(samples, self.convention, self.dtype)


def _write_csv(path, fields, rows, append):
    new = not (append and os.path.exists(path))
    with open(path, "a" if append else "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerows(rows)


def _read_csv(path, upto):
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if int(r["iteration"]) <= upto]


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)                      # atomic: a reader never sees half a file


def _save_checkpoint(path, model, optimizer, iteration, config, history):
    buffers, info = optimizer.state_dict()
    extra = {f"optim/{k}": v for k, v in buffers.items()}
    meta = {"iteration": iteration, "config": config, "history": history,
            "dropout_steps": {n: m.step for n, m in _dropout_layers(model)}, "optimizer": info}
    io.save(model, path, extra=extra, meta=meta)


def _figures(out, model, val, history, log_rows, n_examples=4):
    if log_rows:
        plots.plot_loss([int(r["iteration"]) for r in log_rows],
                        [float(r["loss"]) for r in log_rows], os.path.join(out, "loss.png"))
    if history:
        plots.plot_metrics(history, os.path.join(out, "metrics.png"))
    if val is not None and len(val):
        samples = [val[i] for i in range(min(n_examples, len(val)))]
        plots.plot_predictions([im for im, _ in samples], [lab for _, lab in samples],
                               [predict(model, im) for im, _ in samples],
                               os.path.join(out, "predictions.png"))


def train(**kwargs):
    """Train an FCN; every keyword is also a ``python -m minifcn train`` flag.

    model: 'fcn32s' | 'fcn16s' | 'fcn8s' | 'fcn8s-atonce', or a model object.
    data: a VOC-layout folder (real VOC, or the shapes dataset); None: the offline shapes
        dataset at 128×128 (``default_train_data``), generated on first use.
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
    unknown = set(kwargs) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"train() got unknown arguments {sorted(unknown)}; "
                        f"expected some of {sorted(DEFAULTS)}")
    cfg = dict(DEFAULTS, **kwargs)
    model_spec = cfg["model"]
    name = model_spec if isinstance(model_spec, str) else type(model_spec).__name__.lower()
    out = os.path.abspath(cfg["out"] or os.path.join("runs", name))
    ckpt_path = os.path.join(out, CHECKPOINT)
    start, history, meta = 0, [], None
    if cfg["resume"]:
        if not os.path.exists(ckpt_path):
            raise FileNotFoundError(f"resume: no checkpoint at {ckpt_path}")
        model, extra, meta = io.read(ckpt_path)
        start, history = meta["iteration"], meta.get("history", [])
        # The run goes on as it was configured; only the arguments given now change it.
        cfg = dict(DEFAULTS)
        cfg.update((k, v) for k, v in meta["config"].items() if k in DEFAULTS)
        cfg.update(kwargs)
        name = meta["config"]["model"]
    os.makedirs(out, exist_ok=True)
    device = cfg["device"] or backend.default_device()
    backend.to_device(np.zeros(1), device)                     # a clear error if unavailable

    root = cfg["data"] if cfg["data"] is not None else default_train_data()
    train_set = load_dataset(root, "train", cfg["subset"], cfg["seed"])
    val_set = load_dataset(root, "val", cfg["val_subset"], cfg["seed"])
    if meta is None:
        model = _build_model(model_spec, train_set.class_names, cfg["base_channels"],
                             cfg["fc_channels"], cfg["seed"], cfg["init"],
                             cfg["conv1_1_padding"],
                             smallest_side(train_set, val_set) if cfg["conv1_1_padding"] is None
                             else 1)
    n_class = getattr(model, "n_class", train_set.n_class)
    if n_class != train_set.n_class:
        raise ValueError(f"the model predicts {n_class} classes but {root} has "
                         f"{train_set.n_class}")
    model.to(device)
    model.train()
    learning_rate(cfg, 1)                                      # a clear error for a bad policy
    optimizer = _build_optimizer(model, cfg)
    if meta is not None:
        optimizer.load_state_dict({k[len("optim/"):]: v for k, v in extra.items()
                                   if k.startswith("optim/")}, meta["optimizer"])
        for n, m in _dropout_layers(model):
            m.step = meta["dropout_steps"][n]

    config = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else name)
              for k, v in cfg.items()}
    config.update(out=out, data=os.path.abspath(root), device=device, model=name, resume=False)
    _write_json(os.path.join(out, "config.json"), config)

    log_path = os.path.join(out, "log.csv")
    log_rows = _read_csv(log_path, start)                      # rows past the checkpoint go
    _write_csv(log_path, LOG_FIELDS, log_rows, append=False)
    crit = SoftmaxCrossEntropy(train_set.ignore_index, cfg["reduction"], check_target=False)
    batches = _Batches(train_set, cfg["seed"], cfg["batch_size"], cfg["augment"],
                       getattr(model, "input_convention", "caffe"), model.dtype)
    iterations, eval_every = cfg["iterations"], cfg["eval_every"]
    pending, last_good, t0 = [], start, time.time()

    def flush(it):
        """Read the pending losses back (one transfer), check them, log them."""
        nonlocal pending
        if not pending:
            return
        xp = backend.get_array_module(pending[0][1])
        values = backend.to_cpu(xp.stack([v for _, v, _ in pending]))
        rows = [{"iteration": i, "loss": float(v), "seconds": round(sec, 3)}
                for (i, _, sec), v in zip(pending, values)]
        pending = []
        bad = [r for r in rows if not math.isfinite(r["loss"])]
        if bad:
            raise TrainingDiverged(
                f"loss became {bad[0]['loss']} at iteration {bad[0]['iteration']} (lr "
                f"{cfg['lr']}, reduction {cfg['reduction']!r}): training stopped. The last good "
                f"checkpoint (iteration {last_good}) is kept in {ckpt_path}. With "
                f"reduction='sum' the loss grows with the image size, so lr must be tiny "
                f"(the papers use 1e-10); with 'mean', try a smaller lr.")
        _write_csv(log_path, LOG_FIELDS, rows, append=True)
        log_rows.extend(rows)
        if bar is not None:
            bar.set_postfix(loss=f"{rows[-1]['loss']:.4f}")

    def checkpoint(it, evaluate_now):
        nonlocal last_good
        flush(it)
        if evaluate_now:
            scores = evaluate(model, val_set)
            history.append({"iteration": it, **{k: scores[k] for k in METRIC_KEYS}})
            _write_csv(os.path.join(out, "eval.csv"), ["iteration"] + METRIC_KEYS,
                       history[-1:], append=True)
            _write_json(os.path.join(out, "metrics.json"), {**history[-1], "iu": scores["iu"]})
            if bar is not None:
                bar.write(f"iteration {it}: mean IU {scores['mean_iu']:.4f}, pixel acc "
                          f"{scores['acc']:.4f}")
        _save_checkpoint(ckpt_path, model, optimizer, it, config, history)
        last_good = it

    bar = None
    if cfg["progress"]:
        from tqdm import tqdm
        bar = tqdm(total=iterations, initial=start, desc=f"train {name}", unit="it",
                   dynamic_ncols=True)
    it = start
    try:
        with _StopOnInterrupt() as stop:
            for it in range(start + 1, iterations + 1):
                x, t = batches(it - 1)
                x, t = backend.to_device(x, device), backend.to_device(t, device)
                score = model(x)                                  # N×n_class×H×W
                loss = crit(score, t)
                model.zero_grad()
                model.backward(crit.backward(), need_input_grad=False)
                optimizer.lr = learning_rate(cfg, it)
                optimizer.step()
                pending.append((it, loss, time.time() - t0))      # read back every log_every
                if bar is not None:
                    bar.update(1)
                if stop.requested:
                    break
                if it % cfg["log_every"] == 0:
                    flush(it)
                if eval_every and it % eval_every == 0 and it != iterations:
                    checkpoint(it, evaluate_now=True)
        if stop.requested:
            # Ctrl-C: the iteration in flight was finished first, so the checkpoint is exact.
            checkpoint(it, evaluate_now=False)
            if bar is not None:
                bar.write(f"interrupted: checkpoint at iteration {it} in {ckpt_path}; "
                          f"continue with resume=True (--resume)")
            raise KeyboardInterrupt
        if it > last_good or not history:
            checkpoint(it, evaluate_now=bool(eval_every))
    finally:
        if bar is not None:
            bar.close()
    _figures(out, model, val_set, history, log_rows)
    metrics = {**history[-1]} if history else None
    return {"metrics": metrics, "model": model, "out": out, "iteration": it}


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
