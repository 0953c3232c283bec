"""Lesson 02: manual backprop, and the gradient check that proves it right.

minifcn has no autograd. Every layer has a ``forward`` that keeps what it will need (its cache)
and a ``backward`` that turns the gradient of the loss w.r.t. its output into the gradient w.r.t.
its input, adding up its parameters' gradients on the way. A network's backward is its layers'
backward calls in reverse order. This lesson writes one out by hand for a tiny network, then
checks every number of it against finite differences, and shows a bug being caught.
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

from minifcn import backend, gradcheck, nn
from minifcn.functional import conv as textbook      # the textbook convolution, whole

args = _common.parse_args("02_backprop_and_gradcheck", "Manual backprop and the gradient check")
_common.intro(args)
rng = np.random.default_rng(args.seed)
dev = args.device

# %% 1. A tiny network, forward
section("1. A tiny network, forward")
say("""
    conv (3 → 4 channels, 3×3, padding 1) → ReLU → 2×2 max pool → conv (4 → 3 classes, 3×3)
    → per-pixel softmax cross-entropy against a 4×4 map of class labels. A miniature FCN with
    no upsampling. Gradient checks need float64 (see section 5), so everything is float64.
""")
conv1 = nn.Conv2d(3, 4, 3, padding=1, seed=args.seed).to(dev, np.float64)
relu = nn.ReLU()
pool = nn.MaxPool2d(2)
conv2 = nn.Conv2d(4, 3, 3, padding=1, seed=args.seed + 1).to(dev, np.float64)
crit = nn.SoftmaxCrossEntropy()                  # mean over the labelled pixels
x = backend.to_device(rng.standard_normal((2, 3, 8, 8)), dev)
target = backend.to_device(rng.integers(0, 3, size=(2, 4, 4)).astype(np.int32), dev)
params = {"conv1.weight": conv1.weight, "conv1.bias": conv1.bias,
          "conv2.weight": conv2.weight, "conv2.bias": conv2.bias}


def forward(x):
    h1 = conv1(x)         # (2, 4, 8, 8)
    h2 = relu(h1)         # (2, 4, 8, 8)
    h3 = pool(h2)         # (2, 4, 4, 4)
    score = conv2(h3)     # (2, 3, 4, 4): 3 class scores per pixel of the 4×4 map
    return crit(score, target)


loss = forward(x)
print(f"x {tuple(x.shape)} → conv1 {(2, 4, 8, 8)} → relu → pool {(2, 4, 4, 4)} → conv2 "
      f"{(2, 3, 4, 4)} → loss {float(loss):.4f}")
print(f"(a random guess over 3 classes would score ln 3 = {np.log(3):.4f})")

# %% 2. Backward, one layer at a time, in reverse
section("2. Backward, one layer at a time, in reverse")
say(f"""
    The chain rule, read from the loss back to the input. Each call receives dL/d(its output)
    and returns dL/d(its input):

      dscore = crit.backward()      softmax(score) − onehot(target), / {target.size} pixels
      dh3 = conv2.backward(dscore)  a transposed convolution of dscore with conv2's weight;
                                    on the way it stores conv2.weight.grad and conv2.bias.grad
      dh2 = pool.backward(dh3)      each gradient goes to the one pixel that won its 2×2
                                    window in the forward pass (the cache remembers which)
      dh1 = relu.backward(dh2)      the gradient passes where the ReLU was on, 0 elsewhere
      dx  = conv1.backward(dh1)     and conv1.weight.grad, conv1.bias.grad
""")
for p in params.values():
    p.grad = None
dscore = crit.backward()
dh3 = conv2.backward(dscore)
dh2 = pool.backward(dh3)
dh1 = relu.backward(dh2)
dx = conv1.backward(dh1)
for name, g in [("dscore", dscore), ("dh3", dh3), ("dh2", dh2), ("dh1", dh1), ("dx", dx)]:
    g = backend.to_cpu(g)
    print(f"  {name:>6} {str(g.shape):>14}  nonzero {np.count_nonzero(g):>3}/{g.size:<3} "
          f"max |.| {np.abs(g).max():.2e}")
say("""
    dh2 has at most a quarter of its entries nonzero (one winner per 2×2 window), and dh1 fewer
    still (the ReLU blocks where it was off). Nothing here says the numbers are *right*. That
    is the gradient check's job.
