"""Lesson 06: training FCN-8s with ``minifcn.train()``.

The recipe of the authors' released reference models (fcn.berkeleyvision.org, described in the
PAMI 2016 paper) is short: SGD, momentum 0.99, batch 1, a summed loss with a learning rate of
1e-10 … 1e-14, biases at twice the rate, every bilinear deconvolution frozen, score layers
starting at zero, and training in stages from ImageNet VGG16. The CVPR 2015 paper trained
differently: SGD with momentum 0.9, minibatches of 20 images, a fixed rate of 1e-4, and only each
net's final deconvolution fixed (the intermediate 2× ones learned); docs/fcn.md §6 has both.
Each choice has a reason, and most of the trouble people have with FCN ports comes from changing
one without the others. This lesson takes the reference models' recipe one choice at a time,
with numbers, then trains a small FCN-8s from scratch on the offline shapes data (or on a subset
of VOC: ``--data VOC_ROOT``) and shows the run's curves and predictions.
"""
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup
import os
import time

from _common import np, say, section

import minifcn
from minifcn import backend, data, functional, models, nn, optim, runplots
from minifcn.config import DEFAULTS
from minifcn.runsetup import smallest_side


def data_flag(parser):
    """This lesson's own flag, beside the common ones (--out, --quick, --device, --seed)."""
    parser.add_argument("--data", default=None, metavar="VOC_ROOT",
                        help="train on a subset of VOC at VOC_ROOT instead of the shapes data")


args = _common.parse_args("06_training", "Training FCN-8s with minifcn.train()", extra=data_flag)
_common.intro(args)
dev = args.device
root = args.data if args.data is not None else data.ensure_shapes()
train_set = data.load_dataset(root, "train")
val_set = data.load_dataset(root, "val")
K = train_set.n_class
print(f"data: {root}\n  {len(train_set)} training and {len(val_set)} validation images, "
      f"{K} classes: {', '.join(train_set.class_names)}")

widths = dict(base_channels=4, fc_channels=32) if args.quick else dict(base_channels=8,
                                                                         fc_channels=64)


def uniform_init(model, seed):
    """PyTorch's default start, weights uniform in ±1/√fan_in and biases too, for every
    convolution except the score layers (which stay at zero)."""
    g = np.random.default_rng(seed)
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and not name.startswith("score"):
            bound = 1 / np.sqrt(m.in_channels * m.kernel_size[0] * m.kernel_size[1])
            for p in (m.weight, m.bias):
                p.data = backend.to_device(g.uniform(-bound, bound, p.shape).astype(np.float32),
                                           backend.device_of(p.data))
    return model


# The main job's geometry: fc6 padded as minifcn.train pads it (3) and conv1_1 only as much as
# the smallest image needs (0 here, where the paper's 100 would make every step about four times
# as costly; lesson 05 and docs/models.md explain it), chosen once the way minifcn.train does.
fc6_padding = DEFAULTS["fc6_padding"]
conv1_1_padding = models.FCN8s.smallest_padding(smallest_side(train_set, val_set), fc6_padding)


def new_fcn8s():
    """A fresh FCN-8s for the shapes (or VOC) classes, inputs in the 'torchvision' convention,
    in the main job's geometry (above)."""
    return models.FCN8s(n_class=K, input_convention="torchvision",
                        class_names=list(train_set.class_names), seed=args.seed,
                        fc6_padding=fc6_padding, conv1_1_padding=conv1_1_padding, **widths)


image0, label0 = train_set[0]
x0 = backend.to_device(data.preprocess(image0, "torchvision")[None], dev)
t0 = backend.to_device(label0[None], dev)

