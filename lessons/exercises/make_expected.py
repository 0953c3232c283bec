"""Make the grader's expected answers: python lessons/exercises/make_expected.py [--out DIR]

For every exercise, a few small float64 cases (odd sizes, strides and paddings, void pixels,
classes that never occur) and the answers minifcn's own code gives for them: the loop references
of ``minifcn.functional.naive``, the kernels, ``minifcn.geometry``, ``minifcn.metrics`` and
``minifcn.optim``. They go into ``expected/exNN.npz`` beside this script, which is all that
``check.py`` reads: a student's file is compared with stored arrays, never with a function it
could call instead of writing its own.

Layout of a file: for case k of function ``name``, ``name/k/order`` (JSON: the argument names,
in call order), ``name/k/arg/<arg>`` (an array, or a JSON string for lists, strings and numbers)
and ``name/k/want/<i>`` (the i-th value the function returns). The inputs come from fixed seeds,
so running this again writes the same numbers (a test checks it).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import minifcn  # noqa: F401
except ImportError:                 # a plain checkout: the repository root is two folders up
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import numpy as np  # noqa: E402

from minifcn import geometry, metrics, nn, optim  # noqa: E402
from minifcn import functional as F  # noqa: E402
from minifcn.functional import naive  # noqa: E402

CASES = {}                          # lesson → {function name: case maker}


def cases(lesson, name):
    """Register ``maker()``, which returns [(args as an ordered dict, answers as a tuple)]."""
    def register(maker):
        CASES.setdefault(lesson, {})[name] = maker
        return maker
    return register


def rng_for(seed):
    return np.random.default_rng(seed)


# --- lesson 01, 02 ------------------------------------------------------------------------
CONV_CASES = [((2, 3, 7, 6), (4, 3, 3, 3), 2, 1), ((1, 2, 5, 8), (3, 2, 2, 3), 1, 0),
              ((2, 1, 6, 6), (2, 1, 3, 3), 3, 2)]
POOL_CASES = [((2, 3, 7, 7), 2, 2, False), ((2, 3, 7, 7), 2, 2, True), ((1, 2, 8, 9), 3, 2, True),
              ((1, 2, 6, 5), 3, 1, False)]


@cases(1, "conv2d_loops")
def _():
    out = []
    for k, (xs, ws, s, p) in enumerate(CONV_CASES):
        rng = rng_for(k)
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        out.append((dict(x=x, w=w, b=b, stride=s, padding=p),
                    (naive.conv2d_naive(x, w, b, s, p),)))
    return out


@cases(1, "max_pool2d_loops")
def _():
    out = []
    for k, (xs, ks, s, ceil) in enumerate(POOL_CASES):
        x = rng_for(10 + k).standard_normal(xs)
        out.append((dict(x=x, kernel_size=ks, stride=s, ceil_mode=ceil),
                    (naive.max_pool2d_naive(x, ks, s, 0, ceil),)))
    return out


@cases(2, "conv2d_backward_loops")
def _():
    out = []
    for k, (xs, ws, s, p) in enumerate(CONV_CASES):
        rng = rng_for(20 + k)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        dout = rng.standard_normal(naive.conv2d_naive(x, w, None, s, p).shape)
        out.append((dict(dout=dout, x=x, w=w, stride=s, padding=p),
                    naive.conv2d_backward_naive(dout, x, w, s, p)))
    return out


@cases(2, "max_pool2d_backward_loops")
def _():
    out = []
    for k, (xs, ks, s) in enumerate([((2, 2, 6, 7), 2, 2), ((1, 2, 7, 7), 3, 2),
                                     ((1, 1, 5, 6), 2, 1)]):
        rng = rng_for(30 + k)
        x = rng.standard_normal(xs)
        dout = rng.standard_normal(naive.max_pool2d_naive(x, ks, s).shape)
        out.append((dict(dout=dout, x=x, kernel_size=ks, stride=s),
                    (naive.max_pool2d_backward_naive(dout, x, ks, s),)))
    return out


# --- lesson 03 ----------------------------------------------------------------------------
@cases(3, "convolutionize")
def _():
    out = []
    for k, (out_features, shape) in enumerate([(6, (4, 3, 3)), (5, (2, 3, 4)), (3, (6, 1, 1))]):
        linear = nn.Linear(int(np.prod(shape)), out_features, seed=k, dtype=np.float64)
        linear.bias.data[:] = rng_for(40 + k).standard_normal(out_features)
        conv = nn.convolutionize(linear, shape)
        out.append((dict(weight=linear.weight.data.copy(), bias=linear.bias.data.copy(),
                         input_shape=list(shape)), (conv.weight.data, conv.bias.data)))
    return out


# --- lesson 04 ----------------------------------------------------------------------------
DECONV_CASES = [((2, 3, 4, 5), (3, 2, 4, 4), 2, 0), ((1, 2, 3, 3), (2, 2, 3, 3), 2, 1),
                ((1, 2, 3, 4), (2, 1, 16, 16), 8, 4)]


@cases(4, "bilinear_kernel")
def _():
    return [(dict(k=k), (F.upsample_filter(k, np.float64),)) for k in (1, 2, 3, 4, 5, 8, 16, 64)]


@cases(4, "conv_transpose2d_stamps")
def _():
    out = []
    for k, (xs, ws, s, p) in enumerate(DECONV_CASES):
        rng = rng_for(50 + k)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        out.append((dict(x=x, w=w, stride=s, padding=p),
                    (naive.conv_transpose2d_naive(x, w, None, s, p),)))
    return out


@cases(4, "conv_transpose2d_backward")
def _():
    out = []
    for k, (xs, ws, s, p) in enumerate(DECONV_CASES):
        rng = rng_for(55 + k)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        dout = rng.standard_normal(naive.conv_transpose2d_naive(x, w, None, s, p).shape)
        dx, dw, _ = naive.conv_transpose2d_backward_naive(dout, x, w, s, p)
        out.append((dict(dout=dout, x=x, w=w, stride=s, padding=p), (dx, dw)))
    return out


# --- lesson 05 ----------------------------------------------------------------------------
def _trunk(pad1=100):
    """VGG16's trunk up to each pool, as spec lists: {'pool3': [...], 'pool4': ..., 'pool5'}."""
    specs, ends = [("conv", 3, 1, pad1), ("conv", 3, 1, 1), ("pool", 2, 2, 0)], {}
    for block, n_conv in ((2, 2), (3, 3), (4, 3), (5, 3)):
        specs += [("conv", 3, 1, 1)] * n_conv + [("pool", 2, 2, 0)]
        ends[f"pool{block}"] = list(specs)
    return ends


