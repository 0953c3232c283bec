"""Converting published weights into minifcn files (the command line: ``minifcn convert SRC DST``).

Three sources:

- torchfcn / PyTorch FCN state dicts (``.pth``): the parameter names are already ours
  (``conv1_1.weight`` … ``upscore8.weight``); the arrays are copied as they are. torchfcn's
  training checkpoints (a dict with ``model_state_dict``) work too. Input convention 'caffe'
  (torchfcn feeds BGR, mean-subtracted 0–255 images).
- torchvision's ImageNet VGG16 (``features.0.weight`` … ``classifier.6.bias``) → ``VGG16`` with
  input convention 'torchvision' (RGB/255, normalised); with ``--model fcn32s`` etc. the FCN
  built from it (``FCN.from_vgg16``: fc6/fc7 convolutionized, fc8 dropped), which records
  'torchvision' too.
- the Chainer ``fcn`` package's ``*_from_caffe.npz`` (``conv1_1/W``, ``conv1_1/b``, ``fc6/W``,
  ``upscore2/W``): Chainer's Convolution2D W is (out, in, kh, kw) and Deconvolution2D W is
  (in, out, kh, kw), both as ours, fc6 is already a 7×7 convolution. Converted from Caffe:
  input convention 'caffe'.

Widths and classes are read from the shapes (``conv1_1`` gives base_channels, ``fc6`` fc_channels,
``score_fr`` n_class), the variant from the deconvolutions present (``upscore`` → FCN-32s,
``upscore16`` → FCN-16s, ``upscore8`` → FCN-8s; FCN-8s-at-once has the same parameters, choose it
with ``--model fcn8s-atonce``). torch is needed only to read ``.pth`` files, and is loaded with
``weights_only=True`` (no arbitrary unpickling).
"""
import os
import re
import warnings
import zipfile

import numpy as np

from . import io
from .models import FCN, MODELS, VGG16, get_model, model_key
from .models.vgg import VGG16_CONVS

SOURCES = ("auto", "torchfcn", "torchvision-vgg16", "chainer")
# torchvision's vgg16: features.<i> are the 13 convolutions (ReLUs and pools between them hold no
# parameters), classifier.0/3/6 the three Linear layers.
TORCHVISION_FEATURES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
TORCHVISION_CLASSIFIER = {0: "fc6", 3: "fc7", 6: "fc8"}


def load_torch_state_dict(path):
    """{name: NumPy array} from a PyTorch .pth state dict (or a torchfcn checkpoint)."""
    try:
        import torch
    except ImportError:
        raise ImportError("reading a PyTorch .pth file needs torch (only for this conversion): "
                          "pip install torch") from None
    with warnings.catch_warnings():    # torch's notes on pickle protocols: nothing to act on
        warnings.simplefilter("ignore", UserWarning)
        try:
            obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        except Exception as e:         # torch raises several types, with a page of advice
            raise ValueError(f"cannot convert {os.fspath(path)}: {_torch_reason(e)}") from None
    for key in ("model_state_dict", "state_dict"):       # torchfcn / common checkpoint layouts
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"{path!r} does not hold a state dict (got {type(obj).__name__})")
    state = {}
    for name, value in obj.items():
        if hasattr(value, "detach"):
            name = name[len("module."):] if name.startswith("module.") else name  # DataParallel
            state[name] = value.detach().cpu().numpy()
    return state


ANSI_CODE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _torch_reason(e):
    """Why torch.load refused a file, in one line, without its terminal colour codes."""
    text = ANSI_CODE.sub("", str(e))
    imported = re.search(r"unsupported GLOBAL ([\w.]+)", text)
    if imported:
        return (f"it is a pickle that would import {imported.group(1)} when loaded, which can "
                f"run any code; minifcn reads only tensors (torch.load with weights_only=True), "
                f"so it refused the file. Convert only weights from a source you trust")
    if "Weights only load failed" in text:
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)(\n\n|$)", text, re.S)
        why = " ".join(detail.group(1).split()) if detail else "not a plain state dict"
        return (f"PyTorch's safe loader (weights_only=True) cannot read it ({why}): not a "
                f"PyTorch weights file, or one that holds more than tensors")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else 'unreadable'} (not a PyTorch .pth file?)"


def _fcn_name(keys, model):
    if model is not None:
        return model_key(model)
    for deconv, name in (("upscore8.weight", "fcn8s"), ("upscore16.weight", "fcn16s"),
                         ("upscore.weight", "fcn32s")):
        if deconv in keys:
            return name
    raise ValueError("cannot tell the FCN variant: no upscore, upscore16 or upscore8 weights "
                     "(pass model='fcn32s' etc.)")


def _widths(state):
    try:
        return dict(base_channels=state["conv1_1.weight"].shape[0],
                    fc_channels=state["fc6.weight"].shape[0])
    except KeyError as e:
        raise ValueError(f"not VGG16/FCN weights: no {e.args[0]}") from None


