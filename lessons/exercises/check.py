"""Grade the exercises: python lessons/exercises/check.py [N ...] [--answers DIR]

Each exercise function is run on small float64 inputs with odd sizes, strides and paddings, and
compared with minifcn's own code: the loop references in minifcn.functional.naive (forward and
backward), the fast kernels, minifcn.geometry and minifcn.metrics, and numerical gradients
(minifcn.gradcheck) for the backward passes. For every comparison the grader prints the
relative error max |yours − reference| / max(|yours| + |reference|); an answer passes when every
error is below 1e-8 (1e-6 against numerical gradients). A wrong answer gets a hint. The exit
status is 0 only when every exercise asked for passes.

``grade(lessons, answers)`` does the same from Python, with ``answers`` mapping a lesson number
to any object whose attributes are the answer functions (the tests use it).
"""
import argparse
import importlib.util
import os
import sys
import traceback
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import minifcn  # noqa: F401
except ImportError:                 # a plain checkout: the repository root is two folders up
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import numpy as np  # noqa: E402

from minifcn import geometry, gradcheck, metrics, nn  # noqa: E402
from minifcn import functional as F  # noqa: E402

FILES = {1: "ex01_conv_and_pooling.py", 2: "ex02_backprop.py", 3: "ex03_convolutionization.py",
         4: "ex04_upsampling.py", 5: "ex05_skip_layers.py", 6: "ex06_training.py",
         7: "ex07_evaluation.py", 8: "ex08_other_upsampling.py"}
TOL, TOL_NUMERIC = 1e-8, 1e-6
CHECKS = {}                         # lesson → [(function name, hint, checker)]


class Mismatch(Exception):
    """An answer of the wrong shape or type: no error can be computed."""


def exercise(lesson, name, hint):
    """Register ``checker(fn, answers)``, which yields (what, relative error, tolerance)."""
    def register(checker):
        CHECKS.setdefault(lesson, []).append((name, hint, checker))
        return checker
    return register


