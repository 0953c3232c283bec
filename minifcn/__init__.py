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


def _openblas_coretype(cpuinfo):
    """"ZEN" for an AMD Zen 4 (``cpu family`` 25 with AVX-512) in /proc/cpuinfo's text, else
    None. OpenBLAS gives Zen 4 its AVX-512 (SkylakeX) kernels, but Zen 4 runs AVX-512 as two
    256-bit halves, and OpenBLAS's AVX2 kernels for AMD (ZEN) ran every GEMM shape of the small
    FCN's convolutions faster there, on one thread and two (bench/RESULTS.md, "Issue 23, eighth
    round"). Zen 5 (family 26) has full-width AVX-512 and was never measured: left to OpenBLAS."""
    fields = {}
    for line in cpuinfo.split("\n\n", 1)[0].splitlines():       # the first processor's block
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    if (fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == "25"
            and "avx512f" in fields.get("flags", "").split()):
        return "ZEN"
    return None


def _set_openblas_environment():
    """Before NumPy loads OpenBLAS (it reads these once, at load; no effect when NumPy was
    imported before minifcn), and only where the user set nothing:

    - OPENBLAS_THREAD_TIMEOUT=10: BLAS's threads sleep at once after a GEMM instead of spinning
      ~0.1 s, so that the copies between GEMMs (im2col, col2im, pooling: functional/threads.py)
      get the cores;
    - OPENBLAS_CORETYPE: the kernels for this CPU where OpenBLAS's own choice is the slower one
      (``_openblas_coretype``).
    """
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "10")
    try:
        with open("/proc/cpuinfo") as f:
            coretype = _openblas_coretype(f.read())
    except OSError:                  # not Linux
        coretype = None
    if coretype is not None:
        _os.environ.setdefault("OPENBLAS_CORETYPE", coretype)


_set_openblas_environment()

from . import backend, functional, gradcheck, nn  # noqa: F401,E402
from . import data, deepjet, geometry, metrics, models, optim, plots  # noqa: F401,E402
from .backend import cuda_available, get_array_module, to_cpu, to_device  # noqa: F401,E402
from .evaluate import evaluate  # noqa: F401,E402
from .io import load, save  # noqa: F401,E402
from .predict import predict, predict_proba  # noqa: F401,E402
from .train import train  # noqa: F401,E402
