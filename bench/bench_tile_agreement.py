"""How often tiled prediction differs from whole-image prediction, for a trained model.

    python bench/bench_tile_agreement.py --checkpoint runs/fcn8s/checkpoint.npz \
        --data data/shapes-128 --size 1024 1536 --tile 512 --overlap 0 64 128 256 490

A large photo is made as a mosaic of the dataset's validation images (so that the model sees
what it was trained on, at its scale); it is predicted whole, then in tiles with each overlap,
and the share of pixels whose label differs is printed, with the time of each way. With an
overlap of at least 2·245 px (an FCN-8s output's reach into its input, tests/test_predict.py)
the labels must be identical; below that they may differ near tile edges.
"""
import argparse
import time

import common  # noqa: F401  (the path to minifcn, and BLAS set up before NumPy loads)
import numpy as np

from minifcn import io
from minifcn.data import load_dataset
from minifcn.predict import predict


def mosaic(dataset, height, width, seed=0):
    """(height, width, 3) uint8: the dataset's images, in a random order, side by side."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    y = 0
    while y < height:
        x, row_h = 0, 0
        while x < width:
            image, _ = dataset[int(rng.integers(len(dataset)))]
            h, w = min(image.shape[0], height - y), min(image.shape[1], width - x)
            out[y:y + h, x:x + w] = image[:h, :w]
            x, row_h = x + w, max(row_h, h)
        y += row_h
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True, help="a VOC-layout folder (its val images)")
    ap.add_argument("--size", type=int, nargs=2, default=(1024, 1536), metavar=("H", "W"))
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, nargs="+", default=[0, 64, 128, 256, 490])
    args = ap.parse_args()
    model = io.load(args.checkpoint)
    photo = mosaic(load_dataset(args.data, "val"), *args.size)
    t0 = time.perf_counter()
    whole = predict(model, photo)
    seconds = time.perf_counter() - t0
    shares = np.bincount(whole.ravel(), minlength=model.n_class) / whole.size
    print(f"{args.size[0]}×{args.size[1]} mosaic; whole image {seconds:.1f} s; predicted class "
          f"shares {np.round(shares, 3).tolist()}")
    for overlap in args.overlap:
        t0 = time.perf_counter()
        tiled = predict(model, photo, tile=args.tile, overlap=overlap)
        seconds = time.perf_counter() - t0
        differ = (tiled != whole).mean()
        print(f"tile {args.tile}, overlap {overlap:4d}: {100 * differ:7.4f}% of the labels "
              f"differ from the whole image's; {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
