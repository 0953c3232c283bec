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
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup
import os

import upsampling_nets
from _common import np, plt, say, section
from upsampling_nets import ShiftAndStitch, StridedNet, UnpoolNet, UpsampledTrunk

import minifcn
from minifcn import backend, data, geometry, nn, plots
from minifcn import functional as F

args = _common.parse_args("08_other_upsampling", "Other ways to upsample: shift-and-stitch, "
                          "unpooling, dilated convolution", pretrained=True)
_common.intro(args)
dev = args.device
rng = np.random.default_rng(args.seed)


# %% Tools: receptive fields (ShiftAndStitch and the nets: lessons/upsampling_nets.py)
def as_device(a):
    return backend.to_device(np.ascontiguousarray(a), dev)


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

    The class ShiftAndStitch (lessons/upsampling_nets.py, with this lesson's other nets) does
    exactly that with plain slicing. Try it on a tiny
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
shapes_root = data.default_train_data()        # the main job's 128×128 shapes data
val = data.load_dataset(shapes_root, "val")
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
# lessons/upsampling_nets.py builds them from minifcn's layers, with the backward written by
# hand as in minifcn's models, and starts them the FCN way: He weights (variance 2/fan_in,
# which keeps the activations' scale through ReLUs), score layers at zero, frozen bilinear
# upsampling where there is one.
N_CLASS = len(val.class_names)
strided_body = list(StridedNet(8, N_CLASS).body.children())
dilated_body = list(UpsampledTrunk(8, N_CLASS, (1, 2, 4)).body.children())
unpool_net = UnpoolNet(8, N_CLASS)
encoder = [getattr(unpool_net, f"{kind}{i}") for i in (1, 2, 3) for kind in ("conv", "pool")]
encoder += list(unpool_net.middle.children())
shift = int(geometry.path_map(strided_body).shift)      # centres the stitched map (see below)
for label, layers in (("strided trunk (1/8)", strided_body), ("dilated trunk", dilated_body),
                      ("unpooling net, encoder", encoder)):
    r, j = receptive_field(layers)
    print(f"  {label:<24} r = {r:>3}  j = {j}  output {128 // j}×{128 // j} for 128×128")
print("  unpooling net, decoder   back to 128×128 through the switches")
say(f"""
    Same stride, but the dilated trunk's last layers see {receptive_field(dilated_body)[0]}
    pixels instead of {receptive_field(strided_body)[0]}: the context that pool4 and pool5 would
    have bought, without their loss of resolution. It still ends at 1/8 and is upsampled ×8
    (bilinear, like FCN); shift-and-stitch instead runs the strided trunk 8² = 64 times.
    (Its stitched map is centred on the image up to half a pixel: the strided trunk's pixel o
    sits on input pixel {geometry.path_map(strided_body).scale}·o +
    {float(geometry.path_map(strided_body).shift):g}, so the input is shifted by {shift} first.)
    The unpooling net's encoder is the strided trunk without its score layer: it has to see
    a whole shape to name it. With a single conv in its middle it saw 38×38 pixels, less than
    the large shapes, and answered "background" everywhere for thousands of iterations.
""")

# %% 4. The same task, the same budget
section("4. The same task, the same budget")
LABELS = {"lesson08_fcn8s": "FCN-8s (skips + bilinear)",
          "lesson08_coarse": "coarse trunk + bilinear ×8",
          "lesson08_unpool": "unpooling + deconvolution",
          "lesson08_dilated": "dilated (pool4/5 removed)"}
iterations = _common.lesson08_iterations(args)
nets, per_it = _common.lesson08_models(args)
say(f"""
    Four nets, each trained from scratch for {iterations} iterations with the same recipe, the
    main job's (Adam, which lesson 06 explains, at lr 1e-3 decayed to 0 along a "poly" curve,
    lr·(1 − t/T)^0.9, with median-frequency class weights in the loss), on the
    main job's 128×128 shapes data: lessons/make_pretrained.py trained them
    (data/pretrained/lesson08_*.npz; --train trains them again now). FCN-8s is the main job's
    own net (five poolings, widths 8 … 64, fc6/fc7 128); the others are three poolings deep,
    widths 8 … 32 and 64 in their last layer. Shift-and-stitch is not trained separately: it
    is a way to *run* a coarse net, so the fifth row runs the coarse trunk's trained weights
    64 times per image and stitches, and compares the two ways of getting pixels from one set
    of weights. (Training through the 64 passes works too, ShiftAndStitch has a backward, but
    at 64 times the cost per step.)
""")
val_scored = data.load_dataset(shapes_root, "val", 8 if args.quick else None, args.seed)
results = {}
for name, net in nets.items():
    results[LABELS[name]] = dict(minifcn.evaluate(net, val_scored), per_it=per_it[name],
                                 model=net)
coarse = results[LABELS["lesson08_coarse"]]
stitched = upsampling_nets.stitched_trunk(coarse["model"])
results["shift-and-stitch of that trunk"] = dict(
    minifcn.evaluate(stitched, val_scored), per_it=coarse["per_it"], model=stitched)
image, _ = val[0]
for r in results.values():
    r["model"].eval()
    r["predict"] = _common.best_time(lambda m=r["model"]: minifcn.predict(m, image), repeat=3)
    r["params"] = upsampling_nets.parameter_count(r["model"])

print(f"\nscored on {len(val_scored)} validation images")
print(f"{'method':<32} {'params':>7} {'train s/it':>10} {'predict ms':>10} {'pixel acc':>9} "
      f"{'mean IU':>8}")
for label, r in results.items():
    print(f"{label:<32} {r['params']:>7} {r['per_it']:>10.3f} {1e3 * r['predict']:>10.1f} "
          f"{r['acc']:>9.3f} {r['mean_iu']:>8.3f}")
stuck = [k for k, r in results.items() if r["acc_cls"] < 1 / N_CLASS + 1e-3]
if stuck:
    say(f"""
        Still answering background everywhere (mean accuracy 1/{N_CLASS}): {'; '.join(stuck)}.
        Their scores here say nothing about what they can do.
    """)
ranked = sorted(results, key=lambda k: -results[k]["mean_iu"])
ss, bl = results["shift-and-stitch of that trunk"]["mean_iu"], coarse["mean_iu"]
ratio = results["shift-and-stitch of that trunk"]["predict"] / coarse["predict"]
say(f"""
    (train s/it is the training time per iteration as make_pretrained measured it, the
    shift-and-stitch row repeating its trunk's; predict is one 128×128 image.) In this run
    the ranking by mean IU is: {"; ".join(f"{k.split(' (')[0]} {results[k]['mean_iu']:.3f}"
                                         for k in ranked)}.
    Shift-and-stitch of the coarse trunk scored {ss:.3f} against {bl:.3f} for bilinear
    upsampling of the same weights ({"higher" if ss > bl else "lower" if ss < bl else "the same"}),
    at {ratio:.0f}× the time to predict (64 passes, run as one batch): it gives a truly dense
    answer without any upsampling, but from scores that were trained to be upsampled
    bilinearly. The unpooling net recovers positions through its switches but has to learn a
    whole decoder; the dilated net keeps a 1/8 map with a large receptive field and relies on
    bilinear upsampling for the last ×8; FCN-8s mixes coarse, deep scores with finer,
    shallower ones. One run each: differences of 0.03 mean IU are within what the
    summation order alone moves a run by. The published comparisons (on VOC, from ImageNet
    weights, with much more training) reported DeconvNet and dilated nets above FCN-8s.
""")
rows = [[val[i][0], val[i][1]] + [minifcn.predict(r["model"], val[i][0])
                                  for r in results.values()] for i in (0, 1, 2)]
titles = ["image", "ground truth"] + [f"{name.split(' (')[0]}\nmean IU {r['mean_iu']:.2f}"
                                      for name, r in results.items()]
titles[-1] += "\n(stripes: see the title)"
path = plots.plot_label_grid(
    rows, val.class_names, os.path.join(args.out, "comparison.png"), col_titles=titles,
    palette=plots.dataset_palette(val), panel_size=2.2,
    title=f"Dense predictions five ways (four trained nets), {iterations} iterations each"
          + (" (--quick --train: barely trained)" if args.quick and args.train else "")
          + "\nShift-and-stitch's stripes are not a bug: row i of its map comes from the 8 passes "
            "whose input moved up by i mod 8 rows, column j from those moved left by j mod 8; "
            "passes moved alike\nmeet the trunk's pooling grid alike and err alike, so their "
            "errors line up as whole rows and columns (the scores were trained to be upsampled "
            "bilinearly, not read pixel by pixel)")
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
    f"With the same recipe and {iterations} iterations each the five methods scored mean IU "
    + ", ".join(f"{r['mean_iu']:.2f} ({k.split(' (')[0]})" for k, r in results.items())
    + ": one run each, so gaps under 0.03 rank nothing; the costs are the solid part.",
], [
    "Shift-and-stitch and the dilated twin compute the same numbers. Why does the twin need "
    "far less arithmetic?",
    "FCN's output stride is 32. How many passes would shift-and-stitch need, and what did the "
    "paper do instead?",
    "Write interleave, shift_and_stitch and max_unpool2d in "
    "lessons/exercises/ex08_other_upsampling.py and "
    "check them with `python lessons/exercises/check.py 8`, which compares your dense map with "
    "the dilated twin.",
], ko=([
    f"shift-and-stitch는 거친 망을 f²개의 옮긴 입력에 돌리고 출력을 엇갈려 끼웁니다. 이것은 "
    f"스트라이드를 없애고 필터를 팽창시킨 같은 망과 같습니다({diff:.0e}까지). 비용은 거친 망의 "
    f"{macs['stitched'] / macs['strided']:.0f}배이고, 팽창 쌍둥이는 "
    f"{macs['dilated'] / macs['strided']:.1f}배면 됩니다.",
    "언풀링은 값을 인코더의 최대 풀링이 찾은 자리(스위치)로 되돌립니다: 희소하지만 날카로운 맵을 "
    "학습된 디코더가 채웁니다.",
    "팽창 합성곱은 필터의 탭을 벌립니다: pool4/pool5를 없애고 그 뒤를 팽창시키면 같은 수용 "
    "영역으로 특징 맵을 1/8에 유지합니다.",
    f"같은 학습 방법으로 각각 {iterations}번 반복한 다섯 방법의 mean IU: "
    + ", ".join(f"{r['mean_iu']:.2f} ({k.split(' (')[0]})" for k, r in results.items())
    + ". 각각 한 번씩 실행했으므로 0.03보다 작은 차이로는 순위를 매길 수 없습니다. 확실한 것은 "
    "비용 쪽입니다.",
], [
    "shift-and-stitch와 팽창 쌍둥이는 같은 값을 계산합니다. 쌍둥이는 왜 훨씬 적은 연산으로 "
    "될까요?",
    "FCN의 출력 스트라이드는 32입니다. shift-and-stitch라면 몇 번을 돌려야 하고, 논문은 대신 "
    "무엇을 했을까요?",
    "lessons/exercises/ex08_other_upsampling.py의 interleave, shift_and_stitch, max_unpool2d를 "
    "작성하고 `python lessons/exercises/check.py 8`로 확인하세요. 촘촘한 맵을 팽창 쌍둥이와 "
    "비교합니다.",
]))
