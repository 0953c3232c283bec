"""The layer classes: gradient checks through the Module API, and the API itself."""
import numpy as np
import pytest

from minifcn import backend, nn
from minifcn.backend import to_cpu
from minifcn.gradcheck import check_layer

TOL = 1e-7


def _f64(layer):
    return layer.to(dtype=np.float64)


@pytest.mark.parametrize("make,shape", [
    (lambda: _f64(nn.Conv2d(3, 4, 3, stride=2, padding=1, seed=0)), (2, 3, 7, 6)),
    (lambda: _f64(nn.Conv2d(3, 2, (3, 2), stride=(1, 2), padding=(2, 1), seed=0)), (1, 3, 5, 7)),
    (lambda: _f64(nn.Conv2d(2, 3, 3, padding=2, dilation=2, bias=False, seed=0)), (1, 2, 7, 6)),
    (lambda: _f64(nn.ConvTranspose2d(3, 2, 4, stride=2, seed=0)), (1, 3, 4, 5)),
    (lambda: _f64(nn.ConvTranspose2d(3, 3, 3, stride=3, padding=1, bias=False, seed=0)),
     (2, 3, 3, 3)),
    (lambda: _f64(nn.Linear(6, 4, seed=0)), (3, 6)),
    (lambda: nn.ReLU(), (2, 3, 4, 5)),
    (lambda: nn.Scale(0.0001), (1, 2, 3, 3)),
    (lambda: nn.Flatten(), (2, 3, 2, 2)),
])
def test_layer_gradients(make, shape, rng):
    layer = make()
    errors = check_layer(layer, rng.standard_normal(shape))
    assert errors and max(errors.values()) < TOL, errors


def test_maxpool_layer_gradients(rng):
    x = rng.permutation(2 * 3 * 7 * 9).reshape(2, 3, 7, 9).astype(np.float64)
    errors = check_layer(nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), x)
    assert errors["x"] < TOL


def test_dropout_layer_mask_shared_between_forward_and_backward(rng):
    drop = nn.Dropout(0.5, seed=4)
    x = rng.standard_normal((3, 10))
    out = drop(x)
    dx = drop.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx == 0, out == 0)
    out2 = drop(x)
    assert drop.step == 2 and (out2 != out).any()        # a new mask every step
    drop.eval()
    assert drop(x) is x
    np.testing.assert_array_equal(drop.backward(x), x)


def test_crop_layer(rng):
    crop = nn.Crop(9)                                      # score_pool3 in FCN-8s
    x = rng.standard_normal((1, 2, 88, 88))
    like = np.zeros((1, 2, 70, 70))
    out = crop(x, like)
    np.testing.assert_array_equal(out, x[:, :, 9:79, 9:79])
    dx = crop.backward(np.ones_like(out))
    assert dx.sum() == out.size and dx.shape == x.shape


def test_convolutionize_gives_exactly_the_linear_outputs(rng):
    # A Linear over a flattened 4×5×5 map and its 5×5 convolution: identical outputs.
    lin = nn.Linear(4 * 5 * 5, 6, seed=1).to(dtype=np.float64)
    x = rng.standard_normal((3, 4, 5, 5))
    conv = nn.convolutionize(lin, (4, 5, 5))
    assert conv.weight.shape == (6, 4, 5, 5) and conv.kernel_size == (5, 5)
    y_lin = lin(nn.Flatten()(x))
    y_conv = conv(x)
    assert y_conv.shape == (3, 6, 1, 1)
    np.testing.assert_allclose(y_conv[:, :, 0, 0], y_lin, rtol=1e-12, atol=1e-12)
    # On a larger input the conv slides: every position equals the Linear on that window.
    big = rng.standard_normal((1, 4, 8, 9))
    heat = conv(big)
    assert heat.shape == (1, 6, 4, 5)
    for i in range(4):
        for j in range(5):
            window = big[:, :, i:i + 5, j:j + 5].reshape(1, -1)
            np.testing.assert_allclose(heat[:, :, i, j], lin(window), rtol=1e-12, atol=1e-12)
    # fc7 after fc6: a 1×1 convolution.
    fc7 = nn.convolutionize(nn.Linear(6, 3, seed=2), (6, 1, 1))
    assert fc7.kernel_size == (1, 1)
    with pytest.raises(ValueError, match="expects 100"):
        nn.convolutionize(lin, (4, 5, 6))


