"""The optimised paths of the kernels against the naive references and the general path.

Each optimisation in minifcn.functional has a test here: implicit padding in im2col/col2im
(against a padded copy), bands and the reused workspace (against one band), both orientations of
the weight-gradient GEMM, the clipped max-pool windows (no −inf padded copy) and their backward
written straight into dx, and ReLU in place. Odd sizes, strides 1–3, padding (up to FCN's 100),
dilation 2, ceil mode, float32 and float64; gradients still checked numerically.
"""
import numpy as np
import pytest

import minifcn.functional as F
from minifcn import nn
from minifcn.backend import to_cpu
from minifcn.functional.cpu import conv as conv_mod
from minifcn.functional import naive
from minifcn.functional.cpu import pool as pool_mod
from minifcn.functional.cpu import bands, shifted, textbook_only, workspace
from minifcn.functional.cpu.bands import col2im_rows, im2col_rows
from minifcn.functional.im2col import pad2d, window_view
from minifcn.functional.sizes import conv_geometry
from minifcn.gradcheck import check_layer

CASES = [  # (N, C, H, W, O, k, stride, pad, dilation)
    (2, 3, 7, 9, 4, 3, 1, 1, 1),
    (1, 2, 8, 5, 3, 3, 2, 0, 1),
    (2, 3, 9, 11, 2, 2, 3, 4, 2),
    (1, 3, 5, 4, 5, 3, 1, 100, 1),     # conv1_1: nearly every window reads padding
    (1, 2, 11, 7, 3, 3, 2, 2, 2),
    (1, 4, 7, 7, 3, 7, 1, 0, 1),       # fc6-like
    (1, 6, 3, 4, 2, 1, 1, 0, 1),       # 1×1, pixels (12) ≥ O: transposed weight-grad GEMM
    (1, 2, 3, 3, 40, 3, 1, 0, 1),      # pixels (1) < O: direct weight-grad GEMM
]


