"""The capstone: a small FCN made of your own pieces, trained on the shapes data.

    python lessons/exercises/check.py --mine          # 2000 iterations: minutes on 2 cores

In CS231n your ``layers.py`` becomes the ThreeLayerConvNet; in 밑바닥부터 시작하는 딥러닝 the
same ``common/layers.py`` trains ``simple_convnet.py``. Here the functions you wrote for lessons
01–07 become an FCN with one skip, an FCN-8s in miniature:

    image 32×32×3
    conv1 3→8, 3×3 pad 1, ReLU, max pool 2       16×16   (1/2)
    conv2 8→16, 3×3 pad 1, ReLU, max pool 2       8×8    (1/4)  pool2
    conv3 16→32, 3×3 pad 1, ReLU, max pool 2      4×4    (1/8)
    conv4 32→32, 3×3 pad 1, ReLU                  4×4    (fc6's place)
    score_fr 32→5, 1×1                            4×4    starts at zero
    upscore2, transposed conv 4×4 stride 2 pad 1  8×8    bilinear to start, learned
    score_pool2 16→5, 1×1 on pool2, fused         8×8    starts at zero; crop offset 0 here
    upscore4, transposed conv 8×8 stride 4 pad 2  32×32  bilinear, frozen
    loss: your softmax cross-entropy (mean, void 255 ignored); update: your Adam step

Yours: conv2d_loops and conv2d_backward_loops (every convolution, the 1×1 score layers too),
max_pool2d_loops and max_pool2d_backward_loops, bilinear_kernel, conv_transpose2d_stamps and
conv_transpose2d_backward, fuse_forward and fuse_backward, softmax_cross_entropy, adam_step, and
for the score confusion_matrix and segmentation_scores. Only ReLU and the plumbing are written
here. As in the CVPR 2015 paper, the intermediate upsampling learns and the final one is fixed.
Images are the 64×64 shapes set halved to 32×32 (labels: every other pixel), so that Python
loops over output pixels stay fast enough.
"""
import os
import sys
import time

import numpy as np

N_CLASS = 5
SIZE = 32
OVERFIT_TARGET = 0.98          # pixel accuracy on the four images it trained on
OVERFIT_ITERATIONS = 150
MINE_ITERATIONS, MINE_BATCH, MINE_LR = 2000, 8, 1e-2
MINE_TARGET = 0.40             # mean IU on the 100 validation images (32×32)
QUICK_ITERATIONS = 15


class Pieces:
    """The student's functions by role."""

    NEEDS = {1: ("conv2d_loops", "max_pool2d_loops"),
             2: ("conv2d_backward_loops", "max_pool2d_backward_loops"),
             4: ("bilinear_kernel", "conv_transpose2d_stamps", "conv_transpose2d_backward"),
             5: ("fuse_forward", "fuse_backward"),
             6: ("softmax_cross_entropy", "adam_step"),
             7: ("confusion_matrix", "segmentation_scores")}

    def __init__(self, **fns):
        self.__dict__.update(fns)

    @classmethod
    def from_answers(cls, answers):
        fns = {}
        for lesson, names in cls.NEEDS.items():
            if lesson in answers and not isinstance(answers[lesson], Exception):
                fns.update({n: getattr(answers[lesson], n, None) for n in names})
        return cls(**fns)


