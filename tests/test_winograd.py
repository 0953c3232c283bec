"""Winograd's F(2×2, 3×3) (functional/cpu/winograd.py) against its definition and the naive loops.

The algorithm for one tile, with the matrices written out, against the direct 2×2 correlation;
then the forward and the weight gradient against naive.py for every padding it takes (0–2, also
unequal), odd and even sizes (a last half tile), several images, one tile row per band, and
channel blocks in threads; the layer through minifcn.functional (its data gradient included)
against the naive backward and a numerical gradient check; and the float32 error at VGG widths.
"""
import itertools

import numpy as np
import pytest

import minifcn.functional as F
from minifcn import nn
from minifcn.functional import naive
from minifcn.functional.cpu import conv as conv_mod
from minifcn.functional.cpu import threads, winograd, workspace
from minifcn.functional.sizes import conv_geometry
from minifcn.gradcheck import check_layer

# Lavin and Gray's F(2×2, 3×3), as matrices: y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])


def _winograd_everywhere(monkeypatch):
    """Every 3×3 stride-1 convolution of the tests' small sizes takes winograd.py."""
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "MIN_TILES", 1)


def _assert_the_same_without_winograd(forward, backward, x, w, dout, monkeypatch):
    """The layer's output and gradients (stride 1, padding 1) with WINOGRAD on equal those with
    it off (the im2col path, tested against the naive loops in test_fast_paths.py)."""
    results = []
    for on in (True, False):
        monkeypatch.setattr(conv_mod, "WINOGRAD", on)
        out, cache = forward(x, w, None, 1, 1)
        results.append((out, *backward(dout, cache)))
    for got, want in zip(*results):
        if want is not None:
            np.testing.assert_allclose(got, want, atol=1e-10)


def test_one_tile_is_the_direct_correlation(rng):
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(2)] for i in range(2)])
    U = winograd.G @ g @ winograd.G.T
    np.testing.assert_allclose(AT @ (U * (BT @ d @ BT.T)) @ AT.T, direct, atol=1e-12)
    # the module's filter transform is G g Gᵀ, position-major
    w = rng.standard_normal((2, 3, 3, 3))
    got = winograd.filter_transform(w)
    for o, c in itertools.product(range(2), range(3)):
        np.testing.assert_allclose(got[:, o, c], (winograd.G @ w[o, c] @ winograd.G.T).ravel(),
                                   atol=1e-12)


def test_input_and_output_transforms_of_one_tile_are_the_matrices(rng):
    # a 4×4 input with padding 0 is exactly one tile: V = Bᵀ d B, then y = Aᵀ m A
    x = rng.standard_normal((1, 4, 4))
    V = np.empty((16, 1, 1, 1))
    winograd._input_transform(x, (0, 0), 0, V)
    np.testing.assert_allclose(V.reshape(4, 4), BT @ x[0] @ BT.T, atol=1e-12)
    m, y = rng.standard_normal((16, 1, 1, 1)), np.empty((1, 2, 2))
    winograd._output_transform(m, y, 0)
    np.testing.assert_allclose(y[0], AT @ m.reshape(4, 4) @ AT.T, atol=1e-12)
    # and the adjoint of the output transform: ⟨Aᵀ m A, dy⟩ = ⟨m, A dy Aᵀ⟩
    dy, dM = rng.standard_normal((1, 2, 2)), np.empty((16, 1, 1, 1))
    winograd._output_adjoint(dy, 0, dM)
    dM = dM * winograd._SIGN.reshape(16, 1, 1, 1)
    np.testing.assert_allclose(dM.reshape(4, 4), AT.T @ dy[0] @ AT, atol=1e-12)


SIZES = [(6, 6), (5, 7), (9, 4), (2, 3), (3, 3)]
PADDINGS = [(0, 0), (1, 1), (2, 2), (1, 0), (0, 2)]