def fcn_crops(pad1=100):
    """(path, like) of every crop of FCN-32s, 16s and 8s."""
    t = _trunk(pad1)
    score_fr = t["pool5"] + [("conv", 7, 1, 0), ("conv", 1, 1, 0), ("conv", 1, 1, 0)]
    upscore2 = score_fr + [("deconv", 4, 2, 0)]
    upscore_pool4 = upscore2 + [("deconv", 4, 2, 0)]
    return [(score_fr + [("deconv", 64, 32, 0)], []),
            (t["pool4"] + [("conv", 1, 1, 0)], upscore2),
            (upscore2 + [("deconv", 32, 16, 0)], []),
            (t["pool3"] + [("conv", 1, 1, 0)], upscore_pool4),
            (upscore_pool4 + [("deconv", 16, 8, 0)], [])]


@cases(5, "coord_map")
def _():
    out = []
    for spec in [("conv", 3, 1, 100), ("conv", 3, 1, 1), ("pool", 2, 2, 0), ("conv", 7, 1, 0),
                 ("deconv", 64, 32, 0), ("deconv", 4, 2, 1), ("conv", 3, 2, 1)]:
        m = geometry.coord_map(*spec)
        out.append((dict(zip(("kind", "kernel_size", "stride", "pad"), spec)),
                    (float(m.scale), float(m.shift))))
    return out


@cases(5, "crop_offset")
def _():
    return [(dict(path=[list(s) for s in path], like=[list(s) for s in like]),
             (int(geometry.crop_offset(path, like)),))
            for pad1 in (100, 96, 132) for path, like in fcn_crops(pad1)]


FUSE_CASES = [((2, 3, 6, 7), (2, 3, 9, 11), 2), ((1, 2, 34, 34), (1, 2, 44, 44), 5),
              ((1, 4, 5, 5), (1, 4, 5, 5), 0)]


