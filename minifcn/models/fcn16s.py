"""FCN-16s: the 1/32 scores upsampled ×2 and fused with scores from pool4 (1/16), then ×16.

    image ─ conv1…pool4 ─ conv5…pool5 ─ fc6 ─ fc7 ─ score_fr        1/32
    fuse_pool4 = upscore2(score_fr) + crop(score_pool4(pool4), 5)    1/16
    score      = crop(upscore16(fuse_pool4), 27)                     the input's size

Sizes in the comments are for a 500×500 input (docs/fcn.md §2); "1/16" is relative to the input.
"""
from .. import nn
from ..geometry import crop_offset
from .fcn import FCN


class FCN16s(FCN):
    """x (N, 3, H, W) → scores (N, n_class, H, W), for every H, W ≥ 1.

    Parameters: conv1_1 … conv5_3, fc6, fc7, score_fr, score_pool4 (weight, bias), upscore2
    (k4 s2) and upscore16 (k32 s16) (weight only, bilinear, frozen by default).
    """

    def __init__(self, n_class=21, base_channels=64, fc_channels=4096, **kwargs):
        super().__init__(n_class, base_channels, fc_channels, **kwargs)
        self.score_pool4 = self.score_layer(8 * base_channels)
        self.upscore2 = self.upscore_layer(4, 2)
        self.upscore16 = self.upscore_layer(32, 16)
        upscore2 = self.score_fr_path() + [self.upscore2]
        # The sum fuse_pool4 = upscore2 + score_pool4c lives in upscore2's coordinates.
        self.score_pool4c = self.skip_crop(self.trunk("pool4") + [self.score_pool4],
                                           like=upscore2)             # 5
        self.score = nn.Crop(crop_offset(upscore2 + [self.upscore16]))       # 27

    def forward(self, x, return_blobs=False):             # 500×500
        b = self.score_fr_forward(x)                      # 1/32: 16 (pool1 … pool5, fc6, fc7)
        b.upscore2 = self.upscore2(b.score_fr)            # 1/16: 34
        b.score_pool4 = self.score_pool4(b.pool4)         # 1/16: 44
        b.score_pool4c = self.score_pool4c(b.score_pool4, b.upscore2)   # 1/16: 34, offset 5
        b.fuse_pool4 = b.upscore2 + b.score_pool4c        # 1/16: 34
        b.upscore16 = self.upscore16(b.fuse_pool4)        # 1/1: 33·16 + 32 = 560
        b.score = self.score(b.upscore16, x)              # 1/1: 500, from offset 27
        return (b.score, vars(b)) if return_blobs else b.score

    def backward(self, dscore, need_input_grad=True):
        dh = self.score.backward(dscore)                  # 1/1: 560
        dh = self.upscore16.backward(dh)                  # 1/16: 34, fuse_pool4
        # The sum passes dh unchanged to both of its inputs.
        dpool4 = self.score_pool4.backward(self.score_pool4c.backward(dh))   # 1/16: 44
        dh = self.upscore2.backward(dh)                   # 1/32: 16, score_fr
        return self.score_fr_backward(dh, need_input_grad, dpool4=dpool4)
