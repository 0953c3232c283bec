"""Numerical gradient checks: the proof that a hand-written backward is right.

For f: x → out and a random upstream gradient g, the scalar L = Σ g·f(x) has
dL/dx = backward(g). Central differences estimate the same thing one coordinate at a time:

    dL/dx_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / 2h       (error O(h²))

In float64 with h = 1e-6 the two agree to ~1e-8 relative error for a correct backward; a wrong
index or a missing term shows up as 1e-2 … 1. ``relative_error`` is max |a − n| / max(|a| + |n|),
so it is scale-free.
"""
import numpy as np

from .backend import get_array_module, to_cpu


def relative_error(analytic, numeric, floor=1e-12):
    """max |a − n| / max(|a| + |n|, floor) over all entries (0 when both are zero)."""
    a, n = np.asarray(to_cpu(analytic), np.float64), np.asarray(to_cpu(numeric), np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {a.shape}, numeric {n.shape}")
    return float(np.abs(a - n).max() / max(float((np.abs(a) + np.abs(n)).max()), floor)) \
        if a.size else 0.0


def numerical_gradient(f, x, dout, h=1e-6, indices=None):
    """Central-difference gradient of L = Σ dout·f() with respect to the array ``x``.

    ``f`` takes no arguments and reads ``x``, which is perturbed in place (and restored).
    ``indices`` (flat positions) limits the check to a sample; the rest of the result is 0.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 arrays, got {x.dtype} "
                        f"(call model.to(dtype=np.float64))")
    xp = get_array_module(x)
    grad = xp.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not x.flags.c_contiguous:
        raise ValueError("numerical_gradient perturbs x in place: pass a C-contiguous array")
    for i in (range(x.size) if indices is None else indices):
        old = flat[i].copy()
        flat[i] = old + h
        plus = (f() * dout).sum()
        flat[i] = old - h
        minus = (f() * dout).sum()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def check_layer(layer, *inputs, n_samples=None, seed=0, h=1e-6, wrt_inputs=None):
    """Compare a layer's (or model's) backward with numerical gradients.

    Runs ``out = layer(*inputs)``, draws a random upstream gradient g, calls
    ``layer.backward(g)`` and checks dx (for the first input, or those in ``wrt_inputs``) and
    every learning parameter's ``.grad`` (frozen ones, ``requires_grad=False``, get none).
    ``n_samples`` checks that many random coordinates per array instead of all of them (for
    whole models). Dropout must be off (eval) or deterministic.

    Returns {name: relative error}, names 'x' (or 'x0', 'x1', …) and the parameter names.
    """
    xp = get_array_module(*inputs)
    rng = np.random.default_rng(seed)
    wrt_inputs = [0] if wrt_inputs is None else list(wrt_inputs)
    layer.zero_grad()
    out = layer(*inputs)
    dout = xp.asarray(rng.standard_normal(out.shape))
    dx = layer.backward(dout)
    dxs = dx if isinstance(dx, tuple) else (dx,)

    def f():
        return layer(*inputs)

    def sample(arr):
        if n_samples is None or n_samples >= arr.size:
            return None
        return rng.choice(arr.size, size=n_samples, replace=False)

    def compare(analytic, arr):
        idx = sample(arr)
        num = numerical_gradient(f, arr, dout, h, idx)
        a = to_cpu(analytic).reshape(-1)
        n = to_cpu(num).reshape(-1)
        if idx is not None:
            a, n = a[idx], n[idx]
        return relative_error(a, n)

    errors = {}
    for k in wrt_inputs:
        name = "x" if len(wrt_inputs) == 1 else f"x{k}"
        errors[name] = compare(dxs[k], inputs[k])
    for name, p in layer.named_parameters():
        if not p.requires_grad:           # frozen: backward computes no gradient for it
            continue
        if p.grad is None:
            raise AssertionError(f"parameter {name} got no gradient from backward")
        errors[name] = compare(p.grad, p.data)
    layer.cache = None
    for m in layer.modules():
        m.cache = None
    return errors
