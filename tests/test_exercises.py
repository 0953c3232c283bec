"""The exercise grader (lessons/exercises/check.py).

Correct answers written with NumPy alone (tests/exercise_answers/, no minifcn in them) pass every
exercise and the sanity check; each planted wrong answer is caught with a hint; answers that call
minifcn instead of computing are refused, whether their file imports it or a function reaches
it; the shipped TODO files fail with a clear status; the stored expected arrays are what
make_expected.py makes; the capstone runs the student's pieces.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXERCISES = os.path.join(REPO, "lessons", "exercises")
CHECK = os.path.join(EXERCISES, "check.py")
ANSWERS = os.path.join(REPO, "tests", "exercise_answers")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load("exercise_check", CHECK)


def correct_answers():
    """lesson → a fresh namespace of the correct NumPy answers."""
    found = check.load_all(sorted(check.FILES), ANSWERS)
    return {n: SimpleNamespace(**{k: v for k, v in vars(m).items() if callable(v)})
            for n, m in found.items()}


def _quiet(*_):
    pass


def test_the_answers_use_no_minifcn():
    for lesson, name in check.FILES.items():
        assert check.refusal_of_file(os.path.join(ANSWERS, name)) is None
        with open(os.path.join(ANSWERS, name), encoding="utf-8") as f:
            assert "minifcn" not in f.read()


def test_correct_answers_pass_every_exercise_and_the_sanity_check():
    lines = []
    results = check.grade(sorted(check.FILES), correct_answers(), say=lines.append)
    failed = [(n, name) for n, r in results.items() for name, ok in r.items() if not ok]
    assert not failed, "\n".join(lines)
    assert sum(len(r) for r in results.values()) == 21          # 20 functions + the sanity check
    text = "\n".join(lines)
    assert "[PASS] overfit_four_images: pixel accuracy" in text


def test_expected_arrays_are_what_make_expected_makes():
    """The stored answers come from minifcn's own code, today's: remade, they agree."""
    make = _load("make_expected", os.path.join(EXERCISES, "make_expected.py"))
    for lesson in sorted(check.FILES):
        fresh = make.make(lesson)
        with np.load(os.path.join(EXERCISES, "expected", f"ex{lesson:02d}.npz")) as stored:
            assert sorted(stored.files) == sorted(fresh), lesson
            for key, value in fresh.items():
                if value.dtype.kind == "U":
                    assert str(stored[key]) == str(value), key
                else:
                    np.testing.assert_allclose(stored[key], value, rtol=1e-12, atol=1e-13,
                                               err_msg=key)


# --- planted wrong answers, each a small change to a correct one ------------------------------
A = correct_answers()


def _flipped_conv(x, w, b, stride=1, padding=0):
    return A[1].conv2d_loops(x, w[:, :, ::-1, ::-1], b, stride, padding)    # a true convolution


def _pool_floor_always(x, k, s, ceil_mode=False):
    return A[1].max_pool2d_loops(x, k, s, False)


def _conv_backward_db_averaged(dout, x, w, stride=1, padding=0):
    dx, dw, db = A[2].conv2d_backward_loops(dout, x, w, stride, padding)
    return dx, dw, db / dout.shape[0]


def _conv_backward_dw_flipped(dout, x, w, stride=1, padding=0):
    dx, dw, db = A[2].conv2d_backward_loops(dout, x, w, stride, padding)
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
    """Each stamp overwrites the one before instead of adding."""
    N, C, H, W = x.shape
    _, O, kh, kw = w.shape
    s = stride
    full = np.zeros((N, O, (H - 1) * s + kh, (W - 1) * s + kw))
    for i in range(H):
        for j in range(W):
            full[:, :, i * s:i * s + kh, j * s:j * s + kw] = np.tensordot(
                x[:, :, i, j], w, axes=([1], [0]))
    p = padding
    return full[:, :, p:full.shape[2] - p, p:full.shape[3] - p]


def _deconv_backward_padding_ignored(dout, x, w, stride, padding=0):
    return A[4].conv_transpose2d_backward(dout, x, w, stride, 0) if padding == 0 else \
        A[4].conv_transpose2d_backward(np.pad(dout, ((0, 0), (0, 0), (0, 2 * padding),
                                                     (0, 2 * padding))), x, w, stride, 0)


def _deconv_backward_dw_transposed(dout, x, w, stride, padding=0):
    dx, dw = A[4].conv_transpose2d_backward(dout, x, w, stride, padding)
    return dx, dw.transpose(0, 1, 3, 2)


def _coord_map_deconv_as_conv(kind, k, s, p):
    return A[5].coord_map("conv" if kind == "deconv" else kind, k, s, p)


def _crop_offset_wrong_order(path, like=()):
    def compose(p):                                      # composes the maps the wrong way round
        a, b = Fraction(1), Fraction(0)
        for spec in p:
            a_l, b_l = A[5].coord_map(*spec)
            a, b = a * a_l, b * a_l + b_l
        return a, b
    (a, b), (_, b_like) = compose(path), compose(like)
    return int(round((b_like - b) / a))


def _fuse_centred(upscored, score_pool, offset):
    h, w = upscored.shape[2:]
    oy, ox = (score_pool.shape[2] - h) // 2, (score_pool.shape[3] - w) // 2   # a centred crop
    return upscored + score_pool[:, :, oy:oy + h, ox:ox + w]


def _fuse_backward_at_origin(dfused, score_pool_shape, offset):
    return A[5].fuse_backward(dfused, score_pool_shape, 0)


def _softmax_ce_counts_void(score, target, ignore_index=255, reduction="mean"):
    loss, dscore = A[6].softmax_cross_entropy(score, target, ignore_index, reduction)
    if reduction == "mean":
        counted = (target != ignore_index).sum()
        loss, dscore = loss * counted / target.size, dscore * counted / target.size
    return loss, dscore                                   # divides by every pixel, void too


def _softmax_ce_no_mask(score, target, ignore_index=255, reduction="mean"):
    t = np.where(target == ignore_index, 0, target)      # void scored as class 0
    return A[6].softmax_cross_entropy(score, t, ignore_index, reduction)


def _adam_no_correction(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    return param - lr * m / (np.sqrt(v) + eps), m, v


def _confusion_void_as_background(t, p, n):
    return A[7].confusion_matrix(np.where(t == 255, 0, t), p, n)


def _iu_no_minus_diag(hist):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(hist) / (hist.sum(0) + hist.sum(1))


def _scores_plain_mean(hist):
    acc, acc_cls, _, fw = A[7].segmentation_scores(hist)
    return acc, acc_cls, np.nan_to_num(A[7].iu_per_class(hist)).mean(), fw   # nan counted as 0


def _interleave_swapped(outputs, f):
    return A[8].interleave(outputs.reshape((f, f) + outputs.shape[1:]).swapaxes(0, 1)
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
    return A[8].interleave(np.stack(outs), f)


def _unpool_transposed_planes(x, indices, output_size):
    out = A[8].max_unpool2d(x, indices, output_size[::-1])
    return out.transpose(0, 1, 3, 2)


PLANTED = [
    (1, "conv2d_loops", _flipped_conv),
    (1, "max_pool2d_loops", _pool_floor_always),
    (2, "conv2d_backward_loops", _conv_backward_db_averaged),
    (2, "conv2d_backward_loops", _conv_backward_dw_flipped),
    (2, "max_pool2d_backward_loops", _pool_backward_spread),
    (2, "max_pool2d_backward_loops", _pool_backward_overwrites),
    (3, "convolutionize", _convolutionize_hwc),
    (4, "bilinear_kernel", _bilinear_centre_wrong),
    (4, "conv_transpose2d_stamps", _deconv_no_overlap),
    (4, "conv_transpose2d_backward", _deconv_backward_padding_ignored),
    (4, "conv_transpose2d_backward", _deconv_backward_dw_transposed),
    (5, "coord_map", _coord_map_deconv_as_conv),
    (5, "crop_offset", _crop_offset_wrong_order),
    (5, "fuse_forward", _fuse_centred),
    (5, "fuse_backward", _fuse_backward_at_origin),
    (6, "softmax_cross_entropy", _softmax_ce_counts_void),
    (6, "softmax_cross_entropy", _softmax_ce_no_mask),
    (6, "adam_step", _adam_no_correction),
    (7, "confusion_matrix", _confusion_void_as_background),
    (7, "iu_per_class", _iu_no_minus_diag),
    (7, "segmentation_scores", _scores_plain_mean),
    (8, "interleave", _interleave_swapped),
    (8, "shift_and_stitch", _shift_down),
    (8, "max_unpool2d", _unpool_transposed_planes),
]


@pytest.mark.parametrize("lesson, name, wrong", PLANTED,
                         ids=[w.__name__.strip("_") for _, _, w in PLANTED])
def test_planted_wrong_answer_is_caught(lesson, name, wrong):
    answers = correct_answers()
    setattr(answers[lesson], name, wrong)
    lines = []
    results = check.grade([lesson], answers, say=lines.append, sanity=False)
    text = "\n".join(lines)
    assert results[lesson][name] is False, text
    others = {k: ok for k, ok in results[lesson].items() if k != name}
    assert all(others.values()), f"a wrong {name} made {others} fail too"
    assert f"[FAIL] {name}" in text and "hint:" in text and "relative error" in text, text


def test_every_function_has_a_planted_wrong_answer():
    planted = {(lesson, name) for lesson, name, _ in PLANTED}
    assert planted == {(lesson, name) for lesson, rows in check.CHECKS.items()
                       for name, *_ in rows}


def test_a_wrong_piece_holds_the_sanity_check_back():
    answers = correct_answers()
    answers[5].fuse_backward = _fuse_backward_at_origin
    lines = []
    results = check.grade([6], answers, say=lines.append)
    assert results[6]["overfit_four_images"] is False
    assert "[WAIT] overfit_four_images: needs your lessons 05" in "\n".join(lines)


def test_crash_is_reported_not_raised():
    answers = correct_answers()
    answers[3].convolutionize = lambda weight, bias, shape: weight.reshape(7, -1, 1, 1)
    lines = []
    assert check.grade([3], answers, say=lines.append)[3]["convolutionize"] is False
    assert "raised an exception" in "\n".join(lines)


# --- answers that call minifcn are refused ----------------------------------------------------
def delegating_answers():
    """lesson → stubs that call minifcn's own code (all of them used to pass)."""
    from minifcn import functional as F
    from minifcn import geometry, metrics

    def ce(score, target, ignore_index=255, reduction="mean"):
        loss, cache = F.softmax_cross_entropy_forward(score, target, ignore_index, reduction)
        return loss, F.softmax_cross_entropy_backward(1.0, cache)

    def helper(hist):                   # a helper of the student's own, which delegates
        return metrics.ConfusionMatrix(hist.shape[0])

    def iu(hist):
        cm = helper(hist)
        cm.hist[...] = hist
        return cm.iu

    return {
        1: SimpleNamespace(conv2d_loops=F.naive.conv2d_naive,
                           max_pool2d_loops=lambda x, k, s, ceil_mode=False:
                           F.naive.max_pool2d_naive(x, k, s, 0, ceil_mode)),
        4: SimpleNamespace(bilinear_kernel=lambda k: F.upsample_filter(k, np.float64),
                           conv_transpose2d_stamps=lambda x, w, s, padding=0:
                           F.naive.conv_transpose2d_naive(x, w, None, s, padding),
                           conv_transpose2d_backward=lambda d, x, w, s, padding=0:
                           F.naive.conv_transpose2d_backward_naive(d, x, w, s, padding)[:2]),
        5: SimpleNamespace(coord_map=lambda *spec: tuple(geometry.coord_map(*spec)),
                           crop_offset=geometry.crop_offset,
                           fuse_forward=lambda u, s, o: u + F.crop_forward(s, u.shape[2:],
                                                                           (o, o))[0],
                           fuse_backward=A[5].fuse_backward),
        6: SimpleNamespace(softmax_cross_entropy=ce, adam_step=A[6].adam_step),
        7: SimpleNamespace(confusion_matrix=lambda t, p, n:
                           metrics.ConfusionMatrix(n).update(t, p).hist,
                           iu_per_class=iu, segmentation_scores=A[7].segmentation_scores),
    }


