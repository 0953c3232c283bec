"""The same program on 'cpu' and on 'cuda': same numbers, and only the transfers it needs.

On minifcn's CuPy stand-in (NumPy underneath, NumPy's random generator included) the two
devices must agree bit for bit when the CPU takes the textbook kernels too
(MINIFCN_CPU_FAST_PATH=0): any difference is then a code path that differs between them. With
the CPU's fast path (functional/cpu/: bands, channel threads, forced on here however small the
arrays) they agree to float32 rounding. On a real GPU the sums run in another order and dropout
draws from CuPy's generator: there the comparison has a tolerance, with dropout off.
"""
import csv
import os

import numpy as np
import pytest

from minifcn import backend, nn
from minifcn.data import load_dataset
from minifcn.data.shapes import make_shapes
from minifcn.evaluate import evaluate
from minifcn.functional.cpu import threads
from minifcn.models import FCN8s
from minifcn.predict import predict, predict_proba
from minifcn.testing import count_transfers, fakecupy
from minifcn.train import train

TINY = dict(base_channels=2, fc_channels=8, progress=False)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    make_shapes(str(root), n_train=4, n_val=2, size=32, seed=0)
    return str(root)


@pytest.fixture(params=["textbook", "fast"])
def cpu_path(request, monkeypatch):
    """The CPU side's kernels: the textbook ones (as the device's), or the fast path with its
    channel threads on however small the arrays (and checked to be used). True for textbook."""
    if request.param == "textbook":
        monkeypatch.setenv("MINIFCN_CPU_FAST_PATH", "0")
        yield True
        return
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "2")
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    pool, used = threads._pool, []
    monkeypatch.setattr(threads, "_pool", lambda workers: used.append(workers) or pool(workers))
    yield False
    assert used, "the CPU side never split work between threads"


def _exact(cuda_xp, same_path):
    return cuda_xp is fakecupy and same_path


def _same(a, b, exact, rtol=1e-3, atol=1e-4):
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _run(out, device, exact, shapes, **kw):
    model = FCN8s(n_class=5, seed=0, **{k: TINY[k] for k in ("base_channels", "fc_channels")})
    if not exact:                    # CuPy's dropout masks are not NumPy's
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0
    result = train(model=model, data=shapes, device=device, out=out, progress=False, **kw)
    with open(os.path.join(out, "log.csv"), newline="") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    state = {k: backend.to_cpu(v) for k, v in result["model"].state_dict().items()}
    return losses, state, result["metrics"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_agrees_on_both_devices(cuda_xp, cpu_path, shapes, tmp_path, optimizer):
    exact = _exact(cuda_xp, cpu_path)
    kw = dict(iterations=4, eval_every=2, log_every=2, optimizer=optimizer, lr=1e-3, seed=3)
    cpu = _run(str(tmp_path / "cpu"), "cpu", exact, shapes, **kw)
    gpu = _run(str(tmp_path / "cuda"), "cuda", exact, shapes, **kw)
    assert len(cpu[0]) == 4
    _same(cpu[0], gpu[0], exact)
    assert cpu[1].keys() == gpu[1].keys()
    # On a GPU, Adam's step m/√v has size ~lr whatever the gradient, so a tiny gradient whose
    # sign differs by rounding moves a weight by up to lr the other way: 2·lr per iteration.
    atol = 2 * kw["lr"] * kw["iterations"] if optimizer == "adam" else 1e-4
    for name in cpu[1]:
        _same(cpu[1][name], gpu[1][name], exact, atol=atol)
    for key in ("acc", "mean_iu"):
        _same(cpu[2][key], gpu[2][key], exact, rtol=0.05, atol=0.05)


def _random_model():
    model = FCN8s(n_class=5, seed=1, **{k: TINY[k] for k in ("base_channels", "fc_channels")})
    rng = np.random.default_rng(0)
    for p in model.parameters():           # score layers start at zero: give them weights
        p.data = (0.5 * rng.standard_normal(p.shape)).astype(np.float32)
    return model


def test_evaluation_and_prediction_agree_on_both_devices(cuda_xp, cpu_path, shapes):
    exact = _exact(cuda_xp, cpu_path)
    val = load_dataset(shapes, "val")
    cpu_model = _random_model()
    gpu_model = _random_model().to("cuda")
    image = val[0][0]
    probs = predict_proba(cpu_model, image), predict_proba(gpu_model, image)
    assert isinstance(probs[1], np.ndarray)
    _same(*probs, exact, rtol=1e-4, atol=1e-6)
    labels = predict(cpu_model, image), predict(gpu_model, image)
    if exact:
        np.testing.assert_array_equal(*labels)
    else:                                   # near-ties may flip: nearly every pixel agrees
        assert (labels[0] == labels[1]).mean() > 0.99
    scores = evaluate(cpu_model, val), evaluate(gpu_model, val)
    for key in ("acc", "acc_cls", "mean_iu", "fwavacc"):
        _same(scores[0][key], scores[1][key], exact, rtol=0.02, atol=0.02)


def test_a_model_on_cuda_refuses_a_host_array(cuda_xp):
    model = _random_model().to("cuda")
    with pytest.raises(RuntimeError, match=r"parameters on 'cuda' but got an input on 'cpu'"):
        model(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(RuntimeError, match=r"on 'cpu' but got an input on 'cuda'"):
        _random_model()(backend.to_device(np.zeros((1, 3, 32, 32), np.float32), "cuda"))


def _transfers(shapes, out, iterations, log_every, **kw):
    with count_transfers() as t:
        train(model="fcn8s", data=shapes, device="cuda", out=out, iterations=iterations,
              log_every=log_every, eval_every=0, seed=0, **TINY, **kw)
    return t


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_transfers_of_one_training_iteration(fake_cp, shapes, tmp_path, reduction):
    """Per iteration: the batch goes over (image and labels) and nothing else; the loss comes
    back once per log_every iterations. The difference between a 12- and a 6-iteration run
    leaves out what happens once (the checkpoint, the figures)."""
    lr = 1e-3 if reduction == "mean" else 1e-7
    # A first run fills what is copied to the device once and kept (e.g. the bilinear
    # upsampling matrices), so that the two runs below pay the same one-time costs.
    _transfers(shapes, str(tmp_path / "warm"), 1, 3, reduction=reduction, lr=lr)
    short = _transfers(shapes, str(tmp_path / "a"), 6, 3, reduction=reduction, lr=lr)
    long = _transfers(shapes, str(tmp_path / "b"), 12, 3, reduction=reduction, lr=lr)
    h2d_bytes = sum(e[2] for e in long.of("h2d")) - sum(e[2] for e in short.of("h2d"))
    x_bytes, t_bytes = 3 * 32 * 32 * 4, 32 * 32 * np.dtype(np.int64).itemsize
    assert long.h2d - short.h2d == 2 * 6, long.of("h2d")          # x and t, 6 times
    assert h2d_bytes <= 6 * (x_bytes + t_bytes), long.of("h2d")
    assert long.d2h - short.d2h <= 6 // 3, long.of("d2h")
