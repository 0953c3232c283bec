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
from .functional.cpu import threads

# Weights and the optimizer's buffers (momentum, Adam's moments) slide into the subnormal range
# slowly, a few entries per step, so they are flushed on the first step and every FLUSH_EVERY
# steps after it (flush_subnormals): what sinks in between is a handful of entries for at most
# FLUSH_EVERY − 1 steps, and the flush, three passes over every parameter, runs on a tenth of the
# steps. On the CPU only: GPUs flush subnormals in hardware.
FLUSH_EVERY = 10


def flush_due(t):
    """Whether step ``t`` (1-based) flushes the subnormals: the first, then every FLUSH_EVERY."""
    return t % FLUSH_EVERY == 1 % FLUSH_EVERY


def is_bias(name):
    return name.endswith(".bias") or name == "bias"


def flush_subnormals(a, buf):
    """Set the subnormal entries of ``a`` (0 < |a| < the dtype's smallest normal number, 1.2e-38
    in float32) to 0, in place; ``buf``: a scratch array shaped like ``a``.

    Weight decay shrinks the weights of a unit that gets no gradient (a ReLU that never fires)
    geometrically, so they sink into the subnormal range and stay there for thousands of steps.
    x86 CPUs compute with subnormals up to 100 times slower, and every GEMM that reads them
    does: a trained FCN-16s of the main job had over half of fc6's weights subnormal, and its
    step took nearly twice as long until they were set to 0 (bench/RESULTS.md). They are zero
    for every other purpose: 1e-38 times any activation is nothing.
    """
    get_array_module(a).abs(a, out=buf)
    a *= buf >= a.dtype.type(np.finfo(a.dtype).tiny)


class Optimizer:
    """What SGD and Adam share: the trained parameters, FCN's bias multipliers, the step count,
    the flat buffers the updates run on, and the state a checkpoint stores.

    ``buffers`` names the per-parameter arrays (each a dict {parameter name: array}) that a
    resumed run needs; ``hyperparameters`` the constructor arguments that ``train`` fills from
    its configuration (``OPTIMIZERS[name](params, **{k: cfg[k] for k in cls.hyperparameters})``).

    The update is the same few operations for every parameter, so it runs on all of them at
    once: on the first step the parameters are copied into one flat array (weights first, then
    biases) and each ``p.data`` becomes a view of its slice; so do the buffers. A step is then a
    dozen whole-buffer operations instead of a dozen per parameter (on a GPU each operation is a
    kernel launch). Parameters whose arrays were replaced since (``load_state_dict``, ``to``)
    are laid out again on the next step.
    """
    buffers = ()
    hyperparameters = ("lr",)
    # Whole-array operations in one update: its work is passes × elements, which decides
    # whether splitting it between threads pays (threads.MIN_ELEMENTS_PER_THREAD).
    passes = 1
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
        self._flat = None                           # FlatLayout, made by the first step

    def _mults(self, name):
        if is_bias(name):
            return self.bias_lr_mult, self.bias_decay_mult
        return 1.0, 1.0

    def zero_grad(self):
        for _, p in self.params:
            p.grad = None

    def step(self):
        """One update of every parameter that has a gradient."""
        self.t += 1
        if not self.params:
            return
        flat = self._layout()
        if all(p.grad is not None for _, p in self.params):
            xp = get_array_module(flat.data)
            grad = xp.concatenate([p.grad.reshape(-1) for _, p in self.params_in_order()])
            self._update_in_blocks(flat, grad)
        else:                   # some parameter got no gradient: update the others one by one
            for name, p, sl in flat.slots:
                if p.grad is not None:
                    self.update(flat.data[sl], p.grad.reshape(-1).copy(),
                                {b: a[sl] for b, a in flat.buffers.items()},
                                [(slice(None), *self._mults(name))], flat.scratch[sl])

    def update(self, w, g, buffers, segments, buf):
        """Update the flat weights w in place from the flat gradient g (which it may overwrite);
        ``segments``: (slice, lr_mult, decay_mult) covering w; ``buf``: scratch like w.
        Elementwise only: it may be called on any block of the flat arrays (nothing global,
        such as a gradient norm, may enter it)."""
        raise NotImplementedError

    def _update_in_blocks(self, flat, grad):
        """``update`` on the whole flat layout. Every element's update reads only that element,
        so on the CPU the flat range is split into blocks between threads (functional/cpu/
        threads.py: NumPy runs each operation on one core), with the same result as one call."""
        def block(i0, i1):
            self.update(flat.data[i0:i1], grad[i0:i1],
                        {b: a[i0:i1] for b, a in flat.buffers.items()},
                        _segments_within(flat.segments, i0, i1), flat.scratch[i0:i1])
        n = flat.data.size
        threads.over_channels(block, n, n * self.passes, get_array_module(flat.data))

    def params_in_order(self):
        return [(n, p) for n, p, _ in self._flat.slots]

    def _layout(self):
        if self._flat is None or not self._flat.holds(self.params):
            self._flat = FlatLayout(self.params, self._mults,
                                    {b: getattr(self, b) for b in self.buffers})
            for b in self.buffers:
                setattr(self, b, self._flat.views(b))
        return self._flat

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
        self._flat = None                           # laid out again, with these, on the next step


def _segments_within(segments, i0, i1):
    """The parts of ``segments`` (slice, lr_mult, decay_mult) inside [i0, i1), as slices of the
    block ``w[i0:i1]``."""
    out = []
    for sl, lr_mult, decay_mult in segments:
        start, stop = max(sl.start, i0), min(sl.stop, i1)
        if start < stop:
            out.append((slice(start - i0, stop - i0), lr_mult, decay_mult))
    return out


