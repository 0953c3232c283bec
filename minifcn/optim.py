"""SGD with momentum and weight decay, following the FCN recipe (Caffe's solver); and Adam.

Caffe's update, which the published FCN learning rates assume:

    v ← momentum · v + lr_p · (grad + decay_p · w)        w ← w − v

where for every parameter p, ``lr_p = lr · lr_mult`` and ``decay_p = weight_decay · decay_mult``.
FCN's prototxts give biases ``lr_mult 2, decay_mult 0`` (twice the learning rate, no decay) and
weights ``lr_mult 1, decay_mult 1``. Frozen parameters (``requires_grad=False``: the bilinear
deconvolutions) get ``lr_mult 0`` and are skipped entirely.

PyTorch's SGD puts lr outside the velocity (v ← μv + g; w ← w − lr·v); the two agree while lr is
constant, which it is in FCN's recipe.

The recipe assumes a network that starts from ImageNet VGG16 weights. Trained from scratch (the
offline shapes data, where no pretrained weights exist), plain SGD leaves a 15-layer FCN
predicting the class frequencies for thousands of iterations; Adam (Kingma & Ba 2015), whose
per-parameter step sizes do not depend on the gradients' scale, gets it going in hundreds. That is
why the default training run uses Adam and the paper's recipe uses SGD.
"""
import numpy as np

from .backend import device_of, get_array_module, to_cpu, to_device

# The optimizer's buffers (momentum, Adam's moments) slide into the subnormal range more slowly
# than they matter, so they are flushed every FLUSH_EVERY steps; the weights, which every GEMM
# reads, on every step (flush_subnormals).
FLUSH_EVERY = 10


def is_bias(name):
    return name.endswith(".bias") or name == "bias"


def flush_subnormals(a, buf):
    """Set the subnormal entries of ``a`` (0 < |a| < the dtype's smallest normal number, 1.2e-38
    in float32) to 0, in place; ``buf``: a scratch array shaped like ``a``.

    Weight decay shrinks the weights of a unit that gets no gradient (a ReLU that never fires)
    geometrically, so they sink into the subnormal range and stay there for thousands of steps.
    x86 CPUs compute with subnormals up to 100 times slower, and every GEMM that reads them
    does: a trained FCN-16s of the main job had 56% of fc6's weights subnormal, and its step took
    80 ms instead of 44 ms until they were set to 0 (bench/RESULTS.md). They are zero for every
    other purpose: 1e-38 times any activation is nothing.
    """
    get_array_module(a).abs(a, out=buf)
    a *= buf >= a.dtype.type(np.finfo(a.dtype).tiny)


class Optimizer:
    """What SGD and Adam share: the trained parameters, FCN's bias multipliers, the step count,
    and the state a checkpoint stores.

    ``buffers`` names the per-parameter arrays (each a dict {parameter name: array}) that a
    resumed run needs; ``hyperparameters`` the constructor arguments that ``train`` fills from
    its configuration (``OPTIMIZERS[name](params, **{k: cfg[k] for k in cls.hyperparameters})``).
    """
    buffers = ()
    hyperparameters = ("lr",)
    legacy_buffers = {}          # buffer names in checkpoints of older minifcn versions → today's

    def __init__(self, named_parameters, lr, weight_decay, bias_lr_mult, bias_decay_mult):
        if lr < 0 or weight_decay < 0:
            raise ValueError(f"lr and weight_decay must be ≥ 0, got {lr}, {weight_decay}")
        self.params = [(n, p) for n, p in named_parameters if p.requires_grad]
        self.lr, self.weight_decay = lr, weight_decay
        self.bias_lr_mult, self.bias_decay_mult = bias_lr_mult, bias_decay_mult
        for b in self.buffers:
            setattr(self, b, {})
        self.t = 0                                  # steps taken

    def _mults(self, name):
        if is_bias(name):
            return self.bias_lr_mult, self.bias_decay_mult
        return 1.0, 1.0

    def _scratch(self, like):
        """A scratch array shaped and typed like ``like``: a view of one flat buffer that the
        largest parameter fits (kept across steps, never saved)."""
        xp = get_array_module(like)
        flat = getattr(self, "_flat", None)
        if flat is None or flat.size < like.size or flat.dtype != like.dtype \
                or get_array_module(flat) is not xp:
            size = max(p.data.size for _, p in self.params)
            flat = self._flat = xp.empty(size, like.dtype)
        return flat[:like.size].reshape(like.shape)

    def zero_grad(self):
        for _, p in self.params:
            p.grad = None

    # --- checkpoints ----------------------------------------------------------------------------
    # The state is what a resumed run needs to continue exactly: the buffers (host copies, keyed
    # "<buffer>/<parameter name>") and the step count. Hyperparameters are the run's settings.
    def state_dict(self):
        state = {f"{b}/{n}": to_cpu(v) for b in self.buffers for n, v in getattr(self, b).items()}
        return state, {"step": self.t}

    def load_state_dict(self, arrays, info=None):
        names = {n: p for n, p in self.params}
        for b in self.buffers:
            setattr(self, b, {})
        for key, v in arrays.items():
            b, _, n = key.partition("/")
            b = self.legacy_buffers.get(b, b)
            if b not in self.buffers or n not in names:
                raise KeyError(f"optimizer state {key!r} matches no buffer {self.buffers} of a "
                               f"trained parameter")
            p = names[n]
            if tuple(v.shape) != tuple(p.data.shape):
                raise ValueError(f"optimizer state for {n} has shape {tuple(v.shape)}, the "
                                 f"parameter {tuple(p.data.shape)}")
            getattr(self, b)[n] = to_device(v, device_of(p.data)).astype(p.data.dtype, copy=True)
        self.t = (info or {}).get("step", 0)


