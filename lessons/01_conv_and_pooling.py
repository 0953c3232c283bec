"""Lesson 01: convolution and pooling from scratch.

The note's §1.1 A: classification networks stack convolution + pooling to get strong features
that do not care *where* things are; segmentation needs exactly that *where*. This lesson builds
the two operations, checks the fast convolution against plain loops, follows the feature maps
as they shrink, and measures both sides of pooling: what it buys and what it costs.
"""
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup
from _common import np, plt, say, section

from minifcn import backend, data, metrics, nn, plots
from minifcn import functional as F

args = _common.parse_args("01_conv_and_pooling", "Convolution and pooling from scratch")
_common.intro(args)
rng = np.random.default_rng(args.seed)
dev = args.device

# %% 1. Convolution, two ways
section("1. Convolution, two ways")
say("""
    A convolution slides a small filter over the image. Output pixel (i, j) of output channel o
    is one dot product: the filter w[o] (C × kh × kw numbers) times the C × kh × kw window of
    the input under it, plus a bias. The plainest code loops over the output pixels.
    minifcn keeps that loop as a reference (minifcn.functional.naive.conv2d_naive).

    The fast way is im2col: copy every window into one column of a matrix,
    cols (C·kh·kw, oh·ow), so that the whole convolution is one matrix product
    W.reshape(O, C·kh·kw) @ cols. Same arithmetic, but done by an optimised matrix library
    instead of a Python loop.
""")
size = 32 if args.quick else 64
x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
b = rng.standard_normal(16).astype(np.float32)
naive = F.naive.conv2d_naive(x, w, b, stride=1, padding=1)
cols = F.im2col(x, 3, stride=1, padding=1)                  # (C·kh·kw, N·oh·ow)
by_hand = (w.reshape(16, -1) @ cols).reshape(16, 2, size, size).transpose(1, 0, 2, 3)
by_hand = by_hand + b[None, :, None, None]
xd, wd, bd = (backend.to_device(a, dev) for a in (x, w, b))
fast, _ = F.conv2d_forward(xd, wd, bd, stride=1, padding=1)
fast = backend.to_cpu(fast)
t_naive = _common.best_time(lambda: F.naive.conv2d_naive(x, w, b, padding=1))


def run_fast():
    out, _ = F.conv2d_forward(xd, wd, bd, padding=1)
    backend.synchronize(out)


t_fast = _common.best_time(run_fast)
print(f"input {x.shape}, filters {w.shape}, padding 1 → output {naive.shape}")
print(f"im2col matrix for both images: {cols.shape}  (C·kh·kw, N·oh·ow)")
print(f"max |naive − W @ cols|           = {np.abs(naive - by_hand).max():.2e}")
print(f"max |naive − conv2d_forward|     = {np.abs(naive - fast).max():.2e}  ({dev})")
print(f"largest output value {np.abs(naive).max():.1f}, so the difference is "
      f"{np.abs(naive - fast).max() / np.abs(naive).max():.0e} of it")
print(f"time: naive loops {t_naive * 1e3:.1f} ms, im2col {t_fast * 1e3:.2f} ms "
      f"→ {t_naive / t_fast:.0f}× faster")
say("""
    The differences are float32 rounding (float32 keeps about 7 significant digits): the two
    codes add the same products in a different order. That is how every fast kernel in minifcn
    is trusted: it is compared against a loop that is obviously right.
""")

# The im2col picture: pixels numbered 0..63 of a 1-channel 8×8 image, 3×3 windows without
# padding → a 6×6 output, so 9 rows × 36 columns. Output pixel (1, 2) is column 1·6 + 2 = 8.
small = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
small_cols = F.im2col(small, 3)                             # (9, 36)
fig, axes = plt.subplots(1, 2, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1, 3.6]})
for ax, img in zip(axes, (small[0, 0], small_cols)):
    ax.imshow(img, cmap="Blues", aspect="auto", vmax=100)
    for (yy, xx), v in np.ndenumerate(img):
        ax.text(xx, yy, int(v), ha="center", va="center", fontsize=7)
