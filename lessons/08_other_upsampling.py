"""Lesson 08: other ways to get dense predictions (the note's §2.3).

FCN gets from its coarse 1/32 scores back to pixels with (bilinear) deconvolutions and skip
layers. The note lists three other answers, and this lesson builds each with minifcn's layers:

- shift-and-stitch (FCN paper §3.2): run a coarse net on f² shifted copies of the input and
  interleave the outputs;
- unpooling + deconvolution (DeconvNet, SegNet): a decoder that mirrors the encoder and puts
  values back where the encoder's max pooling found them ("switches");
- dilated convolution (Yu & Koltun; DeepLab's "atrous"): drop the last poolings and spread the
  following filters instead, so that the map stays fine and the receptive field still grows.

It shows that shift-and-stitch and dilation compute the same thing, then trains a small FCN-8s,
a coarse 1/8 trunk, an unpooling net and a dilated net on the shapes data with the same budget,
runs the trained coarse trunk shift-and-stitched as well, and compares all five.
"""
# %% Setup
import os
import time

import _common
from _common import np, plt, say, section

import minifcn
from minifcn import backend, data, geometry, models, nn, plots
from minifcn import functional as F

args = _common.parse_args("08_other_upsampling", "Other ways to upsample: shift-and-stitch, "
                          "unpooling, dilated convolution")
_common.intro(args)
dev = args.device
rng = np.random.default_rng(args.seed)


# %% Tools: shift-and-stitch as a module, receptive fields
def as_device(a):
    return backend.to_device(np.ascontiguousarray(a), dev)


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
        self.config = {"f": f, "shift": shift}        # for minifcn.save (train's checkpoints)

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


def receptive_field(layers):
    """(field, jump) in input pixels after ``layers``: r += d·(k − 1)·j, j *= s."""
    r, j = 1, 1
    for layer in layers:
        spec = geometry.layer_spec(layer)
        if spec is None or spec[0] != "conv" and spec[0] != "pool":
            continue
        k, s = spec[1], spec[2]
        d = spec[4] if len(spec) > 4 else 1
        r, j = r + d * (k - 1) * j, j * s
    return r, j


