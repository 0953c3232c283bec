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
``python -m minifcn convert`` (``minifcn.convert``). Every array's header (its dtype and shape)
is read first, from the archive, and checked against the bytes the archive holds for it: a
damaged file that claims a huge array is refused before anything is allocated. Weights that are
not finite (a run that diverged) are refused too, unless ``allow_nonfinite=True``.

Writing is atomic: the archive goes to a temporary file in the target's folder, is flushed to
disk, and replaces the target in one ``os.replace``; a crash leaves the old file or the new one,
never half of one.
"""
import json
import math
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


class WriteFailed(OSError):
    """A weights file could not be written (the message says what was kept)."""


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
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and not isinstance(e, WriteFailed):   # a full disk, …
            kept = ("the earlier file there is kept, whole" if os.path.exists(path) else
                    "nothing was written")
            raise WriteFailed(e.errno, f"could not write {path} "
                                       f"({os.strerror(e.errno) if e.errno else e}): "
                                       f"{kept}") from e
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


def _first_bytes(path, n=1):
    with open(path, "rb") as f:
        return f.read(n)


# The most a deflated member can expand (zlib's limit is about 1032:1); a member that claims more
# is damaged.
MAX_DEFLATE_RATIO = 1100


def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def _npy_header(f):
    """(shape, dtype) from the header of the .npy file open in ``f`` (nothing else read)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f".npy format version {version}, which minifcn never writes")
    return shape, dtype


def check_archive(path):
    """Read every array's header in the .npz archive ``path``, and no array: ValueError when an
    array claims more (or fewer) bytes than the archive holds for it, or holds Python objects.
    So a damaged header is refused before its array is allocated."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            key = info.filename.removesuffix(".npy")
            stored = info.compress_type == zipfile.ZIP_STORED
            if (info.file_size != info.compress_size if stored
                    else info.file_size > MAX_DEFLATE_RATIO * (info.compress_size + 1)):
                raise ValueError(f"the archive's entry for {key!r} claims "
                                 f"{_size(info.file_size)} in {_size(info.compress_size)}")
            with zf.open(info) as f:
                try:
                    shape, dtype = _npy_header(f)
                except ValueError as e:
                    raise ValueError(f"the header of {key!r} does not read ({e})") from None
                held = info.file_size - f.tell()
            if dtype.hasobject:
                raise _ObjectArray(f"{key!r} holds Python objects, which only unpickling (which "
                                   f"can run code) reads: refused")
            claimed = math.prod(shape) * dtype.itemsize
            if claimed != held:
                raise ValueError(f"its header says {key!r} is a {dtype} array of shape "
                                 f"{tuple(shape)} ({_size(claimed)}), but the file holds "
                                 f"{_size(held)} for it")


class _ObjectArray(ValueError):
    """An archive member that holds Python objects (it would need pickle)."""


def _read_arrays(path):
    """(header, {key: array}) of a weights file, read with np.load(allow_pickle=False), after
    ``check_archive`` has read every array's header."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no minifcn weights file at {path!r}")
    if zipfile.is_zipfile(path):
        try:
            check_archive(path)
        except _ObjectArray:
            raise _pickle_refused(path) from None
        except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise ValueError(f"{path!r} is damaged and was not loaded: {e}; use an earlier "
                             f"copy, or save it again") from None
    elif _first_bytes(path, 6) == b"\x93NUMPY":          # a bare .npy: its header only
        try:
            with open(path, "rb") as f:
                pickled = _npy_header(f)[1].hasobject
        except ValueError:
            pickled = False
        raise _pickle_refused(path) if pickled else _not_minifcn(path, "a single .npy array")
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
        if "object arrays" in str(e).lower() or _first_bytes(path) == b"\x80":
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


def read(path, device=None, classes=None, allow_nonfinite=False):
    """(model, extra, meta): the model rebuilt with its weights, the extra arrays (NumPy) and the
    caller's metadata, as given to ``save``. What a trainer needs to resume.

    ``classes``: {class name: class} for models of the caller's own (built as
    ``cls(**config)``), beside minifcn.models'. Only classes named here or in minifcn.models are
    ever built: the file names a class, it does not bring code. Weights that are not finite are
    a ValueError unless ``allow_nonfinite`` (for looking into a run that diverged)."""
    from .models import model_class
    header, arrays = _read_arrays(path)
    state = {k[len(PARAM_PREFIX):]: v for k, v in arrays.items() if k.startswith(PARAM_PREFIX)}
    if not allow_nonfinite:
        _check_finite(path, state)
    try:
        name = header["class"]
        cls = classes[name] if classes and name in classes else model_class(name)
        model = cls(**header["config"])
        model.to(dtype=np.dtype(header.get("dtype", "float32")))
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


def _check_finite(path, state):
    """ValueError naming the arrays of ``state`` that hold NaN or infinite values."""
    bad = []
    for name, value in state.items():
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            bad.append(f"{name} ({int(np.isnan(value).sum())} NaN, "
                       f"{int(np.isinf(value).sum())} infinite of {value.size})")
    if bad:
        more = f" and {len(bad) - 2} more" if len(bad) > 2 else ""
        raise ValueError(f"{os.fspath(path)!r} holds weights that are not finite: "
                         f"{', '.join(bad[:2])}{more}. A model that diverged predicts nothing "
                         f"useful; to look into it anyway, load it with allow_nonfinite=True "
                         f"(--allow-nonfinite)")


def load(path, device=None, classes=None, allow_nonfinite=False):
    """The model saved at ``path`` (weights loaded strictly), on ``device`` ('cpu'/'cuda';
    None keeps it on the host). ``classes``: the caller's own model classes, as for ``read``.
    ``allow_nonfinite``: load weights that hold NaN or Inf (refused otherwise)."""
    return read(path, device, classes, allow_nonfinite)[0]
