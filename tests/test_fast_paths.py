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
from minifcn.functional import conv as conv_mod
from minifcn.functional import naive, workspace
from minifcn.functional.im2col import col2im_rows, im2col_rows, pad2d
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
def test_im2col_implicit_padding_equals_padded_copy(xp, case, dtype):
    N, C, H, W, O, k, s, p, d = case
    x = xp.asarray(np.random.default_rng(0).standard_normal((N, C, H, W)).astype(dtype))
    oh, ow = F.conv_output_size(H, k, s, p, d), F.conv_output_size(W, k, s, p, d)
    geo = ((k, k), (s, s), (d, d))
    for r0, r1 in [(0, oh), (oh // 2, oh), (0, 1)]:
        fast = im2col_rows(x, *geo, r0, r1, ow, padding=(p, p))
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
        for kx in range(3):                 # dW[o, c, ky, kx] = Σ dy[n, o, i, j] x[n, c, i+ky, j+kx]
            ref[:, :, ky, kx] = np.einsum("nohw,nchw->oc", dy, x[:, :, ky:ky + H - 2, kx:kx + W - 2])
    np.testing.assert_allclose(conv_mod._conv_weight_grad(x, dy, (O, C, 3, 3), g), ref,
                               atol=1e-10)


def test_workspace_is_reused_and_grown():
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
def test_max_pool_clipped_windows_match_naive(xp, case, dtype):
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


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=2, dilation=2, seed=0, dtype=np.float64),
     (1, 3, 9, 8)),
    (lambda: nn.Conv2d(3, 5, 3, padding=100, seed=0, dtype=np.float64), (1, 3, 3, 4)),
    (lambda: nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, seed=0, dtype=np.float64),
     (1, 3, 4, 5)),
    (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (1, 2, 7, 8)),
])
def test_fast_paths_still_pass_gradient_checks(make, shape, rng, monkeypatch):
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 1)        # many bands, one workspace
    x = rng.standard_normal(shape)
    errors = check_layer(make(), x, n_samples=40)
    assert max(errors.values()) < 1e-7, errors


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