def test_delegating_functions_are_refused():
    answers = delegating_answers()
    delegating = {1: ["conv2d_loops", "max_pool2d_loops"],
                  4: ["bilinear_kernel", "conv_transpose2d_stamps", "conv_transpose2d_backward"],
                  5: ["coord_map", "crop_offset", "fuse_forward"],
                  6: ["softmax_cross_entropy"], 7: ["confusion_matrix", "iu_per_class"]}
    lines = []
    results = check.grade(sorted(answers), answers, say=lines.append, sanity=False)
    text = "\n".join(lines)
    for lesson, names in delegating.items():
        for name in names:
            assert results[lesson][name] is False, name
            assert f"[REFUSED] {name}:" in text, name
    assert "minifcn" in text


STUBS = {
    "ex01_conv_and_pooling.py": "from minifcn.functional.naive import conv2d_naive\n\n\n"
                                "def conv2d_loops(x, w, b, stride=1, padding=0):\n"
                                "    return conv2d_naive(x, w, b, stride, padding)\n",
    "ex05_skip_layers.py": "import minifcn.geometry as g\n\ncoord_map = g.coord_map\n"
                           "crop_offset = g.crop_offset\n",
    "ex06_training.py": "import importlib\n\nF = importlib.import_module('minifcn.functional')\n",
    "ex07_evaluation.py": "from minifcn import metrics  # noqa\n",
}


