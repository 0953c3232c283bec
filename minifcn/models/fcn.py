"""The FCN family: VGG16 made fully convolutional, plus skips described as data.

From VGG16 (``minifcn.models.vgg``) an FCN keeps the convolutional trunk, with one change: conv1_1
pads by 100 instead of 1, so that every input of 1 px or more still gives pool5 at least the 7×7
that fc6 needs (``minifcn.geometry`` explains it and computes the crops it makes necessary). Then

    fc6       the Linear over 512×7×7 becomes a 7×7 convolution (same weights, reshaped)
    fc7       the Linear 4096 → 4096 becomes a 1×1 convolution; both followed by ReLU, dropout (0.5)
    score_fr  a 1×1 convolution to n_class scores, 1/32 of the input ("fr": fully reduced)

What tells FCN-32s, FCN-16s, FCN-8s and FCN-8s-at-once apart is only their ``skips``: the pool
blobs whose scores are added to the upsampled coarse scores, finest last. Each skip is

    fuse_<pool> = upscore ×2 (the scores so far) + crop(score_<pool>(<pool> · scale))

and after the last skip one ``upscore`` brings the scores to the image, cropped to its size:

    FCN32s       skips ()                                  upscore ×32
    FCN16s       skips (pool4,)                            upscore2, upscore16
    FCN8s        skips (pool4, pool3)                      upscore2, upscore_pool4, upscore8
    FCN8sAtOnce  skips (pool4 × 0.01, pool3 × 0.0001)      as FCN8s

``FCN.__init__`` builds the layers of that description (torchfcn's names) and computes every crop
offset from it; ``forward`` loops over the skips, and ``backward`` runs the same loop in reverse.

Two geometries (docs/models.md, "Two geometries"): ``FCN8s()`` is the paper's (conv1_1 pads by
100, fc6 by 0, dropout 0.5; crops 19; 5, 27; 5, 9, 31); ``FCN8s.main_job()`` is what
``python -m minifcn train`` trains (fc6 pads by 3, conv1_1 by 0 at 128×128, no dropout, VGG16's
widths / 8; crops 15; −1, 23; −1, −3, 27). Comments give the paper's sizes for a 500×500 input
and the main job's for 128×128.

Initialisation (as in the papers and torchfcn): the score layers start at zero, weight and bias,
so an untrained FCN predicts class 0 everywhere until VGG16's weights are transplanted and it is
trained; the deconvolutions (``upscore*``, no bias) start as bilinear upsampling
(``minifcn.nn.init.bilinear_init``) and stay frozen (``requires_grad=False``: their gradient
is computed, optimizers skip them). ``learn_upsampling=True`` (or ``set_learn_upsampling()``)
lets them learn, as the paper's "learned deconvolution" variant does.

Staged training (docs/fcn.md §6): FCN-32s from VGG16 (``from_vgg16``), FCN-16s from FCN-32s
and FCN-8s from FCN-16s (``copy_params_from``: every parameter with the same name and shape —
the trunk, fc6, fc7, score_fr, and score_pool4/upscore2 from an FCN-16s). FCN-8s-at-once starts
from VGG16. Fine-tuning to another number of classes is the same call: the layers shaped by
n_class start afresh, as in a new FCN, and the call says which.
"""
from typing import NamedTuple, Optional

import numpy as np

from .. import nn
from ..geometry import crop_offset
from ..nn import init
from ..nn.runs import RunMap
from .vgg import VGG16, VGG16_CONVS, VGGBackbone

# fc6's padding: 0 is the paper's; each pixel more moves fc6's window centre one pool5 pixel
# (32 image px) back, and lets conv1_1 pad 32 px less (FCN.smallest_padding).
FC6_PADDINGS = (0, 1, 2, 3)

# The two geometries, named once. conv1_1_padding None: as little as the images allow
# (FCN.smallest_padding; 0 with fc6 padded by 3). The main job's widths are VGG16's / 8.
PAPER = dict(conv1_1_padding=100, fc6_padding=0, dropout=0.5)
MAIN_JOB = dict(conv1_1_padding=None, fc6_padding=3, dropout=0.0, base_channels=8,
                fc_channels=128)


class Skip(NamedTuple):
    """One skip: score ``pool`` (times ``scale``, a fixed factor, if given) and add it to the
    coarse scores upsampled ×2."""
    pool: str                          # 'pool4' (1/16 of the input) or 'pool3' (1/8)
    scale: Optional[float] = None      # FCN-8s-at-once: 0.01 on pool4, 0.0001 on pool3


