"""Saving and loading models: one .npz file of plain arrays, never a pickle.

A minifcn weights file is a NumPy .npz archive (uncompressed, unless saved with
``compress=True`` as the shipped checkpoints in data/pretrained/ are; ``np.load`` reads both)
holding

    param/<name>     every parameter, e.g. ``param/conv1_1.weight`` (host arrays, model's dtype)
    extra/<name>     optional extra arrays (a trainer's momentum buffers, …)
    __minifcn__      a 0-d unicode array: JSON metadata (format, format_version, minifcn_version,
                     class, config = the constructor arguments, class_names, class_colors
                     (the dataset's (R, G, B) per class, or None: VOC's), input_convention,
                     dtype, meta = optional caller metadata such as the iteration)

so it is read with ``np.load(path, allow_pickle=False)``: loading a file cannot run code. Pickled
content (PyTorch .pth files, object arrays) is refused with a ValueError; convert .pth files with
``python -m minifcn convert`` (``minifcn.convert``).

Writing is atomic: the archive goes to a temporary file in the target's folder, is flushed to
disk, and replaces the target in one ``os.replace``; a crash leaves the old file or the new one,
never half of one.
"""
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from . import backend

FORMAT = "minifcn"
FORMAT_VERSION = 1
META_KEY = "__minifcn__"
PARAM_PREFIX = "param/"
EXTRA_PREFIX = "extra/"


def _version():
    from . import __version__
    return __version__


def _write_atomic(path, arrays, compress=False):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:                      # make the rename itself durable (POSIX; harmless to skip elsewhere)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def save(model, path, extra=None, meta=None, compress=False):
    """Write ``model``'s weights and what rebuilds it to ``path`` (used as given: no suffix is
    added). ``extra``: {name: array} stored as ``extra/<name>``; ``meta``: JSON-able metadata.
    ``compress``: deflate the archive (smaller, slower to write and read; for files to ship).
    Models on the GPU are copied to the host.
    """
    config = getattr(model, "config", None)
    if config is None:
        raise TypeError(f"save needs a minifcn model with a .config (one of minifcn.models), "
                        f"got {type(model).__name__}")
    header = dict(format=FORMAT, format_version=FORMAT_VERSION, minifcn_version=_version(),
                  **{"class": type(model).__name__}, config=config,
                  class_names=getattr(model, "class_names", None),
                  class_colors=getattr(model, "class_colors", None),
                  input_convention=getattr(model, "input_convention", None),
                  dtype=np.dtype(model.dtype).name, meta=meta if meta is not None else {})
    try:
        text = json.dumps(header)
    except TypeError as e:
        raise TypeError(f"save: metadata must be JSON-serialisable ({e})") from None
    arrays = {PARAM_PREFIX + name: backend.to_cpu(p.data) for name, p in model.named_parameters()}
    for name, value in (extra or {}).items():
        value = backend.to_cpu(value)
        if value.dtype == object:
            raise TypeError(f"save: extra[{name!r}] is an object array (it would need pickle)")
        arrays[EXTRA_PREFIX + name] = value
    arrays[META_KEY] = np.array(text)          # 0-d unicode array: no pickle needed
    _write_atomic(path, arrays, compress)


def _pickle_refused(path):
    return ValueError(f"refusing to load {path!r}: it holds pickled Python objects, and "
                      f"unpickling can run arbitrary code. minifcn files hold plain arrays; "
                      f"convert PyTorch/Chainer weights with `python -m minifcn convert`")


def _not_minifcn(path, why):
    return ValueError(f"{path!r} is not a minifcn weights file ({why}); for PyTorch or Chainer "
                      f"weights use `python -m minifcn convert`")


def _corrupt(path, e):
    return ValueError(f"{path!r} is truncated or corrupt ({e or type(e).__name__}): a file cut "
                      f"short (a full disk, a copy that stopped) cannot be read; use an earlier "
                      f"copy, or save it again")


def _first_byte(path):
    with open(path, "rb") as f:
        return f.read(1)


def _read_arrays(path):
    """(header, {key: array}) of a weights file, read with np.load(allow_pickle=False)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no minifcn weights file at {path!r}")
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files"):                 # a bare .npy array
            raise _not_minifcn(path, "a single .npy array")
        with data:
            if META_KEY not in data.files:
                raise _not_minifcn(path, f"no {META_KEY} metadata")
            arrays = {key: data[key] for key in data.files}
    except ValueError as e:
        if "minifcn weights file" in str(e):          # ours, from just above
            raise
        if "pickle" not in str(e).lower():             # an array that does not decode
            raise _corrupt(path, e) from None
        # NumPy's words for an object array, or for a file that is neither .npy nor .npz: only
        # call the latter a pickle when it starts like one (protocol ≥ 2 opens with 0x80).
        if "object arrays" in str(e).lower() or _first_byte(path) == b"\x80":
            raise _pickle_refused(path) from None
        raise _not_minifcn(path, "not a NumPy .npz archive") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:      # cut short, or damaged
        raise _corrupt(path, e) from None
    except OSError as e:                               # not a NumPy file at all
        raise _not_minifcn(path, e) from None
    try:
        header = json.loads(str(arrays.pop(META_KEY)))
    except ValueError as e:
        raise _not_minifcn(path, f"unreadable {META_KEY} metadata: {e}") from None
    if header.get("format") != FORMAT:
        raise _not_minifcn(path, f"format {header.get('format')!r}")
    if header.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {header['format_version']}; this minifcn "
                         f"({_version()}) reads up to {FORMAT_VERSION}: upgrade minifcn")
    return header, arrays


def read_metadata(path):
    """The JSON metadata of a weights file, as a dict (no model is built)."""
    return _read_arrays(path)[0]


def read(path, device=None, classes=None):
    """(model, extra, meta): the model rebuilt with its weights, the extra arrays (NumPy) and the
    caller's metadata, as given to ``save``. What a trainer needs to resume.

    ``classes``: {class name: class} for models of the caller's own (built as
    ``cls(**config)``), beside minifcn.models'. Only classes named here or in minifcn.models are
    ever built: the file names a class, it does not bring code."""
    from .models import model_class
    header, arrays = _read_arrays(path)
    try:
        name = header["class"]
        cls = classes[name] if classes and name in classes else model_class(name)
        model = cls(**header["config"])
        model.to(dtype=np.dtype(header.get("dtype", "float32")))
        state = {k[len(PARAM_PREFIX):]: v for k, v in arrays.items() if k.startswith(PARAM_PREFIX)}
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError) as e:          # a damaged or hand-edited header
        raise ValueError(f"{os.fspath(path)!r} does not hold a model minifcn can rebuild: "
                         f"{e}") from None
    if header.get("class_colors") is not None:    # the dataset's colours, for predict's PNGs
        model.class_colors = header["class_colors"]
    if device is not None:
        model.to(device)
    extra = {k[len(EXTRA_PREFIX):]: v for k, v in arrays.items() if k.startswith(EXTRA_PREFIX)}
    return model, extra, header.get("meta", {})


def load(path, device=None, classes=None):
    """The model saved at ``path`` (weights loaded strictly), on ``device`` ('cpu'/'cuda';
    None keeps it on the host). ``classes``: the caller's own model classes, as for ``read``."""
    return read(path, device, classes)[0]