# %% 1. Score layers start at zero
section("1. Score layers start at zero")
say("""
    FCN's score layers (score_fr, score_pool4, score_pool3) start with zero weights and biases.
    Then every pixel gets the score 0 for every class, the softmax is uniform, and the loss is
    ln(K). Where VGG16's weights have not been transplanted, or training has not started, the
    prediction is the first class, background, everywhere: a common surprise (docs/fcn.md §9,
    item 3: "all-zero predictions").
""")
model = new_fcn8s().to(dev)
crit = nn.SoftmaxCrossEntropy(reduction="mean")
score = model(x0)
loss = float(crit(score, t0))
print(f"untrained FCN-8s: loss {loss:.4f} (ln {K} = {np.log(K):.4f}), predicted classes "
      f"{sorted(set(backend.to_cpu(score.argmax(axis=1)).ravel().tolist()))}")
model.zero_grad()
model.backward(crit.backward())
print("\ngradient norms after the first backward pass:")
for name, p in model.named_parameters():
    if name.endswith(".weight") and not name.startswith("upscore"):
        g = float(np.linalg.norm(backend.to_cpu(p.grad)))
        if name.startswith(("score", "fc", "conv5_3", "conv1_1")):
            print(f"  {name:<20} {g:.3e}")
say("""
    Only the score layers get a gradient. Everything below them receives dL/d(input of a score
    layer) = Wᵀ · dL/d(score), and W is zero: the first step trains the score layers alone, and
    from the second on the signal flows down. Zero is the safe start because it makes the new
    layers add nothing at first: when FCN-16s starts from a trained FCN-32s, its zero
    score_pool4 means it begins as exactly FCN-32s (lesson 05's staged training).
""")

# %% 2. Loss: sum or mean, and the learning rate that goes with each
section("2. Loss: sum or mean, and the learning rate that goes with each")
crit_sum = nn.SoftmaxCrossEntropy(reduction="sum")
w_probe = model.score_fr
grads = {}
for name, c in (("mean", crit), ("sum", crit_sum)):
    model.zero_grad()
    value = float(c(model(x0), t0))
    model.backward(c.backward())
    grads[name] = (value, float(np.linalg.norm(backend.to_cpu(w_probe.weight.grad))))
counted = int((label0 != train_set.ignore_index).sum())
print(f"one {label0.shape[0]}×{label0.shape[1]} image, {counted} labelled pixels:")
print(f"  reduction 'mean': loss {grads['mean'][0]:10.4f}   |dL/d score_fr.weight| "
      f"{grads['mean'][1]:.4e}")
print(f"  reduction 'sum':  loss {grads['sum'][0]:10.4f}   |dL/d score_fr.weight| "
      f"{grads['sum'][1]:.4e}   (ratio {grads['sum'][1] / grads['mean'][1]:.0f})")
voc_pixels = 500 * 375
say(f"""
    The summed loss, the reference models', is the mean times the number of labelled pixels,
    and so is its
    gradient. SGD's step is lr × gradient, so 'sum' with rate lr takes the same step as 'mean'
    with rate lr × pixels: here {counted} times larger. On a 500×375 VOC image that is
    {voc_pixels:,} pixels, which is why the reference models' rates are tiny: their 1e-10 with
    the summed loss and batch 1 is a per-pixel-mean rate of about {1e-10 * voc_pixels:.0e}. (The
    CVPR 2015 paper's own 1e-4, with batches of 20 and momentum 0.9, is another recipe.) Change
    the reduction without
    dividing or multiplying the rate by the pixel count and training either crawls or explodes.
    minifcn.train uses reduction='mean' by default (rates around 1e-3 … 1e-2). Here is the
    explosion, in a short run with 'sum' and a rate meant for 'mean':
""")
try:
    with np.errstate(over="ignore", invalid="ignore"):       # the overflow is the point here
        minifcn.train(model=new_fcn8s(), optimizer="sgd", lr_policy="fixed", reduction="sum",
                      lr=1e-2, momentum=0.9, iterations=30,
                      eval_every=0, progress=False, seed=args.seed, device=dev, data=root,
                      out=os.path.join(args.out, "diverged"), overwrite=True)
    print("  (no divergence this time)")