class TinyFCN:
    """The network above; ``params`` maps a name to an array, ``grads`` likewise."""

    CONVS = (("conv1", 3, 8, 3), ("conv2", 8, 16, 3), ("conv3", 16, 32, 3), ("conv4", 32, 32, 3))

    def __init__(self, pieces, seed=0):
        self.p = pieces
        rng = np.random.default_rng(seed)
        self.params = {}
        for name, cin, cout, k in self.CONVS:              # He initialisation
            self.params[name + ".w"] = rng.standard_normal((cout, cin, k, k)) * np.sqrt(
                2.0 / (cin * k * k))
            self.params[name + ".b"] = np.zeros(cout)
        for name, cin in (("score_fr", 32), ("score_pool2", 16)):
            self.params[name + ".w"] = np.zeros((N_CLASS, cin, 1, 1))
            self.params[name + ".b"] = np.zeros(N_CLASS)
        self.params["upscore2.w"] = self.bilinear(4)
        self.upscore4 = self.bilinear(8)                   # frozen: not a parameter

    def bilinear(self, k):
        """Your bilinear kernel on the class diagonal (class c upsamples class c only)."""
        w = np.zeros((N_CLASS, N_CLASS, k, k))
        w[range(N_CLASS), range(N_CLASS)] = np.asarray(self.p.bilinear_kernel(k), np.float64)
        return w

    def conv(self, name, x, padding):
        out = self.p.conv2d_loops(x, self.params[name + ".w"], self.params[name + ".b"], 1,
                                  padding)
        self.cache[name] = (x, padding)
        return out

    def conv_back(self, name, dout):
        x, padding = self.cache[name]
        dx, dw, db = self.p.conv2d_backward_loops(dout, x, self.params[name + ".w"], 1, padding)
        self.grads[name + ".w"], self.grads[name + ".b"] = dw, db
        return dx

    def forward(self, x):
        """x (N, 3, 32, 32) → scores (N, 5, 32, 32)."""
        self.cache, h = {}, x
        for i, (name, *_) in enumerate(self.CONVS):
            h = self.conv(name, h, 1)
            self.cache[name + ".relu"] = h > 0
            h = np.maximum(h, 0)
            if i < 3:
                self.cache[f"pool{i + 1}"] = h
                h = self.p.max_pool2d_loops(h, 2, 2)
                if i == 1:
                    pool2 = h
        score_fr = self.conv("score_fr", h, 0)                             # 4×4
        up = self.p.conv_transpose2d_stamps(score_fr, self.params["upscore2.w"], 2, 1)  # 8×8
        self.cache["upscore2"] = score_fr
        score_pool2 = self.conv("score_pool2", pool2, 0)                   # 8×8
        self.cache["score_pool2.shape"] = score_pool2.shape
        fused = self.p.fuse_forward(up, score_pool2, 0)
        self.cache["upscore4"] = fused
        return self.p.conv_transpose2d_stamps(fused, self.upscore4, 4, 2)  # 32×32

    def backward(self, dscore):
        """Gradients of every parameter into ``self.grads``, the mirror of ``forward``."""
        self.grads = {}
        dfused, _ = self.p.conv_transpose2d_backward(dscore, self.cache["upscore4"],
                                                     self.upscore4, 4, 2)
        dup, dscore_pool2 = self.p.fuse_backward(dfused, self.cache["score_pool2.shape"], 0)
        dpool2 = self.conv_back("score_pool2", dscore_pool2)
        dscore_fr, self.grads["upscore2.w"] = self.p.conv_transpose2d_backward(
            dup, self.cache["upscore2"], self.params["upscore2.w"], 2, 1)
        dh = self.conv_back("score_fr", dscore_fr)
        for i in reversed(range(len(self.CONVS))):
            name = self.CONVS[i][0]
            if i < 3:
                if i == 1:
                    dh = dh + dpool2                  # pool2 fed conv3 and the skip
                dh = self.p.max_pool2d_backward_loops(dh, self.cache[f"pool{i + 1}"], 2, 2)
            dh = self.conv_back(name, dh * self.cache[name + ".relu"])
        return dh


class Trainer:
    """Your loss and your Adam step on a TinyFCN."""

    def __init__(self, net, lr):
        self.net, self.lr, self.t = net, lr, 0
        self.m = {k: np.zeros_like(v) for k, v in net.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in net.params.items()}

    def step(self, x, y):
        score = self.net.forward(x)
        loss, dscore = self.net.p.softmax_cross_entropy(score, y, 255, "mean")
        self.net.backward(np.asarray(dscore, np.float64))
        self.t += 1
        for k, g in self.net.grads.items():
            self.net.params[k], self.m[k], self.v[k] = self.net.p.adam_step(
                self.net.params[k], g, self.m[k], self.v[k], self.t, self.lr, 0.9, 0.999, 1e-8)
        return float(loss), score


def shapes(split, subset=None):
    """(images (N, 3, 32, 32) float64, labels (N, 32, 32)) from the 64×64 shapes set."""
    try:
        import minifcn  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))))
    from minifcn import data
    ds = data.load_dataset(data.ensure_shapes(), split)
    n = len(ds) if subset is None else subset
    images, labels = [], []
    for i in range(n):
        img, lbl = ds[i]
        img = np.asarray(img, np.float64)
        img = img.reshape(SIZE, 2, SIZE, 2, 3).mean(axis=(1, 3))          # 2×2 means
        images.append(((img - 127.5) / 64.0).transpose(2, 0, 1))
        labels.append(np.asarray(lbl)[::2, ::2].astype(np.int64))
    return np.stack(images), np.stack(labels)


def pixel_accuracy(score, y):
    counted = y != 255
    return float(((score.argmax(1) == y) & counted).sum() / max(counted.sum(), 1))


