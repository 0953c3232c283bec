"""The channel-parallel copies (minifcn/functional/cpu/threads.py).

The tests shrink the work threshold to one element so that even small arrays are split, then
check that the split covers every channel exactly once, that errors in a worker reach the
caller, and that convolutions and poolings computed on several threads are *bitwise* equal to
the same computation on one (channels never mix, so there is no reduction order to differ).
"""
import os
import signal
import threading
import time

import numpy as np
import pytest

import minifcn.functional as F
from minifcn.functional import naive
from minifcn.functional.cpu import threads


@pytest.fixture
def split_everything(monkeypatch):
    """Split any work, over 3 threads (more than the CI machine's 2 cores, and uneven blocks)."""
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "3")


def test_num_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "5")
    assert threads.num_threads() == 5
    monkeypatch.delenv("MINIFCN_NUM_THREADS")
    assert threads.num_threads() >= 1
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv("MINIFCN_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="MINIFCN_NUM_THREADS"):
            threads.num_threads()


def test_blocks_cover_every_channel_once_at_the_same_time(split_everything):
    seen = []
    lock = threading.Lock()
    together = threading.Barrier(3, timeout=10)   # breaks unless 3 blocks run concurrently

    def record(c0, c1):
        with lock:
            seen.extend(range(c0, c1))
        together.wait()

    for _ in range(2):                            # a second call reuses the idle workers
        seen.clear()
        threads.over_channels(record, 7, 10 ** 6, np)
        assert sorted(seen) == list(range(7))


def test_small_work_stays_on_the_calling_thread(monkeypatch):
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "4")
    calls = []
    threads.over_channels(lambda c0, c1: calls.append((c0, c1, threading.current_thread())),
                          64, threads.MIN_ELEMENTS_PER_THREAD - 1, np)
    assert calls == [(0, 64, threading.main_thread())]


def test_more_threads_than_channels(split_everything):
    calls = []
    threads.over_channels(lambda c0, c1: calls.append((c0, c1)), 2, 10 ** 6, np)
    assert sorted(calls) == [(0, 1), (1, 2)]


def test_an_error_in_a_worker_reaches_the_caller(split_everything):
    def fail_on_last_block(c0, c1):
        if c1 == 9:
            raise RuntimeError(f"block {c0}:{c1} failed")

    with pytest.raises(RuntimeError, match="block 6:9 failed"):
        threads.over_channels(fail_on_last_block, 9, 10 ** 6, np)


CONV_CASES = [  # (N, C, H, W, O, k, stride, pad, dilation)
    (2, 5, 9, 11, 4, 3, 1, 1, 1),
    (1, 7, 8, 9, 3, 3, 2, 100, 1),
    (1, 4, 10, 7, 5, 2, 3, 2, 2),
]


def _run_conv(case, dtype):
    N, C, H, W, O, k, s, p, d = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, k, k)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    y, cache = F.conv2d_forward(x, w, b, s, p, d)
    dx, dw, db = F.conv2d_backward(rng.standard_normal(y.shape).astype(dtype), cache)
    wt = rng.standard_normal((C, O, k, k)).astype(dtype)      # a deconvolution C → O
    z, tcache = F.conv_transpose2d_forward(x, wt, None, s, min(p, k - 1))
    dxt, dwt, _ = F.conv_transpose2d_backward(rng.standard_normal(z.shape).astype(dtype), tcache)
    return x, w, b, (s, p, d), [y, dx, dw, db, z, dxt, dwt]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_on_threads_is_bitwise_the_single_thread_result(case, dtype, monkeypatch):
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")
    *_, one = _run_conv(case, dtype)
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "3")
    x, w, b, (s, p, d), many = _run_conv(case, dtype)
    for a, c in zip(one, many):
        np.testing.assert_array_equal(a, c)
    # and both are right: the forward against the naive loops
    x64, w64, b64 = (arr.astype(np.float64) for arr in (x, w, b))
    ref = naive.conv2d_naive(x64, w64, b64, s, p, d)
    np.testing.assert_allclose(many[0], ref, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("shape,k,s,p,ceil", [
    ((2, 5, 9, 11), 2, 2, 0, True),        # FCN's pools on odd sizes
    ((1, 7, 10, 8), 3, 2, 1, True),        # overlapping windows with padding
    ((1, 3, 6, 6), 3, 1, 0, False),
])
def test_max_pool_on_threads_is_bitwise_the_single_thread_result(shape, k, s, p, ceil,
                                                                    monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, size=shape).astype(np.float32)   # many ties: switches matter
    dout_seed = 2

    def run():
        out, cache = F.max_pool2d_forward(x, k, s, p, ceil)
        dout = np.random.default_rng(dout_seed).standard_normal(out.shape).astype(np.float32)
        return out, cache[-1], F.max_pool2d_backward(dout, cache)

    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")
    one = run()
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "3")
    many = run()
    for a, c in zip(one, many):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(many[0], naive.max_pool2d_naive(x, k, s, p, ceil))


@pytest.mark.parametrize("shape,split", [
    ((1, 8, 326, 326), True),     # pool1 of the small FCN in the paper's geometry
    ((1, 16, 163, 163), True),    # pool2
    ((1, 32, 82, 82), False),     # pool3: 215k inputs, 8 × 215k is under two threads' worth
])
def test_pools_split_from_a_smaller_layer_than_copies(shape, split, monkeypatch):
    """pool.WORK_PER_ELEMENT: on two threads the small FCN's first two pools are split, forward
    and backward, though im2col's copies of that size would not be."""
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "2")
    assert shape[2] * shape[3] * shape[1] < 2 * threads.MIN_ELEMENTS_PER_THREAD
    used = []                     # per call of over_channels: the blocks it ran
    real = threads.over_channels

    def counting(fn, n_channels, n_elements, xp):
        blocks = []
        real(lambda c0, c1: blocks.append((c0, c1)) or fn(c0, c1), n_channels, n_elements, xp)
        used.append(len(blocks))

    monkeypatch.setattr(threads, "over_channels", counting)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out, cache = F.max_pool2d_forward(x, 2, 2, 0, True)
    F.max_pool2d_backward(np.ones_like(out), cache)
    assert used == ([2, 2] if split else [1, 1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # Python ≥ 3.12 on fork with threads
def test_a_forked_child_gets_its_own_workers(split_everything):
    together = threading.Barrier(3, timeout=10)                     # so that both of the
    threads.over_channels(lambda c0, c1: together.wait(), 4, 10 ** 6, np)  # parent's workers exist
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                                   # child: must not hang
        try:
            out = []
            threads.over_channels(lambda c0, c1: out.append(c1 - c0), 6, 10 ** 6, np)
            os.write(w, str(sum(out)).encode())
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 30
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:                            # stuck on the dead workers
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung in over_channels")
        time.sleep(0.01)
    assert os.read(r, 16) == b"6"
