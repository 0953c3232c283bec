"""Lesson 03: fully connected vs. convolutionized (the note's §1.1 B, 1.2, 1.3).

A classifier ends in fully connected (Linear) layers: they need one fixed input size and answer
with one label, so *where* is lost. FCN's first idea: a Linear layer over a C×H×W map is exactly
an H×W convolution. Convert the layers, and the same classifier slides over a whole image of any
size in one pass, answering with a heat map of class scores. (FCN, CVPR 2015: §3.1 "Adapting
classifiers for dense prediction" and Figure 2, the tabby cat's heat map.)
"""
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup
import time

from _common import np, plt, say, section

from minifcn import backend, data, metrics, nn, optim

args = _common.parse_args("03_convolutionization", "Fully connected vs. convolutionized")
_common.intro(args)
rng = np.random.default_rng(args.seed)
dev = args.device
S, R = 38, 19              # window size, and how far it reaches from its centre

# %% 1. A small classifier with fully connected layers
section("1. A small classifier with fully connected layers")
say(f"""
    The task: look at a {S}×{S} window of a shapes image and say what is at its centre:
    background, circle, square, triangle or cross. Training windows are centred on single
    objects (within ±4 pixels, randomly turned and mirrored, so that every step sees new
    windows) or on background, cut from images padded with the mean colour.

    The network is a miniature VGG: three stages of [3×3 conv → ReLU → 2×2 max pool], then
    Flatten → Linear → ReLU → Linear. The convolutions have no padding: then a window's answer
    depends on nothing outside the window, which section 3 relies on.
""")
root = data.ensure_shapes()
splits = {s: data.load_dataset(root, s) for s in ("train", "val")}
n_class = splits["train"].n_class


def windows_of(ds, n_images):
    """Padded images (N, 64 + 2R, 64 + 2R, 3) and (image, cy, cx, class) of window centres."""
    padded, centres = [], []
    for i in range(n_images):
        image, label = ds[i]
        big = np.empty((image.shape[0] + 2 * R, image.shape[1] + 2 * R, 3), np.uint8)
        big[...] = data.MEAN_RGB                          # ≈ 0 after preprocess
        big[R:-R, R:-R] = image
        padded.append(big)
        for c in range(1, n_class):                       # one window per object class present
            ys, xs = np.nonzero(label == c)
            if len(ys) < 30:
                continue
            cy, cx = int(ys.mean()), int(xs.mean())
            if label[cy, cx] == c:                        # the centroid lies on the object
                centres.append((i, cy, cx, c))
        for cy, cx in rng.integers(0, image.shape[0], size=(20, 2)):
            if (np.pad(label, 6)[cy:cy + 13, cx:cx + 13] == 0).all():   # background around it
                centres.append((i, cy, cx, 0))
                break
    return np.stack(padded), np.array(centres)


def batch(padded, centres, jitter=0):
    """Windows (N, 3, S, S) ready for the network, and their classes."""
    crops = []
    for i, cy, cx, _ in centres:
        if jitter:
            cy, cx = np.clip([cy, cx] + rng.integers(-jitter, jitter + 1, 2), 0, 63)
        crop = padded[i, cy:cy + S, cx:cx + S]           # centred on (cy, cx) of the image
        if jitter:
            crop = np.rot90(crop, rng.integers(4))[:, ::rng.choice([-1, 1])]
        crops.append(crop)
    return data.preprocess(np.stack(crops), "torchvision"), centres[:, 3].astype(np.int32)


train_img, train_c = windows_of(splits["train"], 120 if args.quick else 300)
val_img, val_c = windows_of(splits["val"], 60)
x_val, y_val = batch(val_img, val_c)
chance = np.bincount(y_val).max() / len(y_val)
counts = np.bincount(train_c[:, 3], minlength=n_class)
print(f"{len(train_c)} training windows, {len(val_c)} validation windows; training windows per "
      f"class: {dict(zip(splits['train'].class_names, counts.tolist()))}")

features = [nn.Conv2d(3, 16, 3, seed=1), nn.ReLU(), nn.MaxPool2d(2),      # 38 → 36 → 18
            nn.Conv2d(16, 32, 3, seed=2), nn.ReLU(), nn.MaxPool2d(2),     # 18 → 16 → 8
            nn.Conv2d(32, 64, 3, seed=3), nn.ReLU(), nn.MaxPool2d(2)]     # 8 → 6 → 3
