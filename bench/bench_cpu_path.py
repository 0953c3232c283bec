"""What each piece of the CPU's fast path (minifcn/functional/cpu/) buys, one at a time.

    python bench/bench_cpu_path.py [--steps 10] [--rounds 5] [--geometry main paper]
                                   [--widths 8 128]

For the main job's network (FCN-8s base 8, fc 128, 5 classes, 128×128; ``--widths 64 4096``
for VGG16's) in the main job's geometry and the paper's, training steps (forward, loss,
backward, Adam) are timed back to back — rounds of ``--steps`` consecutive steps, one variant
after the other, best and median of ``--rounds`` — with everything on, and with one piece off:

    whole fast path   off: the textbook kernels of conv.py and pool.py
    cpu pooling       max pooling through one window view instead of per-offset blocks
    relu zero block   ReLU's forward against the scalar 0 (the textbook's), not a zero block
    channel threads   MINIFCN_NUM_THREADS=1 (BLAS keeps its threads)
    shifted           few-channel convolutions through im2col
    implicit padding  a padded copy of each input before im2col
    tall weight grad  the weight-gradient GEMM in its direct orientation
    data grad as conv the data gradient through col2im
    shared windows    the weight gradient unfolds x, not reusing the data gradient's windows of dy
    workspace reuse   a fresh band buffer per call
    cache bands       im2col bands as large as CHUNK_BYTES allows, not cache-sized
    winograd          wide 3×3 convolutions through im2col, not F(2×2, 3×3) (VGG16 widths)
    pool threads      pooling split between threads only from the size im2col's copies are
    bias by BLAS      the bias gradient by NumPy's sum, not a product with ones
    fc6 one view      a small input under a large kernel (fc6) unfolded offset by offset
    relu after pool   each block's last ReLU before its pool, the paper's order (models/vgg.py
                      runs it after the pool, on a quarter of the pixels; not a CPU piece)
    runs              the trunk on full maps, not stored once per run of equal rows and
                      columns (nn/runs.py: where conv1_1 pads by 100, the paper's geometry)

The ratio printed is (time with the piece off) / (time with everything on): above 1 the piece
pays on this machine. minifcn only, no PyTorch. Prints ``lscpu``'s model name.
"""
import argparse
import contextlib
import os

from common import (back_to_back, best_and_median, cpu_model, host_line, make_batch,
                    minifcn_step, randomize_score_layers)
import numpy as np  # noqa: E402 (after common, which imports minifcn first: see there)

from minifcn import nn
from minifcn.functional import activation as textbook_activation
from minifcn.functional import cpu
from minifcn.functional import pool as textbook_pool
from minifcn.functional.cpu import conv as cpu_conv
from minifcn.functional.cpu import bands, shifted, workspace
from minifcn.functional.cpu import pool as cpu_pool
from minifcn.models import FCN8s, vgg
from minifcn.nn import runs
from minifcn.optim import Adam


@contextlib.contextmanager
def setting(obj, attr, value):
    old = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, old)


@contextlib.contextmanager
def env(name, value):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


@contextlib.contextmanager
def textbook_pooling():
    with setting(cpu, "FAST", {**cpu.FAST,
                               "max_pool2d_forward": textbook_pool.max_pool2d_forward,
                               "max_pool2d_backward": textbook_pool.max_pool2d_backward}):
        yield


def _paper_block_forward(self, b, h):
    pairs, pool = self._blocks[b]
    for conv, relu in pairs:
        h = relu(conv(h))
    return pool(h)


def _paper_block_backward(self, b, dh, need_input_grad=True):
    pairs, pool = self._blocks[b]
    if b == 1:
        self.conv1_1.need_input_grad = need_input_grad
    dh = pool.backward(dh)
    for conv, relu in reversed(pairs):
        dh = conv.backward(relu.backward(dh))
    return dh


