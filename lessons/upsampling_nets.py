"""The nets of lesson 08: other ways than FCN's to get from coarse features to dense scores.

Built from minifcn's layers, with forward and backward written by hand like minifcn's models,
and trainable by ``minifcn.train`` (what it needs of a model: ``n_class``, ``input_convention``,
``config``, ``forward``, ``backward(dscore, need_input_grad)``):

- ``StridedNet``: conv1–3 with a pooling each (1/8), conv4, conv5, fc6 as 3×3 convs, a 1×1
  score layer: coarse scores, one per 8×8 block;
- ``UpsampledTrunk``: that trunk's scores upsampled ×8 by a frozen bilinear deconvolution and
  cropped (FCN-32s's way, at 1/8), or with ``dilations=(1, 2, 4)`` the dilated net: the same
  trunk with conv4, conv5 and fc6 spread by 1, 2 and 4 (DeepLab's atrous; Yu & Koltun);
- ``UnpoolNet``: DeconvNet / SegNet in miniature, a decoder that unpools with the encoder's
  switches;
- ``ShiftAndStitch``: any net of output stride f run on f² shifted inputs, outputs interleaved
  (FCN §3.2).

Each net's ``config`` holds its constructor's arguments, so ``minifcn.load(path,
classes=CLASSES)`` rebuilds one saved with ``minifcn.save``; ``lessons/make_pretrained.py``
trains the shipped ones (data/pretrained/lesson08_*.npz) and ``load_pretrained`` reads them.
"""
import numpy as np

import minifcn
from minifcn import backend, geometry, nn
from minifcn.functional import bilinear_weight
from minifcn.nn import init

# The shipped nets of lesson 08's comparison: file stem → (class, constructor arguments). FCN-8s
# is the main job's own (python -m minifcn train's defaults), trained for the same budget.
VARIANTS = {
    "lesson08_coarse": ("UpsampledTrunk", {"dilations": (1, 1, 1)}),
    "lesson08_unpool": ("UnpoolNet", {}),
    "lesson08_dilated": ("UpsampledTrunk", {"dilations": (1, 2, 4)}),
}


def trunk(c, dilations, n_class):
    """conv1 pool1 conv2 pool2 conv3 pool3 (1/8), then conv4, conv5, fc6 (3×3) with the given
    dilations and padding = dilation (so they keep the size), and a 1×1 score layer."""
    layers, c_in = [], 3
    for w in (c, 2 * c, 4 * c):
        layers += [nn.Conv2d(c_in, w, 3, padding=1), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2, 2, ceil_mode=True)]
        c_in = w
    for c_out, d in zip((4 * c, 4 * c, 8 * c), dilations):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=d, dilation=d), nn.ReLU(inplace=True)]
        c_in = c_out
    layers.append(nn.Conv2d(c_in, n_class, 1))
    return layers


class Segmenter(nn.Module):
    """What the nets share: n_class, the main job's input convention, a config of their
    constructor's arguments, and the FCN start (He weights, score layers at zero)."""
    input_convention = "caffe"

    def __init__(self, n_class, **config):
        super().__init__()
        self.n_class = n_class
        self.config = dict(config, n_class=n_class)

    def initialise(self, seed):
        """He-normal weights and zero biases for every learned layer, zero score layers (the
        1×1 convs to n_class), each layer from its own stream of ``seed``. Returns self."""
        for name, m in self.named_modules():
            if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) or not m.weight.requires_grad:
                continue
            if isinstance(m, nn.Conv2d) and m.out_channels == self.n_class:
                init.zero_init(m)
            elif isinstance(m, nn.Conv2d):
                init.he_init(m, init.layer_seed(seed, name))
            else:       # a stride-1 transposed conv: each output sums in_channels·k·k inputs
                w = m.weight.data                                 # (in, out, k, k)
                rng = np.random.default_rng(init.layer_seed(seed, name))
                m.weight.data = init.kaiming_normal(rng, w.shape, w.shape[0] * w[0, 0].size,
                                                    w.dtype)
                m.bias.data[...] = 0
        return self


