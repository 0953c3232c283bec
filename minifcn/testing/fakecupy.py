"""A stand-in for CuPy that computes with NumPy on the CPU and enforces CuPy's rules.

``MINIFCN_FAKE_CUPY=1`` makes ``minifcn.backend`` use this module in place of ``cupy``, so
``device='cuda'`` runs every device code path without a GPU. It catches what goes wrong when
NumPy code meets CuPy, because its array (``fakearray.ndarray``) is not a NumPy array:

- ``np.asarray(x)`` (and with it ``np.pad``'s old path, PIL, ``float(np…)``) raises CuPy's
  TypeError; ``.get()``, ``asnumpy`` and ``float()``/``int()``/``bool()``/``.item()`` read it
  back, and each read is counted (``minifcn.testing.count_transfers``).
- NumPy arrays, lists and tuples as operands of its ufuncs and functions raise TypeError, as
  in CuPy; so do NumPy arrays assigned into it. Python and NumPy scalars are accepted.
- Only names that CuPy 14 has exist (``cupy_names.py``, generated from a CuPy wheel by
  ``gen_cupy_names.py``); any other name raises AttributeError, even where NumPy has it.
  ``lib.stride_tricks.as_strided`` is CuPy's too (a submodule the generated list leaves out).
- Reductions return 0-d arrays, never Python or NumPy scalars. ``asarray`` of host data is
  counted as a host→device copy.
- Out-of-bounds fancy indices (CuPy wraps them around) and repeated indices in an assignment
  (the GPU keeps an arbitrary one) raise ``UndefinedOnGPUError``.
- Every operation that would launch work on a GPU is counted
  (``minifcn.testing.count_device_ops``; what counts is in ``counters.py``).

Everything else is NumPy itself, its random generator included, so a model computes bit for
bit the same numbers on 'cpu' and on this 'cuda': any difference is a code path that differs
between the devices. ``cuda.runtime``, ``cuda.Device`` and the memory pools are stubs
(``fakecuda.py``).
"""
import sys as _sys

import numpy as _np

from . import UndefinedOnGPUError as _Undefined
from . import cupy_names as _names
from .counters import record as _record
from .fakearray import HINT as _HINT
from .fakearray import arg as _arg
from .fakearray import count as _count
from . import fakearray as _fakearray
from .fakearray import ndarray
from .fakearray import operand as _operand
from .fakearray import unsupported as _unsupported
from .fakearray import WRAPS as _WRAPS
from .fakearray import wrap as _wrap
from .fakecuda import cuda, get_default_memory_pool, get_default_pinned_memory_pool  # noqa: F401

__version__ = _names.CUPY_VERSION + "+minifcn.fake"
_fakearray.MODULE.append(_sys.modules[__name__])     # the operators' ufuncs are ours


class ufunc:
    """A NumPy ufunc whose operands must be device arrays or scalars; one operation per call."""

    def __init__(self, f):
        self._f, self.__name__, self.nin, self.nout = f, f.__name__, f.nin, f.nout

    def __call__(self, *args, out=None, **kwargs):
        ins = [_operand(a) for a in args[:self.nin]]
        if len(args) > self.nin:
            out = args[self.nin]
        if isinstance(out, tuple) and len(out) == 1:       # as NumPy hands it to __array_ufunc__
            out = out[0]
        if out is not None and not isinstance(out, ndarray):
            raise TypeError(f"output must be a device array, got {type(out)}" + _HINT)
        r = self._f(*ins, out=None if out is None else out._a,
                    **{k: _arg(v) for k, v in kwargs.items()})
        _count("matmul" if self.__name__ == "matmul" else "ufunc", self.__name__)
        return out if out is not None else _wrap(r)

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims=False):
        r = self._f.reduce(_operand(a), axis, dtype, None, keepdims)
        _count("reduction", f"{self.__name__}.reduce")
        return _wrap(r)

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"


# --- module functions -------------------------------------------------------------------------
def asarray(a, dtype=None, order=None, *, blocking=False):
    """Device arrays pass through (converted if dtype asks); host data is copied over (counted)."""
    if isinstance(a, ndarray):
        if dtype is None or a.dtype == _np.dtype(dtype):
            return a
        _count("new", "asarray (dtype)")
        return ndarray._of(a._a.astype(dtype))
    host = _np.array(a, dtype=dtype, order=order or "K", copy=True)
    _record("h2d", "asarray", host.nbytes)
    return ndarray._of(host)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, ndarray):
        _count("new", "array")
        return ndarray._of(_np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    host = _np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin)
    _record("h2d", "array", host.nbytes)
    return ndarray._of(host)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if isinstance(a, ndarray):
        return a.get(stream, order, out)
    return _np.asarray(a, order=order)


def get_array_module(*args):
    import sys
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


# Creation routines take shapes (tuples are fine); sequence routines take a list of arrays.
_CREATION = {"zeros", "ones", "empty", "full", "eye", "identity", "arange", "linspace",
             "logspace", "indices", "tri"}
_SEQUENCE = {"stack", "concatenate", "concat", "vstack", "hstack", "dstack", "column_stack"}
# These answer questions about dtypes and shapes on the host and return host values.
_HOST = {"iinfo", "finfo", "result_type", "can_cast", "promote_types", "issubdtype", "isscalar",
         "ndim", "shape", "size", "min_scalar_type", "common_type", "binary_repr", "base_repr",
         "mintypecode", "typename", "broadcast_shapes", "get_printoptions", "set_printoptions",
         "printoptions"}
# Every positional argument of these is an array operand (CuPy runs them as ufuncs or kernels).
_OPERANDS = {"where", "copyto", "dot", "vdot", "inner", "outer", "kron", "cross",
             "take_along_axis", "allclose", "isclose", "array_equal", "clip"}
