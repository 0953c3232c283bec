"""The main job's training step in this checkout against an older commit's, in one process.

Both packages are imported side by side (the old one extracted under another name, e.g.
``git archive ea7e9ca minifcn | tar -x -C /tmp/old && mv /tmp/old/minifcn /tmp/old/minifcn_old``)
and their steps (forward, mean loss, backward, Adam) on the same image are timed interleaved,
best of N. Separates what the kernels gained from what conv1_1's padding gains.

    OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 python bench/recipe_vs_old.py /tmp/old 12
"""
import importlib
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def make_step(pkg, padding):
    models, nn, optim = (importlib.import_module(f"{pkg}.{m}") for m in ("models", "nn", "optim"))
    model = models.get_model("fcn8s", n_class=5, base_channels=8, fc_channels=128, seed=0,
                             conv1_1_padding=padding)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((1, 3, 128, 128)) * 50).astype(np.float32)
    t = rng.integers(0, 5, (1, 128, 128)).astype(np.int64)
    crit = nn.SoftmaxCrossEntropy(255, "mean")
    opt = optim.Adam(model.named_parameters(), 1e-3, weight_decay=5e-4)

    def step():
        crit(model(x), t)
        model.zero_grad()
        model.backward(crit.backward(), need_input_grad=False)
        opt.step()
    return step


def main():
    sys.path.insert(0, sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    configs = [("minifcn_old", 100), ("minifcn_old", 69), ("minifcn", 100), ("minifcn", 69)]
    steps = {c: make_step(*c) for c in configs}
    best = dict.fromkeys(configs, float("inf"))
    for c in configs:
        steps[c]()
    for _ in range(rounds):
        for c in configs:
            t = time.perf_counter()
            steps[c]()
            best[c] = min(best[c], time.perf_counter() - t)
    ref = best["minifcn_old", 100]
    print(f"best of {rounds}, interleaved, 128×128, batch 1 (contended: read the ratios)")
    for c in configs:
        print(f"{c[0]:12s} pad {c[1]:3d}: {1e3 * best[c]:7.1f} ms  "
              f"{best[c] / ref:.3f}× old pad 100")


if __name__ == "__main__":
    main()
