"""ReLU's forward: NumPy's maximum against the scalar 0 (the textbook's) and against a zero block.

    python bench/bench_relu.py [--repeat 50] [--chunks 4096 65536 262144]

For the activations of the small FCN's conv1 (8 × 326², paper geometry) and conv4 (64 × 41²)
and of VGG16's conv1 at 375×500 padded by 100 (64 × 573 × 698), in place as the models run it:
the textbook ``np.maximum(x, 0)``, then functional/cpu/activation.py at its CHUNK and at the
``--chunks`` given. Each timing refills x from a copy first (not timed), so every call sees
mixed signs. Prints the best time and the ratio textbook / zero block, and ``lscpu``'s model.
"""
import argparse
import time

from common import cpu_model
import numpy as np  # noqa: E402 (after common, which imports minifcn first: see there)

from minifcn.functional import activation as textbook
from minifcn.functional.cpu import activation as fast

SHAPES = {"small FCN conv1 (paper)": (1, 8, 326, 326), "small FCN conv4": (1, 64, 41, 41),
          "VGG16 conv1 at 375×500": (1, 64, 573, 698)}


def best_of(f, x, x0, repeat):
    best = float("inf")
    for _ in range(repeat):
        np.copyto(x, x0)
        t0 = time.perf_counter()
        f(x)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--chunks", type=int, nargs="*", default=[4096, 65536])
    args = ap.parse_args()
    print(f"{cpu_model()}; numpy {np.__version__}; in place, float32, best of {args.repeat}")
    default = fast.CHUNK
    for name, shape in SHAPES.items():
        x0 = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
        x = x0.copy()
        repeat = max(3, args.repeat // 10) if x.size > 10 ** 7 else args.repeat
        ref = best_of(lambda a: textbook.relu_forward(a, inplace=True), x, x0, repeat)
        print(f"{name} {shape}: maximum(x, 0) {ref * 1e6:9.0f} µs")
        for chunk in [default] + [c for c in args.chunks if c != default]:
            fast.CHUNK = chunk
            t = best_of(lambda a: fast.relu_forward(a, inplace=True), x, x0, repeat)
            print(f"  zero block, chunks of {chunk:>7d} {t * 1e6:9.0f} µs   ratio {ref / t:5.2f}")
        fast.CHUNK = default


if __name__ == "__main__":
    main()
