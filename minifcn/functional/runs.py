"""Maps whose rows and columns come in runs of equal ones, and the convolution and pooling of them.

FCN pads conv1_1 by 100 (``models/fcn.py``). At 128×128 its output is 326×326, and only the
middle 130×130 windows see the image: every other output pixel is the bias alone. Row 0 of that
map equals row 1, …, row 97; so do the columns. The next 3×3 convolution maps three equal rows
to one more row equal to them, so its output has the same runs, two rows shorter (the rows at a
run's ends see its neighbours and differ). Pooling halves them. So the first blocks of the trunk
compute the same rows and columns over and over: at 128×128, conv2_2's 163×163 map has only
79×79 different pixels, conv3_3's 82×82 only 54×54.

Here a map is stored once per run: ``x`` (N, C, h, w) holds one row per run of rows and one
column per run of columns, and ``rows`` (h numbers) and ``cols`` (w numbers) say how many equal
rows and columns each stands for. The full map is ``expand_forward(x, rows, cols)``.

A stride-1 convolution of the stored map (``conv_runs``): take each stored row as often as the
kernel can see it at once, min(run, k) times, and a run of p ≥ k padding rows as k zeros.
Convolve that, without further padding: every output row is one window of the full map, and a
window that lies inside one run stands for the run's length − k + 1 equal output rows. So the
output is stored the same way, and the convolution computed exactly what the full one computes
at those windows (the same products, added in the same order).

Pooling (``pool_runs``) takes, for each distinct window, its k rows side by side, and pools
that with stride k: equal windows inside one run are pooled once. A window cut short by ceil
mode repeats its last row, which changes neither its maximum nor which pixel wins (the first
of equal maxima), and keeps the taken rows in order, as the backward's sums need.

The backward passes are the adjoints: the gradient of a taken row adds into the stored row it
was taken from (``take_backward``), and the gradient of the full map sums over each run
(``expand_backward``). A stored pixel's gradient is therefore the sum over the pixels it stands
for, which is what the weights' gradients need: they sum over every pixel of the full map, and
the pixels of one run saw the same window.
"""
import functools

from ..backend import get_array_module
from .sizes import pool_output_size


def is_plain(runs):
    """Whether every run is one row long: the map is stored as it is."""
    return all(n == 1 for n in runs)


@functools.lru_cache(maxsize=1024)
def conv_runs(runs, kernel, padding):
    """One axis of a stride-1, dilation-1 convolution with ``kernel`` taps and ``padding`` zeros
    on each side, of a map stored in ``runs`` (a tuple of run lengths).

    Returns (index, pad, out_runs): the stored rows to take, in order (a tuple; None: each
    once, as stored), the zero padding the convolution of the taken rows needs, and the runs of
    its output. A padding of p ≥ kernel is a run of zeros too: it shrinks to kernel rows.
    """
    k, p = kernel, padding
    segments = ([p] if p else []) + list(runs) + ([p] if p else [])
    owner = [s for s, n in enumerate(segments) for _ in range(min(n, k))]
    out_runs = tuple(segments[owner[t]] - k + 1 if owner[t] == owner[t + k - 1] else 1
                     for t in range(len(owner) - k + 1))
    index = tuple(i for i, n in enumerate(runs) for _ in range(min(n, k)))
    return (None if len(index) == len(runs) else index), min(p, k), out_runs


@functools.lru_cache(maxsize=1024)
def pool_runs(runs, kernel, ceil_mode):
    """One axis of a max pool with ``kernel`` = stride and no padding, of a map stored in
    ``runs``. Returns (index, out_runs): the stored rows to take, ``kernel`` per distinct window
    (None: the map is stored as it is, pool it as it is), and the runs of the output."""
    k, total = kernel, sum(runs)
    out_size = pool_output_size(total, k, k, 0, ceil_mode)
    if is_plain(runs):
        return None, (1,) * out_size
    stored = [i for i, n in enumerate(runs) for _ in range(n)]     # of each full row
    index, out_runs, previous = [], [], None
    for j in range(out_size):
        window = stored[j * k:min(j * k + k, total)]
        window += window[-1:] * (k - len(window))           # cut short by ceil mode
        if window == previous and len(set(window)) == 1:    # inside one run: one more of it
            out_runs[-1] += 1
            continue
        index += window
        out_runs.append(1)
        previous = window
    return tuple(index), tuple(out_runs)


