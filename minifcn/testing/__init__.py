"""Testing helpers: a CuPy stand-in that runs the device path on the CPU, and its counters.

``MINIFCN_FAKE_CUPY=1`` makes ``minifcn.backend`` use ``minifcn.testing.fakecupy`` instead of
CuPy: then ``device='cuda'`` runs on NumPy, under CuPy's rules (no implicit conversion to NumPy,
no NumPy arrays mixed into device operations, only names CuPy has), and the stand-in counts what
a GPU would pay for (``counters.py``)::

    with count_transfers() as t, count_device_ops() as ops:
        loss = crit(model(x), target)
    print(t.h2d, t.d2h, ops.n)        # host→device copies, device→host reads, GPU operations
    print(ops.by_site().most_common(5))

The stand-in is three files: ``fakearray.py`` (the array and the ufunc wrapper),
``fakecupy.py`` (the module's functions) and ``counters.py``; ``fakecuda.py`` stubs ``cupy.cuda``.

Behaviour that a GPU does not share with NumPy (out-of-bounds fancy indices, which CuPy wraps
around; repeated indices in an assignment, where the GPU keeps an arbitrary one) raises
``UndefinedOnGPUError``.
"""


class UndefinedOnGPUError(Exception):
    """The code relies on behaviour that CuPy on a GPU does not share with NumPy."""


from .counters import (DeviceOps, Transfers, count_device_ops, count_transfers,  # noqa: E402
                       record)

__all__ = ["UndefinedOnGPUError", "Transfers", "DeviceOps", "count_transfers",
           "count_device_ops", "record"]
