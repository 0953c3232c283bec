"""FCN-8s on one 375×500 image: minifcn against PyTorch CPU, in the same process.

    python bench/bench_fcn8s_cpu.py [--repeat 3] [--size 375 500] [--threads 2]

Times (best of --repeat) a forward pass in eval mode without caches (``no_grad``) and a training
step (forward, loss, backward with ``need_input_grad=False``: the image needs no gradient, as in
PyTorch). When torch is installed, the same network (bench/torch_fcn8s.py, weights copied from
the minifcn model and checked to agree) runs interleaved with minifcn, so that both see the same
machine load, and the ratios minifcn / PyTorch are printed. Run it on a quiet machine; on a
shared one the ratios are what to look at.
"""
import argparse
import os

from common import (make_batch, minifcn_step, randomize_score_layers, set_inplace_relu, timed,
                    torch_step, try_import_torch)
import numpy as np  # after common, which imports minifcn first (see there)
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
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--inplace-relu", action=argparse.BooleanOptionalAction, default=True,
                    help="ReLU(inplace=True) after every conv, as the PyTorch model does")
    args = ap.parse_args()
    H, W = args.size
    x, target = make_batch(H, W)

    model = FCN8s(n_class=21, base_channels=64, fc_channels=4096)
    randomize_score_layers(model)
    set_inplace_relu(model, args.inplace_relu)
    crit = nn.SoftmaxCrossEntropy(ignore_index=255, reduction="mean")
    runs = {"minifcn forward": (minifcn_forward, model, x),
            "minifcn step": (minifcn_step, model, crit, x, target)}
    if torch is not None:
        torch.set_num_threads(args.threads)
        tmodel = TorchFCN8s().from_minifcn(model)
        xt, tt = torch.from_numpy(x), torch.from_numpy(target)
        model.eval(), tmodel.eval()
        a, b = minifcn_forward(model, x), torch_forward(tmodel, xt).numpy()
        print(f"check: max |minifcn − torch| / max |torch| = "
              f"{np.abs(a - b).max() / np.abs(b).max():.1e} (float32 rounding: ~1e-6)")
        runs.update({"torch forward": (torch_forward, tmodel, xt),
                     "torch step": (torch_step, tmodel, xt, tt)})
    print(f"FCN-8s, one {H}×{W} image, {FORWARD_GFLOP_NOTE}; best of {args.repeat}, "
          f"interleaved; numpy {np.__version__}"
          + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ""))
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeat):
        for name, (f, m, *rest) in runs.items():
            m.train("step" in name)
            best[name] = min(best[name], timed(f, m, *rest))
    for name, t in best.items():
        print(f"  {name:16s} {t:7.3f} s")
    if torch is not None:
        for what in ("forward", "step"):
            ratio = best[f"minifcn {what}"] / best[f"torch {what}"]
            print(f"  ratio {what:8s} minifcn / torch = {ratio:.2f}")


if __name__ == "__main__":
    main()
