"""Lesson 05: skip layers. FCN-32s, FCN-16s and FCN-8s (the note's §2.2).

pool5 is 1/32 of the input, so an FCN's last score map is coarse: one prediction per 32×32 block.
FCN-32s upsamples it ×32 in one step. FCN-16s first upsamples it ×2, adds a score map computed
from pool4 (1/16, finer), and upsamples the sum ×16; FCN-8s does the same once more with pool3
(1/8). The paper calls these coarse-to-fine paths the "deep jet". This lesson follows the blobs
through the three nets, derives the crop offsets (19; 5 and 27; 5, 9 and 31) and the 100-pixel
padding from the layers' coordinate maps, then trains the three in stages, as the paper does,
and puts their predictions side by side.
"""
# %% Setup
import os
import time

import _common
from _common import np, plt, say, section

import minifcn
from minifcn import backend, data, geometry, metrics, models, nn

args = _common.parse_args("05_skip_layers", "Skip layers: FCN-32s, FCN-16s and FCN-8s")
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

# %% 5. Coarse and fine: training the three in stages
section("5. Coarse and fine: training the three in stages")
n_first, n_stage = (20, 10) if args.quick else (800, 200)
batch = 1 if args.quick else 4
widths = dict(base_channels=4, fc_channels=32) if args.quick else dict(base_channels=8,
                                                                         fc_channels=64)
val_subset = 8 if args.quick else 60
shapes_root = data.ensure_shapes()            # the lessons' 64×64 data, not the main job's 128×128
shapes = data.load_dataset(shapes_root, "train")
# Adam, as the main job: from scratch, the paper's SGD recipe leaves these small nets answering
# "background" everywhere for thousands of images (lesson 06), and the deep jet below needs a
# net that has left that answer. The stages are the paper's either way.
recipe = dict(data=shapes_root, optimizer="adam", lr_policy="fixed", batch_size=batch, lr=1e-3,
              val_subset=val_subset, progress=False, seed=args.seed, device=dev)
say(f"""
    The paper trains FCN-32s from VGG16, then FCN-16s starting from FCN-32s, then FCN-8s from
    FCN-16s ("staged training"): each new net copies every parameter it shares with the last
    (copy_params_from: the trunk, fc6, fc7, score_fr, and from FCN-16s also score_pool4). Its
    new score layer starts at zero, so on its first iteration it predicts exactly what its
    parent did, and only learns to add detail.

    Here: the shapes dataset (64×64 images, 4 shapes + background), widths
    {widths['base_channels']}…{8 * widths['base_channels']} and fc6/fc7 {widths['fc_channels']}
    channels, from scratch (no ImageNet weights offline) with Adam at a fixed lr of 1e-3 instead
    of the paper's SGD (lesson 06 says why a net trained from scratch needs it), batches of
    {batch}. FCN-32s gets {n_first} iterations, then FCN-16s and FCN-8s {n_stage} each. As a
    control, a copy of FCN-32s also goes on for 2 × {n_stage} iterations, so that the extra
    training of the later stages is not mistaken for the skips' merit.
""" + ("""
    --quick: a few dozen iterations are far too few to learn the shapes; expect background
    everywhere and equal scores. Run without --quick for the real comparison.
""" if args.quick else ""))


def new_model(name):
    return models.get_model(name, n_class=shapes.n_class, input_convention="torchvision",
                            class_names=list(shapes.class_names), seed=args.seed, **widths)


runs, total_its = {}, {}
out = os.path.join(args.out, "runs")
stages = (("FCN-32s", "fcn32s", None, n_first), ("FCN-16s", "fcn16s", "FCN-32s", n_stage),
          ("FCN-8s", "fcn8s", "FCN-16s", n_stage),
          ("FCN-32s, continued", "fcn32s", "FCN-32s", 2 * n_stage))
for label, name, parent, its in stages:
    model = new_model(name)
    if parent:
        copied = model.copy_params_from(runs[parent]["model"]).copied
        layers = {n.split(".")[0] for n, _ in model.named_parameters()}
        new = sorted(layers - {n.split(".")[0] for n in copied})
        print(f"{label}: copied {len(copied)} arrays from {parent}; new: "
              f"{', '.join(new) if new else 'none'}")
    t0 = time.perf_counter()
    run_dir = os.path.join(out, label.replace(", ", "_").lower())
    runs[label] = minifcn.train(model=model, out=run_dir, overwrite=True, iterations=its,
                                eval_every=its, **recipe)
    total_its[label] = its + (total_its[parent] if parent else 0)
    print(f"{label:>18}: {its} iterations" + (f" from {parent}" if parent else " from scratch")
          + f", {time.perf_counter() - t0:.0f} s, mean IU "
          f"{runs[label]['metrics']['mean_iu']:.3f}")

print(f"\n{'model':>18} {'iterations':>10} {'pixel acc':>9} {'mean acc':>9} {'mean IU':>8} "
      f"{'f.w. IU':>8}   (on {val_subset} validation images)")
