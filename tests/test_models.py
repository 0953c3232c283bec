"""The models: shapes for any input size, torchfcn's parameter names, initialisation, caches,
dropout seeds, the factory, staged copies and VGG16 → FCN convolutionization."""
import contextlib

import numpy as np
import pytest

from minifcn import data, models, nn
from minifcn import functional as F
from minifcn.functional.cpu import textbook_only
from minifcn.models import VGG16, FCN8s, FCN8sAtOnce, FCN16s, FCN32s
from minifcn.nn import runs

FCNS = [FCN32s, FCN16s, FCN8s, FCN8sAtOnce]
TINY = dict(base_channels=2, fc_channels=4)
CONVS = [f"conv{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
         for i in range(1, n + 1)]
LEARNED = CONVS + ["fc6", "fc7", "score_fr"]
TORCHFCN_NAMES = {   # parameter names in torchfcn's models: with .weight and .bias / .weight
    FCN32s: (LEARNED, ["upscore"]),
    FCN16s: (LEARNED + ["score_pool4"], ["upscore2", "upscore16"]),
    FCN8s: (LEARNED + ["score_pool3", "score_pool4"], ["upscore2", "upscore8", "upscore_pool4"]),
    FCN8sAtOnce: (LEARNED + ["score_pool3", "score_pool4"],
                  ["upscore2", "upscore8", "upscore_pool4"]),
}


def randomize(model, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = (scale * rng.standard_normal(p.shape)).astype(p.data.dtype)
    return model


@pytest.mark.parametrize("cls", FCNS)
def test_scores_have_the_input_size(cls):
    model = randomize(cls(n_class=3, base_channels=1, fc_channels=2)).eval()
    for h, w in [(1, 1), (2, 2), (31, 33), (33, 31), (64, 97), (224, 224), (375, 500),
                 (600, 600), (1, 600), (600, 1)]:
        x = np.random.default_rng(h).standard_normal((1, 3, h, w)).astype(np.float32)
        score = model(x)
        assert score.shape == (1, 3, h, w) and score.dtype == np.float32
        assert np.isfinite(score).all()
    assert cls(**TINY)(np.zeros((2, 3, 5, 3), np.float32)).shape == (2, 21, 5, 3)


@pytest.mark.parametrize("cls", FCNS)
def test_backward_returns_the_input_gradient_or_none(cls):
    model = randomize(cls(n_class=3, **TINY)).eval()       # eval: the same masks twice
    x = np.random.default_rng(0).standard_normal((2, 3, 13, 17)).astype(np.float32)
    score = model(x)
    assert score.shape == (2, 3, 13, 17)
    dx = model.backward(np.ones_like(score))
    assert dx.shape == x.shape and np.abs(dx).sum() > 0
    learned = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)  # frozen
    grads = {n: p.grad.copy() for n, p in learned}
    model.zero_grad()
    model(x)
    assert model.backward(np.ones_like(score), need_input_grad=False) is None
    for name, p in learned:                        # the parameters' gradients are the same
        # up to float32 rounding: with dx, a stride-1 layer's dW is summed from dy's windows
        # (cpu/conv.py), without it from x's, so an entry that cancels differs in its last bits
        scale = np.abs(grads[name]).max()
        np.testing.assert_allclose(p.grad, grads[name], rtol=1e-5, atol=1e-6 * scale)
    assert all(m.cache is None for m in model.modules())   # backward released every cache


@pytest.mark.parametrize("cls", FCNS)
def test_parameter_names_are_torchfcns(cls):
    with_bias, deconvs = TORCHFCN_NAMES[cls]
    expected = {f"{n}.{p}" for n in with_bias for p in ("weight", "bias")} | \
        {f"{n}.weight" for n in deconvs}
    assert set(cls(**TINY).state_dict()) == expected


