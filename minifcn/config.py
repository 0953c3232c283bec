"""A training run's settings: every option with its default, type, choices and help, in one table.

``train(**kwargs)`` and ``python -m minifcn train --flags`` read the same table: a keyword
``base_channels`` is the flag ``--base-channels``. ``resolve`` merges a run's settings once, in
one place: the defaults, then (on resume) the settings saved in the checkpoint, then the
arguments given now.

The main job's defaults: a small FCN-8s on the offline shapes dataset, from scratch, in the main
job's geometry (``minifcn.models.MAIN_JOB``, built by ``FCN8s.main_job()``), so with Adam
(see minifcn.optim: SGD with the paper's recipe needs VGG16 weights). lr 1e-3 suits the per-pixel
*mean* loss (the papers' 1e-10..1e-14 are SGD on the summed loss), and it decays as
lr·(1 − i/iterations)^0.9 ("poly", DeepLab's policy): from scratch, the last stretch at a small
rate is worth a lot of mean IU. The papers keep it fixed. Widths are VGG16's / 8 (8, 16, 32, 64,
64; fc6/fc7 128) and the images 128×128, which learn about twice as fast per second as 64×64
ones (bench/RESULTS.md). Four choices were measured against the main job's clock
(bench/RESULTS.md, "The main job's recipe"):

- fc6 pads by 3 (a "same" 7×7 convolution) and conv1_1 then needs no padding at all (the
  paper's fc6 has none and conv1_1 pads by 100): a 126×126 conv1 instead of 326×326, about a
  quarter of the paper geometry's step and a little over half of conv1_1 37 with fc6 padded
  by 1 (bench/recipe_cost.py; figures in bench/RESULTS.md). The skips' crops then
  fill with zeros the cells that the upsampled coarse scores have beyond pool4/pool3, all
  outside the image
  (``FCN.skip_crop``, ``FCN.smallest_padding`` and docs/models.md);
- no dropout in fc6/fc7: from scratch at 128 channels it delays learning more than it
  regularises (0.30 against 0.44 mean IU at iteration 1500; 0.83 against 0.85 at 5000);
- median-frequency class weights (``class_weight='auto'``): background covers about 73% of the
  pixels, and unweighted the net answers "background" everywhere for longer;
- 8000 iterations: what fits in well under 5 minutes on a 2-core CPU (bench/RESULTS.md), and
  where three runs (threads, seeds) ended at 0.88-0.90 mean IU where 5000 gave
  0.82-0.85.
"""
import math
import os
from collections import namedtuple

from .models import MAIN_JOB, MODELS, model_class, model_key
from .models.fcn import FC6_PADDINGS
from .optim import LR_POLICIES, OPTIMIZERS

Option = namedtuple("Option", "default type choices help")

# NumPy's floating-point warnings ("overflow encountered in matmul", …): a diverging run's, which
# its error message explains (``train`` and the command line silence them).
FLOAT_WARNINGS = r"(overflow|invalid value|divide by zero|underflow) encountered"

MODEL_NAMES = tuple(name for name in MODELS if name != "vgg16")
REDUCTIONS = ("mean", "sum")

OPTIONS = {
    "model": Option("fcn8s", str, MODEL_NAMES, "the FCN variant"),
    "data": Option(None, str, None, "a VOC-layout folder (default: the 128×128 offline shapes "
                                    "dataset, generated if missing)"),
    "iterations": Option(8000, int, None, "total iterations (a resumed run continues up to it)"),
    "optimizer": Option("adam", str, tuple(OPTIMIZERS),
                        "sgd: the papers' recipe, for training from VGG16 weights"),
    "lr": Option(1e-3, float, None, "learning rate (the papers' 1e-10 is for --reduction sum "
                                    "at 500×500)"),
    "lr_policy": Option("poly", str, LR_POLICIES, "poly: lr·(1 − i/iterations)^0.9"),
    "momentum": Option(0.99, float, None, "SGD momentum"),
    "weight_decay": Option(5e-4, float, None, "weight decay (biases get none)"),
    "reduction": Option("mean", str, REDUCTIONS,
                        "loss over pixels (sum: the papers' unnormalised loss)"),
    "base_channels": Option(MAIN_JOB["base_channels"], int, None, "VGG width scale (64 = VGG16)"),
    "fc_channels": Option(MAIN_JOB["fc_channels"], int, None, "fc6/fc7 width (4096 = VGG16)"),
    "conv1_1_padding": Option(MAIN_JOB["conv1_1_padding"], int, None,
                              "conv1_1's padding (100: the paper's; default: the smallest the "
                              "images and fc6's padding allow: 0 with fc6 padded by 3, 37 by 1)"),
    "fc6_padding": Option(MAIN_JOB["fc6_padding"], int, FC6_PADDINGS,
                          "fc6's padding (0: the paper's; each pixel more lets conv1_1 pad 32 px "
                          "less: for FCN-8s at 128×128 69, 37, 5, 0)"),
    "dropout": Option(MAIN_JOB["dropout"], float, None,
                      "dropout probability after fc6 and fc7 (0.5: the papers', for VGG16's "
                      "4096 channels)"),
    "init": Option(None, str, None, "a saved model to start from (VGG16, or the previous stage: "
                                    "32s → 16s → 8s)"),
    "device": Option(None, str, ("cpu", "cuda"), "where to compute (default: $MINIFCN_DEVICE "
                                                 "or cpu)"),
    "seed": Option(0, int, None, "random seed"),
    "subset": Option(None, int, None, "train on a deterministic subset of this many images"),
    "eval_every": Option(1000, int, None, "iterations between evaluations and checkpoints "
                                          "(0: none until the end)"),
    "out": Option(None, str, None, "run folder (default runs/<model>)"),
    "resume": Option(False, bool, None, "continue the run in OUT from OUT/checkpoint.npz, with its "
                                        "saved settings (options given now override them)"),
    "overwrite": Option(False, bool, None, "replace the run already in OUT (its checkpoint, logs "
                                           "and figures; other files stay)"),
    "batch_size": Option(1, int, None, "images per iteration"),
    "augment": Option(True, bool, None, "random flips"),
    "progress": Option(True, bool, None, "progress bar"),
    "val_subset": Option(None, int, None, "evaluate on this many validation images"),
    "log_every": Option(10, int, None, "iterations per log row"),
    "class_weight": Option("auto", str, None,
                           "loss weight per class: none | auto (median-frequency balancing over "
                           "the training set, saved in config.json) | FILE (one weight per "
                           "class, a line each, in class order)"),
}
DEFAULTS = {key: option.default for key, option in OPTIONS.items()}


