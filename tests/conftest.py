"""Shared fixtures: ``xp`` runs a test on NumPy and, where CuPy sees a GPU, on CuPy too."""
import os

# The tests multiply many small matrices, where OpenBLAS's threads cost more than they bring
# (about 10× slower on a busy 2-core machine). Set before numpy is imported; an explicit
# setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from minifcn import backend  # noqa: E402


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