def test_full_size_shapes_are_vgg16s():
    # Built without allocating VGG16 (134 M parameters): the widths scale with base_channels.
    model = FCN8s(base_channels=4, fc_channels=16, n_class=5)
    shapes = {n: p.shape for n, p in model.named_parameters()}
    assert shapes["conv1_1.weight"] == (4, 3, 3, 3)
    assert shapes["conv3_3.weight"] == (16, 16, 3, 3)
    assert shapes["conv5_3.weight"] == (32, 32, 3, 3)
    assert shapes["fc6.weight"] == (16, 32, 7, 7) and shapes["fc7.weight"] == (16, 16, 1, 1)
    assert shapes["score_fr.weight"] == (5, 16, 1, 1)
    assert shapes["score_pool4.weight"] == (5, 32, 1, 1)
    assert shapes["score_pool3.weight"] == (5, 16, 1, 1)
    assert shapes["upscore8.weight"] == (5, 5, 16, 16)
    assert model.conv1_1.padding == (100, 100) and model.conv1_2.padding == (1, 1)
    assert model.pool1.ceil_mode and model.drop6.p == 0.5 and model.drop7.p == 0.5
    assert FCN32s(base_channels=1, fc_channels=1).upscore.weight.shape == (21, 21, 64, 64)
    assert FCN16s(base_channels=1, fc_channels=1).upscore16.weight.shape == (21, 21, 32, 32)


def test_he_initialisation_keeps_the_activation_scale():
    # N(0, 2/fan_in) weights: each conv + ReLU keeps E[h²] about constant, so the signal reaches
    # fc7 at the scale it started with (PyTorch's default uniform init shrinks it ~6× a layer).
    model = FCN8s(n_class=3, base_channels=8, fc_channels=64, seed=1).eval()
    w = model.conv3_1.weight.data
    np.testing.assert_allclose(w.std(), np.sqrt(2 / np.prod(w.shape[1:])), rtol=0.1)
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    h = x
    for b in range(1, 6):
        h = model.block_forward(b, h)
    h = model.relu7(model.fc7(model.relu6(model.fc6(h))))
    assert 0.1 < float((h ** 2).mean()) / float((x ** 2).mean()) < 10


@pytest.mark.parametrize("cls", FCNS)
def test_initialisation(cls):
    model = cls(**TINY)
    for name, p in model.named_parameters():
        if name.startswith("score"):
            assert not p.data.any(), name                 # score layers start at zero
            assert p.requires_grad
        elif name.startswith("upscore"):
            k = p.shape[-1]
            np.testing.assert_array_equal(p.data, F.bilinear_weight(21, 21, k))
            assert not p.requires_grad, name              # frozen bilinear upsampling
        elif name.endswith(".bias"):
            assert not p.data.any() and p.requires_grad, name     # He init: zero biases
        else:
            assert p.data.std() > 0 and p.requires_grad
    # An untrained FCN scores zero everywhere: docs/fcn.md §9, item 3: "all-zero predictions".
    assert not model(np.ones((1, 3, 5, 6), np.float32)).any()
    learned = cls(learn_upsampling=True, **TINY)
    assert all(m.weight.requires_grad for m in learned.modules()
               if isinstance(m, nn.ConvTranspose2d))
    assert learned.config["learn_upsampling"] is True
    model.set_learn_upsampling(True)
    assert all(p.requires_grad for p in model.parameters())
    assert model.config["learn_upsampling"] is True


def test_bilinear_upscore_interpolates():
    # With score_fr's output constant, ×32 bilinear upsampling gives that constant in the middle.
    model = FCN32s(n_class=2, **TINY).eval()
    model.score_fr.bias.data[:] = [1.5, -2.0]
    score = model(np.zeros((1, 3, 300, 300), np.float32))
    np.testing.assert_allclose(score[0, :, 100:200, 100:200].mean(axis=(1, 2)), [1.5, -2.0],
                               rtol=1e-5)


def test_seeds_make_weights_and_dropout_reproducible():
    a, b, c = FCN8s(seed=1, **TINY), FCN8s(seed=1, **TINY), FCN8s(seed=2, **TINY)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
        if name.startswith("conv") and name.endswith(".weight"):   # biases start at 0
            assert not np.array_equal(pa.data, pc.data), name
    assert a.drop6.seed == b.drop6.seed != a.drop7.seed
    assert a.drop6.seed != c.drop6.seed
    assert a.conv1_1.weight.data.std() > 0 and not np.array_equal(a.conv1_2.weight.data[:2, :2],
                                                                    a.conv2_1.weight.data[:2, :2])
    # Training mode: dropout masks change from step to step but repeat for a rebuilt model.
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    for m in (a, b):
        randomize(m)
    first, second = a(x), a(x)
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(first, b(x))
    a.eval()
    np.testing.assert_array_equal(a(x), a(x))