# Functions that return a view of their first argument where they can: no operation then.
_VIEWS = {"reshape", "transpose", "swapaxes", "squeeze", "expand_dims", "broadcast_to", "ravel",
          "moveaxis", "rollaxis", "atleast_1d", "atleast_2d", "atleast_3d", "flip", "fliplr",
          "flipud", "diagonal", "real", "imag", "ascontiguousarray", "asfortranarray",
          "asanyarray", "broadcast_arrays", "split", "array_split", "hsplit", "vsplit",
          "dsplit"}
_REDUCTIONS = {"sum", "max", "min", "amax", "amin", "mean", "any", "all", "argmax", "argmin",
               "prod", "count_nonzero", "array_equal", "allclose", "std", "var", "nanmax",
               "nanmin", "nansum", "cumsum", "cumprod", "average", "unique"}
_PRODUCTS = {"matmul", "dot", "vdot", "inner", "outer", "tensordot", "einsum", "kron"}


def _kind(name):
    if name in _REDUCTIONS:
        return "reduction"
    if name in _PRODUCTS:
        return "matmul"
    return "copy" if name in _SEQUENCE or name == "copyto" else "new"


def _function_args(name, args):
    """The positional arguments for NumPy, after CuPy's checks on the first one."""
    if name in _SEQUENCE:
        seq = args[0]
        if not isinstance(seq, (list, tuple)) or not all(isinstance(a, ndarray) for a in seq):
            kinds = [type(a) for a in seq] if isinstance(seq, (list, tuple)) else type(seq)
            raise TypeError(f"{name} expects a sequence of device arrays, got {kinds}" + _HINT)
        return ([a._a for a in seq],) + _arg(tuple(args[1:]))
    if name in _OPERANDS:
        return tuple(None if a is None else _operand(a) for a in args)
    if name not in _CREATION and name not in _HOST and args and isinstance(args[0], (list, tuple)):
        raise _unsupported(args[0])
    return _arg(tuple(args))


def _function(name, f):
    def call(*args, **kwargs):
        out = kwargs.get("out")
        np_args = _function_args(name, args)
        try:
            r = f(*np_args, **{k: _arg(v) for k, v in kwargs.items()})
        except IndexError as e:
            if name in _WRAPS and "out of bounds" in str(e):
                raise _Undefined(f"{name}: index out of bounds ({e}): CuPy wraps it") from e
            raise
        if name in _HOST:
            return r
        if name in _VIEWS and np_args and isinstance(np_args[0], _np.ndarray):
            first = r[0] if isinstance(r, (list, tuple)) and r else r
            _count("copy", name, first if isinstance(first, _np.ndarray) else None, np_args[0])
        else:
            _count(_kind(name), name)
        return out if out is not None and r is out._a else _wrap(r)
    call.__name__ = call.__qualname__ = name
    return call


_missing = object()


def __getattr__(name):
    """A CuPy name: NumPy's object, wrapped to keep to CuPy's rules; anything else is missing."""
    if name not in _names.MODULE:
        has = " (NumPy has it; CuPy does not)" if hasattr(_np, name) else ""
        raise AttributeError(f"module 'cupy' has no attribute {name!r}{has}")
    obj = getattr(_np, name, _missing)
    if obj is _missing:
        raise AttributeError(f"cupy.{name} exists in CuPy but minifcn's CuPy stand-in does not "
                             f"provide it")
    if isinstance(obj, _np.ufunc):
        obj = ufunc(obj)
    elif callable(obj) and not isinstance(obj, type):
        obj = _function(name, obj)
    globals()[name] = obj                 # types and constants (float32, inf, pi…) as they are
    return obj


def __dir__():
    return sorted(_names.MODULE)


# --- cupy.random: NumPy's generators, returning device arrays ----------------------------------
class _Generator:
    def __init__(self, rng):
        self._rng = rng

    def _draw(name):
        def draw(self, *args, **kwargs):
            _count("new", f"random.{name}")
            return _wrap(getattr(self._rng, name)(*_arg(args),
                                                  **{k: _arg(v) for k, v in kwargs.items()}))
        draw.__name__ = name
        return draw

    for _name in ("random", "integers", "standard_normal", "normal", "uniform",
                  "standard_exponential", "exponential", "gamma", "beta", "binomial", "poisson"):
        locals()[_name] = _draw(_name)
    del _name, _draw


class _RandomModule:
    __name__ = "cupy.random"

    def default_rng(self, seed=None):
        return _Generator(_np.random.default_rng(seed))

    def __getattr__(self, name):
        if name not in _names.RANDOM:
            raise AttributeError(f"module 'cupy.random' has no attribute {name!r}")
        f = getattr(_np.random, name)
        if not callable(f):
            return f

        def draw(*a, **k):
            _count("new", f"random.{name}")
            return _wrap(f(*_arg(a), **{n: _arg(v) for n, v in k.items()}))
        return draw


random = _RandomModule()


def is_available():
    return True


# --- cupy.lib.stride_tricks: a window view, no copy ----------------------------------------------
class _StrideTricks:
    __name__ = "cupy.lib.stride_tricks"

    @staticmethod
    def as_strided(x, shape=None, strides=None):
        """A view of device array ``x`` with the given shape and byte strides (CuPy's signature:
        no ``subok``, no ``writeable``)."""
        if not isinstance(x, ndarray):
            raise _unsupported(x)
        return ndarray._of(_np.lib.stride_tricks.as_strided(x._a, shape, strides))


class _Lib:
    __name__ = "cupy.lib"
    stride_tricks = _StrideTricks()


lib = _Lib()
