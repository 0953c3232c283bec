"""Parameter and Module: the thin containers every layer and model is built from.

A layer keeps its parameters (``.data`` and ``.grad``) and the cache of its last forward call.
There is no autograd: a model calls its layers' ``backward`` itself, in reverse order.
The API mirrors PyTorch's (``parameters()``, ``state_dict()``, ``train()``/``eval()``, ``to()``)
because that is what our users know.
"""
import contextlib

import numpy as np

from .. import backend

_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Inside this block layers keep no caches (inference without the memory for backward)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled():
    return _grad_enabled


class Parameter:
    """A learnable array and its accumulated gradient.

    ``requires_grad=False`` marks a frozen parameter (FCN's bilinear deconvolutions): optimizers
    skip it, and the convolution layers do not compute its gradient at all (the weight-gradient
    product is the most expensive part of a deconvolution's backward). Its ``grad`` stays None;
    gradient checks check the parameters that learn.
    """

    def __init__(self, data, requires_grad=True):
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad

    @property
    def shape(self):
        return self.data.shape

    def accumulate(self, g):
        """grad += g (gradients add up across backward calls until ``zero_grad``).

        The first gradient is kept as it is, not copied (fc6's is 411 MB): ``g`` must be a
        fresh array, as every kernel's backward returns.
        """
        if g is None:                      # a frozen parameter: no gradient was computed
            return
        if self.grad is None:
            self.grad = g
        else:
            self.grad += g

    def __repr__(self):
        return (f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype}, "
                f"device={backend.device_of(self.data)}, requires_grad={self.requires_grad})")


class Module:
    """Base class: registers child modules and parameters set as attributes, in order."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "cache", None)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               f"before assigning {name!r}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    # --- forward / backward -------------------------------------------------------------------
    def forward(self, *args):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        if self._parameters:             # a layer: its inputs must live where its weights do
            device = backend.device_of(next(iter(self._parameters.values())).data)
            for a in args:
                if hasattr(a, "shape") and backend.device_of(a) != device:
                    raise RuntimeError(
                        f"{type(self).__name__} has its parameters on '{device}' but got an "
                        f"input on '{backend.device_of(a)}': move the input with "
                        f"minifcn.backend.to_device(x, '{device}') (or the model with "
                        f".to('{backend.device_of(a)}'))")
        return self.forward(*args, **kwargs)

    def save_cache(self, cache):
        """Keep what backward needs, unless inside ``no_grad()``."""
        self.cache = cache if _grad_enabled else None

    def pop_cache(self):
        """The cache of the last forward; it is released so its memory can be freed."""
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called without a forward pass "
                               f"to differentiate (or the forward ran inside no_grad())")
        cache, self.cache = self.cache, None
        return cache

    def accumulate_grads(self, dw, db=None):
        """weight.grad += dw and bias.grad += db, for layers with a weight and an optional bias."""
        self.weight.accumulate(dw)
        if self.bias is not None:
            self.bias.accumulate(db)

    # --- parameters and children --------------------------------------------------------------
    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix=""):
        """Dotted names, as in PyTorch: ``conv1_1.weight``, ``score_fr.bias``, …"""
        for name, p in self._parameters.items():
            yield (f"{prefix}.{name}" if prefix else name), p
        for name, child in self._modules.items():
            yield from child.named_parameters(f"{prefix}.{name}" if prefix else name)

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def state_dict(self):
        """{dotted name: array} (the arrays themselves, on their device; see ``to_cpu``)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state, strict=True):
        """Copy arrays (NumPy, or anything ``np.asarray`` accepts) into the parameters.

        Shapes must match exactly. With ``strict`` a missing or unexpected key is an error;
        without it those keys are skipped and returned as (missing, unexpected).
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise KeyError(f"load_state_dict into {type(self).__name__}: " + "; ".join(parts))
        for name, p in params.items():
            if name not in state:
                continue
            value = state[name]
            if tuple(value.shape) != tuple(p.data.shape):
                raise ValueError(f"load_state_dict: {name} has shape {tuple(value.shape)} in the "
                                 f"state dict but {tuple(p.data.shape)} in the model")
            # A copy on the parameter's device, in its dtype: the model never aliases `state`.
            p.data = backend.to_device(backend.to_cpu(value), backend.device_of(p.data)).astype(
                p.data.dtype, copy=True)
        return missing, unexpected

    # --- modes and devices --------------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, device=None, dtype=None):
        """Move every parameter to ``device`` ('cpu'/'cuda') and/or cast it to ``dtype``."""
        for p in self.parameters():
            data = p.data if device is None else backend.to_device(p.data, device)
            if dtype is not None:
                data = data.astype(dtype, copy=False)
            p.data = data
            if p.grad is not None:
                p.grad = None
        for m in self.modules():
            m.cache = None
        return self

    @property
    def device(self):
        params = self.parameters()
        return backend.device_of(params[0].data) if params else "cpu"

    @property
    def dtype(self):
        params = self.parameters()
        return params[0].data.dtype if params else np.dtype(np.float32)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse."""

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            setattr(self, str(i), layer)

    def forward(self, x):
        for layer in self.children():
            x = layer(x)
        return x

    def backward(self, dout):
        for layer in reversed(list(self.children())):
            dout = layer.backward(dout)
        return dout
