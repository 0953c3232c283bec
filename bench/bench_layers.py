"""Per-layer breakdown of FCN-8s on one 375×500 image: forward and backward time of every layer,
minifcn against the same op in PyTorch CPU (when installed), interleaved, best of N.

    python bench/bench_layers.py [--repeat 3] [--size 375 500] [--only conv1_2 pool1 …]

One training-mode forward of ``minifcn.models.FCN8s`` records each layer's input; every layer is
then timed on its own: minifcn's ``layer(x)`` / ``layer.backward(dout)`` and torch's functional op
with autograd (``F.conv2d`` …, backward through ``out.backward(dout)``), with conv1_1's input
needing no gradient in both. GFLOP/s counts 2·MACs of the convolutions (backward: data and weight
gradients, 2× the forward; conv1_1: 1×).
"""
import argparse

from common import make_batch, randomize_score_layers, timed, try_import_torch
import numpy as np  # after common, which imports minifcn first (see there)
from minifcn import nn
from minifcn.models import FCN8s

torch = try_import_torch()


def record_inputs(model, x):
    """{layer name: (layer, inputs)} from one forward, in execution order."""
    seen = {}
    for name, layer in model.named_modules():
        if name and not layer._modules:                   # leaves only
            def wrapped(*args, _f=layer.forward, _n=name, _l=layer):
                seen[_n] = (_l, args)
                return _f(*args)
            object.__setattr__(layer, "forward", wrapped)
    model.train()
    model(x)
    for _, (layer, _) in seen.items():
        del layer.__dict__["forward"]                   # back to the class's forward
    return seen


def conv_gflop(layer, x, out):
    if isinstance(layer, nn.Conv2d):
        return 2 * out.size * x.shape[1] * layer.kernel_size[0] * layer.kernel_size[1] / 1e9
    if isinstance(layer, nn.ConvTranspose2d):
        return 2 * x.size * layer.out_channels * layer.kernel_size[0] * layer.kernel_size[1] / 1e9
    return 0.0


def torch_op(layer, args):
    """(forward closure, inputs needing grad) for the torch twin of a minifcn layer, or None."""
    F = torch.nn.functional
    x = torch.from_numpy(np.ascontiguousarray(args[0]))
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        w = torch.from_numpy(layer.weight.data).requires_grad_(True)
        b = None if layer.bias is None else torch.from_numpy(layer.bias.data).requires_grad_(True)
        x.requires_grad_(layer.need_input_grad if isinstance(layer, nn.Conv2d) else True)
        if isinstance(layer, nn.Conv2d):
            return lambda: F.conv2d(x, w, b, layer.stride, layer.padding, layer.dilation)
        return lambda: F.conv_transpose2d(x, w, b, layer.stride, layer.padding)
    x.requires_grad_(True)
    if isinstance(layer, nn.MaxPool2d):
        return lambda: F.max_pool2d(x, layer.kernel_size, layer.stride, layer.padding,
                                    ceil_mode=layer.ceil_mode)
    if isinstance(layer, nn.ReLU):
        return lambda: F.relu(x)
    if isinstance(layer, nn.Dropout):
        return lambda: F.dropout(x, layer.p, training=True)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    ap.add_argument("--only", nargs="*", help="layer names to time (default: all)")
    args = ap.parse_args()
    x, _ = make_batch(*args.size)
    model = FCN8s(n_class=21)
    randomize_score_layers(model)
    model.conv1_1.need_input_grad = False
    layers = record_inputs(model, x)
    rng = np.random.default_rng(0)
    print(f"{'layer':14s} {'GFLOP':>6s} {'fwd ms':>8s} {'bwd ms':>8s} {'GF/s f':>7s} {'GF/s b':>7s}"
          + ("   torch f  torch b  ratio f ratio b" if torch else ""))
    total = np.zeros(4)
    for name, (layer, inputs) in layers.items():
        if args.only and name not in args.only:
            continue
        out = layer(*inputs)
        dout = rng.standard_normal(out.shape).astype(out.dtype)
        layer.cache = None
        gf = conv_gflop(layer, inputs[0], out)
        fwd = None
        if torch is not None:
            fwd = torch_op(layer, inputs)
            torch_dout = torch.from_numpy(dout)
        best = [float("inf")] * 4

        def mf_backward():
            layer(*inputs)
            t = timed(layer.backward, dout)
            return t

        for _ in range(args.repeat):
            best[0] = min(best[0], timed(layer, *inputs))
            layer.cache = None
            best[1] = min(best[1], mf_backward())
            if fwd is not None:
                best[2] = min(best[2], timed(fwd))
                torch_out = fwd()
                best[3] = min(best[3], timed(torch_out.backward, torch_dout))
                del torch_out
        model.zero_grad()
        fb = 1 if (isinstance(layer, nn.Conv2d) and not layer.need_input_grad) else 2
        line = (f"{name:14s} {gf:6.1f} {1e3 * best[0]:8.1f} {1e3 * best[1]:8.1f} "
                + (f"{gf / best[0]:7.0f} {fb * gf / best[1]:7.0f}" if gf else f"{'':7s} {'':7s}"))
        if fwd is not None:
            line += (f" {1e3 * best[2]:8.1f} {1e3 * best[3]:8.1f} {best[0] / best[2]:7.2f} "
                     f"{best[1] / best[3]:7.2f}")
            total += best
        else:
            total[:2] += best[:2]
        print(line, flush=True)
    msg = f"{'total':14s} {'':6s} {1e3 * total[0]:8.1f} {1e3 * total[1]:8.1f}"
    if torch is not None:
        msg += (f" {'':7s} {'':7s} {1e3 * total[2]:8.1f} {1e3 * total[3]:8.1f} "
                f"{total[0] / total[2]:7.2f} {total[1] / total[3]:7.2f}")
    print(msg)


if __name__ == "__main__":
    main()
