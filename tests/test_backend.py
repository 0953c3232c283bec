"""The backend (numpy/cupy choice), and the rules that keep kernels backend-agnostic."""
import ast
import pathlib

import numpy as np
import pytest

import minifcn
from minifcn import backend

PKG = pathlib.Path(minifcn.__file__).parent


def test_version_and_array_module():
    assert isinstance(minifcn.__version__, str) and minifcn.__version__.count(".") == 2
    assert backend.get_array_module(np.zeros(3)) is np
    assert backend.get_array_module() is np
    assert backend.device_of(np.zeros(1)) == "cpu"


def test_cpu_round_trip():
    x = np.arange(6.0)
    assert backend.to_device(x, "cpu") is x
    assert backend.to_cpu(x) is x


def test_unknown_device_is_named():
    with pytest.raises(ValueError, match="'tpu'"):
        backend.to_device(np.zeros(1), "tpu")


def test_cuda_without_gpu_says_how_to_install(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"pip install minifcn\[cuda12\]"):
        backend.to_device(np.zeros(1), "cuda")


def test_default_device_from_environment(monkeypatch):
    monkeypatch.delenv("MINIFCN_DEVICE", raising=False)
    assert backend.default_device() == "cpu"
    monkeypatch.setenv("MINIFCN_DEVICE", "CPU")
    assert backend.default_device() == "cpu"
    monkeypatch.setenv("MINIFCN_DEVICE", "cuda")
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match="CuPy"):
        backend.default_device()


@pytest.mark.gpu
def test_cuda_round_trip():
    if not backend.cuda_available():
        pytest.skip("CuPy with a CUDA GPU is not available")
    x = np.arange(6.0)
    d = backend.to_device(x, "cuda")
    assert backend.device_of(d) == "cuda" and backend.get_array_module(d) is not np
    np.testing.assert_array_equal(backend.to_cpu(d), x)


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_only_backend_imports_cupy():
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                 if p.name != "backend.py" or p.parent != PKG
                 if any(m.split(".")[0] == "cupy" for m in _imports(p))]
    assert offenders == []
    assert "cupy" in set(m.split(".")[0] for m in _imports(PKG / "backend.py"))


# Kernel modules may use numpy only for things that are not the arrays they are given:
# dtypes, the seed arithmetic of dropout, and nothing else.
NUMPY_ALLOWED = {"float32", "float64", "int8", "int32", "int64", "random", "dtype"}
NUMPY_ONLY_MODULES = {"naive.py", "upsample.py"}     # host-side references and constant filters


def test_kernels_do_not_call_numpy_on_their_arrays():
    offenders = []
    for path in sorted((PKG / "functional").glob("*.py")):
        if path.name in NUMPY_ONLY_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "np" and node.attr not in NUMPY_ALLOWED):
                offenders.append(f"{path.name}:{node.lineno} np.{node.attr}")
    assert offenders == [], "use xp = get_array_module(x) instead: " + ", ".join(offenders)


def test_the_numpy_rule_can_fail(tmp_path):
    # The check above must catch np.asarray in a kernel: run it on a planted example.
    bad = "import numpy as np\ndef f(x):\n    return np.asarray(x).sum()\n"
    tree = ast.parse(bad)
    hits = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "np"
            and n.attr not in NUMPY_ALLOWED]
    assert hits == ["asarray"]
