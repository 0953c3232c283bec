"""ReLU's forward on the CPU: ``max(x, 0)`` against a block of zeros instead of the scalar 0.

NumPy's ``maximum`` has a SIMD loop for two contiguous arrays, but not for an array and a
scalar (a stride-0 operand): ``np.maximum(x, 0)`` runs several times slower than
``np.maximum(x, zeros)`` with ``zeros`` an array like x (``python bench/bench_relu.py``;
bench/RESULTS.md, "Issue 23, fifth round"). A zero array as large as the largest activation
would cost that much memory, so x is cut into flat chunks of ``CHUNK`` elements, each compared
with the same zero block. Each chunk is one NumPy call, whose overhead chunks of a few thousand
elements do not repay; 2¹⁸ also beat 2¹⁶ at VGG16's widths.

The result is bitwise the textbook's (the same ufunc, with the same operands in the same order,
NaN and −0.0 included), and so is the cache, the output: the textbook backward reads it.
"""
import numpy as np

from .. import activation as textbook
from .workspace import constant

CHUNK = 2 ** 18            # elements per call: a 1 MiB block of float32 zeros


def relu_forward(x, inplace=False):
    """out = max(x, 0), as ``functional.relu_forward``; the cache is the output. Anything but a
    contiguous float ndarray in native byte order (a scalar, a list, a strided view) takes the
    textbook's line, with its result types."""
    if not (type(x) is np.ndarray and x.flags.c_contiguous and x.dtype.kind == "f"
            and x.dtype.isnative):
        return textbook.relu_forward(x, inplace)
    out = x if inplace else np.empty_like(x)
    src, dst, zeros = x.reshape(-1), out.reshape(-1), constant(0, CHUNK, x.dtype)
    for i in range(0, src.size, CHUNK):
        j = min(src.size, i + CHUNK)
        np.maximum(src[i:j], zeros[:j - i], out=dst[i:j])
    return out, out