def test_parameters_and_state_dict_have_dotted_names():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1, bias=False))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight"]
    sd = model.state_dict()
    assert list(sd) == names and sd["0.weight"].shape == (4, 3, 3, 3)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1_1 = nn.Conv2d(3, 4, 3, padding=1, seed=0)
        self.relu1_1 = nn.ReLU()
        self.score_fr = nn.Conv2d(4, 2, 1, seed=1)

    def forward(self, x):
        return self.score_fr(self.relu1_1(self.conv1_1(x)))

    def backward(self, dout):
        return self.conv1_1.backward(self.relu1_1.backward(self.score_fr.backward(dout)))


def test_nested_module_names_and_gradient(rng):
    net = _Net().to(dtype=np.float64)
    assert [n for n, _ in net.named_parameters()] == [
        "conv1_1.weight", "conv1_1.bias", "score_fr.weight", "score_fr.bias"]
    errors = check_layer(net, rng.standard_normal((1, 3, 5, 4)))
    assert max(errors.values()) < TOL


def test_gradients_accumulate_until_zero_grad(rng):
    conv = nn.Conv2d(2, 3, 3, seed=0).to(dtype=np.float64)
    x = rng.standard_normal((1, 2, 5, 5))
    dout = np.ones((1, 3, 3, 3))
    conv(x)
    conv.backward(dout)
    g1 = conv.weight.grad.copy()
    conv(x)
    conv.backward(dout)
    np.testing.assert_allclose(conv.weight.grad, 2 * g1)       # += as in PyTorch
    conv.zero_grad()
    assert conv.weight.grad is None and conv.bias.grad is None


def test_load_state_dict_errors_and_copy():
    net = _Net()
    sd = {k: np.ones_like(v) for k, v in net.state_dict().items()}
    net.load_state_dict(sd)
    sd["conv1_1.weight"][...] = 5          # the model holds its own copy
    assert float(net.conv1_1.weight.data.max()) == 1.0
    missing = dict(sd)
    del missing["score_fr.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['score_fr.bias'\]"):
        net.load_state_dict(missing)
    extra = dict(sd, **{"fc8.weight": np.zeros(3)})
    with pytest.raises(KeyError, match=r"unexpected keys \['fc8.weight'\]"):
        net.load_state_dict(extra)
    assert net.load_state_dict(extra, strict=False) == ([], ["fc8.weight"])
    wrong = dict(sd, **{"score_fr.weight": np.zeros((2, 4, 3, 3))})
    with pytest.raises(ValueError, match=r"score_fr.weight has shape \(2, 4, 3, 3\) .* "
                                         r"\(2, 4, 1, 1\)"):
        net.load_state_dict(wrong)


def test_train_eval_and_to_dtype():
    net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Dropout(0.5))
    assert net.eval() is net and not any(m.training for m in net.modules())
    assert all(m.training for m in net.train().modules())
    assert net.to(dtype=np.float64) is net
    assert all(p.data.dtype == np.float64 for p in net.parameters())
    assert net.dtype == np.float64 and net.device == "cpu"


def test_default_dtype_is_float32(rng):
    conv = nn.Conv2d(3, 2, 3)
    out = conv(rng.standard_normal((1, 3, 4, 4)).astype(np.float32))
    assert conv.weight.data.dtype == np.float32 and out.dtype == np.float32


def test_backward_without_forward_is_explained():
    with pytest.raises(RuntimeError, match="without a forward pass"):
        nn.ReLU().backward(np.ones(3))


def test_no_grad_keeps_no_cache(rng):
    conv = nn.Conv2d(3, 2, 3)
    with nn.no_grad():
        conv(rng.standard_normal((1, 3, 4, 4)).astype(np.float32))
    assert conv.cache is None and nn.is_grad_enabled()


def test_inputs_are_not_mutated_and_non_contiguous_inputs_work(xp, rng):
    base = rng.standard_normal((2, 3, 9, 14))
    x = xp.asarray(base)[:, :, :, ::2]               # a non-contiguous view
    assert not x.flags.c_contiguous
    before = to_cpu(x).copy()
    layers = [nn.Conv2d(3, 4, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
              nn.ConvTranspose2d(3, 2, 4, 2, seed=0), nn.Scale(2.0), nn.Dropout(0.5)]
    for layer in layers:
        layer.to(device=backend.device_of(x), dtype=np.float64)
        out = layer(x)
        dx = layer.backward(xp.ones_like(out))
        assert dx.shape == x.shape
        np.testing.assert_array_equal(to_cpu(x), before)
    conv = nn.Conv2d(3, 4, 3, padding=1, seed=0).to(dtype=np.float64)
    np.testing.assert_allclose(conv(to_cpu(x)), conv(np.ascontiguousarray(to_cpu(x))))


def test_module_must_call_super_init():
    class Bad(nn.Module):
        def __init__(self):
            self.conv = nn.Conv2d(1, 1, 1)
    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        Bad()
