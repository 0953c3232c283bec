"""What FCN-32s, FCN-16s and FCN-8s share: VGG16 made fully convolutional, and staged training.

From VGG16 (``minifcn.models.vgg``) an FCN keeps the convolutional trunk, with one change: conv1_1
pads by 100 instead of 1, so that every input of 1 px or more still gives pool5 at least the 7×7
that fc6 needs (``minifcn.geometry`` explains it and computes the crops it makes necessary). Then

    fc6       the Linear over 512×7×7 becomes a 7×7 convolution (same weights, reshaped)
    fc7       the Linear 4096 → 4096 becomes a 1×1 convolution; both followed by ReLU, dropout 0.5
    score_fr  a 1×1 convolution to n_class scores, 1/32 of the input ("fr": fully reduced)

and the variants add skip scores and upsampling (score_pool4, score_pool3, upscore…) on top.

Initialisation (as in the papers and torchfcn): the score layers start at zero, weight and bias,
so an untrained FCN predicts class 0 everywhere until VGG16's weights are transplanted and it is
trained; the deconvolutions (``upscore*``, no bias) start as bilinear upsampling
(``minifcn.functional.bilinear_weight``) and stay frozen (``requires_grad=False``: their gradient
is computed, optimizers skip them). ``learn_upsampling=True`` (or ``set_learn_upsampling()``)
lets them learn, as the paper's "learned deconvolution" variant does.

Staged training (FCN.md): FCN-32s from VGG16 (``from_vgg16``), FCN-16s from FCN-32s and FCN-8s
from FCN-16s (``copy_params_from``: every parameter with the same name — the trunk, fc6, fc7,
score_fr, and score_pool4/upscore2 from an FCN-16s). FCN-8s-at-once starts from VGG16.
"""
import numpy as np

from .. import functional as F
from .. import nn
from .vgg import VGG16, VGG16_CONVS, VGGBackbone, he_init, layer_seed


