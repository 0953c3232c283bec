"""Lesson 05: skip layers. FCN-32s, FCN-16s and FCN-8s (the note's §2.2).

pool5 is 1/32 of the input, so an FCN's last score map is coarse: one prediction per 32×32 block.
FCN-32s upsamples it ×32 in one step. FCN-16s first upsamples it ×2, adds a score map computed
from pool4 (1/16, finer), and upsamples the sum ×16; FCN-8s does the same once more with pool3
(1/8). The paper calls these coarse-to-fine paths the "deep jet". This lesson follows the blobs
through the three nets, derives the crop offsets (19; 5 and 27; 5, 9 and 31) and the 100-pixel
padding from the layers' coordinate maps, then looks at three nets trained in stages, as the
paper does (data/pretrained/; --train trains them again), and measures what each skip adds:
mean IU over the image and near the boundaries, for the paper's Table 2 and Figure 4.
"""
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup
import inspect
import os
import textwrap

import make_pretrained
from _common import np, say, section

import minifcn
from minifcn import data, deepjet, geometry, metrics, models, nn, plots

args = _common.parse_args("05_skip_layers", "Skip layers: FCN-32s, FCN-16s and FCN-8s",
                          pretrained=True)
_common.intro(args)
dev = args.device


def fmt(v):
    """A Fraction as a short decimal: 12.5, −19."""
    return f"{float(v):g}".replace("-", "−")


def affine(cm):
    """A CoordMap as text: '32·o + 12.5', 'o − 19', 'o/32 − 0.984375'."""
    a, b = cm.scale, cm.shift
    term = "o" if a == 1 else (f"{a.numerator}·o" if a.denominator == 1 else
                               f"o/{a.denominator}" if a.numerator == 1 else f"{fmt(a)}·o")
    return term if b == 0 else f"{term} {'−' if b < 0 else '+'} {fmt(abs(b))}"


# %% 1. Three nets, one trunk
section("1. Three nets, one trunk")
say("""
    All three share VGG16's trunk (conv1_1 … pool5, with conv1_1 padded by 100) and fc6, fc7,
    score_fr made convolutional (lesson 03). They differ in how score_fr, 1/32 of the input,
    gets back to full size (lesson 04 built the bilinear deconvolutions they use):

      FCN-32s  score_fr ─ upscore ×32 ─ crop 19
      FCN-16s  score_fr ─ upscore2 ×2 ─(+ score_pool4, from pool4 at 1/16, crop 5)─ upscore16 ×16
               ─ crop 27
      FCN-8s   … fuse_pool4 ─ upscore_pool4 ×2 ─(+ score_pool3, from pool3 at 1/8, crop 9)─
               upscore8 ×8 ─ crop 31

    The same classes build two geometries, one call each. models.FCN8s() is the paper's:
    conv1_1 pads by 100, fc6 by 0, dropout 0.5; crops 19; 5, 27; 5, 9, 31. models.FCN8s
    .main_job() is the main job's, what python -m minifcn train trains: fc6 pads by 3, conv1_1
    by 0 at 128×128, no dropout, widths / 8; crops 15; −1, 23; −1, −3, 27. Sections 1–4 use the
    paper's geometry, section 5 nets trained in the main job's (docs/models.md, "Two
    geometries").

    Run the paper's input size, 500×500, through an FCN-8s (with 1 channel per layer instead of
    VGG's 64…4096: the sizes do not depend on the widths) and print every blob, as
    model.forward(x, return_blobs=True) hands them back by name:
""")
tiny = {name: models.get_model(name, n_class=2, base_channels=1, fc_channels=2)
        for name in ("fcn32s", "fcn16s", "fcn8s")}
x500 = np.zeros((1, 3, 500, 500), dtype=np.float32)
with nn.no_grad():       # forward(x, return_blobs=True) → (score, {blob name: array}), in order
    blobs = {name: m.eval().forward(x500, return_blobs=True)[1] for name, m in tiny.items()}
print(f"{'blob':>14}  {'size':>9}   (FCN-8s, input 500×500)")
for key, value in blobs["fcn8s"].items():
    print(f"{key:>14}  {value.shape[2]:>4}×{value.shape[3]:<4}")
