"""The main job's network, one training step: minifcn against PyTorch CPU, in the same process.

    python bench/bench_small_net.py [--repeat 7] [--sizes 128 …] [--threads 2] [--no-layers]
                                    [--clock cpu] [--no-shifted] [--geometry main paper]

The network is the one ``python -m minifcn train`` trains by default: FCN-8s with base_channels 8,
fc_channels 128 and 5 classes, in the main job's geometry (``--geometry main``: fc6 padded as
minifcn.config's default says, conv1_1 by the smallest padding that allows, 0 at 128×128) and
in the paper's (``--geometry paper``: conv1_1 padded by 100, fc6 by 0); by default both. A step
is what the training loop does per image: forward, mean softmax cross-entropy (ignore 255),
backward (the image needs no gradient). The PyTorch twin (bench/torch_fcn8s.py, built in the
same geometry) gets the minifcn model's weights, checked to agree, and freezes its three
bilinear deconvolutions (``requires_grad=False``) exactly as minifcn does, so both skip the same
work. Both steps run interleaved, best of --repeat, at 128×128 and at the main job's image size.

The per-layer breakdown times every layer on its own, forward and backward, on the inputs it
sees in the step (minifcn's ``layer(x)``/``layer.backward(dout)`` against the same torch op
with autograd), as bench/bench_layers.py does for the VGG16-width model. Timings taken while
other work shares the cores are contended: compare the ratios, not the times. On a busy machine,
``--clock cpu`` times process CPU time instead of wall time; run it with one thread everywhere
(``OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 … --threads 1``), where CPU time is the work
done. ``--no-shifted`` turns off minifcn/functional/shifted.py (few-channel convolutions
without im2col), to compare the two paths on the machine at hand.
"""
import argparse
import importlib
import os
import time

import numpy as np  # after common, which imports minifcn first (see there)
from common import (cpu_model, make_batch, minifcn_step, randomize_score_layers, torch_step,
                    try_import_torch)

from minifcn import nn
from minifcn.models import FCN8s

try:
    from minifcn.functional.cpu import shifted
except ImportError:                 # an older minifcn, for before/after comparisons
    shifted = None

torch = try_import_torch()
if torch is not None:
    from torch_fcn8s import TorchFCN8s

N_CLASS, BASE_CHANNELS, FC_CHANNELS = 5, 8, 128      # the main job's network (minifcn.train)
CLOCK = time.perf_counter


def timed(f, *args):
    t0 = CLOCK()
    f(*args)
    return CLOCK() - t0


def main_job_size():
    """The image size the main job trains on (the shapes dataset's), where minifcn says it."""
    for module in ("minifcn.data.locations", "minifcn.train"):    # newer, older trees
        try:
            shapes = getattr(importlib.import_module(module), "MAIN_JOB_SHAPES")
            return int(shapes["size"])
        except (ImportError, AttributeError, KeyError, TypeError, ValueError):
            continue
    return 128


def geometry(name, size):
    """FCN8s's padding keywords for the main job's geometry or the paper's at this image size."""
    if name == "paper":
        return {"conv1_1_padding": 100, "fc6_padding": 0}
    from minifcn.config import DEFAULTS
    fc6 = DEFAULTS["fc6_padding"]
    return {"conv1_1_padding": FCN8s.smallest_padding(size, fc6), "fc6_padding": fc6}


def build(H, W, pads):
    model = FCN8s(n_class=N_CLASS, base_channels=BASE_CHANNELS, fc_channels=FC_CHANNELS, **pads)
    randomize_score_layers(model)
    x, target = make_batch(H, W, n_class=N_CLASS)
    if torch is None:
        return model, None, x, target
    tmodel = TorchFCN8s.like(model).from_minifcn(model)
    for name in ("upscore2", "upscore_pool4", "upscore8"):    # frozen in both
        assert not getattr(model, name).weight.requires_grad
        assert not getattr(tmodel, name).weight.requires_grad
    model.eval(), tmodel.eval()
    with nn.no_grad(), torch.no_grad():
        a, b = model(x), tmodel(torch.from_numpy(x)).numpy()
    print(f"  check: max |minifcn − torch| / max |torch| = "
          f"{np.abs(a - b).max() / np.abs(b).max():.1e} (float32 rounding: ~1e-6)")
    return model, tmodel, x, target


def time_steps(model, tmodel, x, target, repeat):
    crit = nn.SoftmaxCrossEntropy(ignore_index=255, reduction="mean")
    runs = {"minifcn": (minifcn_step, model, crit, x, target)}
    if tmodel is not None:
        runs["torch"] = (torch_step, tmodel, torch.from_numpy(x), torch.from_numpy(target))
    times = {name: [] for name in runs}
    for _ in range(repeat + 1):                      # the first round warms both up
        for name, (f, m, *rest) in runs.items():
            m.train()
            times[name].append(timed(f, m, *rest))
    return {name: sorted(t[1:]) for name, t in times.items()}