def _band_sizes(oh):
    return [oh, 1, 2]                   # one band, one row per band, uneven bands


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("unfold", ["offsets", "one view"])
def test_im2col_implicit_padding_equals_padded_copy(xp, case, dtype, unfold, monkeypatch):
    # "one view": bands.py's small-input path (a padded copy, one strided copy) for every case
    monkeypatch.setattr(bands, "SMALL_INPUT", 0 if unfold == "offsets" else 10 ** 9)
    monkeypatch.setattr(bands, "MAX_LOOP_OFFSETS", 0)
    N, C, H, W, O, k, s, p, d = case
    x = xp.asarray(np.random.default_rng(0).standard_normal((N, C, H, W)).astype(dtype))
    oh, ow = F.conv_output_size(H, k, s, p, d), F.conv_output_size(W, k, s, p, d)
    geo = ((k, k), (s, s), (d, d))
    for r0, r1 in [(0, oh), (oh // 2, oh), (0, 1)]:
        fast = im2col_rows(x, *geo, r0, r1, ow, padding=(p, p))
        with monkeypatch.context() as offset_loop:        # the reference: a padded copy, the
            offset_loop.setattr(bands, "SMALL_INPUT", 0)  # offsets' loop
            ref = im2col_rows(pad2d(x, p, p), *geo, r0, r1, ow)
        np.testing.assert_array_equal(to_cpu(fast), to_cpu(ref))
        # and the adjoint: col2im into the unpadded gradient = padded col2im, then cropped
        dx = xp.zeros((N, C, H, W), dtype=dtype)
        dxpad = xp.zeros((N, C, H + 2 * p, W + 2 * p), dtype=dtype)
        col2im_rows(fast, dx, (s, s), (d, d), r0, padding=(p, p))
        col2im_rows(fast, dxpad, (s, s), (d, d), r0)
        np.testing.assert_allclose(to_cpu(dx), to_cpu(dxpad[:, :, p:p + H, p:p + W]),
                                   atol=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_bands_and_workspace_match_naive(case, dtype, monkeypatch):
    monkeypatch.setattr(shifted, "MAX_CHANNELS", 0)         # the im2col path, in bands
    N, C, H, W, O, k, s, p, d = case
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(shape).astype(dtype)
               for shape in ((N, C, H, W), (O, C, k, k), (O,)))
    ref = naive.conv2d_naive(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                             s, p, d)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    results = []
    for chunk in (None, 1, 3 * C * k * k * ref.shape[3] * x.itemsize):   # all, 1 row, 3 rows
        monkeypatch.setattr(workspace, "CHUNK_BYTES", chunk or 2 ** 27)
        out, cache = F.conv2d_forward(x, w, b, s, p, d)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
        dout = rng.standard_normal(out.shape).astype(dtype) if not results else results[0][0]
        results.append((dout, *F.conv2d_backward(dout, cache)))
    for r in results[1:]:                                # every banding gives the same grads
        for got, want in zip(r[1:], results[0][1:]):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("C,O,H,W", [(5, 4, 6, 7),      # C·9 ≥ O, many pixels: tall dW2ᵀ
                                     (1, 12, 6, 7),     # C·9 < O: direct (conv1_1's case)
                                     (3, 40, 3, 3)])    # 1 pixel < O: direct (fc6's case)
def test_weight_grad_orientations_match_the_definition(C, O, H, W, rng):
    x, dy = rng.standard_normal((2, C, H, W)), rng.standard_normal((2, O, H - 2, W - 2))
    g = conv_geometry((H, W), (3, 3), 1, 0, 1)
    ref = np.zeros((O, C, 3, 3))
    for ky in range(3):
        for kx in range(3):         # dW[o, c, ky, kx] = Σ dy[n, o, i, j] x[n, c, i+ky, j+kx]
            window = x[:, :, ky:ky + H - 2, kx:kx + W - 2]
            ref[:, :, ky, kx] = np.einsum("nohw,nchw->oc", dy, window)
    np.testing.assert_allclose(conv_mod._conv_weight_grad(x, dy, (O, C, 3, 3), g), ref,
                               atol=1e-10)


def test_workspace_is_reused_and_grown(monkeypatch):
    monkeypatch.setattr(shifted, "MAX_CHANNELS", 0)
    workspace._BUFFERS.clear()
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)
    F.conv2d_forward(x, w, None, 1, 1)
    (buf,) = workspace._BUFFERS.values()
    F.conv2d_forward(x, w, None, 1, 1)
    assert next(iter(workspace._BUFFERS.values())) is buf
    F.conv2d_forward(np.ones((1, 4, 9, 9), np.float32), np.ones((3, 4, 3, 3), np.float32), None,
                     1, 1)
    assert next(iter(workspace._BUFFERS.values())).size > buf.size
    F.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    assert len(workspace._BUFFERS) == 2                   # one per dtype


@pytest.mark.parametrize("case", [(3, 2, 0, True), (3, 2, 1, True), (2, 2, 0, True),
                                  (2, 2, 0, False), (3, 3, 1, False), (3, 1, 1, True),
                                  (2, 3, 0, True), (2, 3, 1, False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block_bytes", [pool_mod.BLOCK_BYTES, 1], ids=["blocks", "per-channel"])
def test_max_pool_clipped_windows_match_naive(xp, case, dtype, block_bytes, monkeypatch):
    monkeypatch.setattr(pool_mod, "BLOCK_BYTES", block_bytes)   # 1: one channel at a time
    k, s, p, ceil_mode = case
    x = np.random.default_rng(3).standard_normal((2, 3, 11, 8)).astype(dtype)
    out, cache = F.max_pool2d_forward(xp.asarray(x), k, s, p, ceil_mode)
    np.testing.assert_array_equal(to_cpu(out), naive.max_pool2d_naive(x, k, s, p, ceil_mode))
    # backward: each output's gradient lands on the first maximum of its (clipped) window
    dout = np.random.default_rng(4).standard_normal(out.shape).astype(dtype)
    dx = to_cpu(F.max_pool2d_backward(xp.asarray(dout), cache))
    ref = naive.max_pool2d_backward_naive(dout, x, k, s, p, ceil_mode)
    np.testing.assert_allclose(dx, ref, atol=1e-6)


def test_fcn_pool_sizes_on_the_fast_path():
    # conv1 of FCN at 375×500 is 573×698: odd height, ceil mode keeps the last half window.
    x = np.random.default_rng(5).standard_normal((1, 2, 573, 698)).astype(np.float32)
    out, cache = F.max_pool2d_forward(x, 2, 2, 0, True)
    assert out.shape == (1, 2, 287, 349)
    np.testing.assert_array_equal(out[:, :, -1], np.maximum(x[:, :, -1, 0::2], x[:, :, -1, 1::2]))
    dx = F.max_pool2d_backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and dx.sum() == out.size    # one winner per window


@pytest.mark.parametrize("bias", [True, False])
def test_padding_trim_computes_what_the_whole_convolution_does(rng, monkeypatch, bias):
    # conv1_1 of FCN: with padding 100 most windows see only padding; the trimmed convolution
    # computes the others and writes the bias (or 0) around them, and only they send gradient.
    x = rng.standard_normal((2, 3, 6, 5))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4) if bias else None
    dout = rng.standard_normal((2, 4, 204, 203))
    margin, inner = conv_mod.padding_margin(conv_geometry((6, 5), 3, 1, 100), (6, 5))
    assert margin == (98, 98) and inner.out_hw == (8, 7)    # padding 2 is left inside
    results = []
    for trim in (True, False):
        monkeypatch.setattr(conv_mod, "PADDING_TRIM", trim)
        out, cache = conv_mod.conv2d_forward(x, w, b, 1, 100)
        results.append((out, *conv_mod.conv2d_backward(dout, cache)))
    for got, ref in zip(*results):
        if ref is not None:
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=2, dilation=2, seed=0, dtype=np.float64),
     (1, 3, 9, 8)),
    (lambda: nn.Conv2d(3, 5, 3, padding=100, seed=0, dtype=np.float64), (1, 3, 3, 4)),
    (lambda: nn.Conv2d(3, 3, 3, padding=1, seed=0, dtype=np.float64), (1, 3, 5, 4)),
    (lambda: nn.Conv2d(2, 3, 3, padding=1, seed=0, dtype=np.float64), (1, 2, 5, 4)),   # O > C
    (lambda: nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, seed=0, dtype=np.float64),
     (1, 3, 4, 5)),
    (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (1, 2, 7, 8)),
])
@pytest.mark.parametrize("max_shifted", [0, 16], ids=["im2col", "shifted"])
def test_fast_paths_still_pass_gradient_checks(make, shape, rng, monkeypatch, max_shifted):
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 1)        # many bands, one workspace
    monkeypatch.setattr(shifted, "MAX_CHANNELS", max_shifted)
    monkeypatch.setattr(shifted, "MIN_CHANNELS", 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")          # every O ≤ C, not only O ≤ 8
    monkeypatch.setattr(shifted, "BAND_BYTES", 1)           # one output row per band
    calls = []
    monkeypatch.setattr(shifted, "conv_apply",
                        lambda *a, f=shifted.conv_apply: calls.append(1) or f(*a))
    layer = make()
    errors = check_layer(layer, rng.standard_normal(shape), n_samples=40)
    assert max(errors.values()) < 1e-7, errors
    # shifted.py computes every stride-1 convolution here: with O ≤ C its forward, with O > C
    # its data gradient, a convolution of dy (O → C channels) padded by k − 1 − p (the padding
    # trim leaves p = 100 at k − 1)
    stride_one = isinstance(layer, nn.Conv2d) and layer.stride == (1, 1)
    assert bool(calls) == (max_shifted > 0 and stride_one)


def test_relu_inplace_matches_and_overwrites(xp, rng):
    x = xp.asarray(rng.standard_normal((2, 3, 5, 4)))
    ref, _ = F.relu_forward(x.copy())
    y = x.copy()
    out, cache = F.relu_forward(y, inplace=True)
    assert out is y and cache is y
    np.testing.assert_array_equal(to_cpu(out), to_cpu(ref))
    dout = xp.asarray(rng.standard_normal(x.shape))
    np.testing.assert_array_equal(to_cpu(F.relu_backward(dout, cache)),
                                  to_cpu(dout * (x > 0)))
    layer = nn.ReLU(inplace=True)
    assert "inplace=True" in repr(layer)
    z = x.copy()
    assert layer(z) is z


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
def test_relu_against_zero_blocks_is_bitwise_the_textbook(dtype, inplace, monkeypatch):
    # cpu/activation.py compares x with a block of zeros, chunk by chunk: here chunks of 7
    # elements, so that the last one is partial; NaN, ±0 and ±inf included.
    from minifcn.functional import activation as textbook
    from minifcn.functional.cpu import activation as fast
    from minifcn.functional import cpu
    monkeypatch.setattr(fast, "CHUNK", 7)
    monkeypatch.setattr(workspace, "_CONSTANTS", {})
    calls = []
    monkeypatch.setitem(cpu.FAST, "relu_forward",
                        lambda *a, **k: calls.append(1) or fast.relu_forward(*a, **k))
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4)).astype(dtype)
    x.reshape(-1)[:6] = [np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf]
    ref, _ = textbook.relu_forward(x.copy())
    y = x.copy()
    out, cache = F.relu_forward(y, inplace=inplace)
    assert calls and cache is out and (out is y) == inplace and out.dtype == dtype
    assert workspace._CONSTANTS[0, np.dtype(dtype)].size == 7     # the zero block was used
    np.testing.assert_array_equal(out.view(np.uint8), ref.view(np.uint8))    # bit for bit
    dout = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    np.testing.assert_array_equal(F.relu_backward(dout, cache), dout * (ref > 0))
    strided = x[:, :, ::2]                    # not contiguous: the textbook's own line
    np.testing.assert_array_equal(F.relu_forward(strided)[0], np.maximum(strided, 0))
    for other in (-1.5, [1.0, -2.0], np.float32(-2), x.astype(x.dtype.newbyteorder())):
        got, want = F.relu_forward(other)[0], textbook.relu_forward(other)[0]
        assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got, want)


