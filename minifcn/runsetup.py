"""Everything ``minifcn.train`` does before its first iteration.

The arguments are checked and the configuration resolved once (``minifcn.config``: defaults,
then a resumed checkpoint's saved settings, then the arguments given); the run folder is chosen
(``minifcn.runfolder``); the data opened and checked; the model built (conv1_1 padded as little
as the images allow unless told otherwise, ``--init`` copied in), or restored with its optimizer
from the checkpoint; the loss's class weights computed once. ``prepare`` hands all of it to the
``Trainer`` in ``minifcn.train``, which only loops.
"""
import os
import sys

import numpy as np

from . import backend, io
from .config import DEFAULTS, check_resume, resolve, validate
from .data import default_train_data, load_dataset
from .data.weights import class_weights
from .models import MODELS, get_model
from .optim import get_optimizer
from .runfolder import RunFolder


def model_class(name):
    """The FCN class of a model name ('fcn8s' → FCN8s), or get_model's error for a bad name."""
    key = str(name).strip().lower().replace("_", "-")
    return MODELS[key] if key in MODELS else get_model(name)    # the latter raises


def _model_name(spec):
    return spec if isinstance(spec, str) else type(spec).__name__.lower()


def _settings(kwargs):
    """(run folder, settings, checkpoint or None): the arguments checked, the run folder chosen,
    and the configuration resolved once (defaults, then a resumed checkpoint's, then these)."""
    validate(kwargs)
    name = _model_name(kwargs.get("model", DEFAULTS["model"]))
    run_folder = RunFolder.for_training(kwargs.get("out"), os.path.join("runs", name),
                                        kwargs.get("resume"), kwargs.get("overwrite"))
    checkpoint = run_folder.read_checkpoint() if kwargs.get("resume") else None
    if checkpoint:
        check_resume(kwargs, checkpoint[0], checkpoint[2]["config"], run_folder.checkpoint)
        if not kwargs.get("out"):
            print(f"resuming the run in {run_folder.path} (iteration "
                  f"{checkpoint[2]['iteration']})", file=sys.stderr)
    cfg = resolve(kwargs, checkpoint[2]["config"] if checkpoint else None)
    validate(cfg)
    return run_folder, cfg, checkpoint


def _open_data(cfg):
    """(root, train set, val set), each checked: not empty, and its first sample readable."""
    root = cfg["data"] if cfg["data"] is not None else default_train_data()
    train_set = load_dataset(root, "train", cfg["subset"], cfg["seed"])
    val_set = load_dataset(root, "val", cfg["val_subset"], cfg["seed"])
    train_set[0], val_set[0]                    # a clear error now, not at the first evaluation
    return root, train_set, val_set


def smallest_side(*datasets):
    """The smallest image side in these datasets (read from the image headers, not decoded).

    An unreadable image is skipped here: the loader reports it, by name, where it is read."""
    from PIL import Image
    side = None
    for ds in datasets:
        for image_id in ds.ids:
            try:
                with Image.open(ds.image_path(image_id)) as im:
                    side = min(im.size) if side is None else min(side, *im.size)
            except (OSError, ValueError):
                continue
    return 1 if side is None else side


def _build_model(cfg, train_set, val_set):
    if not isinstance(cfg["model"], str):
        return cfg["model"]
    padding = cfg["conv1_1_padding"]
    if padding is None:     # as little as these images allow (FCN.smallest_padding)
        padding = model_class(cfg["model"]).smallest_padding(smallest_side(train_set, val_set),
                                                             cfg["fc6_padding"])
    model = get_model(cfg["model"], n_class=train_set.n_class,
                      base_channels=cfg["base_channels"], fc_channels=cfg["fc_channels"],
                      seed=cfg["seed"], class_names=list(train_set.class_names),
                      conv1_1_padding=padding, fc6_padding=cfg["fc6_padding"],
                      dropout=cfg["dropout"])
    if cfg["init"] is not None:
        source = io.load(cfg["init"])
        copy = model.copy_params_from(source)   # VGG16: convolutionize fc6/fc7; else 32s→16s→8s
        if getattr(copy, "reinitialized", None):        # a source with another class count
            print(f"--init {cfg['init']}: {copy.summary()}", file=sys.stderr)
        model.input_convention = getattr(source, "input_convention", model.input_convention)
    return model


def prepare(kwargs):
    """Everything before the first iteration, as the ``Trainer``'s arguments: settings, data,
    model, optimizer, run folder."""
    run_folder, cfg, checkpoint = _settings(kwargs)
    device = cfg["device"] or backend.default_device()
    backend.to_device(np.zeros(1), device)                     # a clear error if unavailable
    root, train_set, val_set = _open_data(cfg)
    model = checkpoint[0] if checkpoint else _build_model(cfg, train_set, val_set)
    if not checkpoint and train_set.class_colors is not None:
        model.class_colors = [list(c) for c in train_set.class_colors]  # predict draws them
    n_class = getattr(model, "n_class", train_set.n_class)
    if n_class != train_set.n_class:
        raise ValueError(f"the model predicts {n_class} classes but {root} has "
                         f"{train_set.n_class}")
    model.to(device)
    model.train()
    optimizer = get_optimizer(cfg["optimizer"], model.named_parameters(), **cfg)
    start, history = RunFolder.restore(checkpoint, model, optimizer) if checkpoint else (0, [])
    name = checkpoint[2]["config"]["model"] if checkpoint else _model_name(cfg["model"])
    config = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else name)
              for k, v in cfg.items()}
    config.update(out=run_folder.path, data=os.path.abspath(root), device=device, model=name,
                  resume=False, overwrite=False,
                  class_weights=_loss_weights(cfg, kwargs, checkpoint, train_set))
    if hasattr(model, "conv1_1_padding"):           # the padding chosen, when it was left None
        config["conv1_1_padding"] = model.conv1_1_padding
        config["fc6_padding"] = model.fc6_padding   # the model's own (a model object, a resume)
        config["dropout"] = model.drop6.p
    log_rows = run_folder.start(config, start, history, overwrite=cfg["overwrite"])
    return dict(model=model, optimizer=optimizer, cfg=config, run_folder=run_folder,
                train_set=train_set, val_set=val_set, start=start, history=history,
                log_rows=log_rows, last_good=start if checkpoint else None)


def _loss_weights(cfg, given, checkpoint, train_set):
    """The loss's class weights (a list, or None): computed once for a new run (median-frequency
    weights read every training label) and kept in config.json; a resumed run reuses its own
    unless --class-weight is given again."""
    if checkpoint and "class_weight" not in given:
        return checkpoint[2]["config"].get("class_weights")
    weights = class_weights(cfg["class_weight"], train_set)
    if weights is not None and "class_weight" in given:     # the default's are in config.json
        print("class weights: " + ", ".join(f"{n} {w:.3g}" for n, w in
                                            zip(train_set.class_names, weights)),
              file=sys.stderr)
    return weights
