"""Shared fixtures: ``xp`` runs a test on NumPy and, where CuPy sees a GPU, on CuPy too.

With ``MINIFCN_FAKE_CUPY=1`` "CuPy" is minifcn's stand-in (NumPy under CuPy's rules), so the
CuPy half of every ``xp`` test runs without a GPU too.
"""
import os

# The tests multiply many small matrices, where OpenBLAS's threads cost more than they bring
# (about 10× slower on a busy 2-core machine). Set before numpy is imported; an explicit
# setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from minifcn import backend  # noqa: E402


def pytest_report_header(config):
    lib = backend.array_module("cuda").__name__ if backend.cuda_available() else "none"
    return f"minifcn: default device {os.environ.get('MINIFCN_DEVICE', 'cpu')}, 'cuda' is {lib}"


def _cupy():
    if not backend.cuda_available():
        pytest.skip("CuPy with a CUDA GPU is not available")
    return backend.array_module("cuda")


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test: numpy, or cupy (skipped without a GPU)."""
    return np if request.param == "numpy" else _cupy()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def cuda_xp(monkeypatch):
    """The library behind device 'cuda': CuPy on a GPU, or minifcn's CuPy stand-in.

    Where the backend has neither (a plain run on a machine without a GPU), the stand-in is
    put in for the test, so device tests run in every pass.
    """
    if not backend.cuda_available():
        from minifcn.testing import fakecupy
        monkeypatch.setattr(backend, "_cupy", fakecupy)
    return backend.array_module("cuda")


@pytest.fixture
def fake_cp(monkeypatch):
    """minifcn's CuPy stand-in as the backend's 'cuda', in every pass (even on a GPU)."""
    from minifcn.testing import fakecupy
    monkeypatch.setattr(backend, "_cupy", fakecupy)
    return fakecupy