axes[0].add_patch(plt.Rectangle((1.5, 0.5), 3, 3, fill=False, ec="red", lw=2))
axes[0].set_title("8×8 input (pixel numbers), the window\nof output pixel (1, 2)")
axes[1].add_patch(plt.Rectangle((7.5, -0.5), 1, 9, fill=False, ec="red", lw=2))
axes[1].set_title("im2col: one column per output pixel (6×6 = 36), one row per (ky, kx)")
axes[1].set_xlabel("output pixel, row-major")
_common.save_figure(fig, args, "im2col.png")


# %% 2. How feature maps shrink, and what one output pixel sees
section("2. How feature maps shrink, and what one output pixel sees")
say("""
    VGG16, the classifier FCN is built from, has five stages of 3×3 convolutions (padding 1:
    size kept), each ended by a 2×2 max pooling with stride 2 (size halved). A pixel of a deeper
    map depends on a larger patch of the image: its receptive field. With r the field and j the
    spacing of the map's pixels measured in input pixels ("jump"), a layer of kernel k and
    stride s gives

        r_out = r_in + (k − 1) · j_in          j_out = j_in · s

    VGG16 on its 224×224 ImageNet input, with fc6 seen as a 7×7 convolution (lesson 03):
""")


def grow(r, j, k, s):
    """Receptive field and jump after a layer of kernel k and stride s."""
    return r + (k - 1) * j, j * s


vgg = ([("conv1_1", 3, 1, 1, 64), ("conv1_2", 3, 1, 1, 64), ("pool1", 2, 2, 0, 64)]
       + [(f"conv2_{i}", 3, 1, 1, 128) for i in (1, 2)] + [("pool2", 2, 2, 0, 128)]
       + [(f"conv3_{i}", 3, 1, 1, 256) for i in (1, 2, 3)] + [("pool3", 2, 2, 0, 256)]
       + [(f"conv4_{i}", 3, 1, 1, 512) for i in (1, 2, 3)] + [("pool4", 2, 2, 0, 512)]
       + [(f"conv5_{i}", 3, 1, 1, 512) for i in (1, 2, 3)] + [("pool5", 2, 2, 0, 512)]
       + [("fc6 (7×7)", 7, 1, 0, 4096)])
n, r, j = 224, 1, 1
print(f"{'layer':>10} {'k':>2} {'s':>2} {'pad':>3} {'channels':>8} {'size':>5} {'jump':>5} "
      f"{'field':>5}")
for name, k, s, p, c in vgg:
    n = F.conv_output_size(n, k, s, p)
    r, j = grow(r, j, k, s)
    print(f"{name:>10} {k:>2} {s:>2} {p:>3} {c:>8} {n:>5} {j:>5} {r:>5}")
say("""
    The map shrinks 32× (224 → 7) while the channels grow (3 → 512): less *where*, more *what*.
    A pool5 pixel sees most of the image, an fc6 output more than all of it (the field counts
    the zero padding around the image).

    Check the formula by experiment on VGG's first two stages (with 4 channels). Make every
    weight positive and every bias zero, and feed a batch of images that are black except for
    one lit pixel each, one image per pixel position. The centre output is then > 0 exactly when
    the lit pixel is inside its receptive field.
""")
stack = [nn.Conv2d(1, 4, 3, padding=1, seed=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, seed=2),
         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1, seed=3), nn.ReLU(),
         nn.Conv2d(4, 4, 3, padding=1, seed=4), nn.ReLU(), nn.MaxPool2d(2)]
r, j = 1, 1
for layer in stack:
    if isinstance(layer, nn.Conv2d):
        layer.weight.data = np.abs(layer.weight.data)
        layer.bias.data[...] = 0
        r, j = grow(r, j, layer.kernel_size[0], layer.stride[0])
    elif isinstance(layer, nn.MaxPool2d):
        r, j = grow(r, j, layer.kernel_size, layer.stride)
