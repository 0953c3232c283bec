"""Everything ``minifcn.train`` does before its first iteration.

The arguments are checked and the configuration resolved once (``minifcn.config``: defaults,
then a resumed checkpoint's saved settings, then the arguments given); the run folder is chosen
(``minifcn.runfolder``); the data opened and checked; the model built (conv1_1 padded as little
as the images allow unless told otherwise, ``--init`` copied in), or restored with its optimizer
from the checkpoint; the loss's class weights computed once. ``setup_run`` hands all of it, as
a ``Run``, to ``minifcn.train``, which only loops.
"""
import os
import sys
from dataclasses import dataclass

import numpy as np

from . import backend, io
from .config import DEFAULTS, check_resume, resolve, validate
from .data import default_train_data, load_dataset
from .data.voc import unnamed_classes_note
from .data.weights import class_weights
from .evaluate import check_classes
from .models import model_class, model_key
from .optim import get_optimizer
from .runfolder import RunFolder


@dataclass
class Run:
    """What a training run starts from: its settings (``cfg``: the resolved configuration, as
    config.json holds it), its run folder, the model and its optimizer (restored on resume),
    the data, and where a resumed run stands (``start``: the checkpoint's iteration, else 0;
    ``history``: its evaluations; ``log_rows``: log.csv up to ``start``)."""
    cfg: dict
    folder: RunFolder
    model: object
    optimizer: object
    train_set: object
    val_set: object
    start: int = 0
    history: list = None
    log_rows: list = None
    resumed: bool = False


def _model_name(spec):
    """A model's name in the run's settings: the MODELS key of a name, or a model object's."""
    return model_key(spec if isinstance(spec, str) else type(spec).__name__)


def _settings(kwargs):
    """(run folder, settings, Checkpoint or None): the arguments checked, the run folder chosen,
    and the configuration resolved once (defaults, then a resumed checkpoint's, then these)."""
    validate(kwargs)
    name = _model_name(kwargs.get("model", DEFAULTS["model"]))
    run_folder = RunFolder.for_training(kwargs.get("out"), os.path.join("runs", name),
                                        kwargs.get("resume"), kwargs.get("overwrite"))
    run_folder.lock()                       # before the checkpoint is read: one run at a time
    try:
        return _resolved(kwargs, run_folder)
    except BaseException:
        run_folder.unlock(remove_folder=True)
        raise


def _resolved(kwargs, run_folder):
    """``_settings``' second half, in the locked folder: the checkpoint read, the settings
    resolved and checked against it."""
    checkpoint = run_folder.read_checkpoint() if kwargs.get("resume") else None
    if checkpoint:
        check_resume(kwargs, checkpoint.model, checkpoint.config, run_folder.checkpoint)
        if not kwargs.get("out"):
            print(f"resuming the run in {run_folder.path} (iteration {checkpoint.iteration})",
                  file=sys.stderr)
    cfg = resolve(kwargs, checkpoint.config if checkpoint else None)
    validate(cfg)
    if checkpoint and cfg["iterations"] < checkpoint.iteration:
        raise ValueError(f"resume: the run in {run_folder.path} is at iteration "
                         f"{checkpoint.iteration}, past --iterations {cfg['iterations']}; nothing "
                         f"was changed. Give --iterations above {checkpoint.iteration} to "
                         f"continue it")
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

    An unreadable image is skipped here: the loader reports it, by name, where it is read. An
    image over Pillow's size limit stops the run now, by name, rather than when it is drawn."""
    from .data.imagefile import ImageTooLarge, open_image
    side = None
    for ds in datasets:
        for image_id in ds.ids:
            try:
                with open_image(ds.image_path(image_id)) as im:
                    side = min(im.size) if side is None else min(side, *im.size)
            except ImageTooLarge:
                raise
            except (OSError, ValueError):
                continue
    return 1 if side is None else side


