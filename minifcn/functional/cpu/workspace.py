"""The im2col buffer: bands of output rows within a byte budget, and one buffer reused by all.

A convolution's im2col matrix for a whole image can be huge: for conv1_2 of FCN on a 375×500
image it is 576 rows × 400k pixels (0.9 GB). So conv.py builds it a band of output rows at a
time, each band within ``CHUNK_BYTES``, in one flat buffer kept between calls.

A band is a trade. Too few columns and the GEMM runs poorly: OpenBLAS pays a thread
synchronisation and packs the weights on every call, and short products run below its peak.
Too many bytes and the band leaves the cache between im2col writing it and the GEMM reading it.
So a band holds what fits in ``CACHE_BYTES``, unless that is fewer than ``MIN_BAND_PIXELS``
output pixels (VGG16's widths: a row of windows there is over a MB), and never more than
``CHUNK_BYTES``, which caps the memory (bench/RESULTS.md, "Bands that stay in the cache").

Allocating a fresh buffer per band (or per call) costs a page fault and the kernel's zeroing for
each 4 KiB page on first touch — large blocks are mmap'ed and handed back to the OS on free —
which adds up to a large share of an FCN training step at VGG16's widths. So one buffer
per (library, dtype, device) is kept and grown when a layer needs more. Only one band is alive at
a time: no kernel holds the buffer while calling another kernel that uses it. For the same
reason the read-only constant vectors other kernels read (``constant``) are kept too.
"""
import numpy as np

from . import threads

CHUNK_BYTES = 128 * 2 ** 20
# Per thread (threads.py splits a band's copies between them): an eighth of a 32 MiB last-level
# cache, shared with the layer's input and output. The small FCN's layers (whole matrices of a
# few to tens of MB) ran faster in such bands than in one; on two threads, bands of 4 MiB in all
# ran slower than 8: the copies of a band that small are not split (MIN_ELEMENTS_PER_THREAD).
CACHE_BYTES = 4 * 2 ** 20
# Bands of VGG16-width layers cut to CACHE_BYTES (one or two rows, a few hundred pixels) made
# their GEMMs slower than the cache made them faster: 512 channels ran best from about 2000
# pixels on, while 128 channels lost speed from about 4000 on.
MIN_BAND_PIXELS = 2048
REUSE = True        # False: a fresh buffer per call (bench/bench_cpu_path.py measures the gain)

_BUFFERS = {}      # (library, dtype, device) → the flat buffer, kept between calls
_CONSTANTS = {}    # (value, dtype) → a read-only NumPy vector of that value, grown when needed


def rows_per_band(bytes_per_row, total_rows, row_pixels=1, chunk_bytes=None):
    """How many output rows (of ``row_pixels`` pixels and ``bytes_per_row`` bytes of windows
    each) a band takes: those that fit in CACHE_BYTES per thread, or MIN_BAND_PIXELS pixels'
    worth if that is more, and never more than fit in ``chunk_bytes`` (None: the module's
    CHUNK_BYTES, read at call time so that tests can shrink it); at least one, at most all."""
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    if not chunk_bytes:
        return total_rows
    cache_bytes = CACHE_BYTES * threads.num_threads()
    rows = max(cache_bytes // max(1, bytes_per_row), -(-MIN_BAND_PIXELS // max(1, row_pixels)))
    rows = min(rows, chunk_bytes // max(1, bytes_per_row))
    return max(1, min(total_rows, int(rows)))


def bands(n_rows, bytes_per_row, row_pixels=1, chunk_bytes=None):
    """(r0, r1) bands of output rows that cover [0, n_rows), each of ``rows_per_band`` rows."""
    step = rows_per_band(bytes_per_row, n_rows, row_pixels, chunk_bytes)
    for r0 in range(0, n_rows, step):
        yield r0, min(n_rows, r0 + step)


def band_buffer(xp, n_rows, bytes_per_row, dtype, device=None, row_pixels=1, chunk_bytes=None):
    """The flat buffer, large enough for the largest band of ``bands(n_rows, bytes_per_row,
    row_pixels)``."""
    itemsize = xp.dtype(dtype).itemsize
    size = rows_per_band(bytes_per_row, n_rows, row_pixels, chunk_bytes) * bytes_per_row // itemsize
    key = (xp.__name__, xp.dtype(dtype).str, str(device))
    buf = _BUFFERS.get(key)
    if not REUSE:
        return xp.empty(size, dtype=dtype)
    if buf is None or buf.size < size:
        _BUFFERS.pop(key, None)                      # free the old one before growing
        buf = _BUFFERS[key] = xp.empty(size, dtype=dtype)
    return buf


def view(buf, shape):
    """The first prod(shape) elements of a flat buffer, as a C-contiguous array of that shape."""
    size = 1
    for s in shape:
        size *= s
    return buf[:size].reshape(shape)


def constant(value, size, dtype):
    """A read-only NumPy vector of ``size`` elements equal to ``value``: the first ``size`` of
    one kept per (value, dtype) and grown when a caller needs more, because a fresh one per call
    would cost about what it serves (ReLU's block of zeros, the bias gradient's ones)."""
    key = (value, np.dtype(dtype))
    block = _CONSTANTS.get(key)
    if block is None or block.size < size:
        block = np.full(size, value, dtype=dtype)
        block.flags.writeable = False                 # shared by every later caller
        _CONSTANTS[key] = block
    return block[:size]
