"""The small layers: MaxPool2d, ReLU, Dropout, Linear, Flatten, Crop, Scale, Identity."""
import numpy as np

from .. import functional as F
from ..functional.sizes import pair
from . import init, runs
from .module import Module, Parameter


class MaxPool2d(Module):
    """Max pooling; ``ceil_mode=True`` is Caffe's (and FCN's) rounding. ``keep_runs``: given a
    RunMap (nn/runs.py), it may return one; else it returns the full map, an array."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.keep_runs = False

    def forward(self, x):
        if isinstance(x, runs.RunMap):
            return runs.max_pool2d_forward(self, x)
        out, cache = F.max_pool2d_forward(x, self.kernel_size, self.stride, self.padding,
                                          self.ceil_mode)
        self.save_cache(cache)
        return out

    def backward(self, dout):
        cache = self.pop_cache()
        if isinstance(cache, runs.Taken):
            return runs.max_pool2d_backward(dout, cache)
        return F.max_pool2d_backward(dout, cache)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"ceil_mode={self.ceil_mode}")


class ReLU(Module):
    """max(x, 0). ``inplace=True`` overwrites its input, as in PyTorch: use it only where
    nothing else holds that input (after a convolution, whose cache is its own input)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        if isinstance(x, runs.RunMap):           # elementwise: on the stored pixels
            return x.apply(self.forward)
        out, cache = F.relu_forward(x, inplace=self.inplace)
        self.save_cache(cache)
        return out

    def backward(self, dout):
        return F.relu_backward(dout, self.pop_cache())

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Dropout(Module):
    """Inverted dropout with probability p; the identity in eval mode.

    Masks come from (seed, step): ``step`` counts training forward passes, so the sequence of
    masks is reproducible and a resumed run continues it exactly.
    """

    def __init__(self, p=0.5, seed=0):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.seed, self.step = p, seed, 0

    def forward(self, x):
        out, cache = F.dropout_forward(x, self.p, self.seed, self.step, self.training)
        if self.training:
            self.step += 1
        self.save_cache(cache)            # the mask; None where nothing is dropped
        return out

    def backward(self, dout):
        if self.cache is None:            # eval mode or p = 0: the identity, both ways
            return dout
        return F.dropout_backward(dout, self.pop_cache())

    def extra_repr(self):
        return f"p={self.p}"


class Linear(Module):
    """y = x Wᵀ + b; weight (out_features, in_features) as in PyTorch."""

    def __init__(self, in_features, out_features, bias=True, seed=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = np.random.default_rng(seed)
        self.weight = Parameter(init.uniform(rng, (out_features, in_features), in_features, dtype))
        self.bias = (Parameter(init.uniform(rng, (out_features,), in_features, dtype))
                     if bias else None)

    def forward(self, x):
        b = self.bias.data if self.bias is not None else None
        out, cache = F.linear_forward(x, self.weight.data, b)
        self.save_cache(cache)
        return out

    def backward(self, dout):
        dx, dw, db = F.linear_backward(dout, self.pop_cache())
        self.accumulate_grads(dw, db)
        return dx

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Flatten(Module):
    """(N, C, H, W) → (N, C·H·W), in the C, H, W order that ``convolutionize`` assumes."""

    def forward(self, x):
        self.save_cache(x.shape)
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.pop_cache())


class Crop(Module):
    """Caffe's Crop: the window of ``like``'s height and width starting at ``offset``.

    ``forward(x, like)`` takes the reference map (or its shape); ``offset`` is an int or (oy, ox).
    ``fill``: a window that reaches past x's edges is filled with zeros there (an error without).
    """

    def __init__(self, offset, fill=False):
        super().__init__()
        self.offset, self.fill = pair(offset), bool(fill)

    def forward(self, x, like):
        size = tuple(like.shape[2:]) if hasattr(like, "shape") else tuple(like[-2:])
        out, cache = F.crop_forward(x, size, self.offset, self.fill)
        self.save_cache(cache)
        return out

    def backward(self, dout):
        return F.crop_backward(dout, self.pop_cache())

    def extra_repr(self):
        return f"offset={self.offset}" + (", fill=True" if self.fill else "")


class Scale(Module):
    """Multiply by a fixed factor (FCN-8s-at-once scales pool4 by 0.01 and pool3 by 0.0001)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        out, cache = F.scale_forward(x, self.factor)
        self.save_cache(cache)
        return out

    def backward(self, dout):
        return F.scale_backward(dout, self.pop_cache())

    def extra_repr(self):
        return f"factor={self.factor}"


class Identity(Module):
    """Passes its input, and in backward its gradient, on as they are (no copy): the layer that
    stands where a variant has none (FCN-8s's ``scale_pool4``, which FCN-8s-at-once makes a
    ``Scale``)."""

    def forward(self, x):
        return x

    def backward(self, dout):
        return dout
