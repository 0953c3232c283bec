"""A stand-in for CuPy that computes with NumPy on the CPU and enforces CuPy's rules.

``MINIFCN_FAKE_CUPY=1`` makes ``minifcn.backend`` use this module in place of ``cupy``, so
``device='cuda'`` runs every device code path without a GPU. It catches what goes wrong when
NumPy code meets CuPy, because its array is not a NumPy array:

- ``ndarray`` is its own class holding a NumPy array (``_a``), not a subclass of
  ``numpy.ndarray``. ``np.asarray(x)`` (and with it ``np.pad``'s old path, PIL, ``float(np…)``)
  raises CuPy's TypeError; ``.get()``, ``asnumpy`` and ``float()``/``int()``/``bool()``/
  ``.item()`` read it back, and each read is counted (``minifcn.testing.count_transfers``).
- NumPy arrays, lists and tuples as operands of its ufuncs and functions raise TypeError, as
  in CuPy; so do NumPy arrays assigned into it. Python and NumPy scalars are accepted.
- Only names that CuPy 14 has exist (``cupy_names.py``, generated from a CuPy wheel by
  ``gen_cupy_names.py``); any other name raises AttributeError, even where NumPy has it.
- Reductions return 0-d arrays, never Python or NumPy scalars. ``asarray`` of host data is
  counted as a host→device copy.
- Out-of-bounds fancy indices (CuPy wraps them around) and repeated indices in an assignment
  (the GPU keeps an arbitrary one) raise ``UndefinedOnGPUError``.

Everything else is NumPy itself, its random generator included, so a model computes bit for
bit the same numbers on 'cpu' and on this 'cuda': any difference is a code path that differs
between the devices. ``cuda.runtime``, ``cuda.Device`` and the memory pools are stubs
(``fakecuda.py``).
"""
import numpy as _np

from . import UndefinedOnGPUError as _Undefined
from . import cupy_names as _names
from . import record as _record
from .fakecuda import cuda, get_default_memory_pool, get_default_pinned_memory_pool  # noqa: F401

__version__ = _names.CUPY_VERSION + "+minifcn.fake"

_NO_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
                "Please use `.get()` to construct a NumPy array explicitly.")
_SCALARS = (bool, int, float, complex, _np.generic)
_HINT = " (CuPy accepts its own arrays and scalars here: move host data with cupy.asarray)"


def _lookup(name):
    """The module's own ``name`` (built on first use by the module's ``__getattr__``)."""
    return globals()[name] if name in globals() else __getattr__(name)


def _unsupported(x):
    return TypeError(f"Unsupported type {type(x)}" + _HINT)


def _operand(x):
    """A ufunc operand: a device array (its NumPy data) or a scalar; host arrays are refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _SCALARS) and not isinstance(x, _np.ndarray):
        return x
    raise _unsupported(x)


def _arg(x):
    """Any other argument (shape, axes, pad widths…): unwrap device arrays, refuse NumPy ones."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        raise _unsupported(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_arg(v) for v in x)
    return x


def _wrap(r):
    """NumPy results become device arrays; scalars become 0-d arrays, as CuPy returns them."""
    if isinstance(r, _np.ndarray):
        return ndarray._of(r)
    if isinstance(r, (_np.generic, bool, int, float, complex)):
        return ndarray._of(_np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_wrap(v) for v in r)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    return r


def _is_fancy(k):
    return (isinstance(k, (ndarray, _np.ndarray, list))
            and _np.asarray(k._a if isinstance(k, ndarray) else k).dtype.kind in "iu")


def _index(key):
    """A key for NumPy: device arrays unwrapped; host index arrays are copied over (counted)."""
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for k in parts:
        if isinstance(k, ndarray):
            k = k._a
        elif isinstance(k, (_np.ndarray, list)):
            k = _np.asarray(k)
            _record("h2d", "index array", k.nbytes)
        out.append(k)
    return tuple(out) if isinstance(key, tuple) else out[0], any(_is_fancy(k) for k in parts)


