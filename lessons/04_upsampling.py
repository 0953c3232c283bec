"""Lesson 04: upsampling (the note's §1.4 and §2.1).

After convolutionization the network answers with a heat map 1/32 the size of the image (1/8 in
lesson 03). To label every pixel it must be blown back up. The simplest way is bilinear
interpolation; FCN writes it as a transposed convolution ("deconvolution") with a bilinear
kernel, a layer that can also learn. This lesson builds both, shows where they agree, works out
the sizes, trains a deconvolution, and shows the checkerboard that a bad kernel size gives.
(FCN, CVPR 2015: §3.3 "Upsampling is backwards strided convolution".)
"""
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup
import inspect
import textwrap

from _common import np, plt, say, section

from minifcn import backend, data, metrics, nn, optim
from minifcn import functional as F

args = _common.parse_args("04_upsampling", "Upsampling: bilinear, transposed convolution, learned")
_common.intro(args)
rng = np.random.default_rng(args.seed)
dev = args.device
root = data.ensure_shapes()
val = data.load_dataset(root, "val")

def bilinear(img, f):
    """Upsample the last two axes of ``img`` by f; beyond the outer samples, repeat the edge."""
    def axis(n):
        src = np.clip((np.arange(n * f) + 0.5) / f - 0.5, 0, n - 1)   # output → input coords
        i0 = np.floor(src).astype(int)
        return i0, np.minimum(i0 + 1, n - 1), (src - i0).astype(np.float32)
    y0, y1, ty = axis(img.shape[-2])
    x0, x1, tx = axis(img.shape[-1])
    rows = img[..., y0, :] * (1 - ty)[:, None] + img[..., y1, :] * ty[:, None]
    return rows[..., x0] * (1 - tx) + rows[..., x1] * tx


