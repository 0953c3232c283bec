"""minifcn: Fully Convolutional Networks for semantic segmentation, written by hand.

Every layer has an explicit forward and backward pass (no autograd); the same code runs on NumPy
and, through ``minifcn.backend``, on CuPy.

    minifcn.functional  pure kernels (forward/backward pairs) and their naive loop references
    minifcn.nn          layers with PyTorch's names; Module, Parameter, no_grad
    minifcn.gradcheck   numerical gradients: the proof that a backward is right
    minifcn.models      VGG16, FCN32s, FCN16s, FCN8s, FCN8sAtOnce
    minifcn.geometry    coordinate maps: where FCN's crop offsets come from
    minifcn.data        VOC / SBD / the offline shapes dataset, preprocessing, the VOC palette
    minifcn.metrics     pixel acc, mean acc, mean IU, f.w. IU; IU near boundaries
    minifcn.deepjet     an FCN's 1/32, 1/16, 1/8 stages at the image's size, scored and drawn
    minifcn.plots       figures: label maps with a class legend, shared colour scales, curves
    minifcn.optim       SGD as in the FCN recipe, and Adam (OPTIMIZERS)
    train, evaluate, predict, predict_proba, save, load
"""
__version__ = "0.1.0"

import os as _os

# Before NumPy loads OpenBLAS (it reads this once, at load): let BLAS's threads sleep at once
# after a GEMM instead of spinning ~0.1 s, so that the copies between GEMMs (im2col, col2im,
# pooling: functional/threads.py) get the cores. A value the user set wins. It has no effect
# when NumPy was imported before minifcn.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "10")

from . import backend, functional, gradcheck, nn  # noqa: F401,E402
from . import data, deepjet, geometry, metrics, models, optim, plots  # noqa: F401,E402
from .backend import cuda_available, get_array_module, to_cpu, to_device  # noqa: F401,E402
from .evaluate import evaluate  # noqa: F401,E402
from .io import load, save  # noqa: F401,E402
from .predict import predict, predict_proba  # noqa: F401,E402
from .train import train  # noqa: F401,E402
