"""Grade the exercises: python lessons/exercises/check.py [N ...] [--answers DIR] [--mine]

Each exercise function is called on the small float64 cases stored in ``expected/exNN.npz``
(made once from minifcn's own code by ``make_expected.py``) and its answer is compared with the
stored one. For every comparison the grader prints the relative error
max |yours − expected| / max(|yours| + |expected|); an answer passes when every error is below
1e-8. A wrong answer gets a hint: where to look, not the line to write. The exit status is 0
only when every exercise asked for passes.

Your files may use NumPy and Python's standard library, not minifcn: a file that imports
minifcn (its kernels, loop references, geometry, loss, metrics or layers), or a function that
calls into it, is refused with the reason, since it would grade minifcn instead of you.

Lesson 06 ends with CS231n's sanity check, once lessons 01, 02, 04, 05 and 06 pass: a small FCN
assembled from *your* functions must overfit four images. ``--mine`` is the capstone: the same
assembly trained on the shapes data, scored with your lesson-07 metrics (capstone.py).

``grade(lessons, answers)`` does the same from Python, with ``answers`` mapping a lesson number
to any object whose attributes are the answer functions (the tests use it).
"""
import argparse
import ast
import importlib.util
import json
import os
import sys
import traceback
import types
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:            # capstone.py, beside this file
    sys.path.insert(0, HERE)
EXPECTED = os.path.join(HERE, "expected")
FILES = {1: "ex01_conv_and_pooling.py", 2: "ex02_backprop.py", 3: "ex03_convolutionization.py",
         4: "ex04_upsampling.py", 5: "ex05_skip_layers.py", 6: "ex06_training.py",
         7: "ex07_evaluation.py", 8: "ex08_other_upsampling.py"}
TOL = 1e-8
CHECKS = {}                         # lesson → [(function name, hint, prepare, compare)]
FORBIDDEN = "minifcn"               # the package whose code the exercises ask you to write


class Mismatch(Exception):
    """An answer of the wrong shape or type: no error can be computed."""


class Refused(Exception):
    """An answer that calls minifcn instead of computing."""


def exercise(lesson, name, hint, prepare=None, compare=None):
    """Register an exercise: ``prepare(args)`` turns a stored case's arguments into the call's
    (default: as stored); ``compare(got, want)`` cuts the answer to what is compared."""
    CHECKS.setdefault(lesson, []).append((name, hint, prepare, compare))


def rel(got, want, what):
    """Relative error of an answer against the expected one, after checking its shape."""
    if isinstance(got, Fraction):
        got = float(got)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mismatch(f"{what}: expected numbers, got {type(got).__name__}") from None
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise Mismatch(f"{what}: shape {got.shape}, expected {want.shape}")
    if not np.all(np.isnan(got) == np.isnan(want)):
        where = np.argwhere(np.isnan(got) != np.isnan(want))[:3].tolist()
        raise Mismatch(f"{what}: nan at {where} … where the expected answer has a number, or "
                       "the other way round")
    keep = ~np.isnan(want)
    g, w = got[keep], want[keep]
    if g.size == 0:
        return 0.0
    if not np.all(np.isfinite(g)):
        return float("inf")
    scale = np.max(np.abs(g) + np.abs(w))
    return 0.0 if scale == 0 else float(np.max(np.abs(g - w)) / scale)


# ---------------------------------------------------------------------------------------------
# The stored cases

_loaded = {}


def load_cases(lesson, folder=EXPECTED):
    """{function name: [(argument names, {name: value}, [expected values])]} of one lesson."""
    key = (lesson, folder)
    if key not in _loaded:
        path = os.path.join(folder, f"ex{lesson:02d}.npz")
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run python lessons/exercises/make_expected.py")
        found = {}
        with np.load(path, allow_pickle=False) as data:
            names = sorted({k.split("/")[0] for k in data.files})
            for name in names:
                k, rows = 0, []
                while f"{name}/{k}/order" in data.files:
                    order = json.loads(str(data[f"{name}/{k}/order"]))
                    args = {}
                    for a in order:
                        v = data[f"{name}/{k}/arg/{a}"]
                        args[a] = json.loads(str(v)) if v.dtype.kind == "U" else v
                    want, i = [], 0
                    while f"{name}/{k}/want/{i}" in data.files:
                        want.append(data[f"{name}/{k}/want/{i}"])
                        i += 1
                    rows.append((order, args, want))
                    k += 1
                found[name] = rows
        _loaded[key] = found
    return _loaded[key]