fc1, fc2 = nn.Linear(64 * 3 * 3, 128, seed=4), nn.Linear(128, n_class, seed=5)
classifier = nn.Sequential(*features, nn.Flatten(), fc1, nn.ReLU(), fc2).to(dev)
crit = nn.SoftmaxCrossEntropy()
iterations = 300 if args.quick else 1500
lr = 0.02
say(f"""
    Primer: the optimizer. Training repeats one step: the backward pass of lesson 02 gives the
    gradient g of the loss for every weight w, and SGD (stochastic gradient descent, on a small
    random batch) moves w against it: w ← w − lr·g, with lr = {lr} here. Two additions, which
    lesson 06 takes apart with numbers: momentum 0.9 keeps a running sum of past steps,
    v ← 0.9·v + lr·g, w ← w − v (the steps of about ten batches add up, so noise cancels and
    steady directions speed up), and weight decay 5e-4 adds 5e-4·w to g, pulling every weight
    a little towards zero (biases, as in Caffe, get twice the rate and no decay). The rate
    drops to a tenth for the last fifth of the iterations (a step schedule).
""")
opt = optim.SGD(classifier.named_parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)


def accuracy(model, x, y):
    with nn.no_grad():
        scores = backend.to_cpu(model(backend.to_device(x, dev)))
    return float((scores.argmax(1) == y).mean())


