"""Every kernel: forward against its naive loop reference, backward against numerical gradients.

Sizes are odd on purpose; strides 1–3, padding up to 100, dilation 2 and ceil-mode windows that
hang over the edge are all covered. Gradients are checked in float64 under a random upstream
gradient; a correct backward gives ~1e-9 relative error, a wrong one 1e-2 or worse.
"""
import numpy as np
import pytest

import minifcn.functional as F
from minifcn.backend import to_cpu
from minifcn.functional import naive
from minifcn.gradcheck import numerical_gradient, relative_error

TOL = 1e-7           # float64 gradient checks


def _np(a):
    return to_cpu(a)


# --- convolution ----------------------------------------------------------------------------
CONV_CASES = [  # (N, C, H, W, O, k, stride, pad, dilation)
    (2, 3, 7, 9, 4, 3, 1, 1, 1),
    (1, 2, 8, 5, 3, 3, 2, 0, 1),
    (2, 3, 9, 11, 2, 2, 3, 4, 2),
    (1, 3, 5, 4, 2, 3, 1, 100, 1),     # FCN's conv1_1 padding
    (1, 2, 11, 7, 3, 3, 2, 2, 2),
    (2, 1, 6, 6, 2, 5, 3, 1, 1),
    (1, 4, 7, 7, 3, 7, 1, 0, 1),      # fc6-like: kernel as large as the input
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_matches_naive(xp, case):
    N, C, H, W, O, k, s, p, d = case
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, k, k)), \
        rng.standard_normal(O)
    out, _ = F.conv2d_forward(xp.asarray(x), xp.asarray(w), xp.asarray(b), s, p, d)
    np.testing.assert_allclose(_np(out), naive.conv2d_naive(x, w, b, s, p, d), atol=1e-11)


def test_conv2d_float32_and_rectangular_kernels(rng):
    x = rng.standard_normal((2, 3, 10, 9)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    out, _ = F.conv2d_forward(x, w, None, (2, 1), (1, 0))
    assert out.dtype == np.float32
    ref = naive.conv2d_naive(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    # stride (2, 1), padding (1, 0): every other row of the symmetric result, columns cropped
    np.testing.assert_allclose(out, ref[:, :, ::2, 1:-1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CONV_CASES[:3] + CONV_CASES[4:])
def test_conv2d_backward_numerical(case, rng):
    N, C, H, W, O, k, s, p, d = case
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, k, k)), \
        rng.standard_normal(O)
    out, cache = F.conv2d_forward(x, w, b, s, p, d)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward(dout, cache)
    for g, arr in ((dx, x), (dw, w), (db, b)):
        num = numerical_gradient(lambda: F.conv2d_forward(x, w, b, s, p, d)[0], arr, dout)
        assert relative_error(g, num) < TOL


def test_conv2d_backward_pad_100(rng):
    # Padding 100 on a tiny input: most windows see only zeros; dx must still be exact.
    x, w = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((2, 2, 3, 3))
    out, cache = F.conv2d_forward(x, w, None, 1, 100)
    assert out.shape == (1, 2, 3 + 200 - 2, 4 + 200 - 2)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward(dout, cache)
    assert db is None
    for g, arr in ((dx, x), (dw, w)):
        num = numerical_gradient(lambda: F.conv2d_forward(x, w, None, 1, 100)[0], arr, dout)
        assert relative_error(g, num) < TOL


def test_conv2d_backward_without_input_grad(rng):
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    out, cache = F.conv2d_forward(x, w, None, 1, 1)
    dx, dw, _ = F.conv2d_backward(np.ones_like(out), cache, need_dx=False)
    dx_full, dw_full, _ = F.conv2d_backward(np.ones_like(out), cache)
    assert dx is None and dx_full is not None
    np.testing.assert_allclose(dw, dw_full)


def test_conv2d_chunked_bands_equal_one_band(rng, monkeypatch):
    # A tiny band budget forces one output row per im2col band; results must not change.
    from minifcn.functional.cpu import workspace
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), \
        rng.standard_normal(4)
    out, cache = F.conv2d_forward(x, w, b, 2, 1)
    dout = rng.standard_normal(out.shape)
    grads = F.conv2d_backward(dout, cache)
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 1)
    out1, cache1 = F.conv2d_forward(x, w, b, 2, 1)
    grads1 = F.conv2d_backward(dout, cache1)
    np.testing.assert_allclose(out1, out, atol=1e-12)
    for g1, g in zip(grads1, grads):
        np.testing.assert_allclose(g1, g, atol=1e-12)