for label, r in runs.items():
    s = r["metrics"]
    print(f"{label:>18} {total_its[label]:>10} {s['acc']:>9.3f} {s['acc_cls']:>9.3f} "
          f"{s['mean_iu']:>8.3f} {s['fwavacc']:>8.3f}")
stuck = [k for k, r in runs.items() if r["metrics"]["acc_cls"] < 1 / shapes.n_class + 1e-3]
if stuck:
    others = [k for k in runs if k not in stuck]
    named = [", ".join(others[:-1]), others[-1]] if len(others) > 1 else others
    say(f"""
        {', '.join(stuck)} still answer{'s' if len(stuck) == 1 else ''} background everywhere
        (mean accuracy 1/{shapes.n_class}: one class right, the others never predicted)""" +
        (f", while {' and '.join(named)} do{'es' if len(others) == 1 else ''} not." if others
         else ".") + """ From scratch, these nets need a few thousand training images
        before they leave that answer, and whether a net has left it yet weighs more in this
        table than its architecture. Raise n_first and n_stage in this file to compare nets
        that have all left it; the geometry above does not depend on it.
    """)
fine = runs["FCN-8s"]["metrics"]["mean_iu"]
coarse = runs["FCN-32s, continued"]["metrics"]["mean_iu"]
say(f"""
    (Lesson 07 explains the four scores; mean IU is the one to read.) After the same number
    of iterations, FCN-8s scores {fine:.3f} and the continued FCN-32s {coarse:.3f}. On VOC the
    skips add 1.4 and then 0.5 points of mean IU (63.6 → 65.0 → 65.5 for the authors' FCN-32s,
    16s, 8s; docs/fcn.md §8): a small gain, made at the boundaries, few pixels but exactly where a
    32-pixel grid shows. On our 64×64 images the 1/32 grid has about two cells across the
    image, so even a perfect FCN-32s could not outline shapes a few tens of pixels wide
    (lesson 01 measured the best any 1/32 map can do), while FCN-8s predicts on 8-pixel
    cells. One small run: a few points either way are noise.
""")

# %% The predictions side by side (no training: rerun this cell alone)
val = data.load_dataset(data.ensure_shapes(), "val")
show = [0, 1, 2, 3]
labels = ["FCN-32s", "FCN-32s, continued", "FCN-16s", "FCN-8s"]
fig, axes = plt.subplots(len(show), 2 + len(labels), figsize=(2.0 * (2 + len(labels)),
                                                               2.0 * len(show)))
for row, i in enumerate(show):
    image, label = val[i]
    cells = [(image, "image"), (data.colorize(label), "ground truth")]
    cells += [(data.colorize(minifcn.predict(runs[k]["model"], image)), k) for k in labels]
    for ax, (img, title) in zip(axes[row], cells):
        ax.imshow(img)
        ax.axis("off")
        if row == 0:
            ax.set_title(title, fontsize=9)
fig.suptitle("Coarse to fine: the same images through FCN-32s, FCN-16s and FCN-8s"
             + (" (--quick: barely trained)" if args.quick else ""), fontsize=10)
_common.save_figure(fig, args, "skip_predictions.png")

# %% 6. The deep jet: the 1/32, 1/16 and 1/8 scores and their sums
section("6. The deep jet: the 1/32, 1/16 and 1/8 scores and their sums")
say("""
    Take the trained FCN-8s apart on one validation image. score_fr is the coarse prediction
    (1/32); score_pool4c and score_pool3c are the corrections that pool4 (1/16) and pool3 (1/8)
    add; fuse_pool4 and fuse_pool3 are the running sums, i.e. what FCN-16s and FCN-8s see before
    their last upsampling. Every blob is drawn where its coordinate map puts it on the image
    (a pixel o of a blob at scale a covers image pixels a·o + b ± a/2), so the 1/32 cells are
    32 pixels wide and reach into the padding beyond the image's edges.
""")
m8 = runs["FCN-8s"]["model"]
# The image of the first ten that FCN-8s gets most right, and its largest object class.
best = max(range(10), key=lambda i: metrics.label_accuracy_score(
    [val[i][1]], [minifcn.predict(m8, val[i][0])], val.n_class)[2])
image, label = val[best]
x = backend.to_device(data.preprocess(image, m8.input_convention)[None], m8.device)
m8.eval()
with nn.no_grad():
    _, blobs8 = m8.forward(x, return_blobs=True)
    jet = {k: backend.to_cpu(v[0]) for k, v in blobs8.items()}
paths = {"score_fr": m8.score_fr_path(),
         "upscore2": m8.score_fr_path() + [m8.upscore2],
         "score_pool4c": m8.trunk("pool4") + [m8.score_pool4, m8.score_pool4c],
         "score_pool3c": m8.trunk("pool3") + [m8.score_pool3, m8.score_pool3c]}