for name in ("fcn32s", "fcn16s"):
    up = "upscore" if name == "fcn32s" else "upscore16"
    print(f"{name}: {up} {blobs[name][up].shape[2]}×{blobs[name][up].shape[3]} → "
          f"score {blobs[name]['score'].shape[2]}×{blobs[name]['score'].shape[3]}")
b8, side = blobs["fcn8s"], (lambda blob: blob.shape[-1])
conv1 = minifcn.functional.conv_output_size(500, 3, 1, 100)
say(f"""
    conv1_1's padding makes the first map 500 + 2·100 − 2 = {conv1} pixels wide. Every 2×2 pool
    halves it (rounding up: Caffe's ceil mode), so pool5 is {side(b8['pool5'])} and fc6, a 7×7
    convolution without padding, leaves {side(b8['fc6'])}. Upsampling overshoots the input
    ({side(blobs['fcn32s']['upscore'])}, {side(blobs['fcn16s']['upscore16'])},
    {side(b8['upscore8'])} instead of 500); the final crop cuts out the 500×500 window that lies
    on the image. At 1/16 and 1/8 the skip scores are larger than the upsampled coarse ones
    ({side(b8['score_pool4'])} vs {side(b8['upscore2'])}, {side(b8['score_pool3'])} vs
    {side(b8['upscore_pool4'])}) and are cropped to them before the sum. Where do the crop
    offsets come from?
""")
say("""
    First, the code that ran. The three nets are one class, models.FCN (minifcn/models/fcn.py),
    told apart only by their skips, a tuple of data:
""")
for cls in (models.FCN32s, models.FCN16s, models.FCN8s, models.FCN8sAtOnce):
    print(f"  {cls.__name__ + '.skips':>18} = {cls.skips}")
say("""
    forward runs the trunk, fc6, fc7 and score_fr, then one loop over the skips (upsample ×2,
    score the pool, crop, add) and the final upsampling and crop; backward is the same loop in
    reverse, each line the mirror of one in forward. This is the note's "FCN-8s 상세", in code:
""")
for fn in (models.FCN.forward, models.FCN.backward):
    print(textwrap.indent(inspect.getsource(fn), "    "))
say("""
    In backward, a sum passes its gradient unchanged to both inputs: dh goes on down through
    upscore2 (or upscore_pool4), and a copy goes through the crop's backward (zeros outside the
    window) and the score layer into the pool's gradient, dpools, which score_fr_backward adds
    where the trunk reaches that pool. Exercise 05 has you write that fusion, forward and
    backward.
""")

# %% 2. Where the crop offsets come from: coordinate maps
section("2. Where the crop offsets come from: coordinate maps")
say("""
    Each layer relates a pixel o of its output to a place i of its input. A convolution or
    pooling with kernel k, stride s and padding p centres its window of output pixel o at

        i = s·o + (k − 1)/2 − p

    and a transposed convolution maps the other way, i = (o − (k − 1)/2 + p)/s. These maps are
    affine (i = a·o + b) and compose into one affine map per blob: "pixel o of this blob is
    centred on image pixel a·o + b" (minifcn.geometry; Caffe's coord_map). Along FCN-32s:
""")
m32 = tiny["fcn32s"]
names = {id(m): n for n, m in m32.named_modules()}
print(f"{'layer':>9} {'k':>3} {'s':>3} {'pad':>4}   {'this layer: i =':<18} "
      f"{'image ← blob: i =':<20}")
total, maps = geometry.IDENTITY, {}
for layer in m32.score_fr_path() + [m32.upscore]:
    spec = geometry.layer_spec(layer)
    if spec is None:                          # ReLU, dropout: pixels stay where they are
        continue
    kind, k, s, p = spec[:4]
    one = geometry.coord_map(*spec)
    total = total.then(one)
    maps[names[id(layer)]] = (one, total)
    print(f"{names[id(layer)]:>9} {k:>3} {s:>3} {p:>4}   {affine(one):<18} {affine(total):<20}")
