"""VGG16 (Simonyan & Zisserman, 2015): the classifier FCN starts from, and its convolutional trunk.

The trunk is five blocks of 3×3 convolutions (pad 1, so they keep the size) each followed by a
2×2 max pool of stride 2 that halves the map:

    block   convs                      width (base_channels = 64)   after its pool
    1       conv1_1, conv1_2           64                           1/2
    2       conv2_1, conv2_2           128                          1/4
    3       conv3_1 … conv3_3          256                          1/8   (pool3: FCN-8s skip)
    4       conv4_1 … conv4_3          512                          1/16  (pool4: FCN-16s skip)
    5       conv5_1 … conv5_3          512                          1/32  (pool5)

A smaller ``base_channels`` scales every width by base_channels/64 (tiny nets for tests and
lessons). ``VGG16`` ends in fully connected layers over pool5 of a 224×224 image (7×7 = 224/32):
fc6 (512·7·7 → 4096), fc7 (4096 → 4096), fc8 (4096 → 1000 ImageNet classes), each fc6/fc7
followed by ReLU and dropout 0.5. FCN keeps the trunk and turns fc6/fc7 into convolutions
(``minifcn.models.fcn``).

Pooling uses ceil mode (Caffe's only mode): at 224×224 it gives the same 7×7 pool5 as
torchvision's floor mode, and FCN needs it for odd sizes.
"""
from .. import nn
from ..conventions import INPUT_CONVENTIONS, VOC_CLASSES
from ..nn.init import he_init, layer_seed

# (block, number of 3×3 convolutions, width in units of base_channels)
VGG16_BLOCKS = ((1, 2, 1), (2, 2, 2), (3, 3, 4), (4, 3, 8), (5, 3, 8))
VGG16_CONVS = tuple(f"conv{b}_{i}" for b, n, _ in VGG16_BLOCKS for i in range(1, n + 1))


class VGGBackbone(nn.Module):
    """conv1_1 … pool5 as attributes with torchfcn's names, and a forward/backward per block;
    fc6 and fc7 (``add_fc_layers``, ``fc_forward``), written once for VGG16 and every FCN.

    Also holds what every minifcn model carries: ``n_class``, ``input_convention`` ('caffe':
    BGR, 0–255, minus the mean; 'torchvision': RGB/255, normalised — see
    ``minifcn.data.transforms``), ``class_names`` (VOC's 21 by default when n_class is 21) and
    ``seed``, from which every layer's initial weights and dropout masks derive.

    Convolutions start from He initialisation (``nn.init.he_init``: N(0, 2/fan_in) weights, zero
    biases), so that the 15-layer ReLU stack can be trained from scratch, as the offline shapes
    data is; the papers start from ImageNet VGG16 weights (``copy_params_from_vgg16``).
    """

    def __init__(self, n_class, base_channels=64, conv1_1_padding=1, seed=0,
                 input_convention="caffe", class_names=None):
        super().__init__()
        if input_convention not in INPUT_CONVENTIONS:
            raise ValueError(f"unknown input convention {input_convention!r}: expected one of "
                             f"{tuple(INPUT_CONVENTIONS)}")
        if class_names is None and n_class == len(VOC_CLASSES):
            class_names = VOC_CLASSES
        if class_names is not None and len(class_names) != n_class:
            raise ValueError(f"{len(class_names)} class names for {n_class} classes")
        if base_channels < 1 or n_class < 1:
            raise ValueError(f"base_channels and n_class must be ≥ 1, got {base_channels}, "
                             f"{n_class}")
        self.n_class, self.base_channels, self.seed = int(n_class), int(base_channels), int(seed)
        self.input_convention = input_convention
        self.class_names = list(class_names) if class_names is not None else None
        self._blocks = {}                                # b → ([(conv, relu), …], pool)
        c_in = 3
        for b, n_convs, width in VGG16_BLOCKS:
            c_out = width * base_channels
            pairs = []
            for i in range(1, n_convs + 1):
                pad = conv1_1_padding if (b, i) == (1, 1) else 1
                conv = he_init(nn.Conv2d(c_in, c_out, 3, padding=pad),
                               layer_seed(seed, f"conv{b}_{i}"))
                relu = nn.ReLU(inplace=True)       # the conv before it caches its input
                setattr(self, f"conv{b}_{i}", conv)
                setattr(self, f"relu{b}_{i}", relu)
                pairs.append((conv, relu))
                c_in = c_out
            pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)
            setattr(self, f"pool{b}", pool)
            self._blocks[b] = (pairs, pool)

    def trunk(self, up_to="pool5"):
        """The trunk's layers from conv1_1 to ``up_to`` (a name), in order: a path for
        ``minifcn.geometry``."""
        layers = []
        for name, layer in self._modules.items():
            layers.append(layer)
            if name == up_to:
                return layers
        raise ValueError(f"no layer {up_to!r} in the trunk")

    def block_forward(self, b, h):
        """Block b: (3×3 conv → ReLU) × 2 or 3, then the 2×2 pool that halves the map.

        The block's last ReLU runs after the pool, on a quarter of the pixels. That is the same
        function: a ReLU is monotone, so max(relu(a), relu(b)) = relu(max(a, b)), and the same
        gradients (a window whose max is ≤ 0 sends nothing back in either order, any other
        sends it to the same pixel); tests/test_models.py checks the two orders bit for bit.
        (Not where the activations hold a NaN: the two orders may then route a window's
        gradient differently, when training has already diverged.)
        """
        pairs, pool = self._blocks[b]
        *first, (conv, relu) = pairs
        for c, r in first:
            h = r(c(h))
        return relu(pool(conv(h)))                  # = pool(relu(conv(h)))

    def block_backward(self, b, dh, need_input_grad=True):
        """The mirror of ``block_forward``. For block 1, ``need_input_grad=False`` lets conv1_1
        skip the image's gradient (training never needs it) and returns None."""
        pairs, pool = self._blocks[b]
        if b == 1:
            self.conv1_1.need_input_grad = need_input_grad
        *first, (conv, relu) = pairs
        dh = conv.backward(pool.backward(relu.backward(dh)))
        for c, r in reversed(first):
            dh = c.backward(r.backward(dh))
        return dh

    def add_fc_layers(self, fc6, fc7, dropout=0.5):
        """fc6 and fc7 (Linear layers in VGG16, convolutions in an FCN), He-initialised, each
        followed by a ReLU and dropout (0.5 in VGG16 and the papers)."""
        self.fc6 = he_init(fc6, layer_seed(self.seed, "fc6"))
        self.relu6 = nn.ReLU(inplace=True)     # fc6 caches its input, not its output
        self.drop6 = nn.Dropout(dropout, seed=layer_seed(self.seed, "drop6"))
        self.fc7 = he_init(fc7, layer_seed(self.seed, "fc7"))
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(dropout, seed=layer_seed(self.seed, "drop7"))

    def fc_forward(self, i, h):
        """fc6 or fc7 (i = 6 or 7), then its ReLU and its dropout."""
        fc, relu, drop = (getattr(self, f"{kind}{i}") for kind in ("fc", "relu", "drop"))
        return drop(relu(fc(h)))

    def fc_backward(self, i, dh):
        """The mirror of ``fc_forward``."""
        fc, relu, drop = (getattr(self, f"{kind}{i}") for kind in ("fc", "relu", "drop"))
        return fc.backward(relu.backward(drop.backward(dh)))