def describe(args):
    """A case in one line: the arrays' shapes and the other arguments."""
    parts = []
    for a, v in args.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{a} {tuple(v.shape)}")
        elif isinstance(v, list) and len(v) > 4:
            parts.append(f"{a} [{len(v)} layers]")
        else:
            parts.append(f"{a} {v}")
    text = ", ".join(parts)
    return text if len(text) <= 70 else text[:67] + "…"


# ---------------------------------------------------------------------------------------------
# Lesson 01: convolution and pooling as loops

exercise(1, "conv2d_loops",
         "compare the output size you allocate with the formula in the docstring first; then "
         "check that the window for output (i, j) starts at (i·stride, j·stride) of the padded "
         "input, and that the kernel is used as it is (frameworks do not flip it).")
exercise(1, "max_pool2d_loops",
         "the failing cases tell you which rounding of the output size is off; with ceil_mode "
         "the last window may stick out of the image: only the real pixels it covers count.")

# ---------------------------------------------------------------------------------------------
# Lesson 02: backward passes as loops

exercise(2, "conv2d_backward_loops",
         "ask, for each of x, w and b, which outputs it touched in the forward pass: its "
         "gradient is the sum of their gradients, each weighted by what multiplied it. "
         "Windows overlap when the stride is below the kernel size, and the bias touched every "
         "output of its channel, in every image of the batch.")
exercise(2, "max_pool2d_backward_loops",
         "only the winner of a window influenced that window's output; the stride-1 case has "
         "overlapping windows: can a pixel win more than once, and what then?")

# ---------------------------------------------------------------------------------------------
# Lesson 03: convolutionization

exercise(3, "convolutionize",
         "in which order did the Linear layer read the C×H×W map when it was flattened? The "
         "filter bank must read it in the same order; the bias does not depend on position.",
         prepare=lambda a: {**a, "input_shape": tuple(a["input_shape"])})

# ---------------------------------------------------------------------------------------------
# Lesson 04: upsampling

exercise(4, "bilinear_kernel",
         "check the even and the odd kernel sizes separately: the centre lies on a pixel for "
         "one and between two pixels for the other. A 2-d bilinear kernel is separable.")
exercise(4, "conv_transpose2d_stamps",
         "work out the full map's size before the padding is cut, and where input pixel "
         "(i, j)'s stamp lands in it; where stamps overlap they add up.")
exercise(4, "conv_transpose2d_backward",
         "the forward wrote stamps; each input pixel's gradient reads back the region of the "
         "(uncut) output gradient its stamp covered. The rows and columns the padding cut off "
         "never reached the loss.")

# ---------------------------------------------------------------------------------------------
# Lesson 05: crop offsets, and the skip fusion

exercise(5, "coord_map",
         "for conv and pool, where in the input is the centre of output pixel o's window? "
         "A deconvolution's map is the inverse of its convolution's. Half pixels are real: "
         "keep them exact.", prepare=lambda a: {k: (tuple(v) if isinstance(v, list) else v)
                                               for k, v in a.items()})
exercise(5, "crop_offset",
         "a blob's pixel goes through the *last* layer of its path first on its way to the "
         "image; compose in that order, and compare where the two blobs' pixel 0 lands.",
         prepare=lambda a: {k: [tuple(s) for s in v] for k, v in a.items()})
exercise(5, "fuse_forward",
         "the window taken from score_pool has the upscored map's size and starts at "
         "`offset` (Caffe's crop is not centred).")
exercise(5, "fuse_backward",
         "a sum passes its gradient to both inputs unchanged; the crop only decides where in "
         "score_pool's shape it lands, and what lies outside the window never reached the "
         "loss.", prepare=lambda a: {**a, "score_pool_shape": tuple(a["score_pool_shape"])})

# ---------------------------------------------------------------------------------------------
# Lesson 06: the loss, Adam, and the sanity check