def test_relu_inplace_after_conv_keeps_the_conv_gradient(rng):
    # The FCN pattern relu(conv(h)): the conv caches its input, so overwriting its output is safe.
    conv = nn.Conv2d(2, 3, 3, padding=1, seed=0, dtype=np.float64)
    x = rng.standard_normal((1, 2, 5, 6))
    seq_ref = nn.Sequential(conv, nn.ReLU())
    seq_fast = nn.Sequential(conv, nn.ReLU(inplace=True))
    dout = rng.standard_normal((1, 3, 5, 6))
    conv.zero_grad()
    a = seq_ref(x)
    da = seq_ref.backward(dout)
    ga = conv.weight.grad.copy()
    conv.zero_grad()
    b = seq_fast(x)
    db = seq_fast.backward(dout)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(da, db)
    np.testing.assert_array_equal(conv.weight.grad, ga)


# --- the frozen bilinear upsampling: per class, separable -------------------------------------
BILINEAR_CASES = [  # (N, C, H, W, k, stride, pad)
    (1, 3, 5, 4, 4, 2, 0),          # upscore2
    (2, 2, 3, 6, 16, 8, 0),         # upscore8
    (1, 2, 4, 3, 4, 2, 1),          # padded
    (1, 1, 3, 3, 64, 32, 0),        # FCN-32s' upscore
    (1, 2, 5, 4, 3, 2, 1),          # odd kernel
]