def test_caches_hold_no_copies(monkeypatch):
    # The trunk stored in runs (tests/test_runs.py) caches what it takes; here, every pixel.
    monkeypatch.setattr(runs, "ENABLED", False)
    x = np.zeros((1, 3, 9, 9), np.float32)
    model = randomize(FCN8s(**TINY))
    model(x)
    # A conv caches its input, which is the previous ReLU's cached output: one array, not two.
    assert model.conv1_1.cache[0] is x
    assert model.conv1_2.cache[0] is model.relu1_1.cache
    assert model.score_pool4.cache[0] is model.conv5_1.cache[0]      # pool4, shared
    assert model.score_pool3.cache[0] is model.conv4_1.cache[0]      # pool3, shared
    assert isinstance(model.score_pool4c.cache[0], tuple)            # crops keep shapes only
    atonce = randomize(FCN8sAtOnce(**TINY))
    atonce(x)
    np.testing.assert_array_equal(atonce.score_pool4.cache[0],
                                  atonce.conv5_1.cache[0] * np.float32(0.01))
    with nn.no_grad():
        model(x)
    assert all(m.cache is None for m in model.modules())


def assert_same_bits(a, b, err_msg=""):
    """a and b equal bit for bit: +0 and −0 differ here, a NaN equals only the same NaN."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    kind = f"u{a.dtype.itemsize}"
    np.testing.assert_array_equal(a.view(kind), b.view(kind), err_msg=err_msg)


@pytest.mark.parametrize("kernels", ["cpu", "textbook"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_last_relu_of_a_block_after_its_pool_changes_nothing(dtype, kernels):
    """block_forward pools before its last ReLU (a quarter of the pixels): the output and every
    gradient must be the paper's order's, conv → ReLU → pool, bit for bit, on the CPU's kernels
    and on the textbook ones that a GPU takes."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 37, 45)).astype(dtype)
    ours, paper = (randomize(FCN8s(**TINY)).to(dtype=dtype) for _ in range(2))
    with (textbook_only() if kernels == "textbook" else contextlib.nullcontext()):
        h_ours = h_paper = x
        for b in range(1, 6):
            pairs, pool = paper._blocks[b]
            for conv, relu in pairs:
                h_paper = relu(conv(h_paper))
            h_paper = pool(h_paper)
            h_ours = ours.block_forward(b, h_ours)
            assert_same_bits(h_ours, h_paper)
        assert (h_paper == 0).mean() > 0.1          # windows whose max is ≤ 0 were exercised
        d_ours = d_paper = rng.standard_normal(h_paper.shape).astype(dtype)
        for b in range(5, 0, -1):
            pairs, pool = paper._blocks[b]
            d_paper = pool.backward(d_paper)
            for conv, relu in reversed(pairs):
                d_paper = conv.backward(relu.backward(d_paper))
            d_ours = ours.block_backward(b, d_ours)
            assert_same_bits(d_ours, d_paper)
    for (name, p), (_, q) in zip(ours.named_parameters(), paper.named_parameters()):
        if p.grad is not None or q.grad is not None:
            assert_same_bits(p.grad, q.grad, err_msg=name)


def test_device_and_dtype_moves():
    model = randomize(FCN16s(**TINY)).to(dtype=np.float64)
    assert all(p.data.dtype == np.float64 for p in model.parameters())
    score = model(np.zeros((1, 3, 7, 7)))
    assert score.dtype == np.float64
    assert model.device == "cpu"


def test_get_model_and_config_round_trip():
    for name, cls in [("fcn32s", FCN32s), ("FCN16s", FCN16s), ("fcn8s", FCN8s),
                      ("fcn8s-atonce", FCN8sAtOnce), ("fcn8s_atonce", FCN8sAtOnce),
                      ("vgg16", VGG16)]:
        model = models.get_model(name, seed=3, **TINY)
        assert type(model) is cls
        rebuilt = cls(**model.config)
        for (n, p), q in zip(model.named_parameters(), rebuilt.parameters()):
            np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(ValueError, match="fcn8s"):
        models.get_model("fcn4s")


def test_class_names_and_input_convention():
    assert FCN8s(**TINY).class_names == list(data.VOC_CLASSES)
    assert FCN8s(n_class=3, **TINY).class_names is None
    named = FCN8s(n_class=2, class_names=["bg", "cat"], **TINY)
    assert named.config["class_names"] == ["bg", "cat"]
    assert FCN8s(**TINY).input_convention == "caffe"
    tv = FCN32s(input_convention="torchvision", **TINY)
    assert tv.config["input_convention"] == "torchvision"
    with pytest.raises(ValueError, match="convention"):
        FCN8s(input_convention="bgr", **TINY)
    with pytest.raises(ValueError, match="class names"):
        FCN8s(n_class=3, class_names=["a"], **TINY)


