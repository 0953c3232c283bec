"""RunMap: a feature map stored once per run of equal rows and columns, through FCN's trunk.

FCN's conv1_1 pads by 100, so most of the trunk's first maps repeat the same rows and columns
(``functional/runs.py`` says why, and how a convolution or a pool of such a map is computed on
the distinct rows only). ``FCN.score_fr_forward`` hands the trunk ``RunMap.of(image)``: Conv2d,
ReLU and MaxPool2d take a RunMap and give one back (the functions below), so the blocks read as
before. A pool returns the full map, as an array, unless it may keep the runs
(``MaxPool2d.keep_runs``, set by the FCN on the pools before its first skip: the skips and
fc6 take arrays) and they still pay (``MAX_STORED``). Where the padding
makes no runs, as in the main job's geometry, every run is one row long and nothing is taken
or expanded.

The backward passes take and return arrays: the gradient of a RunMap is an array of its stored
shape, each pixel the sum of the gradients of the pixels it stands for. The caches (``Taken``)
say what was taken, so that each layer's backward stays the mirror of its forward.

The runs are the CPU's, behind the same door as its fast kernels (``functional/cpu``):
``RunMap.of`` hands the map back as it is for a device array (on a GPU the takes and sums would
be more, smaller operations, which is what costs there) and where the CPU takes the textbook
kernels (``MINIFCN_CPU_FAST_PATH=0``, ``textbook_only()``), so that the textbook path computes
every pixel, as the paper's network does, and agrees with the device bit for bit.
``ENABLED = False`` turns the runs off alone (bench/bench_cpu_path.py measures what they buy).
"""
from typing import NamedTuple, Optional

import numpy as np

from .. import functional as F
from ..functional import cpu
from ..functional import runs as R
from ..functional.sizes import pair

ENABLED = True
# A pool keeps its output in runs while the stored map is at most this fraction of the full one;
# beyond, the takes before each convolution would cost about what the smaller maps save.
# Keeping pool2's 53–55% made steps faster at VGG16's widths and at the small FCN's
# (bench/RESULTS.md, "Issue 23, ninth round").
MAX_STORED = 0.8


class RunMap:
    """``data`` (N, C, h, w), one row per run of ``rows`` (h lengths) and one column per run of
    ``cols``; it stands for the (N, C, Σ rows, Σ cols) map ``dense()``."""

    def __init__(self, data, rows, cols):
        self.data, self.rows, self.cols = data, tuple(rows), tuple(cols)

    @classmethod
    def of(cls, x):
        """x (N, C, H, W) as a RunMap of runs one row long, if runs are on, x is a NumPy array
        and the CPU takes its fast kernels; else x itself."""
        if not (ENABLED and isinstance(x, np.ndarray) and x.ndim == 4 and cpu.enabled()):
            return x
        return cls(x, (1,) * x.shape[2], (1,) * x.shape[3])

    @property
    def shape(self):
        """The full map's shape."""
        return (*self.data.shape[:2], sum(self.rows), sum(self.cols))

    def stored_fraction(self):
        """The stored pixels over the full map's."""
        return self.data.shape[2] * self.data.shape[3] / (sum(self.rows) * sum(self.cols))

    def dense(self):
        """The full map, an array (``data`` itself where every run is one row long)."""
        return R.expand_forward(self.data, self.rows, self.cols)

    def apply(self, fn):
        """fn applied to the stored pixels: right for an elementwise fn (a ReLU)."""
        return RunMap(fn(self.data), self.rows, self.cols)

    def __repr__(self):
        return f"RunMap(stored {tuple(self.data.shape)}, full {self.shape})"


class Taken(NamedTuple):
    """A layer's cache when its input was a RunMap: the kernel's cache, the stored rows and
    columns it took (None: all, once), the stored input's (h, w), and for a pool that expanded
    its output, that output's runs."""
    cache: object
    rows: Optional[tuple]
    cols: Optional[tuple]
    stored_hw: tuple
    expanded: Optional[tuple] = None


def conv2d_forward(layer, x):
    """``layer`` (a Conv2d, stride 1, dilation 1) applied to the RunMap x → a RunMap."""
    if layer.stride != (1, 1) or layer.dilation != (1, 1):
        raise NotImplementedError(f"a RunMap goes only through stride-1, dilation-1 "
                                  f"convolutions, not {layer!r}: pass x.dense()")
    (kh, kw), (ph, pw) = layer.kernel_size, layer.padding
    rows_index, pad_h, rows = R.conv_runs(x.rows, kh, ph)
    cols_index, pad_w, cols = R.conv_runs(x.cols, kw, pw)
    b = layer.bias.data if layer.bias is not None else None
    out, cache = F.conv2d_forward(R.take_forward(x.data, rows_index, cols_index),
                                  layer.weight.data, b, 1, (pad_h, pad_w))
    layer.save_cache(Taken(cache, rows_index, cols_index, x.data.shape[2:]))
    return RunMap(out, rows, cols)


def conv2d_backward(layer, dout, taken):
    """The mirror of ``conv2d_forward``: (dx of the stored map or None), and the layer's
    gradients accumulated."""
    dx, dw, db = F.conv2d_backward(dout, taken.cache, need_dx=layer.need_input_grad,
                                   need_dw=layer.weight.requires_grad)
    layer.accumulate_grads(dw, db)
    return None if dx is None else R.take_backward(dx, taken.rows, taken.cols, taken.stored_hw)


def max_pool2d_forward(layer, x):
    """``layer`` (a MaxPool2d, kernel = stride, no padding) applied to the RunMap x → a RunMap,
    or the full map where the layer may not keep runs or they no longer pay."""
    (kh, kw), stride, padding = pair(layer.kernel_size), pair(layer.stride), pair(layer.padding)
    if not (kh == kw and stride == (kh, kw) and padding == (0, 0)):
        raise NotImplementedError(f"a RunMap goes only through square pools whose stride is "
                                  f"their kernel, without padding, not {layer!r}: pass "
                                  f"x.dense()")
    k = kh
    rows_index, rows = R.pool_runs(x.rows, k, layer.ceil_mode)
    cols_index, cols = R.pool_runs(x.cols, k, layer.ceil_mode)
    out, cache = F.max_pool2d_forward(R.take_forward(x.data, rows_index, cols_index), k, k, 0,
                                      layer.ceil_mode)
    out = RunMap(out, rows, cols)
    keep = layer.keep_runs and out.stored_fraction() <= MAX_STORED
    layer.save_cache(Taken(cache, rows_index, cols_index, x.data.shape[2:],
                           None if keep else (rows, cols)))
    return out if keep else out.dense()


def max_pool2d_backward(dout, taken):
    """The mirror of ``max_pool2d_forward``: dx of the stored input map."""
    if taken.expanded is not None:
        dout = R.expand_backward(dout, *taken.expanded)
    return R.take_backward(F.max_pool2d_backward(dout, taken.cache), taken.rows, taken.cols,
                           taken.stored_hw)