@cases(5, "fuse_forward")
def _():
    out = []
    for k, (us, ps, offset) in enumerate(FUSE_CASES):
        rng = rng_for(56 + k)
        up, score = rng.standard_normal(us), rng.standard_normal(ps)
        cropped = F.crop_forward(score, us[2:], (offset, offset))[0]
        out.append((dict(upscored=up, score_pool=score, offset=offset), (up + cropped,)))
    return out


@cases(5, "fuse_backward")
def _():
    out = []
    for k, (us, ps, offset) in enumerate(FUSE_CASES):
        rng = rng_for(59 + k)
        dfused = rng.standard_normal(us)
        _, cache = F.crop_forward(np.zeros(ps), us[2:], (offset, offset))
        out.append((dict(dfused=dfused, score_pool_shape=list(ps), offset=offset),
                    (dfused.copy(), F.crop_backward(dfused, cache))))
    return out


# --- lesson 06 ----------------------------------------------------------------------------
@cases(6, "softmax_cross_entropy")
def _():
    rng = rng_for(60)
    score = rng.standard_normal((2, 4, 3, 5)) * 3
    target = rng.integers(0, 4, (2, 3, 5))
    target[0, 1, 1:4] = 255
    target[1, 2, :2] = 255
    out = []
    for reduction in ("mean", "sum"):
        for t in (target, np.full_like(target, 255)):
            loss, cache = F.softmax_cross_entropy_forward(score, t, 255, reduction)
            out.append((dict(score=score, target=t, ignore_index=255, reduction=reduction),
                        (float(loss), F.softmax_cross_entropy_backward(1.0, cache))))
    return out


@cases(6, "adam_step")
def _():
    """minifcn's Adam run for a few steps; the case is its last step (t, m and v not zero)."""
    out = []
    for k, (shape, lr, steps) in enumerate([((3, 4), 1e-3, 1), ((2, 3, 3, 3), 1e-2, 3),
                                            ((5,), 0.1, 7)]):
        rng = rng_for(65 + k)
        p = nn.Parameter(rng.standard_normal(shape))
        opt = optim.Adam([("layer.weight", p)], lr=lr)
        for _ in range(steps - 1):
            p.grad = rng.standard_normal(shape)
            opt.step()
        state, _ = opt.state_dict()
        m = state.get("exp_avg/layer.weight", np.zeros(shape)).copy()
        v = state.get("exp_avg_sq/layer.weight", np.zeros(shape)).copy()
        before, p.grad = p.data.copy(), rng.standard_normal(shape)
        grad = p.grad.copy()
        opt.step()
        state, _ = opt.state_dict()
        out.append((dict(param=before, grad=grad, m=m, v=v, t=steps, lr=lr, beta1=0.9,
                         beta2=0.999, eps=1e-8),
                    (p.data.copy(), state["exp_avg/layer.weight"].copy(),
                     state["exp_avg_sq/layer.weight"].copy())))
    return out


# --- lesson 07 ----------------------------------------------------------------------------
def _labels(seed, n_class=5):
    """True and predicted maps with void pixels; class n_class − 1 never occurs anywhere."""
    rng = rng_for(seed)
    true = rng.integers(0, n_class - 1, (3, 9, 11))
    pred = np.where(rng.random(true.shape) < 0.7, true, rng.integers(0, n_class - 1, true.shape))
    true[:, 4, :] = 255
    return true, pred


def _hists():
    out = [metrics.ConfusionMatrix(5).update(*_labels(seed)) for seed in (72, 73)]
    wild = metrics.ConfusionMatrix(5).update(np.array([0, 0, 1, 2, 2]), np.array([0, 3, 1, 1, 2]))
    return out + [wild]                 # 3 is predicted, never true; 4 neither


@cases(7, "confusion_matrix")
def _():
    out = []
    for seed in (70, 71):
        true, pred = _labels(seed)
        out.append((dict(label_true=true, label_pred=pred, n_class=5),
                    (metrics.ConfusionMatrix(5).update(true, pred).hist,)))
    return out


@cases(7, "iu_per_class")
def _():
    return [(dict(hist=cm.hist.copy()), (cm.iu,)) for cm in _hists()]