# %% 1. Shift-and-stitch
section("1. Shift-and-stitch")
say("""
    A net whose output has stride f gives one prediction per f×f block of the input. Shift the
    input up by dy and left by dx pixels and the same net gives the predictions for the points
    f·i + dy, f·j + dx instead. Do it for all f² shifts (dy, dx) in {0 … f−1}² and interleave
    the outputs: a prediction for every pixel, from the coarse net unchanged, at f² times the
    work. (FCN §3.2; the authors tried it and preferred learned upsampling with skips.)

    The class ShiftAndStitch above does exactly that with plain slicing. Try it on a tiny
    strided net with output stride f = 4: a 3×3 conv, a 2×2 max pool (stride 2), a 3×3 conv,
    a 2×2 conv of stride 2 and a 3×3 score conv, no padding anywhere.
""")
c = 4
strided = nn.Sequential(nn.Conv2d(3, c, 3, seed=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Conv2d(c, c, 3, seed=2), nn.ReLU(),
                        nn.Conv2d(c, c, 2, stride=2, seed=3), nn.ReLU(),
                        nn.Conv2d(c, 2, 3, seed=4)).to(dev, np.float64)
say("""
    Its "dilated twin" has the same layers and the same weights, but every stride is set to 1
    and every layer after a removed stride spreads its taps instead (dilation): the conv after
    the pool samples every 2nd pixel, the score conv every 4th. This is the "filter
    rarefaction" of FCN §3.2, today called dilated or atrous convolution.
""")
dilated = nn.Sequential(nn.Conv2d(3, c, 3), nn.ReLU(), nn.MaxPool2d(2, 1),
                        nn.Conv2d(c, c, 3, dilation=2), nn.ReLU(),
                        nn.Conv2d(c, c, 2, stride=1, dilation=2), nn.ReLU(),
                        nn.Conv2d(c, 2, 3, dilation=4)).to(dev, np.float64)
dilated.load_state_dict(strided.state_dict())       # same weights, layer for layer
stitched_net = ShiftAndStitch(strided, 4)
x = as_device(rng.standard_normal((1, 3, 36, 36)))
with nn.no_grad():
    coarse, dense, twin = strided(x), stitched_net(x), dilated(x)
print(f"input {tuple(x.shape[2:])}: strided net {tuple(coarse.shape[2:])}, shift-and-stitch "
      f"{tuple(dense.shape[2:])} (16 passes), dilated twin {tuple(twin.shape[2:])} (1 pass)")
hd, wd = twin.shape[2:]
diff = float(np.abs(backend.to_cpu(dense[:, :, :hd, :wd] - twin)).max())
print(f"max |shift-and-stitch − dilated twin| over the {hd}×{wd} pixels both have: {diff:.1e}")
for label, net in (("strided", strided), ("dilated", dilated)):
    cm = geometry.path_map(list(net.children()))
    r, _ = receptive_field(list(net.children()))
    print(f"  {label:>8}: output pixel o ↔ input {float(cm.scale):g}·o + {float(cm.shift):g}, "
          f"receptive field {r}×{r}")
say(f"""
    The two agree to float64 rounding ({diff:.0e}): shift-and-stitch *is* the dilated net,
    computed in f² pieces. Both give a prediction every pixel with the strided net's receptive
    field. (The last rows and columns of the stitched map come from passes that ran off the
    input's edge, where zeros came in; the dilated net simply has no output there.) minifcn's
    MaxPool2d has no dilation, so this small net downsamples the second time with a strided
    conv, which does have one; a second pooling would be dilated the same way.

    The price: count the multiply-adds of each (a conv layer costs output pixels × output
    channels × input channels × kh·kw), and time them, on a 132×132 input:
""")
xb = as_device(rng.standard_normal((1, 3, 132, 132)))


def multiply_adds(net, x):
    """Multiply-adds of a Sequential's convolutions on input x (run layer by layer)."""
    total, h = 0, x
    with nn.no_grad():
        for layer in net.children():
            out = layer(h)
            if isinstance(layer, nn.Conv2d):
                kh, kw = layer.kernel_size
                total += out.size * layer.in_channels * kh * kw
            h = out
    return total


def run(net):
    with nn.no_grad():
        backend.synchronize(net(xb))


macs = {"strided": multiply_adds(strided, xb), "dilated": multiply_adds(dilated, xb)}
macs["stitched"] = 16 * macs["strided"]                  # 16 passes of the same size
times = {k: _common.best_time(lambda net=net: run(net), repeat=2)
         for k, net in (("strided", strided), ("stitched", stitched_net), ("dilated", dilated))}
for key, title in (("strided", "strided net (1/4 output)"),
                   ("stitched", "shift-and-stitch (16 passes)"),
                   ("dilated", "dilated twin (1 pass)")):
    print(f"  {title:<30} {macs[key] / 1e6:7.1f} M multiply-adds "
          f"({macs[key] / macs['strided']:4.1f}×)   {1e3 * times[key]:6.1f} ms")
say(f"""
    Shift-and-stitch does {macs['stitched'] / macs['strided']:.0f}× the work of the coarse net:
    f² = 16 full passes. The dilated twin computes the same numbers with
    {macs['dilated'] / macs['strided']:.1f}× the work, because it computes every early feature
    once, where the 16 shifted passes recompute the features their windows share. (The times
    also carry a fixed cost per layer call, large next to layers this small.) Either way,
    every layer after a removed stride works at full resolution: with FCN's
    f = 32, shift-and-stitch would be 1024 passes of VGG16 per image, one reason the paper
    upsamples instead.
""")

# %% 2. Unpooling + deconvolution (DeconvNet, SegNet)
section("2. Unpooling + deconvolution (DeconvNet, SegNet)")
say("""
    DeconvNet (Noh et al., 2015) and SegNet (Badrinarayanan et al., 2015) upsample the
    *features*, stage by stage, with a decoder that mirrors the encoder. Each max pooling of the
    encoder remembers where its maxima were (the "switches"); the matching unpooling of the
    decoder writes each value back at that position and zeros elsewhere, and (de)convolutions
    then fill in the gaps. nn.MaxPool2dWithIndices returns the switches, nn.MaxUnpool2d uses
    them (PyTorch's conventions: indices are positions h·W + w in each input plane):
""")
pool = nn.MaxPool2dWithIndices(2, stride=2)
unpool = nn.MaxUnpool2d(2, stride=2)
small = rng.permutation(16).reshape(1, 1, 4, 4).astype(np.float64)
pooled, idx = pool(as_device(small))
back = unpool(pooled, idx, output_size=small.shape)
for title, arr in (("input", small), ("pooled (2×2, stride 2)", pooled), ("indices", idx),
                   ("unpooled with the switches", back)):
    rows = backend.to_cpu(arr)[0, 0].astype(int)
    print(f"{title}:\n" + "\n".join("    " + " ".join(f"{v:3d}" for v in row) for row in rows))
say("""
    Every maximum is back in its own pixel; the other three of each window are zero. FCN's
    upsampling knows nothing about where the maxima were: a bilinear deconvolution spreads each
    coarse value over its neighbourhood. On a real image (its brightness, max-pooled to 1/2
    and brought back), the two look like this:
""")
val = data.load_dataset(data.ensure_shapes(), "val")
image, label = val[5]
gray = as_device(image.mean(axis=2, dtype=np.float64)[None, None] / 255)
h1, i1 = nn.MaxPool2dWithIndices(2, 2)(gray)                     # 1/2
sparse = nn.MaxUnpool2d(2, 2)(h1, i1, gray.shape)
bilinear = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False).to(dev, np.float64)
bilinear.weight.data = as_device(F.bilinear_weight(1, 1, 4, np.float64))
smooth = bilinear(h1)
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, (img, title) in zip(axes, ((image, "image"), (h1, "max-pooled (1/2)"),
                                   (sparse, "unpooled with the switches"),
                                   (smooth, "bilinear deconvolution ×2"))):
    a = backend.to_cpu(img)
    ax.imshow(a if a.ndim == 3 else a[0, 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
_common.save_figure(fig, args, "unpooling.png")
nonzero = float((backend.to_cpu(sparse) != 0).mean())
say(f"""
    Unpooling gives a sparse map ({100 * nonzero:.0f} % of the pixels non-zero, one per 2×2
    block) whose values sit exactly where the encoder found them, so edges stay sharp; the
    bilinear map is dense but blurred. A DeconvNet decoder follows each unpooling with learned
    (de)convolutions that turn the sparse map back into a dense one.
""")

# %% 3. Dilated convolution
section("3. Dilated convolution")
say("""
    A 3×3 convolution with dilation d takes its 9 taps every d pixels: it covers a
    (2d+1)×(2d+1) window with 9 weights. Its footprint, from a single lit pixel through a 3×3
    filter of ones:
""")
impulse = np.zeros((1, 1, 9, 9))
impulse[0, 0, 4, 4] = 1
for d in (1, 2, 4):
    conv = nn.Conv2d(1, 1, 3, padding=d, dilation=d, bias=False).to(dev, np.float64)
    conv.weight.data[...] = 1
    seen = backend.to_cpu(conv(as_device(impulse)))[0, 0]
    print(f"dilation {d}:\n" + "\n".join("    " + " ".join("#" if v else "." for v in row)
                                         for row in seen))
say("""
    The note's recipe for FCN: remove pool4 and pool5 (the map stays at 1/8 instead of 1/32)
    and dilate the convolutions that came after them by 2 and by 4, so each still sees as far
    as before. The nets of the comparison below, with the receptive field (r) and stride (j)
    after their last layer, for a 64×64 input:
""")

# %% The nets of section 4
# The four nets of the comparison. All start the same way: He initialisation (weights drawn
# with variance 2/fan_in, which keeps the activations' scale through ReLUs), score layers at
# zero as in FCN, frozen bilinear upsampling where there is one, inputs in the 'torchvision'
# convention (RGB, about zero mean and unit variance).
N_CLASS = len(val.class_names)
width = 4 if args.quick else 8


def he_init(model, seed):
    g = np.random.default_rng(seed)
    for m in model.modules():
        if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) or not m.weight.requires_grad:
            continue
        w = backend.to_cpu(m.weight.data)
        if isinstance(m, nn.Conv2d) and m.out_channels == N_CLASS:      # a score layer
            m.weight.data = as_device(np.zeros_like(w))
        else:
            fan_in = (w.shape[1] if isinstance(m, nn.Conv2d) else w.shape[0]) * w[0, 0].size
            m.weight.data = as_device((g.standard_normal(w.shape) * np.sqrt(2 / fan_in))
                                      .astype(w.dtype))
        if m.bias is not None:
            m.bias.data = as_device(np.zeros_like(backend.to_cpu(m.bias.data)))
    return model


def trunk(c, dilations):
    """conv1 pool1 conv2 pool2 conv3 pool3 (1/8), then conv4, conv5, fc6 with the given
    dilations and padding = dilation (so they keep the size), and a 1×1 score layer."""
    layers, c_in = [], 3
    for i, w in enumerate((c, 2 * c, 4 * c), start=1):
        layers += [nn.Conv2d(c_in, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True)]
        c_in = w
    for (c_out, d) in zip((4 * c, 4 * c, 8 * c), dilations):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=d, dilation=d), nn.ReLU()]
        c_in = c_out
    layers.append(nn.Conv2d(c_in, N_CLASS, 1))
    return layers