class StridedNet(Segmenter):
    """The trunk without dilation: scores at 1/8. ``body``: a trained trunk to share."""

    def __init__(self, c=8, n_class=5, body=None):
        super().__init__(n_class, c=c)
        self.body = body if body is not None else nn.Sequential(*trunk(c, (1, 1, 1), n_class))

    def forward(self, x):
        return self.body(x)

    def backward(self, dscore, need_input_grad=True):
        return self.body.backward(dscore)


class UpsampledTrunk(Segmenter):
    """The trunk's 1/8 scores, bilinear ×8 (a frozen deconvolution, as FCN's) and the crop that
    minifcn.geometry computes. dilations (1, 1, 1): the strided trunk's scores just upsampled;
    (1, 2, 4): the dilated net (pool4 and pool5 never added, conv5 dilated by 2, fc6 by 4)."""

    def __init__(self, c=8, n_class=5, dilations=(1, 1, 1)):
        super().__init__(n_class, c=c, dilations=list(dilations))
        self.body = nn.Sequential(*trunk(c, dilations, n_class))
        self.upscore = nn.ConvTranspose2d(n_class, n_class, 16, stride=8, bias=False)
        self.upscore.weight.data = bilinear_weight(n_class, n_class, 16)
        self.upscore.weight.requires_grad = False
        self.score = nn.Crop(geometry.crop_offset(list(self.body.children()) + [self.upscore]))

    def forward(self, x):
        return self.score(self.upscore(self.body(x)), x)

    def backward(self, dscore, need_input_grad=True):
        return self.body.backward(self.upscore.backward(self.score.backward(dscore)))


class UnpoolNet(Segmenter):
    """DeconvNet/SegNet in miniature: conv + pool ×3 keeping the switches; the trunk's three
    middle convs at 1/8 (conv4, conv5, fc6: 3×3, width 4c); then unpool + 3×3 deconvolution ×3
    mirroring the encoder, and a 1×1 score layer at full resolution.

    Two choices were measured (lessons/make_pretrained.py's recipe, 128×128 shapes, one seed):
    - The middle gives a pixel its context: with one conv there, each 1/8 unit sees 38×38
      input pixels, less than a large shape, and the net still answered "background"
      everywhere after 2500 iterations; with three it sees 70×70, as the coarse trunk does.
    - The decoder is linear, like FCN's upsampling. DeconvNet and SegNet put a ReLU (and batch
      normalisation, which minifcn does not have) after each decoder layer; with the ReLUs and
      no normalisation the net reached mean IU 0.15 at 2500 iterations and 0.25 at 5000,
      without them 0.28 and 0.31."""

    def __init__(self, c=8, n_class=5):
        super().__init__(n_class, c=c)
        c_in = 3
        for i, w in enumerate((c, 2 * c, 4 * c), start=1):
            setattr(self, f"conv{i}", nn.Conv2d(c_in, w, 3, padding=1))
            setattr(self, f"relu{i}", nn.ReLU())
            setattr(self, f"pool{i}", nn.MaxPool2dWithIndices(2, 2, ceil_mode=True))
            c_in = w
        self.middle = nn.Sequential(*[layer for _ in range(3) for layer in
                                      (nn.Conv2d(c_in, c_in, 3, padding=1), nn.ReLU())])
        for i, w_out in ((3, 2 * c), (2, c), (1, c)):
            setattr(self, f"unpool{i}", nn.MaxUnpool2d(2, 2))
            setattr(self, f"deconv{i}", nn.ConvTranspose2d(c_in, w_out, 3, padding=1))
            c_in = w_out
        self.score_out = nn.Conv2d(c_in, n_class, 1)

    def forward(self, x):
        h, switches = x, {}
        for i in (1, 2, 3):
            h = getattr(self, f"relu{i}")(getattr(self, f"conv{i}")(h))
            size = h.shape
            h, idx = getattr(self, f"pool{i}")(h)                    # 1/2, 1/4, 1/8
            switches[i] = (idx, size)
        h = self.middle(h)
        for i in (3, 2, 1):
            idx, size = switches[i]
            h = getattr(self, f"unpool{i}")(h, idx, size)            # back to conv{i}'s size
            h = getattr(self, f"deconv{i}")(h)
        return self.score_out(h)

    def backward(self, dscore, need_input_grad=True):
        d = self.score_out.backward(dscore)
        for i in (1, 2, 3):
            d = getattr(self, f"unpool{i}").backward(getattr(self, f"deconv{i}").backward(d))
        d = self.middle.backward(d)
        for i in (3, 2, 1):
            d = getattr(self, f"pool{i}").backward(d)
            d = getattr(self, f"conv{i}").backward(getattr(self, f"relu{i}").backward(d))
        return d


