"""Initial weights, drawn directly in the parameter's dtype (no float64 temporaries: fc6 of
VGG16 alone is 103 M weights).

- ``uniform``: PyTorch's default for Conv2d/Linear, ±1/√fan_in (Kaiming-uniform with a = √5).
  Fine for a layer on its own, but in a deep plain ReLU stack every layer shrinks the signal's
  variance by about 6× (1/3 from the uniform, 1/2 from the ReLU): 15 layers of it and an FCN
  trained from scratch sees almost nothing.
- ``kaiming_normal``: He et al. 2015, N(0, 2/fan_in), which keeps the variance of the
  activations constant through ReLU layers. The FCN models use it when they are not given
  VGG16's weights (the papers always start from VGG16, so they never needed it).
"""
import math

import numpy as np


def uniform(rng, shape, fan_in, dtype=np.float32):
    """U(−1/√fan_in, 1/√fan_in) of ``shape``."""
    bound = 1.0 / math.sqrt(max(1, fan_in))
    dtype = np.dtype(dtype)
    return (rng.random(shape, dtype=dtype) * dtype.type(2 * bound) - dtype.type(bound))


def kaiming_normal(rng, shape, fan_in, dtype=np.float32):
    """N(0, 2/fan_in) of ``shape``: He initialisation for layers followed by a ReLU."""
    dtype = np.dtype(dtype)
    return rng.standard_normal(shape, dtype=dtype) * dtype.type(math.sqrt(2.0 / max(1, fan_in)))