class ndarray:
    """A device array: a NumPy array that refuses to be used as one."""

    __slots__ = ("_a", "__weakref__")
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = _np.empty(shape, dtype, order=order)

    @classmethod
    def _of(cls, a):
        obj = cls.__new__(cls)
        obj._a = a
        return obj

    # --- what CuPy refuses, and what it counts ---------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(_NO_IMPLICIT)

    def __array_ufunc__(self, uf, method, *inputs, **kwargs):
        if method != "__call__" or uf.__name__ not in _names.MODULE:
            return NotImplemented
        return _lookup(uf.__name__)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name not in _names.MODULE:
            return NotImplemented                # NumPy then raises "no implementation found"
        return _lookup(name)(*args, **kwargs)

    def _read(self, what):
        _record("d2h", what, self._a.nbytes)
        return self._a

    def get(self, stream=None, order="C", out=None, blocking=True):
        a = _np.array(self._read("get"), order=order)
        if out is not None:
            out[...] = a
            return out
        return a

    def set(self, arr, stream=None):
        _record("h2d", "set", _np.asarray(arr).nbytes)
        self._a[...] = arr

    def item(self, *args):
        return self._read("item").item(*args)

    def tolist(self):
        return self._read("tolist").tolist()

    def tobytes(self, order="C"):
        return self._read("tobytes").tobytes(order)

    def __float__(self):
        return float(self._read("float"))

    def __int__(self):
        return int(self._read("int"))

    def __complex__(self):
        return complex(self._read("complex"))

    def __bool__(self):
        return bool(self._read("bool"))

    def __format__(self, spec):
        return format(self._read("format")[()] if self._a.ndim == 0 else self._a, spec)

    def __repr__(self):
        return repr(self._read("repr"))

    def __str__(self):
        return str(self._read("str"))

    def __reduce__(self):
        return _from_numpy, (self._read("pickle").copy(),)

    # --- attributes ----------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray._of(self._a.T))
    mT = property(lambda self: ndarray._of(self._a.mT))
    real = property(lambda self: ndarray._of(self._a.real))
    imag = property(lambda self: ndarray._of(self._a.imag))
    base = property(lambda self: None if self._a.base is None else ndarray._of(self._a.base))
    device = property(lambda self: cuda.Device(0))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (ndarray._of(self._a[i, ...]) for i in range(len(self._a)))

    def __copy__(self):
        return ndarray._of(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray._of(self._a.copy())

    # --- indexing ------------------------------------------------------------------------------
    def __getitem__(self, key):
        k, fancy = _index(key)
        if any(isinstance(p, ndarray) and p.dtype == bool and p.ndim
               for p in (key if isinstance(key, tuple) else (key,))):
            _record("d2h", "boolean mask (CuPy reads its count back)", 8)
        try:
            return _wrap(self._a[k])
        except IndexError as e:
            if fancy and "out of bounds" in str(e):
                raise _Undefined(f"fancy index out of bounds ({e}): CuPy wraps such indices "
                                 f"around instead of raising") from e
            raise

    def __setitem__(self, key, value):
        if isinstance(value, _np.ndarray):
            raise TypeError(f"cannot assign a NumPy array to a device array (shape "
                            f"{value.shape}): move it with cupy.asarray first" + _HINT)
        k, fancy = _index(key)
        if fancy:
            try:
                hit = _np.arange(self._a.size).reshape(self._a.shape)[k]
            except IndexError as e:
                raise _Undefined(f"fancy index out of bounds in an assignment ({e}): CuPy "
                                 f"wraps such indices around") from e
            if _np.unique(hit).size != hit.size:
                raise _Undefined("repeated indices in an assignment: on a GPU which of the "
                                 "values lands is undefined (use a scatter-add or unique indices)")
        self._a[k] = value._a if isinstance(value, ndarray) else _arg(value)

    def __neg__(self):
        return ndarray._of(-self._a)

    def __pos__(self):
        return ndarray._of(+self._a)

    def __abs__(self):
        return ndarray._of(abs(self._a))

    def __invert__(self):
        return ndarray._of(~self._a)


# --- arithmetic: every operator is the module's ufunc, with its operand checks --------------
def _binary(name, reflected=False):
    def op(self, other):
        f = _lookup(name)
        return f(other, self) if reflected else f(self, other)
    return op


def _inplace(name):
    def op(self, other):
        _lookup(name)(self, other, out=self)
        return self
    return op


for _op, _uf in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                 ("truediv", "true_divide"), ("floordiv", "floor_divide"), ("mod", "remainder"),
                 ("pow", "power"), ("matmul", "matmul"), ("and", "bitwise_and"),
                 ("or", "bitwise_or"), ("xor", "bitwise_xor"), ("lshift", "left_shift"),
                 ("rshift", "right_shift")]:
    setattr(ndarray, f"__{_op}__", _binary(_uf))
    setattr(ndarray, f"__r{_op}__", _binary(_uf, reflected=True))
    setattr(ndarray, f"__i{_op}__", _inplace(_uf))
