"""FCN-8s at VGG16's widths on one 375×500 image: minifcn against PyTorch CPU, one process.

    python bench/bench_fcn8s_cpu.py [--steps 10] [--rounds 2] [--size 375 500] [--threads 2]
                                    [--what forward step] [--no-torch]

Times a forward pass in eval mode without caches (``no_grad``) and a training step (forward,
loss, backward with ``need_input_grad=False``: the image needs no gradient, as in PyTorch), each
as training runs them: rounds of ``--steps`` consecutive calls of one library, then of the
other, ``--rounds`` rounds after a warm-up one; best and median seconds per call. When torch is
installed, the same network (bench/torch_fcn8s.py, weights copied from the minifcn model and
checked to agree) takes turns with minifcn, so that both see the same machine load, and the
ratios minifcn / PyTorch are printed with ``lscpu``'s model name.
"""
import argparse
import os

from common import (back_to_back, cpu_model, host_line, make_batch, minifcn_step,
                    randomize_score_layers, report_ratio, set_inplace_relu, torch_step,
                    try_import_torch)
import numpy as np  # after common, which imports minifcn first (see there)
import minifcn
from minifcn import nn
from minifcn.models import FCN8s

torch = try_import_torch()
if torch is not None:
    from torch_fcn8s import TorchFCN8s

FORWARD_GFLOP_NOTE = "≈ 294 GFLOP forward at 375×500 (backward ≈ 2×)"


def minifcn_forward(model, x):
    with nn.no_grad():
        return model(x)


def torch_forward(model, x):
    with torch.no_grad():
        return model(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="consecutive calls per round (≥ 10)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds per library, interleaved")
    ap.add_argument("--size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--inplace-relu", action=argparse.BooleanOptionalAction, default=True,
                    help="ReLU(inplace=True) after every conv, as the PyTorch model does")
    ap.add_argument("--what", nargs="+", choices=("forward", "step"), default=("forward", "step"),
                    help="time the forward (eval, no_grad), the training step, or both")
    ap.add_argument("--torch", action=argparse.BooleanOptionalAction, default=True,
                    help="PyTorch takes turns (--no-torch: minifcn alone, e.g. to compare two "
                         "trees, each running its own copy of this script)")
    args = ap.parse_args()
    H, W = args.size
    x, target = make_batch(H, W)

    model = FCN8s(n_class=21, base_channels=64, fc_channels=4096)
    randomize_score_layers(model)
    set_inplace_relu(model, args.inplace_relu)
    crit = nn.SoftmaxCrossEntropy(ignore_index=255, reduction="mean")
    crit.check_target = False
    fwd = {"minifcn": lambda: minifcn_forward(model, x)}
    step = {"minifcn": lambda: minifcn_step(model, crit, x, target)}
    if torch is not None and args.torch:
        torch.set_num_threads(args.threads)
        tmodel = TorchFCN8s().from_minifcn(model)
        xt, tt = torch.from_numpy(x), torch.from_numpy(target)
        model.eval(), tmodel.eval()
        a, b = minifcn_forward(model, x), torch_forward(tmodel, xt).numpy()
        print(f"check: max |minifcn − torch| / max |torch| = "
              f"{np.abs(a - b).max() / np.abs(b).max():.1e} (float32 rounding: ~1e-6)")
        fwd["torch"] = lambda: torch_forward(tmodel, xt)
        step["torch"] = lambda: torch_step(tmodel, xt, tt)
    print(f"FCN-8s, one {H}×{W} image, {FORWARD_GFLOP_NOTE}; {args.steps} calls back to back "
          f"per round, {args.rounds} rounds interleaved; {cpu_model()}; numpy {np.__version__}"
          + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
             if "torch" in fwd else "") + f"; minifcn from {os.path.dirname(minifcn.__file__)}")
    print(host_line())
    if "forward" in args.what:
        report_ratio(back_to_back(fwd, args.steps, args.rounds), "forward")
    model.train()
    if "torch" in step:
        tmodel.train()
    if "step" in args.what:
        report_ratio(back_to_back(step, args.steps, args.rounds), "step")


if __name__ == "__main__":
    main()