class SGD(Optimizer):
    """``SGD(model.named_parameters(), lr, momentum=0.99, weight_decay=5e-4)``.

    ``bias_lr_mult`` and ``bias_decay_mult`` default to the FCN recipe (2 and 0).
    Call ``step()`` after ``backward``, then ``model.zero_grad()``.
    """
    buffers = ("velocity",)                 # Caffe's "history": v in the update above
    hyperparameters = ("lr", "momentum", "weight_decay")

    def __init__(self, named_parameters, lr, momentum=0.99, weight_decay=5e-4,
                 bias_lr_mult=2.0, bias_decay_mult=0.0):
        if momentum < 0:
            raise ValueError(f"momentum must be ≥ 0, got {momentum}")
        super().__init__(named_parameters, lr, weight_decay, bias_lr_mult, bias_decay_mult)
        self.momentum = momentum

    def step(self):
        self.t += 1
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
            buf = self._scratch(p.data)
            for a in (p.data, v) if self.t % FLUSH_EVERY == 0 else (p.data,):
                flush_subnormals(a, buf)


class Adam(Optimizer):
    """Adam: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − lr_p · m̂ / (√v̂ + ε).

    m̂, v̂ are m, v divided by (1 − β^t) (bias correction for their zero start). Weight decay, when
    given, is added to the gradient (L2, as in PyTorch's Adam); biases get ``bias_lr_mult`` and
    ``bias_decay_mult`` as in SGD (defaults 1 and 0 here). Frozen parameters are skipped.
    The moments are kept under PyTorch's names: ``exp_avg`` (m) and ``exp_avg_sq`` (v).
    """
    buffers = ("exp_avg", "exp_avg_sq")
    hyperparameters = ("lr", "weight_decay")
    # minifcn 0.1.0 up to 2026-11-29 subclassed SGD and stored m as "velocity", v as "second".
    legacy_buffers = {"velocity": "exp_avg", "second": "exp_avg_sq"}

    def __init__(self, named_parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0, bias_lr_mult=1.0, bias_decay_mult=0.0):
        super().__init__(named_parameters, lr, weight_decay, bias_lr_mult, bias_decay_mult)
        self.betas, self.eps = tuple(betas), eps

    def step(self):
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t           # bias corrections
        for name, p in self.params:
            if p.grad is None:
                continue
            lr_mult, decay_mult = self._mults(name)
            xp = get_array_module(p.data)
            t = p.data.dtype.type
            if name not in self.exp_avg:
                self.exp_avg[name] = xp.zeros_like(p.data)
                self.exp_avg_sq[name] = xp.zeros_like(p.data)
            m, v = self.exp_avg[name], self.exp_avg_sq[name]
            # Every operation writes into m, v or one scratch array: the formula with temporaries
            # allocated and filled six parameter-sized arrays per parameter per step, which for
            # the main job's 0.6 M parameters cost more than all its ReLUs together.
            buf, decay = self._scratch(p.data), self.weight_decay * decay_mult
            if decay:
                xp.multiply(p.data, t(decay), out=buf)
                buf += p.grad                                     # g = grad + decay·w
                buf *= t(1 - b1)
            else:
                xp.multiply(p.grad, t(1 - b1), out=buf)
            m *= t(b1)
            m += buf                                              # buf = (1 − β1)·g
            xp.square(buf, out=buf)
            buf *= t((1 - b2) / (1 - b1) ** 2)                    # (1 − β2)·g²
            v *= t(b2)
            v += buf
            xp.divide(v, t(c2), out=buf)                          # v̂
            xp.sqrt(buf, out=buf)
            buf += t(self.eps)
            xp.divide(m, buf, out=buf)
            buf *= t(self.lr * lr_mult / c1)                      # lr_p · m̂ / (√v̂ + ε)
            p.data -= buf
            for a in (p.data, m, v) if self.t % FLUSH_EVERY == 0 else (p.data,):
                flush_subnormals(a, buf)

OPTIMIZERS = {"sgd": SGD, "adam": Adam}
LR_POLICIES = ("fixed", "poly")


def learning_rate(cfg, iteration):
    """The rate of (1-based) ``iteration`` under ``cfg``'s lr, lr_policy and iterations: 'fixed',
    or 'poly' (lr·(1 − (i−1)/iterations)^0.9, DeepLab's). A pure function of it: resume is exact."""
    if cfg["lr_policy"] == "fixed":
        return cfg["lr"]
    if cfg["lr_policy"] == "poly":
        return cfg["lr"] * (1 - (iteration - 1) / max(1, cfg["iterations"])) ** 0.9
    raise ValueError(f"unknown lr_policy {cfg['lr_policy']!r}: expected one of {LR_POLICIES}")



def get_optimizer(name, named_parameters, **config):
    """``OPTIMIZERS[name]`` built from the keys of ``config`` it takes (its hyperparameters)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: expected one of {tuple(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    return cls(named_parameters, **{k: config[k] for k in cls.hyperparameters})