@pytest.mark.parametrize("case", BILINEAR_CASES)
def test_bilinear_separable_path_equals_general_deconv(xp, case, rng):
    N, C, H, W, k, s, p = case
    x = xp.asarray(rng.standard_normal((N, C, H, W)))
    w = xp.asarray(F.bilinear_weight(C, C, k, dtype=np.float64))
    assert F.is_bilinear_weight(w)
    general, gcache = F.conv_transpose2d_forward(x, w, None, s, p)
    fast, fcache = F.bilinear_upsample_forward(x, (k, k), (s, s), (p, p))
    np.testing.assert_allclose(to_cpu(fast), to_cpu(general), rtol=1e-12, atol=1e-12)
    dout = xp.asarray(rng.standard_normal(general.shape))
    dx_general, _, _ = F.conv_transpose2d_backward(dout, gcache, need_dw=False)
    np.testing.assert_allclose(to_cpu(F.bilinear_upsample_backward(dout, fcache)),
                               to_cpu(dx_general), rtol=1e-12, atol=1e-12)
    # and both against the naive references
    xn, dn = to_cpu(x), to_cpu(dout)
    np.testing.assert_allclose(to_cpu(fast), naive.conv_transpose2d_naive(xn, to_cpu(w), None,
                                                                          s, p), atol=1e-12)
    dx_ref, _, _ = naive.conv_transpose2d_backward_naive(dn, xn, to_cpu(w), s, p)
    np.testing.assert_allclose(to_cpu(F.bilinear_upsample_backward(dout, fcache)), dx_ref,
                               atol=1e-12)