offset32 = geometry.crop_offset(m32.score_fr_path() + [m32.upscore])
fc6_shift = maps["fc6"][0].shift
say(f"""
    Read the last column down. conv1_1's padding moves everything by −100
    ({fmt(maps['conv1_1'][0].shift)} with the centre of the 3×3 window). Each pool doubles the
    scale and moves the centre by half of one of its input pixels (half the scale before it,
    in image pixels); fc6's 7×7 window is centred {fmt(fc6_shift)} pool5 pixels =
    {fmt(fc6_shift * maps['pool5'][1].scale)} image pixels in. The deconvolution brings the
    scale back to 1: pixel o of upscore sits on image pixel {affine(total)}, so the image
    starts at upscore pixel {offset32}. That is the crop: {offset32}.

    For the skips, two blobs are summed pixel by pixel, so they must have the same scale, and
    the crop is the difference of their shifts in pixels of that scale:
""")
names16 = {id(m): n for n, m in tiny["fcn16s"].named_modules()}
names8 = {id(m): n for n, m in tiny["fcn8s"].named_modules()}
for name in ("fcn16s", "fcn8s"):
    m = tiny[name]
    up2 = m.score_fr_path() + [m.upscore2]
    pool4 = m.trunk("pool4") + [m.score_pool4]
    a, b = geometry.path_map(up2), geometry.path_map(pool4)
    print(f"{name:>6}  upscore2:      i = {affine(a):<13} score_pool4: i = {affine(b):<13} "
          f"→ crop ({fmt(a.shift)} − ({fmt(b.shift)}))/{fmt(a.scale)} = "
          f"{geometry.crop_offset(pool4, like=up2)}")
    if name == "fcn8s":
        up4 = up2 + [m.upscore_pool4]
        pool3 = m.trunk("pool3") + [m.score_pool3]
        a, b = geometry.path_map(up4), geometry.path_map(pool3)
        print(f"{name:>6}  upscore_pool4: i = {affine(a):<13} score_pool3: i = {affine(b):<13} "
              f"→ crop ({fmt(a.shift)} − ({fmt(b.shift)}))/{fmt(a.scale)} = "
              f"{geometry.crop_offset(pool3, like=up4)}")
        final = up4 + [m.upscore8]
    else:
        final = up2 + [m.upscore16]
    f = geometry.path_map(final)
    last = (names8 if name == "fcn8s" else names16)[id(final[-1])] + ":"
    print(f"{name:>6}  {last:<14} i = {affine(f):<13} → crop {geometry.crop_offset(final)}")
print("the models' own crops:", {name: m.crop_offsets for name, m in tiny.items()})

# %% 3. Change conv1_1's padding and watch the offsets
section("3. Change conv1_1's padding and watch the offsets")
say("""
    The same computation for other paddings of conv1_1 (models.get_model(...,
    conv1_1_padding=p) computes its crops this way when it is built):
""")
print(f"{'pad':>4}   {'FCN-32s':<12} {'FCN-16s':<16} {'FCN-8s':<20}")
for pad in (100, 99, 97, 81, 80, 70, 1):
    cells = []
    for name in ("fcn32s", "fcn16s", "fcn8s"):
        try:
            m = models.get_model(name, n_class=2, base_channels=1, fc_channels=2,
                                 conv1_1_padding=pad)
            cells.append(" / ".join(str(v) for v in m.crop_offsets.values()))
        except ValueError:
            cells.append("impossible")
    print(f"{pad:>4}   {cells[0]:<12} {cells[1]:<16} {cells[2]:<20}")
say(f"""
    The skip crops ({tiny['fcn8s'].crop_offsets['score_pool4c']} and
    {tiny['fcn8s'].crop_offsets['score_pool3c']}) never move: both blobs of a sum come through
    conv1_1, so a change of its padding shifts them alike. The final crop follows the padding
    one for one, and below a certain padding it would have to be negative: the upsampled
    output would start inside the image and could not cover it ("impossible": the model
    refuses to be built). An odd kernel or a half-pixel shift could likewise make an offset
    fractional; minifcn.geometry refuses those too, instead of cropping one pixel off.
""")

# %% 4. Why pad 100
section("4. Why pad 100")


def pool5_size(size, pad):
    """Side of pool5 for a size×size input when conv1_1 pads by ``pad``."""
    n = minifcn.functional.conv_output_size(size, 3, 1, pad)       # conv1_1
    for _ in range(5):                                             # pool1 … pool5 (ceil mode)
        if n < 2:
            return 0                                               # nothing left to pool
        n = minifcn.functional.pool_output_size(n, 2, 2, 0, ceil_mode=True)
    return n


