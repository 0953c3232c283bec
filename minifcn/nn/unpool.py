"""Max pooling that also returns its switches, and max unpooling (DeconvNet, SegNet).

    pool = nn.MaxPool2dWithIndices(2, stride=2)
    unpool = nn.MaxUnpool2d(2, stride=2)
    h, indices = pool(x)                      # (N, C, H/2, W/2) and where each maximum was
    y = unpool(h, indices, output_size=x.shape)   # (N, C, H, W): maxima back in place, zeros around

As in PyTorch (``MaxPool2d(..., return_indices=True)``, ``MaxUnpool2d(kernel_size, stride)``),
``indices`` are flat positions h·W + w in each input plane; see ``minifcn.functional.unpool``.
"""
from .. import functional as F
from .layers import MaxPool2d
from .module import Module


class MaxPool2dWithIndices(MaxPool2d):
    """``MaxPool2d`` whose forward returns ``(out, indices)``; backward as MaxPool2d's.

    The indices carry no gradient: ``backward(dout)`` takes the gradient of ``out`` only.
    """

    def forward(self, x):
        out, indices, cache = F.max_pool2d_with_indices_forward(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode)
        self.save_cache(cache)
        return out, indices


class MaxUnpool2d(Module):
    """The partial inverse of max pooling: ``forward(x, indices, output_size=None)``.

    Every value of x goes to the position ``indices`` says its maximum came from, in a zero map
    of ``output_size`` (a shape or its last two numbers; default (h − 1)·s − 2p + k per axis).
    Give the size of the map that was pooled whenever pooling rounded (odd sizes, ceil mode).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, x, indices, output_size=None):
        out, cache = F.max_unpool2d_forward(x, indices, self.kernel_size, self.stride,
                                            self.padding, output_size)
        self.save_cache(cache)
        return out

    def backward(self, dout):
        return F.max_unpool2d_backward(dout, self.pop_cache())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
