"""Every lesson runs as a notebook would run it, and as a script; each writes a figure.

Lessons are found by their file names (lessons/NN_*.py), so a new lesson is tested as soon as
it exists. The notebook run executes the lesson's ``# %%`` cells in order in one namespace, as
Jupyter, VS Code and PyCharm do: without ``__file__``, with a kernel's command line, from a
foreign working directory, and without jupytext (the cells are split here). It runs in a
subprocess, with --quick among the kernel's arguments. The cells are the script cut at its
markers, so running every lesson a second time as a script would test the same code again:
one lesson runs as a script, as a student starts it, to keep that path alive.
"""
import glob
import importlib.util
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = sorted(glob.glob(os.path.join(REPO, "lessons", "[0-9][0-9]_*.py")))
TIMEOUT_S = 180     # the budget per lesson with --quick on 2 cores (most take well under 40 s)


def _marks(lesson):
    """slow, and gpu for a lesson that runs on 'cuda' by default (09): it touches the device, so
    the stand-in's CI pass, which leaves out the slow tests, must still run it."""
    with open(lesson, encoding="utf-8") as f:
        on_device = 'default_device="cuda"' in f.read()
    return [pytest.mark.slow] + ([pytest.mark.gpu] if on_device else [])


def test_lessons_are_found():
    assert LESSONS, "no lessons/NN_*.py found"


# Runs a lesson's cells the way a notebook kernel does; argv: lesson path, figure folder.
NOTEBOOK_RUNNER = """
import linecache, os, sys
lesson, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(lesson))   # a kernel starts in the notebook's folder
with open(lesson, encoding="utf-8") as f:
    source = f.read()
cells, cell = [], []
for line in source.splitlines(keepends=True):
    if line.startswith("# %%") and cell:
        cells.append("".join(cell))
        cell = []
    cell.append(line)
cells.append("".join(cell))
sys.argv = ["ipykernel_launcher.py", "-f", "/tmp/kernel-1234.json", "--quick", "--lang", "both",
            "--out", out]
namespace = {"__name__": "__main__"}          # no __file__, as in a notebook
for i, code in enumerate(cells):
    name = f"<{os.path.basename(lesson)}, cell {i}>"
    # Like IPython, keep each cell's source where inspect.getsource finds it.
    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
    exec(compile(code, name, "exec"), namespace)
print(f"ran {len(cells)} cells")
"""


def _env():
    env = dict(os.environ, MPLBACKEND="Agg")
    # Lessons multiply small matrices; BLAS threads only fight each other (and other tests).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
    return env


def _report(lesson, proc):
    return (f"{os.path.basename(lesson)} exited with {proc.returncode}\n"
            f"--- stdout (end) ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}")


@pytest.mark.parametrize("lesson", LESSONS, ids=[os.path.basename(p) for p in LESSONS])
def test_lesson_is_cells_without_file(lesson):
    """Cells, no __file__ (a notebook has none), and the lesson's own name for its outputs."""
    with open(lesson, encoding="utf-8") as f:
        source = f.read()
    name = os.path.splitext(os.path.basename(lesson))[0]
    assert source.count("\n# %%") >= 3, f"{name}: no # %% cells"
    assert "__file__" not in source, f"{name} uses __file__, which a notebook does not have"
    assert f'parse_args("{name}"' in source, f"{name}: parse_args must get the lesson's name"


@pytest.mark.parametrize("lesson", [pytest.param(p, marks=_marks(p), id=os.path.basename(p))
                                    for p in LESSONS])
def test_lesson_runs_as_notebook_quick(lesson, tmp_path):
    out = tmp_path / "figures"
    cwd = tmp_path / "elsewhere"            # not the repository: lessons must not need the cwd
    cwd.mkdir()
    proc = subprocess.run([sys.executable, "-c", NOTEBOOK_RUNNER, lesson, str(out)], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, _report(lesson, proc)
    assert list(out.glob("*.png")), f"{os.path.basename(lesson)} wrote no .png into {out}"
    assert "Questions to think about" in proc.stdout, "the lesson ends without its summary"
    assert "생각해 볼 질문" in proc.stdout, "--lang both: the summary and questions in Korean too"


@pytest.mark.slow
def test_lesson_runs_as_script(tmp_path):
    """``python lessons/02_….py --quick`` from another folder, as a student starts it."""
    lesson = os.path.join(REPO, "lessons", "02_backprop_and_gradcheck.py")
    out = tmp_path / "figures"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, lesson, "--quick", "--out", str(out)], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, _report(lesson, proc)
    assert list(out.glob("*.png"))


# (lesson, what --train says at its start, the files it saves under --out/pretrained, a figure)
RETRAINING = [
    ("05_skip_layers.py", "--train: staged training from scratch", ("fcn32s", "fcn16s", "fcn8s"),
     "deep_jet.png"),
    ("08_other_upsampling.py", "--train: lesson 08's four nets from scratch",
     ("lesson08_fcn8s", "lesson08_coarse", "lesson08_unpool", "lesson08_dilated"),
     "comparison.png"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, says, saved, figure", RETRAINING,
                         ids=[r[0][:2] for r in RETRAINING])
def test_lesson_retrains_its_models_with_train(tmp_path, name, says, saved, figure):
    """``--quick --train``: the lesson trains its nets itself (a few iterations each) instead
    of loading data/pretrained/, saves them under --out and goes on with them."""
    lesson = os.path.join(REPO, "lessons", name)
    out = tmp_path / "figures"
    proc = subprocess.run([sys.executable, lesson, "--quick", "--train", "--out", str(out)],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0, _report(lesson, proc)
    assert says in proc.stdout
    for model in saved:
        assert (out / "pretrained" / f"{model}.npz").exists(), f"--train saved no {model}"
    assert (out / figure).exists()


def test_lesson_arguments_tolerate_a_kernel_argv(tmp_path):
    """A Jupyter kernel's argv (-f kernel.json) is ignored; the lesson's own flags still work."""
    spec = importlib.util.spec_from_file_location(
        "_common", os.path.join(REPO, "lessons", "_common.py"))
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    args = common.parse_args("01_test", "test", argv=["-f", "/tmp/kernel-1.json", "--out",
                                                      str(tmp_path), "--seed", "3"])
    assert (args.quick, args.seed, args.device, args.out) == (False, 3, "cpu", str(tmp_path))
    args = common.parse_args("01_test", "test", argv=["--quick", "--out", str(tmp_path)],
                             extra=lambda p: p.add_argument("--data", default="x"))
    assert args.quick and args.data == "x"


def test_lesson_asks_for_missing_gpu_clearly(tmp_path):
    """--device cuda without a GPU stops with minifcn's message, not a traceback."""
    lesson = os.path.join(REPO, "lessons", "01_conv_and_pooling.py")
    if not os.path.exists(lesson):
        pytest.skip("lesson 01 is missing")
    # No GPU, whatever this machine has: CUDA shows no device, and no CuPy stand-in.
    env = {k: v for k, v in os.environ.items() if k != "MINIFCN_FAKE_CUPY"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    proc = subprocess.run([sys.executable, lesson, "--quick", "--device", "cuda", "--out",
                           str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=env)
    assert proc.returncode != 0
    assert "cuda" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
