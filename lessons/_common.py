"""What every lesson shares: its command line, the printed walk-through, and saving figures.

A lesson runs as a script from any folder (``python lessons/04_upsampling.py``) and from a plain
checkout: if minifcn is not installed, the repository root (the folder above ``lessons/``) goes
on ``sys.path`` so that ``import minifcn`` finds the package beside it (in a notebook kernel,
importing this module first pip-installs that checkout, dependencies included). It also runs cell by
cell (``# %%``) in Jupyter, VS Code or PyCharm, where a lesson has no ``__file__`` and the
command line is the kernel's own: the lessons name themselves, and ``parse_args`` ignores
arguments that are not its own.
"""
import argparse
import ast
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time

# Where the import system found this module (the lessons' folder), from its import spec: the
# lessons never ask for a path of their own.
LESSONS_DIR = os.path.dirname(os.path.abspath(__spec__.origin))



def _install_in_a_notebook():
    """In a notebook kernel (Jupyter, Colab) without minifcn: pip install the checkout these
    lessons belong to (editable), so that its dependencies come with it."""
    if "ipykernel" not in sys.modules or importlib.util.find_spec("minifcn") is not None:
        return
    root = os.path.dirname(LESSONS_DIR)
    if os.path.exists(os.path.join(root, "setup.py")):
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "-e", root])
    else:
        print("minifcn is not installed, and this notebook is not in the lessons/ folder of a "
              "minifcn checkout: open it from there.")


_install_in_a_notebook()
try:
    import minifcn  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(LESSONS_DIR))
    import minifcn  # noqa: F401

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # figures go to files; no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minifcn import backend  # noqa: E402

WIDTH = 96
LANGUAGES = ("en", "ko", "both")
LANG = "en"                       # the summary's language(s): set by parse_args (--lang)


def parse_args(name, description, gpu_optional=False, default_device="cpu", extra=None,
               argv=None, pretrained=False):
    """--out DIR, --quick, --device cpu|cuda, --seed N (and the lesson's own, through
    ``extra(parser)``); checks the device. ``name`` is the lesson's file name without ``.py``.
    ``pretrained``: the lesson looks at the trained models in data/pretrained/, and --train
    retrains them from scratch instead (``pretrained_models``).

    ``argv`` defaults to the command line. Arguments that are not the lesson's own are ignored
    with a note, so that the cells also run in a Jupyter kernel, whose argv is the kernel's
    (``-f kernel.json``). In a notebook, pass ``argv=["--quick"]`` to change the settings.
    Figures go to ``lessons/out/<name>/`` unless --out says otherwise. Asking for 'cuda'
    without a usable GPU stops the lesson with minifcn's own message, unless ``gpu_optional``
    (lesson 09 explains the situation itself).
    """
    parser = argparse.ArgumentParser(prog=f"python lessons/{name}.py", description=description)
    parser.add_argument("--out", default=os.path.join(LESSONS_DIR, "out", name),
                        help="folder for the figures (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller, faster run (what the tests use)")
    parser.add_argument("--device", choices=backend.DEVICES, default=default_device,
                        help="where the arrays live (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--lang", choices=LANGUAGES, default="en",
                        help="the closing summary and questions in English, in Korean (ko, "
                             "한국어) or both (default: %(default)s)")
    if pretrained:
        parser.add_argument("--train", action="store_true",
                            help="train the models from scratch instead of loading "
                                 "data/pretrained/ (minutes; with --quick, a few iterations)")
    if extra is not None:
        extra(parser)
    args, unknown = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if unknown and "ipykernel" not in sys.modules:        # a kernel's argv is not a mistake
        print(f"{name}: ignoring arguments that are not this lesson's: {' '.join(unknown)}")
    if args.device == "cuda" and not gpu_optional:
        try:
            backend.to_device(np.zeros(1), "cuda")
        except RuntimeError as err:
            sys.exit(f"{name}: {err}")
    global LANG
    LANG = args.lang
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    args.name = name
    return args


def intro(args):
    """Print the lesson's docstring: its first line as the title, the rest as text.

    The docstring is read from ``lessons/<name>.py``: a notebook has no ``__doc__`` of its own.
    """
    path = os.path.join(LESSONS_DIR, args.name + ".py")
    doc = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ""
    title, _, rest = (doc or args.name).strip().partition("\n")
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
    if fig.get_layout_engine() is None:       # a figure made with layout="constrained" keeps it
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