paths["fuse_pool4"] = paths["upscore2"]
paths["fuse_pool3"] = paths["upscore2"] + [m8.upscore_pool4]
paths["score"] = paths["fuse_pool3"] + [m8.upscore8, m8.score]
for key in ("score_fr", "score_pool4c", "score_pool3c", "fuse_pool4", "fuse_pool3", "score"):
    cm = geometry.path_map(paths[key])
    print(f"{key:>13}: {jet[key].shape[1]:>2}×{jet[key].shape[2]:<2} pixels, i = {affine(cm)}")
counts = np.bincount(label[label < val.n_class].ravel(), minlength=val.n_class)
cls = int(counts[1:].argmax()) + 1
H, W = label.shape


def place(ax, blob, key, cmap=None, vmin=None, vmax=None):
    """Draw a blob where its coordinate map says it lies on the image."""
    cm = geometry.path_map(paths[key])
    a, b = float(cm.scale), float(cm.shift)
    h, w = blob.shape[:2]
    ax.imshow(blob, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
              extent=(b - a / 2, b + a * (w - 0.5), b + a * (h - 0.5), b - a / 2))
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.axis("off")


fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
axes[0, 0].imshow(image)
axes[0, 0].set_title("image")
axes[1, 0].imshow(data.colorize(label))
axes[1, 0].set_title("ground truth")
for ax in axes[:, 0]:
    ax.axis("off")
name = val.class_names[cls]
for ax, key, title in zip(axes[0, 1:], ("score_fr", "score_pool4c", "score_pool3c"),
                          ("1/32: score_fr", "1/16: score_pool4c", "1/8: score_pool3c")):
    v = jet[key][cls] - jet[key][0]
    lim = max(float(np.abs(v).max()), 1e-6)
    place(ax, v, key, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(f"{title}\n{name} − background", fontsize=9)
for ax, key, title in zip(axes[1, 1:], ("upscore2", "fuse_pool3", "score"),
                          ("1/32 alone (×2)", "1/32 + 1/16 + 1/8 (fuse_pool3)", "FCN-8s output")):
    place(ax, data.colorize(jet[key].argmax(axis=0)), key)
    ax.set_title(title, fontsize=9)
fig.suptitle("The deep jet of FCN-8s: coarse scores plus finer corrections"
             + (" (--quick: barely trained)" if args.quick else ""), fontsize=10)
_common.save_figure(fig, args, "deep_jet.png")
coarse_has, fine_has = (bool((jet[key].argmax(axis=0) == cls).any())
                        for key in ("upscore2", "fuse_pool3"))
if coarse_has:
    coarse_alone = f'alone, it does answer "{name}" here'
else:
    coarse_alone = (f'alone, it does not even answer "{name}" anywhere here; the finer '
                    f'corrections do' + ("" if fine_has else " not either"))
say(f"""
    Top row: how much more the net believes "{name}" than "background" at each scale (red: more),
    each drawn at its own resolution. Bottom row: the class with the highest summed score,
    after the coarse path alone and after adding the finer corrections. The 1/32 map has only
    {jet["score_fr"].shape[1]}×{jet["score_fr"].shape[2]} cells over this {H}×{W} image: it can
    say *what* and roughly *where*, not the shape ({coarse_alone}). The skips, computed from
    layers that have seen less context but sit on a finer grid, add the detail and move the
    boundaries. That is the note's point: earlier layers keep the detail the last one has
    pooled away, and adding their predictions brings it back.
""")

# %% Summary and questions
_common.summary([
    f"Every layer maps an output pixel to an input position, i = a·o + b; composed along a "
    f"path, these maps give the crop offsets instead of magic numbers: "
    f"{', '.join(f'{n} {list(m.crop_offsets.values())}' for n, m in tiny.items())}.",
    "conv1_1's padding of 100 keeps fc6's 7×7 window inside pool5 for any input size; "
    "changing it moves the final crop and leaves the skips' crops alone.",
    f"Trained in stages, each from the one before with new score layers at zero, FCN-8s "
    f"scored {fine:.3f} mean IU and FCN-32s trained as long {coarse:.3f}: "
    + ("the skips helped in this run." if fine > coarse else
       "in this run the skips did not help; one small run decides little."),
    f"The deep jet: the 1/32 scores have {jet['score_fr'].shape[1]}×"
    f"{jet['score_fr'].shape[2]} cells on this image; the 1/16 and 1/8 corrections are where "
    f"boundaries can come from.",
], [
    "Why does score_pool4's crop stay 5 whatever conv1_1's padding, while the final crop moves "
    "with it?",
    "FCN-8s-at-once scales pool4 by 0.01 and pool3 by 0.0001 instead of training in stages. "
    "What would the first steps look like if the skip score layers read VGG16's unscaled "
    "pool3 features?",
    "Write coord_map and crop_offset in lessons/exercises/ex05_skip_layers.py and check them "
    "with `python lessons/exercises/check.py 5`, which also tries other paddings of conv1_1.",
])
