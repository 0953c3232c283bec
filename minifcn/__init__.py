"""minifcn: Fully Convolutional Networks for semantic segmentation, written by hand.

Every layer has an explicit forward and backward pass (no autograd), the same code runs on NumPy
and, through ``minifcn.backend``, on CuPy.
"""
__version__ = "0.1.0"

from . import backend, functional, gradcheck, nn  # noqa: F401
from .backend import cuda_available, get_array_module, to_cpu, to_device  # noqa: F401
