"""A training run's settings: every option with its default, type, choices and help, in one table.

``train(**kwargs)`` and ``python -m minifcn train --flags`` read the same table: a keyword
``base_channels`` is the flag ``--base-channels``. ``resolve`` merges a run's settings once, in
one place: the defaults, then (on resume) the settings saved in the checkpoint, then the
arguments given now.

The main job's defaults: a small FCN-8s on the offline shapes dataset, from scratch, so with Adam
(see minifcn.optim: SGD with the paper's recipe needs VGG16 weights). lr 1e-3 suits the per-pixel
*mean* loss (the papers' 1e-10..1e-14 are SGD on the summed loss), and it decays as
lr·(1 − i/iterations)^0.9 ("poly", DeepLab's policy): from scratch, the last stretch at a small
rate is worth a lot of mean IU. The papers keep it fixed. Widths are VGG16's / 8 (8, 16, 32, 64,
64; fc6/fc7 128) and the images 128×128, which learn about twice as fast per second as 64×64
ones (bench/RESULTS.md). conv1_1 is padded only as much as the images need (69 for FCN-8s at
128×128, not the paper's 100: a 264×264 conv1 instead of 326×326, about 0.66× the step;
``FCN.smallest_padding`` and docs/models.md say why it cannot go lower).
"""
from collections import namedtuple

from .models import MODELS
from .optim import OPTIMIZERS

Option = namedtuple("Option", "default type choices help")

MODEL_NAMES = tuple(name for name in MODELS if name != "vgg16")
LR_POLICIES = ("fixed", "poly")
REDUCTIONS = ("mean", "sum")

OPTIONS = {
    "model": Option("fcn8s", str, MODEL_NAMES, "the FCN variant (or, from Python, a model)"),
    "data": Option(None, str, None, "a VOC-layout folder (default: the 128×128 offline shapes "
                                    "dataset, generated if missing)"),
    "iterations": Option(6000, int, None, "total iterations (a resumed run continues up to it)"),
    "optimizer": Option("adam", str, tuple(OPTIMIZERS),
                        "sgd: the papers' recipe, for training from VGG16 weights"),
    "lr": Option(1e-3, float, None, "learning rate (the papers' 1e-10 is for --reduction sum "
                                    "at 500×500)"),
    "lr_policy": Option("poly", str, LR_POLICIES, "poly: lr·(1 − i/iterations)^0.9"),
    "momentum": Option(0.99, float, None, "SGD momentum"),
    "weight_decay": Option(5e-4, float, None, "weight decay (biases get none)"),
    "reduction": Option("mean", str, REDUCTIONS,
                        "loss over pixels (sum: the papers' unnormalised loss)"),
    "base_channels": Option(8, int, None, "VGG width scale (64 = VGG16)"),
    "fc_channels": Option(128, int, None, "fc6/fc7 width (4096 = VGG16)"),
    "conv1_1_padding": Option(None, int, None, "conv1_1's padding (100: the paper's; default: "
                                               "the smallest the images allow, 69 for FCN-8s at "
                                               "128×128)"),
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
    "batch_size": Option(1, int, None, "images per iteration"),
    "augment": Option(True, bool, None, "random flips"),
    "progress": Option(True, bool, None, "progress bar"),
    "val_subset": Option(None, int, None, "evaluate on this many validation images"),
    "log_every": Option(10, int, None, "iterations per log row"),
}
DEFAULTS = {key: option.default for key, option in OPTIONS.items()}


def flag(key):
    """The command-line flag of an option: ``base_channels`` → ``--base-channels``."""
    return "--" + key.replace("_", "-")


def resolve(given, saved=None):
    """The run's settings: the defaults, then ``saved`` (a resumed run's config, as stored in
    its checkpoint), then ``given`` (the arguments of this call)."""
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"train() got unknown arguments {sorted(unknown)}; "
                        f"expected some of {sorted(DEFAULTS)}")
    cfg = dict(DEFAULTS)
    cfg.update((k, v) for k, v in (saved or {}).items() if k in DEFAULTS)
    cfg.update(given)
    return cfg
