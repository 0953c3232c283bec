"""Maps stored once per run of equal rows and columns (functional/runs.py, nn/runs.py).

The convolution and the pooling of a stored map, expanded, must be the full map's; their
backward passes must send each stored pixel the sum of what its pixels receive; and an FCN whose
trunk runs on stored maps must compute what it computes on full ones.
"""
import numpy as np
import pytest

from minifcn import functional as F
from minifcn import nn
from minifcn.functional import naive
from minifcn.functional import runs as R
from minifcn.functional.cpu import textbook_only
from minifcn.models import FCN8s, FCN32s
from minifcn.nn import runs
from minifcn.testing import fakecupy

TINY = dict(n_class=3, base_channels=2, fc_channels=8, dropout=0.0)


@pytest.fixture(autouse=True)
def cpu_fast_path(monkeypatch):
    """The runs are the CPU fast path's: on here even where MINIFCN_CPU_FAST_PATH=0 is set."""
    monkeypatch.setenv("MINIFCN_CPU_FAST_PATH", "1")
RUNS = [(1, 1, 1, 1, 1), (5, 1, 2, 1, 7), (1, 9, 1), (3, 3, 1, 4), (12,), (2, 1, 6, 1, 1, 3)]


def stored_map(rng, rows, cols, integers=False, channels=2):
    """A random (2, channels, len(rows), len(cols)) map; integers make ties in max pooling."""
    shape = (2, channels, len(rows), len(cols))
    return (rng.integers(-3, 4, shape) if integers else rng.standard_normal(shape)).astype(
        np.float64)


def test_expand_and_its_adjoint_are_the_naive_loops():
    rng = np.random.default_rng(0)
    for rows, cols in zip(RUNS, RUNS[::-1]):
        x = stored_map(rng, rows, cols)
        full = R.expand_forward(x, rows, cols)
        np.testing.assert_array_equal(full, naive.expand_runs_naive(x, rows, cols))
        d = rng.standard_normal(full.shape)
        np.testing.assert_allclose(R.expand_backward(d, rows, cols),
                                   naive.expand_runs_backward_naive(d, rows, cols), rtol=1e-12)


@pytest.mark.parametrize("kernel, padding", [(3, 1), (3, 0), (3, 4), (3, 100), (1, 0), (5, 2)])
def test_a_convolution_of_a_stored_map_is_the_full_maps(kernel, padding):
    rng = np.random.default_rng(kernel * 100 + padding)
    w = rng.standard_normal((3, 2, kernel, kernel))
    b = rng.standard_normal(3)
    for rows, cols in zip(RUNS, RUNS[1:] + RUNS[:1]):
        if sum(rows) + 2 * padding < kernel or sum(cols) + 2 * padding < kernel:
            continue
        x = stored_map(rng, rows, cols)
        rows_index, pad_h, out_rows = R.conv_runs(rows, kernel, padding)
        cols_index, pad_w, out_cols = R.conv_runs(cols, kernel, padding)
        taken = R.take_forward(x, rows_index, cols_index)
        out, cache = F.conv2d_forward(taken, w, b, 1, (pad_h, pad_w))
        full = naive.conv2d_naive(naive.expand_runs_naive(x, rows, cols), w, b, 1, padding)
        np.testing.assert_allclose(R.expand_forward(out, out_rows, out_cols), full, rtol=1e-12,
                                   atol=1e-12)
        # backward: the weights see every pixel of the full map, the stored map the run sums
        dfull = rng.standard_normal(full.shape)
        dx_full, dw_full, db_full = F.conv2d_backward(
            dfull, F.conv2d_forward(naive.expand_runs_naive(x, rows, cols), w, b, 1, padding)[1])
        dx, dw, db = F.conv2d_backward(R.expand_backward(dfull, out_rows, out_cols), cache)
        np.testing.assert_allclose(dw, dw_full, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, db_full, rtol=1e-10)
        np.testing.assert_allclose(R.take_backward(dx, rows_index, cols_index, x.shape[2:]),
                                   naive.expand_runs_backward_naive(dx_full, rows, cols),
                                   rtol=1e-10, atol=1e-12)


