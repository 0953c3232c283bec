"""FCN-8s on one 375×500 image on a GPU: minifcn on CuPy against PyTorch CUDA.

    python bench/bench_gpu.py [--repeat 5] [--size 375 500]

The same measurements as bench_fcn8s_cpu.py (forward in eval mode without caches, and a
training step), on the GPU, interleaved, best of N, after a warm-up run of each (CuPy compiles
its kernels and fills its memory pool on first use). GPU work is asynchronous, so every timing
synchronizes the device before starting and before stopping the clock. Also prints the peak of
each framework's memory pool during a step. Without CuPy and a GPU it says so and exits 0.
With ``MINIFCN_FAKE_CUPY=1`` it runs on the CuPy stand-in (NumPy on the CPU): a check that the
script works, not a measurement (use ``--size 64 64 --repeat 1``).
"""
import argparse
import sys
import time

from common import make_batch, randomize_score_layers, set_inplace_relu, try_import_torch
from minifcn import backend, nn
from minifcn.models import FCN8s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    args = ap.parse_args()
    if not backend.cuda_available():
        print("no GPU: CuPy is not installed or sees no CUDA device; nothing to measure")
        return 0
    cupy = backend.array_module("cuda")           # CuPy (or the stand-in under MINIFCN_FAKE_CUPY)
    x_host, t_host = make_batch(*args.size)
    x, target = cupy.asarray(x_host), cupy.asarray(t_host)
    model = FCN8s(n_class=21)
    randomize_score_layers(model)
    set_inplace_relu(model)
    model.to("cuda")
    crit = nn.SoftmaxCrossEntropy(ignore_index=255)

    def mf_forward():
        model.eval()
        with nn.no_grad():
            model(x)

    def mf_step():
        model.train()
        model.zero_grad()
        crit(model(x), target)
        model.backward(crit.backward(), need_input_grad=False)

    runs = {"minifcn forward": mf_forward, "minifcn step": mf_step}
    torch = try_import_torch()
    if torch is not None and torch.cuda.is_available():
        from torch_fcn8s import TorchFCN8s
        tmodel = TorchFCN8s().from_minifcn(model.to("cpu")).cuda()
        model.to("cuda")                              # (to() drops caches and gradients)
        xt, tt = torch.from_numpy(x_host).cuda(), torch.from_numpy(t_host).cuda()

        def t_forward():
            tmodel.eval()
            with torch.no_grad():
                tmodel(xt)

        def t_step():
            tmodel.train()
            tmodel.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(tmodel(xt), tt, ignore_index=255).backward()

        runs.update({"torch forward": t_forward, "torch step": t_step})
    else:
        torch = None
        print("PyTorch with CUDA is not available: minifcn only")

    def sync():
        cupy.cuda.Device().synchronize()
        if torch is not None:
            torch.cuda.synchronize()

    def timed(f):
        sync()
        t0 = time.perf_counter()
        f()
        sync()
        return time.perf_counter() - t0

    for f in runs.values():                           # warm-up
        timed(f)
    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    base = pool.used_bytes()
    peak = 0
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeat):
        for name, f in runs.items():
            if torch is not None and name == "torch step":
                torch.cuda.reset_peak_memory_stats()
            best[name] = min(best[name], timed(f))
            if name == "minifcn step":
                peak = max(peak, pool.total_bytes() - base)
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    print(f"FCN-8s, one {args.size[0]}×{args.size[1]} image on {name}, best of {args.repeat}")
    for name, t in best.items():
        print(f"  {name:16s} {1e3 * t:8.1f} ms")
    print(f"  minifcn step: CuPy pool above the weights {peak / 2**20:.0f} MiB")
    if torch is not None:
        print(f"  torch step: peak allocated {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB "
              f"(weights included)")
        for what in ("forward", "step"):
            print(f"  ratio {what:8s} minifcn / torch = "
                  f"{best[f'minifcn {what}'] / best[f'torch {what}']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