def test_only_an_exact_bilinear_weight_takes_the_separable_path(rng):
    w = F.bilinear_weight(3, 3, 4)
    assert F.is_bilinear_weight(w)
    for change in (lambda v: v.__setitem__((0, 1, 0, 0), 1e-3),      # mixes two classes
                   lambda v: v.__setitem__((2, 2, 1, 1), 0.5)):      # not bilinear
        v = w.copy()
        change(v)
        assert not F.is_bilinear_weight(v)
    assert not F.is_bilinear_weight(F.bilinear_weight(3, 2, 4))     # not square in classes
    layer = nn.ConvTranspose2d(3, 3, 4, 2, bias=False, dtype=np.float64)
    layer.weight.data = F.bilinear_weight(3, 3, 4, dtype=np.float64)
    assert not layer.is_frozen_bilinear()                           # learning: general path
    layer.weight.requires_grad = False
    assert layer.is_frozen_bilinear()
    layer.weight.data[0, 0, 0, 0] += 1                              # changed in place
    assert not layer.is_frozen_bilinear()


def test_frozen_deconv_layer_matches_the_learning_one_and_gets_no_weight_grad(rng):
    x = rng.standard_normal((2, 3, 5, 4))
    layers = []
    for frozen in (False, True):
        layer = nn.ConvTranspose2d(3, 3, 16, 8, bias=False, dtype=np.float64)
        layer.weight.data = F.bilinear_weight(3, 3, 16, dtype=np.float64)
        layer.weight.requires_grad = not frozen
        layers.append(layer)
    outs = [layer(x) for layer in layers]
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(outs[0].shape)
    dxs = [layer.backward(dout) for layer in layers]
    np.testing.assert_allclose(dxs[1], dxs[0], rtol=1e-12, atol=1e-12)
    assert layers[0].weight.grad is not None and layers[1].weight.grad is None


def test_frozen_conv_gets_no_weight_grad_but_the_same_input_grad(rng):
    conv = nn.Conv2d(2, 3, 3, padding=1, seed=0, dtype=np.float64)
    x, dout = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((1, 3, 5, 6))
    conv(x)
    dx = conv.backward(dout)
    conv.zero_grad()
    conv.weight.requires_grad = False
    conv(x)
    np.testing.assert_array_equal(conv.backward(dout), dx)
    assert conv.weight.grad is None and conv.bias.grad is not None


@pytest.mark.parametrize("case", [(2, 5, 7, 6, 4, 3, 1, 1), (1, 4, 9, 8, 4, 3, 1, 2),
                                  (1, 3, 6, 7, 2, 3, 2, 2),           # dilation 2
                                  (1, 6, 5, 5, 6, 1, 1, 0)])          # 1×1, O = C
def test_one_im2col_of_dy_gives_both_gradients(case, rng, monkeypatch):
    # stride 1, O ≤ C: the weight gradient comes from the data gradient's windows of dy, and
    # x is never unfolded (the separate weight gradient would raise)
    N, C, H, W, O, k, d, p = case
    monkeypatch.setattr(shifted, "MAX_CHANNELS", 0)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, k, k))
    out, cache = F.conv2d_forward(x, w, None, 1, p, d)
    dout = rng.standard_normal(out.shape)

    def unfolds_x(*args):
        raise AssertionError("x was unfolded for the weight gradient")
    monkeypatch.setattr(conv_mod, "_conv_weight_grad", unfolds_x)
    dx, dw, _ = F.conv2d_backward(dout, cache)
    want_dx, want_dw, _ = naive.conv2d_backward_naive(dout, x, w, 1, p, d)
    np.testing.assert_allclose(dx, want_dx, atol=1e-10)
    np.testing.assert_allclose(dw, want_dw, atol=1e-10)


def test_a_score_layer_unfolds_x_for_its_tall_weight_gradient(rng, monkeypatch):
    # 1×1, O < C (score_fr): dW from dy's windows would be a wide (O, C) product, so the
    # weight gradient keeps its own tall one
    x, w = rng.standard_normal((1, 16, 5, 6)), rng.standard_normal((3, 16, 1, 1))
    out, cache = F.conv2d_forward(x, w, None, 1, 0)
    dout = rng.standard_normal(out.shape)
    calls = []
    monkeypatch.setattr(conv_mod, "_conv_weight_grad",
                        lambda *a, f=conv_mod._conv_weight_grad: calls.append(1) or f(*a))
    dx, dw, _ = F.conv2d_backward(dout, cache)
    want_dx, want_dw, _ = naive.conv2d_backward_naive(dout, x, w, 1, 0, 1)
    np.testing.assert_allclose(dx, want_dx, atol=1e-10)
    np.testing.assert_allclose(dw, want_dw, atol=1e-10)
    assert calls


@pytest.mark.parametrize("C,O,k,p,d", [(4, 3, 3, 1, 1), (3, 3, 3, 2, 2), (5, 2, 2, 0, 1),
                                       (2, 2, 7, 0, 1), (3, 3, 3, 0, 1)])
def test_stride_one_data_grad_as_a_convolution_equals_col2im(C, O, k, p, d, rng):
    # O ≤ C and stride 1: dx is computed as a convolution of dy with the flipped kernel.
    x, w = rng.standard_normal((2, C, 9, 8)), rng.standard_normal((O, C, k, k))
    g = conv_geometry(x.shape[2:], (k, k), 1, p, d)
    dy = rng.standard_normal((2, O, *g.out_hw))
    np.testing.assert_allclose(conv_mod._conv_data_grad(dy, w, x.shape, g),
                               conv_mod._conv_data_grad_col2im(dy, w, x.shape, g),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [(2, 3, 7, 9, 4, 3, 1), (1, 5, 6, 5, 3, 2, 2),
                                  (1, 2, 9, 4, 2, 1, 1), (1, 16, 5, 6, 3, 3, 1),
                                  (2, 1, 8, 7, 2, 3, 3)])
@pytest.mark.parametrize("band_bytes", [1, 2 ** 20])
def test_shifted_products_equal_im2col(case, band_bytes, rng, monkeypatch):
    # shifted.py's forward against the im2col path, one output row per band or all of them
    N, C, H, W, O, k, d = case
    monkeypatch.setattr(shifted, "BAND_BYTES", band_bytes)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, k, k))
    g = conv_geometry((H, W), (k, k), 1, 1, d)
    got = shifted.conv_apply(x, w, g)
    monkeypatch.setattr(shifted, "MAX_CHANNELS", 0)
    np.testing.assert_allclose(got, conv_mod._conv_apply(x, w, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel,pad,dil", [((3, 3), (2, 2), 2),    # taps 2·Wp and 2 apart
                                            ((2, 5), (0, 2), 1)])   # kh ≠ kw, ph ≠ pw
def test_shifted_bands_on_threads_are_bitwise_one_thread(dtype, kernel, pad, dil, monkeypatch):
    # Threads take whole bands (3 output rows each here, so 3 threads get uneven shares, each
    # band long enough that threads sharing a buffer would clash), and each band is one batched
    # product and one sum however many threads there are.
    from minifcn.functional.cpu import threads
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8, 40, 33)).astype(dtype)
    w = rng.standard_normal((8, 8, *kernel)).astype(dtype)
    g = conv_geometry((40, 33), kernel, 1, pad, dil)
    Wp = 33 + 2 * pad[1]
    monkeypatch.setattr(shifted, "BAND_BYTES", 3 * (11 * 8) * Wp * x.itemsize)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")
    one = shifted.conv_apply(x, w, g)
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "3")
    many = shifted.conv_apply(x, w, g)
    np.testing.assert_array_equal(one, many)
    with textbook_only():                     # the textbook takes (ph, pw); the naive loops don't
        ref, _ = F.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, pad, dil)
    np.testing.assert_allclose(many, ref, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("C,O,shared", [(8, 8, True), (8, 16, False)])
def test_the_backward_shares_dy_windows_unless_dy_is_wider(C, O, shared, monkeypatch):
    # conv1_2 (8 → 8): one im2col of dy for both gradients. conv2_1 (8 → 16): its data
    # gradient, a convolution of the 16-channel dy, through shifted.py, and x unfolded for dW.
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "2")
    calls = []
    for mod, name in ((conv_mod, "_conv_grads_from_dy_windows"), (shifted, "conv_apply")):
        monkeypatch.setattr(mod, name, lambda *a, f=getattr(mod, name), n=name:
                            calls.append(n) or f(*a))
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, C, 7, 6)), rng.standard_normal((O, C, 3, 3))
    out, cache = F.conv2d_forward(x, w, None, 1, 1)
    calls.clear()
    dout = rng.standard_normal(out.shape)
    for got, want in zip(F.conv2d_backward(dout, cache)[:2],
                         naive.conv2d_backward_naive(dout, x, w, 1, 1, 1)):
        np.testing.assert_allclose(got, want, atol=1e-10)
    assert calls == (["_conv_grads_from_dy_windows"] if shared else ["conv_apply"])


