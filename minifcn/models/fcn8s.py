"""FCN-8s and FCN-8s-at-once: two skips, from pool4 (1/16) and pool3 (1/8), then ×8.

    image ─ conv1…pool3 ─ conv4…pool4 ─ conv5…pool5 ─ fc6 ─ fc7 ─ score_fr         1/32
    fuse_pool4 = upscore2(score_fr)          + crop(score_pool4(pool4), 5)        1/16
    fuse_pool3 = upscore_pool4(fuse_pool4)   + crop(score_pool3(pool3), 9)        1/8
    score      = crop(upscore8(fuse_pool3), 31)                                   the input's size

The offsets are the paper's geometry's; in the main job's (fc6 padded by 3, conv1_1 by 0) they
are −1, −3 (those crops fill with zeros where they reach past pool4/pool3) and 27.

FCN-8s is trained in stages (VGG16 → 32s → 16s → 8s). Trained directly from VGG16 it learns
poorly: the pool3 and pool4 features are on a much larger scale than fc7's, and so are the
gradients of their score layers (a 1×1 conv's weight gradient scales with its input), which then
run ahead of the rest of the net. FCN-8s-at-once scales pool4 by 0.01 and pool3 by 0.0001 before
their score layers (fixed factors, ``scale_pool4``/``scale_pool3``, not learned) and is trained in
one stage (PAMI 2016). Same parameters and crops as FCN8s, so weights move freely between the two.
"""
from .fcn import FCN, Skip


class FCN8s(FCN):
    """Parameters: conv1_1 … conv5_3, fc6, fc7, score_fr, score_pool3, score_pool4 (weight, bias),
    upscore2 (k4 s2), upscore_pool4 (k4 s2), upscore8 (k16 s8) (weight only, bilinear, frozen
    by default)."""

    skips = (Skip("pool4"), Skip("pool3"))


class FCN8sAtOnce(FCN8s):
    """FCN-8s with pool4 × 0.01 and pool3 × 0.0001 before their score layers, trained in one
    stage from VGG16."""

    skips = (Skip("pool4", scale=0.01), Skip("pool3", scale=0.0001))