def smallest_input(pad):
    size = 1
    while pool5_size(size, pad) < 7:
        size += 1
    return size


say("""
    fc6 is a 7×7 convolution over pool5 without padding: pool5 must be at least 7×7, or there is
    nothing to compute. With VGG's own padding of 1, pool5 is 1/32 of the input, so the input
    must be about 7·32 px. The smallest input that still gives fc6 its 7×7, for a few paddings
    of conv1_1 (counted through the real size rules of conv and ceil-mode pooling):
""")
for pad in (1, 50, 96, 97, 100):
    print(f"  pad {pad:>3}: smallest input {smallest_input(pad):>3}×{smallest_input(pad):<3}   "
          f"(pool5 of a 1×1 image: {pool5_size(1, pad)}×{pool5_size(1, pad)})")
min_pad = next(p for p in range(1, 200) if smallest_input(p) == 1)
growth = {s: (s + 198) ** 2 / s ** 2 for s in (500, 64)}
say(f"""
    From pad {min_pad} on, even a 1×1 image is enough; 100 is a round number just above
    it. The authors' FAQ says the padding "guarantees that the network output can be aligned
    to the input for any input size" of the datasets, and that one could compute exact offsets
    and do without it. The price: conv1_1 works on 698×698 pixels for a 500×500 image
    ({growth[500]:.1f}× the pixels) and on 262×262 for our 64×64 shapes ({growth[64]:.1f}×).
    Most of what the small FCNs of these lessons compute is padding, which is why they are
    slower than their widths suggest.
""")

# %% 5. Coarse and fine: the three nets, trained in stages
section("5. Coarse and fine: the three nets, trained in stages")
its = {name: n for name, _, n in make_pretrained.STAGES}
say(f"""
    The paper trains FCN-32s from VGG16, then FCN-16s starting from FCN-32s, then FCN-8s from
    FCN-16s ("staged training", CVPR 2015 §4.2): each new net copies every parameter it shares
    with the last (copy_params_from: the trunk, fc6, fc7, score_fr, and from FCN-16s also
    score_pool4). Its new score layer starts at zero, so on its first iteration it predicts
    exactly what its parent did, and only learns to add detail.

    Training the three takes about a quarter of an hour, so this lesson looks at three that
    lessons/make_pretrained.py trained that way (data/pretrained/; its manifest.json records
    the command, the data and the metrics; --train trains them again instead). They are the
    main job's nets: widths 8…64, fc6/fc7 128 channels, on the 128×128 shapes data, from
    scratch with the main job's recipe (Adam; lesson 06 says why a net trained from scratch
    needs it), FCN-32s for {its['fcn32s']} iterations, then FCN-16s for {its['fcn16s']} and
    FCN-8s for {its['fcn8s']}. Their geometry is the main job's, not sections 1–4's: fc6
    pads by 3 (a "same" 7×7 convolution), so pool5 needs no minimum size and conv1_1 no
    padding at all, which makes a training step about half as costly at 128×128 (minifcn
    computes the rows that see only the paper's padding once: docs/models.md). The upsampled
    coarse scores then reach a pool4/pool3 cell or two past the skips' maps (a negative crop
    offset below);
    the skip crops fill those cells with zeros, and all of them lie outside the image
    (docs/models.md, *Geometry*).
""")
nets = _common.pretrained_models(args)
jet_root = data.default_train_data()                 # the main job's 128×128 shapes data
val = data.load_dataset(jet_root, "val")
labels = {"fcn32s": "FCN-32s", "fcn16s": "FCN-16s", "fcn8s": "FCN-8s"}
print(f"{'model':>8} {'conv1_1 pad':>11} {'crops':>18} {'pixel acc':>9} {'mean IU':>8}   "
      f"(all {len(val)} validation images)")
scores = {}
for name, net in nets.items():
    scores[name] = minifcn.evaluate(net, val)
    crops = ", ".join(str(v) for v in net.crop_offsets.values())
    print(f"{labels[name]:>8} {net.conv1_1_padding:>11} {crops:>18} "
          f"{scores[name]['acc']:>9.3f} {scores[name]['mean_iu']:>8.3f}")
