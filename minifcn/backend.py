"""NumPy or CuPy: the one module in minifcn that imports cupy.

Kernels never import this to pick a library; they ask their inputs, ``xp = get_array_module(x)``,
so the same lines run on both. This module is only for the places where the user *chooses* a
device: moving models and batches, and reading results back to the host.

The default device comes from the environment variable ``MINIFCN_DEVICE`` ('cpu' unless set), so
``MINIFCN_DEVICE=cuda pytest`` runs the whole suite on a GPU.

Without a GPU, ``MINIFCN_FAKE_CUPY=1`` puts a stand-in in CuPy's place
(``minifcn.testing.fakecupy``): NumPy underneath, CuPy's rules on top, transfers counted. Then
'cuda' runs every device code path on the CPU, and ``MINIFCN_FAKE_CUPY=1 MINIFCN_DEVICE=cuda
pytest`` checks them on every CI run.
"""
import os

import numpy as np



def fake_cupy_requested():
    """True when MINIFCN_FAKE_CUPY asks for the CuPy stand-in (any value but '', '0')."""
    return os.environ.get("MINIFCN_FAKE_CUPY", "").strip() not in ("", "0")


if fake_cupy_requested():
    from .testing import fakecupy as _cupy
else:
    try:  # CuPy is an optional extra: pip install minifcn[cuda12] (or [cuda13])
        import cupy as _cupy
    except Exception:  # ImportError, or a CuPy that finds no CUDA library at import time
        _cupy = None



def use_fake_cupy():
    """From now on, 'cuda' is minifcn's CuPy stand-in (what MINIFCN_FAKE_CUPY=1 does at import).

    For learning and testing without a GPU: NumPy on the CPU under CuPy's rules, with every
    transfer counted (``minifcn.testing.count_transfers``). Arrays already on a device stay as
    they are.
    """
    global _cupy
    from .testing import fakecupy
    _cupy = fakecupy


def using_fake_cupy():
    """True when 'cuda' is minifcn's CuPy stand-in rather than CuPy."""
    return _cupy is not None and _cupy.__name__ == "minifcn.testing.fakecupy"


DEVICES = ("cpu", "cuda")
INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. `pip install minifcn[cuda12]` "
    "(or `pip install minifcn[cuda13]`), on a machine with an NVIDIA GPU"
)


def cuda_available():
    """True when CuPy imports and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device
        return False


def _check_device(device):
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES}")
    if device == "cuda" and not cuda_available():
        reason = "CuPy is not installed" if _cupy is None else "CuPy sees no CUDA GPU"
        raise RuntimeError(f"device 'cuda' was asked for but {reason}: {INSTALL_HINT}")
    return device


def default_device():
    """The device named by MINIFCN_DEVICE ('cpu' when unset), checked."""
    return _check_device(os.environ.get("MINIFCN_DEVICE", "cpu").strip().lower() or "cpu")


def array_module(device):
    """The array library of ``device``: numpy for 'cpu', cupy (or its stand-in) for 'cuda'."""
    return _cupy if _check_device(device) == "cuda" else np


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy`` (Chainer's idiom)."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def is_cuda_array(x):
    return _cupy is not None and isinstance(x, _cupy.ndarray)


def device_of(x):
    """'cuda' for a CuPy array, 'cpu' otherwise."""
    return "cuda" if is_cuda_array(x) else "cpu"


def to_device(x, device=None):
    """Copy ``x`` to ``device`` ('cpu' or 'cuda'; None means the default device).

    Returns ``x`` itself when it already lives there.
    """
    device = _check_device(device) if device is not None else default_device()
    if device == "cpu":
        return to_cpu(x)
    if is_cuda_array(x):
        return x
    return _cupy.asarray(x)


def to_cpu(x):
    """A NumPy array with the contents of ``x`` (a device-to-host copy for CuPy arrays)."""
    if is_cuda_array(x):
        return _cupy.asnumpy(x)
    return np.asarray(x)


def synchronize(x=None):
    """Wait for queued GPU work (for timing); a no-op on the CPU."""
    if _cupy is not None and (x is None or is_cuda_array(x)) and cuda_available():
        _cupy.cuda.Device().synchronize()