# --- im2col / col2im ------------------------------------------------------------------------
@pytest.mark.parametrize("k,s,p,d", [(3, 1, 1, 1), (2, 3, 2, 2), (3, 2, 0, 1)])
def test_col2im_is_the_adjoint_of_im2col(xp, k, s, p, d):
    # <im2col(x), c> == <x, col2im(c)> for all x, c: the definition of an adjoint.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 8))
    cols = F.im2col(xp.asarray(x), k, s, p, d)
    c = rng.standard_normal(cols.shape)
    back = F.col2im(xp.asarray(c), x.shape, k, s, p, d)
    assert back.shape == x.shape
    np.testing.assert_allclose(float((_np(cols) * c).sum()), float((x * _np(back)).sum()),
                               rtol=1e-10)


def test_im2col_layout(rng):
    # cols[(c, ky, kx), (n, i, j)] is the input pixel under kernel tap (ky, kx) of output (i, j)
    # of image n: row c·9 + ky·3 + kx, column n·9 + i·3 + j.
    x = rng.standard_normal((2, 2, 5, 6))
    cols = F.im2col(x, 3, stride=2, padding=1)
    xpad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert cols.shape == (2 * 3 * 3, 2 * 3 * 3)
    for n, c, ky, kx, i, j in np.ndindex(2, 2, 3, 3, 3, 3):
        assert cols[c * 9 + ky * 3 + kx, n * 9 + i * 3 + j] == xpad[n, c, 2 * i + ky, 2 * j + kx]


def test_conv_too_small_input_names_sizes():
    with pytest.raises(ValueError, match=r"too small"):
        F.conv2d_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 7, 7)))


def test_conv_channel_mismatch_is_explained():
    with pytest.raises(ValueError, match=r"3 channels .* expects 4"):
        F.conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.conv2d_forward(np.zeros((3, 5, 5)), np.zeros((2, 3, 3, 3)))


# --- transposed convolution -----------------------------------------------------------------
DECONV_CASES = [  # (N, C_in, H, W, C_out, k, stride, pad)
    (2, 3, 4, 5, 2, 4, 2, 0),       # FCN's upscore2
    (1, 2, 3, 3, 2, 16, 8, 0),      # FCN-8s upscore8
    (1, 2, 5, 4, 3, 3, 1, 1),
    (2, 1, 3, 4, 2, 5, 3, 2),
    (1, 3, 2, 3, 1, 64, 32, 0),     # FCN-32s upscore
]


@pytest.mark.parametrize("case", DECONV_CASES)
def test_conv_transpose2d_forward_matches_naive(xp, case):
    N, C, H, W, O, k, s, p = case
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((C, O, k, k)), \
        rng.standard_normal(O)
    out, _ = F.conv_transpose2d_forward(xp.asarray(x), xp.asarray(w), xp.asarray(b), s, p)
    assert out.shape == (N, O, (H - 1) * s - 2 * p + k, (W - 1) * s - 2 * p + k)
    np.testing.assert_allclose(_np(out), naive.conv_transpose2d_naive(x, w, b, s, p), atol=1e-11)


@pytest.mark.parametrize("case", DECONV_CASES[:4])
def test_conv_transpose2d_backward_numerical(case, rng):
    N, C, H, W, O, k, s, p = case
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((C, O, k, k)), \
        rng.standard_normal(O)
    out, cache = F.conv_transpose2d_forward(x, w, b, s, p)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = F.conv_transpose2d_backward(dout, cache)
    for g, arr in ((dx, x), (dw, w), (db, b)):
        num = numerical_gradient(lambda: F.conv_transpose2d_forward(x, w, b, s, p)[0], arr, dout)
        assert relative_error(g, num) < TOL


def test_conv_transpose_is_adjoint_of_conv(rng):
    # <conv(x), y> == <x, conv_transpose(y)> with the same weight, stride and padding.
    x, w = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3))
    y, _ = F.conv2d_forward(x, w, None, 2, 1)                 # 9 → ⌊(9 + 2 − 3)/2⌋ + 1 = 5
    r = rng.standard_normal(y.shape)
    xt, _ = F.conv_transpose2d_forward(r, w, None, 2, 1)      # 5 → (5 − 1)·2 − 2 + 3 = 9
    assert xt.shape == x.shape
    np.testing.assert_allclose((y * r).sum(), (x * xt).sum(), rtol=1e-10)