@contextlib.contextmanager
def paper_block_order():
    """conv → ReLU → pool in every block, as the paper draws it."""
    with setting(vgg.VGGBackbone, "block_forward", _paper_block_forward), \
            setting(vgg.VGGBackbone, "block_backward", _paper_block_backward):
        yield


PIECES = {
    "whole fast path": lambda: cpu.textbook_only(),
    "cpu pooling": textbook_pooling,
    "relu zero block": lambda: setting(cpu, "FAST", {
        **cpu.FAST, "relu_forward": textbook_activation.relu_forward}),
    "channel threads": lambda: env("MINIFCN_NUM_THREADS", "1"),
    "shifted": lambda: setting(shifted, "MAX_CHANNELS", 0),
    "implicit padding": lambda: setting(cpu_conv, "IMPLICIT_PADDING", False),
    "padding trim": lambda: setting(cpu_conv, "PADDING_TRIM", False),
    "tall weight grad": lambda: setting(cpu_conv, "TALL_WEIGHT_GRAD", False),
    "data grad as conv": lambda: setting(cpu_conv, "DATA_GRAD_AS_CONV", False),
    "shared windows": lambda: setting(cpu_conv, "SHARED_WINDOWS", False),
    "workspace reuse": lambda: setting(workspace, "REUSE", False),
    "cache bands": lambda: setting(workspace, "CACHE_BYTES", 2 ** 40),
    "winograd": lambda: setting(cpu_conv, "WINOGRAD", False),
    "pool threads": lambda: setting(cpu_pool, "WORK_PER_ELEMENT", 1),
    "bias by BLAS": lambda: setting(cpu_conv, "BIAS_BY_BLAS", False),
    "fc6 one view": lambda: setting(bands, "SMALL_INPUT", 0),
    "relu after pool": paper_block_order,
    "runs": lambda: setting(runs, "ENABLED", False),
}


def stepper(model, x, t):
    crit = nn.SoftmaxCrossEntropy(check_target=False)
    opt = Adam(model.named_parameters(), lr=1e-6, weight_decay=5e-4)

    def step():
        minifcn_step(model, crit, x, t)
        opt.step()
    return step


def with_piece_off(step, piece):
    def run():
        with PIECES[piece]():
            step()
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--widths", type=int, nargs=2, default=[8, 128])
    ap.add_argument("--geometry", nargs="+", choices=("main", "paper"), default=["main", "paper"])
    ap.add_argument("--pieces", nargs="+", choices=tuple(PIECES), default=list(PIECES))
    args = ap.parse_args()
    print(f"{cpu_model()}; numpy {np.__version__}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}, MINIFCN_NUM_THREADS="
          f"{os.environ.get('MINIFCN_NUM_THREADS', '(default)')}; FCN-8s widths "
          f"{args.widths}, {args.size}×{args.size}; training steps (forward, loss, backward, "
          f"Adam), {args.steps} back to back per round, {args.rounds} rounds")
    print(host_line())
    for geo in args.geometry:
        pads = {} if geo == "main" else {"conv1_1_padding": 100, "fc6_padding": 0}
        model = FCN8s.main_job(5, *args.widths, min_size=args.size, **pads)
        randomize_score_layers(model)
        x, t = make_batch(args.size, args.size, 5)
        step = stepper(model, x, t)
        runs = {"all on": step, **{p: with_piece_off(step, p) for p in args.pieces}}
        times = back_to_back(runs, args.steps, args.rounds)
        best_on, med_on = best_and_median(times["all on"])
        print(f"{geo} geometry: everything on, best {1e3 * best_on:.1f} ms, median "
              f"{1e3 * med_on:.1f} ms per step")
        for p in args.pieces:
            best, med = best_and_median(times[p])
            print(f"  {p + ' off':22s} best {1e3 * best:8.1f} ms  ×{best / best_on:5.2f}   "
                  f"median {1e3 * med:8.1f} ms  ×{med / med_on:5.2f}")


if __name__ == "__main__":
    main()