class Segmenter(nn.Module):
    """What minifcn.train needs of a model: n_class, input_convention, a config (saved with
    the checkpoints), forward, and backward(dscore, need_input_grad)."""
    input_convention = "torchvision"

    def __init__(self):
        super().__init__()
        self.n_class = N_CLASS
        self.config = {"lesson": "08", "class": type(self).__name__}


class StridedNet(Segmenter):
    """The trunk without dilation, scores at 1/8 (the net that shift-and-stitch makes dense).
    ``body``: an existing trunk to share (a trained one), else a new one of width c."""

    def __init__(self, c=None, body=None):
        super().__init__()
        self.body = body if body is not None else nn.Sequential(*trunk(c, (1, 1, 1)))

    def forward(self, x):
        return self.body(x)

    def backward(self, dscore, need_input_grad=True):
        return self.body.backward(dscore)


class UpsampledTrunk(Segmenter):
    """The trunk's 1/8 scores, then bilinear ×8 (a frozen deconvolution, as FCN's) and the crop
    that minifcn.geometry computes. dilations (1, 1, 1): the plain strided trunk, its coarse
    scores just upsampled (FCN-32s's way, at 1/8); (1, 2, 4): the dilated net, pool4 and pool5
    removed, conv5 dilated by 2 and fc6 by 4."""

    def __init__(self, c, dilations):
        super().__init__()
        self.body = nn.Sequential(*trunk(c, dilations))
        self.upscore = nn.ConvTranspose2d(N_CLASS, N_CLASS, 16, stride=8, bias=False)
        self.upscore.weight.data = F.bilinear_weight(N_CLASS, N_CLASS, 16)
        self.upscore.weight.requires_grad = False
        self.score = nn.Crop(geometry.crop_offset(list(self.body.children()) + [self.upscore]))

    def forward(self, x):
        return self.score(self.upscore(self.body(x)), x)

    def backward(self, dscore, need_input_grad=True):
        return self.body.backward(self.upscore.backward(self.score.backward(dscore)))