except FloatingPointError as err:                    # minifcn.train's TrainingDiverged
    print("  " + str(err).split(". ")[0] + ".")
    print("  minifcn.train stopped and kept its last good checkpoint.")

# %% 3. Momentum 0.99, biases at 2× the rate, frozen deconvolutions
section("3. Momentum 0.99, biases at 2× the rate, frozen deconvolutions")
opt = optim.SGD(model.named_parameters(), lr=1e-3, momentum=0.99, weight_decay=5e-4)
print(f"{'parameter':<22} {'rate':>8} {'decay':>8}")
for name, p in model.named_parameters():
    if name.split(".")[0] in ("conv1_1", "score_fr", "upscore8"):
        if not p.requires_grad:
            print(f"{name:<22} {'frozen (not in the optimizer)':>30}")
            continue
        bias = name.endswith(".bias")
        print(f"{name:<22} {opt.lr * (opt.bias_lr_mult if bias else 1):>8.0e} "
              f"{opt.weight_decay * (opt.bias_decay_mult if bias else 1):>8.0e}")
mu = opt.momentum
say(f"""
    Momentum μ keeps a running sum of past gradients, v ← μ·v + lr·g, and steps by v. With a
    steady gradient the step settles at lr/(1 − μ) = {1 / (1 - mu):.0f}× lr, and it averages
    the gradients of the last ~1/(1 − μ) = {1 / (1 - mu):.0f} iterations: with one image per
    iteration, μ = 0.99 acts like a batch of about a hundred images, without the memory. The
    runs in these lessons use μ = 0.99 with lr 1e-3 and batches of four images.

    Momentum also eases the start: the first steps are lr·g, and only as v builds up does the
    step grow towards lr/(1 − μ). The same lr/(1 − μ) with μ = 0.9 and lr 1e-2 takes steps ten
    times larger from the first iteration, and on these nets one of them can throw the loss up
    to thousands before it settles, which costs many iterations to recover from.

    Biases get twice the rate and no weight decay: Caffe's lr_mult 2 / decay_mult 0, a
    convention FCN inherited from the Caffe classification models. Weight decay penalises large
    weights, which make a net react strongly to small changes of its input; a bias multiplies
    no input, so decaying it regularises nothing.

    The deconvolutions (upscore2, upscore_pool4, upscore8) start as bilinear interpolation and
    stay there, as in the authors' released reference models (Caffe lr_mult 0): the optimizer
    skips them (requires_grad=False; their weight gradient is not even computed). The CVPR 2015
    paper fixed only upscore8 and let upscore2 and upscore_pool4 learn from their bilinear start.
    set_learn_upsampling(True) lets them learn, as lesson 04 does with a single deconvolution.
""")

# %% 4. From scratch is slower than from VGG16
section("4. From scratch is slower than from VGG16")
say("""
    The paper never trains from scratch: the trunk starts as VGG16 trained on ImageNet's 1.2
    million images, so its filters already respond to edges, textures and object parts, and
    FCN only has to learn to read them out per pixel. Offline, without those weights, the
    lessons train everything from random numbers on a few hundred small images: the net has
    to discover its features from scratch, which takes many more iterations and ends lower.

    The random start matters too. minifcn's models start with He initialisation, weights
    ~ N(0, 2/fan_in) (minifcn.nn.init.kaiming_normal), because they have to be trainable from
    scratch here; PyTorch's default, uniform in ±1/√fan_in, is only a placeholder for weights
    that VGG16 will overwrite. Follow the size of the activations through the trunk (root mean
    square after each block) from both starts:
""")
plain, he = uniform_init(new_fcn8s(), args.seed).to(dev), new_fcn8s().to(dev)
print(f"{'':>10}" + "".join(f"{'pool' + str(i):>9}" for i in range(1, 6)) + f"{'fc7':>9}")
rms = {}
for label, m in (("uniform", plain), ("He", he)):
    m.eval()
    with nn.no_grad():
        h, row = x0, []
        for i in range(1, 6):
            h = m.block_forward(i, h)
            row.append(float(np.sqrt((backend.to_cpu(h) ** 2).mean())))
        h = m.relu7(m.fc7(m.relu6(m.fc6(h))))
        row.append(float(np.sqrt((backend.to_cpu(h) ** 2).mean())))
    rms[label] = row
    print(f"{label:>10}" + "".join(f"{v:>9.3g}" for v in row))