@pytest.mark.parametrize("switch", ["IMPLICIT_PADDING", "TALL_WEIGHT_GRAD",
                                    "DATA_GRAD_AS_CONV", "SHARED_WINDOWS", "BIAS_BY_BLAS"])
def test_each_cpu_piece_switched_off_gives_the_same_gradients(switch, monkeypatch):
    # bench/bench_cpu_path.py switches these off one at a time to measure them
    monkeypatch.setattr(conv_mod, switch, False)
    rng = np.random.default_rng(11)
    for N, C, H, W, O, k, s, p, d in CASES:
        x, w, b = (rng.standard_normal(shape) for shape in ((N, C, H, W), (O, C, k, k), (O,)))
        out, cache = F.conv2d_forward(x, w, b, s, p, d)
        np.testing.assert_allclose(out, naive.conv2d_naive(x, w, b, s, p, d), atol=1e-10)
        dout = rng.standard_normal(out.shape)
        for got, want in zip(F.conv2d_backward(dout, cache),
                             naive.conv2d_backward_naive(dout, x, w, s, p, d)):
            np.testing.assert_allclose(got, want, atol=1e-10)


def test_bands_fit_the_cache_unless_that_leaves_too_few_pixels(monkeypatch):
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")
    mib = 2 ** 20
    # the small FCN's conv1_2 weight gradient: 72 rows of windows × 326 pixels, 94 KB per row
    small = 72 * 326 * 4
    assert workspace.rows_per_band(small, 326, 326) == workspace.CACHE_BYTES // small
    # VGG16's conv3_2: 1.6 MB per row of 175 pixels, two rows would fit the cache
    row = 2304 * 175 * 4
    assert workspace.rows_per_band(row, 144, 175) == -(-workspace.MIN_BAND_PIXELS // 175)
    assert workspace.rows_per_band(row, 144, 175, chunk_bytes=10 * mib) == 10 * mib // row
    assert workspace.rows_per_band(row, 5, 175) == 5                    # at most all rows
    assert workspace.rows_per_band(200 * mib, 5, 175) == 1              # at least one
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "2")                      # CACHE_BYTES per thread
    assert workspace.rows_per_band(small, 326, 326) == 2 * workspace.CACHE_BYTES // small


def test_a_fresh_workspace_per_call_gives_the_same_result(monkeypatch):
    monkeypatch.setattr(workspace, "REUSE", False)
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    out, _ = F.conv2d_forward(x, w, None, 1, 1)
    np.testing.assert_allclose(out, naive.conv2d_naive(x, w, None, 1, 1), atol=1e-10)


