"""How many operations the device path launches: a GPU pays ~10–20 µs of host time for each,
whatever its size. Counted on the CuPy stand-in (minifcn.testing.count_device_ops): one training
step of the main job's network (forward, loss, backward, optimizer step) and one evaluation
forward, pinned to budgets, and the same count at every image size."""
import numpy as np
import pytest

from minifcn import backend, nn
from minifcn.config import DEFAULTS
from minifcn.models import FCN8s
from minifcn.optim import get_optimizer
from minifcn.testing import count_device_ops, fakecupy
from minifcn.testing.opcount import batch_on, eval_forward_ops, training_step_ops

STEP_BUDGET, EVAL_BUDGET = 400, 150


@pytest.fixture(autouse=True)
def stand_in(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", fakecupy)


def _counts(size, optimizer="adam", widths=(8, 128), step=True):
    model = FCN8s.main_job(5, *widths).to("cuda")
    opt = get_optimizer(optimizer, model.named_parameters(), **DEFAULTS)
    crit = nn.SoftmaxCrossEntropy(check_target=False,
                                  weight=np.linspace(0.5, 2, 5).astype(np.float32))
    x, t = batch_on("cuda", 5, size)
    n_step = None
    if step:
        training_step_ops(model, opt, x, t, crit)         # the first lays out the buffers
        n_step = training_step_ops(model, opt, x, t, crit)[0].n
    return n_step, eval_forward_ops(model, x)[0].n


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_the_main_jobs_step_and_evaluation_stay_within_budget(optimizer):
    n_step, n_eval = _counts(128, optimizer)
    assert n_step <= STEP_BUDGET, n_step
    assert n_eval <= EVAL_BUDGET, n_eval


def test_the_count_does_not_depend_on_the_image_size():
    assert _counts(128) == _counts(512)


@pytest.mark.slow
def test_the_count_does_not_depend_on_the_size_at_vgg16_widths():
    assert _counts(128, widths=(64, 4096))[0] == _counts(128)[0]
    assert _counts(128, widths=(64, 4096), step=False) == _counts(512, widths=(64, 4096),
                                                                   step=False)


def test_the_optimizer_is_a_few_whole_buffer_operations():
    model = FCN8s.main_job().to("cuda")
    for name, budget in (("adam", 20), ("sgd", 10)):
        opt = get_optimizer(name, model.named_parameters(), **DEFAULTS)
        for p in model.parameters():
            p.grad = fakecupy.zeros(p.data.shape, np.float32) if p.requires_grad else None
        opt.step()
        with count_device_ops() as ops:
            opt.step()
        assert ops.n <= budget, (name, ops.log)
