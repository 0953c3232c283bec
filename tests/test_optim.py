"""SGD: Caffe's update, FCN's bias multipliers, frozen parameters, and its saved state."""
import numpy as np
import pytest

from minifcn import nn
from minifcn.optim import SGD, Adam


def _conv():
    conv = nn.Conv2d(1, 1, 1, seed=0).to(dtype=np.float64)
    conv.weight.data[...] = 2.0
    conv.bias.data[...] = 1.0
    return conv


def test_two_steps_by_hand():
    conv = _conv()
    opt = SGD(conv.named_parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(2):
        conv.weight.grad = np.full((1, 1, 1, 1), 0.5)
        conv.bias.grad = np.full(1, 0.5)
        opt.step()
    # weight: v1 = 0.1·(0.5 + 0.01·2) = 0.052, w1 = 1.948
    #         v2 = 0.9·0.052 + 0.1·(0.5 + 0.01·1.948) = 0.0468 + 0.051948 = 0.098748,
    #         w2 = 1.948 − 0.098748 = 1.849252
    np.testing.assert_allclose(conv.weight.data.ravel(), [1.849252], rtol=1e-12)
    # bias: twice the lr, no decay: v1 = 0.2·0.5 = 0.1, v2 = 0.09 + 0.1 = 0.19; b = 1 − 0.29
    np.testing.assert_allclose(conv.bias.data, [0.71], rtol=1e-12)


def test_frozen_parameters_are_skipped():
    deconv = nn.ConvTranspose2d(1, 1, 4, 2, bias=False).to(dtype=np.float64)
    deconv.weight.requires_grad = False
    before = deconv.weight.data.copy()
    opt = SGD(deconv.named_parameters(), lr=1.0)
    deconv.weight.grad = np.ones_like(before)
    opt.step()
    np.testing.assert_array_equal(deconv.weight.data, before)
    assert opt.params == []


@pytest.mark.parametrize("make_opt,bias_grad", [
    (lambda params: SGD(params, lr=0.1), 0.3),
    (lambda params: Adam(params, lr=0.01), -0.7),
], ids=["sgd", "adam"])
def test_state_dict_round_trip_continues_identically(make_opt, bias_grad):
    a, b = _conv(), _conv()
    opt_a = make_opt(a.named_parameters())
    a.weight.grad, a.bias.grad = np.ones((1, 1, 1, 1)), np.ones(1)
    opt_a.step()
    b.load_state_dict(a.state_dict())
    opt_b = make_opt(b.named_parameters())
    opt_b.load_state_dict(*opt_a.state_dict())
    for conv, opt in ((a, opt_a), (b, opt_b)):
        conv.weight.grad, conv.bias.grad = np.full((1, 1, 1, 1), 0.3), np.full(1, bias_grad)
        opt.step()
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


def test_bad_state_and_arguments_are_explained():
    conv = _conv()
    opt = SGD(conv.named_parameters(), lr=0.1)
    with pytest.raises(KeyError, match="'velocity/fc8.weight' matches no buffer"):
        opt.load_state_dict({"velocity/fc8.weight": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict({"velocity/weight": np.zeros(3)})
    with pytest.raises(ValueError, match="≥ 0"):
        SGD(conv.named_parameters(), lr=-1)


def test_adam_two_steps_by_hand():
    conv = _conv()
    opt = Adam(conv.named_parameters(), lr=0.1, betas=(0.9, 0.99), eps=0.0)
    grads = [0.5, -0.25]
    for g in grads:
        conv.weight.grad, conv.bias.grad = np.full((1, 1, 1, 1), g), np.full(1, g)
        opt.step()
    # step 1: m̂ = g1, v̂ = g1² → w −= 0.1·sign(g1) = 0.1          (Adam's first step is ±lr)
    # step 2: m = 0.9·0.05 + 0.1·(−0.25) = 0.02, m̂ = 0.02/0.19
    #         v = 0.99·0.0025 + 0.01·0.0625 = 0.003100, v̂ = 0.0031/0.0199
    m_hat, v_hat = 0.02 / 0.19, 0.0031 / (1 - 0.99 ** 2)
    expected = 2.0 - 0.1 - 0.1 * m_hat / np.sqrt(v_hat)
    np.testing.assert_allclose(conv.weight.data.ravel(), [expected], rtol=1e-10)
    np.testing.assert_allclose(conv.bias.data, [1.0 - 0.1 - 0.1 * m_hat / np.sqrt(v_hat)])
    buffers, info = opt.state_dict()
    assert set(buffers) == {"exp_avg/weight", "exp_avg/bias", "exp_avg_sq/weight",
                            "exp_avg_sq/bias"}
    assert info == {"step": 2}


def test_adam_reads_the_buffer_names_of_old_checkpoints():
    # Older minifcn saved Adam's m as "velocity/…" and v as "second/…" (it subclassed SGD).
    a, b = _conv(), _conv()
    opt_a = Adam(a.named_parameters(), lr=0.01)
    a.weight.grad, a.bias.grad = np.ones((1, 1, 1, 1)), np.full(1, 0.5)
    opt_a.step()
    buffers, info = opt_a.state_dict()
    old = {k.replace("exp_avg_sq/", "second/").replace("exp_avg/", "velocity/"): v
           for k, v in buffers.items()}
    assert set(old) == {"velocity/weight", "velocity/bias", "second/weight", "second/bias"}
    b.load_state_dict(a.state_dict())
    opt_b = Adam(b.named_parameters(), lr=0.01)
    opt_b.load_state_dict(old, info)
    np.testing.assert_array_equal(opt_b.exp_avg["bias"], opt_a.exp_avg["bias"])
    np.testing.assert_array_equal(opt_b.exp_avg_sq["weight"], opt_a.exp_avg_sq["weight"])
    for conv, opt in ((a, opt_a), (b, opt_b)):
        conv.weight.grad, conv.bias.grad = np.full((1, 1, 1, 1), 0.3), np.full(1, -0.2)
        opt.step()
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


@pytest.mark.parametrize("make_opt", [lambda ps: SGD(ps, lr=1e-3, momentum=0.9),
                                      lambda ps: Adam(ps, lr=1e-3)])
def test_subnormal_weights_are_flushed_to_zero(make_opt):
    # The weights of a unit that never fires get no gradient but weight decay, and sink into
    # float32's subnormal range (below 1.2e-38), where x86 arithmetic is many times slower.
    tiny = np.finfo(np.float32).tiny
    layer = nn.Conv2d(1, 4, 1)
    w = np.array([1e-39, -3e-40, 0.5, 2e-38], np.float32).reshape(4, 1, 1, 1)
    layer.weight.data = w.copy()
    layer.weight.grad = np.zeros_like(w)
    layer.bias.grad = np.zeros(4, np.float32)
    opt = make_opt(layer.named_parameters())
    opt.weight_decay = 1e-4
    opt.step()
    got = layer.weight.data.ravel()
    assert got[0] == 0 and got[1] == 0                  # were subnormal
    assert 0.49 < got[2] < 0.5                          # a normal number is updated, not zeroed
    assert not np.any((got != 0) & (np.abs(got) < tiny))


def test_subnormals_are_flushed_on_the_first_step_and_every_flush_every_after():
    # The flush is a pure function of the step count, so a resumed run flushes where an
    # uninterrupted one does.
    from minifcn.optim import FLUSH_EVERY, flush_due
    assert [t for t in range(1, 3 * FLUSH_EVERY + 1) if flush_due(t)] == \
        [1, FLUSH_EVERY + 1, 2 * FLUSH_EVERY + 1]
    layer = nn.Conv2d(1, 2, 1, bias=False)
    opt = SGD(layer.named_parameters(), lr=0.0, momentum=0.0, weight_decay=0.0)
    sub = np.array([1e-39, 0.5], np.float32).reshape(2, 1, 1, 1)
    for t in range(1, FLUSH_EVERY + 2):
        layer.weight.grad = np.zeros_like(sub)
        if t <= 2:                                  # lr 0: only a flush can change the weights
            layer.weight.data[...] = sub
        opt.step()
        assert (layer.weight.data.ravel()[0] == 0) == (t == 1 or t == FLUSH_EVERY + 1)


@pytest.mark.parametrize("make_opt", [lambda ps: SGD(ps, lr=1e-2, momentum=0.9),
                                      lambda ps: Adam(ps, lr=1e-2, weight_decay=1e-3)],
                         ids=["sgd", "adam"])
def test_an_update_split_between_threads_is_bitwise_one_update(make_opt, monkeypatch):
    # The flat range is cut into blocks (3 threads: uneven blocks, one of them across the
    # weights/biases boundary, where the learning-rate and decay multipliers change).
    from minifcn.functional.cpu import threads

    def run():
        rng = np.random.default_rng(0)
        net = nn.Sequential(nn.Conv2d(3, 5, 3, seed=1), nn.Conv2d(5, 4, 1, seed=2))
        opt = make_opt(net.named_parameters())
        for _ in range(3):                    # the first step flushes subnormals too
            for p in net.parameters():
                p.grad = rng.standard_normal(p.data.shape).astype(p.data.dtype)
            opt.step()
        return [p.data.copy() for p in net.parameters()] + \
            [a.copy() for b in opt.buffers for a in getattr(opt, b).values()]

    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")
    one = run()
    calls = []
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "3")
    real = threads.over_channels
    monkeypatch.setattr(threads, "over_channels",
                        lambda fn, n, *a: real(lambda i0, i1: (calls.append((i0, i1)),
                                                               fn(i0, i1)), n, *a))
    many = run()
    assert len(calls) == 9                    # 3 steps × 3 blocks
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)


def test_segments_within_a_block():
    from minifcn.optim import _segments_within
    segments = [(slice(0, 10), 1.0, 1.0), (slice(10, 14), 2.0, 0.0)]
    assert _segments_within(segments, 0, 14) == segments
    assert _segments_within(segments, 8, 12) == [(slice(0, 2), 1.0, 1.0), (slice(2, 4), 2.0, 0.0)]
    assert _segments_within(segments, 10, 13) == [(slice(0, 3), 2.0, 0.0)]
    assert _segments_within(segments, 3, 7) == [(slice(0, 4), 1.0, 1.0)]
