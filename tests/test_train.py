"""minifcn.train(): it learns, it resumes bit for bit, it survives Ctrl-C and NaN losses."""
import csv
import json
import os
import signal

import numpy as np
import pytest

import minifcn
from minifcn import io
from minifcn.data.shapes import make_shapes
from minifcn.models import FCN8s
from minifcn.train import DEFAULTS, TrainingDiverged, learning_rate, train

TINY = dict(base_channels=2, fc_channels=8, progress=False)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    make_shapes(str(root), n_train=6, n_val=2, size=32, seed=0)
    return str(root)


def _losses(run):
    with open(os.path.join(run, "log.csv"), newline="") as f:
        return [(int(r["iteration"]), float(r["loss"])) for r in csv.DictReader(f)]


def test_training_lowers_the_loss(shapes, tmp_path):
    out = str(tmp_path / "run")
    result = train(data=shapes, subset=1, iterations=40, eval_every=20, lr=0.02, momentum=0.9,
                   augment=False, out=out, **TINY)
    losses = [l for _, l in _losses(out)]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["iteration"] == 40 and set(result["metrics"]) >= {
        "acc", "acc_cls", "mean_iu", "fwavacc", "iteration"}
    for name in ("checkpoint.npz", "eval.csv", "config.json", "loss.png", "metrics.png",
                 "predictions.png"):
        assert os.path.exists(os.path.join(out, name)), name
    # The checkpoint is a model file too.
    assert isinstance(minifcn.load(os.path.join(out, "checkpoint.npz")), FCN8s)


def _final_state(out):
    model, extra, meta = io.read(os.path.join(out, "checkpoint.npz"))
    return {k: minifcn.backend.to_cpu(v) for k, v in model.state_dict().items()}, extra, meta


def test_resume_is_bitwise_identical(shapes, tmp_path):
    # Extending a finished 4-iteration run to 8 equals running 8 at once. (With the 'poly' policy
    # the rate depends on the total, so extending changes it: the Ctrl-C test covers poly.)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    train(data=shapes, iterations=8, eval_every=4, out=a, lr_policy="fixed", **TINY)
    train(data=shapes, iterations=4, eval_every=4, out=b, lr_policy="fixed", **TINY)
    result = train(out=b, resume=True, iterations=8)         # settings come from the checkpoint
    assert result["iteration"] == 8
    sa, ea, ma = _final_state(a)
    sb, eb, mb = _final_state(b)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    for k in ea:
        np.testing.assert_array_equal(ea[k], eb[k], err_msg=k)
    assert ma["dropout_steps"] == mb["dropout_steps"] == {"drop6": 8, "drop7": 8}
    assert _losses(a) == _losses(b)
    assert [h["iteration"] for h in mb["history"]] == [4, 8]


def _interrupt_at(model, call):
    forward = model.forward
    state = {"n": 0}

    def wrapped(x):
        state["n"] += 1
        if state["n"] == call:
            os.kill(os.getpid(), signal.SIGINT)      # as if the user pressed Ctrl-C here
        return forward(x)
    model.forward = wrapped
    return model