S = 32
h = np.eye(S * S, dtype=np.float32).reshape(S * S, 1, S, S)   # image i lights pixel i
with nn.no_grad():
    for layer in stack:
        h = layer(h)
c = h.shape[-1] // 2
seen = (h[:, 0, c, c] > 0).reshape(S, S)
ys, xs = np.nonzero(seen.any(1))[0], np.nonzero(seen.any(0))[0]
print(f"output pixel ({c}, {c}) of the {h.shape[-1]}×{h.shape[-1]} map after two stages:")
first = j * c + (j - r) // 2      # the field is centred on the pixel's own j×j block
print(f"  formula: {r}×{r} input pixels, rows and columns {first}–{first + r - 1}")
print(f"  measured: {len(ys)}×{len(xs)}, rows {ys[0]}–{ys[-1]}, columns {xs[0]}–{xs[-1]}")

# %% 3. Why pooling gives spatial invariance
section("3. Why pooling gives spatial invariance")
say("""
    A max pooling keeps the largest value of each 2×2 window. Move the input by one pixel and
    the largest value often stays in the same window: the pooled map barely changes. After
    several poolings a shift of a pixel or two hardly shows at all. That is the note's "strong
    feature": it survives small changes of the input, which is what a classifier wants (a cat
    moved by two pixels is still a cat).

    Measure it: a stack of three [3×3 conv → ReLU → 2×2 max pool] stages with random filters,
    applied to 56×56 windows of our shapes images at horizontal offsets 0 and d. The number is
    ‖f(shifted) − f(original)‖ / ‖f(original)‖ at each stage, over a batch of images ('global max'
    is the maximum over all positions, as a classifier's last pooling would take). For contrast,
    the same three convolutions without pooling.
""")
root = data.ensure_shapes()
val = data.load_dataset(root, "val")
n_img = 8 if args.quick else 32
images = np.stack([val[i][0] for i in range(n_img)])
labels = np.stack([val[i][1] for i in range(n_img)])
x = data.preprocess(images, "torchvision")              # (N, 3, 64, 64), values around 0 ± 1
chans = [3, 16, 32, 64]
convs = [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, seed=args.seed + i).to(dev)
         for i in range(3)]
relu, pool = nn.ReLU(), nn.MaxPool2d(2)


def stages(x, pooling=True):
    """Feature maps after each stage, on the host, as a dict."""
    h = backend.to_device(np.ascontiguousarray(x), dev)
    out = {"input": h}
    for i, conv in enumerate(convs):
        h = relu(conv(h))
        if i == 0:
            out["conv1"] = h
        if pooling:
            h = pool(h)
            out[f"pool{i + 1}"] = h
    out["last" if not pooling else "global max"] = h.max(axis=(2, 3)) if pooling else h
    return {k: backend.to_cpu(v) for k, v in out.items()}