class SkipLayers(NamedTuple):
    """A skip's layers, in forward order (each also an attribute of the FCN, torchfcn's name)."""
    pool: str                          # the trunk blob it scores
    upscore_name: str                  # 'upscore2' before the first skip, then 'upscore_<pool>'
    upscore: nn.Module                 # ×2 of the scores so far (k4 s2)
    scale: nn.Module                   # scale_<pool>: Scale, or Identity
    score: nn.Module                   # score_<pool>: 1×1 conv to n_class, from zero
    crop: nn.Module                    # score_<pool>c: to the upsampled scores' size


class ParamCopy(NamedTuple):
    """What ``FCN.copy_params_from`` did, as lists of parameter names."""
    copied: list           # taken from the source
    reinitialized: list    # shaped by the source's other n_class: set as in a new FCN instead

    def summary(self):
        """One line for a log: 'copied 32 arrays; re-initialised for this model's classes:
        score_fr, upscore (score layers at zero, deconvolutions bilinear)'."""
        text = f"copied {len(self.copied)} arrays"
        if self.reinitialized:
            layers = ", ".join(dict.fromkeys(n.partition(".")[0] for n in self.reinitialized))
            text += (f"; re-initialised for this model's classes: {layers} (score layers at "
                     f"zero, deconvolutions bilinear)")
        return text


