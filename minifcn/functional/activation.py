"""ReLU and (inverted) dropout."""
import numpy as np

from ..backend import get_array_module


def relu_forward(x, inplace=False):
    """out = max(x, 0), same shape as x.  The cache is the output: its sign is the mask.

    ``inplace=True`` overwrites x (as PyTorch's ``ReLU(inplace=True)``): no new array, which
    saves an allocation and a pass over memory per layer (100 MB at conv1 of FCN). Only safe
    when nothing else needs x afterwards, e.g. the output of a convolution, which caches its
    input and not its output.
    """
    xp = get_array_module(x)
    out = xp.maximum(x, 0, out=x if inplace else None)
    return out, out


def relu_backward(dout, cache):
    """dx = dout where the output was positive, else 0."""
    out = cache
    return dout * (out > 0)


def dropout_mask(shape, p, seed, step, xp=np, dtype=np.float32):
    """The inverted-dropout mask for one call: 0 with probability p, else 1/(1−p).

    The random stream is a pure function of (seed, step), so a resumed run draws exactly the
    masks an uninterrupted one would, on either backend, with no generator state to save.
    """
    entropy = int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1)[0])
    u = xp.random.default_rng(entropy).random(shape, dtype=dtype)
    return (u >= p).astype(dtype) / dtype(1 - p)


def dropout_forward(x, p=0.5, seed=0, step=0, train=True):
    """Inverted dropout: scale kept units by 1/(1−p) at training time, identity at test time.

    x: any shape.  Returns out (same shape) and the cache (the mask, or None in eval mode).
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not train or p == 0:
        return x, None
    mask = dropout_mask(x.shape, p, seed, step, get_array_module(x), x.dtype.type)
    return x * mask, mask


def dropout_backward(dout, cache):
    """The same mask as the forward: dx = dout · mask."""
    mask = cache
    return dout if mask is None else dout * mask