exercise(6, "softmax_cross_entropy",
         "test the case where every pixel is void first; then compare your 'sum' and 'mean' "
         "answers: which pixels count, and which number divides? Subtract the largest score "
         "before exp.")
exercise(6, "adam_step",
         "the step number t starts at 1; both moments are updated before they are corrected "
         "for their zero start, and ε is added after the square root.")

# ---------------------------------------------------------------------------------------------
# Lesson 07: the metrics

exercise(7, "confusion_matrix",
         "rows are the true classes; decide first which pixels may be counted at all (void is "
         "255). One combined index per pixel can be counted in one call.")
exercise(7, "iu_per_class",
         "a class's union is every pixel that is that class in the truth or in the prediction: "
         "count the pixels that are both only once. 0/0 must stay nan.")
exercise(7, "segmentation_scores",
         "which classes should a mean skip, and which should a frequency-weighted sum skip? "
         "matrix 3 has a class that is predicted but never true, and one that is neither.")

# ---------------------------------------------------------------------------------------------
# Lesson 08: shift-and-stitch, unpooling


def conv2d(x, w, b, stride=1, dilation=1):
    """The grader's own convolution without padding (NumPy windows and one tensordot), for the
    nets it hands to shift_and_stitch."""
    kh, kw = w.shape[2:]
    span_h, span_w = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    win = win[:, :, ::stride, ::stride, ::dilation, ::dilation]      # (N, C, oh, ow, kh, kw)
    return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + \
        b.reshape(1, -1, 1, 1)


def _stitch_args(a):
    """The stored weights become ``net``: conv 3×3 stride 2 → ReLU → conv 3×3 (stride 2)."""
    w1, b1, w2, b2 = a["w1"], a["b1"], a["w2"], a["b2"]

    def net(x):
        return conv2d(np.maximum(conv2d(x, w1, b1, stride=2), 0), w2, b2)

    return {"net": net, "x": a["x"], "f": a["f"]}


def _top_left(got, want):
    """The stitched map reaches past the dilated twin's edge; compare the twin's part."""
    got = np.asarray(got)
    if got.ndim != 4 or got.shape[2] < want.shape[2] or got.shape[3] < want.shape[3]:
        raise Mismatch(f"dense map of shape {got.shape}: expected at least {want.shape}")
    return got[:, :, :want.shape[2], :want.shape[3]]


exercise(8, "interleave",
         "copy k = dy·f + dx holds the dense map's pixels whose row is dy and column dx modulo "
         "f; check that you did not swap dy and dx.")
exercise(8, "shift_and_stitch",
         "copy (dy, dx) is the input moved *up* by dy and *left* by dx, so that its pixel (0, 0) "
         "is the original's (dy, dx); compare the dense map with the dilated twin of lesson 08.",
         prepare=_stitch_args, compare=_top_left)
exercise(8, "max_unpool2d",
         "an index is h·W + w in its own (H, W) plane, one plane per image and channel; "
         "everything not written stays 0.",
         prepare=lambda a: {**a, "output_size": tuple(a["output_size"])})


# ---------------------------------------------------------------------------------------------
# Refusing answers that call minifcn

def imports_of(path):
    """[(line, module)] of every import in a file, and of __import__/import_module calls."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, ("." * node.level) + (node.module or "")))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("__import__", "import_module"):
                found.append((node.lineno, str(node.args[0].value)))
    return found


def refusal_of_file(path):
    """Why the file at ``path`` cannot be graded, or None."""
    for line, module in imports_of(path):
        if module.split(".")[0] == FORBIDDEN:
            return (f"{os.path.basename(path)}:{line} imports {module}. The exercises ask you to "
                    f"write these functions yourself, so the grader does not grade an answer that "
                    f"uses minifcn's kernels, loop references, geometry, loss, metrics or layers "
                    f"(it would be grading minifcn). NumPy and the standard library are fine.")
    return None


def _from_minifcn(obj):
    if isinstance(obj, types.ModuleType):
        return obj.__name__.split(".")[0] == FORBIDDEN
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] == FORBIDDEN


def _names(code):
    """Global names a function's code (and the code nested in it) may look up."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def refusal_of_function(fn, seen=None):
    """Why ``fn`` cannot be graded (it is, or calls, minifcn's code), or None. Follows the
    student's own helper functions."""
    seen = set() if seen is None else seen
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    if _from_minifcn(fn):
        return f"{getattr(fn, '__name__', fn)!s} is minifcn's own function"
    inner = getattr(fn, "__func__", fn)
    code, env = getattr(inner, "__code__", None), getattr(inner, "__globals__", {})
    if code is None:
        return None
    cells = [c.cell_contents for c in (inner.__closure__ or ()) if _has_contents(c)]
    for obj in [env[n] for n in _names(code) if n in env] + cells + list(
            getattr(inner, "__defaults__", None) or ()):
        if _from_minifcn(obj):
            return (f"{inner.__name__} uses {getattr(obj, '__name__', obj)} from minifcn")
        if isinstance(obj, types.FunctionType):
            why = refusal_of_function(obj, seen)
            if why:
                return why
    return None


