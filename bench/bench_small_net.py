"""The main job's network, training steps back to back: minifcn against PyTorch CPU, one process.

    python bench/bench_small_net.py [--steps 10] [--rounds 5] [--sizes 128 …] [--threads 2]
                                    [--no-layers] [--by kind|layer] [--no-update]
                                    [--geometry main paper]

The network is the one ``python -m minifcn train`` trains by default: FCN-8s with base_channels 8,
fc_channels 128 and 5 classes, in the main job's geometry (``--geometry main``: fc6 padded as
minifcn.config's default says, conv1_1 by the smallest padding that allows, 0 at 128×128) and
in the paper's (``--geometry paper``: conv1_1 padded by 100, fc6 by 0); by default both. A step
is what the training loop does per image: forward, mean softmax cross-entropy (ignore 255),
backward (the image needs no gradient) and Adam's update (weight decay 5e-4, none on biases;
``--no-update`` leaves it out). The PyTorch twin (bench/torch_fcn8s.py, built in the same
geometry) gets the minifcn model's weights, checked to agree, and freezes its three bilinear
deconvolutions exactly as minifcn does, so both skip the same work.

Timed as training runs: rounds of ``--steps`` consecutive steps of one library, then of the
other, ``--rounds`` times (after a warm-up round); best and median seconds per step. One step per
round would start each library cold (its threads asleep, or the other's still spinning).
The per-layer table comes from inside such back-to-back steps: minifcn's layers timed by a
wrapper around their forward and backward (common.LayerTimer), PyTorch's ops by torch.profiler,
each attributed to the twin's layer of the same name (forward ops by the layer's range they ran
in, backward ops by the forward op they differentiate: common.torch_layers); summed by layer
kind, or with ``--by layer`` shown by layer. Run with one thread everywhere as
``OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 python bench/bench_small_net.py --threads 1``.
"""
import argparse
import importlib
import os
import time

from common import (LayerTimer, back_to_back, cpu_model, host_line, make_batch, print_kinds,
                    randomize_score_layers, report_ratio, torch_kinds, torch_layer_ranges,
                    torch_layers, try_import_torch)
import numpy as np  # noqa: E402 (after common, which imports minifcn first: see there)

from minifcn import nn
from minifcn.models import FCN8s
from minifcn.optim import Adam

try:
    from minifcn.functional.cpu import shifted
except ImportError:                 # an older minifcn, for before/after comparisons
    shifted = None

torch = try_import_torch()
if torch is not None:
    from torch_fcn8s import TorchFCN8s

N_CLASS, BASE_CHANNELS, FC_CHANNELS = 5, 8, 128      # the main job's network (minifcn.train)
CLOCK = time.perf_counter


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


def steppers(model, tmodel, x, target, update=True):
    """{name: one training step} for minifcn and, if there, its PyTorch twin; and the objects
    the step runs (for the layer timer)."""
    crit = nn.SoftmaxCrossEntropy(ignore_index=255, reduction="mean", check_target=False)
    opt = Adam(model.named_parameters(), lr=1e-6, weight_decay=5e-4)
    model.conv1_1.need_input_grad = False

    def mine():
        crit(model(x), target)
        model.zero_grad()
        model.backward(crit.backward(), need_input_grad=False)
        if update:
            opt.step()
    runs, objects = {"minifcn": mine}, (model, crit) + ((opt,) if update else ())
    if tmodel is not None:
        tx, tt = torch.from_numpy(x), torch.from_numpy(target)
        params = [p for p in tmodel.parameters() if p.requires_grad]
        topt = torch.optim.Adam([{"params": [p for p in params if p.ndim > 1]},
                                 {"params": [p for p in params if p.ndim == 1],
                                  "weight_decay": 0.0}], lr=1e-6, weight_decay=5e-4)

        def theirs():
            tmodel.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(tmodel(tx), tt, ignore_index=255).backward()
            if update:
                topt.step()
        runs["torch"] = theirs
    model.train()
    if tmodel is not None:
        tmodel.train()
    return runs, objects


def layer_times(runs, objects, steps, by="kind", tmodel=None):
    """Per layer kind (``by="layer"``: per layer), seconds summed over ``steps`` back-to-back
    steps of each library; ``tmodel`` is the PyTorch twin that ``runs["torch"]`` steps."""
    with LayerTimer(*objects, by=by) as lt:
        t0 = CLOCK()
        for _ in range(steps):
            runs["minifcn"]()
        total = CLOCK() - t0
    mine = dict(lt.seconds)
    mine[("outside layers", "")] = total - sum(lt.seconds.values())
    theirs = {}
    if "torch" in runs:
        with torch_layer_ranges(tmodel), torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                runs["torch"]()
        theirs = torch_layers(prof)
        if by == "kind":
            theirs = torch_kinds(theirs, tmodel)
    return mine, theirs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="consecutive steps per round (≥ 10)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per library, interleaved")
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="square image sizes (default: 128 and the main job's)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--geometry", nargs="+", choices=("main", "paper"), default=["main", "paper"],
                    help="the main job's paddings (fc6 padded, conv1_1 as little as possible) "
                         "and/or the paper's (conv1_1 100, fc6 0)")
    ap.add_argument("--layers", action=argparse.BooleanOptionalAction, default=True,
                    help="per-layer-kind breakdown after each size's step timings")
    ap.add_argument("--by", choices=("kind", "layer"), default="kind",
                    help="the breakdown by layer kind (Conv2d bwd, …) or by layer (conv1_2 bwd, "
                         "…; PyTorch's ops matched to the twin's layers of the same names)")
    ap.add_argument("--update", action=argparse.BooleanOptionalAction, default=True,
                    help="the step includes Adam's update, as training's does")
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
    print(f"FCN-8s base {BASE_CHANNELS}, fc {FC_CHANNELS}, {N_CLASS} classes; training steps "
          f"(forward, mean loss, backward{', Adam' if args.update else ''}), {args.steps} back "
          f"to back per round, {args.rounds} rounds interleaved, {args.clock} time; "
          f"{cpu_model()}; numpy {np.__version__}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}, MINIFCN_NUM_THREADS="
          f"{os.environ.get('MINIFCN_NUM_THREADS', '(default)')}; shifted.py "
          f"{'on' if args.shifted and shifted is not None else 'off'}"
          + (f"; torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ""))
    print(host_line())
    for size, geo in [(size, geo) for size in sizes for geo in args.geometry]:
        pads = geometry(geo, size)
        print(f"{size}×{size}, {geo} geometry ({', '.join(f'{k} {v}' for k, v in pads.items())}):")
        model, tmodel, x, target = build(size, size, pads)
        runs, objects = steppers(model, tmodel, x, target, args.update)
        report_ratio(back_to_back(runs, args.steps, args.rounds, CLOCK))
        if args.layers:
            print_kinds(*layer_times(runs, objects, args.steps, args.by, tmodel), args.steps,
                        "layer kind" if args.by == "kind" else "layer")


if __name__ == "__main__":
    main()