# %% 1. Bilinear interpolation
section("1. Bilinear interpolation")
say("""
    Think of each coarse pixel as a sample at the centre of its f×f block. An output pixel
    between four samples takes a weighted mean of them, each weight falling linearly with the
    distance (in x, then in y). Written plainly in NumPy for a factor f (this lesson's code):
""")
print(textwrap.indent(inspect.getsource(bilinear), "    "))
say("""
    What it buys: take perfect coarse class scores (the fraction of each 8×8 block that each
    class covers, the best a 1/8 map could say) and label every pixel either with its block's
    top class (repeating it, as lesson 03 did) or with the top class after bilinear upsampling
    of the scores. On the validation labels:
""")
f = 8
block, smooth = metrics.ConfusionMatrix(val.n_class), metrics.ConfusionMatrix(val.n_class)
for k in range(len(val) if not args.quick else 20):
    _, label = val[k]
    onehot = np.stack([label == c for c in range(val.n_class)]).astype(np.float32)
    coarse = onehot.reshape(val.n_class, 64 // f, f, 64 // f, f).mean(axis=(2, 4))
    block.update(label, np.repeat(np.repeat(coarse.argmax(0), f, 0), f, 1))
    smooth.update(label, bilinear(coarse, f).argmax(0))
for name, cm in (("repeat each block", block), ("bilinear", smooth)):
    print(f"  {name:>17}: pixel accuracy {100 * cm.scores()['acc']:.1f} %, "
          f"mean IU {100 * cm.scores()['mean_iu']:.1f} %")

# %% 2. The same thing as a transposed convolution
section("2. The same thing as a transposed convolution")
say("""
    First a case small enough to check by hand (d2l.ai does the same): a 2×2 input and a 2×2
    kernel, stride 1. Each input pixel stamps the kernel times its value at its own position,
    and the stamps add where they overlap:
""")
x2 = np.array([[0.0, 1.0], [2.0, 3.0]])
k2 = np.array([[0.0, 1.0], [2.0, 3.0]])
stamps = [(x2[i, j], i, j) for i in range(2) for j in range(2)]
for v, i, j in stamps:
    canvas = np.zeros((3, 3))
    canvas[i:i + 2, j:j + 2] = v * k2
    print(f"  input ({i}, {j}) = {v:.0f} stamps {v:.0f} × kernel at ({i}, {j}): "
          f"{canvas.astype(int).tolist()}")
by_hand = sum(np.pad(v * k2, ((i, 1 - i), (j, 1 - j))) for v, i, j in stamps)
layer2 = F.conv_transpose2d_forward(x2[None, None], k2[None, None])[0][0, 0]
print(f"  {'sum of the stamps:':<45} {by_hand.astype(int).tolist()}")
print(f"  {'F.conv_transpose2d_forward gives:':<45} {np.asarray(layer2).astype(int).tolist()}"
      f"  (equal: {bool(np.array_equal(by_hand, layer2))})")
say(f"""
    With stride 2 the stamps land 2 pixels apart and do not overlap at all for a 2×2 kernel:
    each input pixel becomes a 2×2 block (try it: stride=2 above gives a 4×4 output).

    A transposed convolution with stride s runs a convolution backwards: every input pixel
    stamps a copy of the kernel, scaled by its value, onto the output, and the stamps are placed
    s pixels apart and add up where they overlap. Stamp the bilinear kernel of size k = 2s
    (F.upsample_filter: a pyramid, 1 − |d|/s from its centre) and each output pixel gets
    weights that fall linearly with the distance to its two nearest inputs per axis: bilinear
    interpolation. Two details. The output is (in − 1)·s + k = in·s + s pixels, with input pixel
    i's stamp centred s/2 further along than in section 1, so crop s/2 from each side (or give
    the layer padding s/2). And beyond the outermost inputs the stamps fade into zeros while
    section 1 repeats the edge, so the first and last s/2 pixels differ. For s = {f}:
""")
img = val[0][0].mean(axis=-1).astype(np.float32) / 255          # a grey 64×64 image
coarse = img.reshape(64 // f, f, 64 // f, f).mean(axis=(1, 3))   # 8×8 block means
deconv = nn.ConvTranspose2d(1, 1, 2 * f, stride=f, bias=False).to(dev)
deconv.weight.data = backend.to_device(F.bilinear_weight(1, 1, 2 * f), dev)
with nn.no_grad():
    full = backend.to_cpu(deconv(backend.to_device(coarse[None, None], dev)))[0, 0]
cropped = full[f // 2:f // 2 + 64, f // 2:f // 2 + 64]
plain = bilinear(coarse, f)
inner = slice(f // 2, 64 - f // 2)
print(f"  coarse {coarse.shape} → deconv k={2 * f} s={f}: {full.shape} → crop {f // 2} per side: "
      f"{cropped.shape}")
print(f"  max |deconv − bilinear| inside: {np.abs(cropped - plain)[inner, inner].max():.1e};  "
      f"in the {f // 2}-pixel border: {np.abs(cropped - plain).max():.2f}")
phases = F.upsample_filter(2 * f).reshape(2, f, 2, f).sum(axis=(0, 2))   # see section 5
print(f"  inside, the weights reaching each output pixel sum to {phases.min():.3f}…"
      f"{phases.max():.3f}: a weighted mean")
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
for ax, (title, im) in zip(axes, [("coarse 8×8", coarse), ("bilinear (plain NumPy)", plain),
                                  ("transposed conv, cropped", cropped),
                                  ("|difference|: only the border", np.abs(cropped - plain))]):
    ax.imshow(im, cmap="magma") if "diff" in title else ax.imshow(im, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
_common.save_figure(fig, args, "bilinear_vs_deconv.png")

# %% 3. Output sizes, and FCN's k = 2s
section("3. Output sizes, and FCN's k = 2s")
say("""
    A transposed convolution maps `in` pixels to (in − 1)·s − 2p + k: the input size of the
    convolution it is the transpose of. FCN uses no padding and k = 2s, so in·s + s: s/2 too
    many on each side, which FCN cuts off with a crop (where exactly each crop starts is lesson
    05's subject: it derives the offsets from the layers). k = 2s because bilinear
    interpolation by s
    reaches s pixels to each side, and because s then divides k (section 5). FCN's layers on a
    500×500 image, computed and then run:
""")
print(f"  {'layer':>13} {'k':>3} {'s':>3} {'in':>4}  (in−1)·s + k  measured  in·s + s")
for name, k, s, n in [("upscore2", 4, 2, 16), ("upscore_pool4", 4, 2, 34), ("upscore8", 16, 8, 70),
                      ("upscore16", 32, 16, 34), ("upscore", 64, 32, 16)]:
    layer = nn.ConvTranspose2d(1, 1, k, stride=s, bias=False).to(dev)
    with nn.no_grad():
        out = layer(backend.to_device(np.zeros((1, 1, n, n), np.float32), dev))
    print(f"  {name:>13} {k:>3} {s:>3} {n:>4}  {F.conv_transpose_output_size(n, k, s):>12}  "
          f"{out.shape[-1]:>8}  {n * s + s:>8}")

# %% 4. A deconvolution that learns
section("4. A deconvolution that learns")
say("""
    The note (§2.1): a fixed filter is the simplest choice, but for end-to-end learning the
    deconvolution's filter can be learned like any other. Two experiments, from random
    initial kernels (k = 8, s = 4, padding 2, so 16×16 → 64×64), trained with SGD on the mean
    squared error, the backward done by the layer:

      A. reproduce bilinear upsampling of random 16×16 maps: can SGD find the bilinear kernel?
      B. reproduce the real 64×64 grey images from their 4×4 block means: what is best here?

    For B the loss leaves out a 4-pixel border, where no kernel can do well (section 2).
""")
train = data.load_dataset(root, "train")
n_train = 100 if args.quick else 300
hi = np.stack([train[i][0].mean(-1) / 255 for i in range(n_train)]).astype(np.float32)[:, None]
lo = hi.reshape(n_train, 1, 16, 4, 16, 4).mean(axis=(3, 5))
hi_val = np.stack([val[i][0].mean(-1) / 255 for i in range(len(val))]).astype(np.float32)[:, None]
lo_val = hi_val.reshape(len(val), 1, 16, 4, 16, 4).mean(axis=(3, 5))
target_up = nn.ConvTranspose2d(1, 1, 8, stride=4, padding=2, bias=False).to(dev)
target_up.weight.data = backend.to_device(F.bilinear_weight(1, 1, 8), dev)
learners = {"A": nn.ConvTranspose2d(1, 1, 8, stride=4, padding=2, bias=False, seed=1).to(dev),
            "B": nn.ConvTranspose2d(1, 1, 8, stride=4, padding=2, bias=False, seed=2).to(dev)}
initial = {k: backend.to_cpu(m.weight.data)[0, 0].copy() for k, m in learners.items()}
opts = {k: optim.SGD(m.named_parameters(), lr=2.0, momentum=0.9, weight_decay=0)
        for k, m in learners.items()}
mask = np.zeros((1, 1, 64, 64), np.float32)
mask[..., 4:-4, 4:-4] = 1
mask = backend.to_device(mask, dev)
iterations = 300 if args.quick else 600
history = {"A": [], "B": []}
for it in range(iterations):
    if it == int(0.7 * iterations):
        for o in opts.values():
            o.lr /= 10
    x_a = backend.to_device(rng.random((16, 1, 16, 16), dtype=np.float32), dev)
    with nn.no_grad():
        t_a = target_up(x_a)
    idx = rng.integers(0, n_train, 16)
    batches = {"A": (x_a, t_a, 1), "B": (backend.to_device(lo[idx], dev),
                                         backend.to_device(hi[idx], dev), mask)}
    for key, (x, t, m) in batches.items():
        diff = (learners[key](x) - t) * m
        count = diff.size if key == "A" else 16 * float(mask.sum())
        history[key].append(float((diff ** 2).sum()) / count)
        learners[key].backward(2 * diff / count)          # d(mean squared error)/d(output)
        opts[key].step()
        learners[key].zero_grad()
kernels = {k: backend.to_cpu(m.weight.data)[0, 0] for k, m in learners.items()}
bil8 = F.upsample_filter(8)
print(f"  A: loss {history['A'][0]:.2e} → {history['A'][-1]:.1e};  max |learned − bilinear "
      f"kernel| = {np.abs(kernels['A'] - bil8).max():.1e}")


def val_mse(up):
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    return float(((up - hi_val)[inner] ** 2).mean())


with nn.no_grad():
    learned_val = backend.to_cpu(learners["B"](backend.to_device(lo_val, dev)))
errors = {"repeat (nearest)": val_mse(np.repeat(np.repeat(lo_val, 4, 2), 4, 3)),
          "bilinear": val_mse(bilinear(lo_val, 4)), "learned (B)": val_mse(learned_val)}
print(f"  B: kernel peak {kernels['B'].max():.2f} (bilinear {bil8.max():.2f}), max |learned − "
      f"bilinear kernel| = {np.abs(kernels['B'] - bil8).max():.2f}")
print("  B, validation images, mean squared error inside the border:")
for name, e in errors.items():
    print(f"    {name:>17}: {e:.2e}")
say(f"""
    A finds the bilinear kernel from random numbers: the deconvolution *can* represent and learn
    bilinear upsampling. B learns a kernel close to bilinear, with a higher peak (sharper), and
    {100 * (1 - errors['learned (B)'] / errors['bilinear']):.1f}% better than bilinear on
    images it never saw: the data decides. In FCN a learned deconvolution is trained by the
    segmentation loss, not by an interpolation target, so it is free to become something else
    again. The two recipes of docs/fcn.md §6 differ here: the CVPR 2015 paper fixes only each
    net's *final* deconvolution to bilinear and lets the intermediate 2× ones (FCN-16s's and
    FCN-8s's upscore2, upscore_pool4) start bilinear and learn; the later reference models
    freeze them all (lr 0). minifcn's models freeze them all, as the reference models do, unless
    asked (learn_upsampling=True).
""")
fig, axes = plt.subplots(1, 5, figsize=(14, 3))
panels = [("random start (A)", initial["A"]), ("learned A", kernels["A"]), ("bilinear 8×8", bil8),
          ("learned B", kernels["B"])]
lo_k, hi_k = min(k.min() for _, k in panels), max(k.max() for _, k in panels)
for ax, (title, kern) in zip(axes, panels):       # one colour scale: peaks compare by eye
    im = ax.imshow(kern, cmap="viridis", vmin=lo_k, vmax=hi_k)
    ax.set_title(f"{title}\npeak {kern.max():.2f}")
    ax.axis("off")
fig.colorbar(im, ax=axes[:4], fraction=0.02, pad=0.01)
axes[4].semilogy(history["A"], label="A (→ bilinear)")
axes[4].semilogy(history["B"], label="B (→ real images)")
axes[4].set_xlabel("iteration")
axes[4].set_title("training loss (MSE)")
axes[4].legend()
_common.save_figure(fig, args, "learned_deconv.png")

# %% 5. Checkerboard artifacts
section("5. Checkerboard artifacts")
say("""
    Feed a constant image to a stride-2 transposed convolution. Each output pixel is the sum of
    the kernel taps that land on it, and which taps land depends only on the pixel's position
    modulo s (its "phase"). With k = 3, s = 2 the phases get 2 and 1 taps per axis (uneven
    overlap): unless the weights make up for it exactly, a constant input comes out as a
    pattern. With k = 4 every phase gets 2 taps; the output is flat when the phases' sums are
    equal, as for equal weights or the bilinear kernel. Interior of the output, (max − min) /
    mean:
""")
cases = [("k=3, equal weights", np.ones((3, 3))), ("k=4, equal weights", np.ones((4, 4))),
         ("k=3, random", rng.uniform(0, 1, (3, 3))), ("k=4, random", rng.uniform(0, 1, (4, 4))),
         ("k=4, bilinear", F.upsample_filter(4))]
outs = []
for name, kern in cases:
    layer = nn.ConvTranspose2d(1, 1, kern.shape[0], stride=2, bias=False).to(dev)
    layer.weight.data = backend.to_device(kern[None, None].astype(np.float32), dev)
    with nn.no_grad():
        out = backend.to_cpu(layer(backend.to_device(np.ones((1, 1, 8, 8), np.float32), dev)))
    inside = out[0, 0, 4:-4, 4:-4]
    outs.append((name, inside))
    print(f"  {name:>18}: {(inside.max() - inside.min()) / inside.mean():.2f}   one row: "
          f"{np.round(inside[0, :4], 2)}")
phase = kernels["B"].reshape(2, 4, 2, 4).sum(axis=(0, 2))      # learned B: k = 8, s = 4
spread = (phase.max() - phase.min()) / phase.mean()
print(f"  learned B (k=8, s=4): its 16 phase sums spread by {spread:.1e} of their mean")
say(f"""
    Uneven overlap makes a checkerboard out of nothing; even overlap only makes a flat output
    possible. A learned kernel has to find balanced phases (B's agree to {spread:.0e}: its
    targets have no such pattern); FCN's kernels start from bilinear, balanced from the first
    step. Hence k = 2s.
    Lesson 05 adds the finer predictions of earlier layers to the upsampled ones (skip layers).
""")
fig, axes = plt.subplots(1, len(outs), figsize=(2.6 * len(outs), 2.9))
for ax, (name, inside) in zip(axes, outs):
    ax.imshow(inside / inside.mean(), cmap="gray", vmin=0, vmax=2)    # flat = mid grey
    ax.set_title(name)
    ax.axis("off")
fig.suptitle("A constant 8×8 input through stride-2 transposed convolutions (interior)")
_common.save_figure(fig, args, "checkerboard.png")

# %% Summary and questions
ripple = {name: (inside.max() - inside.min()) / inside.mean() for name, inside in outs}
gain = 100 * (1 - errors["learned (B)"] / errors["bilinear"])
_common.summary([
    f"Bilinear upsampling by f is a transposed convolution with the bilinear kernel of size 2f "
    f"and stride f: here equal to plain NumPy interpolation to "
    f"{np.abs(cropped - plain)[inner, inner].max():.0e} away from the border, once cropped by "
    f"f/2.",
    "A transposed convolution maps n pixels to (n − 1)·s − 2p + k; FCN's k = 2s, no padding, "
    "and crops to remove the extra s/2 on each side.",
    f"The deconvolution can learn: from random numbers it came within "
    f"{np.abs(kernels['A'] - bil8).max():.0e} of the bilinear kernel, and on real images its "
    f"kernel did {abs(gain):.1f} % {'better' if gain > 0 else 'worse'} than bilinear on unseen "
    f"images.",
    f"When the stride does not divide the kernel size, the taps reaching each output pixel "
    f"differ in number by position, and a constant input comes out as a checkerboard whatever "
    f"the weights (k=3, equal weights: {ripple['k=3, equal weights']:.2f}). When it does "
    f"(k = 2s), a flat output becomes possible, not certain: random k=4 weights still gave "
    f"{ripple['k=4, random']:.2f}, the bilinear kernel {ripple['k=4, bilinear']:.2f}.",
], [
    "The CVPR 2015 paper learns FCN-8s's intermediate deconvolutions and fixes the final one; "
    "the reference models freeze them all. What does a learned one gain, and what could it cost "
    "when it is trained only by the segmentation loss?",
    "For FCN-32s's upscore (k = 64, s = 32) on a 16×16 score map, how many pixels come out, "
    "and how many must the final crop remove?",
    "Write bilinear_kernel, conv_transpose2d_stamps and its backward in "
    "lessons/exercises/ex04_upsampling.py and check them with "
    "`python lessons/exercises/check.py 4`. Why is the stamped sum the "
    "adjoint (the backward) of a convolution?",
], ko=([
    f"배율 f의 쌍선형 업샘플링은 크기 2f, 스트라이드 f인 쌍선형 커널의 전치 합성곱입니다: "
    f"f/2씩 잘라 내면 가장자리를 빼고 NumPy로 직접 쓴 보간과 "
    f"{np.abs(cropped - plain)[inner, inner].max():.0e}까지 같았습니다.",
    "전치 합성곱은 n픽셀을 (n − 1)·s − 2p + k픽셀로 만듭니다. FCN은 k = 2s, 패딩 0을 쓰고, "
    "양쪽에 남는 s/2를 크롭으로 잘라 냅니다.",
    f"디컨볼루션은 학습할 수 있습니다: 무작위 값에서 시작해 쌍선형 커널과 "
    f"{np.abs(kernels['A'] - bil8).max():.0e} 이내로 가까워졌고, 실제 이미지로 학습한 커널은 "
    f"처음 보는 이미지에서 쌍선형보다 {abs(gain):.1f} % "
    f"{'좋았습니다' if gain > 0 else '나빴습니다'}.",
    f"스트라이드가 커널 크기를 나누지 못하면 출력 픽셀마다 닿는 커널 탭의 수가 위치에 따라 달라, "
    f"가중치와 상관없이 일정한 입력이 체커보드 무늬로 나옵니다(k=3, 같은 가중치: "
    f"{ripple['k=3, equal weights']:.2f}). 나누어떨어지면(k = 2s) 평평한 출력이 가능해질 뿐 "
    f"보장되지는 않습니다: 무작위 k=4 가중치는 여전히 {ripple['k=4, random']:.2f}, 쌍선형 커널은 "
    f"{ripple['k=4, bilinear']:.2f}였습니다.",
], [
    "CVPR 2015 논문은 FCN-8s의 중간 디컨볼루션을 학습하고 마지막 것은 고정했습니다. 공개된 "
    "참조 모델은 모두 고정합니다. 학습하는 디컨볼루션은 무엇을 얻고, 분할 손실만으로 학습될 "
    "때 무엇을 잃을 수 있을까요?",
    "16×16 점수 맵에 FCN-32s의 upscore(k = 64, s = 32)를 적용하면 몇 픽셀이 나오고, 마지막 "
    "크롭은 몇 픽셀을 잘라 내야 할까요?",
    "lessons/exercises/ex04_upsampling.py의 bilinear_kernel, conv_transpose2d_stamps와 그 "
    "backward를 작성하고 `python lessons/exercises/check.py 4`로 확인하세요. 도장을 찍어 더한 "
    "합이 왜 합성곱의 수반(역전파)일까요?",
]))
