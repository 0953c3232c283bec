"""Device operations of one training step and of one evaluation forward, on the stand-in.

What ``count_device_ops`` is for: a GPU pays ~10–20 µs of host time per operation whatever its
size, so the number of operations a step issues bounds how fast the device can run it. The
tests pin these counts (tests/test_device_ops.py); ``bench/count_device_ops.py`` and lesson 09
print them. The step is the training loop's: forward, loss, backward, optimizer step, on a
batch already on the device (its copy there is a transfer, counted by ``count_transfers``).
"""
from .. import nn
from ..backend import to_device
from .counters import count_device_ops


def training_step_ops(model, optimizer, x, target, crit=None):
    """DeviceOps of one step of ``model`` on device arrays x (N, 3, H, W), target (N, H, W)."""
    crit = crit or nn.SoftmaxCrossEntropy(check_target=False)
    with count_device_ops() as ops:
        loss = crit(model(x), target)
        model.zero_grad()
        model.backward(crit.backward(), need_input_grad=False)
        optimizer.step()
    return ops, loss


def eval_forward_ops(model, x):
    """DeviceOps of one forward pass in eval mode, without caches (``no_grad``)."""
    model.eval()
    try:
        with nn.no_grad(), count_device_ops() as ops:
            score = model(x)
    finally:
        model.train()
    return ops, score


def batch_on(device, n_class, size, seed=0, batch=1):
    """A random image batch (batch, 3, H, W) float32 and labels (batch, H, W) int64 on device,
    a strip of the labels ignored (255)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    H, W = (size, size) if isinstance(size, int) else size
    x = (50 * rng.standard_normal((batch, 3, H, W))).astype(np.float32)
    t = rng.integers(0, n_class, (batch, H, W)).astype(np.int64)
    t[:, :3] = 255
    return to_device(x, device), to_device(t, device)