def test_staged_copies():
    fcn32s = randomize(FCN32s(**TINY), seed=1)
    fcn32s.input_convention = "torchvision"
    fcn16s = FCN16s(**TINY)
    copied, reinitialized = fcn16s.copy_params_from(fcn32s)
    assert reinitialized == []
    assert set(copied) == {f"{n}.{p}" for n in LEARNED for p in ("weight", "bias")}
    for name in copied:
        np.testing.assert_array_equal(fcn16s.state_dict()[name], fcn32s.state_dict()[name])
    assert not fcn16s.score_pool4.weight.data.any()
    np.testing.assert_array_equal(fcn16s.upscore2.weight.data, F.bilinear_weight(21, 21, 4))
    assert fcn16s.input_convention == "torchvision"
    fcn16s = randomize(fcn16s, seed=2)
    for cls in (FCN8s, FCN8sAtOnce):
        fcn8s = cls(**TINY)
        copied = fcn8s.copy_params_from(fcn16s).copied
        assert set(copied) == set(fcn16s.state_dict()) - {"upscore16.weight"}
        np.testing.assert_array_equal(fcn8s.score_pool4.weight.data, fcn16s.score_pool4.weight.data)
        assert not fcn8s.score_pool3.weight.data.any()
    with pytest.raises(ValueError, match="shape"):              # another width
        FCN16s(base_channels=2, fc_channels=8).copy_params_from(fcn32s)


def test_vgg16_classifier():
    vgg = randomize(VGG16(**TINY), scale=0.5).eval()
    assert vgg.class_names is None and vgg.fc6.weight.shape == (4, 16 * 7 * 7)
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    out = vgg(x)
    assert out.shape == (2, 1000)
    assert vgg.backward(np.ones_like(out)).shape == x.shape
    with pytest.raises(ValueError, match="224"):
        vgg(np.zeros((1, 3, 200, 224), np.float32))


@pytest.mark.parametrize("cls", FCNS)
def test_from_vgg16_convolutionizes_fc6_and_fc7(cls):
    vgg = randomize(VGG16(input_convention="torchvision", **TINY), scale=0.5).eval()
    fcn = cls.from_vgg16(vgg, n_class=5).eval()
    assert fcn.n_class == 5 and fcn.input_convention == "torchvision"
    assert fcn.config["input_convention"] == "torchvision"
    for name in CONVS:
        np.testing.assert_array_equal(getattr(fcn, name).weight.data,
                                      getattr(vgg, name).weight.data)
    assert not fcn.score_fr.weight.data.any()                      # fc8 is dropped
    # On VGG's 7×7 pool5 the convolutionized fc6/fc7 compute exactly VGG's fc6/fc7.
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    vgg(x)
    pool5 = vgg.fc6.cache[0].reshape(2, 16, 7, 7)                 # fc6's input, unflattened
    fc7_vgg = vgg.relu7.cache                                     # after fc7 and its ReLU
    fc7_fcn = fcn.relu7(fcn.fc7(fcn.relu6(fcn.fc6(pool5))))       # (2, 4, 1, 1)
    np.testing.assert_allclose(fc7_fcn[:, :, 0, 0], fc7_vgg, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="widths"):
        cls(base_channels=4, fc_channels=4).copy_params_from_vgg16(vgg)
    other = cls(**TINY)
    assert "fc6.weight" in other.copy_params_from(vgg).copied    # a VGG16 is convolutionized
    np.testing.assert_array_equal(other.fc6.weight.data, fcn.fc6.weight.data)


BLOBS = ["pool1", "pool2", "pool3", "pool4", "pool5", "fc6", "fc7", "score_fr"]
SKIP4 = ["upscore2", "score_pool4", "score_pool4c", "fuse_pool4"]
SKIP3 = ["upscore_pool4", "score_pool3", "score_pool3c", "fuse_pool3"]
BLOB_NAMES = {   # the Caffe prototxts' tops, in the order the forward computes them
    FCN32s: BLOBS + ["upscore", "score"],
    FCN16s: BLOBS + SKIP4 + ["upscore16", "score"],
    FCN8s: BLOBS + SKIP4 + SKIP3 + ["upscore8", "score"],
    FCN8sAtOnce: BLOBS + SKIP4 + SKIP3 + ["upscore8", "score"],
}