class FCN(VGGBackbone):
    """Base class: trunk (conv1_1 padded by ``conv1_1_padding``), fc6, fc7, score_fr.

    n_class: classes (21 for VOC). base_channels: 64 for VGG16's widths, smaller for tiny nets.
    fc_channels: the width of fc6/fc7 (4096). seed: initial weights and dropout masks.
    input_convention: 'caffe' or 'torchvision' (how ``minifcn.predict`` preprocesses images).
    """

    def __init__(self, n_class=21, base_channels=64, fc_channels=4096, *, conv1_1_padding=100,
                 learn_upsampling=False, seed=0, input_convention="caffe", class_names=None):
        super().__init__(n_class, base_channels, conv1_1_padding, seed, input_convention,
                         class_names)
        self.fc_channels, self.conv1_1_padding = int(fc_channels), int(conv1_1_padding)
        self.learn_upsampling = bool(learn_upsampling)
        self.fc6 = he_init(nn.Conv2d(8 * base_channels, fc_channels, 7), layer_seed(seed, "fc6"))
        self.relu6 = nn.ReLU(inplace=True)     # fc6 caches its input, not its output
        self.drop6 = nn.Dropout(0.5, seed=layer_seed(seed, "drop6"))
        self.fc7 = he_init(nn.Conv2d(fc_channels, fc_channels, 1), layer_seed(seed, "fc7"))
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(0.5, seed=layer_seed(seed, "drop7"))
        self.score_fr = self.score_layer(fc_channels)

    # --- building blocks of the variants --------------------------------------------------------
    def score_layer(self, in_channels):
        """A 1×1 convolution to n_class scores, starting at zero (weight and bias)."""
        conv = nn.Conv2d(in_channels, self.n_class, 1)
        conv.weight.data[...] = 0
        conv.bias.data[...] = 0
        return conv

    def upscore_layer(self, kernel_size, stride):
        """A transposed convolution n_class → n_class without bias, bilinear upsampling by
        ``stride`` to start with; frozen unless ``learn_upsampling``."""
        deconv = nn.ConvTranspose2d(self.n_class, self.n_class, kernel_size, stride, bias=False)
        deconv.weight.data = F.bilinear_weight(self.n_class, self.n_class, kernel_size)
        deconv.weight.requires_grad = self.learn_upsampling
        return deconv

    def score_fr_path(self):
        """The layers from the image to score_fr (1/32), for ``minifcn.geometry``."""
        return self.trunk("pool5") + [self.fc6, self.fc7, self.score_fr]

    # --- what the model is ----------------------------------------------------------------------
    @property
    def config(self):
        """The constructor arguments that rebuild this model (saved with its weights)."""
        return dict(n_class=self.n_class, base_channels=self.base_channels,
                    fc_channels=self.fc_channels, conv1_1_padding=self.conv1_1_padding,
                    learn_upsampling=self.learn_upsampling, seed=self.seed,
                    input_convention=self.input_convention, class_names=self.class_names)

    @property
    def crop_offsets(self):
        """{crop layer: offset}, e.g. {'score_pool4c': 5, 'score_pool3c': 9, 'score': 31}."""
        return {name: m.offset[0] for name, m in self.named_modules() if isinstance(m, nn.Crop)}

    @property
    def min_input_size(self):
        """The smallest input side that gives fc6 its 7×7 pool5: H + 2·pad − 2 ≥ 193 (1 px at
        the paper's pad 100; 57 px at 69). ``minifcn.predict`` pads smaller images up to it."""
        return max(1, 195 - 2 * self.conv1_1_padding)

    @classmethod
    def smallest_padding(cls, min_size=1):
        """The smallest conv1_1 padding that still works for inputs of ``min_size`` px and more.

        Two things bound it from below. (1) The final crop must be ≥ 0: the offset of ``score``
        falls by one per pixel of padding (31 at pad 100 for FCN-8s, 27 for 16s, 19 for 32s),
        so the padding cannot go under 100 − that (69, 73, 81): there the score map starts
        exactly on the image's first pixel. (2) fc6 needs a 7×7 pool5: with ceil-mode pools
        that is a conv1_1 output side H + 2·pad − 2 ≥ 6·32 + 1 = 193. At 128×128 (1) decides;
        pad 100 is the paper's, which satisfies (2) for every input of 1 px.
        """
        probe = cls(1, base_channels=1, fc_channels=1, conv1_1_padding=100)   # cheap: 1 wide
        crop_bound = 100 - probe.score.offset[0]
        fc6_bound = -(-(195 - int(min_size)) // 2)                           # ceil((195 − H)/2)
        return max(crop_bound, fc6_bound)

    def set_learn_upsampling(self, flag=True):
        """Let the deconvolutions learn (True) or freeze them at their current weights."""
        self.learn_upsampling = bool(flag)
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.weight.requires_grad = self.learn_upsampling
        return self

    # --- staged training ------------------------------------------------------------------------
    def copy_params_from(self, source):
        """Copy every parameter of ``source`` (another FCN) that this model has by name.

        FCN-16s ← FCN-32s: conv1_1 … conv5_3, fc6, fc7, score_fr (upscore is not in FCN-16s;
        score_pool4 stays zero, upscore2/upscore16 bilinear). FCN-8s ← FCN-16s: those and
        score_pool4, upscore2 (upscore16 is not in FCN-8s; score_pool3 stays zero). The input
        convention and class names come along: they describe the weights. A shared name with
        a different shape (another n_class or width) is an error. Returns the copied names.
        A VGG16 source is handed to ``copy_params_from_vgg16``.
        """
        if isinstance(source, VGG16):
            self.copy_params_from_vgg16(source)
            return [n for n, _ in source.named_parameters() if not n.startswith("fc8")]
        mine = dict(self.named_parameters())
        state = {}
        for name, p in source.named_parameters():
            if name not in mine:
                continue
            if tuple(p.shape) != tuple(mine[name].shape):
                raise ValueError(f"copy_params_from: {name} has shape {tuple(p.shape)} in the "
                                 f"{type(source).__name__} but {tuple(mine[name].shape)} here")
            state[name] = p.data
        self.load_state_dict(state, strict=False)
        self.input_convention = getattr(source, "input_convention", self.input_convention)
        self.class_names = getattr(source, "class_names", self.class_names)
        return list(state)

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
