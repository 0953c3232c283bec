"""Typical GPU-port bugs, planted into code that uses minifcn: the CuPy stand-in catches each.

Every case is a small piece of user code (a layer, a loop, a metric) in a correct version and in
a version with one bug of the kinds CuPy's own docs and issue trackers list. On 'cpu' most
planted bugs run without an error, so CPU tests alone would not see them; on the stand-in's
'cuda' the correct version runs, with the CPU's result, and each planted bug fails.
"""
import numpy as np
import pytest

from minifcn import backend, nn
from minifcn.backend import get_array_module
from minifcn.testing import UndefinedOnGPUError, count_transfers


class Shift(nn.Module):
    """A user layer: out = x + bias (one per channel), in four variants."""

    def __init__(self, channels, variant):
        super().__init__()
        self.bias = nn.Parameter(np.linspace(-1, 1, channels).astype(np.float32))
        self.variant = variant

    def forward(self, x):
        xp = get_array_module(x)
        if self.variant == "np.asarray of a device array":      # converts behind the user's back
            return np.asarray(x) + np.asarray(self.bias.data).reshape(1, -1, 1, 1)
        if self.variant == "host array into a device ufunc":     # a host constant mixed in
            return xp.add(x, np.linspace(-1, 1, x.shape[1], dtype=x.dtype).reshape(1, -1, 1, 1))
        if self.variant == "NumPy-only function":               # CuPy has no errstate
            with xp.errstate(over="ignore"):
                return x + self.bias.data.reshape(1, -1, 1, 1)
        return x + self.bias.data.reshape(1, -1, 1, 1)          # correct


def run_shift(variant, device):
    layer = Shift(3, variant).to(device)
    x = backend.to_device(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5), device)
    return backend.to_cpu(layer(x))


def mean_loss_reading_every_iteration(device, read_each):
    """A training-style loop over 10 iterations that keeps a running mean of the loss."""
    crit = nn.SoftmaxCrossEntropy(check_target=False)
    rng = np.random.default_rng(0)
    total = 0.0 if read_each else None
    for _ in range(10):
        score = backend.to_device(rng.standard_normal((1, 3, 4, 4)).astype(np.float32), device)
        t = backend.to_device(rng.integers(0, 3, (1, 4, 4)), device)
        loss = crit(score, t)
        if read_each:
            total += loss.item()                         # a device→host sync every iteration
        else:
            total = loss if total is None else total + loss
    return float(total) / 10


def confusion(device, variant):
    """Count (true, predicted) pairs into a matrix on the device."""
    true = backend.to_device(np.array([0, 1, 1, 2, 255, 2]), device)
    pred = backend.to_device(np.array([0, 1, 2, 2, 1, 2]), device)
    xp = get_array_module(true)
    hist = xp.zeros((3, 3), dtype=np.int64)
    if variant == "repeated indices in an assignment":   # cell (2, 2) twice: one +1 is lost
        kept = [0, 1, 2, 3, 5]                            # the pixels that are not 255
        hist[true[kept], pred[kept]] += 1
    elif variant == "out-of-bounds fancy index":          # 255 (ignore) indexes past the end
        hist = xp.eye(3, dtype=np.int64)[true].T @ xp.eye(3, dtype=np.int64)[pred]
    else:                                                 # correct: one-hot products, 255 dropped
        keep = (true < 3)[:, None]
        hist = (xp.arange(3)[None] == true[:, None]).astype(np.int64).T @ \
            ((xp.arange(3)[None] == pred[:, None]) & keep).astype(np.int64)
    return backend.to_cpu(hist)


SHIFT_BUGS = {"np.asarray of a device array": (TypeError, "Implicit conversion"),
              "host array into a device ufunc": (TypeError, "Unsupported type"),
              "NumPy-only function": (AttributeError, "errstate")}


@pytest.mark.parametrize("variant", list(SHIFT_BUGS))
def test_layer_bugs(fake_cp, variant):
    expected = run_shift("correct", "cpu")
    np.testing.assert_array_equal(run_shift(variant, "cpu"), expected)      # invisible on CPU
    np.testing.assert_array_equal(run_shift("correct", "cuda"), expected)
    error, message = SHIFT_BUGS[variant]
    with pytest.raises(error, match=message):
        run_shift(variant, "cuda")


def test_a_host_batch_fed_to_a_cuda_model(fake_cp):
    model = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1, seed=0), nn.ReLU())
    model.to("cuda")
    with pytest.raises(RuntimeError, match="move the input"):
        model(np.zeros((1, 3, 8, 8), np.float32))


def test_a_read_back_in_every_iteration(fake_cp):
    assert mean_loss_reading_every_iteration("cpu", True) == pytest.approx(
        mean_loss_reading_every_iteration("cpu", False), rel=1e-6)
    budget = 1                                  # one read-back for the whole loop
    with count_transfers() as good:
        mean_loss_reading_every_iteration("cuda", read_each=False)
    with count_transfers() as bad:
        mean_loss_reading_every_iteration("cuda", read_each=True)
    assert good.d2h <= budget
    assert bad.d2h == 10 > budget and all("test_planted_bugs.py" in e[3] for e in bad.log)


@pytest.mark.parametrize("variant", ["repeated indices in an assignment",
                                     "out-of-bounds fancy index"])
def test_index_bugs(fake_cp, variant):
    expected = confusion("cpu", "correct")
    assert expected.sum() == 5 and expected[2, 2] == 2
    np.testing.assert_array_equal(confusion("cuda", "correct"), expected)
    if variant == "out-of-bounds fancy index":
        with pytest.raises(IndexError):         # NumPy raises; CuPy would wrap 255 around
            confusion("cpu", variant)
    else:
        assert confusion("cpu", variant).sum() < expected.sum()   # NumPy too loses counts
    with pytest.raises(UndefinedOnGPUError):
        confusion("cuda", variant)


def test_a_device_array_handed_to_pil(fake_cp):
    Image = pytest.importorskip("PIL.Image")
    labels = backend.to_device(np.zeros((4, 4), np.uint8), "cuda")
    Image.fromarray(backend.to_cpu(labels))             # correct: read back first
    with pytest.raises((TypeError, AttributeError)):
        Image.fromarray(labels)
