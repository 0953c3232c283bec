"""Helpers shared by the benchmark scripts (no torch here: the scripts run without it)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# minifcn before NumPy, as a user's script would: importing it first sets OpenBLAS's thread
# timeout (minifcn/__init__.py), which OpenBLAS reads only when NumPy loads it.
import minifcn  # noqa: E402,F401
import numpy as np  # noqa: E402


def randomize_score_layers(model, seed=0, scale=1e-3):
    """FCN's score layers start at zero; give them small random weights so that every path of
    the network carries a signal in the benchmarks (the cost is the same either way)."""
    rng = np.random.default_rng(seed)
    for name in ("score_fr", "score_pool3", "score_pool4"):
        layer = getattr(model, name)
        layer.weight.data = (scale * rng.standard_normal(layer.weight.shape)).astype(np.float32)
        layer.bias.data = (scale * rng.standard_normal(layer.bias.shape)).astype(np.float32)


def set_inplace_relu(model, inplace=True):
    """Every ReLU of an FCN follows a convolution (which caches its input, not its output), so
    all of them can overwrite their input, as torchfcn's ``nn.ReLU(inplace=True)`` do."""
    from minifcn import nn
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = inplace
    return model


def make_batch(H, W, n_class=21, seed=0):
    """One image (1, 3, H, W) on the 0–255 scale and its labels, a strip of them ignored."""
    rng = np.random.default_rng(seed)
    x = (50 * rng.standard_normal((1, 3, H, W))).astype(np.float32)
    target = rng.integers(0, n_class, (1, H, W)).astype(np.int64)
    target[:, :10] = 255
    return x, target


def timed(f, *args):
    t0 = time.perf_counter()
    f(*args)
    return time.perf_counter() - t0


def minifcn_step(model, crit, x, t):
    """One training step's work in minifcn: zero_grad, forward, loss, backward (no input grad)."""
    model.zero_grad()
    loss = crit(model(x), t)
    model.backward(crit.backward(), need_input_grad=False)
    return loss


def torch_step(model, x, t):
    """The same step in PyTorch (mean cross-entropy, ignore 255)."""
    import torch
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), t, ignore_index=255)
    loss.backward()
    return loss


def cpu_model():
    """lscpu's model name: every figure is stated with the machine it was taken on (without
    lscpu, what Python knows)."""
    import platform
    import subprocess
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name:"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def try_import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch
