"""The CuPy stand-in keeps to CuPy's rules: one test per rule, each failing if the rule goes.

(minifcn.testing.fakecupy: NumPy underneath, CuPy's names and refusals on top.)
"""
import copy
import pickle

import numpy as np
import pytest

from minifcn import backend
from minifcn.testing import UndefinedOnGPUError, count_device_ops, count_transfers, cupy_names
from minifcn.testing import fakecupy as cp

NO_IMPLICIT = "Implicit conversion to a NumPy array is not allowed"


@pytest.fixture
def x():
    return cp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))


def test_its_array_is_its_own_class_holding_numpy(x):
    assert not isinstance(x, np.ndarray) and not issubclass(cp.ndarray, np.ndarray)
    assert isinstance(x._a, np.ndarray)


@pytest.mark.parametrize("convert", [np.asarray, np.array, np.ascontiguousarray,
                                     lambda a: np.zeros(12)[: a.size] + np.asarray(a)])
def test_implicit_conversion_to_numpy_raises_cupys_typeerror(x, convert):
    with pytest.raises(TypeError, match=NO_IMPLICIT):
        convert(x)


def test_pil_cannot_read_a_device_array(x):
    Image = pytest.importorskip("PIL.Image")
    with pytest.raises((TypeError, AttributeError)):
        Image.fromarray(x.astype(np.uint8))


@pytest.mark.parametrize("host", [np.ones(4, np.float32), [1.0, 2, 3, 4], (1.0, 2, 3, 4)])
def test_host_operands_of_ufuncs_and_functions_raise(x, host):
    for op in (lambda: x + host, lambda: cp.maximum(x, host), lambda: cp.where(x > 0, x, host),
               lambda: cp.matmul(x, host), lambda: cp.sum(host), lambda: cp.exp(host)):
        with pytest.raises(TypeError):
            op()


def test_numpy_array_on_the_left_of_an_operator_raises(x):
    with pytest.raises(TypeError):
        np.ones(4, np.float32) * x
    with pytest.raises(TypeError):
        cp.concatenate([x, np.ones((1, 4), np.float32)])


def test_numpy_array_assigned_into_a_device_array_raises(x):
    with pytest.raises(TypeError, match="NumPy array"):
        x[0] = np.zeros(4, np.float32)
    x[0] = cp.zeros(4, np.float32)           # a device array or a scalar is fine
    x[1] = 7
    assert float(x[1, 0]) == 7 and float(x[0].sum()) == 0


@pytest.mark.parametrize("scalar", [2, 2.5, True, np.float32(2), np.float64(0.5), np.int64(3)])
def test_python_and_numpy_scalars_are_accepted(x, scalar):
    for r in (x * scalar, scalar * x, cp.maximum(x, scalar), x / scalar, x - scalar):
        assert isinstance(r, cp.ndarray) and r.shape == x.shape


def test_numpy_scalar_times_device_array_is_exact(x):
    # optim.py writes dtype.type(lr) * grad: the stand-in must compute it, and as NumPy does
    np.testing.assert_array_equal((np.float32(0.1) * x).get(), np.float32(0.1) * x.get())


def test_only_cupys_names_exist():
    assert "errstate" not in cupy_names.MODULE and hasattr(np, "errstate")
    with pytest.raises(AttributeError, match="NumPy has it; CuPy does not"):
        getattr(cp, "errstate")
    with pytest.raises(AttributeError):
        getattr(cp.random, "Generator_that_does_not_exist")
    public = {n for n in vars(cp) if not n.startswith("_")}
    # cupy.lib is a submodule of CuPy that the generated list (top-level names) leaves out
    assert public <= cupy_names.MODULE | {"lib"}, sorted(public - cupy_names.MODULE)
    for name in ("zeros", "matmul", "take_along_axis", "pad", "float32", "inf", "newaxis"):
        getattr(cp, name)