def _has_contents(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Grading

def run_cases(lesson, name, prepare, compare, fn):
    """Yield (what, relative error) for every stored case of one exercise."""
    for k, (order, args, want) in enumerate(load_cases(lesson)[name]):
        call = prepare(args) if prepare else args
        got = fn(*call.values())
        case = f"case {k + 1}: {describe(args)}"
        if len(want) == 1:
            yield case, rel(compare(got, want[0]) if compare else got, want[0], name)
            continue
        if not (isinstance(got, (tuple, list)) and len(got) == len(want)):
            raise Mismatch(f"return a tuple of {len(want)} values (see the docstring), got "
                           f"{type(got).__name__}")
        errs = [rel(g, w, f"value {i + 1} of {len(want)}")
                for i, (g, w) in enumerate(zip(got, want))]
        each = ", ".join(f"{e:.0e}" + ("" if e <= TOL else " BAD") for e in errs)
        yield f"{case} (the {len(want)} values: {each})", max(errs)


def check_function(lesson, name, hint, prepare, compare, answers, say=print):
    """Run one exercise's comparisons; print them; True when all pass."""
    fn = getattr(answers, name, None)
    if fn is None:
        say(f"[FAIL] {name}: not found in the answers for lesson {lesson:02d}")
        return False
    why = refusal_of_function(fn)
    if why:
        say(f"[REFUSED] {name}: {why}. Write it with NumPy: the grader grades your code, "
            f"not minifcn's.")
        return False
    rows, problem = [], None
    with np.errstate(all="ignore"):
        try:
            rows = list(run_cases(lesson, name, prepare, compare, fn))
        except NotImplementedError:
            say(f"[TODO] {name}: not written yet (it raises NotImplementedError)")
            return False
        except Mismatch as err:
            problem = str(err)
        except Exception:                   # the student's code crashed: show where
            problem = "raised an exception:\n" + traceback.format_exc(limit=-3)
    ok = problem is None and bool(rows) and all(err <= TOL for _, err in rows)
    say(f"[{'PASS' if ok else 'FAIL'}] {name}")
    for what, err in rows:
        say(f"    {'ok ' if err <= TOL else 'BAD'} relative error {err:.1e}  {what}")
    if problem:
        say(f"    {problem}")
    if not ok:
        say(f"    hint: {hint}")
    return ok


def load_answers(lesson, folder=HERE):
    """The student's module for ``lesson`` (exNN_*.py in ``folder``); raises Refused for a file
    that imports minifcn."""
    path = os.path.join(folder, FILES[lesson])
    why = refusal_of_file(path)
    if why:
        raise Refused(why)
    spec = importlib.util.spec_from_file_location(f"exercise_{lesson:02d}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_all(lessons, folder=HERE):
    """{lesson: module, or the reason it was refused, or FileNotFoundError}."""
    found = {}
    for n in lessons:
        try:
            found[n] = load_answers(n, folder)
        except (Refused, FileNotFoundError) as err:
            found[n] = err
    return found


SANITY_NEEDS = (1, 2, 4, 5, 6)      # the pieces the small FCN is made of


def grade(lessons, answers=None, say=print, sanity=True):
    """Grade ``lessons``; ``answers`` maps a lesson to an object holding its functions, or to a
    ``Refused`` (default: the exercise files beside this script). Returns
    {lesson: {name: passed}}. With lesson 6 and ``sanity``, CS231n's sanity check runs last
    (``overfit_four_images``) when every piece it needs passes."""
    answers = load_all(lessons) if answers is None else answers
    results = {}
    for lesson in lessons:
        say(f"\nLesson {lesson:02d} ({FILES[lesson]})")
        module = answers[lesson]
        if isinstance(module, Exception):
            say(f"[{'REFUSED' if isinstance(module, Refused) else 'MISSING'}] {module}")
            results[lesson] = {name: False for name, *_ in CHECKS[lesson]}
            continue
        results[lesson] = {name: check_function(lesson, name, hint, prepare, compare, module,
                                                say)
                           for name, hint, prepare, compare in CHECKS[lesson]}
    if 6 in lessons and sanity:
        results[6]["overfit_four_images"] = sanity_check(answers, results, say)
    return results


def sanity_check(answers, results, say=print):
    """CS231n's sanity check with the student's pieces (capstone.py): a small FCN must overfit
    four images. Runs only when every piece passes (grading the ones not asked for here)."""
    import capstone
    say("\nSanity check: overfit four images with your own pieces")
    missing = []
    for lesson in SANITY_NEEDS:
        if lesson not in results:
            module = answers.get(lesson) if isinstance(answers, dict) else None
            module = module if module is not None else load_all([lesson])[lesson]
            answers = {**answers, lesson: module}
            ok = not isinstance(module, Exception) and all(
                check_function(lesson, name, hint, prepare, compare, module, say=lambda *a: None)
                for name, hint, prepare, compare in CHECKS[lesson])
        else:
            ok = all(results[lesson].values())
        if not ok:
            missing.append(f"{lesson:02d}")
    if missing:
        say(f"[WAIT] overfit_four_images: needs your lessons {', '.join(missing)} to pass first")
        return False
    pieces = capstone.Pieces.from_answers(answers)
    result = capstone.overfit_four_images(pieces, say=say)
    ok = result["pixel_acc"] >= capstone.OVERFIT_TARGET
    say(f"[{'PASS' if ok else 'FAIL'}] overfit_four_images: pixel accuracy "
        f"{result['pixel_acc']:.3f} on the four training images after {result['iterations']} "
        f"iterations (needs {capstone.OVERFIT_TARGET}); loss {result['losses'][0]:.3f} → "
        f"{result['losses'][-1]:.4f}")
    if not ok:
        say("    hint: every piece matches its stored answers, so look at how they fit: does the "
            "loss fall at all? If it does not, a gradient is lost between two pieces.")
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python lessons/exercises/check.py",
                                     description="Grade the exercises of lessons 01-08.")
    parser.add_argument("lessons", nargs="*", type=int, metavar="N",
                        help="lesson numbers to grade (default: all)")
    parser.add_argument("--answers", metavar="DIR", default=HERE,
                        help="folder holding the exNN_*.py files (default: %(default)s)")
    parser.add_argument("--mine", action="store_true",
                        help="the capstone: train a small FCN made of your own pieces on the "
                             "shapes data (a few minutes)")
    parser.add_argument("--quick", action="store_true",
                        help="with --mine: a few iterations, to see that it runs")
    args = parser.parse_args(argv)
    if args.mine:
        import capstone
        return capstone.main(load_all(sorted(FILES), args.answers), quick=args.quick)
    lessons = args.lessons or sorted(FILES)
    unknown = [n for n in lessons if n not in FILES]
    if unknown:
        parser.error(f"no exercises for lesson(s) {unknown}: choose from {sorted(FILES)}")
    answers = load_all(lessons, args.answers)
    if 6 in lessons:            # the sanity check reads the other pieces from the same folder
        answers.update({n: m for n, m in load_all(SANITY_NEEDS, args.answers).items()
                        if n not in answers})
    results = grade(lessons, answers)
    passed = sum(ok for r in results.values() for ok in r.values())
    total = sum(len(r) for r in results.values())
    print(f"\n{passed} of {total} exercises pass.")
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
