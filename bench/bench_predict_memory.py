"""Peak memory of predicting one large photo: whole image, ``max_size``, and tiles.

    python bench/bench_predict_memory.py --model main --mode whole tile max_size --size 3000 4000
    python bench/bench_predict_memory.py --model vgg16 --mode whole --size 375 500 750 1000
    python bench/bench_predict_memory.py --model vgg16 --mode tile1 --size 3000 4000

Models: ``main`` is the main job's FCN-8s (widths VGG16's / 8, fc6/fc7 128, 5 classes);
``vgg16`` is FCN-8s at VGG16's widths (64…512, fc6/fc7 4096, 21 classes). Modes: ``whole`` (one
forward pass over the photo), ``max_size`` (--max-size, default 1024), ``tile`` (the tiled
prediction over the whole photo, --tile/--overlap, default 512/128) and ``tile1`` (one tile's
forward pass only: the tiled run holds one tile's activations at a time, so its peak is this
plus the stitched (H, W) int64 label map; for models too slow to run every tile).

Method, as bench/bench_memory.py: each run in a fresh subprocess; after the model and the photo
are built, the child reads its resident set size (VmRSS) as the baseline, resets the high-water
mark (/proc/self/clear_refs), predicts, and reports VmHWM − baseline: what the prediction adds
on top of the weights and the photo. --size takes pairs H W; with several pairs and ``whole``,
a line through the sizes (MiB against padded pixels, (H + 200)(W + 200): conv1_1 pads 100) is
fitted and extrapolated to --extrapolate H W, for sizes this machine cannot hold.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from bench_memory import status_kib
from common import cpu_model, randomize_score_layers


def build(model_name):
    from minifcn.models import FCN8s
    if model_name == "main":
        model = FCN8s(n_class=5, base_channels=8, fc_channels=128)
    else:
        model = FCN8s(n_class=21, base_channels=64, fc_channels=4096)
    randomize_score_layers(model)
    return model


def child(args):
    import numpy as np

    from minifcn.predict import _scores, predict
    model = build(args.model)
    H, W = args.size
    photo = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    if args.mode == "tile1":
        photo = photo[:args.tile, :args.tile].copy()
    baseline = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    t0 = time.perf_counter()
    if args.mode == "whole":
        predict(model, photo)
    elif args.mode == "max_size":
        predict(model, photo, max_size=args.max_size)
    elif args.mode == "tile":
        predict(model, photo, tile=args.tile, overlap=args.overlap)
    else:
        _scores(model, photo).argmax(axis=1)
    seconds = time.perf_counter() - t0
    print(json.dumps({"baseline_mib": baseline / 1024, "added_mib": (status_kib("VmHWM")
                      - baseline) / 1024, "seconds": seconds}))


def run_child(args, mode, size):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--model", args.model,
           "--mode", mode, "--size", *map(str, size), "--tile", str(args.tile),
           "--overlap", str(args.overlap), "--max-size", str(args.max_size)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def extrapolate(points, size):
    """MiB at ``size`` from a least-squares line through (padded pixels, MiB) points."""
    import numpy as np
    x = np.array([(h + 200) * (w + 200) for (h, w), _ in points], dtype=float)
    y = np.array([mib for _, mib in points])
    slope, intercept = np.polyfit(x, y, 1)
    return slope * (size[0] + 200) * (size[1] + 200) + intercept, slope * 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("main", "vgg16"), default="main")
    ap.add_argument("--mode", nargs="+", choices=("whole", "max_size", "tile", "tile1"),
                    default=["whole", "max_size", "tile"])
    ap.add_argument("--size", type=int, nargs="+", default=[3000, 4000], metavar="H W")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=128)
    ap.add_argument("--max-size", type=int, default=1024)
    ap.add_argument("--extrapolate", type=int, nargs=2, default=(3000, 4000), metavar=("H", "W"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if len(args.size) % 2:
        ap.error("--size takes pairs H W")
    if args.child:
        args.mode, args.size = args.mode[0], args.size
        return child(args)
    sizes = list(zip(args.size[::2], args.size[1::2]))
    print(f"model {args.model}; CPU {cpu_model()}; "
          f"tile {args.tile}, overlap {args.overlap}, max_size {args.max_size}")
    whole = []
    for mode in args.mode:
        for size in sizes:
            r = run_child(args, mode, size)
            print(f"{mode:8s} {size[0]:5d}×{size[1]:<5d} added {r['added_mib']:9.0f} MiB "
                  f"(weights+photo {r['baseline_mib']:6.0f} MiB) in {r['seconds']:7.1f} s",
                  flush=True)
            if mode == "whole":
                whole.append((size, r["added_mib"]))
    if len(whole) >= 2:
        mib, per_mp = extrapolate(whole, args.extrapolate)
        print(f"whole, fitted: {per_mp:.0f} MiB per padded megapixel; at "
              f"{args.extrapolate[0]}×{args.extrapolate[1]}: {mib:.0f} MiB (extrapolated)")


if __name__ == "__main__":
    main()
