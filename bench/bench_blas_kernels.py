"""OpenBLAS's kernel sets at the small FCN's GEMM shapes: one fresh process per OPENBLAS_CORETYPE.

    python bench/bench_blas_kernels.py [--coretypes default SKYLAKEX ZEN] [--repeat 3]
                                       [--threads N]

OpenBLAS (the one NumPy's wheels bundle, built for every x86 kind) picks its kernels when it
loads, from the CPU's features, unless ``OPENBLAS_CORETYPE`` names a set. On an AMD Zen 4 it
picks its AVX-512 ones (SkylakeX); ``ZEN`` gives it the AVX2 kernels it uses on earlier AMD
cores (the wheel reports them as Haswell). ``default`` is a process with no OPENBLAS_CORETYPE
at all: OpenBLAS's own choice. Each child imports NumPy alone, with ``--threads`` BLAS threads
(default: all cores) and the OPENBLAS_THREAD_TIMEOUT that minifcn sets in this process, and
times every shape (best of 30 products after 3 warm-ups); the processes take turns,
``--repeat`` times. Printed: the best rate of each shape per kernel set, in GFLOP/s, with
``lscpu``'s model name. minifcn does not set the kernels itself: a process that imported NumPy
before minifcn would get the other set, and a resumed training run would no longer end exactly
where an uninterrupted one does (bench/RESULTS.md, "Issue 23, eighth round").

The shapes are the convolutions' products in the paper's geometry (bench_small_net.py): the
forward ``W (O, C·9) @ cols (C·9, pixels)`` of conv2_1, conv2_2, conv3_2, conv4_2 and conv5_2,
the weight gradient's tall ``cols (O·9, pixels) @ xᵀ`` of conv3_2, and a 2048² sgemm.
"""
import argparse
import json
import os
import subprocess
import sys

from common import cpu_model

SHAPES = {                       # name: (rows, inner, columns, transposed right operand)
    "conv2_1 fwd 16×72×26569": (16, 72, 26569, False),
    "conv2_2 fwd 16×144×26569": (16, 144, 26569, False),
    "conv3_2 fwd 32×288×6724": (32, 288, 6724, False),
    "conv4_2 fwd 64×576×1681": (64, 576, 1681, False),
    "conv5_2 fwd 64×576×441": (64, 576, 441, False),
    "conv3_2 dW 288×6724×32": (288, 6724, 32, True),
    "sgemm 2048²": (2048, 2048, 2048, False),
}

CHILD = """
import json, time, numpy as np
shapes = json.loads({shapes!r})
rng = np.random.default_rng(0)
rates = {{}}
for name, (m, k, n, transposed) in shapes.items():
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if transposed else (k, n), dtype=np.float32)
    b = b.T if transposed else b
    best = float("inf")
    for i in range(33):
        t = time.perf_counter(); a @ b; t = time.perf_counter() - t
        best = min(best, t) if i >= 3 else best
    rates[name] = 2 * m * k * n / best / 1e9
print(json.dumps(rates))
"""


def run_child(coretype, threads):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    if coretype != "default":
        env["OPENBLAS_CORETYPE"] = coretype
    code = CHILD.format(shapes=json.dumps(SHAPES))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coretypes", nargs="+", default=["default", "SKYLAKEX", "ZEN"])
    ap.add_argument("--repeat", type=int, default=3, help="processes per kernel set, in turns")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args(argv)
    best = {c: {} for c in args.coretypes}
    for _ in range(args.repeat):
        for coretype in args.coretypes:
            for name, rate in run_child(coretype, args.threads).items():
                best[coretype][name] = max(rate, best[coretype].get(name, 0.0))
    print(f"{cpu_model()}; OPENBLAS_NUM_THREADS={args.threads}; best GFLOP/s of "
          f"{args.repeat} processes per kernel set")
    print(f"  {'shape':<28}" + "".join(f"{c:>10}" for c in args.coretypes))
    for name in SHAPES:
        print(f"  {name:<28}" + "".join(f"{best[c][name]:>10.0f}" for c in args.coretypes))


if __name__ == "__main__":
    main()
