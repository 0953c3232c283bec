"""Every lesson runs with --quick, from a foreign working directory, and writes a figure.

Lessons are found by their file names (lessons/NN_*.py), so a new lesson is tested as soon as
it exists. Each runs in a subprocess exactly as a student would start it.
"""
import glob
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


@pytest.mark.parametrize("lesson", [pytest.param(p, marks=_marks(p), id=os.path.basename(p))
                                    for p in LESSONS])
def test_lesson_runs_quick(lesson, tmp_path):
    out = tmp_path / "figures"
    cwd = tmp_path / "elsewhere"            # not the repository: lessons must not need the cwd
    cwd.mkdir()
    env = dict(os.environ, MPLBACKEND="Agg")
    # Lessons multiply small matrices; BLAS threads only fight each other (and other tests).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run([sys.executable, lesson, "--quick", "--out", str(out)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, (f"{os.path.basename(lesson)} exited with {proc.returncode}\n"
                                  f"--- stdout (end) ---\n{proc.stdout[-3000:]}\n"
                                  f"--- stderr ---\n{proc.stderr[-3000:]}")
    figures = list(out.glob("*.png"))
    assert figures, f"{os.path.basename(lesson)} wrote no .png into --out {out}"


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