iu = [scores[n]["mean_iu"] for n in ("fcn32s", "fcn16s", "fcn8s")]
order = ("each skip raised mean IU: " if iu[0] < iu[1] < iu[2] else
         "here the skips did not raise mean IU at every step: ")
say(f"""
    {order}{iu[0]:.3f} → {iu[1]:.3f} → {iu[2]:.3f}. In the paper's Table 2 (CVPR 2015, a
    subset of VOC2011 val) the same staging gives 59.4 → 62.4 → 62.7 mean IU: a gain made at the
    boundaries, few pixels but exactly where a 32-pixel grid shows. On 128×128 images the 1/32
    grid has four cells across the image, so even a perfect FCN-32s could not outline shapes a
    few tens of pixels wide (lesson 01 measured the best any 1/32 map can do), while
    FCN-8s predicts on 8-pixel cells.
""")

# %% The predictions side by side (no training: rerun this cell alone)
show = [0, 1, 2, 3]
rows = [[val[i][0]] + [minifcn.predict(nets[n], val[i][0]) for n in labels] + [val[i][1]]
        for i in show]
path = plots.plot_label_grid(
    rows, val.class_names, os.path.join(args.out, "skip_predictions.png"),
    col_titles=["image"] + [f"{labels[n]}\nmean IU {scores[n]['mean_iu']:.3f}" for n in labels]
    + ["ground truth"], palette=plots.dataset_palette(val),
    title="Coarse to fine: the same validation images through FCN-32s, FCN-16s and FCN-8s")
print(f"[figure] {path}")

# %% 6. The deep jet, measured
section("6. The deep jet, measured")
say("""
    Now take the trained FCN-8s apart. Its scores are summed coarse to fine: score_fr (1/32,
    from fc7), then fuse_pool4 = upscore2(score_fr) + score_pool4c (1/32 + 1/16), then
    fuse_pool3 = upscore_pool4(fuse_pool4) + score_pool3c (1/32 + 1/16 + 1/8), which upscore8
    brings to the image. Each partial sum is a full score map, only coarser: upsampled
    bilinearly by its remaining factor and cropped where its coordinate map says
    (minifcn.deepjet), it is a prediction of its own, the one an FCN-32s or FCN-16s head would
    make from these same features. The paper's Figure 4 shows this on one VOC image, its Table 2
    in numbers.

    Two numbers per stage, over the whole validation set: mean IU (per class, the pixels
    predicted and labelled as it divided by those predicted or labelled as it, averaged over
    the classes; lesson 07 builds it from a confusion matrix), and mean IU near the
    boundaries, where the skips are supposed to help. "Near" cannot mean "within k pixels of an
    edge": a 2-pixel void band runs along every boundary and is not scored. So the band is the
    labelled pixels within 3 pixels of that void or of another class (metrics.boundary_band).
""")
m8 = nets["fcn8s"]
jet = deepjet.evaluate_stages(m8, val)
print(f"{'stage':>20} {'mean IU':>8} {'boundary IU':>12} {'pixel acc':>10}")
for stage, r in jet.items():
    print(f"{stage:>20} {r['mean_iu']:>8.3f} {r['boundary_iu']:>12.3f} {r['acc']:>10.3f}")
stage_names = list(jet)
near = [jet[k]["boundary_iu"] for k in stage_names]
whole = [jet[k]["mean_iu"] for k in stage_names]
best = max(range(6), key=lambda i: metrics.label_accuracy_score(
    [val[i][1]], [minifcn.predict(m8, val[i][0])], val.n_class)[2])
indices = sorted({best, 0, 1})
path = deepjet.plot_stages(m8, val, indices, jet, os.path.join(args.out, "deep_jet.png"),
                           title="The deep jet of FCN-8s: 1/32, + 1/16, + 1/8 (mean IU and "
                                 "boundary IU over the validation set)")
print(f"[figure] {path}")
rising = all(a < b for a, b in zip(whole, whole[1:])) and all(a < b for a, b in zip(near,
                                                                                  near[1:]))