def test_a_padding_wider_than_the_kernel_shrinks_to_the_kernel():
    # conv1_1 of FCN at 128 px: 98 output rows at each end see only the padding
    index, pad, out_runs = R.conv_runs((1,) * 128, 3, 100)
    assert index is None and pad == 3
    assert out_runs == (98,) + (1,) * 130 + (98,)
    # a map of runs one row long under a padding below the kernel is taken as it is
    assert R.conv_runs((1,) * 10, 3, 1) == (None, 1, (1,) * 10)


@pytest.mark.parametrize("kernel", [2, 3])
@pytest.mark.parametrize("ceil_mode", [True, False])
def test_pooling_a_stored_map_is_pooling_the_full_map_ties_included(ceil_mode, kernel):
    rng = np.random.default_rng(5 + kernel)
    k = kernel
    for rows, cols in zip(RUNS, RUNS[2:] + RUNS[:2]):
        if min(sum(rows), sum(cols)) < k:
            continue
        x = stored_map(rng, rows, cols, integers=True)     # many ties: the first must win
        rows_index, out_rows = R.pool_runs(rows, k, ceil_mode)
        cols_index, out_cols = R.pool_runs(cols, k, ceil_mode)
        out, cache = F.max_pool2d_forward(R.take_forward(x, rows_index, cols_index), k, k, 0,
                                          ceil_mode)
        full_x = naive.expand_runs_naive(x, rows, cols)
        full = naive.max_pool2d_naive(full_x, k, k, 0, ceil_mode)
        np.testing.assert_array_equal(R.expand_forward(out, out_rows, out_cols), full)
        dfull = rng.integers(-5, 6, full.shape).astype(np.float64)   # exact sums
        dx_full = naive.max_pool2d_backward_naive(dfull, full_x, k, k, 0, ceil_mode)
        dx = R.take_backward(F.max_pool2d_backward(R.expand_backward(dfull, out_rows, out_cols),
                                                   cache), rows_index, cols_index, x.shape[2:])
        np.testing.assert_array_equal(dx, naive.expand_runs_backward_naive(dx_full, rows, cols))


def test_a_window_cut_short_keeps_the_taken_rows_in_order():
    # runs (3, 1, 1) under a 3-wide ceil-mode pool: the last window holds rows 1 and 2 only
    index, out_runs = R.pool_runs((3, 1, 1), 3, True)
    assert index == (0, 0, 0, 1, 2, 2) and out_runs == (1, 1)


def test_take_backward_is_the_naive_scatter():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 2, 5, 4))
    rows_index, cols_index = (0, 0, 1, 2, 2, 2, 3, 4), (0, 1, 1, 2, 3, 3)
    taken = R.take_forward(x, rows_index, cols_index)
    np.testing.assert_array_equal(taken, x[:, :, list(rows_index)][:, :, :, list(cols_index)])
    d = rng.standard_normal(taken.shape)
    np.testing.assert_allclose(R.take_backward(d, rows_index, cols_index, (5, 4)),
                               naive.take_backward_naive(d, rows_index, cols_index, (5, 4)),
                               rtol=1e-12)


