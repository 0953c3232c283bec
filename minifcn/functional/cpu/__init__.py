"""The CPU's fast path: the kernels of conv.py and pool.py (and ReLU's forward), tuned for NumPy
on a few cores.

Skip this package on a first reading: it computes what the textbook kernels compute (the tests
compare them, and both with the naive loops), with what pays off on a CPU and nowhere else:

- row bands of the im2col matrix in one reused buffer (``workspace.py``, ``bands.py``): the
  whole matrix of a VGG16-width layer would be gigabytes, and fresh buffers page-fault;
- copies split over channels between threads (``threads.py``): NumPy copies on one core (the
  shifted products' bands and the optimizers' flat update are split the same way);
- implicit padding: im2col writes the padding's zeros instead of copying a padded input (but a
  small input under a large kernel, fc6's, is padded and unfolded in one copy);
- the orientation of the weight-gradient GEMM that OpenBLAS runs fastest, and the bias
  gradient as a product with ones;
- a few-channel convolution as shifted matrix products, with no im2col (``shifted.py``);
- a wide 3×3 convolution by Winograd's F(2×2, 3×3), with fewer multiplications (``winograd.py``);
- max pooling one window offset at a time, over channel blocks in threads;
- ReLU against a block of zeros, which NumPy vectorizes, not the scalar 0 (``activation.py``).

The one door: ``door(textbook_kernel)`` returns the function ``minifcn.functional`` exports.
NumPy arrays take the fast version, device arrays the textbook one (a GPU wants few, large
operations, not bands and threads). A backward follows its forward: the fast forward's cache is
a ``FastCache``, unless the backward has no fast version (ReLU's): then the fast forward's
cache is the textbook's own, for the textbook backward.
``MINIFCN_CPU_FAST_PATH=0``, or ``with textbook_only():``, sends NumPy arrays through the
textbook kernels too.
"""
import contextlib
import functools
import os

import numpy as np

from ...backend import get_array_module
from . import activation, conv, pool

_disabled = [0]            # textbook_only() blocks open


class FastCache(tuple):
    """The cache of a fast-path forward: only the fast backward can read it."""


def enabled():
    """Whether NumPy arrays take this package's kernels now."""
    return not _disabled[0] and os.environ.get("MINIFCN_CPU_FAST_PATH", "1").strip() != "0"


@contextlib.contextmanager
def textbook_only():
    """Inside this block every array takes the textbook kernels (tests, lessons, benchmarks)."""
    _disabled[0] += 1
    try:
        yield
    finally:
        _disabled[0] -= 1


FAST = {"conv2d_forward": conv.conv2d_forward, "conv2d_backward": conv.conv2d_backward,
        "conv_transpose2d_forward": conv.conv_transpose2d_forward,
        "conv_transpose2d_backward": conv.conv_transpose2d_backward,
        "max_pool2d_forward": pool.max_pool2d_forward,
        "max_pool2d_backward": pool.max_pool2d_backward,
        "relu_forward": activation.relu_forward}


def door(textbook):
    """``textbook`` (a forward or a backward of conv.py or pool.py, or ReLU's forward), or for
    NumPy arrays its fast version here; a backward takes the path its forward's cache came from."""
    name = textbook.__name__          # FAST[name] is read at each call: benchmarks swap it
    tagged = name.replace("_forward", "_backward") in FAST     # else the textbook reads the cache

    if name.endswith("_backward"):
        @functools.wraps(textbook)
        def kernel(dout, cache, *args, **kwargs):
            if isinstance(cache, FastCache):
                return FAST[name](dout, tuple(cache), *args, **kwargs)
            return textbook(dout, cache, *args, **kwargs)
    else:
        @functools.wraps(textbook)
        def kernel(x, *args, **kwargs):
            if enabled() and get_array_module(x) is np:
                out, cache = FAST[name](x, *args, **kwargs)
                return out, FastCache(cache) if tagged else cache
            return textbook(x, *args, **kwargs)
    return kernel
