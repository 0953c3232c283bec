"""Winograd F(2×2, 3×3) against im2col, per VGG16-width 3×3 convolution of FCN-8s.

    python bench/bench_winograd.py [--steps 10] [--rounds 3] [--bands 32] [--layers conv4_2 …]
                                   [--image 375 500] [--pad 100]

For each layer, at its channels and its map in FCN's geometry (an --image photo, conv1_1 padded
by --pad, 2×2 pools in ceil mode), the three products of a training step — forward, data
gradient, weight gradient — run through ``functional/cpu/conv.py`` with ``WINOGRAD`` off
(im2col) and on, back to back: rounds of ``--steps`` consecutive calls of each, interleaved,
best and median per call. ``--bands`` gives ``winograd.BAND_BYTES`` in MiB, several to compare.
The ratio is im2col / Winograd: above 1 Winograd pays. ``MIN_CHANNELS`` and ``MIN_TILES`` are
ignored here, so that conv2_1 (64 → 128) and small maps (``--image 176 176 --pad 0``: conv5 at
11×11) show where it stops paying. Prints ``lscpu``'s model name. The whole step:
``bench_fcn8s_cpu.py`` and ``bench_cpu_path.py --widths 64 4096 --pieces winograd``.
"""
import argparse

from common import back_to_back, best_and_median, cpu_model
import numpy as np  # noqa: E402 (after common, which imports minifcn first: see there)

from minifcn.functional.cpu import conv as cpu_conv
from minifcn.functional.cpu import winograd
from minifcn.functional.sizes import conv_geometry

# (in, out, block): VGG16's 3×3 layers from conv2_1 on
LAYERS = {"conv2_1": (64, 128, 2), "conv2_2": (128, 128, 2), "conv3_1": (128, 256, 3),
          "conv3_2": (256, 256, 3), "conv4_1": (256, 512, 4), "conv4_2": (512, 512, 4),
          "conv5_1": (512, 512, 5)}


def block_map(image, pad, block):
    """The map size of VGG16 block ``block`` for an (H, W) image: conv1_1 (3×3, padding ``pad``)
    then a 2×2 ceil-mode pool before each block (375×500, pad 100: 287×349 … 36×44)."""
    size = [s + 2 * pad - 2 for s in image]
    for _ in range(block - 1):
        size = [-(-s // 2) for s in size]
    return size


def products(C, O, H, W, rng):
    """{product: f()} for one layer's forward, data gradient and weight gradient."""
    x = rng.standard_normal((1, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((O, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
    dy = rng.standard_normal((1, O, H, W)).astype(np.float32)
    g = conv_geometry((H, W), (3, 3), 1, 1)
    return {"forward": lambda: cpu_conv._conv_apply(x, w, g),
            "data grad": lambda: cpu_conv._conv_data_grad(dy, w, x.shape, g),
            "weight grad": lambda: cpu_conv._conv_weight_grad(x, dy, w.shape, g)}


def switched(f, on, band_bytes=None):
    def run():
        cpu_conv.WINOGRAD = on
        if band_bytes:
            winograd.BAND_BYTES = band_bytes
        f()
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10, help="consecutive calls per round (≥ 10)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bands", type=int, nargs="+", default=[winograd.BAND_BYTES >> 20],
                    help="winograd.BAND_BYTES in MiB, one or several")
    ap.add_argument("--layers", nargs="+", choices=tuple(LAYERS), default=list(LAYERS))
    ap.add_argument("--image", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    ap.add_argument("--pad", type=int, default=100, help="conv1_1's padding (FCN: 100)")
    args = ap.parse_args()
    winograd.MIN_CHANNELS, winograd.MIN_TILES = 1, 1
    rng = np.random.default_rng(0)
    print(f"{cpu_model()}; {args.steps} calls back to back per round, {args.rounds} rounds; "
          f"ratio = im2col / Winograd (best, median)")
    for name in args.layers:
        C, O, block = LAYERS[name]
        H, W = block_map(args.image, args.pad, block)
        for product, f in products(C, O, H, W, rng).items():
            runs = {"im2col": switched(f, False)}
            runs.update({f"{mib} MiB": switched(f, True, mib << 20) for mib in args.bands})
            stats = {k: best_and_median(t) for k, t in
                     back_to_back(runs, args.steps, args.rounds).items()}
            (bi, mi) = stats.pop("im2col")
            cells = "  ".join(f"{k} {1e3 * b:6.1f} ms ×{bi / b:.2f} (×{mi / m:.2f})"
                              for k, (b, m) in stats.items())
            print(f"{name} {C:3d}→{O:3d} {H}×{W} {product:11s} im2col {1e3 * bi:6.1f} ms  "
                  f"{cells}", flush=True)


if __name__ == "__main__":
    main()