decay = rms["uniform"][4] / rms["uniform"][0]
say(f"""
    A ReLU keeps the positive half of its input, which halves its mean square; He's variance
    2/fan_in doubles it back, so the scale holds through all fifteen layers. A smaller
    variance shrinks the signal layer after layer, and the gradient on its way down with it.
    From the uniform start each layer's weights cut the mean square to about a third and the
    ReLU halves it again: here pool5 keeps {decay:.2g}× of pool1's scale, and such a net learns
    far more slowly. The runs in these lessons use He's start.

    Staged training (lesson 05) also has to do with the start. From VGG16, pool3's and pool4's
    features are much larger than fc7's, and so are the gradients of the score layers that read
    them: trained in one go, FCN-8s lets its skip scores run ahead of the rest. Hence the
    paper's stages (FCN-32s → 16s → 8s), or FCN-8s-at-once, which scales pool4 by 0.01 and pool3
    by 0.0001 before their score layers. From He's start every block has about the same scale
    (the table), so here FCN-8s is trained in one stage.
""")

# %% 5. The run
section("5. The run")
iterations = 40 if args.quick else 3000
batch = 1 if args.quick else 4
subset = 60 if args.quick else None
val_subset = 10 if args.quick else 60
if args.data is not None:
    subset, val_subset = (20, 10) if args.quick else (200, 50)
