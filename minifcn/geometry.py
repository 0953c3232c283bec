"""Where FCN's crop offsets (19; 5 and 27; 5, 9 and 31) come from: composed coordinate maps.

Every layer of a fully convolutional net relates a pixel of its output to a place in its input.
For a convolution or pooling layer with kernel k, stride s, padding p and dilation d, the window
of output pixel o covers input pixels s·o − p … s·o − p + d·(k − 1), so its centre is

    i = s·o + d·(k − 1)/2 − p                     (conv, pool: output o → input i)

A transposed convolution ("deconvolution") is the adjoint of such a convolution and maps the
other way, o = s·i + (k − 1)/2 − p, i.e. i = (o − (k − 1)/2 + p)/s. A crop at offset c maps
o → o + c; ReLU, dropout and the at-once scales do not move pixels. Each map is affine, i = a·o + b,
and affine maps compose, so the map from any blob back to the image is one pair (a, b). This is
Caffe's ``coord_map.py`` (Long & Shelhamer), which generated the crop layers of the published
FCN prototxts.

Two blobs can be summed pixel by pixel when their maps have the same scale a: then pixel j of
blob X and pixel o of blob Y sit on the same image point when a·j + b_X = a·o + b_Y, i.e.
j = o + (b_Y − b_X)/a. That difference is the crop offset. For the final crop the reference is
the image itself (a = 1, b = 0).

Why pad 100: pool5 is 1/32 of the input and fc6 is a 7×7 convolution over it, so without padding
any input smaller than 7·32 = 224 px would leave fc6 nothing to look at. Padding conv1_1 by 100
makes pool5 at least 7×7 for every input of 1 px and more (a 1×1 image: 199 → 100 → 50 → 25 → 13
→ 7), at the price of a larger (shifted) output that the final crop cuts back to the input size.
For FCN-32s the numbers work out as (a, b) after each stage, with b in image pixels:

    conv1_1 (k3, pad 100)   (1, −99)     the padding shifts everything by 100, the 3×3 centre by 1
    pool1 … pool5 (k2, s2)  (32, −83.5)  each 2×2 pool adds a/2 to b (half a pixel), doubles a
    fc6 (k7)                (32, 12.5)   the 7×7 window's centre is 3 pool5 pixels = 96 px in
    upscore (k64, s32)      (1, −19)     → crop at 19

Only square layers are handled (one axis is enough: FCN's kernels, strides and pads are square).
Fractions keep the half pixels exact.
"""
from fractions import Fraction
from typing import NamedTuple

from . import nn

# kinds of layer specs: ('conv' | 'pool' | 'deconv', kernel, stride, pad[, dilation]) or ('crop', c)
KINDS = ("conv", "pool", "deconv", "crop")


class CoordMap(NamedTuple):
    """input = scale · output + shift, in pixels of one axis (exact fractions)."""
    scale: Fraction
    shift: Fraction

    def __call__(self, o):
        return self.scale * o + self.shift

    def then(self, inner):
        """The map of ``inner`` applied on top of this one: self(inner(o))."""
        return CoordMap(self.scale * inner.scale, self.scale * inner.shift + self.shift)


IDENTITY = CoordMap(Fraction(1), Fraction(0))


def _square(value, what, layer):
    v = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if v[0] != v[1]:
        raise ValueError(f"geometry handles square layers only: {type(layer).__name__} has "
                         f"{what} {v}")
    return int(v[0])


def layer_spec(layer):
    """A layer object (or a spec tuple) → its spec tuple, or None for layers that keep pixels
    where they are (ReLU, Dropout, Scale, Identity).
    """
    if isinstance(layer, tuple):
        if layer[0] not in KINDS:
            raise ValueError(f"unknown layer kind {layer[0]!r}: expected one of {KINDS}")
        return layer
    if isinstance(layer, nn.Conv2d):
        return ("conv", _square(layer.kernel_size, "kernel_size", layer),
                _square(layer.stride, "stride", layer), _square(layer.padding, "padding", layer),
                _square(layer.dilation, "dilation", layer))
    if isinstance(layer, nn.MaxPool2d):
        return ("pool", _square(layer.kernel_size, "kernel_size", layer),
                _square(layer.stride, "stride", layer), _square(layer.padding, "padding", layer))
    if isinstance(layer, nn.ConvTranspose2d):
        return ("deconv", _square(layer.kernel_size, "kernel_size", layer),
                _square(layer.stride, "stride", layer), _square(layer.padding, "padding", layer))
    if isinstance(layer, nn.Crop):
        return ("crop", _square(layer.offset, "offset", layer))
    if isinstance(layer, (nn.ReLU, nn.Dropout, nn.Scale, nn.Identity)):
        return None
    raise TypeError(f"geometry does not know how {type(layer).__name__} moves pixels")


def coord_map(kind, kernel_size=1, stride=1, pad=0, dilation=1):
    """One layer's map from its output coordinates to its input coordinates."""
    if kind == "crop":                      # coord_map("crop", c): o → o + c
        return CoordMap(Fraction(1), Fraction(kernel_size))
    k, s, p, d = Fraction(kernel_size), Fraction(stride), Fraction(pad), Fraction(dilation)
    centre = d * (k - 1) / 2 - p            # input position of output pixel 0
    if kind in ("conv", "pool"):
        return CoordMap(s, centre)          # i = s·o + d(k−1)/2 − p
    if kind == "deconv":
        return CoordMap(1 / s, -centre / s)  # the inverse: o_deconv = s·i + (k−1)/2 − p
    raise ValueError(f"unknown layer kind {kind!r}: expected one of {KINDS}")


def path_map(path):
    """Compose the maps along ``path`` (layers or specs, from the image up to a blob).

    Returns the CoordMap from that blob's pixels to image pixels; [] is the image itself.
    """
    m = IDENTITY
    for layer in path:
        spec = layer_spec(layer)
        if spec is not None:
            m = m.then(coord_map(*spec))
    return m


def crop_offset(path, like=(), allow_negative=False):
    """The offset at which to crop the blob at the end of ``path`` so that it lines up with the
    blob at the end of ``like`` (both paths start at the image; ``like=()`` is the image).

    Raises ValueError when the two blobs have different scales (they cannot be summed) or the
    offset is fractional or (unless ``allow_negative``, for a crop that fills with zeros what
    lies before the blob) negative: no crop aligns them.
    """
    m, ref = path_map(path), path_map(like)
    if m.scale != ref.scale:
        raise ValueError(f"cannot align blobs of scales {m.scale} and {ref.scale}")
    offset = (ref.shift - m.shift) / m.scale
    if offset.denominator != 1 or (offset < 0 and not allow_negative):
        raise ValueError(f"blobs are offset by {offset} pixels: a crop needs a whole number ≥ 0 "
                         f"(change the padding of the first layer)")
    return int(offset)
