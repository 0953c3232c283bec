"""FCN-32s: VGG16's coarse 1/32 score map, upsampled ×32 in one step.

    image ─ conv1…pool5 ─ fc6 ─ fc7 ─ score_fr        1/32
    score = crop(upscore(score_fr), 19)               the input's size

Sizes in the comments are for a 500×500 input (docs/fcn.md §2); "1/32" is relative to the input.
"""
from .. import nn
from ..geometry import crop_offset
from .fcn import FCN


class FCN32s(FCN):
    """x (N, 3, H, W) → scores (N, n_class, H, W), for every H, W ≥ 1.

    Parameters: conv1_1 … conv5_3, fc6, fc7, score_fr (weight, bias), upscore (weight only:
    k64 s32, bilinear, frozen by default).
    """

    def __init__(self, n_class=21, base_channels=64, fc_channels=4096, **kwargs):
        super().__init__(n_class, base_channels, fc_channels, **kwargs)
        self.upscore = self.upscore_layer(64, 32)
        # 19 with conv1_1's pad 100: see minifcn.geometry for the arithmetic.
        self.score = nn.Crop(crop_offset(self.score_fr_path() + [self.upscore]))

    def forward(self, x, return_blobs=False):             # 500×500
        b = self.score_fr_forward(x)                      # 1/32: 16 (pool1 … pool5, fc6, fc7)
        b.upscore = self.upscore(b.score_fr)              # 1/1: (16 − 1)·32 + 64 = 544
        b.score = self.score(b.upscore, x)                # 1/1: 500, from offset 19
        return (b.score, vars(b)) if return_blobs else b.score

    def backward(self, dscore, need_input_grad=True):
        dh = self.score.backward(dscore)                  # 1/1: 544
        dh = self.upscore.backward(dh)                    # 1/32: 16, score_fr
        return self.score_fr_backward(dh, need_input_grad)   # the image (None if not needed)
