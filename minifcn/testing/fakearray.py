"""The stand-in's device array and ufunc: NumPy inside, CuPy's refusals outside, every
operation counted (``counters.py``).

``ndarray`` holds a NumPy array (``_a``) and is not a subclass of ``numpy.ndarray``, so NumPy
code that meets it fails as it would with CuPy: ``np.asarray(x)`` raises CuPy's TypeError, NumPy
arrays are refused as operands and in assignments, and ``.get()``, ``float()``, ``.item()`` read
it back, each read counted as a transfer.
"""
import numpy as _np

from . import UndefinedOnGPUError as _Undefined
from .counters import record as _record
from .counters import record_op as _record_op

_NO_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
                "Please use `.get()` to construct a NumPy array explicitly.")
_SCALARS = (bool, int, float, complex, _np.generic)
HINT = " (CuPy accepts its own arrays and scalars here: move host data with cupy.asarray)"


MODULE = []        # the stand-in module (fakecupy), whose ufuncs the operators call; set there


def _module():
    return MODULE[0]


def _lookup(name):
    return getattr(_module(), name)


def unsupported(x):
    return TypeError(f"Unsupported type {type(x)}" + HINT)


def operand(x):
    """A ufunc operand: a device array (its NumPy data) or a scalar; host arrays are refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _SCALARS) and not isinstance(x, _np.ndarray):
        return x
    raise unsupported(x)


def arg(x):
    """Any other argument (shape, axes, pad widths…): unwrap device arrays, refuse NumPy ones."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        raise unsupported(x)
    if isinstance(x, (list, tuple)):
        return type(x)(arg(v) for v in x)
    return x


def wrap(r):
    """NumPy results become device arrays; scalars become 0-d arrays, as CuPy returns them."""
    if isinstance(r, _np.ndarray):
        return ndarray._of(r)
    if isinstance(r, (_np.generic, bool, int, float, complex)):
        return ndarray._of(_np.asarray(r))
    if isinstance(r, tuple):
        return tuple(wrap(v) for v in r)
    if isinstance(r, list):
        return [wrap(v) for v in r]
    return r


def count(kind, what, result=None, source=None):
    """Record one device operation, unless ``result`` is a view of ``source`` (no copy made)."""
    if result is not None and source is not None and _np.may_share_memory(result, source):
        return
    _record_op(kind, what)


def _is_fancy(k):
    return (isinstance(k, (ndarray, _np.ndarray, list))
            and _np.asarray(k._a if isinstance(k, ndarray) else k).dtype.kind in "iub")


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
        count("new", "ndarray")
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
        if method != "__call__" or uf.__name__ not in _module()._names.MODULE:
            return NotImplemented
        return _lookup(uf.__name__)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name not in _module()._names.MODULE:
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
    device = property(lambda self: _module().cuda.Device(0))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (ndarray._of(self._a[i, ...]) for i in range(len(self._a)))

    def __copy__(self):
        count("new", "copy")
        return ndarray._of(self._a.copy())

    def __deepcopy__(self, memo):
        count("new", "copy")
        return ndarray._of(self._a.copy())

    # --- indexing ------------------------------------------------------------------------------
    def __getitem__(self, key):
        k, fancy = _index(key)
        if any(isinstance(p, ndarray) and p.dtype == bool and p.ndim
               for p in (key if isinstance(key, tuple) else (key,))):
            _record("d2h", "boolean mask (CuPy reads its count back)", 8)
        try:
            r = self._a[k]
        except IndexError as e:
            if fancy and "out of bounds" in str(e):
                raise _Undefined(f"fancy index out of bounds ({e}): CuPy wraps such indices "
                                 f"around instead of raising") from e
            raise
        if fancy:
            count("new", "gather (fancy index)")
        return wrap(r)

    def __setitem__(self, key, value):
        if isinstance(value, _np.ndarray):
            raise TypeError(f"cannot assign a NumPy array to a device array (shape "
                            f"{value.shape}): move it with cupy.asarray first" + HINT)
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
        self._a[k] = value._a if isinstance(value, ndarray) else arg(value)
        count("copy", "assignment")

    def _unary(self, f, what):
        count("ufunc", what)
        return ndarray._of(f(self._a))

    def __neg__(self):
        return self._unary(_np.negative, "negative")

    def __pos__(self):
        return self._unary(_np.positive, "positive")

    def __abs__(self):
        return self._unary(_np.absolute, "absolute")

    def __invert__(self):
        return self._unary(_np.invert, "invert")


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

WRAPS = {"take", "take_along_axis", "choose"}      # CuPy wraps out-of-bounds indices
REDUCTIONS = {"all", "any", "argmax", "argmin", "max", "mean", "min", "prod", "std", "sum",
              "var", "trace", "cumsum", "cumprod"}
VIEWS = {"reshape", "transpose", "swapaxes", "squeeze", "ravel", "view", "diagonal", "astype"}


def _method(name):
    kind = "reduction" if name in REDUCTIONS else "copy" if name == "fill" else "new"

    def m(self, *args, **kwargs):
        out = kwargs.get("out")
        try:
            r = getattr(self._a, name)(*arg(args), **{k: arg(v) for k, v in kwargs.items()})
        except IndexError as e:
            if name in WRAPS and "out of bounds" in str(e):
                raise _Undefined(f"{name}: index out of bounds ({e}): CuPy wraps it") from e
            raise
        if name in VIEWS:
            count("copy", name, r, self._a)
        else:
            count(kind, name)
        return out if out is not None else wrap(r)
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
