"""Testing helpers: a CuPy stand-in that runs the device path on the CPU, and its counters.

``MINIFCN_FAKE_CUPY=1`` makes ``minifcn.backend`` use ``minifcn.testing.fakecupy`` instead of
CuPy: then ``device='cuda'`` runs on NumPy, under CuPy's rules (no implicit conversion to NumPy,
no NumPy arrays mixed into device operations, only names CuPy has), and every transfer between
host and "device" is counted here::

    with count_transfers() as t:
        loss = crit(model(x), target)
    print(t.h2d, t.d2h, t.log)        # host→device copies, device→host reads, and where each was

Behaviour that a GPU does not share with NumPy (out-of-bounds fancy indices, which CuPy wraps
around; repeated indices in an assignment, where the GPU keeps an arbitrary one) raises
``UndefinedOnGPUError``.
"""
import contextlib
import os
import sys


class UndefinedOnGPUError(Exception):
    """The code relies on behaviour that CuPy on a GPU does not share with NumPy."""


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


_recorders = []
_HERE = os.path.dirname(os.path.abspath(__file__))
_BACKEND = os.path.join(os.path.dirname(_HERE), "backend.py")


def _caller():
    """'file:line' of the innermost frame outside the stand-in and minifcn.backend: the line of
    the program that asked for the transfer."""
    f = sys._getframe(2)
    while f is not None and (os.path.dirname(os.path.abspath(f.f_code.co_filename)) == _HERE
                             or os.path.abspath(f.f_code.co_filename) == _BACKEND):
        f = f.f_back
    return "?" if f is None else f"{os.path.relpath(f.f_code.co_filename)}:{f.f_lineno}"


def record(kind, what, nbytes):
    """Called by the stand-in for every transfer; feeds every open ``count_transfers`` block."""
    if _recorders:
        where = _caller()
        for r in _recorders:
            r.record(kind, what, nbytes, where)


@contextlib.contextmanager
def count_transfers():
    """``with count_transfers() as t:`` — ``t`` counts the stand-in's transfers in the block."""
    t = Transfers()
    _recorders.append(t)
    try:
        yield t
    finally:
        _recorders.remove(t)