def rel(got, want, what):
    """Relative error of an answer against a reference, after checking its shape."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise Mismatch(f"{what}: shape {got.shape}, expected {want.shape}")
    if not np.all(np.isnan(got) == np.isnan(want)):
        raise Mismatch(f"{what}: nan at {np.argwhere(np.isnan(got) != np.isnan(want))[:3].tolist()}"
                       " … where the reference has a number, or the other way round")
    keep = ~np.isnan(want)
    return gradcheck.relative_error(np.asarray(got[keep], np.float64), want[keep])


def numeric(f, arr, dout):
    """Numerical gradient of Σ dout · f() with respect to ``arr`` (perturbed in place)."""
    return gradcheck.numerical_gradient(f, arr, dout)


def rng_for(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# Lesson 01: convolution and pooling as loops

CONV_CASES = [((2, 3, 7, 6), (4, 3, 3, 3), 2, 1), ((1, 2, 5, 8), (3, 2, 2, 3), 1, 0),
              ((2, 1, 6, 6), (2, 1, 3, 3), 3, 2)]


@exercise(1, "conv2d_loops",
          "out[n, o, i, j] = b[o] + Σ w[o] · (window of the zero-padded x starting at "
          "(i·stride, j·stride)); oh = (H + 2p − kh)//s + 1. No flipping of the kernel: "
          "frameworks compute a cross-correlation.")
def _(fn, answers):
    for k, (xs, ws, s, p) in enumerate(CONV_CASES):
        rng = rng_for(k)
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        got = fn(x, w, b, stride=s, padding=p)
        case = f"x {xs}, w {ws}, stride {s}, padding {p}"
        yield f"vs naive.conv2d_naive, {case}", rel(got, F.naive.conv2d_naive(x, w, b, s, p),
                                                    case), TOL
        yield f"vs conv2d_forward,     {case}", rel(got, F.conv2d_forward(x, w, b, s, p)[0],
                                                    case), TOL


POOL_CASES = [((2, 3, 7, 7), 2, 2, False), ((2, 3, 7, 7), 2, 2, True), ((1, 2, 8, 9), 3, 2, True),
              ((1, 2, 6, 5), 3, 1, False)]


@exercise(1, "max_pool2d_loops",
          "oh = (H − k)//s + 1, or ceil((H − k)/s) + 1 with ceil_mode; a window that hangs "
          "over the edge takes the max of the real pixels only.")
def _(fn, answers):
    for k, (xs, ks, s, ceil) in enumerate(POOL_CASES):
        x = rng_for(10 + k).standard_normal(xs)
        got = fn(x, ks, s, ceil_mode=ceil)
        case = f"x {xs}, kernel {ks}, stride {s}, ceil_mode {ceil}"
        yield f"vs naive.max_pool2d_naive, {case}", rel(
            got, F.naive.max_pool2d_naive(x, ks, s, 0, ceil), case), TOL
        yield f"vs max_pool2d_forward,     {case}", rel(
            got, F.max_pool2d_forward(x, ks, s, 0, ceil)[0], case), TOL


# ---------------------------------------------------------------------------------------------
# Lesson 02: backward passes as loops

@exercise(2, "conv2d_backward_loops",
          "dw[o] += dout[n, o, i, j] · window(n, i, j); dxpad[n, :, window] += "
          "Σ_o dout[n, o, i, j] · w[o]; db = dout summed over n, i, j; finally cut the "
          "padding off dxpad.")
def _(fn, answers):
    for k, (xs, ws, s, p) in enumerate(CONV_CASES[:2]):
        rng = rng_for(20 + k)
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        dout = rng.standard_normal(F.conv2d_forward(x, w, b, s, p)[0].shape)
        got = fn(dout, x, w, stride=s, padding=p)
        if not (isinstance(got, tuple) and len(got) == 3):
            raise Mismatch("return the tuple (dx, dw, db)")
        want = F.naive.conv2d_backward_naive(dout, x, w, s, p)
        case = f"x {xs}, w {ws}, stride {s}, padding {p}"

        def f():
            return F.conv2d_forward(x, w, b, s, p)[0]

        for name, g, ref, arr in zip(("dx", "dw", "db"), got, want, (x, w, b)):
            yield f"{name} vs naive.conv2d_backward_naive, {case}", rel(g, ref, name), TOL
            yield f"{name} vs numerical gradient,          {case}", rel(
                g, numeric(f, arr, dout), name), TOL_NUMERIC


@exercise(2, "max_pool2d_backward_loops",
          "each output's gradient goes to the argmax of its window only; with overlapping "
          "windows (stride < kernel) add the gradients of every window a pixel wins.")
def _(fn, answers):
    for k, (xs, ks, s) in enumerate([((2, 2, 6, 7), 2, 2), ((1, 2, 7, 7), 3, 2),
                                     ((1, 1, 5, 6), 2, 1)]):
        rng = rng_for(30 + k)
        x = rng.standard_normal(xs)
        dout = rng.standard_normal(F.max_pool2d_forward(x, ks, s)[0].shape)
        got = fn(dout, x, ks, s)
        case = f"x {xs}, kernel {ks}, stride {s}"
        yield f"vs naive.max_pool2d_backward_naive, {case}", rel(
            got, F.naive.max_pool2d_backward_naive(dout, x, ks, s), case), TOL
        yield f"vs numerical gradient,              {case}", rel(
            got, numeric(lambda: F.max_pool2d_forward(x, ks, s)[0], x, dout), case), TOL_NUMERIC


# ---------------------------------------------------------------------------------------------
# Lesson 03: convolutionization

@exercise(3, "convolutionize",
          "the Linear reads the map flattened in (C, H, W) order, so weight.reshape(out, C, H, "
          "W) is the filter bank, and the bias stays as it is.")
def _(fn, answers):
    for k, (out_features, shape) in enumerate([(6, (4, 3, 3)), (5, (2, 3, 4)), (3, (6, 1, 1))]):
        rng = rng_for(40 + k)
        linear = nn.Linear(int(np.prod(shape)), out_features, seed=k, dtype=np.float64)
        got = fn(linear.weight.data.copy(), linear.bias.data.copy(), shape)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Mismatch("return the tuple (conv_weight, conv_bias)")
        ref = nn.convolutionize(linear, shape)
        yield f"weight vs nn.convolutionize, input {shape}", rel(
            got[0], ref.weight.data, "conv_weight"), TOL
        yield f"bias vs nn.convolutionize,   input {shape}", rel(
            got[1], ref.bias.data, "conv_bias"), TOL
        maps = rng.standard_normal((2,) + shape)
        as_conv = F.conv2d_forward(maps, np.asarray(got[0]), np.asarray(got[1]))[0]
        as_linear = linear(maps.reshape(2, -1))[:, :, None, None]
        yield f"conv2d_forward of a {shape} map vs the Linear", rel(as_conv, as_linear,
                                                                     "output"), TOL


# ---------------------------------------------------------------------------------------------
# Lesson 04: upsampling

@exercise(4, "bilinear_kernel",
          "factor f = (k + 1)//2, centre c = f − 1 for odd k and f − 0.5 for even k; the "
          "profile 1 − |i − c|/f for i = 0 … k−1, and w = outer(profile, profile).")
def _(fn, answers):
    for k in (1, 2, 3, 4, 5, 8, 16, 64):
        yield f"vs upsample_filter({k})", rel(fn(k), F.upsample_filter(k, np.float64),
                                             f"kernel {k}"), TOL


@exercise(4, "conv_transpose2d_stamps",
          "full size (H − 1)·s + kh; input pixel (i, j) adds Σ_c x[n, c, i, j]·w[c] at rows "
          "i·s … i·s + kh − 1; overlapping stamps add; then drop `padding` rows and columns "
          "on every side.")
def _(fn, answers):
    for k, (xs, ws, s, p) in enumerate([((2, 3, 4, 5), (3, 2, 4, 4), 2, 0),
                                        ((1, 2, 3, 3), (2, 2, 3, 3), 2, 1),
                                        ((1, 2, 3, 4), (2, 1, 16, 16), 8, 4)]):
        rng = rng_for(50 + k)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        got = fn(x, w, s, padding=p)
        case = f"x {xs}, w {ws}, stride {s}, padding {p}"
        yield f"vs naive.conv_transpose2d_naive, {case}", rel(
            got, F.naive.conv_transpose2d_naive(x, w, None, s, p), case), TOL
        yield f"vs conv_transpose2d_forward,     {case}", rel(
            got, F.conv_transpose2d_forward(x, w, None, s, p)[0], case), TOL


# ---------------------------------------------------------------------------------------------
# Lesson 05: crop offsets from coordinate maps

def _trunk(pad1=100):
    """VGG16's trunk up to each pool, as spec lists: {'pool3': [...], 'pool4': ..., 'pool5'}."""
    specs, ends = [("conv", 3, 1, pad1), ("conv", 3, 1, 1), ("pool", 2, 2, 0)], {}
    for block, n_conv in ((2, 2), (3, 3), (4, 3), (5, 3)):
        specs += [("conv", 3, 1, 1)] * n_conv + [("pool", 2, 2, 0)]
        ends[f"pool{block}"] = list(specs)
    return ends


def fcn_crops(pad1=100):
    """(description, path, like) of every crop of FCN-32s, 16s and 8s."""
    t = _trunk(pad1)
    score_fr = t["pool5"] + [("conv", 7, 1, 0), ("conv", 1, 1, 0), ("conv", 1, 1, 0)]
    upscore2 = score_fr + [("deconv", 4, 2, 0)]
    upscore_pool4 = upscore2 + [("deconv", 4, 2, 0)]
    return [(f"FCN-32s final crop (conv1_1 pad {pad1})", score_fr + [("deconv", 64, 32, 0)], ()),
            ("FCN-16s score_pool4", t["pool4"] + [("conv", 1, 1, 0)], upscore2),
            (f"FCN-16s final crop (conv1_1 pad {pad1})", upscore2 + [("deconv", 32, 16, 0)], ()),
            ("FCN-8s score_pool3", t["pool3"] + [("conv", 1, 1, 0)], upscore_pool4),
            (f"FCN-8s final crop (conv1_1 pad {pad1})", upscore_pool4 + [("deconv", 16, 8, 0)],
             ())]


@exercise(5, "coord_map",
          "conv and pool: a = s, b = (k − 1)/2 − pad (the window's centre for o = 0); deconv: "
          "invert o = s·i + (k − 1)/2 − pad, so a = 1/s and b = −((k − 1)/2 − pad)/s.")
def _(fn, answers):
    for spec in [("conv", 3, 1, 100), ("conv", 3, 1, 1), ("pool", 2, 2, 0), ("conv", 7, 1, 0),
                 ("deconv", 64, 32, 0), ("deconv", 4, 2, 1), ("conv", 3, 2, 1)]:
        got = fn(*spec)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Mismatch("return the pair (a, b)")
        want = geometry.coord_map(*spec)
        yield f"vs geometry.coord_map{spec}", rel(np.array(got, np.float64), np.array(
            [float(want.scale), float(want.shift)]), str(spec)), TOL


@exercise(5, "crop_offset",
          "compose from the blob down to the image (the last layer's map is applied first: "
          "(a, b) ← (a·a_l, a·b_l + b) walking the path upwards), then "
          "offset = (b_like − b_path) / a.")
def _(fn, answers):
    for pad1 in (100, 96, 132):
        for what, path, like in fcn_crops(pad1):      # the pad moves the final crops only
            want = geometry.crop_offset(path, like)
            got = fn(path, like)
            if isinstance(got, Fraction) and got.denominator == 1:
                got = int(got)
            if not isinstance(got, (int, np.integer)):
                raise Mismatch(f"{what}: return an int, got {type(got).__name__} {got!r}")
            yield f"{what}: {got}, geometry.crop_offset says {want}", rel(
                float(got), float(want), what), TOL


# ---------------------------------------------------------------------------------------------
# Lesson 06: the loss

@exercise(6, "softmax_cross_entropy",
          "log p = s − max − log Σ exp(s − max); loss = −Σ log p[target] over counted pixels "
          "(/ count for 'mean', count at least 1); dscore = (p − onehot) · counted, / count "
          "for 'mean'.")
def _(fn, answers):
    rng = rng_for(60)
    score = rng.standard_normal((2, 4, 3, 5)) * 3
    target = rng.integers(0, 4, (2, 3, 5))
    target[0, 1, 1:4] = 255
    target[1, 2, :2] = 255
    for reduction in ("mean", "sum"):
        for case, t in (("some pixels 255", target), ("every pixel 255",
                                                      np.full_like(target, 255))):
            got = fn(score, t, 255, reduction)
            if not (isinstance(got, tuple) and len(got) == 2):
                raise Mismatch("return the tuple (loss, dscore)")
            loss, cache = F.softmax_cross_entropy_forward(score, t, 255, reduction)
            dscore = F.softmax_cross_entropy_backward(1.0, cache)
            what = f"reduction {reduction!r}, {case}"
            yield f"loss vs softmax_cross_entropy_forward, {what}", rel(
                float(np.asarray(got[0])), float(loss), "loss"), TOL
            yield f"dscore vs softmax_cross_entropy_backward, {what}", rel(
                got[1], dscore, "dscore"), TOL

            def f(t=t):
                return F.softmax_cross_entropy_forward(score, t, 255, reduction)[0]

            yield f"dscore vs numerical gradient, {what}", rel(
                got[1], numeric(f, score, 1.0), "dscore"), TOL_NUMERIC


# ---------------------------------------------------------------------------------------------
# Lesson 07: the metrics

def _labels(seed, n_class=5):
    """True and predicted maps with void pixels; class n_class − 1 never occurs anywhere."""
    rng = rng_for(seed)
    true = rng.integers(0, n_class - 1, (3, 9, 11))
    pred = np.where(rng.random(true.shape) < 0.7, true, rng.integers(0, n_class - 1, true.shape))
    true[:, 4, :] = 255
    return true, pred


@exercise(7, "confusion_matrix",
          "keep the pixels with 0 ≤ true < n_class (255 is dropped), then "
          "np.bincount(n_class·true + pred, minlength=n_class²).reshape(n_class, n_class); "
          "rows are the true classes.")
def _(fn, answers):
    for seed in (70, 71):
        true, pred = _labels(seed)
        want = metrics.ConfusionMatrix(5).update(true, pred).hist
        yield "vs metrics.ConfusionMatrix.hist", rel(fn(true, pred, 5), want, "hist"), TOL


def _hists():
    out = []
    for seed in (72, 73):
        true, pred = _labels(seed)
        out.append(metrics.ConfusionMatrix(5).update(true, pred))
    wild = metrics.ConfusionMatrix(5).update(np.array([0, 0, 1, 2, 2]), np.array([0, 3, 1, 1, 2]))
    return out + [wild]                 # 3 is predicted, never true; 4 neither


@exercise(7, "iu_per_class",
          "IU = diag / (row sums + column sums − diag); a class absent from truth and prediction "
          "is 0/0 = nan.")
def _(fn, answers):
    for k, cm in enumerate(_hists()):
        yield f"vs metrics.ConfusionMatrix.iu, matrix {k + 1}", rel(fn(cm.hist.copy()), cm.iu,
                                                                     "IU"), TOL


@exercise(7, "segmentation_scores",
          "mean accuracy and mean IU skip nan classes (np.nanmean); f.w. IU sums freq·IU over "
          "the classes with freq > 0 only (a class predicted but never true has IU 0 and freq 0).")
def _(fn, answers):
    for k, cm in enumerate(_hists()):
        got = fn(cm.hist.copy())
        s = cm.scores()
        want = [s["acc"], s["acc_cls"], s["mean_iu"], s["fwavacc"]]
        yield f"vs metrics.ConfusionMatrix.scores(), matrix {k + 1}", rel(
            np.array(got, np.float64), np.array(want), "(acc, acc_cls, mean_iu, fwavacc)"), TOL


# ---------------------------------------------------------------------------------------------
# Lesson 08: shift-and-stitch

def _shifted(x, f):
    """The f² copies of x, copy dy·f + dx moved up by dy and left by dx (zeros come in)."""
    H, W = x.shape[2:]
    copies = np.zeros((f * f,) + x.shape, x.dtype)
    for dy in range(f):
        for dx in range(f):
            copies[dy * f + dx, :, :, :H - dy, :W - dx] = x[:, :, dy:, dx:]
    return copies


def _twins(seed):
    """A net with output stride 2 and its dilated twin (same weights, stride 1, dilation 2)."""
    rng = rng_for(seed)
    w1, b1 = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    w2, b2 = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)

    def strided(x):
        h = np.maximum(F.conv2d_forward(x, w1, b1, stride=2)[0], 0)
        return F.conv2d_forward(h, w2, b2)[0]

    def dilated(x):
        h = np.maximum(F.conv2d_forward(x, w1, b1, stride=1)[0], 0)
        return F.conv2d_forward(h, w2, b2, dilation=2)[0]

    return strided, dilated


@exercise(8, "interleave",
          "dense[:, :, dy::f, dx::f] = outputs[dy·f + dx] for every (dy, dx); the dense map is "
          "(N, K, f·h, f·w).")
def _(fn, answers):
    for f, xs in ((2, (2, 3, 13, 12)), (3, (1, 3, 17, 20))):
        rng = rng_for(80 + f)
        x, w = rng.standard_normal(xs), rng.standard_normal((2, 3, 3, 3))
        outs = np.stack([F.conv2d_forward(c, w, stride=f)[0] for c in _shifted(x, f)])
        dense = np.asarray(fn(outs, f))
        want_shape = outs.shape[1:3] + (f * outs.shape[3], f * outs.shape[4])
        if dense.shape != want_shape:
            raise Mismatch(f"dense map of shape {dense.shape}, expected {want_shape}")
        twin = F.conv2d_forward(x, w, stride=1)[0]            # the stride removed
        h, w_ = twin.shape[2:]
        yield f"stride-{f} conv stitched vs the stride-1 conv (conv2d_forward), x {xs}", rel(
            dense[:, :, :h, :w_], twin, "dense map"), TOL


@exercise(8, "shift_and_stitch",
          "copy (dy, dx) is x moved up by dy and left by dx: copy[..., :H−dy, :W−dx] = "
          "x[..., dy:, dx:], zeros elsewhere; run net on each copy and interleave in the order "
          "k = dy·f + dx.")
def _(fn, answers):
    for k, xs in enumerate(((1, 2, 15, 15), (2, 2, 16, 13))):
        strided, dilated = _twins(90 + k)
        x = rng_for(95 + k).standard_normal(xs)
        dense = np.asarray(fn(strided, x, 2))
        twin = dilated(x)
        h, w = twin.shape[2:]
        if dense.ndim != 4 or dense.shape[2] < h or dense.shape[3] < w:
            raise Mismatch(f"dense map of shape {dense.shape}: expected at least {twin.shape}")
        yield f"conv s2 → relu → conv stitched vs its dilated twin, x {xs}", rel(
            dense[:, :, :h, :w], twin, "dense map"), TOL


# ---------------------------------------------------------------------------------------------

def load_answers(lesson, folder=HERE):
    """The student's module for ``lesson`` (exNN_*.py in ``folder``)."""
    path = os.path.join(folder, FILES[lesson])
    spec = importlib.util.spec_from_file_location(f"exercise_{lesson:02d}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_function(lesson, name, hint, checker, answers, say=print):
    """Run one exercise's comparisons; print them; True when all pass."""
    fn = getattr(answers, name, None)
    if fn is None:
        say(f"[FAIL] {name}: not found in the answers for lesson {lesson:02d}")
        return False
    rows, problem = [], None
    with np.errstate(all="ignore"):
        try:
            rows = [(what, float(err), tol) for what, err, tol in checker(fn, answers)]
        except NotImplementedError:
            say(f"[TODO] {name}: not written yet (it raises NotImplementedError)")
            return False
        except Mismatch as err:
            problem = str(err)
        except Exception:                   # the student's code crashed: show where
            problem = "raised an exception:\n" + traceback.format_exc(limit=-3)
    ok = problem is None and all(err <= tol for _, err, tol in rows)
    say(f"[{'PASS' if ok else 'FAIL'}] {name}")
    for what, err, tol in rows:
        say(f"    {'ok ' if err <= tol else 'BAD'} relative error {err:.1e}  {what}")
    if problem:
        say(f"    {problem}")
    if not ok:
        say(f"    hint: {hint}")
    return ok


def grade(lessons, answers=None, say=print):
    """Grade ``lessons``; ``answers`` maps a lesson to an object holding its functions
    (default: the exercise files beside this script). Returns {lesson: {name: passed}}."""
    results = {}
    for lesson in lessons:
        say(f"\nLesson {lesson:02d} ({FILES[lesson]})")
        module = answers[lesson] if answers is not None else load_answers(lesson)
        results[lesson] = {name: check_function(lesson, name, hint, checker, module, say)
                           for name, hint, checker in CHECKS[lesson]}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python lessons/exercises/check.py",
                                     description="Grade the exercises of lessons 01-08.")
    parser.add_argument("lessons", nargs="*", type=int, metavar="N",
                        help="lesson numbers to grade (default: all)")
    parser.add_argument("--answers", metavar="DIR", default=HERE,
                        help="folder holding the exNN_*.py files (default: %(default)s)")
    args = parser.parse_args(argv)
    lessons = args.lessons or sorted(FILES)
    unknown = [n for n in lessons if n not in FILES]
    if unknown:
        parser.error(f"no exercises for lesson(s) {unknown}: choose from {sorted(FILES)}")
    answers = {n: load_answers(n, args.answers) for n in lessons}
    results = grade(lessons, answers)
    passed = sum(ok for r in results.values() for ok in r.values())
    total = sum(len(r) for r in results.values())
    print(f"\n{passed} of {total} exercises pass.")
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