class UnpoolNet(Segmenter):
    """DeconvNet/SegNet in miniature: conv + pool ×3 keeping the switches, a middle conv, then
    unpool + deconvolution ×3 mirroring them, and a 1×1 score layer at full resolution."""

    def __init__(self, c):
        super().__init__()
        widths, c_in = (c, 2 * c, 4 * c), 3
        for i, w in enumerate(widths, start=1):
            setattr(self, f"conv{i}", nn.Conv2d(c_in, w, 3, padding=1))
            setattr(self, f"relu{i}", nn.ReLU())
            setattr(self, f"pool{i}", nn.MaxPool2dWithIndices(2, 2, ceil_mode=True))
            c_in = w
        self.conv_mid, self.relu_mid = nn.Conv2d(c_in, c_in, 3, padding=1), nn.ReLU()
        for i, w_out in ((3, 2 * c), (2, c), (1, c)):
            setattr(self, f"unpool{i}", nn.MaxUnpool2d(2, 2))
            setattr(self, f"deconv{i}", nn.ConvTranspose2d(c_in, w_out, 3, padding=1))
            setattr(self, f"relu_d{i}", nn.ReLU())
            c_in = w_out
        self.score_out = nn.Conv2d(c_in, N_CLASS, 1)

    def forward(self, x):
        h, switches = x, {}
        for i in (1, 2, 3):
            h = getattr(self, f"relu{i}")(getattr(self, f"conv{i}")(h))
            size = h.shape
            h, idx = getattr(self, f"pool{i}")(h)                    # 1/2, 1/4, 1/8
            switches[i] = (idx, size)
        h = self.relu_mid(self.conv_mid(h))
        for i in (3, 2, 1):
            idx, size = switches[i]
            h = getattr(self, f"unpool{i}")(h, idx, size)            # back to conv{i}'s size
            h = getattr(self, f"relu_d{i}")(getattr(self, f"deconv{i}")(h))
        return self.score_out(h)

    def backward(self, dscore, need_input_grad=True):
        d = self.score_out.backward(dscore)
        for i in (1, 2, 3):
            d = getattr(self, f"deconv{i}").backward(getattr(self, f"relu_d{i}").backward(d))
            d = getattr(self, f"unpool{i}").backward(d)
        d = self.conv_mid.backward(self.relu_mid.backward(d))
        for i in (3, 2, 1):
            d = getattr(self, f"pool{i}").backward(d)
            d = getattr(self, f"conv{i}").backward(getattr(self, f"relu{i}").backward(d))
        return d