# --- max pooling ----------------------------------------------------------------------------
POOL_CASES = [  # (H, W, k, stride, pad, ceil)
    (7, 8, 2, 2, 0, True),        # odd size: ceil mode keeps the half window
    (7, 8, 2, 2, 0, False),
    (9, 5, 3, 2, 1, True),        # overlapping windows, padding
    (8, 8, 3, 2, 1, True),        # last window would start in the padding: dropped
    (6, 7, 3, 3, 1, False),
    (5, 11, 3, 1, 0, True),
    (13, 9, 2, 3, 1, True),
    (5, 8, 2, 3, 1, True),        # a third window that would start in the padding is dropped
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_forward_matches_naive(xp, case):
    H, W, k, s, p, ceil = case
    x = np.random.default_rng(4).standard_normal((2, 3, H, W))
    out, _ = F.max_pool2d_forward(xp.asarray(x), k, s, p, ceil)
    np.testing.assert_array_equal(_np(out), naive.max_pool2d_naive(x, k, s, p, ceil))


def test_pool_sizes_of_fcn():
    # FCN-8s at 500×500: 698 → 349 → 175 → 88 → 44 → 22 with ceil mode (docs/fcn.md §2).
    sizes = [698]
    for _ in range(5):
        sizes.append(F.pool_output_size(sizes[-1], 2, 2, 0, ceil_mode=True))
    assert sizes == [698, 349, 175, 88, 44, 22]
    assert F.pool_output_size(697, 2, 2, 0, ceil_mode=False) == 348
    # 5 px, k 2, s 3, pad 1: ceil gives 3 windows, but the third would start at padded
    # position 6 = H + pad, entirely in the padding, so Caffe and PyTorch drop it.
    assert F.pool_output_size(5, 2, 3, 1, ceil_mode=True) == 2


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_backward_numerical(case, rng):
    H, W, k, s, p, ceil = case
    # Distinct values so that the argmax is unique and the function is differentiable.
    x = rng.permutation(2 * 2 * H * W).reshape(2, 2, H, W).astype(np.float64) / 7.0
    out, cache = F.max_pool2d_forward(x, k, s, p, ceil)
    dout = rng.standard_normal(out.shape)
    dx = F.max_pool2d_backward(dout, cache)
    num = numerical_gradient(lambda: F.max_pool2d_forward(x, k, s, p, ceil)[0], x, dout, h=1e-4)
    assert relative_error(dx, num) < TOL


def test_max_pool_ties_go_to_first_and_gradient_is_routed_once():
    x = np.ones((1, 1, 4, 4))
    out, cache = F.max_pool2d_forward(x, 2, 2)
    dx = F.max_pool2d_backward(np.ones_like(out), cache)
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1            # the top-left pixel of each window wins the tie
    np.testing.assert_array_equal(dx[0, 0], expected)


# --- relu, dropout, linear, crop, add, scale --------------------------------------------------
def test_relu_forward_backward(xp, rng):
    x = xp.asarray(rng.standard_normal((2, 3, 4, 5)))
    out, cache = F.relu_forward(x)
    np.testing.assert_array_equal(_np(out), np.maximum(_np(x), 0))
    dout = xp.asarray(rng.standard_normal(out.shape))
    np.testing.assert_array_equal(_np(F.relu_backward(dout, cache)), _np(dout) * (_np(x) > 0))


def test_dropout_backward_reuses_the_forward_mask(rng):
    x = rng.standard_normal((4, 8, 5, 5))
    out, mask = F.dropout_forward(x, 0.5, seed=3, step=7)
    dout = rng.standard_normal(x.shape)
    dx = F.dropout_backward(dout, mask)
    dropped = out == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_array_equal(dx[dropped], 0)
    np.testing.assert_allclose(dx[~dropped], 2 * dout[~dropped])      # 1/(1−p) = 2
    np.testing.assert_allclose(out[~dropped], 2 * x[~dropped])


def test_dropout_is_seeded_and_steps_differ(rng):
    x = np.ones((1000,))
    a, _ = F.dropout_forward(x, 0.5, seed=1, step=0)
    b, _ = F.dropout_forward(x, 0.5, seed=1, step=0)
    c, _ = F.dropout_forward(x, 0.5, seed=1, step=1)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    assert abs(a.mean() - 1.0) < 0.15      # inverted dropout keeps the expectation


def test_dropout_eval_is_identity(rng):
    x = rng.standard_normal((3, 4))
    out, cache = F.dropout_forward(x, 0.5, train=False)
    assert out is x and cache is None
    with pytest.raises(ValueError, match="probability"):
        F.dropout_forward(x, 1.0)


def test_linear_backward_numerical(rng):
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    out, cache = F.linear_forward(x, w, b)
    np.testing.assert_allclose(out, x @ w.T + b)
    dout = rng.standard_normal(out.shape)
    for g, arr in zip(F.linear_backward(dout, cache), (x, w, b)):
        num = numerical_gradient(lambda: F.linear_forward(x, w, b)[0], arr, dout)
        assert relative_error(g, num) < TOL
    with pytest.raises(ValueError, match="does not match weight"):
        F.linear_forward(np.zeros((3, 6)), w)


def test_crop_forward_backward(xp, rng):
    x = xp.asarray(rng.standard_normal((2, 3, 44, 44)))
    out, cache = F.crop_forward(x, (34, 34), (5, 5))          # score_pool4 in FCN-16s
    np.testing.assert_array_equal(_np(out), _np(x)[:, :, 5:39, 5:39])
    dout = xp.asarray(rng.standard_normal(out.shape))
    dx = _np(F.crop_backward(dout, cache))
    np.testing.assert_array_equal(dx[:, :, 5:39, 5:39], _np(dout))
    dx[:, :, 5:39, 5:39] = 0
    assert not dx.any()


@pytest.mark.parametrize("offset", [(-1, 2), (1, -3), (4, 5), (-2, -2)])
def test_crop_with_fill_reaches_past_the_edges(xp, rng, offset):
    # What an FCN with fc6 padded by 2 or 3 does to its skips: the window is the reference's
    # size, the part outside x is 0, and only the part inside passes a gradient back.
    x = xp.asarray(rng.standard_normal((2, 3, 9, 9)))
    out, cache = F.crop_forward(x, (8, 8), offset, fill=True)
    padded = np.zeros((2, 3, 9 + 8 + 8, 9 + 8 + 8))
    padded[:, :, 8:17, 8:17] = _np(x)                           # x with an 8-pixel zero margin
    oy, ox = offset
    np.testing.assert_array_equal(_np(out), padded[:, :, 8 + oy:16 + oy, 8 + ox:16 + ox])
    dout = xp.asarray(rng.standard_normal(out.shape))
    num = numerical_gradient(lambda: F.crop_forward(x, (8, 8), offset, fill=True)[0], x, dout)
    assert relative_error(F.crop_backward(dout, cache), num) < TOL


def test_crop_that_does_not_fit_is_explained():
    with pytest.raises(ValueError, match=r"34×34 at offset \(15, 5\) does not fit in a 44×44"):
        F.crop_forward(np.zeros((1, 1, 44, 44)), (34, 34), (15, 5))


def test_scale(rng):
    a = rng.standard_normal((1, 2, 3, 3))
    out, cache = F.scale_forward(a, 0.01)
    np.testing.assert_allclose(out, 0.01 * a)
    np.testing.assert_allclose(F.scale_backward(np.ones_like(a), cache), 0.01)


# --- bilinear filter --------------------------------------------------------------------------
def test_upsample_filter_is_caffes():
    # k = 4: factor 2, centre 1.5 → 1D weights 1 − |i − 1.5|/2 = [0.25, 0.75, 0.75, 0.25].
    np.testing.assert_allclose(F.upsample_filter(4)[0], 0.25 * np.array([.25, .75, .75, .25]))
    np.testing.assert_allclose(F.upsample_filter(4)[1], 0.75 * np.array([.25, .75, .75, .25]))
    # k = 3 (odd): factor 2, centre 1 → [0.5, 1, 0.5].
    np.testing.assert_allclose(F.upsample_filter(3)[1], [0.5, 1.0, 0.5])
    w = F.bilinear_weight(3, 3, 4)
    assert w.shape == (3, 3, 4, 4)
    assert not w[0, 1].any() and np.allclose(w[2, 2], F.upsample_filter(4))


def test_bilinear_deconv_interpolates_linearly():
    # A ramp upsampled ×2 by the bilinear deconvolution stays a ramp away from the borders.
    x = np.arange(6, dtype=np.float64).reshape(1, 1, 1, 6).repeat(6, axis=2)
    out, _ = F.conv_transpose2d_forward(x, F.bilinear_weight(1, 1, 4).astype(np.float64), None, 2)
    row = out[0, 0, 6, 3:-3]                   # the interior of a (6−1)·2 + 4 = 14 wide map
    np.testing.assert_allclose(np.diff(row), 0.5)
