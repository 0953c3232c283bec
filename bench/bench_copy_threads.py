"""What a second core adds to a copy, and what a GEMM loses when its operand is not in the cache.

    python bench/bench_copy_threads.py [--repeat 30]

Two measurements behind the paper geometry's two-thread result (bench/RESULTS.md, "Issue 23,
ninth round"):

1. **Copies.** ``np.copyto`` of 64, 8 and 2 MiB, on one thread and split in two halves between
   two (minifcn's own ``threads.over_channels``, with its size threshold lifted). A copy larger
   than the last-level cache is bound by the memory's bandwidth, which a second core hardly
   raises; im2col, col2im, pooling and the ReLUs are such copies, OpenBLAS's GEMMs are not.
2. **GEMMs, hot and cold.** The convolutions' forward products ``W (O, C·9) @ cols (C·9,
   pixels)`` at the small FCN's paper-geometry shapes (whole images, not bands), timed right
   after the same product ("hot": cols in the cache) and right after 64 MiB were written
   ("cold": cols in memory), as a GEMM inside a training step finds it.

Printed: GB/s (bytes read plus bytes written) and GFLOP/s, best of ``--repeat``, with
``lscpu``'s model name. Run it on a quiet machine: nothing else may use the cores.
"""
import argparse
import time

import minifcn  # noqa: F401  (sets OPENBLAS_THREAD_TIMEOUT before NumPy loads OpenBLAS)
import numpy as np
from common import cpu_model

from minifcn.functional.cpu import threads

GEMMS = [(16, 72, 26569), (16, 144, 26569), (32, 288, 6724), (64, 576, 1681), (64, 576, 441)]


def best_of(fn, repeat, before=None):
    """The shortest of ``repeat`` timed calls of fn, each after ``before()`` (untimed)."""
    best = float("inf")
    for _ in range(repeat):
        if before is not None:
            before()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def copy_rates(mib, repeat):
    """(GB/s on one thread, GB/s split between two) for a copy of ``mib`` MiB."""
    n = mib * 2 ** 20 // 4
    src, dst = np.ones(n, np.float32), np.empty(n, np.float32)

    def halves(i0, i1):
        np.copyto(dst[i0 * n // 2:i1 * n // 2], src[i0 * n // 2:i1 * n // 2])

    def split():
        threads.over_channels(halves, 2, 2 * threads.MIN_ELEMENTS_PER_THREAD, np)

    one = best_of(lambda: np.copyto(dst, src), repeat)
    two = best_of(split, repeat)
    return 2 * n * 4 / one / 1e9, 2 * n * 4 / two / 1e9


def gemm_rates(shape, repeat, junk):
    """(GFLOP/s hot, GFLOP/s cold) of an (M, K) @ (K, N) product into a kept output."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.empty((m, n), np.float32)
    product = lambda: np.matmul(a, b, out=c)          # noqa: E731
    hot = best_of(product, repeat, before=product)
    cold = best_of(product, repeat, before=lambda: np.add(junk, 1, out=junk))
    flops = 2 * m * k * n / 1e9
    return flops / hot, flops / cold


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"{cpu_model()}; numpy {np.__version__}; minifcn threads: {threads.num_threads()}")
    if threads.num_threads() < 2:
        print("only one thread: the two-thread copies run on one (MINIFCN_NUM_THREADS)")
    for mib in (64, 8, 2):
        one, two = copy_rates(mib, args.repeat)
        print(f"copy {mib:2d} MiB: one thread {one:6.1f} GB/s, two threads {two:6.1f} GB/s")
    junk = np.ones(64 * 2 ** 20 // 4, np.float32)
    for shape in GEMMS:
        hot, cold = gemm_rates(shape, args.repeat, junk)
        m, k, n = shape
        print(f"GEMM {m}×{k}×{n} ({k * n * 4 / 2 ** 20:4.1f} MiB operand): "
              f"hot {hot:5.0f} GFLOP/s, cold {cold:5.0f} GFLOP/s")


if __name__ == "__main__":
    main()
