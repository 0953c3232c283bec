"""The exercise grader (lessons/exercises/check.py): minifcn's own code passes every exercise,
each planted wrong answer is caught, and the shipped TODO files fail with a clear status.

The "answers" below are minifcn's own implementations adapted to the exercises' signatures
(the reference code the grader compares against), and, for shift-and-stitch, which minifcn has
no function for, the few lines of lesson 08.
"""
import importlib.util
import os
import subprocess
import sys
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from minifcn import geometry, metrics, nn
from minifcn import functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(REPO, "lessons", "exercises", "check.py")


def _load_check():
    spec = importlib.util.spec_from_file_location("exercise_check", CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load_check()


def _conv_backward(dout, x, w, stride=1, padding=0):
    _, cache = F.conv2d_forward(x, w, np.zeros(w.shape[0]), stride, padding)
    return F.conv2d_backward(dout, cache)           # the fast kernel, graded against the naive


def _pool_backward(dout, x, kernel_size, stride):
    return F.max_pool2d_backward(dout, F.max_pool2d_forward(x, kernel_size, stride)[1])


def _convolutionize(weight, bias, input_shape):
    linear = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
    linear.weight.data, linear.bias.data = weight, bias
    conv = nn.convolutionize(linear, input_shape)
    return conv.weight.data, conv.bias.data


def _softmax_ce(score, target, ignore_index=255, reduction="mean"):
    loss, cache = F.softmax_cross_entropy_forward(score, target, ignore_index, reduction)
    return loss, F.softmax_cross_entropy_backward(1.0, cache)


def _cm(hist):
    cm = metrics.ConfusionMatrix(hist.shape[0])
    cm.hist[...] = hist
    return cm


def _scores(hist):
    s = _cm(hist).scores()
    return s["acc"], s["acc_cls"], s["mean_iu"], s["fwavacc"]


def _interleave(outputs, f):
    n, N, K, h, w = outputs.shape
    dense = np.zeros((N, K, f * h, f * w), outputs.dtype)
    for dy in range(f):
        for dx in range(f):
            dense[:, :, dy::f, dx::f] = outputs[dy * f + dx]
    return dense


def _shift_and_stitch(net, x, f, interleave=_interleave):
    H, W = x.shape[2:]
    outs = []
    for dy in range(f):
        for dx in range(f):
            shifted = np.zeros_like(x)
            shifted[:, :, :H - dy, :W - dx] = x[:, :, dy:, dx:]
            outs.append(net(shifted))
    return interleave(np.stack(outs), f)


def minifcn_answers():
    """lesson → namespace of answers built from minifcn's own functions."""
    return {
        1: SimpleNamespace(conv2d_loops=F.naive.conv2d_naive,
                           max_pool2d_loops=lambda x, k, s, ceil_mode=False:
                           F.naive.max_pool2d_naive(x, k, s, 0, ceil_mode)),
        2: SimpleNamespace(conv2d_backward_loops=_conv_backward,
                           max_pool2d_backward_loops=_pool_backward),
        3: SimpleNamespace(convolutionize=_convolutionize),
        4: SimpleNamespace(bilinear_kernel=lambda k: F.upsample_filter(k, np.float64),
                           conv_transpose2d_stamps=lambda x, w, stride, padding=0:
                           F.naive.conv_transpose2d_naive(x, w, None, stride, padding)),
        5: SimpleNamespace(coord_map=lambda *spec: tuple(geometry.coord_map(*spec)),
                           crop_offset=geometry.crop_offset),
        6: SimpleNamespace(softmax_cross_entropy=_softmax_ce),
        7: SimpleNamespace(confusion_matrix=lambda t, p, n:
                           metrics.ConfusionMatrix(n).update(t, p).hist,
                           iu_per_class=lambda hist: _cm(hist).iu,
                           segmentation_scores=_scores),
        8: SimpleNamespace(interleave=_interleave, shift_and_stitch=_shift_and_stitch),
    }


def test_minifcn_passes_every_exercise():
    results = check.grade(sorted(check.FILES), minifcn_answers(), say=lambda *a: None)
    failed = [(n, name) for n, r in results.items() for name, ok in r.items() if not ok]
    assert not failed, f"minifcn's own code fails the grader on {failed}"
    assert sum(len(r) for r in results.values()) == 15


def _flipped_conv(x, w, b, stride=1, padding=0):
    return F.naive.conv2d_naive(x, w[:, :, ::-1, ::-1], b, stride, padding)   # a true convolution


def _pool_floor_always(x, k, s, ceil_mode=False):
    return F.naive.max_pool2d_naive(x, k, s, 0, False)


def _conv_backward_no_overlap(dout, x, w, stride=1, padding=0):
    dx, dw, db = _conv_backward(dout, x, w, stride, padding)
    return dx, dw, db / dout.shape[0]                   # db averaged over the batch


def _conv_backward_dw_flipped(dout, x, w, stride=1, padding=0):
    dx, dw, db = _conv_backward(dout, x, w, stride, padding)
    return dx, dw[:, :, ::-1, ::-1], db


def _pool_backward_spread(dout, x, kernel_size, stride):
    """Gives every pixel of a window its gradient (an average pool's backward, ×k²)."""
    dx = np.zeros_like(x)
    k, s = kernel_size, stride
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s:i * s + k, j * s:j * s + k] += dout[:, :, i:i + 1, j:j + 1]
    return dx