strided_body = list(StridedNet(width).body.children())
dilated_body = list(UpsampledTrunk(width, (1, 2, 4)).body.children())
shift = int(geometry.path_map(strided_body).shift)      # centres the stitched map (see below)
for label, layers in (("strided trunk (1/8)", strided_body), ("dilated trunk", dilated_body)):
    r, j = receptive_field(layers)
    print(f"  {label:<22} r = {r:>3}  j = {j}  output {64 // j}×{64 // j} for 64×64")
print("  unpooling net          full resolution through the decoder (the encoder reaches 1/8)")
say(f"""
    Same stride, but the dilated trunk's last layers see {receptive_field(dilated_body)[0]}
    pixels instead of {receptive_field(strided_body)[0]}: the context that pool4 and pool5 would
    have bought, without their loss of resolution. It still ends at 1/8 and is upsampled ×8
    (bilinear, like FCN); shift-and-stitch instead runs the strided trunk 8² = 64 times.
    (Its stitched map is centred on the image up to half a pixel: the strided trunk's pixel o
    sits on input pixel {geometry.path_map(strided_body).scale}·o +
    {float(geometry.path_map(strided_body).shift):g}, so the input is shifted by {shift} first.)
""")

# %% 4. The same task, the same budget
section("4. The same task, the same budget")
iterations = 40 if args.quick else 1000
batch = 1 if args.quick else 4
val_subset = 8 if args.quick else 60
shapes_root = data.ensure_shapes()          # the lessons' 64×64 shapes data (not the main job's)
budget = dict(data=shapes_root, iterations=iterations, batch_size=batch, eval_every=iterations,
              val_subset=val_subset, progress=False, seed=args.seed, device=dev)