@cases(7, "segmentation_scores")
def _():
    out = []
    for cm in _hists():
        s = cm.scores()
        out.append((dict(hist=cm.hist.copy()), (s["acc"], s["acc_cls"], s["mean_iu"],
                                                s["fwavacc"])))
    return out


# --- lesson 08 ----------------------------------------------------------------------------
def _shifted(x, f):
    """The f² copies of x, copy dy·f + dx moved up by dy and left by dx (zeros come in)."""
    H, W = x.shape[2:]
    copies = np.zeros((f * f,) + x.shape, x.dtype)
    for dy in range(f):
        for dx in range(f):
            copies[dy * f + dx, :, :, :H - dy, :W - dx] = x[:, :, dy:, dx:]
    return copies


@cases(8, "interleave")
def _():
    out = []
    for f, xs in ((2, (2, 3, 13, 12)), (3, (1, 3, 17, 20))):
        rng = rng_for(80 + f)
        x, w = rng.standard_normal(xs), rng.standard_normal((2, 3, 3, 3))
        outs = np.stack([F.conv2d_forward(c, w, stride=f)[0] for c in _shifted(x, f)])
        twin = F.conv2d_forward(x, w, stride=1)[0]            # the stride removed
        dense = np.zeros(outs.shape[1:3] + (f * outs.shape[3], f * outs.shape[4]))
        dense[:, :, :twin.shape[2], :twin.shape[3]] = twin
        # Past the twin's edge the stitched map holds the copies' zero-padded rows: expect
        # them as the copies give them.
        for dy in range(f):
            for dx in range(f):
                block = outs[dy * f + dx]
                rows, cols = slice(dy, None, f), slice(dx, None, f)
                mask = np.ones(dense.shape[2:], bool)
                mask[:twin.shape[2], :twin.shape[3]] = False
                part = dense[:, :, rows, cols]
                part[:, :, mask[rows, cols]] = block[:, :, mask[rows, cols]]
                dense[:, :, rows, cols] = part
        out.append((dict(outputs=outs, f=f), (dense,)))
    return out


@cases(8, "shift_and_stitch")
def _():
    out = []
    for k, xs in enumerate(((1, 2, 15, 15), (2, 2, 16, 13))):
        rng = rng_for(90 + k)
        w1, b1 = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
        w2, b2 = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
        x = rng_for(95 + k).standard_normal(xs)
        h = np.maximum(F.conv2d_forward(x, w1, b1, stride=1)[0], 0)     # the dilated twin
        twin = F.conv2d_forward(h, w2, b2, dilation=2)[0]
        out.append((dict(w1=w1, b1=b1, w2=w2, b2=b2, x=x, f=2), (twin,)))
    return out


@cases(8, "max_unpool2d")
def _():
    out = []
    for k, (xs, ks, ceil) in enumerate([((2, 3, 6, 8), 2, False), ((1, 2, 7, 5), 2, True),
                                        ((1, 2, 9, 9), 3, False)]):
        x = rng_for(97 + k).standard_normal(xs)
        pooled, idx, _ = F.max_pool2d_with_indices_forward(x, ks, ks, 0, ceil)
        size = xs[2:]
        up = F.max_unpool2d_forward(pooled, idx, ks, ks, output_size=size)[0]
        out.append((dict(x=pooled, indices=idx, output_size=list(size)), (up,)))
    return out


# ------------------------------------------------------------------------------------------
def encode(value):
    return value if isinstance(value, np.ndarray) else np.array(json.dumps(value))


def make(lesson):
    """{key: array} of one lesson's file."""
    arrays = {}
    for name, maker in CASES[lesson].items():
        for k, (args, want) in enumerate(maker()):
            arrays[f"{name}/{k}/order"] = np.array(json.dumps(list(args)))
            for a, v in args.items():
                arrays[f"{name}/{k}/arg/{a}"] = encode(v)
            for i, v in enumerate(want):
                arrays[f"{name}/{k}/want/{i}"] = np.asarray(v)
    return arrays


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "expected"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for lesson in sorted(CASES):
        path = os.path.join(args.out, f"ex{lesson:02d}.npz")
        with np.errstate(all="ignore"):
            np.savez_compressed(path, **make(lesson))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