class FCN(VGGBackbone):
    """An FCN described by its ``skips`` (a class attribute): trunk (conv1_1 padded by
    ``conv1_1_padding``), fc6, fc7, score_fr, one ``SkipLayers`` per skip, the final upscore
    and the crop to the image. x (N, 3, H, W) → scores (N, n_class, H, W), for every H, W ≥ 1.

    n_class: classes (21 for VOC). base_channels: 64 for VGG16's widths, smaller for tiny nets.
    fc_channels: the width of fc6/fc7 (4096). fc6_padding: 0 (the paper's) to 3; each pixel
    lets fc6 work on a pool5 two pixels smaller and conv1_1 pad 32 px less (``smallest_padding``;
    from 2 on, the skips' crops fill with zeros, ``skip_crop``). dropout: its
    probability after fc6 and fc7 (0.5, the papers'; 0 turns it off). seed: initial weights and
    dropout masks.
    input_convention: 'caffe' or 'torchvision' (how ``minifcn.predict`` preprocesses images).

    ``forward(x, return_blobs=False)`` returns the scores (N, n_class, H, W); with
    ``return_blobs=True`` it returns ``(score, blobs)``, where ``blobs`` maps the name of
    every intermediate result, in the order computed, to the array itself (not a copy; but a
    pool that the trunk kept in runs, ``nn/runs.py``, comes back expanded): pool1 …
    pool5, fc6, fc7, score_fr, then per skip upscore2 (upscore_pool4), score_pool4,
    score_pool4c, fuse_pool4, …, the final upscore and score, named as in the Caffe prototxt
    and torchfcn.
    """

    skips = ()                                            # FCN-32s: none

    def __init__(self, n_class=21, base_channels=64, fc_channels=4096, *, conv1_1_padding=100,
                 fc6_padding=0, dropout=0.5, learn_upsampling=False, seed=0,
                 input_convention="caffe", class_names=None):
        super().__init__(n_class, base_channels, conv1_1_padding, seed, input_convention,
                         class_names)
        self.fc_channels, self.conv1_1_padding = int(fc_channels), int(conv1_1_padding)
        self.fc6_padding = int(fc6_padding)
        if self.fc6_padding not in FC6_PADDINGS:
            raise ValueError(f"fc6_padding must be one of {FC6_PADDINGS} (0: the paper's), got "
                             f"{fc6_padding}")
        self.learn_upsampling = bool(learn_upsampling)
        # VGG16's fully connected fc6 (over 512×7×7) and fc7 as a 7×7 and a 1×1 convolution.
        self.add_fc_layers(nn.Conv2d(8 * base_channels, fc_channels, 7, padding=fc6_padding),
                           nn.Conv2d(fc_channels, fc_channels, 1), dropout)
        self.score_fr = self.score_layer(fc_channels)
        self.add_skips_and_upscore()

    @classmethod
    def main_job(cls, n_class=5, base_channels=MAIN_JOB["base_channels"],
                 fc_channels=MAIN_JOB["fc_channels"], *, min_size=128, **kwargs):
        """The network ``python -m minifcn train`` trains: fc6 padded by 3, conv1_1 padded as
        little as images of ``min_size`` px and more allow (0), no dropout, VGG16's widths / 8,
        the shapes set's 5 classes. ``kwargs`` override any of it (``conv1_1_padding=100,
        fc6_padding=0`` gives the paper's geometry back)."""
        kwargs = {**MAIN_JOB, **kwargs}
        del kwargs["base_channels"], kwargs["fc_channels"]
        if kwargs["conv1_1_padding"] is None:
            kwargs["conv1_1_padding"] = cls.smallest_padding(min_size, kwargs["fc6_padding"])
        return cls(n_class, base_channels, fc_channels, **kwargs)

    # --- the layers, from the description ---------------------------------------------------
    def add_skips_and_upscore(self):
        """Per skip, coarse to fine: upscore ×2, scale, score and crop (offsets from
        ``minifcn.geometry``: each sum lives in the coordinates of its upsampled input); then
        the final upscore, k = 2·s with s = 32 / 2^(number of skips), and the crop to the
        image."""
        self._skips = []
        coarse = self.score_fr_path()                     # the layers up to the scores so far
        for i, skip in enumerate(self.skips):
            upscore = self.upscore_layer(4, 2)
            score = self.score_layer(self.pool_channels(skip.pool))
            coarse = coarse + [upscore]
            self._skips.append(SkipLayers(
                skip.pool, "upscore2" if i == 0 else f"upscore_{self.skips[i - 1].pool}",
                upscore, nn.Identity() if skip.scale is None else nn.Scale(skip.scale), score,
                self.skip_crop(self.trunk(skip.pool) + [score], like=coarse)))
        stride = 32 >> len(self.skips)                    # 32, 16, 8
        self.final_upscore = "upscore" if not self.skips else f"upscore{stride}"
        final = self.upscore_layer(2 * stride, stride)
        # Named attributes in the order of torchfcn's state dict (score layers finest first).
        for s in reversed(self._skips):
            setattr(self, f"score_{s.pool}", s.score)
        for s in self._skips:
            setattr(self, s.upscore_name, s.upscore)
        setattr(self, self.final_upscore, final)
        for s in self._skips:
            setattr(self, f"score_{s.pool}c", s.crop)
        self.score = nn.Crop(crop_offset(coarse + [final]))
        for s in self._skips:
            setattr(self, f"scale_{s.pool}", s.scale)
        # The trunk's maps repeat rows and columns where conv1_1's padding is wide (nn/runs.py):
        # the pools before the first skip may pass them on stored once per run; the skips and
        # fc6 take arrays.
        first_taken = min([int(s.pool[-1]) for s in self._skips] + [5])
        for b in range(1, first_taken):
            getattr(self, f"pool{b}").keep_runs = True

    def pool_channels(self, pool):
        """The channels of a trunk blob: pool3 4·base_channels, pool4 8·base_channels."""
        return dict(pool3=4, pool4=8)[pool] * self.base_channels

    def score_layer(self, in_channels):
        """A 1×1 convolution to n_class scores, starting at zero (weight and bias)."""
        return init.zero_init(nn.Conv2d(in_channels, self.n_class, 1))

    def skip_crop(self, path, like):
        """The Crop that lines the blob at the end of ``path`` (score_pool4, score_pool3) up with
        the upsampled coarse scores at the end of ``like``. With fc6 padded by 2 or 3, fc6's map
        overhangs pool5 by 1 or 2 pixels a side more than the skips' maps reach, so the
        upsampled scores start before or end after pool4/pool3's: the crop fills those rows
        and columns with zeros (they lie outside the image, in the padding; tests/
        test_geometry.py checks it), and the skip adds nothing there."""
        fill = self.fc6_padding >= 2
        return nn.Crop(crop_offset(path, like=like, allow_negative=fill), fill=fill)

    def upscore_layer(self, kernel_size, stride):
        """A transposed convolution n_class → n_class without bias, bilinear upsampling by
        ``stride`` to start with; frozen unless ``learn_upsampling``."""
        deconv = nn.ConvTranspose2d(self.n_class, self.n_class, kernel_size, stride, bias=False)
        init.bilinear_init(deconv)
        deconv.weight.requires_grad = self.learn_upsampling
        return deconv

    def score_fr_path(self):
        """The layers from the image to score_fr (1/32), for ``minifcn.geometry``."""
        return self.trunk("pool5") + [self.fc6, self.fc7, self.score_fr]

    # --- forward, and backward as its mirror ------------------------------------------------
    # Sizes: the paper's geometry at 500×500 | the main job's at 128×128 (FCN-8s' skips).
    def forward(self, x, return_blobs=False):             # 500 | 128
        b = self.score_fr_forward(x)                      # pool1 … pool5, fc6, fc7, score_fr
        h = b["score_fr"]                                 # 1/32: 16 | 4
        for s in self._skips:                             # pool4, then pool3
            b[s.upscore_name] = h = s.upscore(h)          # 1/16: 34 | 10; 1/8: 70 | 22
            b[f"score_{s.pool}"] = s.score(s.scale(b[s.pool]))           # 44 | 8; 88 | 16
            b[f"score_{s.pool}c"] = s.crop(b[f"score_{s.pool}"], h)      # from 5 | −1; 9 | −3
            b[f"fuse_{s.pool}"] = h = h + b[f"score_{s.pool}c"]          # the sum, h's size
        b[self.final_upscore] = h = getattr(self, self.final_upscore)(h)  # 1/1: 568 | 184
        b["score"] = self.score(h, x)                     # 1/1: 500 from 31 | 128 from 27
        if not return_blobs:
            return b["score"]
        return b["score"], {k: v.dense() if isinstance(v, RunMap) else v for k, v in b.items()}

    def backward(self, dscore, need_input_grad=True):
        dh = self.score.backward(dscore)                  # 1/1: 568 | 184
        dh = getattr(self, self.final_upscore).backward(dh)   # the last fuse, or score_fr
        dpools = {}
        for s in reversed(self._skips):                   # pool3, then pool4
            # The sum passes dh unchanged to both of its inputs.
            dpools[s.pool] = s.scale.backward(s.score.backward(s.crop.backward(dh)))
            dh = s.upscore.backward(dh)                   # 1/16: 34 | 10; 1/32: 16 | 4
        return self.score_fr_backward(dh, need_input_grad, dpools)

    # --- the trunk, fc6, fc7 and score_fr, which every FCN shares ---------------------------
    def score_fr_forward(self, x):                        # 500 | 128
        """x → {blob name: map}: pool1 … pool5, fc6, fc7, score_fr, in order. The trunk takes x
        as a RunMap: where conv1_1's padding is wide, the pools before the first skip may come
        out stored once per run of equal rows and columns (``nn/runs.py``); the others, and
        every pool where the padding is narrow, are arrays."""
        b = {}
        x = RunMap.of(x)                                  # stored once per run: nn/runs.py
        b["pool1"] = self.block_forward(1, x)              # 1/2: 349 | 63 (conv1: 698 | 126)
        b["pool2"] = self.block_forward(2, b["pool1"])    # 1/4: 175 | 32
        b["pool3"] = self.block_forward(3, b["pool2"])    # 1/8: 88 | 16
        b["pool4"] = self.block_forward(4, b["pool3"])    # 1/16: 44 | 8
        b["pool5"] = self.block_forward(5, b["pool4"])    # 1/32: 22 | 4
        b["fc6"] = self.fc_forward(6, b["pool5"])         # 1/32: 16 | 4 (7×7, pad 0 | 3)
        b["fc7"] = self.fc_forward(7, b["fc6"])           # 1/32: 16 | 4
        b["score_fr"] = self.score_fr(b["fc7"])           # 1/32: 16 | 4, n_class channels
        return b

    def score_fr_backward(self, dscore_fr, need_input_grad=True, dpools=None):
        """The mirror of ``score_fr_forward``. ``dpools``: {'pool4': …, 'pool3': …}, what the
        skips send back into those blobs, added to what comes down the trunk. Returns the
        image's gradient, or None without ``need_input_grad``."""
        dpools = dpools or {}
        dh = self.score_fr.backward(dscore_fr)            # 1/32: 16 | 4, fc_channels
        dh = self.fc_backward(7, dh)                      # 1/32: 16 | 4
        dh = self.fc_backward(6, dh)                      # 1/32: 22 | 4, pool5
        dh = self.block_backward(5, dh)                   # 1/16: 44 | 8, pool4
        if "pool4" in dpools:
            dh += dpools["pool4"]                         # pool4 feeds conv5_1 and score_pool4
        dh = self.block_backward(4, dh)                   # 1/8: 88 | 16, pool3
        if "pool3" in dpools:
            dh += dpools["pool3"]                         # pool3 feeds conv4_1 and score_pool3
        dh = self.block_backward(3, dh)                   # 1/4: 175 | 32
        dh = self.block_backward(2, dh)                   # 1/2: 349 | 63
        return self.block_backward(1, dh, need_input_grad)

    # --- what the model is ----------------------------------------------------------------------
    @property
    def config(self):
        """The constructor arguments that rebuild this model (saved with its weights)."""
        return dict(n_class=self.n_class, base_channels=self.base_channels,
                    fc_channels=self.fc_channels, conv1_1_padding=self.conv1_1_padding,
                    fc6_padding=self.fc6_padding, dropout=self.drop6.p,
                    learn_upsampling=self.learn_upsampling, seed=self.seed,
                    input_convention=self.input_convention, class_names=self.class_names)

    @property
    def crop_offsets(self):
        """{crop layer: offset}, e.g. {'score_pool4c': 5, 'score_pool3c': 9, 'score': 31}."""
        return {name: m.offset[0] for name, m in self.named_modules() if isinstance(m, nn.Crop)}

    @property
    def min_input_size(self):
        """The smallest input side that gives fc6 its 7×7 window: a pool5 of 7 − 2·fc6_padding,
        so a conv1_1 output H + 2·pad − 2 ≥ 32·(6 − 2·fc6_padding) + 1 (1 px at the paper's pad
        100; 57 px at 69, and at 37 with fc6_padding 1, at 5 with 2; 17 px of conv1_1 output
        with 3). ``minifcn.predict`` pads smaller images up to it."""
        return max(1, self._fc6_reach(self.fc6_padding) - 2 * self.conv1_1_padding)

    @staticmethod
    def _fc6_reach(fc6_padding):
        """What H + 2·(conv1_1's padding) must reach for fc6's 7×7 window to fit: a conv1_1
        output of 32·(pool5 side − 1) + 1 px, pool5 side 7 − 2·fc6_padding (195 for the paper's
        fc6, 131 with fc6_padding 1, 67 with 2, 19 with 3)."""
        # pool5 side 1 (fc6 padded by 3) still needs 2 px into every pool: 17 px of conv1_1.
        return max(32 * (6 - 2 * int(fc6_padding)) + 3, 19)

    @classmethod
    def smallest_padding(cls, min_size=1, fc6_padding=0):
        """The smallest conv1_1 padding that still works for inputs of ``min_size`` px and more.

        Two things bound it from below. (1) The final crop must be ≥ 0: the offset of ``score``
        falls by one per pixel of padding (31 at pad 100 for FCN-8s, 27 for 16s, 19 for 32s),
        so the padding cannot go under 100 − that (69, 73, 81): there the score map starts
        exactly on the image's first pixel. Each pixel of fc6_padding moves fc6's window centre
        one pool5 pixel (32 image px) back, so the bound is 32 lower per pixel (1: 37, 41, 49;
        2: 5, 9, 17; 3: below 0, so no padding). (2) fc6 needs a (7 − 2·fc6_padding)² pool5
        (``min_input_size``). At 128×128 (1) decides; pad 100 with fc6_padding 0 is the
        paper's, which satisfies (2) for every input of 1 px.
        """
        probe = cls(1, base_channels=1, fc_channels=1, conv1_1_padding=100,   # cheap: 1 wide
                    fc6_padding=fc6_padding)
        crop_bound = 100 - probe.score.offset[0]
        need = cls._fc6_reach(fc6_padding) - int(min_size)                    # 2·pad ≥ this
        return max(0, crop_bound, -(-need // 2))

    def set_learn_upsampling(self, flag=True):
        """Let the deconvolutions learn (True) or freeze them at their current weights."""
        self.learn_upsampling = bool(flag)
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.weight.requires_grad = self.learn_upsampling
        return self

    # --- staged training ------------------------------------------------------------------------
    def copy_params_from(self, source):
        """Copy every parameter of ``source`` (another FCN, or a VGG16) that this model has by
        name and shape; returns a ``ParamCopy`` (``copied``, ``reinitialized``: the names).

        FCN-16s ← FCN-32s: conv1_1 … conv5_3, fc6, fc7, score_fr (upscore is not in FCN-16s;
        score_pool4 stays zero, upscore2/upscore16 bilinear). FCN-8s ← FCN-16s: those and
        score_pool4, upscore2 (upscore16 is not in FCN-8s; score_pool3 stays zero).

        Fine-tuning to another number of classes (a VOC model to your 5): the layers shaped by
        n_class (``class_layers``: score_fr, score_pool4/3, upscore*) cannot be copied; they are
        re-initialised as a new FCN's are (score layers at zero, deconvolutions bilinear) and
        listed in ``reinitialized``. Any other difference of shape (another width) is an error,
        raised before anything is copied. The input convention comes along (it describes the
        weights); the class names stay this model's (they describe its data). A VGG16 source
        is handed to ``copy_params_from_vgg16`` (fc8 dropped, nothing re-initialised).
        """
        if isinstance(source, VGG16):
            self.copy_params_from_vgg16(source)
            names = [n for n, _ in source.named_parameters() if not n.startswith("fc8")]
            return ParamCopy(names, [])
        mine = dict(self.named_parameters())
        class_layers = self.class_layers()
        other_n_class = getattr(source, "n_class", self.n_class) != self.n_class
        state, reset = {}, []
        for name, p in source.named_parameters():
            if name not in mine:
                continue
            if tuple(p.shape) == tuple(mine[name].shape):
                state[name] = p.data
            elif other_n_class and name.partition(".")[0] in class_layers:
                reset.append(name)
            else:
                raise ValueError(f"copy_params_from: {name} has shape {tuple(p.shape)} in the "
                                 f"{type(source).__name__} but {tuple(mine[name].shape)} here")
        self.load_state_dict(state, strict=False)
        for layer in dict.fromkeys(name.partition(".")[0] for name in reset):
            self.reset_class_layer(layer)
        self.input_convention = getattr(source, "input_convention", self.input_convention)
        return ParamCopy(list(state), reset)

    def class_layers(self):
        """{name: layer} of the layers whose shape depends on n_class: the 1×1 score layers
        (score_fr, score_pool4, score_pool3) and the n_class × n_class deconvolutions."""
        return {name: m for name, m in self._modules.items()
                if isinstance(m, nn.ConvTranspose2d)
                or (isinstance(m, nn.Conv2d) and name.startswith("score"))}

    def reset_class_layer(self, name):
        """Re-initialise one of ``class_layers`` as a new FCN's: a score layer to zero, a
        deconvolution to bilinear upsampling (frozen or not, as ``learn_upsampling`` says)."""
        layer = self.class_layers()[name]
        if isinstance(layer, nn.ConvTranspose2d):
            init.bilinear_init(layer)
        else:
            init.zero_init(layer)
        return layer

    def copy_params_from_vgg16(self, vgg):
        """Transplant ImageNet VGG16 weights: the 13 convolutions as they are, fc6 and fc7
        convolutionized by a plain reshape (``nn.convolutionize``): fc6 (4096, 512·7·7) →
        (4096, 512, 7, 7), fc7 (4096, 4096) → (4096, 4096, 1, 1). fc8 (ImageNet's 1000 classes)
        is dropped; score_fr stays at zero. The VGG's input convention comes along.
        """
        if not isinstance(vgg, VGG16):
            raise TypeError(f"copy_params_from_vgg16 expects a VGG16, got {type(vgg).__name__}")
        if (vgg.base_channels, vgg.fc_channels) != (self.base_channels, self.fc_channels):
            raise ValueError(f"VGG16 widths (base_channels={vgg.base_channels}, fc_channels="
                             f"{vgg.fc_channels}) differ from this {type(self).__name__}'s "
                             f"({self.base_channels}, {self.fc_channels})")
        state = {}
        for name in VGG16_CONVS:
            conv = getattr(vgg, name)
            state[f"{name}.weight"], state[f"{name}.bias"] = conv.weight.data, conv.bias.data
        for name in ("fc6", "fc7"):
            linear = getattr(vgg, name)
            state[f"{name}.weight"] = linear.weight.data.reshape(getattr(self, name).weight.shape)
            state[f"{name}.bias"] = linear.bias.data
        self.load_state_dict(state, strict=False)
        self.input_convention = vgg.input_convention
        return self

    @classmethod
    def from_vgg16(cls, vgg, n_class=21, **kwargs):
        """A new FCN of ``vgg``'s widths, device and dtype, with its weights transplanted."""
        model = cls(n_class, vgg.base_channels, vgg.fc_channels, **kwargs)
        model.to(dtype=np.dtype(vgg.dtype))
        model.copy_params_from_vgg16(vgg)
        return model.to(vgg.device)