@pytest.mark.parametrize("band_bytes", [1, 2 ** 20], ids=["tile row per band", "one band"])
@pytest.mark.parametrize("padding", PADDINGS)
def test_forward_and_weight_grad_equal_the_naive_loops(padding, band_bytes, rng, monkeypatch):
    monkeypatch.setattr(winograd, "BAND_BYTES", band_bytes)
    for (H, W), N in itertools.product(SIZES, (1, 2)):
        if H + 2 * padding[0] < 3 or W + 2 * padding[1] < 3:
            continue
        x, w = rng.standard_normal((N, 3, H, W)), rng.standard_normal((4, 3, 3, 3))
        g = conv_geometry((H, W), (3, 3), 1, padding)
        (ph, pw) = padding                                 # naive.py pads equally: pad here
        xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        want = naive.conv2d_naive(xpad, w, None, 1, 0)
        np.testing.assert_allclose(winograd.conv_apply(x, w, g), want, atol=1e-10)
        dy = rng.standard_normal(want.shape)
        _, want_dw, _ = naive.conv2d_backward_naive(dy, xpad, w, 1, 0)
        np.testing.assert_allclose(winograd.weight_grad(x, dy, g), want_dw, atol=1e-10)


def test_channel_blocks_in_threads_give_the_same_result(rng, monkeypatch):
    # every transform split over channels between threads, bit for bit as on one thread
    x, w = rng.standard_normal((1, 6, 9, 8)), rng.standard_normal((5, 6, 3, 3))
    g = conv_geometry((9, 8), (3, 3), 1, 1)
    dy = rng.standard_normal((1, 5, 9, 8))
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "1")
    one = winograd.conv_apply(x, w, g), winograd.weight_grad(x, dy, g)
    monkeypatch.setenv("MINIFCN_NUM_THREADS", "3")
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    calls = []
    monkeypatch.setattr(threads, "_pool", lambda n, f=threads._pool: calls.append(n) or f(n))
    for got, want in zip((winograd.conv_apply(x, w, g), winograd.weight_grad(x, dy, g)), one):
        np.testing.assert_array_equal(got, want)
    assert calls                                           # the split did happen


@pytest.mark.parametrize("C,O", [(5, 3), (3, 3), (3, 6)])   # the data gradient for O > C too
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_layer_through_functional_takes_winograd(C, O, dtype, rng, monkeypatch):
    _winograd_everywhere(monkeypatch)
    calls = []
    for name in ("conv_apply", "weight_grad"):
        monkeypatch.setattr(winograd, name, lambda *a, f=getattr(winograd, name), n=name:
                            calls.append(n) or f(*a))
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((2, C, 7, 6), (O, C, 3, 3), (O,)))
    out, cache = F.conv2d_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = F.conv2d_backward(dout, cache)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(out, naive.conv2d_naive(x, w, b, 1, 1), rtol=tol, atol=tol)
    for got, want in zip(grads, naive.conv2d_backward_naive(dout, x, w, 1, 1)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert calls == ["conv_apply", "conv_apply", "weight_grad"]   # forward, dx, dW


def test_winograd_switched_off_gives_the_same_gradients(rng, monkeypatch):
    # bench/bench_cpu_path.py switches it off to measure what it buys
    _winograd_everywhere(monkeypatch)
    x, w = rng.standard_normal((1, 4, 8, 9)), rng.standard_normal((4, 4, 3, 3))
    _assert_the_same_without_winograd(F.conv2d_forward, F.conv2d_backward, x, w,
                                      rng.standard_normal((1, 4, 8, 9)), monkeypatch)


@pytest.mark.parametrize("C_in,C_out", [(5, 3), (3, 5)])
def test_a_stride_one_transposed_convolution_takes_winograd_with_the_roles_swapped(
        C_in, C_out, rng, monkeypatch):
    # its forward is a data gradient, its backward a forward and a weight gradient with x and
    # dy swapped: all three against the im2col path (itself tested against the naive loops)
    _winograd_everywhere(monkeypatch)
    x, w = rng.standard_normal((2, C_in, 6, 7)), rng.standard_normal((C_in, C_out, 3, 3))
    calls = []
    monkeypatch.setattr(winograd, "weight_grad",
                        lambda *a, f=winograd.weight_grad: calls.append(1) or f(*a))
    _assert_the_same_without_winograd(F.conv_transpose2d_forward, F.conv_transpose2d_backward,
                                      x, w, rng.standard_normal((2, C_out, 6, 7)), monkeypatch)
    assert calls


def test_a_strided_dy_from_the_padding_trim(rng, monkeypatch):
    # padding 3 > d(k−1): the outer ring is the bias, and the backward hands Winograd a view
    # of dout (strided) and the inner geometry (padding 2)
    _winograd_everywhere(monkeypatch)
    x, w = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 3))
    out, cache = F.conv2d_forward(x, w, None, 1, 3)
    dout = rng.standard_normal(out.shape)
    dx, dw, _ = F.conv2d_backward(dout, cache)
    want_dx, want_dw, _ = naive.conv2d_backward_naive(dout, x, w, 1, 3)
    np.testing.assert_allclose(dx, want_dx, atol=1e-10)
    np.testing.assert_allclose(dw, want_dw, atol=1e-10)
    np.testing.assert_allclose(out, naive.conv2d_naive(x, w, None, 1, 3), atol=1e-10)