def overfit_four_images(pieces, say=print, iterations=OVERFIT_ITERATIONS):
    """CS231n's sanity check: train on four images until the net gets them right."""
    x, y = shapes("train", subset=4)
    trainer = Trainer(TinyFCN(pieces), lr=1e-2)
    losses, acc = [], 0.0
    for it in range(1, iterations + 1):
        loss, score = trainer.step(x, y)
        losses.append(loss)
        acc = pixel_accuracy(score, y)
        if acc >= OVERFIT_TARGET:
            break
    return {"pixel_acc": acc, "iterations": it, "losses": losses}


def evaluate(net, x, y, batch=20):
    pieces, hist = net.p, np.zeros((N_CLASS, N_CLASS), np.int64)
    for i in range(0, len(x), batch):
        pred = net.forward(x[i:i + batch]).argmax(1)
        hist += np.asarray(pieces.confusion_matrix(y[i:i + batch], pred, N_CLASS), np.int64)
    acc, acc_cls, mean_iu, fwavacc = pieces.segmentation_scores(hist)
    return {"acc": float(acc), "acc_cls": float(acc_cls), "mean_iu": float(mean_iu),
            "fwavacc": float(fwavacc)}


def train_mine(pieces, iterations=MINE_ITERATIONS, batch=MINE_BATCH, lr=MINE_LR, seed=0,
               say=print, val_subset=None):
    """Train a TinyFCN of your pieces on the shapes set; {'losses', 'scores', 'seconds'}."""
    x, y = shapes("train")
    vx, vy = shapes("val", subset=val_subset)
    net = TinyFCN(pieces, seed=seed)
    trainer = Trainer(net, lr)
    rng = np.random.default_rng(seed)
    losses, start = [], time.perf_counter()
    for it in range(1, iterations + 1):
        pick = rng.choice(len(x), batch, replace=False)
        loss, _ = trainer.step(x[pick], y[pick])
        losses.append(loss)
        if it % max(1, iterations // 10) == 0 or it == iterations:
            say(f"  iteration {it:4d}  loss (mean of the last {min(it, 50)}) "
                f"{np.mean(losses[-50:]):.3f}  {time.perf_counter() - start:.0f} s")
    scores = evaluate(net, vx, vy)
    seconds = time.perf_counter() - start
    background = net.p.segmentation_scores(np.asarray(net.p.confusion_matrix(
        vy, np.zeros_like(vy), N_CLASS), np.int64))[2]
    return {"losses": losses, "scores": scores, "seconds": seconds,
            "background_mean_iu": float(background)}


def main(answers, quick=False):
    """``check.py --mine``: grade the pieces the capstone needs, then train and score."""
    import check
    print("The capstone: a small FCN of your own pieces (lessons 01, 02, 04, 05, 06, 07)")
    missing = []
    for lesson in Pieces.NEEDS:
        module = answers[lesson]
        lines = []
        ok = not isinstance(module, Exception) and all(
            check.check_function(lesson, name, hint, prepare, compare, module, lines.append)
            for name, hint, prepare, compare in check.CHECKS[lesson]
            if name in Pieces.NEEDS[lesson])
        if not ok:
            missing.append(f"{lesson:02d}")
            if isinstance(module, Exception):
                print(f"  lesson {lesson:02d}: {module}")
    if missing:
        print(f"Not yet: your pieces of lessons {', '.join(missing)} do not pass "
              f"(python lessons/exercises/check.py {' '.join(m.lstrip('0') for m in missing)}).")
        return 1
    pieces = Pieces.from_answers(answers)
    iterations = QUICK_ITERATIONS if quick else MINE_ITERATIONS
    print(f"Every piece passes. Training {iterations} iterations of {MINE_BATCH} images "
          f"({SIZE}×{SIZE}), Adam at {MINE_LR}:")
    result = train_mine(pieces, iterations, val_subset=20 if quick else None)
    s = result["scores"]
    print(f"\nValidation ({'20' if quick else 'all 100'} images, scored with your metrics): "
          f"pixel acc {s['acc']:.3f}, mean acc {s['acc_cls']:.3f}, mean IU {s['mean_iu']:.3f}, "
          f"f.w. IU {s['fwavacc']:.3f}; {result['seconds']:.0f} s")
    print(f"(Answering 'background' everywhere would score mean IU "
          f"{result['background_mean_iu']:.3f} on the same images.)")
    if quick:
        print("(--quick: too short to learn; the full run must reach mean IU "
              f"{MINE_TARGET}.)")
        return 0
    ok = s["mean_iu"] >= MINE_TARGET
    print(f"[{'PASS' if ok else 'FAIL'}] the capstone: mean IU {s['mean_iu']:.3f} "
          f"{'≥' if ok else '<'} {MINE_TARGET}")
    return 0 if ok else 1