class VGG16(VGGBackbone):
    """VGG16, the ImageNet classifier: x (N, 3, 224, 224) → class scores (N, n_class).

    Parameters conv1_1 … conv5_3, fc6, fc7, fc8 (``.weight``/``.bias``); fc6 is a Linear over the
    flattened 512×7×7 pool5 (C, H, W order, as torchvision's and Caffe's). Before
    convolutionization it only accepts 224×224 inputs; FCN lifts that limit.
    """

    def __init__(self, n_class=1000, base_channels=64, fc_channels=4096, seed=0,
                 input_convention="caffe", class_names=None):
        super().__init__(n_class, base_channels, 1, seed, input_convention, class_names)
        self.fc_channels = int(fc_channels)
        self.flatten = nn.Flatten()
        self.add_fc_layers(nn.Linear(8 * base_channels * 7 * 7, fc_channels),
                           nn.Linear(fc_channels, fc_channels))
        self.fc8 = nn.Linear(fc_channels, n_class, seed=layer_seed(seed, "fc8"))

    @property
    def config(self):
        """The constructor arguments that rebuild this model (saved with its weights)."""
        return dict(n_class=self.n_class, base_channels=self.base_channels,
                    fc_channels=self.fc_channels, seed=self.seed,
                    input_convention=self.input_convention, class_names=self.class_names)

    def forward(self, x):
        if x.shape[2:] != (224, 224):
            raise ValueError(f"VGG16 (fully connected) needs 224×224 inputs, got "
                             f"{tuple(x.shape[2:])}: convolutionize it (an FCN) for other sizes")
        h = self.block_forward(1, x)                 # 112×112
        h = self.block_forward(2, h)                 # 56×56
        h = self.block_forward(3, h)                 # 28×28
        h = self.block_forward(4, h)                 # 14×14
        h = self.block_forward(5, h)                 # pool5: 7×7
        h = self.flatten(h)                          # (N, 512·7·7)
        h = self.fc_forward(6, h)                    # (N, 4096)
        h = self.fc_forward(7, h)                    # (N, 4096)
        return self.fc8(h)                           # (N, n_class)

    def backward(self, dscore, need_input_grad=True):
        dh = self.fc8.backward(dscore)
        dh = self.fc_backward(7, dh)                 # (N, 4096)
        dh = self.fc_backward(6, dh)                 # (N, 512·7·7)
        dh = self.flatten.backward(dh)               # pool5: 7×7
        dh = self.block_backward(5, dh)              # 14×14
        dh = self.block_backward(4, dh)              # 28×28
        dh = self.block_backward(3, dh)              # 56×56
        dh = self.block_backward(2, dh)              # 112×112
        return self.block_backward(1, dh, need_input_grad)   # 224×224, or None
