"""Initial weights: every initialiser of the package, in one place.

Arrays, drawn directly in the parameter's dtype (no float64 temporaries: fc6 of VGG16 alone is
103 M weights):

- ``uniform``: PyTorch's default for Conv2d/Linear, ±1/√fan_in (Kaiming-uniform with a = √5).
  Fine for a layer on its own, but in a deep plain ReLU stack every layer shrinks the signal's
  variance by about 6× (1/3 from the uniform, 1/2 from the ReLU): 15 layers of it and an FCN
  trained from scratch sees almost nothing.
- ``kaiming_normal``: He et al. 2015, N(0, 2/fan_in), which keeps the variance of the
  activations constant through ReLU layers.

Layers, in place (each returns the layer), as the FCN models start:

- ``he_init``: kaiming_normal weights and zero biases, for the trunk and fc6/fc7 when they are
  not given VGG16's weights (the papers always start from VGG16, so they never needed it).
- ``zero_init``: the score layers (score_fr, score_pool4, score_pool3) start at zero, so a new
  skip adds nothing until it has learned something (the papers, torchfcn).
- ``bilinear_init``: a transposed convolution that upsamples each channel bilinearly (Caffe's
  filter, ``minifcn.functional.bilinear_weight``): the upscore layers.

``layer_seed`` gives every layer of a model its own reproducible stream from the model's seed.
"""
import math
import zlib

import numpy as np

from ..backend import get_array_module
from ..functional.upsample import bilinear_weight


def uniform(rng, shape, fan_in, dtype=np.float32):
    """U(−1/√fan_in, 1/√fan_in) of ``shape``."""
    bound = 1.0 / math.sqrt(max(1, fan_in))
    dtype = np.dtype(dtype)
    return (rng.random(shape, dtype=dtype) * dtype.type(2 * bound) - dtype.type(bound))


def kaiming_normal(rng, shape, fan_in, dtype=np.float32):
    """N(0, 2/fan_in) of ``shape``: He initialisation for layers followed by a ReLU."""
    dtype = np.dtype(dtype)
    return rng.standard_normal(shape, dtype=dtype) * dtype.type(math.sqrt(2.0 / max(1, fan_in)))


def layer_seed(seed, name):
    """A distinct, reproducible seed for the layer ``name`` of a model built with ``seed``."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]).generate_state(1)[0])


def he_init(layer, seed):
    """Kaiming-normal weights (fan_in = everything but the output axis), zero biases, for a
    Conv2d or Linear on the host: keeps the activations' scale through a deep ReLU stack, which
    PyTorch's default uniform init does not."""
    rng = np.random.default_rng(seed)
    w = layer.weight.data
    layer.weight.data = kaiming_normal(rng, w.shape, int(np.prod(w.shape[1:])), w.dtype)
    if layer.bias is not None:
        layer.bias.data[...] = 0
    return layer


def zero_init(layer):
    """Weight and bias to zero, on the layer's device and in its dtype."""
    layer.weight.data[...] = 0
    if layer.bias is not None:
        layer.bias.data[...] = 0
    return layer


def bilinear_init(deconv):
    """A ConvTranspose2d (C, C, k, k) set to bilinear upsampling of each channel by its stride
    (channel i → i, the others zero); bias, if any, to zero. Device and dtype are kept."""
    w = deconv.weight.data
    c_in, c_out, kh, kw = w.shape
    if kh != kw:
        raise ValueError(f"bilinear_init needs a square kernel, got {kh}×{kw}")
    deconv.weight.data = get_array_module(w).asarray(bilinear_weight(c_in, c_out, kh, w.dtype))
    if deconv.bias is not None:
        deconv.bias.data[...] = 0
    return deconv