@pytest.mark.parametrize("cls", FCNS)
def test_forward_returns_the_named_blobs(cls):
    model = randomize(cls(n_class=3, **TINY)).eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 37, 29)).astype(np.float32)
    score, blobs = model.forward(x, return_blobs=True)
    assert list(blobs) == BLOB_NAMES[cls]
    assert blobs["score"] is score
    np.testing.assert_array_equal(score, model(x))
    # The sizes of docs/fcn.md §2's 500×500 walk-through (sizes do not depend on the widths).
    big = cls(n_class=2, base_channels=1, fc_channels=1).eval()
    with nn.no_grad():
        _, b = big.forward(np.zeros((1, 3, 500, 500), np.float32), return_blobs=True)
    sides = {k: v.shape[-1] for k, v in b.items()}
    assert [sides[f"pool{i}"] for i in range(1, 6)] == [349, 175, 88, 44, 22]
    assert sides["fc7"] == sides["score_fr"] == 16 and sides["score"] == 500
    if "fuse_pool4" in b:
        assert sides["score_pool4"] == 44 and sides["fuse_pool4"] == 34
    if "fuse_pool3" in b:
        assert sides["score_pool3"] == 88 and sides["fuse_pool3"] == 70
    # The blobs are the sums and crops they are named after.
    if "fuse_pool4" in blobs:
        np.testing.assert_array_equal(blobs["fuse_pool4"],
                                      blobs["upscore2"] + blobs["score_pool4c"])
        np.testing.assert_array_equal(blobs["score_pool4c"],
                                      blobs["score_pool4"][:, :, 5:5 + blobs["upscore2"].shape[2],
                                                           5:5 + blobs["upscore2"].shape[3]])


def test_at_once_differs_from_fcn8s_only_by_its_two_factors():
    fcn8s = randomize(FCN8s(n_class=3, **TINY)).eval()
    atonce = FCN8sAtOnce(n_class=3, **TINY).eval()
    atonce.load_state_dict(fcn8s.state_dict())
    x = np.random.default_rng(1).standard_normal((1, 3, 21, 26)).astype(np.float32)
    _, b8 = fcn8s.forward(x, return_blobs=True)
    _, ba = atonce.forward(x, return_blobs=True)
    for name in BLOBS:
        np.testing.assert_array_equal(ba[name], b8[name])
    # score_pool4 = conv(0.01 · pool4): its bias is unscaled, its weighted part is.
    for pool, factor in (("pool4", 0.01), ("pool3", 0.0001)):
        conv = getattr(atonce, f"score_{pool}")
        bias = conv.bias.data.reshape(1, -1, 1, 1)
        np.testing.assert_allclose(ba[f"score_{pool}"] - bias,
                                   factor * (b8[f"score_{pool}"] - bias), rtol=1e-4, atol=1e-7)
    assert type(atonce).forward is FCN8s.forward and type(atonce).backward is FCN8s.backward
    assert isinstance(fcn8s.scale_pool4, nn.Identity) and atonce.scale_pool4.factor == 0.01


def test_a_variant_is_its_skips():
    """FCN32s, FCN16s and FCN8s differ only in their skips; the layers, the blob names and
    the final upsampling follow from them."""
    pool4, pool3 = models.Skip("pool4"), models.Skip("pool3")
    assert [FCN32s.skips, FCN16s.skips, FCN8s.skips] == [(), (pool4,), (pool4, pool3)]
    assert [s.scale for s in FCN8sAtOnce.skips] == [0.01, 0.0001]
    assert all(cls.forward is models.FCN.forward and cls.backward is models.FCN.backward
               for cls in FCNS)
    finals = {FCN32s: ("upscore", 64, 32), FCN16s: ("upscore16", 32, 16),
              FCN8s: ("upscore8", 16, 8)}
    for cls, (name, k, s) in finals.items():
        layer = getattr(cls(**TINY), name)
        assert (layer.kernel_size, layer.stride) in ((k, s), ((k, k), (s, s)))
    assert [s.upscore_name for s in FCN8s(**TINY)._skips] == ["upscore2", "upscore_pool4"]


def test_identity_passes_both_ways():
    x = np.arange(6.0).reshape(2, 3)
    layer = nn.Identity()
    assert layer(x) is x and layer.backward(x) is x