""")
analytic = {name: backend.to_cpu(p.grad) for name, p in params.items()}
analytic["x"] = backend.to_cpu(dx)
say("""
    What does conv1.backward compute? minifcn/functional/conv.py holds the textbook convolution
    in one file: the forward is im2col (every window side by side as the columns of one
    matrix), one matrix product and a reshape; the backward is two more products. On a GPU this
    is the code that runs; on the CPU, NumPy arrays take a tuned version of the same algorithm
    behind one door (minifcn/functional/cpu/), which the tests hold to this one. The backward,
    and the two gradients it calls:
""")
for fn in (textbook.conv2d_backward, textbook._weight_grad, textbook._data_grad):
    print(textwrap.indent(inspect.getsource(fn), "    "))
say("""
    The weight gradient is the forward's product with dy in place of W and the columns
    transposed: each weight collects dy times every input pixel it multiplied. The data
    gradient is itself a convolution: of dy spread out by the stride, with the kernel flipped
    and its two channel axes swapped. Section 3 checks this code directly, number by number.
""")

# %% 3. The gradient check
section("3. The gradient check")
say("""
    Nudge one number θ_i of the network up and down by h and watch the loss:

        dL/dθ_i ≈ (L(θ + h·e_i) − L(θ − h·e_i)) / 2h         error O(h²)

    That needs two forward passes per number and no backward at all: an independent witness.
    minifcn.gradcheck.numerical_gradient does this for every entry of an array. The score is
    the relative error max |analytic − numeric| / max(|analytic| + |numeric|), which does not
    depend on the gradients' scale. In float64: about 1e-8 or less means right; 1e-2 to 1 means
    a bug (a wrong index, a forgotten term). ReLU and max have kinks; a nudge across one gives a
    wrong numeric value, but with random inputs and h = 1e-6 that is very unlikely.
""")
numeric = {}
for name, arr in [(n, p.data) for n, p in params.items()] + [("x", x)]:
    numeric[name] = backend.to_cpu(gradcheck.numerical_gradient(lambda: forward(x), arr, 1.0))
    err = gradcheck.relative_error(analytic[name], numeric[name])
    print(f"  {name:>13} {analytic[name].size:>4} numbers   relative error {err:.1e}")
say("""
    Every layer in minifcn is checked this way in tests/, one at a time, by
    gradcheck.check_layer: it runs the layer, draws a random upstream gradient and compares
    dx and every parameter gradient. Here for the textbook kernel printed above, called
    directly, then for a max pooling and a convolution layer:
""")
xs = backend.to_device(rng.standard_normal((2, 3, 6, 6)), dev)
xt, wt, bt = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), \
    rng.standard_normal(4)
yt, cache_t = textbook.conv2d_forward(xt, wt, bt, stride=2, padding=1)
dyt = rng.standard_normal(yt.shape)
grads_t = dict(zip(("dx", "dw", "db"), textbook.conv2d_backward(dyt, cache_t)))
errs_t = {k: gradcheck.relative_error(g, gradcheck.numerical_gradient(
    lambda: textbook.conv2d_forward(xt, wt, bt, stride=2, padding=1)[0], arr, dyt))
    for (k, g), arr in zip(grads_t.items(), (xt, wt, bt))}
print("  the textbook conv2d_backward printed above (stride 2, padding 1):",
      {k: f"{v:.1e}" for k, v in errs_t.items()})
print("  MaxPool2d(2):", {k: f"{v:.1e}" for k, v in gradcheck.check_layer(nn.MaxPool2d(2), xs)
                          .items()})
print("  Conv2d(3, 2, 3, stride 2):", {k: f"{v:.1e}" for k, v in gradcheck.check_layer(
    nn.Conv2d(3, 2, 3, stride=2, seed=0).to(dev, np.float64), xs).items()})

# %% 4. A broken backward is caught
section("4. A broken backward is caught")
say("""
    A classic slip: a ReLU whose backward forgets the mask and passes every gradient through.
    The forward is unchanged, so the loss looks as good as ever; only the gradients are wrong.
