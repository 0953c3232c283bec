"""The CUDA side of minifcn's CuPy stand-in: one device, nothing asynchronous, no memory pool.

``fakecupy`` exposes these as ``cuda``, ``get_default_memory_pool`` and
``get_default_pinned_memory_pool``: what minifcn.backend and the benchmarks touch
(``cuda.runtime.getDeviceCount``, ``cuda.Device().synchronize``, the pool's byte counts).
"""


class _Runtime:
    @staticmethod
    def getDeviceCount():
        return 1

    @staticmethod
    def getDeviceProperties(device):
        return {"name": b"minifcn CuPy stand-in (NumPy on the CPU)", "totalGlobalMem": 0}

    @staticmethod
    def deviceSynchronize():
        pass

    @staticmethod
    def runtimeGetVersion():
        return 0

    @staticmethod
    def driverGetVersion():
        return 0


class _Device:
    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    def synchronize(self):
        pass

    def use(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class _MemoryPool:
    """The stand-in holds no device memory of its own: every figure is 0."""

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_bytes(self):
        return 0

    def n_free_blocks(self):
        return 0

    def free_all_blocks(self, stream=None):
        pass

    def set_limit(self, size=None, fraction=None):
        pass

    def get_limit(self):
        return 0


class _Cuda:
    __name__ = "cupy.cuda"
    runtime = _Runtime()
    Device = _Device

    @staticmethod
    def is_available():
        return True


cuda = _Cuda()
_POOL, _PINNED_POOL = _MemoryPool(), _MemoryPool()


def get_default_memory_pool():
    return _POOL


def get_default_pinned_memory_pool():
    return _PINNED_POOL