class FlatLayout:
    """The trained parameters and the optimizer's buffers as one flat array each.

    Parameters are ordered by their (lr_mult, decay_mult), weights before biases, so that each
    setting is one contiguous ``segment``. ``slots``: (name, parameter, slice) in that order.
    """

    def __init__(self, params, mults, buffers):
        xp = get_array_module(params[0][1].data)
        dtypes = {p.data.dtype for _, p in params}
        devices = {device_of(p.data) for _, p in params}
        if len(dtypes) > 1 or len(devices) > 1:
            raise ValueError(f"an optimizer's parameters must share one dtype and one device, "
                             f"got {sorted(map(str, dtypes))} on {sorted(devices)}: move the "
                             f"model with .to(device, dtype) first")
        keys = list(dict.fromkeys(mults(n) for n, _ in params))
        ordered = [(n, p) for k in keys for n, p in params if mults(n) == k]
        self.slots, self.segments, offset = [], [], 0
        for k in keys:
            start = offset
            for n, p in ordered:
                if mults(n) == k:
                    self.slots.append((n, p, slice(offset, offset + p.data.size)))
                    offset += p.data.size
            self.segments.append((slice(start, offset), *k))
        dtype = dtypes.pop()
        self.data = xp.empty(offset, dtype=dtype)
        self.scratch = xp.empty(offset, dtype=dtype)
        for _, p, sl in self.slots:                 # the parameters move into the flat array
            self.data[sl] = p.data.reshape(-1)
            p.data = self.data[sl].reshape(p.data.shape)
        self._arrays = {id(p): p.data for _, p, _ in self.slots}
        self.buffers = {}
        for b, arrays in buffers.items():           # zeros, or the state loaded or kept so far
            flat = self.buffers[b] = xp.zeros(offset, dtype=dtype)
            for n, p, sl in self.slots:
                if n in arrays:
                    flat[sl] = to_device(arrays[n], device_of(p.data)).reshape(-1)

    def holds(self, params):
        """Whether every parameter's array is still the view of ``data`` it was given."""
        return (len(params) == len(self.slots)
                and all(self._arrays.get(id(p)) is p.data for _, p in params))

    def views(self, b):
        """{name: view of buffer b} in each parameter's shape."""
        return {n: self.buffers[b][sl].reshape(p.data.shape) for n, p, sl in self.slots}


class SGD(Optimizer):
    """``SGD(model.named_parameters(), lr, momentum=0.99, weight_decay=5e-4)``.

    ``bias_lr_mult`` and ``bias_decay_mult`` default to the FCN recipe (2 and 0).
    Call ``step()`` after ``backward``, then ``model.zero_grad()``.
    """
    buffers = ("velocity",)                 # Caffe's "history": v in the update above
    hyperparameters = ("lr", "momentum", "weight_decay")
    passes = 6                              # operations per element in update (see Optimizer)

    def __init__(self, named_parameters, lr, momentum=0.99, weight_decay=5e-4,
                 bias_lr_mult=2.0, bias_decay_mult=0.0):
        if momentum < 0:
            raise ValueError(f"momentum must be ≥ 0, got {momentum}")
        super().__init__(named_parameters, lr, weight_decay, bias_lr_mult, bias_decay_mult)
        self.momentum = momentum

    def update(self, w, g, buffers, segments, buf):
        xp, t = get_array_module(w), w.dtype.type
        v = buffers["velocity"]
        for sl, lr_mult, decay_mult in segments:
            if self.weight_decay * decay_mult:
                g[sl] += t(self.weight_decay * decay_mult) * w[sl]       # g = grad + decay·w
            xp.multiply(g[sl], t(self.lr * lr_mult), out=buf[sl])       # lr_p · g
        v *= t(self.momentum)
        v += buf
        w -= v
        if xp is np:                        # x86's slow subnormals: see flush_subnormals
            for a in (w, v) if flush_due(self.t) else ():
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
    passes = 15                             # operations per element in update (see Optimizer)
    # Older minifcn 0.1.0 subclassed SGD and stored m as "velocity", v as "second".
    legacy_buffers = {"velocity": "exp_avg", "second": "exp_avg_sq"}

    def __init__(self, named_parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0, bias_lr_mult=1.0, bias_decay_mult=0.0):
        super().__init__(named_parameters, lr, weight_decay, bias_lr_mult, bias_decay_mult)
        self.betas, self.eps = tuple(betas), eps

    def update(self, w, g, buffers, segments, buf):
        xp, t = get_array_module(w), w.dtype.type
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t           # bias corrections
        m, v = buffers["exp_avg"], buffers["exp_avg_sq"]
        # Every operation writes into g, m, v or the scratch buf: no temporaries.
        for sl, _, decay_mult in segments:
            if self.weight_decay * decay_mult:
                xp.multiply(w[sl], t(self.weight_decay * decay_mult), out=buf[sl])
                g[sl] += buf[sl]                                  # g = grad + decay·w
        g *= t(1 - b1)
        m *= t(b1)
        m += g                                                    # g = (1 − β1)·g
        xp.square(g, out=g)
        g *= t((1 - b2) / (1 - b1) ** 2)                          # (1 − β2)·g²
        v *= t(b2)
        v += g
        # m̂ / (√v̂ + ε) = (m / c1) · √c2 / (√v + ε·√c2): v̂ is never formed, one pass fewer.
        xp.sqrt(v, out=buf)
        buf += t(self.eps * c2 ** 0.5)
        xp.divide(m, buf, out=buf)
        for sl, lr_mult, _ in segments:
            buf[sl] *= t(self.lr * lr_mult * c2 ** 0.5 / c1)     # lr_p · m̂ / (√v̂ + ε)
        w -= buf
        if xp is np:                        # x86's slow subnormals: see flush_subnormals
            for a in (w, m, v) if flush_due(self.t) else ():
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