def _step(model, x, target, enabled, monkeypatch):
    """Output and every parameter's gradient of one training step, runs on or off."""
    monkeypatch.setattr(runs, "ENABLED", enabled)
    crit = nn.SoftmaxCrossEntropy(ignore_index=255)
    out = model(x)
    taken = model.conv2_1.cache                 # conv2_1 took pool1's stored rows (or not)
    assert isinstance(taken, runs.Taken) == enabled
    assert not enabled or (taken.rows is not None and taken.cols is not None)
    crit(out, target)
    model.zero_grad()
    model.backward(crit.backward(), need_input_grad=False)
    return out, {n: p.grad.copy() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("cls", [FCN8s, FCN32s])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_fcn_on_stored_maps_computes_what_it_computes_on_full_ones(cls, dtype, monkeypatch):
    rng = np.random.default_rng(11)
    model = cls(**TINY, seed=3).to(dtype=dtype)
    for p in model.parameters():            # the score layers start at zero: wake them
        p.data[...] = rng.standard_normal(p.data.shape).astype(dtype) * 0.3
    x = rng.standard_normal((2, 3, 29, 23)).astype(dtype)
    target = rng.integers(0, 3, (2, 29, 23))
    full_out, full_grads = _step(model, x, target, False, monkeypatch)
    out, grads = _step(model, x, target, True, monkeypatch)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(out / np.abs(full_out).max(), full_out / np.abs(full_out).max(),
                               **tol)
    assert full_grads.keys() == grads.keys()
    for name in grads:
        scale = np.abs(full_grads[name]).max() + 1e-30
        np.testing.assert_allclose(grads[name] / scale, full_grads[name] / scale, err_msg=name,
                                   **tol)


def test_the_trunk_stores_the_padding_once():
    model = FCN8s(**TINY)
    x = np.zeros((1, 3, 29, 23), np.float32)
    with nn.no_grad():
        full = model.block_forward(1, x)                  # conv1: 227 × 221, pooled: 114 × 111
        h = model.block_forward(1, runs.RunMap.of(x))
        blobs = model.forward(x, return_blobs=True)[1]
    assert full.shape == (1, 2, 114, 111)
    assert isinstance(h, runs.RunMap) and h.shape == full.shape
    assert h.data.shape[2] < 40 and h.data.shape[3] < 40  # the padding's runs, stored once
    np.testing.assert_array_equal(h.dense(), full)
    assert all(isinstance(v, np.ndarray) for v in blobs.values())
    np.testing.assert_array_equal(blobs["pool1"], full)
    assert all(m.cache is None for m in model.modules())        # no_grad keeps nothing
    model(x)
    assert model.conv1_1.cache.cache[0] is x                    # the image: nothing taken
    assert model.conv1_2.cache.rows is not None                 # conv1_1's runs, taken


def test_without_wide_padding_nothing_is_taken(monkeypatch):
    """The main job's geometry (conv1_1 unpadded): every run is one row, the kernels see the
    arrays themselves, and the output is the full path's bit for bit."""
    model = FCN8s.main_job(n_class=3, base_channels=2, fc_channels=8)
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    out = model(x)
    for name in ("conv1_1", "conv1_2", "pool1"):
        cache = getattr(model, name).cache
        assert isinstance(cache, runs.Taken) and cache.rows is None and cache.cols is None, name
    assert model.conv1_2.cache.cache[0] is model.relu1_1.cache     # no copy of the input
    assert not isinstance(model.conv2_1.cache, runs.Taken)         # pool1 gave the array
    monkeypatch.setattr(runs, "ENABLED", False)
    np.testing.assert_array_equal(model(x), out)


def test_device_and_textbook_paths_get_the_array_itself(monkeypatch):
    x = np.zeros((1, 3, 8, 8), np.float32)
    assert isinstance(runs.RunMap.of(x), runs.RunMap)
    on_device = fakecupy.asarray(x)
    assert runs.RunMap.of(on_device) is on_device
    with textbook_only():
        assert runs.RunMap.of(x) is x
    monkeypatch.setattr(runs, "ENABLED", False)
    assert runs.RunMap.of(x) is x


def test_a_layer_that_cannot_take_runs_says_so():
    x = runs.RunMap.of(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(NotImplementedError, match="stride-1"):
        nn.Conv2d(2, 2, 3, stride=2, padding=1)(x)
    with pytest.raises(NotImplementedError, match="stride is their kernel"):
        nn.MaxPool2d(3, stride=2)(x)
    nn.MaxPool2d(2, stride=(2, 2))(x)                           # the same pool, as a pair


def test_a_pool_keeps_runs_as_long_as_they_pay():
    # pooled, a 12×12 map stores 25%, 69% or 100% of its 6×6 output
    pool = nn.MaxPool2d(2, ceil_mode=True)
    pool.keep_runs = True
    small = runs.RunMap(np.ones((1, 2, 3, 3), np.float32), (4, 4, 4), (4, 4, 4))
    mid = runs.RunMap(np.ones((1, 2, 7, 7), np.float32), (1, 1, 1, 6, 1, 1, 1),
                      (1, 1, 1, 6, 1, 1, 1))
    full = runs.RunMap.of(np.ones((1, 2, 12, 12), np.float32))
    assert runs.MAX_STORED < 1
    for x, kept in ((small, True), (mid, True), (full, False)):
        out = pool(x)
        assert isinstance(out, runs.RunMap) == kept
        assert out.shape == (1, 2, 6, 6)
    pool.keep_runs = False
    assert isinstance(pool(small), np.ndarray)