def flag(key):
    """The command-line flag of an option: ``base_channels`` → ``--base-channels``."""
    return "--" + key.replace("_", "-")


def resolve(given, saved=None):
    """The run's settings: the defaults, then ``saved`` (a resumed run's config, as stored in
    its checkpoint), then ``given`` (the arguments of this call, checked by ``validate``)."""
    cfg = dict(DEFAULTS)
    cfg.update((k, v) for k, v in (saved or {}).items() if k in DEFAULTS)
    cfg.update(given)
    return cfg


# --- validation ---------------------------------------------------------------------------------
# What each number must be: (lowest allowed, whether the lowest itself is allowed, highest or None).
RANGES = {"iterations": (0, True, None), "lr": (0, False, None), "momentum": (0, True, 1),
          "weight_decay": (0, True, None), "base_channels": (1, True, None),
          "fc_channels": (1, True, None), "dropout": (0, True, 1), "seed": (0, True, None),
          "subset": (1, True, None),
          "eval_every": (0, True, None), "batch_size": (1, True, None),
          "val_subset": (1, True, None), "log_every": (1, True, None)}


def _name(key):
    return f"{key} ({flag(key)})"


def _check_type(key, value, option):
    if option.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif option.type is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif option.type is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, (str, os.PathLike))
    if not ok:
        raise ValueError(f"{_name(key)} must be {option.type.__name__}, got {value!r}")


def _check_range(key, value):
    low, inclusive, high = RANGES[key]
    bad = (not math.isfinite(value) or value < low or (value == low and not inclusive)
           or (high is not None and value >= high))
    if bad:
        want = f"{'≥' if inclusive else '>'} {low}" + (f" and < {high}" if high else "")
        raise ValueError(f"{_name(key)} must be {want}, got {value}")


def validate(cfg):
    """Check the settings in ``cfg`` (all of them, as ``resolve`` returns them, or only those
    given); ValueError names the first that is wrong, its flag and its value. Nothing is
    written: this runs before the run folder is touched."""
    unknown = set(cfg) - set(OPTIONS)
    if unknown:
        raise TypeError(f"train() got unknown arguments {sorted(unknown)}; "
                        f"expected some of {sorted(OPTIONS)}")
    for key, value in cfg.items():
        option = OPTIONS[key]
        if key == "model" and not isinstance(value, str):
            if not hasattr(value, "config"):
                raise ValueError(f"model must be one of {MODEL_NAMES} or a minifcn model, got "
                                 f"{type(value).__name__}")
            continue
        if value is None and option.default is None:
            continue
        _check_type(key, value, option)
        if key == "model":
            value = model_key(value)                            # as get_model reads it
        if option.choices and value not in option.choices:
            raise ValueError(f"{_name(key)} must be one of {', '.join(option.choices)}, got "
                             f"{value!r}")
        if key in RANGES:
            _check_range(key, value)
    if cfg.get("resume") and cfg.get("overwrite"):
        raise ValueError("resume (--resume) continues the run in the folder and overwrite "
                         "(--overwrite) replaces it: give one of them")
    for key in ("out", "data", "init", "class_weight"):
        _check_path(key, cfg.get(key))


def _check_path(key, path):
    if path is None:
        return
    if key == "out" and os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{_name(key)} {path} is a file, not a folder")
    if key == "data" and not os.path.isdir(path):
        raise FileNotFoundError(f"{_name(key)}: dataset folder not found: {path}")
    if key == "init" and not os.path.isfile(path):
        raise FileNotFoundError(f"{_name(key)}: no weights file at {path}")
    if key == "class_weight" and path not in ("none", "auto") and not os.path.isfile(path):
        raise FileNotFoundError(f"{_name(key)} must be none, auto or a file of class weights; "
                                f"no file at {path}")


# Settings a resumed run takes from its checkpoint and cannot change.
FIXED_ON_RESUME = ("model", "optimizer", "base_channels", "fc_channels", "init")


def check_resume(given, model, saved, path):
    """ValueError if an argument given to resume a run contradicts what its checkpoint ``path``
    holds (``model``, with the saved settings ``saved``)."""
    for key in FIXED_ON_RESUME:
        if key not in given:
            continue
        value, held = given[key], saved.get(key)
        if key == "model":
            if not isinstance(value, str):
                raise ValueError(f"resume rebuilds the model from {path}: pass no model object")
            same = model_class(value) is type(model)
            held = f"{held} ({type(model).__name__})"
        elif key in ("base_channels", "fc_channels"):
            held = model.config[key]
            same = value == held
        else:
            same = value == held
        if not same:
            raise ValueError(f"resume: {path} holds a run with {key} {held}; {_name(key)} "
                             f"{value!r} contradicts it (leave {flag(key)} out to continue that "
                             f"run, or start a new one in another --out)")