@pytest.mark.parametrize("filename", sorted(STUBS))
def test_delegating_files_are_refused(tmp_path, filename):
    """A file that imports minifcn is refused before it runs, with the reason, and fails."""
    (tmp_path / filename).write_text(STUBS[filename], encoding="utf-8")
    lesson = next(n for n, f in check.FILES.items() if f == filename)
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, CHECK, str(lesson), "--answers", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[REFUSED]" in proc.stdout and "imports minifcn" in proc.stdout, proc.stdout
    assert "NumPy and the standard library are fine" in proc.stdout


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
    """--answers DIR grades another folder; correct answers there pass with exit status 0."""
    shutil.copy(os.path.join(ANSWERS, check.FILES[4]), tmp_path)
    proc = subprocess.run([sys.executable, CHECK, "4", "--answers", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 of 3 exercises pass" in proc.stdout


def test_every_exercise_file_holds_todo_stubs_for_its_checks():
    """Each exNN file defines exactly the functions the grader checks, each still a TODO."""
    lines = []
    results = check.grade(sorted(check.FILES), say=lines.append)
    for lesson, names in results.items():
        module = check.load_answers(lesson)
        public = {k for k, v in vars(module).items()
                  if callable(v) and not k.startswith("_") and v.__module__ == module.__name__}
        graded = {n for n in names if n != "overfit_four_images"}
        assert public == graded, f"lesson {lesson}: file has {public}, grader checks {graded}"
        for name in graded:
            assert not names[name] and any(line.startswith(f"[TODO] {name}:") for line in lines)
    assert "[WAIT] overfit_four_images" in "\n".join(lines)


def test_capstone_quick_trains_the_students_pieces(tmp_path):
    """--mine --quick: the correct answers' pieces assemble into the small FCN, whose loss falls
    in a few iterations, and it is scored with the student's metrics."""
    sys.path.insert(0, EXERCISES)
    try:
        import capstone
    finally:
        sys.path.remove(EXERCISES)
    pieces = capstone.Pieces.from_answers(correct_answers())
    result = capstone.train_mine(pieces, iterations=8, batch=4, lr=1e-2, say=_quiet,
                                 val_subset=10)
    assert np.mean(result["losses"][-3:]) < result["losses"][0]
    assert 0 <= result["scores"]["mean_iu"] <= 1
    proc = subprocess.run([sys.executable, CHECK, "--mine", "--quick"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Not yet: your pieces of lessons 01, 02, 04, 05, 06, 07" \
        in proc.stdout, proc.stdout + proc.stderr
