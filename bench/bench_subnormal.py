"""What subnormal weights cost a training step, and what flushing them to zero gives back.

Loads a saved model (a run's checkpoint.npz or any minifcn weights file), counts per parameter
the share of its weights that are subnormal (0 < |w| < 1.2e-38 in float32: where weight decay
leaves the weights of a unit that never fires), then times one training step (forward, mean
loss, backward) on a training image of the main job's data as it is, and again after setting
those weights to 0, as minifcn.optim.flush_subnormals does after every update. The two are
timed interleaved, best of N, in one process.

    OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 python bench/bench_subnormal.py RUN/checkpoint.npz
"""
import argparse
import copy
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minifcn  # noqa: E402
from minifcn import data, nn  # noqa: E402
from minifcn.data import preprocess  # noqa: E402


def step_time(model, x, t, crit):
    start = time.perf_counter()
    model.zero_grad()
    crit(model(x), t)
    model.backward(crit.backward(), need_input_grad=False)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", help="a minifcn weights or checkpoint file")
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    model = minifcn.load(a.weights).train()
    tiny = np.finfo(np.float32).tiny
    flushed = copy.deepcopy(model)
    print(f"{a.weights}: parameters with subnormal weights")
    for (name, w), (_, f) in zip(model.named_parameters(), flushed.named_parameters()):
        sub = (w.data != 0) & (np.abs(w.data) < tiny)
        if sub.any():
            print(f"  {name:18s} {100 * sub.mean():5.1f}% of {w.data.size}")
        f.data = np.where(sub, 0, w.data).astype(w.data.dtype)
    image, label = data.load_dataset(data.default_train_data(), "train")[3]
    x = preprocess(image, model.input_convention)[None]
    t = label[None].astype(np.int64)
    crit = nn.SoftmaxCrossEntropy()
    best = {"as saved": float("inf"), "subnormals set to 0": float("inf")}
    for _ in range(a.repeat):
        for key, m in (("as saved", model), ("subnormals set to 0", flushed)):
            best[key] = min(best[key], step_time(m, x, t, crit))
    for key, s in best.items():
        print(f"step, {key:20s} {1e3 * s:7.1f} ms")
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "MINIFCN_NUM_THREADS")}
    print(f"ratio {best['as saved'] / best['subnormals set to 0']:.2f}; threads: {env}")


if __name__ == "__main__":
    main()