def test_ctrl_c_writes_a_checkpoint_and_resume_finishes_exactly(shapes, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    train(data=shapes, iterations=6, eval_every=0, out=a, **TINY)
    # the model train() builds by default: fc6 padded as DEFAULTS say, conv1_1 as little as
    # 32×32 images then allow, dropout as DEFAULTS say
    fc6 = DEFAULTS["fc6_padding"]
    model = _interrupt_at(FCN8s(n_class=5, base_channels=2, fc_channels=8, fc6_padding=fc6,
                                conv1_1_padding=FCN8s.smallest_padding(32, fc6_padding=fc6),
                                dropout=DEFAULTS["dropout"]), call=3)
    with pytest.raises(KeyboardInterrupt):
        train(model=model, data=shapes, iterations=6, eval_every=0, out=b, **TINY)
    _, _, meta = io.read(os.path.join(b, "checkpoint.npz"))
    assert meta["iteration"] == 3                   # the iteration in flight was finished
    train(out=b, resume=True)
    sa, _, _ = _final_state(a)
    sb, _, _ = _final_state(b)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(shapes, tmp_path):
    out = str(tmp_path / "run")
    model = FCN8s(n_class=5, base_channels=2, fc_channels=8)
    forward, calls = model.forward, {"n": 0}

    def poisoned(x):
        calls["n"] += model.training            # count training iterations, not evaluations
        y = forward(x)
        return y * np.float32("nan") if calls["n"] >= 7 else y
    model.forward = poisoned
    with pytest.raises(TrainingDiverged, match=r"iteration 7.*last good checkpoint \(iteration "
                                               r"4\)"):
        train(model=model, data=shapes, iterations=20, eval_every=4, log_every=1, out=out,
              **TINY)
    state, _, meta = _final_state(out)
    assert meta["iteration"] == 4
    assert all(np.isfinite(v).all() for v in state.values())


def test_staged_training_through_init(shapes, tmp_path):
    s32 = str(tmp_path / "s32")
    train(model="fcn32s", data=shapes, iterations=2, eval_every=0, out=s32, **TINY)
    result = train(model="fcn16s", data=shapes, iterations=0, eval_every=0,
                   init=os.path.join(s32, "checkpoint.npz"), out=str(tmp_path / "s16"), **TINY)
    fcn32s = minifcn.load(os.path.join(s32, "checkpoint.npz"))
    fcn16s = result["model"]
    for name in ("conv1_1.weight", "fc7.bias", "score_fr.weight"):
        np.testing.assert_array_equal(minifcn.backend.to_cpu(fcn16s.state_dict()[name]),
                                      minifcn.backend.to_cpu(fcn32s.state_dict()[name]))


def test_bad_arguments_are_explained(shapes, tmp_path):
    with pytest.raises(TypeError, match="unknown arguments \\['iters'\\]"):
        train(iters=3)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(out=str(tmp_path / "none"), resume=True)
    with pytest.raises(FileNotFoundError):
        train(data=str(tmp_path / "missing"), iterations=1, **TINY)


def test_learning_rate_policies():
    cfg = dict(DEFAULTS, lr=0.01, iterations=100)
    assert learning_rate(dict(cfg, lr_policy="fixed"), 77) == 0.01
    poly = dict(cfg, lr_policy="poly")
    assert learning_rate(poly, 1) == 0.01
    np.testing.assert_allclose(learning_rate(poly, 51), 0.01 * 0.5 ** 0.9)
    assert 0 < learning_rate(poly, 100) < learning_rate(poly, 99) < learning_rate(poly, 2)
    with pytest.raises(ValueError, match="'step'"):
        learning_rate(dict(cfg, lr_policy="step"), 1)


def test_resume_from_a_checkpoint_with_the_old_adam_buffer_names(shapes, tmp_path):
    # Before Adam became its own class (2026-11-29) its moments were saved as "velocity/<param>"
    # (m) and "second/<param>" (v). Such a checkpoint still resumes bit for bit.
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    common = dict(data=shapes, optimizer="adam", lr_policy="fixed", eval_every=4, **TINY)
    train(iterations=8, out=a, **common)
    train(iterations=4, out=b, **common)
    path = os.path.join(b, "checkpoint.npz")
    model, extra, meta = io.read(path)
    old_names = {"optim/exp_avg/": "optim/velocity/", "optim/exp_avg_sq/": "optim/second/"}
    renamed = {}
    for key, value in extra.items():
        prefix = next(p for p in old_names if key.startswith(p))
        renamed[old_names[prefix] + key[len(prefix):]] = value
    assert len(renamed) == len(extra) and any(k.startswith("optim/second/") for k in renamed)
    io.save(model, path, extra=renamed, meta=meta)
    train(out=b, resume=True, iterations=8)
    sa, ea, _ = _final_state(a)
    sb, eb, _ = _final_state(b)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert set(ea) == set(eb)                       # saved again under today's names
    for k in ea:
        np.testing.assert_array_equal(ea[k], eb[k], err_msg=k)
    assert _losses(a) == _losses(b)


def test_conv1_1_padding_defaults_to_the_smallest_the_images_allow(shapes, tmp_path):
    # 32×32 images, fc6 padded by 3 (the default): fc6 works on any pool5, the crops fit
    # without padding, and every pool gets 2 px from a conv1_1 output of 30: pad 0
    result = train(data=shapes, iterations=1, eval_every=0, out=str(tmp_path / "a"), **TINY)
    assert result["model"].conv1_1_padding == FCN8s.smallest_padding(32, fc6_padding=3) == 0
    assert result["model"].fc6_padding == 3 and result["model"].drop6.p == 0
    with open(tmp_path / "a" / "config.json", encoding="utf-8") as f:
        config = json.load(f)
    assert (config["conv1_1_padding"], config["fc6_padding"], config["dropout"]) == (0, 3, 0)
    # fc6 padded by 1: its 7×7 window needs a 5×5 pool5, so 32 + 2·pad − 2 ≥ 129, pad 50 (not
    # the crop's 37)
    result = train(data=shapes, iterations=1, eval_every=0, out=str(tmp_path / "d"),
                   fc6_padding=1, **TINY)
    assert result["model"].conv1_1_padding == FCN8s.smallest_padding(32, fc6_padding=1) == 50
    # the paper's geometry: fc6 unpadded, then 32×32 images need pad 82 (pool5 7×7)
    result = train(data=shapes, iterations=1, eval_every=0, out=str(tmp_path / "b"),
                   fc6_padding=0, **TINY)
    assert result["model"].conv1_1_padding == FCN8s.smallest_padding(32) == 82
    result = train(data=shapes, iterations=1, eval_every=0, out=str(tmp_path / "c"),
                   conv1_1_padding=100, fc6_padding=0, dropout=0.5, **TINY)
    assert result["model"].conv1_1_padding == 100 and result["model"].crop_offsets["score"] == 31
    assert result["model"].drop6.p == 0.5


def test_checkpoints_and_evaluations_leave_the_training_as_it_is(shapes, tmp_path):
    # A checkpoint runs a forward pass to check the weights, and an evaluation runs the model
    # in eval mode: neither may change the losses that follow.
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    train(data=shapes, iterations=6, eval_every=0, log_every=1, out=a, **TINY)
    train(data=shapes, iterations=6, eval_every=2, log_every=1, out=b, **TINY)
    assert _losses(a) == _losses(b)