def test_winograd_shares_the_im2col_workspace_buffer(rng, monkeypatch):
    # one buffer per (library, dtype, device), whichever kernel asked for it first
    monkeypatch.setattr(workspace, "_BUFFERS", {})
    x, w = rng.standard_normal((1, 4, 8, 8)), rng.standard_normal((4, 4, 3, 3))
    _winograd_everywhere(monkeypatch)
    F.conv2d_forward(x, w, None, 1, 1)
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 10 ** 9)
    F.conv2d_forward(x, w, None, 1, 1)
    assert len(workspace._BUFFERS) == 1, list(workspace._BUFFERS)


def test_gradient_check_through_winograd(rng, monkeypatch):
    _winograd_everywhere(monkeypatch)
    monkeypatch.setattr(winograd, "BAND_BYTES", 1)
    layer = nn.Conv2d(3, 4, 3, padding=1, seed=0, dtype=np.float64)
    errors = check_layer(layer, rng.standard_normal((2, 3, 5, 6)), n_samples=40)
    assert max(errors.values()) < 1e-7, errors


def test_float32_error_at_vgg_widths_is_float32_rounding(rng):
    # 256 → 256 channels, the sums of a real layer: the transforms' extra additions stay at
    # float32's rounding of the output's scale, as im2col's GEMM does
    x = rng.standard_normal((1, 256, 10, 12)).astype(np.float32)
    w = (rng.standard_normal((256, 256, 3, 3)) / 48).astype(np.float32)
    g = conv_geometry((10, 12), (3, 3), 1, 1)
    want = naive.conv2d_naive(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    err = np.abs(winograd.conv_apply(x, w, g) - want).max() / np.abs(want).max()
    assert err < 1e-5, err
    dy = rng.standard_normal(want.shape).astype(np.float32)
    _, want_dw, _ = naive.conv2d_backward_naive(dy.astype(np.float64), x.astype(np.float64),
                                                w.astype(np.float64), 1, 1)
    err = np.abs(winograd.weight_grad(x, dy, g) - want_dw).max() / np.abs(want_dw).max()
    assert err < 1e-5, err


def test_winograd_where_it_was_measured_to_win():
    g = conv_geometry((72, 88), (3, 3), 1, 1)
    n = winograd.MIN_CHANNELS
    assert winograd.applies(n, n, g) and winograd.applies(512, 512, g)
    assert not winograd.applies(n // 2, n, g)                   # conv2_1 of VGG16: 64 → 128
    assert not winograd.applies(n, n, conv_geometry((72, 88), (3, 3), 2, 1))     # stride 2
    assert not winograd.applies(n, n, conv_geometry((72, 88), (3, 3), 1, 2, 2))  # dilation 2
    assert not winograd.applies(n, n, conv_geometry((72, 88), (3, 3), 1, 3))     # padding 3
    assert not winograd.applies(n, n, conv_geometry((72, 88), (1, 1), 1, 0))     # 1×1
    # too few 2×2 tiles: conv5 of a 176×176 photo without FCN's padding of 100 (11×11, 36)
    assert not winograd.applies(512, 512, conv_geometry((11, 11), (3, 3), 1, 1))
    assert winograd.applies(512, 512, conv_geometry((21, 21), (3, 3), 1, 1))     # 121 tiles
