"""Per-iteration cost of main-job recipes, relative to the paper's padding, in one process.

Each configuration (conv1_1 padding, image size, batch size, and optionally fc6's padding) gets
the main job's network (FCN-8s, base_channels 8, fc_channels 128, 5 classes) and one full
training iteration: forward, mean softmax loss, backward, Adam step. The configurations are
timed interleaved (round r times every configuration once), and each keeps its best of the
rounds, so load from other processes hits them alike; the printed figure is best time / best
time of the reference (padding 100, 128×128, batch 1). A forward alone (what evaluation costs
per image) is timed the same way.

    OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 python bench/recipe_cost.py --rounds 15
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from common import cpu_model  # noqa: E402
from minifcn.models import get_model  # noqa: E402
from minifcn.nn import SoftmaxCrossEntropy  # noqa: E402
from minifcn.optim import Adam  # noqa: E402

REFERENCE = (100, 128, 1)       # (conv1_1 padding, image size, batch): the paper's padding


def make_step(padding, size, batch, fc6_padding=0, seed=0):
    """A closure running one training iteration (and one running a forward) of this config."""
    model = get_model("fcn8s", n_class=5, base_channels=8, fc_channels=128, seed=seed,
                      conv1_1_padding=padding, fc6_padding=fc6_padding)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32) * 50
    t = rng.integers(0, 5, (batch, size, size)).astype(np.int64)
    crit = SoftmaxCrossEntropy(255, "mean")
    opt = Adam(model.named_parameters(), 1e-3, weight_decay=5e-4)

    def step():
        model.train()
        crit(model(x), t)
        model.zero_grad()
        model.backward(crit.backward(), need_input_grad=False)
        opt.step()

    def forward():
        model.eval()
        model(x[:1])
    return step, forward


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--configs", default="100:128:1,69:128:1,80:128:1,69:128:2,100:96:1,69:96:1",
                   help="comma-separated padding:size:batch[:fc6 padding]")
    a = p.parse_args()
    configs = [tuple(int(v) for v in c.split(":")) for c in a.configs.split(",")]
    if REFERENCE not in configs:
        configs.insert(0, REFERENCE)
    fns = {c: make_step(*c) for c in configs}
    best = {(c, k): float("inf") for c in configs for k in (0, 1)}
    for c in configs:                                   # warm up (allocations, caches)
        fns[c][0]()
        fns[c][1]()
    for _ in range(a.rounds):
        for c in configs:
            for k in (0, 1):
                t = time.perf_counter()
                fns[c][k]()
                best[c, k] = min(best[c, k], time.perf_counter() - t)
    ref_step, ref_fwd = best[REFERENCE, 0], best[REFERENCE, 1]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}, MINIFCN_NUM_THREADS="
          f"{os.environ.get('MINIFCN_NUM_THREADS')}; best of {a.rounds}, interleaved "
          f"(contended: other processes share the cores, so read the ratios)")
    print(f"{'padding':>7} {'fc6':>3} {'size':>4} {'batch':>5} {'conv1 side':>10} {'step ms':>8} "
          f"{'step/ref':>8} {'per image/ref':>13} {'fwd ms':>7} {'fwd/ref':>7}")
    for c in configs:
        pad, size, batch, fc6 = (c + (0,))[:4]
        s, f = best[c, 0], best[c, 1]
        print(f"{pad:7d} {fc6:3d} {size:4d} {batch:5d} {size + 2 * pad - 2:10d} {1e3 * s:8.1f} "
              f"{s / ref_step:8.3f} {s / batch / ref_step:13.3f} {1e3 * f:7.1f} "
              f"{f / ref_fwd:7.3f}")


if __name__ == "__main__":
    main()