def test_shifted_products_where_they_were_measured_to_win(monkeypatch):
    # 8–16 input channels, no more outputs than inputs; on two threads only 8 outputs
    g = conv_geometry((326, 326), (3, 3), 1, 1)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")
    assert shifted.applies(8, 8, g) and shifted.applies(16, 16, g)
    assert not shifted.applies(8, 16, g) and not shifted.applies(32, 32, g)
    assert not shifted.applies(3, 3, g)
    assert not shifted.applies(8, 8, conv_geometry((326, 326), (3, 3), 2, 1))
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "2")
    assert shifted.applies(8, 8, g) and shifted.applies(16, 8, g)
    assert not shifted.applies(16, 16, g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_gradient_as_a_product_with_ones_is_the_sum(dtype, monkeypatch):
    """cpu/conv.py's db: each image's (O, pixels) times a kept vector of ones, summed over the
    images; a strided dout takes NumPy's sum. Sizes grow and shrink, so the vector is cut and
    regrown, and both dtypes keep their own."""
    monkeypatch.setattr(workspace, "_CONSTANTS", {})
    rng = np.random.default_rng(11)
    for N, O, h, w in [(2, 3, 4, 5), (1, 4, 9, 7), (3, 2, 2, 3), (2, 5, 6, 6)]:
        dout = rng.standard_normal((N, O, h, w)).astype(dtype)
        ref = dout.astype(np.float64).sum(axis=(0, 2, 3))
        tol = 1e-5 if dtype == np.float32 else 1e-12
        for d in (dout, np.asfortranarray(dout), dout[:, :, ::-1]):
            db = conv_mod._bias_grad(d)
            assert db.dtype == dtype and db.shape == (O,)
            np.testing.assert_allclose(db, ref, rtol=tol, atol=tol)
    assert workspace._CONSTANTS[1, np.dtype(dtype)].size == 63    # grown to the largest map, 9·7
    # through the layers' kernels, against the textbook's
    x = rng.standard_normal((2, 3, 8, 6)).astype(dtype)
    wt = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    y, cache = F.conv2d_forward(x, wt, b, 1, 1)
    dy = rng.standard_normal(y.shape).astype(dtype)
    z, tcache = F.conv_transpose2d_forward(x, wt.transpose(1, 0, 2, 3).copy(), b, 2, 1)
    dz = rng.standard_normal(z.shape).astype(dtype)
    fast = F.conv2d_backward(dy, cache)[2], F.conv_transpose2d_backward(dz, tcache)[2]
    with textbook_only():
        y, cache = F.conv2d_forward(x, wt, b, 1, 1)
        z, tcache = F.conv_transpose2d_forward(x, wt.transpose(1, 0, 2, 3).copy(), b, 2, 1)
        slow = F.conv2d_backward(dy, cache)[2], F.conv_transpose2d_backward(dz, tcache)[2]
    for a, c in zip(fast, slow):
        np.testing.assert_allclose(a, c, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("C,H,k,p,one_view", [(64, 11, 7, 0, True),     # fc6, paper geometry
                                              (64, 4, 7, 3, True),      # fc6, main job's
                                              (64, 21, 3, 1, False),    # conv5: the loop
                                              (64, 33, 7, 0, False)])   # a large input: the loop
def test_small_inputs_with_many_offsets_unfold_in_one_view(C, H, k, p, one_view, monkeypatch):
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")        # the input size is per thread's block
    views = []
    monkeypatch.setattr(bands, "window_view", lambda *a: views.append(a) or window_view(*a))
    x = np.random.default_rng(0).standard_normal((1, C, H, H)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((8, C, k, k)).astype(np.float32)
    out, _ = F.conv2d_forward(x, w, None, 1, p)
    assert bool(views) == one_view
    np.testing.assert_allclose(out, naive.conv2d_naive(x, w, None, 1, p), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("geo", [((5, 3), (2, 1), (2, 1), (1, 2)),     # kernel, stride,
                                 ((3, 7), (1, 3), (0, 4), (2, 1)),     # padding, dilation
                                 ((4, 4), (3, 2), (1, 3), (1, 1))])
def test_one_view_unfolding_equals_the_offsets_loop_on_uneven_geometry(geo, monkeypatch):
    (kh, kw), stride, (ph, pw), dil = geo
    x = np.random.default_rng(7).standard_normal((2, 3, 13, 11))
    oh, ow = (F.conv_output_size(n, k, s, p, d) for n, k, s, p, d in
              zip((13, 11), (kh, kw), stride, (ph, pw), dil))
    monkeypatch.setattr(bands, "MAX_LOOP_OFFSETS", 0)
    for r0, r1 in [(0, oh), (1, oh), (oh - 1, oh)]:
        monkeypatch.setattr(bands, "SMALL_INPUT", 10 ** 9)
        one = im2col_rows(x, (kh, kw), stride, dil, r0, r1, ow, padding=(ph, pw))
        monkeypatch.setattr(bands, "SMALL_INPUT", 0)
        loop = im2col_rows(x, (kh, kw), stride, dil, r0, r1, ow, padding=(ph, pw))
        np.testing.assert_array_equal(one, loop)
    monkeypatch.setattr(bands, "SMALL_INPUT", 10 ** 9)
    with pytest.raises(ValueError, match="reach past"):
        im2col_rows(x, (kh, kw), stride, dil, 0, oh + 1, ow, padding=(ph, pw))


def test_bias_gradient_of_a_device_array_stays_on_its_device(xp):
    dout = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    db = conv_mod._bias_grad(xp.asarray(dout))           # the stand-in's array: NumPy's sum,
    assert type(db) is type(xp.asarray(dout[0, 0, 0]))  # never a NumPy vector of ones mixed in
    np.testing.assert_allclose(to_cpu(db), dout.sum(axis=(0, 2, 3)), rtol=1e-12)
