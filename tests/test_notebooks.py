"""Each lesson also exists as a notebook (lessons/NN_….ipynb), generated from its script by
lessons/make_notebooks.py with jupytext (the test extra): the two stay in sync, the notebooks are
committed without outputs, and the first cells install minifcn when it is missing and say how to
run on 'cuda'."""
import glob
import importlib.util
import json
import os

import pytest

jupytext = pytest.importorskip("jupytext", reason="pip install -e '.[test]' brings jupytext")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = sorted(glob.glob(os.path.join(REPO, "lessons", "[0-9][0-9]_*.py")))


def _make():
    spec = importlib.util.spec_from_file_location(
        "make_notebooks", os.path.join(REPO, "lessons", "make_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = _make()


@pytest.mark.parametrize("script", LESSONS, ids=[os.path.basename(p) for p in LESSONS])
def test_notebook_is_in_sync_with_its_script(script):
    path = os.path.splitext(script)[0] + ".ipynb"
    assert os.path.exists(path), f"{path} is missing: run python lessons/make_notebooks.py"
    assert make.cells(jupytext.read(path)) == make.cells(make.notebook_for(script)), (
        f"{os.path.basename(path)} differs from its script: run python lessons/make_notebooks.py")


@pytest.mark.parametrize("script", LESSONS, ids=[os.path.basename(p) for p in LESSONS])
def test_notebook_has_no_outputs_and_starts_with_the_install_cell(script):
    with open(os.path.splitext(script)[0] + ".ipynb", encoding="utf-8") as f:
        nb = json.load(f)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in code)
    install = "".join(code[1]["source"])            # code[0] is the lesson's docstring
    assert "pip" in install and "install" in install and "'cuda'" in install, install
    assert "Setup" in json.dumps(code[2].get("metadata", {})), "the Setup cell comes next"
