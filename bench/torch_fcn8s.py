"""FCN-8s in PyTorch, for the benchmarks only (minifcn itself never imports torch).

The same geometry as ``minifcn.models.FCN8s`` and torchfcn: conv1_1 padded by 100, ceil-mode
2×2 pools, fc6 a 7×7 convolution, crops at 5 (score_pool4), 9 (score_pool3) and 31 (final),
bilinear transposed convolutions without bias, frozen unless ``learn_upsampling`` (as in
minifcn, so that neither computes their weight gradient). ``from_minifcn`` copies a minifcn
model's weights so that both compute the same function (the benchmarks check that once before
timing). ``like(model)`` builds the twin of any minifcn FCN8s, in its geometry too: the main
job's (conv1_1 padded by 0, fc6 by 3) has other crop offsets, and its skip crops reach past
pool4/pool3 and fill with zeros there, as minifcn's ``FCN.skip_crop`` does.

Every layer is a module named as minifcn names it (conv1_1, relu1_1, pool1, …, relu6, drop6), so
that a per-layer table can set the two side by side (common.torch_layers).
"""
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

CONVS = ((3, 64, 2), (64, 128, 2), (128, 256, 3), (256, 512, 3), (512, 512, 3))


class TorchFCN8s(nn.Module):
    def __init__(self, n_class=21, base_channels=64, fc_channels=4096, learn_upsampling=False,
                 conv1_1_padding=100, fc6_padding=0, offsets=(5, 9, 31)):
        super().__init__()
        self.offsets = offsets                     # score_pool4c, score_pool3c, score
        c_in, layers = 3, OrderedDict()
        for b, (_, width, n) in enumerate(CONVS, start=1):
            c_out = width * base_channels // 64
            for i in range(1, n + 1):
                conv = nn.Conv2d(c_in, c_out, 3, padding=conv1_1_padding if (b, i) == (1, 1) else 1)
                self.add_module(f"conv{b}_{i}", conv)     # torchfcn's parameter names
                layers[f"conv{b}_{i}"], layers[f"relu{b}_{i}"] = conv, nn.ReLU(inplace=True)
                c_in = c_out
            layers[f"pool{b}"] = nn.MaxPool2d(2, stride=2, ceil_mode=True)
            if b == 3:
                self.to_pool3 = nn.Sequential(layers)
                layers = OrderedDict()
            elif b == 4:
                self.to_pool4 = nn.Sequential(layers)
                layers = OrderedDict()
        self.to_pool5 = nn.Sequential(layers)
        self.fc6 = nn.Conv2d(c_in, fc_channels, 7, padding=fc6_padding)
        self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
        self.relu6, self.drop6 = nn.ReLU(inplace=True), nn.Dropout(0.5)
        self.relu7, self.drop7 = nn.ReLU(inplace=True), nn.Dropout(0.5)
        self.score_fr = nn.Conv2d(fc_channels, n_class, 1)
        self.score_pool3 = nn.Conv2d(4 * base_channels, n_class, 1)
        self.score_pool4 = nn.Conv2d(8 * base_channels, n_class, 1)
        self.upscore2 = nn.ConvTranspose2d(n_class, n_class, 4, 2, bias=False)
        self.upscore_pool4 = nn.ConvTranspose2d(n_class, n_class, 4, 2, bias=False)
        self.upscore8 = nn.ConvTranspose2d(n_class, n_class, 16, 8, bias=False)
        for up in (self.upscore2, self.upscore_pool4, self.upscore8):
            up.weight.requires_grad_(learn_upsampling)  # frozen bilinear, as minifcn's default

    def forward(self, x):
        pool3 = self.to_pool3(x)                                        # 1/8
        pool4 = self.to_pool4(pool3)                                    # 1/16
        h = self.to_pool5(pool4)                                        # 1/32
        h = self.drop6(self.relu6(self.fc6(h)))
        h = self.drop7(self.relu7(self.fc7(h)))
        upscore2 = self.upscore2(self.score_fr(h))                      # 1/16
        o4, o3, o = self.offsets
        h = crop(self.score_pool4(pool4), upscore2, o4)
        upscore_pool4 = self.upscore_pool4(upscore2 + h)                # 1/8
        h = crop(self.score_pool3(pool3), upscore_pool4, o3)
        h = self.upscore8(upscore_pool4 + h)                            # 1/1
        return crop(h, x, o).contiguous()

    @classmethod
    def like(cls, model):
        """The twin of a minifcn FCN8s: its widths, paddings and crop offsets (weights not
        copied: ``from_minifcn``)."""
        c = model.config
        return cls(c["n_class"], c["base_channels"], c["fc_channels"], c["learn_upsampling"],
                   c["conv1_1_padding"], c["fc6_padding"],
                   tuple(getattr(model, n).offset[0] for n in ("score_pool4c", "score_pool3c",
                                                                "score")))

    @torch.no_grad()
    def from_minifcn(self, model):
        """Copy every parameter of a minifcn FCN8s (same names) into this model."""
        own = dict(self.named_parameters())        # conv1_1.weight, …: registered by name
        for name, p in model.named_parameters():
            own[name].copy_(torch.from_numpy(np.asarray(p.data)))
        return self


def crop(x, like, offset):
    """x's window of like's height and width from (offset, offset); where it reaches past x
    (a negative offset: the main job's skips), zeros, as minifcn's ``Crop(fill=True)``."""
    h, w = like.shape[2:]
    if offset < 0 or offset + h > x.shape[2] or offset + w > x.shape[3]:
        pad = max(0, -offset)
        x = nn.functional.pad(x, (pad, max(0, offset + w - x.shape[3]),
                                  pad, max(0, offset + h - x.shape[2])))
        offset += pad
    return x[:, :, offset:offset + h, offset:offset + w]