# Copies of one row added one by one up to this many (a convolution takes at most k, a pool
# window repeats at most k), summed by one reduction beyond (an expanded run).
FEW_COPIES = 4


@functools.lru_cache(maxsize=1024)
def pieces(index):
    """A non-decreasing ``index`` (the rows to take, in order) as a few slices: (t, g, n, step),
    positions t … t + n − 1 take stored rows g, g + step, …: step 1 copies a block of rows, step 0
    repeats one. A take is then a few slice copies, not a gather row by row."""
    out, t = [], 0
    while t < len(index):
        g, n_same, n_next = index[t], 1, 1
        while t + n_same < len(index) and index[t + n_same] == g:
            n_same += 1
        while t + n_next < len(index) and index[t + n_next] == g + n_next:
            n_next += 1
        n, step = (n_same, 0) if n_same >= n_next else (n_next, 1)
        out.append((t, g, n, step))
        t += n
    return tuple(out)


def _along(axis, start, stop):
    """The index of [start, stop) on ``axis`` of a 4-d array."""
    return (slice(None),) * axis + (slice(start, stop),)


def _take_axis(x, index, axis):
    """x's rows ``index`` on ``axis``, slice by slice (``pieces``)."""
    xp = get_array_module(x)
    shape = list(x.shape)
    shape[axis] = len(index)
    out = xp.empty(shape, dtype=x.dtype)
    for t, g, n, step in pieces(index):
        out[_along(axis, t, t + n)] = x[_along(axis, g, g + (n if step else 1))]
    return out


def _sum_axis(d, index, axis, size):
    """The adjoint of ``_take_axis`` into a map ``size`` long: each taken row's gradient added
    into the row it was taken from; rows never taken (a pool without ceil mode drops the last
    row of an odd map) get zeros."""
    xp = get_array_module(d)
    shape = list(d.shape)
    shape[axis] = size
    out = xp.zeros(shape, dtype=d.dtype)
    for t, g, n, step in pieces(index):
        if step:
            out[_along(axis, g, g + n)] += d[_along(axis, t, t + n)]
        elif n <= FEW_COPIES:         # a reduction over a short axis costs more than its adds
            for j in range(t, t + n):
                out[_along(axis, g, g + 1)] += d[_along(axis, j, j + 1)]
        else:
            out[_along(axis, g, g + 1)] += d[_along(axis, t, t + n)].sum(axis=axis,
                                                                          keepdims=True)
    return out


def take_forward(x, rows_index, cols_index):
    """x (N, C, h, w) → its rows ``rows_index`` and columns ``cols_index`` (None: all, once)."""
    if rows_index is not None:
        x = _take_axis(x, rows_index, 2)
    if cols_index is not None:
        x = _take_axis(x, cols_index, 3)
    return x


def take_backward(dout, rows_index, cols_index, stored_hw):
    """The gradient of the stored (N, C, h, w) map, ``stored_hw`` = (h, w), from the gradient of
    what ``take_forward`` took: each copy's gradient added into the row (column) it came from."""
    if cols_index is not None:
        dout = _sum_axis(dout, cols_index, 3, stored_hw[1])
    if rows_index is not None:
        dout = _sum_axis(dout, rows_index, 2, stored_hw[0])
    return dout


@functools.lru_cache(maxsize=1024)
def _expanding(runs):
    """The take that expands ``runs``: stored row i, runs[i] times (None: each once)."""
    return None if is_plain(runs) else tuple(i for i, n in enumerate(runs) for _ in range(n))


def expand_forward(x, rows, cols):
    """The full map (N, C, Σ rows, Σ cols) of a map stored in runs."""
    return take_forward(x, _expanding(tuple(rows)), _expanding(tuple(cols)))


def expand_backward(dout, rows, cols):
    """The gradient of the stored map from the full map's: the sum over each run."""
    return take_backward(dout, _expanding(tuple(rows)), _expanding(tuple(cols)),
                         (len(rows), len(cols)))
