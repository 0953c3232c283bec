"""Recipe search for the main job (issue 15, point 3): one training run of a candidate recipe.

Trains the main job's network (FCN-8s, base_channels 8, fc_channels 128) through
``minifcn.train`` with the knobs the defaults do not expose yet: conv1_1's padding and a linear
warmup in front of the poly schedule. Accuracy is judged by mean IU against the *iteration*
(``OUT/eval.csv``), because wall times on shared cores are not comparable; the per-iteration cost
of a candidate is measured separately, against the default, by ``bench/recipe_cost.py``.

    OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 python bench/recipe_sweep.py \
        --data data/shapes-128 --padding 69 --iterations 2500 --lr 2e-3 --warmup 100 \
        --eval-every 250 --out runs/sweep/p69-lr2e-3
"""
import argparse
import csv
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import minifcn.train  # noqa: E402,F401
T = sys.modules["minifcn.train"]   # the module (minifcn.train is also the function)
from minifcn.data import load_dataset  # noqa: E402
from minifcn.models import get_model  # noqa: E402


def warmup_poly(warmup):
    """lr·min(1, i/warmup)·(1 − (i−1)/iterations)^0.9 (the poly policy with a linear warmup)."""
    poly = T.learning_rate

    def rate(cfg, iteration):
        base = poly(cfg, iteration)
        return base * min(1.0, iteration / warmup) if warmup else base
    return rate


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--padding", type=int, default=100, help="conv1_1's padding (paper: 100)")
    p.add_argument("--iterations", type=int, default=6000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-policy", default="poly")
    p.add_argument("--warmup", type=int, default=0, help="iterations of linear warmup")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", type=int, default=1)
    p.add_argument("--model", default="fcn8s")
    p.add_argument("--convention", default="caffe",
                   help="input preprocessing: caffe (0-255 minus mean) | torchvision (unit scale)")
    p.add_argument("--stop-at", type=float, default=None,
                   help="not used by training; recorded for the summary")
    a = p.parse_args()

    classes = load_dataset(a.data, "train").class_names
    model = get_model(a.model, n_class=len(classes), base_channels=8, fc_channels=128,
                      seed=a.seed, class_names=list(classes), conv1_1_padding=a.padding,
                      input_convention=a.convention)
    T.learning_rate = warmup_poly(a.warmup)
    t = time.time()
    res = T.train(model=model, data=a.data, out=a.out, iterations=a.iterations, lr=a.lr,
                  lr_policy=a.lr_policy, optimizer=a.optimizer, weight_decay=a.weight_decay,
                  batch_size=a.batch_size, eval_every=a.eval_every, seed=a.seed,
                  augment=bool(a.augment), progress=False)
    wall = time.time() - t
    with open(os.path.join(a.out, "eval.csv"), newline="") as f:
        evals = [(int(r["iteration"]), float(r["mean_iu"])) for r in csv.DictReader(f)]
    first = next((it for it, m in evals if m >= 0.85), None)
    summary = dict(vars(a), wall_s=round(wall, 1), evals=evals, first_085=first,
                   final=evals[-1][1] if evals else None)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    keys = ("padding", "convention", "lr", "weight_decay", "warmup", "iterations", "first_085",
            "final", "wall_s")
    print(json.dumps({k: summary[k] for k in keys}))
    print(" ".join(f"{it}:{m:.3f}" for it, m in evals))
    return res


if __name__ == "__main__":
    main()