def _build_model(cfg, train_set, val_set):
    """The main job's network (``FCN.main_job``) in the run's settings, or the model object
    given; ``--init`` copied in."""
    if not isinstance(cfg["model"], str):
        return cfg["model"]
    padding = cfg["conv1_1_padding"]       # None: as little as these images allow
    model = model_class(cfg["model"]).main_job(
        train_set.n_class, cfg["base_channels"], cfg["fc_channels"],
        min_size=smallest_side(train_set, val_set) if padding is None else 1,
        conv1_1_padding=padding, fc6_padding=cfg["fc6_padding"], dropout=cfg["dropout"],
        seed=cfg["seed"], class_names=list(train_set.class_names))
    if cfg["init"] is not None:
        # VGG16: fc6/fc7 convolutionized; else 32s → 16s → 8s. The source's input convention
        # comes along (copy_params_from).
        try:
            copy = model.copy_params_from(io.load(cfg["init"]))
        except (ValueError, KeyError, TypeError) as e:
            widths = {k: model.config.get(k) for k in ("base_channels", "fc_channels")}
            raise ValueError(f"--init {cfg['init']}: {e.args[0] if e.args else e} (this run "
                             f"builds {type(model).__name__} with {widths}: give --base-channels "
                             f"and --fc-channels as the file's)") from None
        if copy.reinitialized:                          # a source with another class count
            print(f"--init {cfg['init']}: {copy.summary()}", file=sys.stderr)
    return model


def setup_run(kwargs):
    """Everything before the first iteration, as a ``Run``: settings, data, model, optimizer,
    run folder (locked for this process, which ``train`` unlocks at its end; written only after
    every check)."""
    folder, cfg, checkpoint = _settings(kwargs)
    try:
        return _setup(kwargs, folder, cfg, checkpoint)
    except BaseException:
        folder.unlock(remove_folder=True)
        raise


def _setup(kwargs, folder, cfg, checkpoint):
    device = cfg["device"] or backend.default_device()
    backend.to_device(np.zeros(1), device)                     # a clear error if unavailable
    root, train_set, val_set = _open_data(cfg)
    if not checkpoint:
        note = unnamed_classes_note(train_set)
        if note:
            print(note, file=sys.stderr)
    model = checkpoint.model if checkpoint else _build_model(cfg, train_set, val_set)
    if not checkpoint and train_set.class_colors is not None:
        model.class_colors = [list(c) for c in train_set.class_colors]  # predict draws them
    check_classes(model, train_set)        # a resumed model, or a model object, against --data
    model.to(device)
    model.train()
    optimizer = get_optimizer(cfg["optimizer"], model.named_parameters(), **cfg)
    if checkpoint:
        RunFolder.restore(checkpoint, model, optimizer)
    start, history = (checkpoint.iteration, checkpoint.history) if checkpoint else (0, [])
    config = _run_config(cfg, model, checkpoint, folder, root, device,
                         _loss_weights(cfg, kwargs, checkpoint, train_set))
    log_rows = folder.start(config, start, history, overwrite=cfg["overwrite"])
    return Run(config, folder, model, optimizer, train_set, val_set, start, history, log_rows,
               resumed=checkpoint is not None)


def _run_config(cfg, model, checkpoint, folder, root, device, class_weights):
    """The settings as config.json and the checkpoints keep them, patched here and only here:
    a model object by its name, paths made absolute, the device and the class weights chosen,
    and the model's own geometry (the conv1_1 padding chosen when it was left None; a model
    object's or a resumed model's fc6 padding and dropout)."""
    name = checkpoint.config["model"] if checkpoint else _model_name(cfg["model"])
    geometry = {}
    if hasattr(model, "conv1_1_padding"):
        geometry = dict(conv1_1_padding=model.conv1_1_padding, fc6_padding=model.fc6_padding,
                        dropout=model.drop6.p)
    plain = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else name)
             for k, v in cfg.items()}
    return {**plain, "out": folder.path, "data": os.path.abspath(root), "device": device,
            "model": name, "resume": False, "overwrite": False, "class_weights": class_weights,
            **geometry}


def _loss_weights(cfg, given, checkpoint, train_set):
    """The loss's class weights (a list, or None): computed once for a new run (median-frequency
    weights read every training label) and kept in config.json; a resumed run reuses its own
    unless --class-weight is given again."""
    if checkpoint and "class_weight" not in given:
        return checkpoint.config.get("class_weights")
    weights = class_weights(cfg["class_weight"], train_set)
    if weights is not None and "class_weight" in given:     # the default's are in config.json
        print("class weights: " + ", ".join(f"{n} {w:.3g}" for n, w in
                                            zip(train_set.class_names, weights)),
              file=sys.stderr)
    return weights
