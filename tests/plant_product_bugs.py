"""Plant typical GPU-port bugs into minifcn itself: the stand-in's device tests must catch each.

    python tests/plant_product_bugs.py      (from the repository root; a few minutes)

First the unmodified project must pass tests/test_device_agreement.py on the CuPy stand-in
(MINIFCN_FAKE_CUPY=1 MINIFCN_DEVICE=cuda); then each bug below is written into its file, the
same tests run again and must fail with the error that names the bug, and the file is
restored. (tests/test_planted_bugs.py does the same with bugs in user code, on every run.)
A bug whose line has since been rewritten is reported as such: update its anchor.
"""
import os
import subprocess
import sys

TESTS = ["tests/test_device_agreement.py"]
BUGS = {   # name: (file, text, the text with the bug, what the failing tests must say)
    "np.asarray of a device array (predict)": (
        "minifcn/predict.py", "labels = backend.to_cpu(score.argmax(axis=1))",
        "labels = np.asarray(score.argmax(axis=1))", "Implicit conversion to a NumPy array"),
    "a 0-d NumPy array into a device op (dropout scale)": (
        "minifcn/functional/activation.py", "astype(dtype) / dtype(1 - p)",
        "astype(dtype) / np.asarray(1 - p, dtype)", "Unsupported type <class 'numpy.ndarray'>"),
    "a host array into a device ufunc (ReLU)": (
        "minifcn/functional/activation.py", "out = xp.maximum(x, 0, out=",
        "out = xp.maximum(x, np.zeros(1, x.dtype), out=",
        "Unsupported type <class 'numpy.ndarray'>"),
    "a NumPy-only name (long double in the loss)": (
        "minifcn/functional/loss.py", "xp.where(norm > 0, norm, 1).astype(score.dtype)",
        "xp.where(norm > 0, norm, 1).astype(xp.longdouble)",
        "has no attribute 'longdouble' (NumPy has it; CuPy does not)"),
    "a read-back every iteration (train loop)": (
        "minifcn/train.py", "self.pending.append((it, loss, time.time() - self.t0))",
        "self.pending.append((it, loss, time.time() - self.t0 + 0 * float(loss)))",
        "('d2h', 'float', 4, 'minifcn/train.py:"),
    "the batch left on the host (train loop)": (
        "minifcn/train.py", "x, t = backend.to_device(x, device), backend.to_device(t, device)",
        "x, t = x, backend.to_device(t, device)",
        "has its parameters on 'cuda' but got an input on 'cpu'"),
}
ENV = dict(os.environ, PYTHONPATH=os.getcwd(), MINIFCN_FAKE_CUPY="1", MINIFCN_DEVICE="cuda")


def tests_fail(expect=""):
    """True if the tests fail and their report contains ``expect``."""
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        "--tb=short", *TESTS], check=False, capture_output=True, text=True,
                       env=ENV)
    return r.returncode != 0 and expect in r.stdout + r.stderr


def plant(path, text, bug, expect):
    """True if the tests fail, saying ``expect``, with ``bug`` in place of ``text`` in ``path``;
    None if ``text`` is no longer there."""
    with open(path, encoding="utf-8") as f:
        orig = f.read()
    if text not in orig:
        return None
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(orig.replace(text, bug, 1))
        return tests_fail(expect)
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(orig)


def main():
    if tests_fail():
        print(f"the unmodified project fails {TESTS} on the stand-in: fix that first")
        return 1
    print(f"unmodified project: {' '.join(TESTS)} pass on the stand-in")
    bad = 0
    for name, (path, text, bug, expect) in BUGS.items():
        caught = plant(path, text, bug, expect)
        print(f"  {name:50s} -> "
              f"{'caught' if caught else 'NOT CAUGHT' if caught is False else 'anchor gone'}")
        bad += caught is not True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
