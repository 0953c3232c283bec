"""FCN-8s and FCN-8s-at-once: two skips, from pool4 (1/16) and pool3 (1/8), then ×8.

    image ─ conv1…pool3 ─ conv4…pool4 ─ conv5…pool5 ─ fc6 ─ fc7 ─ score_fr         1/32
    fuse_pool4 = upscore2(score_fr)          + crop(score_pool4(pool4), 5)        1/16
    fuse_pool3 = upscore_pool4(fuse_pool4)   + crop(score_pool3(pool3), 9)        1/8
    score      = crop(upscore8(fuse_pool3), 31)                                   the input's size

FCN-8s is trained in stages (VGG16 → 32s → 16s → 8s). Trained directly from VGG16 it learns
poorly: the pool3 and pool4 features are on a much larger scale than fc7's, and so are the
gradients of their score layers (a 1×1 conv's weight gradient scales with its input), which then
run ahead of the rest of the net. FCN-8s-at-once scales pool4 by 0.01 and pool3 by 0.0001 before
their score layers (fixed factors, not learned) and is trained in one stage (PAMI 2016).

Sizes in the comments are for a 500×500 input (docs/fcn.md §2); "1/8" is relative to the input.
"""
from .. import nn
from ..geometry import crop_offset
from .fcn import FCN


class FCN8s(FCN):
    """x (N, 3, H, W) → scores (N, n_class, H, W), for every H, W ≥ 1.

    Parameters: conv1_1 … conv5_3, fc6, fc7, score_fr, score_pool3, score_pool4 (weight, bias),
    upscore2 (k4 s2), upscore_pool4 (k4 s2), upscore8 (k16 s8) (weight only, bilinear, frozen
    by default).
    """

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
        self.score_pool4c = nn.Crop(crop_offset(self.trunk("pool4") + [self.score_pool4],
                                                like=upscore2))             # 5
        self.score_pool3c = nn.Crop(crop_offset(self.trunk("pool3") + [self.score_pool3],
                                                like=upscore_pool4))        # 9
        self.score = nn.Crop(crop_offset(upscore_pool4 + [self.upscore8]))   # 31

    def forward(self, x):                                 # 500×500
        h = self.block_forward(1, x)                      # 1/2: 349
        h = self.block_forward(2, h)                      # 1/4: 175
        pool3 = self.block_forward(3, h)                  # 1/8: 88
        pool4 = self.block_forward(4, pool3)              # 1/16: 44
        h = self.block_forward(5, pool4)                  # 1/32: 22
        h = self.drop6(self.relu6(self.fc6(h)))           # 1/32: 16
        h = self.drop7(self.relu7(self.fc7(h)))           # 1/32: 16
        h = self.score_fr(h)                              # 1/32: 16
        upscore2 = self.upscore2(h)                       # 1/16: 34
        h = self.score_pool4(pool4)                       # 1/16: 44
        h = self.score_pool4c(h, upscore2)                # 1/16: 34, from offset 5
        h = upscore2 + h                                  # 1/16: fuse_pool4
        upscore_pool4 = self.upscore_pool4(h)             # 1/8: 70
        h = self.score_pool3(pool3)                       # 1/8: 88
        h = self.score_pool3c(h, upscore_pool4)           # 1/8: 70, from offset 9
        h = upscore_pool4 + h                             # 1/8: fuse_pool3
        h = self.upscore8(h)                              # 1/1: 69·8 + 16 = 568
        return self.score(h, x)                           # 1/1: 500, from offset 31

    def backward(self, dscore, need_input_grad=True):
        dh = self.score.backward(dscore)                  # 1/1: 568
        dh = self.upscore8.backward(dh)                   # 1/8: fuse_pool3, 70
        # Each sum passes dh unchanged to both of its inputs.
        dpool3 = self.score_pool3.backward(self.score_pool3c.backward(dh))   # 1/8: 88
        dh = self.upscore_pool4.backward(dh)              # 1/16: fuse_pool4, 34
        dpool4 = self.score_pool4.backward(self.score_pool4c.backward(dh))   # 1/16: 44
        dh = self.upscore2.backward(dh)                   # 1/32: 16
        dh = self.score_fr.backward(dh)
        dh = self.fc7.backward(self.relu7.backward(self.drop7.backward(dh)))
        dh = self.fc6.backward(self.relu6.backward(self.drop6.backward(dh)))  # 1/32: 22
        dh = self.block_backward(5, dh)                   # 1/16: 44
        dh += dpool4                                      # pool4 feeds conv5_1 and score_pool4
        dh = self.block_backward(4, dh)                   # 1/8: 88
        dh += dpool3                                      # pool3 feeds conv4_1 and score_pool3
        dh = self.block_backward(3, dh)                   # 1/4: 175
        dh = self.block_backward(2, dh)                   # 1/2: 349
        return self.block_backward(1, dh, need_input_grad)


