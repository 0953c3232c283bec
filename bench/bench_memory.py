"""Peak memory of one FCN-8s training step on a 375×500 image: minifcn against PyTorch CPU.

    python bench/bench_memory.py [--size 375 500] [--steps 2]

Method. Each framework runs in its own fresh subprocess (so neither sees the other's
allocations or allocator caches). After building the model and the batch, the child reads its
resident set size (VmRSS in /proc/self/status) as the baseline, then resets the kernel's
high-water mark (writing "5" to /proc/self/clear_refs, Linux ≥ 4.0) so that transient peaks
of model construction do not count, runs --steps training steps (zero_grad, forward, loss,
backward), and reads VmHWM, the peak resident size since the reset. Reported: peak − baseline,
i.e. what the steps add on top of the weights — activations kept for backward, gradients,
workspaces. Where clear_refs cannot be written, ru_maxrss (the peak over the whole process)
minus the baseline is used instead, and the script says so. Resident memory counts pages
actually touched, which is what limits a machine.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

from common import make_batch, randomize_score_layers, set_inplace_relu, try_import_torch


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def child(which, H, W, steps):
    x, target = make_batch(H, W)
    if which == "minifcn":
        from minifcn import nn
        from minifcn.models import FCN8s
        model = FCN8s(n_class=21)
        randomize_score_layers(model)
        set_inplace_relu(model)
        crit = nn.SoftmaxCrossEntropy(ignore_index=255)

        def step():
            model.zero_grad()
            loss = crit(model(x), target)
            model.backward(crit.backward(), need_input_grad=False)
            return loss
    else:
        torch = try_import_torch()
        from torch_fcn8s import TorchFCN8s
        torch.set_num_threads(os.cpu_count())
        model = TorchFCN8s()
        xt, tt = torch.from_numpy(x), torch.from_numpy(target)

        def step():
            model.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xt), tt, ignore_index=255)
            loss.backward()
            return loss
    baseline = status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        method = "VmHWM after clear_refs"
    except OSError:
        method = "ru_maxrss (whole process)"
    for _ in range(steps):
        step()
    peak = (status_kib("VmHWM") if method.startswith("VmHWM")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps(dict(baseline_mib=baseline / 1024, peak_mib=peak / 1024,
                          step_mib=(peak - baseline) / 1024, method=method)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--child", choices=("minifcn", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, *args.size, args.steps)
    results = {}
    for which in ("minifcn", "torch"):
        if which == "torch" and try_import_torch() is None:
            print("torch is not installed: minifcn only")
            continue
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", which,
                              "--size", *map(str, args.size), "--steps", str(args.steps)],
                             check=True, capture_output=True, text=True).stdout
        results[which] = r = json.loads(out.strip().splitlines()[-1])
        print(f"{which:8s} weights+batch {r['baseline_mib']:7.0f} MiB, peak {r['peak_mib']:7.0f} "
              f"MiB, added by {args.steps} training step(s) {r['step_mib']:7.0f} MiB "
              f"({r['method']})")
    if len(results) == 2:
        print(f"ratio minifcn / torch (added by the steps) = "
              f"{results['minifcn']['step_mib'] / results['torch']['step_mib']:.2f}; "
              f"peak {results['minifcn']['peak_mib'] / results['torch']['peak_mib']:.2f}")


if __name__ == "__main__":
    main()