start = time.perf_counter()
for it in range(1, iterations + 1):
    if it == int(0.8 * iterations):
        opt.lr = lr / 10                                  # smaller steps for the last 20 %
    xb, yb = batch(train_img, train_c[rng.integers(0, len(train_c), 32)], jitter=4)
    scores = classifier(backend.to_device(xb, dev))       # (32, 5)
    # The loss takes (N, C, H, W) score maps: a classifier's output is a 1×1 map.
    loss = crit(scores[:, :, None, None], backend.to_device(yb[:, None, None], dev))
    classifier.backward(crit.backward()[:, :, 0, 0])
    opt.step()
    classifier.zero_grad()
    if it % (iterations // 5) == 0:
        print(f"  iteration {it:>4}  loss {float(loss):.3f}  validation accuracy "
              f"{100 * accuracy(classifier, x_val, y_val):.1f} %")
acc = accuracy(classifier, x_val, y_val)
print(f"trained in {time.perf_counter() - start:.1f} s: validation accuracy {100 * acc:.1f} %, "
      f"chance (always the commonest class) {100 * chance:.1f} %")

# %% 2. Convolutionization
section("2. Convolutionization")
say(f"""
    fc1 takes the 64×3×3 pool3 map flattened into {fc1.in_features} numbers: each of its
    {fc1.out_features} outputs is a weighted sum over all 64×3×3 values plus a bias. That is
    exactly what a 3×3 convolution with 64 input channels computes at one position. So
    fc1's weight ({fc1.out_features}, {fc1.in_features}) reshaped to
    ({fc1.out_features}, 64, 3, 3) *is* a convolution filter bank, and fc2, which sees a
    1×1 map of {fc1.out_features} channels, is a 1×1 convolution. nn.convolutionize does the
    reshape; nothing is retrained.
""")
conv6 = nn.convolutionize(fc1, (64, 3, 3))
conv7 = nn.convolutionize(fc2, (fc1.out_features, 1, 1))
fully_conv = nn.Sequential(*features, conv6, nn.ReLU(), conv7)
print(f"fc1 {tuple(fc1.weight.shape)} → conv6 {tuple(conv6.weight.shape)};  "
      f"fc2 {tuple(fc2.weight.shape)} → conv7 {tuple(conv7.weight.shape)}")

# %% 3. The whole image in one pass: a heat map
section("3. The whole image in one pass: a heat map")
P = R - 4      # padding so that window (i, j) is centred on the 8×8 block (i, j) of the image
say(f"""
    Pad a 64×64 image by {P} pixels ({64 + 2 * P}×{64 + 2 * P}) and run the convolutionized
    network on it. The three poolings give the map a stride of 8: output (i, j) is the
    classifier applied to the {S}×{S} window starting at (8i, 8j) of the padded image, which is
    centred on the 8×8 block (i, j) of the image. The classifier itself refuses the big image:
""")
image, label = splits["val"][0]
big = np.empty((64 + 2 * P, 64 + 2 * P, 3), np.uint8)
big[...] = data.MEAN_RGB
big[P:-P, P:-P] = image
x_big = backend.to_device(data.preprocess(big[None], "torchvision"), dev)
xp = backend.get_array_module(x_big)                      # numpy, or cupy on a GPU
try:
    with nn.no_grad():
        classifier(x_big)
except ValueError as err:
    print(f"  classifier({big.shape[0]}×{big.shape[1]} image) → ValueError: {err}")
with nn.no_grad():
    heat = backend.to_cpu(fully_conv(x_big))               # (1, 5, 8, 8)
    wide = fully_conv(xp.concatenate([x_big, x_big], axis=3))
print(f"  fully_conv({big.shape[0]}×{big.shape[1]} image) → scores {heat.shape};  on a "
      f"{big.shape[0]}×{2 * big.shape[1]} image → {wide.shape}")
i, j = 3, 5
window = x_big[:, :, 8 * i:8 * i + S, 8 * j:8 * j + S]
with nn.no_grad():
    one = backend.to_cpu(classifier(window))[0]
    print(f"  cell ({i}, {j}) of the heat map vs the classifier on its window: max difference "
          f"{np.abs(heat[0, :, i, j] - one).max():.1e} (float32)")
    for m in (classifier, fully_conv):
        m.to(dtype=np.float64)
    heat64 = backend.to_cpu(fully_conv(x_big.astype(np.float64)))
    one64 = backend.to_cpu(classifier(window.astype(np.float64)))[0]
    print(f"  the same in float64: {np.abs(heat64[0, :, i, j] - one64).max():.1e}")
    for m in (classifier, fully_conv):
        m.to(dtype=np.float32)
say("""
    Identical up to rounding (the two ways add the same products in another order). This is the
    answer to the note's question "we know *where*, but can it still classify?": every cell of
    the heat map is the classifier's own answer for its window. Nothing is lost, a position is
    gained. (With padded convolutions, as in VGG, a window near others would see real pixels
    where the lone window saw zero padding, and the equality would only be approximate.)
""")
cm = metrics.ConfusionMatrix(n_class)
examples = []
for k in range(len(splits["val"]) if not args.quick else 20):
    image, label = splits["val"][k]
    big[P:-P, P:-P] = image
    with nn.no_grad():
        score = backend.to_cpu(fully_conv(backend.to_device(
            data.preprocess(big[None], "torchvision"), dev)))[0]
    coarse = np.repeat(np.repeat(score.argmax(0), 8, 0), 8, 1)   # each cell → its 8×8 block
    cm.update(label, coarse)
    if k < 3:
        examples.append((image, label, score))
s = cm.scores()
print(f"as a segmentation (each cell's class painted on its 8×8 block) on {k + 1} validation "
      f"images: pixel accuracy {100 * s['acc']:.1f} %, mean IU {100 * s['mean_iu']:.1f} %")
say("""
    A segmentation already, if a coarse one: one answer per 8×8 block, from a classifier that
    only ever saw windows centred on objects. Lesson 01 measured the best any 1/8 map can do;
    the figure shows where the answers are and how blocky they are.
""")

fig, axes = plt.subplots(len(examples), n_class + 2, figsize=(1.9 * (n_class + 2),
                                                            1.9 * len(examples)))
for row, (image, label, score) in enumerate(examples):
    prob = np.exp(score - score.max(0)) / np.exp(score - score.max(0)).sum(0)   # softmax
    axes[row, 0].imshow(image)
    axes[row, 1].imshow(data.colorize(label))
    for c in range(n_class):
        ax = axes[row, c + 2]
        ax.imshow(prob[c], cmap="viridis", vmin=0, vmax=1, extent=(-0.5, 63.5, 63.5, -0.5))
        if (label == c).any():                     # where class c really is
            ax.contour(label == c, levels=[0.5], colors="white", linewidths=0.8)
        if row == 0:
            ax.set_title(splits["val"].class_names[c])
axes[0, 0].set_title("image")
axes[0, 1].set_title("labels")
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("Heat maps of the convolutionized classifier: P(class) per 8×8 block "
             "(white: where the class really is)")
_common.save_figure(fig, args, "heatmaps.png")

# %% 4. What one pass saves over sliding windows
section("4. What one pass saves over sliding windows")
say("""
    The alternative is to cut the 64 windows out and classify each. Neighbouring windows
    overlap by 30 of their 38 pixels, and each recomputes the convolutions of the shared part.
    Count the multiply-adds (conv: out channels × output pixels × in channels × kh × kw;
    Linear: in × out) and time both, the windows as one batch (their best case):
""")


def count_macs(model, x):
    """Multiply-adds of one forward pass of a Sequential on the batch x."""
    total = 0
    with nn.no_grad():
        for layer in model.children():
            y = layer(x)
            if isinstance(layer, nn.Conv2d):
                total += y.size * layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
            elif isinstance(layer, nn.Linear):
                total += x.shape[0] * layer.in_features * layer.out_features
            x = y
    return total


crops = xp.concatenate([x_big[:, :, 8 * a:8 * a + S, 8 * b:8 * b + S]
                        for a in range(8) for b in range(8)])      # (64, 3, 38, 38)
macs_windows = count_macs(classifier, crops)
macs_whole = count_macs(fully_conv, x_big)


def timed(model, x):
    def run():
        with nn.no_grad():
            backend.synchronize(model(x))
    return _common.best_time(run, 5)


t_windows, t_whole = timed(classifier, crops), timed(fully_conv, x_big)
print(f"  64 windows: {macs_windows / 1e6:6.1f} M multiply-adds, {1e3 * t_windows:6.1f} ms")
print(f"  one pass:   {macs_whole / 1e6:6.1f} M multiply-adds, {1e3 * t_whole:6.1f} ms")
print(f"  → {macs_windows / macs_whole:.1f}× less arithmetic, {t_windows / t_whole:.1f}× faster")
say("""
    (Time also counts what arithmetic does not: memory traffic, and per-image overheads of the
    loops around the matrix products, which the windows pay 64 times. So the two ratios differ.)

    The saving grows with the overlap. VGG16 classifies 224×224 windows; convolutionized in FCN
    it moves them in steps of 32 pixels, so neighbours share six sevenths of their width. The
    same sharing is what Fast R-CNN and Faster R-CNN exploit: compute the convolutional features
    of the image once, then read every candidate box from them. What is left is the resolution:
    one answer per 8×8 block here, per 32×32 in FCN. Lesson 04 upsamples.
""")

# %% Summary and questions
_common.summary([
    f"A Linear layer over a C×H×W map is an H×W convolution (a reshape of its weight, nothing "
    f"retrained): here fc1 {tuple(fc1.weight.shape)} became conv6 "
    f"{tuple(conv6.weight.shape)}.",
    f"The convolutionized classifier takes an image of any size and answers with a heat map; "
    f"each cell is the classifier's answer for its window (difference "
    f"{np.abs(heat64[0, :, i, j] - one64).max():.0e} in float64).",
    f"One pass over the image shares the overlapping windows' work: "
    f"{macs_windows / macs_whole:.1f}× less arithmetic and {t_windows / t_whole:.1f}× faster "
    f"than the 64 windows here.",
    f"The answer is coarse, one per 8×8 block: mean IU {100 * s['mean_iu']:.1f} % as a "
    f"segmentation. Upsampling (lesson 04) and skips (lesson 05) refine it.",
], [
    "VGG16's fc6 reads a 512×7×7 pool5 map. Convolutionized, what size is its output for a "
    "500×500 image without any extra padding, and for a 200×200 one? (Lesson 05 explains "
    "FCN's 100-pixel padding.)",
    "With padded convolutions, as in VGG16, a cell of the heat map is no longer exactly the "
    "classifier on its window. Why, and where in the image is the difference largest?",
    "Write convolutionize in lessons/exercises/ex03_convolutionization.py and check it with "
    "`python lessons/exercises/check.py 3`. What goes wrong if the map is flattened in "
    "(H, W, C) order instead of (C, H, W)?",
], ko=([
    f"C×H×W 특징 맵을 읽는 완전연결 계층은 H×W 합성곱과 같습니다(가중치의 reshape일 뿐, 다시 "
    f"학습하지 않음): 여기서 fc1 {tuple(fc1.weight.shape)}은 conv6 "
    f"{tuple(conv6.weight.shape)}이 되었습니다.",
    f"합성곱화한 분류기는 어떤 크기의 이미지든 받아 히트맵으로 답합니다. 히트맵의 한 칸은 그 "
    f"윈도우에 대한 분류기의 답과 같습니다(float64에서 차이 "
    f"{np.abs(heat64[0, :, i, j] - one64).max():.0e}).",
    f"이미지 전체를 한 번에 계산하면 겹치는 윈도우의 계산을 나눠 씁니다: 여기서 윈도우 64개를 "
    f"따로 계산할 때보다 연산은 {macs_windows / macs_whole:.1f}배 적고 시간은 "
    f"{t_windows / t_whole:.1f}배 빨랐습니다.",
    f"답은 거칩니다. 8×8 블록마다 하나이므로 분할로서는 mean IU {100 * s['mean_iu']:.1f} %입니다. "
    f"업샘플링(레슨 04)과 스킵(레슨 05)이 이를 다듬습니다.",
], [
    "VGG16의 fc6은 512×7×7의 pool5를 읽습니다. 합성곱화하면 패딩 없이 500×500 이미지에서 출력 "
    "크기는 얼마이고, 200×200에서는 어떻게 될까요? (FCN의 100픽셀 패딩은 레슨 05가 설명합니다.)",
    "VGG16처럼 패딩이 있는 합성곱에서는 히트맵의 한 칸이 더 이상 그 윈도우에 대한 분류기의 답과 "
    "정확히 같지 않습니다. 왜 그럴까요? 차이는 이미지의 어디에서 가장 클까요?",
    "lessons/exercises/ex03_convolutionization.py의 convolutionize를 작성하고 "
    "`python lessons/exercises/check.py 3`으로 확인하세요. 특징 맵을 (C, H, W) 대신 (H, W, C) "
    "순서로 펼치면 무엇이 잘못될까요?",
]))