class FCN8sAtOnce(FCN8s):
    """FCN-8s with pool4 × 0.01 and pool3 × 0.0001 before their score layers (``scale_pool4``,
    ``scale_pool3``: fixed, no parameters), trained in one stage from VGG16. Same parameters and
    crops as FCN8s, so weights move freely between the two."""

    def __init__(self, n_class=21, base_channels=64, fc_channels=4096, **kwargs):
        super().__init__(n_class, base_channels, fc_channels, **kwargs)
        self.scale_pool4 = nn.Scale(0.01)
        self.scale_pool3 = nn.Scale(0.0001)

    def forward(self, x):                                 # 500×500
        h = self.block_forward(1, x)                      # 1/2: 349
        h = self.block_forward(2, h)                      # 1/4: 175
        pool3 = self.block_forward(3, h)                  # 1/8: 88
        pool4 = self.block_forward(4, pool3)              # 1/16: 44
        h = self.block_forward(5, pool4)                  # 1/32: 22
        h = self.drop6(self.relu6(self.fc6(h)))           # 1/32: 16
        h = self.drop7(self.relu7(self.fc7(h)))           # 1/32: 16
        h = self.score_fr(h)                              # 1/32: 16
        upscore2 = self.upscore2(h)                       # 1/16: 34
        h = self.score_pool4(self.scale_pool4(pool4))     # 1/16: 44, from pool4 × 0.01
        h = self.score_pool4c(h, upscore2)                # 1/16: 34, from offset 5
        h = upscore2 + h                                  # 1/16: fuse_pool4
        upscore_pool4 = self.upscore_pool4(h)             # 1/8: 70
        h = self.score_pool3(self.scale_pool3(pool3))     # 1/8: 88, from pool3 × 0.0001
        h = self.score_pool3c(h, upscore_pool4)           # 1/8: 70, from offset 9
        h = upscore_pool4 + h                             # 1/8: fuse_pool3
        h = self.upscore8(h)                              # 1/1: 568
        return self.score(h, x)                           # 1/1: 500, from offset 31

    def backward(self, dscore, need_input_grad=True):
        dh = self.score.backward(dscore)                  # 1/1: 568
        dh = self.upscore8.backward(dh)                   # 1/8: fuse_pool3, 70
        dh3 = self.score_pool3.backward(self.score_pool3c.backward(dh))
        dpool3 = self.scale_pool3.backward(dh3)           # 1/8: 88
        dh = self.upscore_pool4.backward(dh)              # 1/16: fuse_pool4, 34
        dh4 = self.score_pool4.backward(self.score_pool4c.backward(dh))
        dpool4 = self.scale_pool4.backward(dh4)           # 1/16: 44
        dh = self.upscore2.backward(dh)                   # 1/32: 16
        dh = self.score_fr.backward(dh)
        dh = self.fc7.backward(self.relu7.backward(self.drop7.backward(dh)))
        dh = self.fc6.backward(self.relu6.backward(self.drop6.backward(dh)))  # 1/32: 22
        dh = self.block_backward(5, dh)                   # 1/16: 44
        dh += dpool4
        dh = self.block_backward(4, dh)                   # 1/8: 88
        dh += dpool3
        dh = self.block_backward(3, dh)                   # 1/4: 175
        dh = self.block_backward(2, dh)                   # 1/2: 349
        return self.block_backward(1, dh, need_input_grad)