def test_main_job_and_paper_geometries_are_one_call_each():
    paper, main = FCN8s(), FCN8s.main_job()
    assert (paper.conv1_1_padding, paper.fc6_padding, paper.drop6.p) == (100, 0, 0.5)
    assert paper.crop_offsets == {"score_pool4c": 5, "score_pool3c": 9, "score": 31}
    assert (main.conv1_1_padding, main.fc6_padding, main.drop6.p) == (0, 3, 0.0)
    assert (main.n_class, main.base_channels, main.fc_channels) == (5, 8, 128)
    assert main.crop_offsets == {"score_pool4c": -1, "score_pool3c": -3, "score": 27}
    assert FCN16s.main_job().crop_offsets == {"score_pool4c": -1, "score": 23}
    assert FCN32s.main_job().crop_offsets == {"score": 15}
    # keywords override the preset: the paper's geometry at the main job's widths
    back = FCN8s.main_job(conv1_1_padding=100, fc6_padding=0)
    assert back.crop_offsets == paper.crop_offsets and back.base_channels == 8


def test_fine_tuning_to_another_number_of_classes():
    source = randomize(FCN16s(input_convention="torchvision", **TINY), seed=1)   # 21 VOC classes
    target = randomize(FCN8s(n_class=5, class_names=list("abcde"), learn_upsampling=True,
                             **TINY), seed=2)    # trained before: the re-initialisation shows
    result = target.copy_params_from(source)
    class_layers = {"score_fr", "score_pool4", "upscore2"}     # in both, shaped by n_class
    assert set(result.reinitialized) == {"score_fr.weight", "score_fr.bias",
                                         "score_pool4.weight", "score_pool4.bias",
                                         "upscore2.weight"}
    assert set(result.copied) == {f"{n}.{p}" for n in LEARNED if n != "score_fr"
                                  for p in ("weight", "bias")}
    for name in result.copied:
        np.testing.assert_array_equal(target.state_dict()[name], source.state_dict()[name])
    for name in ("score_fr", "score_pool4"):                    # as a new FCN's: zero
        assert not getattr(target, name).weight.data.any()
        assert not getattr(target, name).bias.data.any()
    np.testing.assert_array_equal(target.upscore2.weight.data, F.bilinear_weight(5, 5, 4))
    assert target.upscore2.weight.requires_grad                 # learn_upsampling still holds
    # Not in the source: left as they were (score_pool3 stays what this model had).
    assert target.score_pool3.weight.data.any() and target.upscore8.weight.data.std() > 0
    assert set(target.class_layers()) == class_layers | {"score_pool3", "upscore_pool4",
                                                         "upscore8"}
    assert target.class_names == list("abcde")                 # the target's data, not VOC's
    assert target.input_convention == "torchvision"             # describes the weights
    summary = result.summary()
    assert "copied 30 arrays" in summary and "score_fr, score_pool4, upscore2" in summary
    assert target(np.zeros((1, 3, 9, 7), np.float32)).shape == (1, 5, 9, 7)


def test_fine_tuning_keeps_the_other_shape_errors_and_changes_nothing():
    source = randomize(FCN32s(**TINY), seed=1)
    target = randomize(FCN32s(n_class=5, base_channels=2, fc_channels=8), seed=2)
    before = {k: v.copy() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=r"fc6.weight has shape \(4, 16, 7, 7\)"):
        target.copy_params_from(source)                          # another width as well
    for name, value in target.state_dict().items():             # nothing half-copied
        np.testing.assert_array_equal(value, before[name])
    same = FCN32s(**TINY)
    result = same.copy_params_from(source)                       # same n_class: all copied
    assert result.reinitialized == [] and "re-initialised" not in result.summary()


def test_fine_tuned_model_saves_and_reloads_with_the_targets_classes(tmp_path):
    io = pytest.importorskip("minifcn.io")
    source = randomize(FCN32s(**TINY), seed=3)
    target = FCN32s(n_class=3, class_names=["bg", "road", "car"], **TINY)
    target.copy_params_from(source)
    io.save(target, str(tmp_path / "m.npz"))
    loaded = io.load(str(tmp_path / "m.npz"))
    assert loaded.n_class == 3 and loaded.class_names == ["bg", "road", "car"]
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)


def test_vgg16_source_for_any_number_of_classes():
    vgg = randomize(VGG16(**TINY), scale=0.5)
    fcn = FCN8s(n_class=4, **TINY)
    result = fcn.copy_params_from(vgg)
    assert result.reinitialized == [] and "fc8.weight" not in result.copied
    assert "fc7.weight" in result.copied and not fcn.score_fr.weight.data.any()