def layer_breakdown(model, x, repeat):
    """Per layer, best of ``repeat``: (minifcn fwd, bwd, torch fwd, bwd) in seconds."""
    from bench_layers import record_inputs, torch_op
    model.conv1_1.need_input_grad = False
    layers = record_inputs(model, x)
    rng = np.random.default_rng(0)
    rows = {}
    for name, (layer, inputs) in layers.items():
        out = layer(*inputs)
        dout = rng.standard_normal(out.shape).astype(out.dtype)
        fwd = torch_op(layer, inputs) if torch is not None else None
        if fwd is not None and isinstance(layer, nn.ConvTranspose2d):
            fwd = _frozen_deconv_op(layer, inputs)
        best = [float("inf")] * 4
        for _ in range(repeat):
            best[0] = min(best[0], timed(layer, *inputs))
            best[1] = min(best[1], timed(layer.backward, dout))
            if fwd is not None:
                best[2] = min(best[2], timed(fwd))
                tout = fwd()
                best[3] = min(best[3], timed(tout.backward, torch.from_numpy(dout)))
        rows[name] = best
    model.zero_grad()
    return rows


def _frozen_deconv_op(layer, inputs):
    """torch's transposed convolution with the weight frozen, as in the step."""
    x = torch.from_numpy(np.ascontiguousarray(inputs[0])).requires_grad_(True)
    w = torch.from_numpy(layer.weight.data)
    return lambda: torch.nn.functional.conv_transpose2d(x, w, None, layer.stride, layer.padding)


def print_breakdown(rows):
    print(f"  {'layer':14s} {'fwd ms':>7s} {'bwd ms':>7s}"
          + ("  torch f  torch b  ratio f+b" if torch else ""))
    total = np.zeros(4)
    for name, b in sorted(rows.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        total += np.where(np.isfinite(b), b, 0)
        line = f"  {name:14s} {1e3 * b[0]:7.2f} {1e3 * b[1]:7.2f}"
        if torch is not None and np.isfinite(b[2]):
            line += f" {1e3 * b[2]:8.2f} {1e3 * b[3]:8.2f} {(b[0] + b[1]) / (b[2] + b[3]):9.2f}"
        print(line)
    line = f"  {'sum':14s} {1e3 * total[0]:7.2f} {1e3 * total[1]:7.2f}"
    if torch is not None:
        line += (f" {1e3 * total[2]:8.2f} {1e3 * total[3]:8.2f} "
                 f"{(total[0] + total[1]) / (total[2] + total[3]):9.2f}")
    print(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="square image sizes (default: 128 and the main job's)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--geometry", nargs="+", choices=("main", "paper"), default=["main", "paper"],
                    help="the main job's paddings (fc6 padded, conv1_1 as little as possible) "
                         "and/or the paper's (conv1_1 100, fc6 0)")
    ap.add_argument("--layers", action=argparse.BooleanOptionalAction, default=True,
                    help="per-layer breakdown after each size's step timings")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this process's CPU time (one thread: the work done)")
    ap.add_argument("--shifted", action=argparse.BooleanOptionalAction, default=True,
                    help="few-channel convolutions without im2col (functional/shifted.py)")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if not args.shifted and shifted is not None:
        shifted.MAX_CHANNELS = 0
    sizes = args.sizes or sorted({128, main_job_size()})
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"FCN-8s base {BASE_CHANNELS}, fc {FC_CHANNELS}, {N_CLASS} classes; one step (forward, "
          f"mean loss, backward); best of {args.repeat}, interleaved, {args.clock} time; "
          f"{cpu_model()}; numpy {np.__version__}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}, MINIFCN_NUM_THREADS="
          f"{os.environ.get('MINIFCN_NUM_THREADS', '(default)')}; shifted.py "
          f"{'on' if args.shifted and shifted is not None else 'off'}"
          + (f"; torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ""))
    for size, geo in [(size, geo) for size in sizes for geo in args.geometry]:
        pads = geometry(geo, size)
        print(f"{size}×{size}, {geo} geometry ({', '.join(f'{k} {v}' for k, v in pads.items())}):")
        model, tmodel, x, target = build(size, size, pads)
        times = time_steps(model, tmodel, x, target, args.repeat)
        med = {name: t[len(t) // 2] for name, t in times.items()}
        for name, t in times.items():
            print(f"  {name:8s} step  best {1e3 * t[0]:7.1f} ms   median {1e3 * med[name]:7.1f} ms")
        if tmodel is not None:
            print(f"  ratio step minifcn / torch = {times['minifcn'][0] / times['torch'][0]:.2f} "
                  f"(best), {med['minifcn'] / med['torch']:.2f} (median)")
        if args.layers:
            print_breakdown(layer_breakdown(model, x, args.repeat))


if __name__ == "__main__":
    main()
