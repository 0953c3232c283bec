"""Shared fixtures: ``xp`` runs a test on NumPy and, where CuPy sees a GPU, on CuPy too."""
import numpy as np
import pytest

from minifcn import backend


def _cupy():
    if not backend.cuda_available():
        pytest.skip("CuPy with a CUDA GPU is not available")
    import cupy
    return cupy


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test: numpy, or cupy (skipped without a GPU)."""
    return np if request.param == "numpy" else _cupy()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
