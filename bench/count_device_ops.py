"""Device operations per training step and per evaluation forward, counted on the CuPy stand-in.

    python bench/count_device_ops.py [--size 128 512] [--top 12]

A GPU pays ~10–20 µs of host time for every operation it launches, whatever its size, so this
count (not the FLOPs) bounds a small network's step on a GPU. It needs no GPU: the stand-in
(minifcn.testing.fakecupy) runs the device path on NumPy and counts what CuPy would launch.
Prints, for the main job's network (FCN-8s base 8, fc 128, 5 classes, fc6 padded by 3,
conv1_1 by 0, class weights) and for the same geometry at VGG16's widths: the operations of one
training step with Adam and with SGD, of one evaluation forward, and the busiest source lines.
"""
import argparse
import os

os.environ.setdefault("MINIFCN_FAKE_CUPY", "1")
import common  # noqa: E402,F401  (minifcn first, as a user's script would)

import numpy as np  # noqa: E402

from minifcn import backend, nn  # noqa: E402
from minifcn.config import DEFAULTS  # noqa: E402
from minifcn.models import FCN8s  # noqa: E402
from minifcn.optim import get_optimizer  # noqa: E402
from minifcn.testing.opcount import batch_on, eval_forward_ops, training_step_ops  # noqa: E402

N_CLASS = 5


def count(widths, size, optimizer, top=0):
    model = FCN8s.main_job(N_CLASS, *widths).to("cuda")
    opt = get_optimizer(optimizer, model.named_parameters(), **DEFAULTS)
    crit = nn.SoftmaxCrossEntropy(check_target=False,
                                  weight=np.linspace(0.5, 2, N_CLASS).astype(np.float32))
    x, t = batch_on("cuda", N_CLASS, size)
    training_step_ops(model, opt, x, t, crit)               # first step: buffers, device copies
    step, _ = training_step_ops(model, opt, x, t, crit)
    ev, _ = eval_forward_ops(model, x)
    if top:
        print(f"  busiest lines of the {optimizer} step:")
        for site, n in step.by_site().most_common(top):
            print(f"    {n:4d}  {site}")
        print("  by file:", dict(step.by_file().most_common()))
    return step.n, ev.n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--top", type=int, default=12, help="busiest source lines to list")
    args = ap.parse_args(argv)
    assert backend.using_fake_cupy(), "run without a GPU's CuPy: MINIFCN_FAKE_CUPY=1"
    print(f"{'network':28s} {'size':>5s} {'step, Adam':>11s} {'step, SGD':>10s} "
          f"{'eval forward':>13s}")
    for label, widths in (("main job (base 8, fc 128)", (8, 128)),
                          ("VGG16 widths (64, 4096)", (64, 4096))):
        for size in args.size:
            if widths[0] == 64 and size > 256:
                continue              # the count does not depend on the size; spare the CPU
            adam, ev = count(widths, size, "adam")
            sgd, _ = count(widths, size, "sgd")
            print(f"{label:28s} {size:5d} {adam:11d} {sgd:10d} {ev:13d}")
    if args.top:
        count((8, 128), args.size[0], "adam", top=args.top)


if __name__ == "__main__":
    main()
