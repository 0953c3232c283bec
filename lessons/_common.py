"""What every lesson shares: its command line, the printed walk-through, and saving figures.

A lesson runs from any folder (``python lessons/04_upsampling.py``) and from a plain checkout:
if minifcn is not installed, the repository root (the folder above ``lessons/``) goes on
``sys.path`` so that ``import minifcn`` finds the package beside it.
"""
import argparse
import os
import sys
import textwrap
import time

LESSONS_DIR = os.path.dirname(os.path.abspath(__file__))

try:
    import minifcn  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(LESSONS_DIR))
    import minifcn  # noqa: F401

import matplotlib

matplotlib.use("Agg")  # figures go to files; no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minifcn import backend  # noqa: E402

WIDTH = 96


def parse_args(lesson_file, description, gpu_optional=False, default_device="cpu"):
    """--out DIR, --quick, --device cpu|cuda, --seed N; checks the device.

    Figures go to ``lessons/out/<lesson name>/`` unless --out says otherwise. Asking for
    'cuda' without a usable GPU stops the lesson with minifcn's own message, unless
    ``gpu_optional`` (lesson 09 explains the situation itself).
    """
    name = os.path.splitext(os.path.basename(lesson_file))[0]
    parser = argparse.ArgumentParser(prog=f"python lessons/{name}.py", description=description)
    parser.add_argument("--out", default=os.path.join(LESSONS_DIR, "out", name),
                        help="folder for the figures (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller, faster run (what the tests use)")
    parser.add_argument("--device", choices=backend.DEVICES, default=default_device,
                        help="where the arrays live (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args()
    if args.device == "cuda" and not gpu_optional:
        try:
            backend.to_device(np.zeros(1), "cuda")
        except RuntimeError as err:
            sys.exit(f"{name}: {err}")
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    args.name = name
    return args


def intro(doc):
    """Print the lesson's docstring: its first line as the title, the rest as text."""
    title, _, rest = doc.strip().partition("\n")
    print(title + "\n" + "=" * len(title))
    say(rest.replace("``", "`"))


def section(title):
    """A numbered heading in the printed walk-through."""
    print("\n\n" + title + "\n" + "-" * len(title))


def say(text):
    """Print a paragraph of explanation, re-wrapped (blank lines separate paragraphs).

    Lines that start with spaces after dedenting (tables, formulas) are printed as they are.
    """
    text = textwrap.dedent(text).strip("\n")
    print()
    for i, para in enumerate(text.split("\n\n")):
        if i:
            print()
        print(para if para.startswith(" ") else textwrap.fill(" ".join(para.split()), WIDTH))
    print()


def save_figure(fig, args, filename):
    """Save ``fig`` as ``args.out/filename`` (PNG) and say where it went."""
    path = os.path.join(args.out, filename)
    fig.tight_layout()
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    print(f"[figure] {path}")
    return path


def best_time(fn, repeat=3):
    """The fastest of ``repeat`` runs of ``fn()``, in seconds (the least disturbed by the OS)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