""")


class ForgetfulReLU(nn.ReLU):
    def backward(self, dout):
        self.pop_cache()
        return dout                          # the bug: should be dout * (output > 0)


relu = ForgetfulReLU()
forward(x)
for p in params.values():
    p.grad = None
conv1.backward(relu.backward(pool.backward(conv2.backward(crit.backward()))))
broken = backend.to_cpu(conv1.weight.grad)
err_broken = gradcheck.relative_error(broken, numeric["conv1.weight"])
print(f"  conv1.weight with the forgetful ReLU: relative error {err_broken:.1e}")
print(f"  conv2.weight, above the bug:          relative error "
      f"{gradcheck.relative_error(conv2.weight.grad, numeric['conv2.weight']):.1e}")
say("""
    The layers above the bug are still right; everything below it is wrong. Checking each
    layer's gradients separately tells you where to look.
""")
relu = nn.ReLU()

# %% 5. Why h = 1e-6, and why float64
section("5. Why h = 1e-6, and why float64")
say("""
    The finite difference has two errors. Truncation: the formula ignores the h² term of the
    Taylor series, so a large h is wrong by ~h². Round-off: L(θ+h) and L(θ−h) are nearly equal,
    and their difference keeps only the digits the float type has, an error ~ε·|L|/h that grows
    as h shrinks (ε = 1e-16 for float64, 6e-8 for float32). Between the two a V: the best h and
    the best error. Measured on conv2's weights (the loss is smooth in them: no kink between
    them and the loss), computing the difference by hand in both types:
""")
hs = np.logspace(-1, -12, 12 if args.quick else 23)
idx = rng.choice(conv2.weight.data.size, size=12 if args.quick else 40, replace=False)
curves = {}
for dtype in (np.float64, np.float32):
    for m in (conv1, conv2):
        m.to(dtype=dtype)
    xd = x.astype(dtype)
    w = conv2.weight.data.reshape(-1)
    exact = analytic["conv2.weight"].reshape(-1)[idx]      # checked right in section 3
    errs = []
    for h in hs:
        est = []
        for i in idx:
            old = w[i].copy()
            w[i] = old + dtype(h)
            plus = float(forward(xd))
            w[i] = old - dtype(h)
            minus = float(forward(xd))
            w[i] = old
            est.append((plus - minus) / (2 * h))
        errs.append(gradcheck.relative_error(exact, np.array(est)))
    curves[np.dtype(dtype).name] = errs
    best = int(np.argmin(errs))
    print(f"  {np.dtype(dtype).name}: best h {hs[best]:.0e} → relative error {errs[best]:.1e};"
          f"  at h = 1e-6: {errs[int(np.argmin(abs(np.log10(hs) + 6)))]:.1e}")
blind = hs[np.array(curves["float32"]) > 0.99]           # steps float32 cannot see at all
say(f"""
    {f"For h ≤ {blind.max():.0e}" if blind.size else "For the smallest h"} float32 does not
    see the nudge at all: the loss (about {float(loss):.1f}) changes by less than float32 can
    resolve at that size (~1e-7), so L(θ + h) = L(θ − h), the estimate is 0 and the relative
    error 1. float32 cannot tell a right gradient ({min(curves['float32']):.0e} at best) from a
    slightly wrong one, which is why gradient checks run in float64, with h ≈ 1e-6.
