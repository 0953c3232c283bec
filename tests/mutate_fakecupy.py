"""Remove one rule of the CuPy stand-in at a time: its tests (tests/test_fakecupy.py) must fail.

    python tests/mutate_fakecupy.py        (from the repository root; about a minute)

Each mutation edits one file of the stand-in (fakearray.py, fakecupy.py or
fakecuda.py) in place and restores it.
"""
import os
import subprocess
import sys

SRC = "minifcn/testing/fakearray.py"
MODULE_SRC = "minifcn/testing/fakecupy.py"
CUDA_SRC = "minifcn/testing/fakecuda.py"
MUTATIONS = {   # rule removed: (text in the file, its replacement[, the file if not SRC])
    "__array__ allowed": ("        raise TypeError(_NO_IMPLICIT)", "        return self._a"),
    "numpy operands allowed": (
        "    if isinstance(x, _SCALARS) and not isinstance(x, _np.ndarray):\n        return x",
        "    if isinstance(x, (_SCALARS, _np.ndarray, list, tuple)):\n        return x"),
    "numpy in setitem allowed": ("        if isinstance(value, _np.ndarray):\n            raise",
                                 "        if False:\n            raise"),
    "numpy scalars refused": ("_SCALARS = (bool, int, float, complex, _np.generic)",
                              "_SCALARS = (bool, int, float, complex)"),
    "no allowlist": ("    if name not in _names.MODULE:\n        has",
                     "    if not hasattr(_np, name):\n        has", MODULE_SRC),
    "reductions give numpy scalars": (
        "    if isinstance(r, (_np.generic, bool, int, float, complex)):\n"
        "        return ndarray._of(_np.asarray(r))",
        "    if False:\n        pass"),
    "d2h not counted": ('        _record("d2h", what, self._a.nbytes)\n', ""),
    "h2d not counted": ('    _record("h2d", "asarray", host.nbytes)\n', "", MODULE_SRC),
    "out-of-bounds not distinct": ('            if fancy and "out of bounds" in str(e):',
                                   "            if False:"),
    "repeated indices allowed": ("            if _np.unique(hit).size != hit.size:",
                                 "            if False:"),
    "no device": ("        return 1\n", "        return 0\n", CUDA_SRC),
    "views counted as copies": ("_np.may_share_memory(result, source)", "False"),
    "ufuncs not counted": (
        '        _count("matmul" if self.__name__ == "matmul" else "ufunc", self.__name__)\n', "",
        MODULE_SRC),
    "assignments not counted": ('        count("copy", "assignment")\n', ""),
    "functions not counted": ("            _count(_kind(name), name)\n", "            pass\n",
                              MODULE_SRC),
    "boolean mask read not counted": ('            _record("d2h", "boolean mask', '            ("'),
}


def mutate(path, a, b):
    """Run tests/test_fakecupy.py with ``a`` replaced by ``b`` in ``path``: True if they fail."""
    with open(path, encoding="utf-8") as f:
        orig = f.read()
    assert a in orig, f"the text to mutate is no longer in {path}: {a!r}"
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(orig.replace(a, b, 1))
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                            "tests/test_fakecupy.py"], check=False, capture_output=True,
                           env=dict(os.environ, PYTHONPATH=os.getcwd()))
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(orig)
    return r.returncode != 0


def main():
    missed = []
    for name, (a, b, *path) in MUTATIONS.items():
        caught = mutate(path[0] if path else SRC, a, b)
        print(f"{name:32s} -> {'caught' if caught else 'NOT CAUGHT'}")
        if not caught:
            missed.append(name)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