for _op, _uf in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                 ("ge", "greater_equal"), ("eq", "equal"), ("ne", "not_equal")]:
    setattr(ndarray, f"__{_op}__", _binary(_uf))


def _method(name):
    def m(self, *args, **kwargs):
        out = kwargs.get("out")
        try:
            r = getattr(self._a, name)(*_arg(args), **{k: _arg(v) for k, v in kwargs.items()})
        except IndexError as e:
            if name in _WRAPS and "out of bounds" in str(e):
                raise _Undefined(f"{name}: index out of bounds ({e}): CuPy wraps it") from e
            raise
        return out if out is not None else _wrap(r)
    m.__name__ = name
    return m


# NumPy's methods under their own names, for those CuPy's ndarray has (checked by a test).
for _name in ("all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "clip",
              "compress", "conj", "conjugate", "copy", "cumprod", "cumsum", "diagonal", "dot",
              "fill", "flatten", "max", "mean", "min", "nonzero", "partition", "prod", "put",
              "ravel", "repeat", "reshape", "round", "searchsorted", "sort", "squeeze", "std",
              "sum", "swapaxes", "take", "trace", "transpose", "var", "view"):
    setattr(ndarray, _name, _method(_name))


def _from_numpy(a):
    return ndarray._of(a)


class ufunc:
    """A NumPy ufunc whose operands must be device arrays or scalars."""

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
        return out if out is not None else _wrap(r)

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims=False):
        return _wrap(self._f.reduce(_operand(a), axis, dtype, None, keepdims))

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"


# --- module functions -------------------------------------------------------------------------
def asarray(a, dtype=None, order=None, *, blocking=False):
    """Device arrays pass through (converted if dtype asks); host data is copied over (counted)."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == _np.dtype(dtype) else a.astype(dtype)
    host = _np.array(a, dtype=dtype, order=order or "K", copy=True)
    _record("h2d", "asarray", host.nbytes)
    return ndarray._of(host)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, ndarray):
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
_WRAPS = {"take", "take_along_axis", "choose"}      # CuPy wraps out-of-bounds indices


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
        try:
            r = f(*_function_args(name, args), **{k: _arg(v) for k, v in kwargs.items()})
        except IndexError as e:
            if name in _WRAPS and "out of bounds" in str(e):
                raise _Undefined(f"{name}: index out of bounds ({e}): CuPy wraps it") from e
            raise
        if name in _HOST:
            return r
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
        return lambda *a, **k: _wrap(f(*_arg(a), **{n: _arg(v) for n, v in k.items()}))


random = _RandomModule()


def is_available():
    return True