def fcn_from_state_dict(state, model=None, input_convention="caffe"):
    """An FCN holding ``state`` (torchfcn's names, NumPy arrays); strict: every name must fit."""
    name = _fcn_name(state, model)
    if name == "vgg16" or name not in MODELS:
        raise ValueError(f"model must be one of the FCNs {tuple(MODELS)[:4]}, got {name!r}")
    fcn = get_model(name, n_class=int(state["score_fr.weight"].shape[0]),
                    input_convention=input_convention, **_widths(state))
    fcn.load_state_dict(state, strict=True)
    return fcn


def vgg16_from_torchvision(state, input_convention="torchvision"):
    """Our VGG16 from torchvision's state dict (``features.*``, ``classifier.*``)."""
    renamed = {}
    for i, conv in zip(TORCHVISION_FEATURES, VGG16_CONVS):
        for p in ("weight", "bias"):
            renamed[f"{conv}.{p}"] = state.get(f"features.{i}.{p}")
    for i, fc in TORCHVISION_CLASSIFIER.items():
        for p in ("weight", "bias"):
            renamed[f"{fc}.{p}"] = state.get(f"classifier.{i}.{p}")
    missing = sorted(k for k, v in renamed.items() if v is None)
    expected = {f"features.{i}.{p}" for i in TORCHVISION_FEATURES for p in ("weight", "bias")} | \
        {f"classifier.{i}.{p}" for i in TORCHVISION_CLASSIFIER for p in ("weight", "bias")}
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"not torchvision's vgg16 state dict (vgg16_bn and others are not "
                         f"supported): missing {missing}, unexpected {unexpected}")
    vgg = VGG16(n_class=int(renamed["fc8.weight"].shape[0]), input_convention=input_convention,
                **_widths(renamed))
    vgg.load_state_dict(renamed, strict=True)
    return vgg


def chainer_to_state_dict(arrays):
    """Chainer names (``conv1_1/W``, ``conv1_1/b``, possibly under a prefix such as
    ``predictor/`` or a trainer snapshot's ``updater/model:main/``) → ours. A deconvolution bias
    (old fcn releases had one) must be zero: ours have none."""
    state = {}
    for key, value in arrays.items():
        parts = key.strip("/").split("/")
        if len(parts) < 2 or parts[-1] not in ("W", "b"):
            continue                                    # optimizer state, iteration counters …
        layer, p = parts[-2], {"W": "weight", "b": "bias"}[parts[-1]]
        if layer.startswith("upscore") and p == "bias":
            if np.any(value != 0):
                raise ValueError(f"{key}: a nonzero deconvolution bias, which minifcn's "
                                 f"bias-free upscore layers cannot hold")
            continue
        state[f"{layer}.{p}"] = np.asarray(value)
    return state


def load_source(path, source="auto"):
    """(source kind, state dict of NumPy arrays) read from a .pth or Chainer .npz file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no weights file at {path!r}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: expected one of {SOURCES}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            ours = io.META_KEY + ".npy" in zf.namelist()
        if ours:
            meta = io.read_metadata(path).get("meta", {})
            kind = "a training run's checkpoint" if "optimizer" in meta else "a model file"
            raise ValueError(f"{path} is already minifcn's ({kind}): minifcn.load, eval, predict "
                             f"and --init read it as it is; there is nothing to convert")
    if source == "chainer" or (source == "auto" and path.endswith(".npz")):
        try:
            io.check_archive(path)
        except (ValueError, zipfile.BadZipFile) as e:
            raise ValueError(f"cannot convert {path}: {e}") from None
        with np.load(path, allow_pickle=False) as data:
            return "chainer", chainer_to_state_dict({k: data[k] for k in data.files})
    state = load_torch_state_dict(path)
    if source == "auto":
        source = "torchvision-vgg16" if "features.0.weight" in state else "torchfcn"
    return source, state


def convert(src, dst, source="auto", model=None, input_convention=None, n_class=21):
    """Read ``src``, build the minifcn model, ``io.save`` it to ``dst``; returns the model.

    ``model``: the FCN variant (needed only for 'fcn8s-atonce', or to build an FCN from
    torchvision's VGG16 with ``n_class`` classes). ``input_convention`` overrides the source's.
    """
    kind, state = load_source(src, source)
    if kind == "torchvision-vgg16":
        net = vgg16_from_torchvision(state, input_convention or "torchvision")
        if model is not None and model_key(model) != "vgg16":
            cls = MODELS.get(model_key(model))
            if cls is None or not issubclass(cls, FCN):
                raise ValueError(f"unknown FCN {model!r}: expected one of {tuple(MODELS)[:4]}")
            net = cls.from_vgg16(net, n_class=n_class)
    else:
        net = fcn_from_state_dict(state, model, input_convention or "caffe")
    io.save(net, dst, meta=dict(converted_from=os.path.basename(os.fspath(src)), source=kind))
    return net