def test_the_arrays_attributes_are_cupys():
    own = {n for n in vars(cp.ndarray) if not n.startswith("_")}
    assert own <= cupy_names.NDARRAY, sorted(own - cupy_names.NDARRAY)
    with pytest.raises(AttributeError):
        getattr(cp.zeros(3), "tofile_that_numpy_has_not")


def test_the_name_lists_come_from_a_cupy_release():
    assert cupy_names.CUPY_VERSION[:2].isdigit() or cupy_names.CUPY_VERSION[0].isdigit()
    assert {"asnumpy", "get_array_module", "ElementwiseKernel"} <= cupy_names.MODULE
    assert {"get", "set", "reshape", "astype"} <= cupy_names.NDARRAY
    assert "default_rng" in cupy_names.RANDOM


def test_reductions_return_0d_device_arrays(x):
    for r in (x.sum(), x.max(), cp.mean(x), x.argmax(), (x > 3).any(), x[1, 2]):
        assert isinstance(r, cp.ndarray) and r.shape == ()


@pytest.mark.parametrize("read", [float, int, bool, lambda a: a.item(), lambda a: a.get(),
                                  cp.asnumpy, lambda a: f"{a:.3f}", lambda a: a.tolist(),
                                  backend.to_cpu])
def test_each_read_back_is_counted_once(x, read, monkeypatch):
    monkeypatch.setattr(backend, "_cupy", cp)
    s = x.sum()
    with count_transfers() as t:
        read(s)
    assert (t.d2h, t.h2d) == (1, 0), t.log


def test_a_boolean_mask_index_is_a_read_back(x):
    # the size of x[mask] depends on the data: CuPy reads the count back before it allocates
    with count_transfers() as t:
        x[x > 3]
        x[x > 3] = 0                            # an assignment needs no count
    assert (t.d2h, t.h2d) == (1, 0), t.log


def test_host_data_copied_to_the_device_is_counted(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", cp)
    with count_transfers() as t:
        d = cp.asarray(np.ones(5, np.float32))
        cp.asarray(d)                          # already on the device: no copy
        backend.to_device(np.zeros(3), "cuda")
        d + 1
    assert (t.h2d, t.d2h) == (2, 0) and t.log[0][2] == 20, t.log


def test_out_of_bounds_fancy_indices_raise_their_own_error(x):
    with pytest.raises(UndefinedOnGPUError, match="wraps"):
        x[cp.asarray(np.array([0, 3]))]
    with pytest.raises(UndefinedOnGPUError):
        cp.take_along_axis(x, cp.asarray(np.array([[4], [0], [1]])), axis=1)
    with pytest.raises(IndexError) as e:            # a plain integer index is not fancy
        x[5]
    assert not isinstance(e.value, UndefinedOnGPUError)


def test_repeated_indices_in_an_assignment_raise_their_own_error(x):
    with pytest.raises(UndefinedOnGPUError, match="repeated"):
        x[cp.asarray(np.array([0, 2, 0]))] = 1.0
    with pytest.raises(UndefinedOnGPUError):
        x[[1, 1], [2, 2]] = cp.asarray(np.array([5.0, 6.0], np.float32))
    x[cp.asarray(np.array([0, 2]))] = 1.0           # distinct indices are fine
    assert float(x[2].sum()) == 4


def test_the_cuda_stubs():
    assert cp.cuda.runtime.getDeviceCount() == 1
    cp.cuda.Device().synchronize()
    assert cp.cuda.runtime.getDeviceProperties(0)["name"]
    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    assert pool.used_bytes() == 0 and pool.total_bytes() == 0
    d = cp.zeros(2)
    assert cp.get_array_module(d) is cp and cp.get_array_module(np.zeros(2)) is np
    assert str(d.device) == "<CUDA Device 0>"


def test_random_generator_is_numpys_on_the_device():
    a = cp.random.default_rng(3).random((2, 3), dtype=np.float32)
    assert isinstance(a, cp.ndarray)
    np.testing.assert_array_equal(a.get(), np.random.default_rng(3).random((2, 3), np.float32))


def test_in_place_operators_keep_the_array(x):
    y = x
    y += 1
    y *= np.float32(2)
    assert y is x and float(x[0, 0]) == 2
    out = cp.empty((3, 4), np.float32)
    assert cp.maximum(x, 0, out=out) is out


def test_copy_pickle_and_numpy_dispatch(x):
    assert isinstance(copy.deepcopy(x), cp.ndarray)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(x)).get(), x.get())
    assert isinstance(np.exp(x), cp.ndarray)            # NumPy hands its ufuncs to CuPy
    assert isinstance(np.sum(x, axis=0), cp.ndarray)    # and its functions that CuPy has
    with pytest.raises(TypeError):
        np.einsum_path("ij->i", x)                      # but not those CuPy lacks