def summary(points, questions, ko=None):
    """The lesson's closing cell: what it showed, and questions to think about. ``ko``: the
    same in Korean, (points, questions), printed with --lang ko or --lang both."""
    texts = {"en": ("Summary", "Questions to think about", points, questions)}
    if ko is not None:
        texts["ko"] = ("요약", "생각해 볼 질문", *ko)
    langs = {"en": ["en"], "ko": ["ko"], "both": ["en", "ko"]}[LANG]
    for lang in [lg for lg in langs if lg in texts] or ["en"]:
        title, asks, said, asked = texts[lang]
        # Korean is about twice as wide per character on a terminal: wrap it shorter.
        width = WIDTH if lang == "en" else WIDTH // 2 + 12
        section(title)
        for point in said:
            print(textwrap.fill(" ".join(point.split()), width, initial_indent="- ",
                                subsequent_indent="  "))
        print("\n" + asks)
        for i, question in enumerate(asked, 1):
            print(textwrap.fill(" ".join(question.split()), width, initial_indent=f"{i}. ",
                                subsequent_indent="   "))


PRETRAINED_DIR = os.path.join(os.path.dirname(LESSONS_DIR), "data", "pretrained")
QUICK_STAGES = (20, 10, 10)      # --quick --train: keeps the path alive, teaches nothing


def pretrained_models(args, names=("fcn32s", "fcn16s", "fcn8s")):
    """{name: model} on args.device: FCN-32s, 16s and 8s as lessons/make_pretrained.py trained
    them in stages (data/pretrained/), or, with --train, trained again now into args.out."""
    import make_pretrained
    if getattr(args, "train", False):
        counts = QUICK_STAGES if args.quick else None
        total = sum(counts or [n for _, _, n in make_pretrained.STAGES])
        print(f"--train: staged training from scratch, {total} iterations in all"
              + ("" if args.quick else " (about 15 minutes on a 2-core CPU)"))
        out = os.path.join(args.out, "pretrained")
        make_pretrained.train_stages(out, os.path.join(args.out, "runs"), counts,
                                     val_subset=8 if args.quick else None, seed=args.seed,
                                     device=args.device)
    else:
        out = PRETRAINED_DIR
    found = {}
    for name in names:
        path = os.path.join(out, name + ".npz")
        if not os.path.exists(path):
            sys.exit(f"{args.name}: {path} is missing. Make it with `python "
                     f"lessons/make_pretrained.py`, or run this lesson with --train.")
        found[name] = minifcn.load(path, args.device)
    return found


def lesson08_iterations(args):
    """How long each of lesson 08's nets trains (trained: as shipped; --quick --train: a few)."""
    import make_pretrained
    return (QUICK_STAGES[0] if getattr(args, "train", False) and args.quick
            else make_pretrained.LESSON08_ITERATIONS)


def lesson08_models(args):
    """({name: model} on args.device, {name: training seconds per iteration}): lesson 08's four
    nets as lessons/make_pretrained.py trained them (data/pretrained/lesson08_*.npz, the times
    from its manifest), or, with --train, trained again now (with --quick, QUICK_STAGES[0]
    iterations each)."""
    import make_pretrained
    import upsampling_nets
    out = PRETRAINED_DIR
    if getattr(args, "train", False):
        its = lesson08_iterations(args)
        print(f"--train: lesson 08's four nets from scratch, {its} iterations each"
              + ("" if args.quick else " (about 8 minutes on a 2-core CPU)"))
        out = os.path.join(args.out, "pretrained")
        done = make_pretrained.train_lesson08(out, os.path.join(args.out, "runs"), its,
                                              val_subset=8 if args.quick else None,
                                              seed=args.seed, device=args.device)
        per_it = {name: seconds / its for name, (_, _, seconds) in done.items()}
    else:
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            entries = json.load(f).get("lesson08", {})
        per_it = {name: e["train_seconds"] / e["metrics"]["iteration"]
                  for name, e in entries.items()}
    found = {}
    for name in make_pretrained.LESSON08:
        path = os.path.join(out, name + ".npz")
        if not os.path.exists(path):
            sys.exit(f"{args.name}: {path} is missing. Make it with `python "
                     f"lessons/make_pretrained.py --only lesson08`, or run this lesson with "
                     f"--train.")
        found[name] = upsampling_nets.load(path, args.device)
    return found, per_it
