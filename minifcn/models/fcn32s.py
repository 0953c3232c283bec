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

    def forward(self, x):                                 # 500×500
        h = self.block_forward(1, x)                      # 1/2: 349 (conv1: 500 + 2·100 − 2 = 698)
        h = self.block_forward(2, h)                      # 1/4: 175
        h = self.block_forward(3, h)                      # 1/8: 88
        h = self.block_forward(4, h)                      # 1/16: 44
        h = self.block_forward(5, h)                      # 1/32: 22, pool5
        h = self.drop6(self.relu6(self.fc6(h)))           # 1/32: 16 (7×7 window, no padding)
        h = self.drop7(self.relu7(self.fc7(h)))           # 1/32: 16
        h = self.score_fr(h)                              # 1/32: 16, n_class channels
        h = self.upscore(h)                               # 1/1: (16 − 1)·32 + 64 = 544
        return self.score(h, x)                           # 1/1: 500, from offset 19

    def backward(self, dscore, need_input_grad=True):
        dh = self.score.backward(dscore)                  # 1/1: 544
        dh = self.upscore.backward(dh)                    # 1/32: 16
        dh = self.score_fr.backward(dh)                   # 1/32: 16, fc_channels
        dh = self.fc7.backward(self.relu7.backward(self.drop7.backward(dh)))
        dh = self.fc6.backward(self.relu6.backward(self.drop6.backward(dh)))  # 1/32: 22
        dh = self.block_backward(5, dh)                   # 1/16: 44
        dh = self.block_backward(4, dh)                   # 1/8: 88
        dh = self.block_backward(3, dh)                   # 1/4: 175
        dh = self.block_backward(2, dh)                   # 1/2: 349
        return self.block_backward(1, dh, need_input_grad)   # the image (None if not needed)
