"""SGD with momentum and weight decay, following the FCN recipe (Caffe's solver).

Caffe's update, which the published FCN learning rates assume:

    v ← momentum · v + lr_p · (grad + decay_p · w)        w ← w − v

where for every parameter p, ``lr_p = lr · lr_mult`` and ``decay_p = weight_decay · decay_mult``.
FCN's prototxts give biases ``lr_mult 2, decay_mult 0`` (twice the learning rate, no decay) and
weights ``lr_mult 1, decay_mult 1``. Frozen parameters (``requires_grad=False``: the bilinear
deconvolutions) get ``lr_mult 0`` and are skipped entirely.

PyTorch's SGD puts lr outside the velocity (v ← μv + g; w ← w − lr·v); the two agree while lr is
constant, which it is in FCN's recipe.
"""
from .backend import device_of, get_array_module, to_cpu, to_device


def is_bias(name):
    return name.endswith(".bias") or name == "bias"


class SGD:
    """``SGD(model.named_parameters(), lr, momentum=0.99, weight_decay=5e-4)``.

    ``bias_lr_mult`` and ``bias_decay_mult`` default to the FCN recipe (2 and 0).
    Call ``step()`` after ``backward``, then ``model.zero_grad()``.
    """

    def __init__(self, named_parameters, lr, momentum=0.99, weight_decay=5e-4,
                 bias_lr_mult=2.0, bias_decay_mult=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"lr, momentum and weight_decay must be ≥ 0, got {lr}, {momentum}, "
                             f"{weight_decay}")
        self.params = [(n, p) for n, p in named_parameters if p.requires_grad]
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.bias_lr_mult, self.bias_decay_mult = bias_lr_mult, bias_decay_mult
        self.velocity = {}

    def _mults(self, name):
        if is_bias(name):
            return self.bias_lr_mult, self.bias_decay_mult
        return 1.0, 1.0

    def step(self):
        for name, p in self.params:
            if p.grad is None:
                continue
            lr_mult, decay_mult = self._mults(name)
            xp = get_array_module(p.data)
            g = p.grad
            decay = self.weight_decay * decay_mult
            if decay:
                g = g + p.data.dtype.type(decay) * p.data
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = xp.zeros_like(p.data)
            v *= p.data.dtype.type(self.momentum)
            v += p.data.dtype.type(self.lr * lr_mult) * g
            p.data -= v

    def zero_grad(self):
        for _, p in self.params:
            p.grad = None

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self):
        """Host copies of the velocities, keyed by parameter name, plus the hyperparameters."""
        return {"velocity": {n: to_cpu(v) for n, v in self.velocity.items()},
                "hyper": {"lr": self.lr, "momentum": self.momentum,
                          "weight_decay": self.weight_decay, "bias_lr_mult": self.bias_lr_mult,
                          "bias_decay_mult": self.bias_decay_mult}}

    def load_state_dict(self, state):
        names = {n: p for n, p in self.params}
        unknown = sorted(set(state["velocity"]) - set(names))
        if unknown:
            raise KeyError(f"optimizer state has velocities for unknown parameters {unknown}")
        self.velocity = {}
        for n, v in state["velocity"].items():
            p = names[n]
            if tuple(v.shape) != tuple(p.data.shape):
                raise ValueError(f"optimizer state for {n} has shape {tuple(v.shape)}, the "
                                 f"parameter {tuple(p.data.shape)}")
            self.velocity[n] = to_device(v, device_of(p.data)).astype(p.data.dtype, copy=True)
        for k, val in state.get("hyper", {}).items():
            setattr(self, k, val)