class ShiftAndStitch(nn.Module):
    """Dense output from a net whose output has stride f: f² shifted passes, interleaved.

    Pass (dy, dx) sees the input moved up by dy and left by dx pixels (zeros come in at the
    bottom and right); its output pixel (i, j) goes to (f·i + dy, f·j + dx) of the dense map. All
    f² copies go through ``net`` as one batch. ``shift`` first moves the input down and right
    by that many pixels, to centre the dense map on the image. The result is cropped to the
    input's size.
    """

    def __init__(self, net, f, shift=0):
        super().__init__()
        self.net, self.f, self.shift = net, f, shift
        self.n_class = getattr(net, "n_class", None)
        self.input_convention = getattr(net, "input_convention", "caffe")
        self.config = {"f": f, "shift": shift}

    def forward(self, x):
        xp = backend.get_array_module(x)
        f, s = self.f, self.shift
        N, C, H, W = x.shape
        canvas = xp.zeros((N, C, H + f + s, W + f + s), dtype=x.dtype)
        canvas[:, :, s:s + H, s:s + W] = x
        shifts = [(dy, dx) for dy in range(f) for dx in range(f)]
        batch = xp.concatenate([canvas[:, :, dy:dy + H, dx:dx + W] for dy, dx in shifts])
        out = self.net(batch)                                     # (f²·N, K, h, w)
        K, h, w = out.shape[1:]
        dense = xp.zeros((N, K, f * h, f * w), dtype=out.dtype)
        for k, (dy, dx) in enumerate(shifts):
            dense[:, :, dy::f, dx::f] = out[k * N:(k + 1) * N]
        self.save_cache((x.shape, out.shape, shifts))
        return dense[:, :, :H, :W]

    def backward(self, dscore, need_input_grad=True):
        xp = backend.get_array_module(dscore)
        x_shape, out_shape, shifts = self.pop_cache()
        f, s = self.f, self.shift
        N, C, H, W = x_shape
        K, h, w = out_shape[1:]
        ddense = xp.zeros((N, K, f * h, f * w), dtype=dscore.dtype)
        ddense[:, :, :H, :W] = dscore
        dout = xp.concatenate([ddense[:, :, dy::f, dx::f] for dy, dx in shifts])
        dbatch = self.net.backward(dout)
        if not need_input_grad:
            return None
        dcanvas = xp.zeros((N, C, H + f + s, W + f + s), dtype=dscore.dtype)
        for k, (dy, dx) in enumerate(shifts):
            dcanvas[:, :, dy:dy + H, dx:dx + W] += dbatch[k * N:(k + 1) * N]
        return dcanvas[:, :, s:s + H, s:s + W]


CLASSES = {cls.__name__: cls for cls in (StridedNet, UpsampledTrunk, UnpoolNet)}


def build(stem, c=8, n_class=5, seed=0):
    """A new, initialised net of ``VARIANTS[stem]`` at width ``c``."""
    class_name, kwargs = VARIANTS[stem]
    return CLASSES[class_name](c=c, n_class=n_class, **kwargs).initialise(seed)


def stitched_trunk(upsampled):
    """Shift-and-stitch of an UpsampledTrunk's own 1/8 trunk (its weights shared), with the
    shift that centres the stitched map on the image."""
    body = upsampled.body
    shift = int(geometry.path_map(list(body.children())).shift)
    net = StridedNet(c=upsampled.config["c"], n_class=upsampled.n_class, body=body)
    return ShiftAndStitch(net, 8, shift)


def load(path, device=None):
    """A lesson-08 net saved with ``minifcn.save`` (or by lessons/make_pretrained.py)."""
    return minifcn.load(path, device, classes=CLASSES)


def parameter_count(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())