# --- the device-operation counter -------------------------------------------------------------
def _ops(fn):
    with count_device_ops() as ops:
        fn()
    return ops


@pytest.mark.parametrize("what, fn, n", [
    ("a ufunc", lambda x: x + 1, 1),
    ("an in-place ufunc", lambda x: x.__imul__(2), 1),
    ("a ufunc with out=", lambda x: cp.maximum(x, 0, out=x), 1),
    ("a reduction", lambda x: x.sum(axis=0), 1),
    ("a reduction function", lambda x: cp.sum(x), 1),
    ("a matrix product", lambda x: x @ x.T, 1),
    ("an assignment", lambda x: x.__setitem__(0, 5), 1),
    ("copyto", lambda x: cp.copyto(x, 0), 1),
    ("a new array", lambda x: cp.zeros((2, 2), np.float32), 1),
    ("astype", lambda x: x.astype(np.float64), 1),
    ("a fancy-index gather", lambda x: x[cp.asarray(np.array([0, 2]))], 1),
    ("a random draw", lambda x: cp.random.default_rng(0).random((2, 2)), 1),
    ("slicing", lambda x: x[1:, ::2], 0),
    ("a reshape of a contiguous array", lambda x: x.reshape(4, 3), 0),
    ("a transpose", lambda x: x.T, 0),
    ("as_strided", lambda x: cp.lib.stride_tricks.as_strided(x, (2, 2, 2), (16, 16, 4)), 0),
    ("ascontiguousarray of a contiguous array", lambda x: cp.ascontiguousarray(x), 0),
    ("a reshape that must copy", lambda x: x.T.reshape(12), 1),
    ("ascontiguousarray of a strided view", lambda x: cp.ascontiguousarray(x[:, ::2]), 1),
    ("astype to its own dtype without copy", lambda x: x.astype(x.dtype, copy=False), 0),
    ("a read back (a transfer, not an operation)", lambda x: float(x[0, 0]), 0),
])
def test_the_counter_counts_what_would_launch_work_on_a_gpu(x, what, fn, n):
    ops = _ops(lambda: fn(x))
    assert ops.n == n, (what, ops.log)


def test_a_call_that_runs_other_stand_in_calls_counts_once(x):
    ops = _ops(lambda: cp.asarray(x, dtype=np.float64))      # astype inside: one operation
    assert ops.n == 1, ops.log
    ops = _ops(lambda: np.sum(x))                            # NumPy's function on a device array
    assert ops.n == 1, ops.log


def test_the_counter_names_the_callers_line_and_the_kind(x):
    with count_device_ops() as ops:
        y = x * 2                                              # line A
        y.sum()                                                # line B
    sites = list(ops.by_site())
    assert len(sites) == 2 and all(s.startswith("tests") and "test_fakecupy.py:" in s
                                   for s in sites), sites
    assert ops.by_kind() == {"ufunc": 1, "reduction": 1}
    assert ops.by_file() == {sites[0].rsplit(":", 1)[0]: 2}


def test_numpy_arrays_are_not_counted():
    ops = _ops(lambda: np.ones(3) + 1)
    assert ops.n == 0