# minifcn.train's defaults for everything else: the main job's recipe (Adam, lr 1e-3 with poly
# decay, class weights), which lesson 06 explains; the paper's SGD needs ImageNet weights.
nets = {
    "FCN-8s (skips + bilinear)": he_init(models.FCN8s(
        n_class=N_CLASS, base_channels=width, fc_channels=8 * width, dropout=0.0,
        input_convention="torchvision", class_names=list(val.class_names)), args.seed),
    "coarse trunk + bilinear ×8": he_init(UpsampledTrunk(width, (1, 1, 1)), args.seed),
    "unpooling + deconvolution": he_init(UnpoolNet(width), args.seed),
    "dilated (pool4/5 removed)": he_init(UpsampledTrunk(width, (1, 2, 4)), args.seed),
}
say(f"""
    Four nets, widths {width}…{8 * width}, all trained with minifcn.train for {iterations}
    iterations (batch {batch}, the main job's recipe: Adam, lr 1e-3 with poly decay, class
    weights)
    from the same kind of random start on the 64×64 shapes data, and scored on {val_subset}
    validation images. FCN-8s here is minifcn's own model (5 poolings, conv1_1 padded by 100);
    the others are three poolings deep. The coarse trunk is the strided net of section 3 with
    its 1/8 scores upsampled bilinearly. Shift-and-stitch is not trained separately: it is a
    way to *run* a coarse net, so the fifth row runs that same trained trunk 64 times per image
    and stitches, and compares the two ways of getting pixels from one set of weights.
    (Training through the 64 passes works too, ShiftAndStitch has a backward, but at 64 times
    the cost per step: half an hour here instead of a few minutes.)
""" + ("""
    --quick: 40 iterations teach these nets almost nothing, so the scores below are close to
    "background everywhere" and do not rank the methods; the timings are real. Run without
    --quick for a comparison that means something (and even that one is a single small run:
    differences of a point or two are noise).
""" if args.quick else """
    A single small run: differences of a point or two of mean IU are noise, and a method's
    rank can change with the budget, the widths or the seed. The timings are the solid part.
"""))
results = {}
for label, net in nets.items():
    t0 = time.perf_counter()
    run_dir = os.path.join(args.out, "runs", label.split(" ")[0].strip("(").lower())
    r = minifcn.train(model=net, out=run_dir, overwrite=True, **budget)
    seconds = time.perf_counter() - t0
    results[label] = dict(r["metrics"], seconds=seconds, model=r["model"])
    print(f"  trained {label}: {seconds:.0f} s")

coarse = results["coarse trunk + bilinear ×8"]
stitched = ShiftAndStitch(StridedNet(body=coarse["model"].body), 8, shift)
val_scored = data.load_dataset(shapes_root, "val", val_subset, args.seed)   # train()'s val set
results["shift-and-stitch of that trunk"] = dict(
    minifcn.evaluate(stitched, val_scored), seconds=coarse["seconds"], model=stitched)
image, _ = val[0]
for s in results.values():
    s["model"].eval()
    s["predict"] = _common.best_time(lambda m=s["model"]: minifcn.predict(m, image), repeat=3)
    s["params"] = sum(int(np.prod(p.shape)) for p in s["model"].parameters())

print(f"\n{'method':<32} {'params':>7} {'train s/it':>10} {'predict ms':>10} {'pixel acc':>9} "
      f"{'mean IU':>8}")
