"""The im2col buffer: bands of output rows within a byte budget, and one buffer reused by all.

A convolution's im2col matrix for a whole image can be huge: for conv1_2 of FCN on a 375×500
image it is 576 rows × 400k pixels (0.9 GB). So conv.py builds it a band of output rows at a
time, each band within ``CHUNK_BYTES``, in one flat buffer kept between calls.

Small bands are slow at conv1_2 — OpenBLAS pays a thread synchronisation per GEMM call and
small-N products run poorly — so bands are large (bench/RESULTS.md, "Figures that were in code
comments").

Allocating a fresh buffer per band (or per call) costs a page fault and the kernel's zeroing for
each 4 KiB page on first touch — large blocks are mmap'ed and handed back to the OS on free —
which adds up to a large share of an FCN training step at VGG16's widths. So one buffer
per (library, dtype, device) is kept and grown when a layer needs more. Only one band is alive at
a time: no kernel holds the buffer while calling another kernel that uses it.
"""
CHUNK_BYTES = 128 * 2 ** 20
REUSE = True        # False: a fresh buffer per call (bench/bench_cpu_path.py measures the gain)

_BUFFERS = {}      # (library, dtype, device) → the flat buffer, kept between calls


def rows_per_band(bytes_per_row, total_rows, chunk_bytes=None):
    """How many output rows fit in ``chunk_bytes`` (None: the module's CHUNK_BYTES, read at
    call time so that tests can shrink it); at least one, at most all."""
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    if not chunk_bytes:
        return total_rows
    return max(1, min(total_rows, int(chunk_bytes // max(1, bytes_per_row))))


def bands(n_rows, bytes_per_row, chunk_bytes=None):
    """(r0, r1) bands of output rows that cover [0, n_rows), each within ``chunk_bytes``."""
    step = rows_per_band(bytes_per_row, n_rows, chunk_bytes)
    for r0 in range(0, n_rows, step):
        yield r0, min(n_rows, r0 + step)


def band_buffer(xp, n_rows, bytes_per_row, dtype, device=None, chunk_bytes=None):
    """The flat buffer, large enough for the largest band of ``bands(n_rows, bytes_per_row)``."""
    itemsize = xp.dtype(dtype).itemsize
    size = rows_per_band(bytes_per_row, n_rows, chunk_bytes) * bytes_per_row // itemsize
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