def _pool_backward_overwrites(dout, x, kernel_size, stride):
    """Writes (=) instead of adding, so a pixel that wins two overlapping windows loses one."""
    dx = np.zeros_like(x)
    k, s = kernel_size, stride
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    win = x[n, c, i * s:i * s + k, j * s:j * s + k]
                    a, b = np.unravel_index(win.argmax(), win.shape)
                    dx[n, c, i * s + a, j * s + b] = dout[n, c, i, j]
    return dx


def _convolutionize_hwc(weight, bias, input_shape):
    C, H, W = input_shape
    return weight.reshape(-1, H, W, C).transpose(0, 3, 1, 2), bias     # wrong flattening order


def _bilinear_centre_wrong(k):
    f = (k + 1) // 2
    c = (k - 1) / 2 if k % 2 else f - 1                  # even k: centre one half-pixel off
    p = 1 - np.abs(np.arange(k) - c) / f
    return np.outer(p, p)


def _deconv_no_overlap(x, w, stride, padding=0):
    out = F.naive.conv_transpose2d_naive(x, w, None, stride, padding)
    full = F.naive.conv_transpose2d_naive(x, w[:, :, :stride, :stride], None, stride, 0)
    return np.pad(full, ((0, 0), (0, 0), (0, out.shape[2] - full.shape[2] + padding),
                         (0, out.shape[3] - full.shape[3] + padding)))[:, :, padding:, padding:][
        :, :, :out.shape[2], :out.shape[3]]               # stamps cut to stride×stride


def _coord_map_deconv_as_conv(kind, k, s, p):
    m = geometry.coord_map("conv" if kind == "deconv" else kind, k, s, p)
    return m.scale, m.shift


def _crop_offset_wrong_order(path, like=()):
    def compose(p):                                      # composes the maps the wrong way round
        a, b = Fraction(1), Fraction(0)
        for spec in p:
            m = geometry.coord_map(*spec)
            a, b = a * m.scale, b * m.scale + m.shift
        return a, b
    (a, b), (_, b_like) = compose(path), compose(like)
    return int(round((b_like - b) / a))


def _softmax_ce_counts_void(score, target, ignore_index=255, reduction="mean"):
    loss, dscore = _softmax_ce(score, target, ignore_index, reduction)
    if reduction == "mean":
        counted = (target != ignore_index).sum()
        loss, dscore = loss * counted / target.size, dscore * counted / target.size
    return loss, dscore                                   # divides by every pixel, void too


def _softmax_ce_no_mask(score, target, ignore_index=255, reduction="mean"):
    t = np.where(target == ignore_index, 0, target)      # void scored as class 0
    return _softmax_ce(score, t, ignore_index, reduction)


def _confusion_void_as_background(t, p, n):
    return metrics.ConfusionMatrix(n).update(np.where(t == 255, 0, t), p).hist


def _iu_no_minus_diag(hist):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(hist) / (hist.sum(0) + hist.sum(1))


def _scores_plain_mean(hist):
    acc, _, _, fw = _scores(hist)
    iu = np.nan_to_num(_cm(hist).iu)                      # nan classes counted as 0
    with np.errstate(divide="ignore", invalid="ignore"):
        acc_cls = np.nanmean(np.diag(hist) / hist.sum(1))
    return acc, acc_cls, iu.mean(), fw


def _interleave_swapped(outputs, f):
    return _interleave(outputs.reshape((f, f) + outputs.shape[1:]).swapaxes(0, 1)
                       .reshape(outputs.shape), f)       # dx and dy swapped