say(f"""
    From 1/32 alone to all three scales, mean IU went {whole[0]:.3f} → {whole[-1]:.3f} and
    boundary IU {near[0]:.3f} → {near[-1]:.3f}"""
    + (", and both rose with each skip." if rising else ", though not with every skip.")
    + f"""
    Near the boundaries every stage scores {'lower' if all(n < w for n, w in zip(near, whole))
    else 'not always lower'} than over the whole image: edges are the hardest pixels, for
    FCN-8s too. The 1/32 map has {128 // 32}×{128 // 32} cells over these 128×128 images: it can
    say *what* and roughly *where*, not the shape; the figure shows its predictions as blobs.
    The skips, computed from layers that have seen less context but sit on a finer grid, move
    the boundaries into place. That is the note's point: earlier layers keep the detail that
    the last one has pooled away, and adding their predictions brings it back. (Both the
    coarse stage and the skips were trained here as parts of one FCN-8s; in the paper's Table
    2 the separately trained FCN-32s and FCN-16s make the same comparison.)
""")

# %% Summary and questions
_common.summary([
    f"Every layer maps an output pixel to an input position, i = a·o + b; composed along a "
    f"path, these maps give the crop offsets instead of magic numbers: "
    f"{', '.join(f'{n} {list(m.crop_offsets.values())}' for n, m in tiny.items())}.",
    "conv1_1's padding of 100 keeps fc6's 7×7 window inside pool5 for any input size; "
    "changing it moves the final crop and leaves the skips' crops alone.",
    f"Trained in stages, each from the one before with its new score layer at zero, FCN-32s, "
    f"16s and 8s reached {iu[0]:.3f}, {iu[1]:.3f} and {iu[2]:.3f} mean IU on the 128×128 "
    f"shapes.",
    f"The deep jet of one FCN-8s: boundary IU {near[0]:.3f} from 1/32 alone, {near[-1]:.3f} "
    f"with both skips; mean IU {whole[0]:.3f} → {whole[-1]:.3f}.",
], [
    "Why does score_pool4's crop stay 5 whatever conv1_1's padding, while the final crop moves "
    "with it?",
    "FCN-8s-at-once scales pool4 by 0.01 and pool3 by 0.0001 instead of training in stages. "
    "What would the first steps look like if the skip score layers read VGG16's unscaled "
    "pool3 features?",
    "Write coord_map, crop_offset and the skip fusion (fuse_forward, fuse_backward) in "
    "lessons/exercises/ex05_skip_layers.py and check them with "
    "`python lessons/exercises/check.py 5`, which also tries other paddings of conv1_1.",
], ko=([
    f"각 계층은 출력 픽셀을 입력 위치로 보냅니다, i = a·o + b. 경로를 따라 이 사상을 합성하면 "
    f"크롭 오프셋이 마법의 숫자가 아니라 계산으로 나옵니다: "
    f"{', '.join(f'{n} {list(m.crop_offsets.values())}' for n, m in tiny.items())}.",
    "conv1_1의 패딩 100은 어떤 입력 크기에서도 fc6의 7×7 윈도우가 pool5 안에 들어가게 합니다. "
    "이 값을 바꾸면 마지막 크롭만 움직이고 스킵의 크롭은 그대로입니다.",
    f"앞 단계에서 시작하고 새 점수 계층은 0에서 시작하는 단계별 학습으로 FCN-32s, 16s, 8s는 "
    f"128×128 도형 데이터에서 mean IU {iu[0]:.3f}, {iu[1]:.3f}, {iu[2]:.3f}에 이르렀습니다.",
    f"FCN-8s 하나의 deep jet: 경계 IU는 1/32만으로 {near[0]:.3f}, 두 스킵을 더하면 "
    f"{near[-1]:.3f}; mean IU는 {whole[0]:.3f} → {whole[-1]:.3f}.",
], [
    "conv1_1의 패딩이 바뀌어도 score_pool4의 크롭은 5로 그대로인데 마지막 크롭은 왜 함께 "
    "움직일까요?",
    "FCN-8s-at-once는 단계별 학습 대신 pool4에 0.01, pool3에 0.0001을 곱합니다. 스킵의 점수 "
    "계층이 VGG16의 pool3 특징을 그대로 읽는다면 처음 몇 번의 갱신은 어떻게 될까요?",
    "lessons/exercises/ex05_skip_layers.py의 coord_map, crop_offset과 스킵 융합(fuse_forward, "
    "fuse_backward)을 작성하고 `python lessons/exercises/check.py 5`로 확인하세요. conv1_1의 다른 "
    "패딩도 시험합니다.",
]))
