"""FCN-16s: the 1/32 scores upsampled ×2 and fused with scores from pool4 (1/16), then ×16.

    image ─ conv1…pool4 ─ conv5…pool5 ─ fc6 ─ fc7 ─ score_fr        1/32
    fuse_pool4 = upscore2(score_fr) + crop(score_pool4(pool4), 5)    1/16
    score      = crop(upscore16(fuse_pool4), 27)                     the input's size

The offsets are the paper's geometry's; in the main job's (fc6 padded by 3, conv1_1 by 0) they
are −1 (the crop fills with zeros where it reaches past pool4) and 23. What FCN-16s adds to
FCN-32s is this one skip; ``FCN`` (``models/fcn.py``) builds its layers and runs it.
"""
from .fcn import FCN, Skip


class FCN16s(FCN):
    """Parameters: conv1_1 … conv5_3, fc6, fc7, score_fr, score_pool4 (weight, bias), upscore2
    (k4 s2) and upscore16 (k32 s16) (weight only, bilinear, frozen by default)."""

    skips = (Skip("pool4"),)