def _shift_down(net, x, f):
    """Moves the input down and right instead of up and left."""
    H, W = x.shape[2:]
    outs = []
    for dy in range(f):
        for dx in range(f):
            shifted = np.zeros_like(x)
            shifted[:, :, dy:, dx:] = x[:, :, :H - dy, :W - dx]
            outs.append(net(shifted))
    return _interleave(np.stack(outs), f)


PLANTED = [
    (1, "conv2d_loops", _flipped_conv),
    (1, "max_pool2d_loops", _pool_floor_always),
    (2, "conv2d_backward_loops", _conv_backward_no_overlap),
    (2, "conv2d_backward_loops", _conv_backward_dw_flipped),
    (2, "max_pool2d_backward_loops", _pool_backward_spread),
    (2, "max_pool2d_backward_loops", _pool_backward_overwrites),
    (3, "convolutionize", _convolutionize_hwc),
    (4, "bilinear_kernel", _bilinear_centre_wrong),
    (4, "conv_transpose2d_stamps", _deconv_no_overlap),
    (5, "coord_map", _coord_map_deconv_as_conv),
    (5, "crop_offset", _crop_offset_wrong_order),
    (6, "softmax_cross_entropy", _softmax_ce_counts_void),
    (6, "softmax_cross_entropy", _softmax_ce_no_mask),
    (7, "confusion_matrix", _confusion_void_as_background),
    (7, "iu_per_class", _iu_no_minus_diag),
    (7, "segmentation_scores", _scores_plain_mean),
    (8, "interleave", _interleave_swapped),
    (8, "shift_and_stitch", _shift_down),
]


@pytest.mark.parametrize("lesson, name, wrong", PLANTED,
                         ids=[w.__name__.strip("_") for _, _, w in PLANTED])
def test_planted_wrong_answer_is_caught(lesson, name, wrong):
    answers = minifcn_answers()
    setattr(answers[lesson], name, wrong)
    lines = []
    results = check.grade([lesson], answers, say=lines.append)
    assert results[lesson][name] is False, "\n".join(lines)
    others = {k: ok for k, ok in results[lesson].items() if k != name}
    assert all(others.values()), f"a wrong {name} made {others} fail too"
    text = "\n".join(lines)
    assert f"[FAIL] {name}" in text and "hint:" in text and "relative error" in text, text


def test_crash_is_reported_not_raised():
    answers = minifcn_answers()
    answers[3].convolutionize = lambda weight, bias, shape: weight.reshape(7, -1, 1, 1)
    lines = []
    assert check.grade([3], answers, say=lines.append)[3]["convolutionize"] is False
    assert "raised an exception" in "\n".join(lines)


def test_command_line_on_the_todo_files(tmp_path):
    """The shipped files are all TODO: the grader says so and exits 1, from any folder."""
    proc = subprocess.run([sys.executable, CHECK, "7"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[TODO] confusion_matrix" in proc.stdout and "0 of 3 exercises pass" in proc.stdout
    bad = subprocess.run([sys.executable, CHECK, "9"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "no exercises for lesson(s) [9]" in bad.stderr


def test_command_line_passes_with_answer_files(tmp_path):
    """--answers DIR grades another folder; written answers there pass with exit status 0."""
    (tmp_path / check.FILES[4]).write_text(
        "from minifcn.functional import upsample_filter as bilinear_kernel\n"
        "from minifcn.functional.naive import conv_transpose2d_naive\n\n\n"
        "def conv_transpose2d_stamps(x, w, stride, padding=0):\n"
        "    return conv_transpose2d_naive(x, w, None, stride, padding)\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, CHECK, "4", "--answers", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 exercises pass" in proc.stdout


def test_every_exercise_file_holds_todo_stubs_for_its_checks():
    """Each exNN file defines exactly the functions the grader checks, each still a TODO."""
    lines = []
    results = check.grade(sorted(check.FILES), say=lines.append)
    for lesson, names in results.items():
        module = check.load_answers(lesson)
        public = {k for k, v in vars(module).items()
                  if callable(v) and not k.startswith("_") and v.__module__ == module.__name__}
        assert public == set(names), f"lesson {lesson}: file has {public}, grader checks {names}"
        for name, ok in names.items():
            todo = any(line.startswith(f"[TODO] {name}:") for line in lines)
            assert not ok and todo, f"{name} is not a TODO stub"
