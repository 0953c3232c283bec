"""The stand-in's two counters: transfers between host and device, and device operations.

A GPU program pays for two things that NumPy hides: copies between host and device memory, and
kernel launches. Each CuPy call that computes something (an elementwise ufunc, a reduction, a
copy, a matrix product, a new array) launches at least one kernel and costs the host roughly
10–20 µs whatever its size, so a step of a thousand small operations is slow on any GPU. The
stand-in (``fakecupy``) reports both here::

    with count_transfers() as t, count_device_ops() as ops:
        loss = crit(model(x), target)
    t.h2d, t.d2h        # host→device copies, device→host reads
    ops.n               # operations that would launch work on a GPU
    ops.by_site()       # how many came from each 'file:line' of the program

What counts as one operation: a ufunc call (``a + b``, ``xp.exp``, ``x *= 2``), a reduction
(``x.sum()``, ``x.max(axis=1)``), a copy or an assignment into a device array (``a[...] = b``,
``copyto``, ``ascontiguousarray`` of a strided view), a matrix product, and any function or method
that makes a new array (``zeros``, ``empty``, ``astype``, a fancy-index gather, a random draw).
Views cost nothing: slicing, ``reshape`` and ``transpose`` that need no copy, ``as_strided``.
A call is counted once even where CuPy runs it as a few kernels (``pad``, ``tensordot``), so the
count is a floor. Reading back to the host is a transfer, counted by ``count_transfers`` only.
"""
import collections
import contextlib
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_BACKEND = os.path.join(os.path.dirname(_HERE), "backend.py")


def _caller():
    """'file:line' of the innermost frame outside the stand-in and minifcn.backend: the line of
    the program that asked for the transfer or the operation."""
    f = sys._getframe(2)
    while f is not None and (os.path.dirname(os.path.abspath(f.f_code.co_filename)) == _HERE
                             or os.path.abspath(f.f_code.co_filename) == _BACKEND):
        f = f.f_back
    return "?" if f is None else f"{os.path.relpath(f.f_code.co_filename)}:{f.f_lineno}"


# --- transfers ------------------------------------------------------------------------------------
class Transfers:
    """Counts of host→device (``h2d``) and device→host (``d2h``) transfers, and a log of them:
    (kind, what, bytes, 'file:line' of the caller outside the stand-in)."""

    def __init__(self):
        self.h2d, self.d2h, self.log = 0, 0, []

    def record(self, kind, what, nbytes, where):
        setattr(self, kind, getattr(self, kind) + 1)
        self.log.append((kind, what, int(nbytes), where))

    def of(self, kind):
        """The log entries of one kind ('h2d' or 'd2h')."""
        return [e for e in self.log if e[0] == kind]

    def __repr__(self):
        return f"Transfers(h2d={self.h2d}, d2h={self.d2h})"


_transfer_recorders = []


def record(kind, what, nbytes):
    """Called by the stand-in for every transfer; feeds every open ``count_transfers`` block."""
    if _transfer_recorders:
        where = _caller()
        for r in _transfer_recorders:
            r.record(kind, what, nbytes, where)


@contextlib.contextmanager
def count_transfers():
    """``with count_transfers() as t:`` — ``t`` counts the stand-in's transfers in the block."""
    t = Transfers()
    _transfer_recorders.append(t)
    try:
        yield t
    finally:
        _transfer_recorders.remove(t)


# --- device operations ----------------------------------------------------------------------------
KINDS = ("ufunc", "reduction", "copy", "matmul", "new")


class DeviceOps:
    """The device operations of a block: ``n`` in all, and ``log`` entries (kind, what,
    'file:line'), kind one of ``KINDS``."""

    def __init__(self):
        self.n, self.log = 0, []

    def record(self, kind, what, where):
        self.n += 1
        self.log.append((kind, what, where))

    def by_site(self):
        """Counter {'file:line': operations}, most first."""
        return collections.Counter(e[2] for e in self.log)

    def by_kind(self):
        return collections.Counter(e[0] for e in self.log)

    def by_file(self):
        return collections.Counter(e[2].rsplit(":", 1)[0] for e in self.log)

    def __repr__(self):
        return f"DeviceOps(n={self.n})"


_op_recorders = []


def record_op(kind, what):
    """Called by the stand-in for every operation; feeds every open ``count_device_ops``.
    The stand-in computes on unwrapped NumPy arrays, so no operation runs inside another."""
    if _op_recorders:
        where = _caller()
        for r in _op_recorders:
            r.record(kind, what, where)


@contextlib.contextmanager
def count_device_ops():
    """``with count_device_ops() as ops:`` — ``ops`` counts the stand-in's device operations."""
    ops = DeviceOps()
    _op_recorders.append(ops)
    try:
        yield ops
    finally:
        _op_recorders.remove(ops)
