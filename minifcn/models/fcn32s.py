"""FCN-32s: VGG16's coarse 1/32 score map, upsampled ×32 in one step; no skips.

    image ─ conv1…pool5 ─ fc6 ─ fc7 ─ score_fr        1/32
    score = crop(upscore(score_fr), 19)               the input's size (15 in the main job's
                                                      geometry: fc6 padded by 3, conv1_1 by 0)

``FCN`` (``models/fcn.py``) builds the layers from ``skips`` and runs forward and backward.
"""
from .fcn import FCN


class FCN32s(FCN):
    """Parameters: conv1_1 … conv5_3, fc6, fc7, score_fr (weight, bias), upscore (weight only:
    k64 s32, bilinear, frozen by default)."""

    skips = ()