for label, s in results.items():
    print(f"{label:<32} {s['params']:>7} {s['seconds'] / iterations:>10.3f} "
          f"{1e3 * s['predict']:>10.1f} {s['acc']:>9.3f} {s['mean_iu']:>8.3f}")
stuck = [k for k, r in results.items() if r["acc_cls"] < 1 / N_CLASS + 1e-3]
if stuck:
    say(f"""
        Still answering background everywhere after {iterations} iterations (mean accuracy
        1/{N_CLASS}): {'; '.join(stuck)}. From scratch these nets need thousands of
        images to leave that answer, the deeper and more expensive ones more; their scores
        here say nothing about what they can do.
    """)
ratio = results["shift-and-stitch of that trunk"]["predict"] / coarse["predict"]
say(f"""
    (train s/it includes the final evaluation and checkpoint, and the shift-and-stitch row
    repeats its trunk's; predict is one 64×64 image.) What to read in it: shift-and-stitch
    takes {ratio:.0f}× the coarse trunk's time to predict (its 64 passes, run as one batch) and
    gives a truly dense answer from the coarse net without
    any upsampling, but from scores that were trained to be upsampled bilinearly: whether it
    beats bilinear here is a property of this one small run. The unpooling net recovers sharp
    positions through its switches but has to learn a whole decoder; the dilated net keeps a
    1/8 map with a large receptive field and still relies on bilinear upsampling for the last
    ×8; FCN-8s mixes coarse, deep scores with finer, shallower ones. The published comparisons
    (on VOC, from ImageNet weights, with much more training) reported DeconvNet and dilated
    nets above FCN-8s in mean IU; a tiny net trained from scratch for a few minutes cannot
    settle that.
""")
rows = [[val[i][0], val[i][1]] + [minifcn.predict(s["model"], val[i][0]) for s in results.values()]
        for i in (0, 1, 2)]
titles = ["image", "ground truth"] + [f"{name.split(' (')[0]}\nmean IU {s['mean_iu']:.2f}"
                                      for name, s in results.items()]
path = plots.plot_label_grid(
    rows, val.class_names, os.path.join(args.out, "comparison.png"), col_titles=titles,
    palette=plots.dataset_palette(val), panel_size=2.2,
    title=f"Dense predictions five ways (four trained nets), {iterations} iterations each"
          + (" (--quick: barely trained)" if args.quick else ""))
print(f"[figure] {path}")

# %% Summary and questions
_common.summary([
    f"Shift-and-stitch runs a coarse net on f² shifted inputs and interleaves the outputs; it "
    f"equals the same net with its strides removed and its filters dilated (to {diff:.0e}), "
    f"at {macs['stitched'] / macs['strided']:.0f}× the coarse net's work where the dilated "
    f"twin needs {macs['dilated'] / macs['strided']:.1f}×.",
    "Unpooling puts values back where the encoder's max pooling found them (the switches): a "
    "sparse, sharp map that a learned decoder fills in.",
    "Dilated convolution spreads a filter's taps: removing pool4/pool5 and dilating what "
    "follows keeps the map at 1/8 with the same receptive field.",
    "Under the same small budget the five methods scored mean IU "
    + ", ".join(f"{r['mean_iu']:.2f} ({k.split(' (')[0]})" for k, r in results.items())
    + ": one small run, which ranks nothing; the costs are the solid part.",
], [
    "Shift-and-stitch and the dilated twin compute the same numbers. Why does the twin need "
    "far less arithmetic?",
    "FCN's output stride is 32. How many passes would shift-and-stitch need, and what did the "
    "paper do instead?",
    "Write interleave and shift_and_stitch in lessons/exercises/ex08_other_upsampling.py and "
    "check them with `python lessons/exercises/check.py 8`, which compares your dense map with "
    "the dilated twin.",
])