def change(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


shifts = (1, 2, 4)
with nn.no_grad():
    base = stages(x[:, :, :56, :56])
    base_np = stages(x[:, :, :56, :56], pooling=False)["last"]
    table = {d: stages(x[:, :, :56, d:d + 56]) for d in shifts}
    no_pool = {d: change(base_np, stages(x[:, :, :56, d:d + 56], False)["last"]) for d in shifts}
names = list(base)
print(f"{'shift':>5} " + " ".join(f"{k:>10}" for k in names) + f" {'3 convs, no pool':>17}")
for d in shifts:
    print(f"{d:>4}px " + " ".join(f"{change(base[k], table[d][k]):>10.3f}" for k in names)
          + f" {no_pool[d]:>17.3f}")
say("""
    Read across a row: the relative change falls stage after stage, and the convolutions alone
    (last column, same depth, no pooling) fall much less. Read down a column: the pooled maps
    tolerate a shift smaller than their stride (pool3 has stride 8) far better than a larger
    one. (What is left in 'global max' comes from content that enters or leaves the window at
    its edges.) This is what lets a classifier be sure of *what* is in the image.
""")
shifted = stages(x[:1, :, :56, 2:58])          # the image moved 2 pixels to the left
strides = {"conv1": 1, "pool1": 2, "pool2": 4, "pool3": 8}


def moved_back(key):
    """Equivariance: the shifted image's map, moved back by 2/stride cells (when that is a whole
    number) against the original's, inside a 2-cell margin (zero padding differs at edges)."""
    k = 2 // strides[key] if 2 % strides[key] == 0 else None
    if k is None:
        return None
    a, b = base[key][0], shifted[key][0]
    W = a.shape[2]
    return a[:, 2:-2, k + 2:W - 2], b[:, 2:-2, 2:W - 2 - k]


def agree(v):
    return "exactly" if v == 0 else f"to {v:.0e}"


equi = {key: change(*moved_back(key)) for key in strides if moved_back(key) is not None}
say(f"""
    Two different properties. *Equivariance*: a convolution's map moves with its input. Move
    the image 2 pixels and conv1's map moves 2 cells, pool1's 1 cell; moved back, they agree
    {agree(equi['conv1'])} and {agree(equi['pool1'])} (relative differences, away from the
    zero-padded edges). Lesson 03's heat maps rely on this: a cell of the map stays tied to a
    place in
    the image. *Invariance*: the map does not change at all. That only comes from pooling, and
    only for shifts smaller than a cell: for pool2 and pool3, 2 pixels is a fraction of a cell,
    nothing can be moved back, and what remains is the small difference of the table above.
    The figure shows both: the maps, their difference as they are, and (for conv1 and pool1)
    after moving the shifted map back.
""")
fig, axes = plt.subplots(4, 5, figsize=(13, 9.5), layout="constrained")
for row, (title, img) in enumerate([("offset 0", images[0, :56, :56]),
                                    ("offset 2", images[0, :56, 2:58])]):
    axes[row, 0].imshow(img)
    axes[row, 0].set_title(f"image, {title}", fontsize=10)
raw = np.abs(images[0, :56, :56].astype(np.float32) - images[0, :56, 2:58]).mean(-1)
axes[2, 0].imshow(raw, cmap="gray")
axes[2, 0].set_title("|difference| as is", fontsize=10)
axes[3, 0].text(0.5, 0.5, "moved back by\n2/stride cells:\nequivariance", ha="center",
                va="center", fontsize=10)
for ax in axes[:, 0]:
    ax.axis("off")
for col, key in enumerate(["conv1", "pool1", "pool2", "pool3"], start=1):
    channel = int(base[key][0].std(axis=(1, 2)).argmax())       # the liveliest channel
    pair = [base[key][0, channel], shifted[key][0, channel]]
    # both rows of a column on one colour scale, so that what differs is the map, not the scale
    plots.draw_shared_scale(axes[:2, col], pair, cmap="magma",
                            titles=[f"{key} ch{channel} {pair[0].shape[0]}×{pair[0].shape[1]}"] * 2)
    hi = float(np.abs(pair[0]).max()) or 1.0     # differences on the maps' own scale
    axes[2, col].imshow(np.abs(pair[0] - pair[1]), cmap="magma", vmin=0, vmax=hi)
    axes[2, col].set_title(f"|difference|: {change(base[key][:1], shifted[key]):.2f} relative",
                           fontsize=9)
    back = moved_back(key)
    if back is None:
        axes[3, col].text(0.5, 0.5, f"2 px = 1/{strides[key] // 2} cell:\nnothing to move back",
                          ha="center", va="center", fontsize=9)
    else:
        axes[3, col].imshow(np.abs(back[0][channel] - back[1][channel]), cmap="magma", vmin=0,
                            vmax=hi)
        axes[3, col].set_title(f"moved back {2 // strides[key]}: {agree(equi[key])}",
                               fontsize=9)
    for ax in axes[2:, col]:
        ax.set_xticks([])
        ax.set_yticks([])
moved = {k: change(base[k], table[2][k]) for k in ("conv1", "pool3")}
fig.suptitle(f"A 2-pixel shift: conv1 changes by {moved['conv1']:.2f} as it is but moves with "
             f"the image (equivariance); pool3 changes by {moved['pool3']:.2f} (invariance). "
             f"Differences on each column's scale", fontsize=11)
_common.save_figure(fig, args, "feature_maps.png")
fig, ax = plt.subplots(figsize=(6, 3.5))
for d in shifts:
    ax.plot(names, [change(base[k], table[d][k]) for k in names], marker="o", label=f"shift {d}")
ax.set_ylabel("relative change of the features")
ax.legend()
_common.save_figure(fig, args, "pooling_invariance.png")

# %% 4. What pooling costs: detail
section("4. What pooling costs: detail")
say("""
    Segmentation needs a class for every pixel. A network whose last map is 1/f of the image
    can give at most one answer per f×f block. Even a perfect one, answering each block with
    its most common true class, is wrong on every pixel of a block that a boundary crosses.

    Primer: mean IU. Two scores, here and in every later lesson. Pixel accuracy is the share of
    labelled pixels given their true class. The IU (intersection over union) of a class is
    |predicted ∩ true| / |predicted ∪ true|, counted in pixels: 1 when the class is found
    exactly, 0 when it is missed; mean IU averages it over the classes, so a small class weighs
    as much as the background. Both come from a confusion matrix, a table of counts by (true
    class, predicted class) over all pixels (metrics.ConfusionMatrix); lesson 07 builds all four
    of FCN's scores from it by hand.

    Score that best case on the validation labels (255, the thin void band, is not counted):
""")
cm_rows = []
for f in (1, 2, 4, 8, 16, 32):
    cm = metrics.ConfusionMatrix(val.n_class)
    blocky = []
    for lab in labels:
        H, W = lab.shape
        blocks = lab.reshape(H // f, f, W // f, f).transpose(0, 2, 1, 3).reshape(H // f, W // f, -1)
        votes = np.stack([(blocks == k).sum(-1) for k in range(val.n_class)], -1)
        best = np.repeat(np.repeat(votes.argmax(-1), f, 0), f, 1)   # back to full size
        cm.update(lab, best)
        blocky.append(best)
    s = cm.scores()
    cm_rows.append((f, s["acc"], s["mean_iu"], blocky))
    print(f"  1/{f:<2}  map {64 // f:>2}×{64 // f:<2}  best pixel accuracy "
          f"{100 * s['acc']:5.1f} %  best mean IU {100 * s['mean_iu']:5.1f} %")
acc32, miu32 = cm_rows[-1][1:3]
say(f"""
    (Down to 1/2 the 2-pixel void band along every boundary hides the block errors.) At 1/32,
    VGG's pool5, a 64×64 image is 2×2 cells: {100 * (1 - acc32):.0f} % of the pixels would be
    wrong even with perfect answers, and small objects vanish, which is why mean IU (the mean
    over classes of overlap / union) falls further, to {100 * miu32:.0f} %.
    Classification nets (AlexNet, VGGNet, GoogLeNet) are built to give *what*; segmentation also
    needs *where*. FCN keeps the classifier's convolutions and pooling, and gets the detail back
    with upsampling (lesson 04) and skip layers that reuse the finer 1/16 and 1/8 maps
    (lesson 05). First, lesson 03 removes the other obstacle: the fully connected layers.
""")
fig, axes = plt.subplots(1, 5, figsize=(12, 2.8))
axes[0].imshow(images[0])
axes[0].set_title("image")
for ax, (f, acc, miu, blocky) in zip(axes[1:], [cm_rows[0], cm_rows[3], cm_rows[4], cm_rows[5]]):
    ax.imshow(data.colorize(blocky[0] if f > 1 else labels[0]))
    ax.set_title("labels" if f == 1 else f"best answer at 1/{f}")
for ax in axes:
    ax.axis("off")
_common.save_figure(fig, args, "detail_lost.png")

# %% Summary and questions
field_ok = len(ys) == r and len(xs) == r
pool3_change = change(base["pool3"], table[2]["pool3"])
_common.summary([
    f"A convolution is one dot product per output pixel. im2col copies the windows into a "
    f"matrix and does them all in one product: here {t_naive / t_fast:.0f}× faster than the "
    f"loops, and equal to them to float32 rounding ({np.abs(naive - fast).max():.0e}).",
    f"Each 2×2 pooling halves the map and doubles the jump; the receptive field grows by "
    f"(k − 1)·jump per layer. The measured field after two stages "
    f"{'matched' if field_ok else 'did not match'} the formula ({len(ys)}×{len(xs)} against "
    f"{r}×{r}).",
    f"After a 2-pixel shift pool3's features changed by {pool3_change:.2f} of their size, the "
    f"same convolutions without pooling by {no_pool[2]:.2f}: "
    + ("pooling bought invariance." if pool3_change < no_pool[2] else
       "in this run pooling did not buy invariance."),
    f"It costs detail: even perfect answers on a 1/32 map get {100 * acc32:.0f} % of the "
    f"pixels and {100 * miu32:.0f} % mean IU on these images.",
], [
    "The shifts of 1, 2 and 4 pixels are all smaller than pool3's stride of 8. What would you "
    "expect for a shift of exactly 8 pixels, and why is it not zero even then?",
    "The receptive field counts the zero padding. For VGG16's fc6 on a 224×224 image, how much "
    "of what one output sees is real image?",
    "FCN pools in ceil mode (the last, partial window is kept). Write max_pool2d_loops in "
    "lessons/exercises/ex01_conv_and_pooling.py with both modes, and check it with "
    "`python lessons/exercises/check.py 1`: which sizes differ between the two modes?",
], ko=([
    f"합성곱은 출력 픽셀마다 내적 하나입니다. im2col은 윈도우들을 행렬 하나로 복사해 모든 내적을 "
    f"행렬 곱 한 번에 계산합니다: 여기서는 반복문보다 {t_naive / t_fast:.0f}배 빨랐고, 결과는 "
    f"float32 반올림 오차({np.abs(naive - fast).max():.0e}) 안에서 같았습니다.",
    f"2×2 풀링마다 특징 맵은 절반이 되고 한 칸의 간격(jump)은 두 배가 됩니다. 수용 영역은 "
    f"계층마다 (k − 1)·jump만큼 넓어집니다. 두 단계 뒤에 직접 잰 수용 영역은 공식과 "
    f"{'같았습니다' if field_ok else '달랐습니다'} ({len(ys)}×{len(xs)}, 공식 {r}×{r}).",
    f"입력을 2픽셀 옮기자 pool3의 특징은 크기의 {pool3_change:.2f}만큼 변했고, 풀링이 없는 같은 "
    f"합성곱들은 {no_pool[2]:.2f}만큼 변했습니다: "
    + ("풀링이 불변성을 주었습니다." if pool3_change < no_pool[2] else
       "이번 실행에서는 풀링이 불변성을 주지 못했습니다."),
    f"그 대가는 세부 정보입니다: 1/32 크기의 특징 맵으로는 완벽하게 답해도 이 이미지들에서 픽셀의 "
    f"{100 * acc32:.0f} %, mean IU {100 * miu32:.0f} %가 최선입니다.",
], [
    "1, 2, 4픽셀 이동은 모두 pool3의 스트라이드 8보다 작습니다. 정확히 8픽셀 옮기면 어떻게 될까요? "
    "그래도 변화가 0이 아닌 이유는 무엇일까요?",
    "수용 영역에는 0으로 채운 패딩도 들어갑니다. 224×224 이미지에서 VGG16의 fc6 출력 하나가 보는 "
    "영역 가운데 실제 이미지는 얼마나 될까요?",
    "FCN은 ceil mode(마지막의 잘린 윈도우도 남김)로 풀링합니다. "
    "lessons/exercises/ex01_conv_and_pooling.py의 max_pool2d_loops를 두 모드로 작성하고 "
    "`python lessons/exercises/check.py 1`로 확인하세요. 두 모드에서 크기가 달라지는 경우는 "
    "언제일까요?",
]))
