"""FCN-8s and FCN-8s-at-once: two skips, from pool4 (1/16) and pool3 (1/8), then ×8.

    image ─ conv1…pool3 ─ conv4…pool4 ─ conv5…pool5 ─ fc6 ─ fc7 ─ score_fr         1/32
    fuse_pool4 = upscore2(score_fr)          + crop(score_pool4(pool4), 5)        1/16
    fuse_pool3 = upscore_pool4(fuse_pool4)   + crop(score_pool3(pool3), 9)        1/8
    score      = crop(upscore8(fuse_pool3), 31)                                   the input's size

FCN-8s is trained in stages (VGG16 → 32s → 16s → 8s). Trained directly from VGG16 it learns
poorly: the pool3 and pool4 features are on a much larger scale than fc7's, and so are the
gradients of their score layers (a 1×1 conv's weight gradient scales with its input), which then
run ahead of the rest of the net. FCN-8s-at-once scales pool4 by 0.01 and pool3 by 0.0001 before
their score layers (fixed factors, not learned) and is trained in one stage (PAMI 2016). That is
all it changes: ``FCN8sAtOnce`` sets the two factors, FCN8s's forward and backward do the rest.

Sizes in the comments are for a 500×500 input (docs/fcn.md §2); "1/8" is relative to the input.
"""
from .. import nn
from ..geometry import crop_offset
from .fcn import FCN


def scale_layer(factor):
    """``nn.Scale(factor)``, or for None a layer that passes its input (and gradient) through."""
    return nn.Sequential() if factor is None else nn.Scale(factor)


class FCN8s(FCN):
    """x (N, 3, H, W) → scores (N, n_class, H, W), for every H, W ≥ 1.

    Parameters: conv1_1 … conv5_3, fc6, fc7, score_fr, score_pool3, score_pool4 (weight, bias),
    upscore2 (k4 s2), upscore_pool4 (k4 s2), upscore8 (k16 s8) (weight only, bilinear, frozen
    by default).
    """

    pool4_scale = pool3_scale = None                      # FCN8sAtOnce: 0.01, 0.0001

    def __init__(self, n_class=21, base_channels=64, fc_channels=4096, **kwargs):
        super().__init__(n_class, base_channels, fc_channels, **kwargs)
        self.score_pool3 = self.score_layer(4 * base_channels)
        self.score_pool4 = self.score_layer(8 * base_channels)
        self.upscore2 = self.upscore_layer(4, 2)
        self.upscore_pool4 = self.upscore_layer(4, 2)
        self.upscore8 = self.upscore_layer(16, 8)
        # Each sum lives in the coordinates of its upsampled input; see minifcn.geometry.
        upscore2 = self.score_fr_path() + [self.upscore2]
        upscore_pool4 = upscore2 + [self.upscore_pool4]
        self.score_pool4c = self.skip_crop(self.trunk("pool4") + [self.score_pool4],
                                           like=upscore2)             # 5
        self.score_pool3c = self.skip_crop(self.trunk("pool3") + [self.score_pool3],
                                           like=upscore_pool4)        # 9
        self.score = nn.Crop(crop_offset(upscore_pool4 + [self.upscore8]))   # 31
        # Fixed factors on pool4 and pool3 before their score layers: none here (an empty
        # Sequential passes the blob on as it is, without a copy); FCN8sAtOnce sets them.
        self.scale_pool4 = scale_layer(self.pool4_scale)
        self.scale_pool3 = scale_layer(self.pool3_scale)

    def forward(self, x, return_blobs=False):             # 500×500
        b = self.score_fr_forward(x)                      # 1/32: 16 (pool1 … pool5, fc6, fc7)
        b.upscore2 = self.upscore2(b.score_fr)            # 1/16: 34
        b.score_pool4 = self.score_pool4(self.scale_pool4(b.pool4))     # 1/16: 44
        b.score_pool4c = self.score_pool4c(b.score_pool4, b.upscore2)   # 1/16: 34, offset 5
        b.fuse_pool4 = b.upscore2 + b.score_pool4c        # 1/16: 34
        b.upscore_pool4 = self.upscore_pool4(b.fuse_pool4)              # 1/8: 70
        b.score_pool3 = self.score_pool3(self.scale_pool3(b.pool3))     # 1/8: 88
        b.score_pool3c = self.score_pool3c(b.score_pool3, b.upscore_pool4)  # 1/8: 70, offset 9
        b.fuse_pool3 = b.upscore_pool4 + b.score_pool3c   # 1/8: 70
        b.upscore8 = self.upscore8(b.fuse_pool3)          # 1/1: 69·8 + 16 = 568
        b.score = self.score(b.upscore8, x)               # 1/1: 500, from offset 31
        return (b.score, vars(b)) if return_blobs else b.score

    def backward(self, dscore, need_input_grad=True):
        dh = self.score.backward(dscore)                  # 1/1: 568
        dh = self.upscore8.backward(dh)                   # 1/8: 70, fuse_pool3
        # Each sum passes dh unchanged to both of its inputs.
        dh3 = self.score_pool3.backward(self.score_pool3c.backward(dh))     # 1/8: 88
        dpool3 = self.scale_pool3.backward(dh3)           # 1/8: 88, pool3
        dh = self.upscore_pool4.backward(dh)              # 1/16: 34, fuse_pool4
        dh4 = self.score_pool4.backward(self.score_pool4c.backward(dh))     # 1/16: 44
        dpool4 = self.scale_pool4.backward(dh4)           # 1/16: 44, pool4
        dh = self.upscore2.backward(dh)                   # 1/32: 16, score_fr
        return self.score_fr_backward(dh, need_input_grad, dpool4=dpool4, dpool3=dpool3)


class FCN8sAtOnce(FCN8s):
    """FCN-8s with pool4 × 0.01 and pool3 × 0.0001 before their score layers (``scale_pool4``,
    ``scale_pool3``: fixed, no parameters), trained in one stage from VGG16. Same parameters and
    crops as FCN8s, so weights move freely between the two."""

    pool4_scale, pool3_scale = 0.01, 0.0001