recipe = dict(optimizer="sgd", lr_policy="fixed", iterations=iterations, batch_size=batch,
              lr=1e-3, momentum=0.99,
              weight_decay=5e-4, reduction="mean", class_weight="none", subset=subset,
              val_subset=val_subset,
              eval_every=max(iterations // 5, 1), data=root, seed=args.seed, device=dev,
              progress=False)
say(f"""
    minifcn.train(model=fcn8s, {', '.join(f'{k}={v!r}' for k, v in recipe.items()
    if k not in ('data', 'progress'))}, out=...)

    FCN-8s with widths {widths['base_channels']}…{8 * widths['base_channels']} and
    {widths['fc_channels']}-channel fc6/fc7, He initialisation, inputs in the 'torchvision'
    convention (RGB scaled to about zero mean, unit variance). It evaluates on {val_subset}
    validation images every {recipe['eval_every']} iterations and writes log.csv, eval.csv,
    metrics.json, checkpoint.npz (model + optimizer; resume=True continues it exactly) and
    three figures into the run folder.

    This is the reference models' recipe, spelled out (optimizer='sgd', lr_policy='fixed'). The
    README's
    main job, `python -m minifcn train`, trains from scratch too, and there it uses Adam with a
    decaying rate instead: Adam's step does not depend on the gradients' scale, and it leaves
    "background everywhere" in hundreds of iterations where SGD needs thousands. The trained
    nets that lessons 05 and 07 look at (data/pretrained/) were made with that recipe, Adam and
    all; this lesson trains with SGD to show the reference models', which start from ImageNet
    weights.
""" + ("""
    --quick: 40 iterations on 60 images, far too few to learn the shapes; the curves and
    predictions show the mechanics, not a trained net. Run without --quick (about two minutes
    on a 2-core CPU) for a net that has learned something.
""" if args.quick else "") + ("""
    VOC images are about 500×375: each iteration costs tens of times more than on the shapes
    data, and a net trained from scratch on a few hundred of them learns little. This shows the
    mechanics on real data; the paper's results need ImageNet weights and a GPU.
""" if args.data is not None else ""))
start = time.perf_counter()
run = minifcn.train(model=new_fcn8s(), out=os.path.join(args.out, "run"), overwrite=True,
                    **recipe)
seconds = time.perf_counter() - start
print(f"trained {iterations} iterations in {seconds:.0f} s "
      f"({seconds / iterations:.2f} s per iteration of {batch} image{'s' * (batch > 1)})")
print(f"{'iteration':>9} {'pixel acc':>9} {'mean acc':>9} {'mean IU':>8} {'f.w. IU':>8}")
with open(os.path.join(run["out"], "eval.csv"), encoding="utf-8") as f:
    rows = [line.strip().split(",") for line in f][1:]
evals = rows[-(iterations // recipe["eval_every"]):]                 # this run's evaluations
for it, *vals in evals:
    print(f"{it:>9} " + " ".join(f"{float(v):>8.3f} " for v in vals))
frozen = max(float(np.abs(backend.to_cpu(run["model"].upscore8.weight.data)
                          - functional.bilinear_weight(K, K, 16)).max()), 0.0)
print(f"upscore8 after training: max |w − bilinear| = {frozen:.1e} (frozen)")
stuck = [int(r[0]) for r in evals if float(r[2]) < 1 / K + 1e-3]          # r[2]: mean acc
if stuck and int(evals[-1][0]) > stuck[-1]:
    after = next(r for r in evals if int(r[0]) > stuck[-1])
    say(f"""
        At iteration{'s' * (len(stuck) > 1)} {', '.join(map(str, stuck))} the net answered
        background everywhere (mean accuracy 1/{K}): SGD from scratch first settles on the easy
        minimum of predicting the commonest class, here for at least {stuck[-1] * batch}
        images, and then leaves it: mean IU {float(after[3]):.3f} at iteration {after[0]}, and
        {run['metrics']['mean_iu']:.3f} at the end.
    """)
if run["metrics"]["acc_cls"] < 1 / K + 1e-3:
    say(f"""
        The net still answers background everywhere (mean accuracy 1/{K}): the loss has found
        the easy minimum of predicting the commonest class, and {iterations * batch} images of
        SGD from scratch were not enough to leave it. Raise the iterations: on this data the nets
        of these lessons leave it after a few thousand images, often abruptly.
    """)
say(f"""
    The run folder is {run['out']}. Its loss.png shows the loss per iteration (grey, noisy:
    one batch at a time) and a moving average; metrics.png the four validation scores at each
    evaluation; predictions.png a few validation images, their labels and the predictions.
    Lesson 07 explains the scores and looks at this model class by class.
""")
# The figure is drawn from the run's own files (log.csv: every iteration's loss; eval.csv: the
# scores of every evaluation), as for any run folder: minifcn.runplots.plot_run(folder, path).
path = runplots.plot_run(run["out"], os.path.join(args.out, "training.png"),
                      title=f"minifcn.train: FCN-8s, {iterations} iterations of {batch} "
                            f"image{'s' * (batch > 1)}, SGD"
                            + (" (--quick: barely trained)" if args.quick else ""))
print(f"[figure] {path} (from {os.path.join(run['out'], 'log.csv')} and eval.csv)")

# %% Summary and questions
_common.summary([
    "Score layers start at zero: the first loss is ln K, and only the score layers get a "
    "gradient on the first step; the new layers of a stage add nothing until they learn.",
    f"The summed loss and its gradient are the mean times the number of labelled pixels "
    f"({counted} here, up to {voc_pixels:,} on a 500×375 VOC image): the learning rate must "
    f"change with the reduction, or training crawls or blows up.",
    "Momentum 0.99 averages about a hundred gradients; biases learn at twice the rate without "
    "decay; the bilinear deconvolutions stay frozen (the reference models' choice; the CVPR 2015 "
    "paper learned the intermediate ones).",
    f"He initialisation left pool5 with {rms['He'][4] / rms['He'][0]:.2g}× pool1's scale, "
    f"PyTorch's default uniform start with {decay:.2g}×: the signal, and the gradient, fade "
    f"through fifteen layers unless the start makes up for the ReLUs.",
    f"The run: mean IU {run['metrics']['mean_iu']:.3f} on {val_subset} validation images after "
    f"{iterations} iterations of {batch} image{'s' * (batch > 1)}.",
], [
    "With reduction='sum', doubling the batch doubles the gradient. What must happen to the "
    "learning rate to keep the same step, and what with reduction='mean'?",
    "Trained in one stage from VGG16, FCN-8s needs pool4 scaled by 0.01 and pool3 by 0.0001. "
    "Using section 4's table, why would the scale of a block's features matter for the score "
    "layer that reads it?",
    "Write softmax_cross_entropy and adam_step in lessons/exercises/ex06_training.py and check "
    "them with `python lessons/exercises/check.py 6`, which ends with the sanity check: can a "
    "small FCN of your own pieces overfit four images? What should the 'mean' loss be when "
    "every pixel of a batch is 255?",
], ko=([
    "점수 계층은 0에서 시작합니다: 첫 손실은 ln K이고, 첫 갱신에서는 점수 계층만 기울기를 "
    "받습니다. 단계마다 새로 붙는 계층은 학습하기 전까지 아무것도 더하지 않습니다.",
    f"합(sum) 손실과 그 기울기는 평균(mean)에 라벨이 있는 픽셀 수를 곱한 것입니다(여기서 "
    f"{counted}, 500×375 VOC 이미지에서는 최대 {voc_pixels:,}): 손실의 축소 방식을 바꾸면 학습률도 "
    f"바꿔야 합니다. 그러지 않으면 학습이 기어가거나 폭발합니다.",
    "모멘텀 0.99는 기울기 약 100개를 평균합니다. 편향은 두 배의 학습률로, 가중치 감소 없이 "
    "학습합니다. 쌍선형 디컨볼루션은 고정됩니다(참조 모델의 선택이고, CVPR 2015 논문은 중간 "
    "것들을 학습했습니다).",
    f"He 초깃값에서는 pool5의 크기가 pool1의 {rms['He'][4] / rms['He'][0]:.2g}배, PyTorch의 "
    f"기본 균등분포 초깃값에서는 {decay:.2g}배였습니다: 초깃값이 ReLU를 보정하지 않으면 신호와 "
    f"기울기가 15개 계층을 지나며 사라집니다.",
    f"학습 결과: 이미지 {batch}장씩 {iterations}번 반복한 뒤 검증 이미지 {val_subset}장에서 "
    f"mean IU {run['metrics']['mean_iu']:.3f}.",
], [
    "reduction='sum'에서는 배치를 두 배로 하면 기울기도 두 배가 됩니다. 같은 크기로 갱신하려면 "
    "학습률은 어떻게 해야 할까요? reduction='mean'이라면요?",
    "VGG16에서 한 번에 학습하는 FCN-8s는 pool4에 0.01, pool3에 0.0001을 곱해야 합니다. 4절의 "
    "표를 보고, 블록 특징의 크기가 그것을 읽는 점수 계층에 왜 중요한지 생각해 보세요.",
    "lessons/exercises/ex06_training.py의 softmax_cross_entropy와 adam_step을 작성하고 "
    "`python lessons/exercises/check.py 6`으로 확인하세요. 마지막에 기본 점검(sanity check)이 "
    "나옵니다: 여러분이 만든 조각으로 조립한 작은 FCN이 이미지 네 장을 외울 수 있을까요? 배치의 "
    "모든 픽셀이 255라면 'mean' 손실은 얼마여야 할까요?",
]))
