"""The gradient checker itself: it must pass correct gradients and catch wrong ones."""
import numpy as np
import pytest

from minifcn import nn
from minifcn.gradcheck import check_layer, numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    dout = np.array([1.0, 2.0, 0.5])
    num = numerical_gradient(lambda: x ** 3, x, dout)          # d/dx Σ dout·x³ = 3x²·dout
    np.testing.assert_allclose(num, 3 * x ** 2 * dout, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])          # restored after perturbing


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0]), np.array([1.0 + 1e-9])) < 1e-9
    assert relative_error(np.array([1.0]), np.array([-1.0])) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(2), np.zeros(3))


class _WrongReLU(nn.ReLU):
    """A plausible bug: passes the gradient through where the input was negative as well."""

    def backward(self, dout):
        self.pop_cache()
        return dout


class _WrongConv(nn.Conv2d):
    """A plausible bug: forgets to accumulate the bias gradient over the batch."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.bias.grad = dout[0].sum(axis=(1, 2))
        return dx


def test_check_layer_catches_wrong_backwards(rng):
    x = rng.standard_normal((2, 3, 5, 5))
    assert check_layer(_WrongReLU(), x)["x"] > 1e-2
    errors = check_layer(_WrongConv(3, 2, 3, seed=0).to(dtype=np.float64), x)
    assert errors["bias"] > 1e-2 and errors["weight"] < 1e-7


def test_check_layer_sampling_and_float64_requirement(rng):
    conv = nn.Conv2d(3, 2, 3, seed=0)
    with pytest.raises(TypeError, match="float64"):
        check_layer(conv, rng.standard_normal((1, 3, 5, 5)).astype(np.float32))
    conv.to(dtype=np.float64)
    errors = check_layer(conv, rng.standard_normal((1, 3, 5, 5)), n_samples=4)
    assert set(errors) == {"x", "weight", "bias"} and max(errors.values()) < 1e-7
