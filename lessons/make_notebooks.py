"""Write each lesson as a notebook: python lessons/make_notebooks.py [--check]

Every lesson is a script cut into cells by ``# %%`` lines (jupytext's "percent" format); this
writes ``lessons/NN_….ipynb`` beside it with jupytext (``pip install -e ".[test]"`` brings it),
without outputs, so that the notebook opens in Jupyter and on Colab. ``--check`` only says which
notebooks differ from their scripts (tests/test_notebooks.py runs the same comparison). Edit the
script, never the notebook, and run this again.
"""
import argparse
import glob
import os
import sys

import jupytext

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def lessons():
    return sorted(glob.glob(os.path.join(HERE, "[0-9][0-9]_*.py")))


def notebook_for(script):
    """The notebook of ``script``: its cells, no outputs, a Python 3 kernel."""
    nb = jupytext.read(script, fmt="py:percent")
    nb.metadata["kernelspec"] = KERNEL
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"          # stable: a rewrite changes only what changed
    meta = nb.metadata.get("jupytext", {})
    if "cell_metadata_filter" in meta:      # jupytext lists these in set order: sort them
        keys = meta["cell_metadata_filter"].split(",")
        meta["cell_metadata_filter"] = ",".join(sorted(k for k in keys if not k.startswith("-"))
                                                + [k for k in keys if k.startswith("-")])
    return nb


def cells(nb):
    """What must agree between a script and its notebook: each cell's type and source."""
    return [(c.cell_type, c.source) for c in nb.cells]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for script in lessons():
        path = os.path.splitext(script)[0] + ".ipynb"
        nb = notebook_for(script)
        if args.check:
            if not os.path.exists(path) or cells(jupytext.read(path)) != cells(nb):
                stale.append(path)
            continue
        jupytext.write(nb, path, fmt="ipynb")
        print(f"wrote {path}")
    if stale:
        print("out of date (run python lessons/make_notebooks.py):\n  " + "\n  ".join(stale))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