""")

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
a = np.concatenate([analytic[k].ravel() for k in params])
nmr = np.concatenate([numeric[k].ravel() for k in params])
axes[0].scatter(nmr, a, s=8)
axes[0].set_title("correct backward: analytic = numeric")
axes[1].scatter(numeric["conv1.weight"].ravel(), broken.ravel(), s=8, color="C3")
axes[1].set_title(f"forgetful ReLU: conv1.weight (error {err_broken:.1e})")
for ax in axes[:2]:
    lim = np.abs(ax.get_xlim()).max()
    ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=0.8)
    ax.set_xlabel("numerical gradient")
    ax.set_ylabel("analytic gradient (backward)")
for name, errs in curves.items():
    axes[2].loglog(hs, errs, marker="o", ms=3, label=name)
axes[2].set_xlabel("step h")
axes[2].set_ylabel("relative error")
axes[2].set_title("error vs step: round-off (left), truncation (right)")
axes[2].legend()
_common.save_figure(fig, args, "gradcheck.png")

# %% Summary and questions
worst = max(gradcheck.relative_error(analytic[k], numeric[k]) for k in analytic)
_common.summary([
    "A network's backward pass is its layers' backward calls in reverse order; each takes "
    "dL/d(output), returns dL/d(input) and adds up its parameters' gradients.",
    f"Central differences check every gradient without any backward code: the largest "
    f"relative error here was {worst:.0e}.",
    f"A ReLU that forgot its mask left the layers above it right and gave conv1.weight a "
    f"relative error of {err_broken:.0e}: checking layer by layer says where the bug is.",
    f"Truncation error falls with h, round-off grows as h shrinks: float64 reaches "
    f"{min(curves['float64']):.0e} at its best step, float32 only "
    f"{min(curves['float32']):.0e}, too coarse to tell a right gradient from a wrong one.",
], [
    "Max pooling sends each gradient to one pixel of its window. What happens when two pixels "
    "of a window are equal, and what would the numerical check say there?",
    "The backward of a convolution with respect to its input is a transposed convolution of "
    "dout with the same weights (lesson 04 uses that layer for upsampling). Why?",
    "Write conv2d_backward_loops and max_pool2d_backward_loops in "
    "lessons/exercises/ex02_backprop.py; `python lessons/exercises/check.py 2` compares them "
    "with stored answers. Which of your gradients would a gradient check (section 3) catch "
    "if you forgot the padding?",
], ko=([
    "신경망의 역전파는 각 계층의 backward를 거꾸로 부르는 것입니다. 각 계층은 dL/d(출력)을 받아 "
    "dL/d(입력)을 돌려주고, 매개변수의 기울기를 더해 둡니다.",
    f"중심 차분(수치 미분)은 backward 코드 없이도 모든 기울기를 확인합니다: 여기서 가장 큰 상대 "
    f"오차는 {worst:.0e}였습니다.",
    f"마스크를 잊은 ReLU는 그 위 계층들의 기울기는 그대로 두고 conv1.weight의 상대 오차를 "
    f"{err_broken:.0e}로 만들었습니다: 계층별로 확인하면 버그의 위치를 알 수 있습니다.",
    f"절단 오차는 h와 함께 줄고, 반올림 오차는 h가 작아질수록 커집니다: float64는 가장 좋은 "
    f"h에서 {min(curves['float64']):.0e}에 이르지만 float32는 {min(curves['float32']):.0e}에 "
    f"그쳐, 맞는 기울기와 틀린 기울기를 구별하기에 너무 거칩니다.",
], [
    "최대 풀링은 기울기를 윈도우의 한 픽셀로만 보냅니다. 윈도우 안의 두 픽셀 값이 같으면 어떻게 "
    "될까요? 그곳에서 수치 미분은 무엇이라고 할까요?",
    "합성곱의 입력에 대한 기울기는 같은 가중치로 dout을 전치 합성곱한 것입니다(레슨 04는 이 "
    "계층으로 업샘플링합니다). 왜 그럴까요?",
    "lessons/exercises/ex02_backprop.py의 conv2d_backward_loops와 max_pool2d_backward_loops를 "
    "작성하세요. `python lessons/exercises/check.py 2`가 저장된 정답과 비교합니다. 패딩을 잊었다면 "
    "3절의 기울기 확인은 어느 기울기에서 잡아낼까요?",
]))
