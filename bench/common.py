"""Helpers shared by the benchmark scripts (torch only imported where a function needs it:
the scripts run without it)."""
import contextlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# minifcn before NumPy, as a user's script would: importing it first sets OpenBLAS's thread
# timeout (minifcn/__init__.py), which OpenBLAS reads only when NumPy loads it.
import minifcn  # noqa: E402,F401
import numpy as np  # noqa: E402


def randomize_score_layers(model, seed=0, scale=1e-3):
    """FCN's score layers start at zero; give them small random weights so that every path of
    the network carries a signal in the benchmarks (the cost is the same either way)."""
    rng = np.random.default_rng(seed)
    for name in ("score_fr", "score_pool3", "score_pool4"):
        layer = getattr(model, name)
        layer.weight.data = (scale * rng.standard_normal(layer.weight.shape)).astype(np.float32)
        layer.bias.data = (scale * rng.standard_normal(layer.bias.shape)).astype(np.float32)


def set_inplace_relu(model, inplace=True):
    """Every ReLU of an FCN follows a convolution (which caches its input, not its output), so
    all of them can overwrite their input, as torchfcn's ``nn.ReLU(inplace=True)`` do."""
    from minifcn import nn
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = inplace
    return model


def make_batch(H, W, n_class=21, seed=0):
    """One image (1, 3, H, W) on the 0–255 scale and its labels, a strip of them ignored."""
    rng = np.random.default_rng(seed)
    x = (50 * rng.standard_normal((1, 3, H, W))).astype(np.float32)
    target = rng.integers(0, n_class, (1, H, W)).astype(np.int64)
    target[:, :10] = 255
    return x, target


def timed(f, *args):
    t0 = time.perf_counter()
    f(*args)
    return time.perf_counter() - t0


def minifcn_step(model, crit, x, t):
    """One training step's work in minifcn: zero_grad, forward, loss, backward (no input grad)."""
    model.zero_grad()
    loss = crit(model(x), t)
    model.backward(crit.backward(), need_input_grad=False)
    return loss


def torch_step(model, x, t):
    """The same step in PyTorch (mean cross-entropy, ignore 255)."""
    import torch
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), t, ignore_index=255)
    loss.backward()
    return loss


def cpu_model():
    """lscpu's model name: every figure is stated with the machine it was taken on (without
    lscpu, what Python knows)."""
    import platform
    import subprocess
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name:"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def host_rates(repeats=10):
    """The shared host's speed now, before timing anything: a 2048² float32 GEMM (GFLOP/s, on
    BLAS's threads) and a 64 MiB copy (GB/s read plus written, one core), best of ``repeats``.
    Both drift with the host's other tenants, and a figure is stated with them. Neither catches
    every slow spell: a 16-channel convolution alone ran at a third of its usual speed for
    minutes while both rates held (bench/RESULTS.md, "Issue 23, seventh round"), which is why
    the benchmarks interleave their rounds and report medians beside the best.
    """
    a = np.ones((2048, 2048), dtype=np.float32)
    src, dst = np.ones(2 ** 24, dtype=np.float32), np.empty(2 ** 24, dtype=np.float32)
    gemm = copy = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ a
        t1 = time.perf_counter()
        np.copyto(dst, src)
        t2 = time.perf_counter()
        gemm, copy = min(gemm, t1 - t0), min(copy, t2 - t1)
    return 2 * 2048 ** 3 / gemm / 1e9, 2 * src.nbytes / copy / 1e9


def host_line():
    """``host_rates`` as words, for a benchmark's header."""
    gemm, copy = host_rates()
    return f"host now: sgemm 2048² {gemm:.0f} GFLOP/s, copy 64 MiB {copy:.1f} GB/s"


def try_import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# --- timing as training runs: rounds of consecutive steps, the libraries taking turns ---------
def back_to_back(runs, steps=10, rounds=5, clock=time.perf_counter):
    """{name: [seconds per step in each round]}: ``rounds`` rounds, in each of which every
    function of ``runs`` ({name: f}) runs ``steps`` times in a row, one library after the other.
    A first round warms each up (threads awake, buffers allocated) and is not kept. Steps run
    back to back as in training, so no library starts a step cold."""
    per_step = {name: [] for name in runs}
    for r in range(rounds + 1):
        for name, f in runs.items():
            t0 = clock()
            for _ in range(steps):
                f()
            if r:
                per_step[name].append((clock() - t0) / steps)
    return per_step


def best_and_median(times):
    s = sorted(times)
    return s[0], s[len(s) // 2]


def report_ratio(per_step, label="step"):
    """Print best and median per step of each library, and minifcn / torch."""
    stats = {name: best_and_median(t) for name, t in per_step.items()}
    for name, (best, med) in stats.items():
        print(f"  {name:8s} {label}  best {1e3 * best:8.1f} ms   median {1e3 * med:8.1f} ms "
              f"({len(per_step[name])} rounds)")
    if "torch" in stats:
        (bm, mm), (bt, mt) = stats["minifcn"], stats["torch"]
        print(f"  ratio {label} minifcn / torch = {bm / bt:.2f} (best), {mm / mt:.2f} (median)")
    return stats


class LayerTimer:
    """Time spent in each minifcn layer (forward and backward apart), measured inside the steps
    it wraps: ``with LayerTimer(model, crit, optimizer) as lt: run steps``; then ``lt.seconds``
    {(key, 'fwd'|'bwd'|'update'): seconds}, the key being the layer's kind (``by="kind"``) or
    its name in the model (``by="layer"``: conv1_2, relu1_2, …). Wraps the leaf modules'
    forward/backward and the optimizer's step."""

    def __init__(self, *objects, clock=time.perf_counter, by="kind"):
        self.objects, self.clock, self.by, self.seconds, self._undo = objects, clock, by, {}, []

    def _wrap(self, obj, attr, key):
        f = getattr(obj, attr)

        def timed_call(*a, **k):
            t0 = self.clock()
            try:
                return f(*a, **k)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + self.clock() - t0
        setattr(obj, attr, timed_call)
        self._undo.append((obj, attr))

    def __enter__(self):
        for obj in self.objects:
            if hasattr(obj, "modules"):
                for name, m in obj.named_modules():
                    if not m._modules:
                        key = name if self.by == "layer" and name else type(m).__name__
                        self._wrap(m, "forward", (key, "fwd"))
                        self._wrap(m, "backward", (key, "bwd"))
            else:                                    # an optimizer
                self._wrap(obj, "step", (type(obj).__name__, "update"))
        return self

    def __exit__(self, *exc):
        for obj, attr in self._undo:
            obj.__dict__.pop(attr, None)


TORCH_KINDS = (  # aten op name fragments → the kind of an op outside any layer (first match wins)
    ("convolution_backward", ("Conv2d", "bwd")),   # a transposed convolution's backward too
    ("conv_transpose", ("ConvTranspose2d", "fwd")), ("conv", ("Conv2d", "fwd")),
    ("max_pool2d_with_indices_backward", ("MaxPool2d", "bwd")), ("max_pool", ("MaxPool2d", "fwd")),
    ("threshold_backward", ("ReLU", "bwd")), ("relu", ("ReLU", "fwd")),
    ("nll_loss", ("SoftmaxCrossEntropy", "both")), ("log_softmax", ("SoftmaxCrossEntropy", "both")),
    ("_foreach", ("Adam", "update")), ("adam", ("Adam", "update")),
)


def _torch_kind(op_name):
    """The (kind, phase) of an aten op by its name (TORCH_KINDS), or ("other", "")."""
    return next((k for frag, k in TORCH_KINDS if frag in op_name.lower()), ("other", ""))


LAYER_RANGE = "layer::"          # the profiler ranges torch_layer_ranges opens
AUTOGRAD_NODE = "autograd::engine::evaluate_function"   # the range of one backward node


@contextlib.contextmanager
def torch_layer_ranges(model):
    """While open, every leaf module's forward of a PyTorch ``model`` runs inside a profiler
    range named after it (the last part of its name: to_pool3.relu1_1 → relu1_1), for
    ``torch_layers``. Forward hooks only: they leave the tensors (and in-place ReLUs) alone."""
    import torch
    open_ranges, handles = {}, []

    def enter(name):
        def hook(module, args):
            open_ranges[name] = torch.autograd.profiler.record_function(LAYER_RANGE + name)
            open_ranges[name].__enter__()
        return hook

    def leave(name):
        def hook(module, args, out):
            open_ranges.pop(name).__exit__(None, None, None)
        return hook
    for name, m in model.named_modules():
        if name and not list(m.children()):
            short = name.rsplit(".", 1)[-1]
            handles += [m.register_forward_pre_hook(enter(short)),
                        m.register_forward_hook(leave(short))]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _ancestor(ev, prefix):
    """The innermost event enclosing ``ev`` (itself included) whose name starts with prefix."""
    while ev is not None and not ev.name.startswith(prefix):
        ev = ev.cpu_parent
    return ev


def _forward_op(node):
    """(thread, sequence number) of the forward op an autograd node differentiates."""
    return getattr(node, "fwd_thread", node.thread), node.sequence_nr


def torch_layers(prof):
    """{(layer, phase): seconds} from a torch.profiler run of steps inside
    ``torch_layer_ranges``: each op's self time goes to the layer whose forward range it ran
    in ("fwd"), or, in the backward, to the layer whose forward op autograd's node
    differentiates (matched by sequence number: "bwd"). Ops of neither (the loss, the optimizer,
    crops and sums) go to the kind their names say (``TORCH_KINDS``)."""
    events = prof.events()
    ranges = [_ancestor(ev, LAYER_RANGE) for ev in events]     # each event's forward range
    layer_of_op = {(ev.thread, ev.sequence_nr): rng.name[len(LAYER_RANGE):]   # forward ops
                   for ev, rng in zip(events, ranges) if rng is not None and ev.sequence_nr >= 0}
    out = {}
    for ev, rng in zip(events, ranges):
        node = None if rng is not None else _ancestor(ev, AUTOGRAD_NODE)
        if rng is not None:
            key = (rng.name[len(LAYER_RANGE):], "fwd")
        elif node is not None and _forward_op(node) in layer_of_op:
            key = (layer_of_op[_forward_op(node)], "bwd")
        else:
            key = _torch_kind(ev.name)
        out[key] = out.get(key, 0.0) + ev.self_cpu_time_total * 1e-6
    return out


def torch_kinds(layers, model):
    """{(kind, phase): seconds}: ``torch_layers``' table of a run of ``model`` summed by layer
    kind, the class name of the layer's module (Conv2d, ReLU, …, as minifcn's LayerTimer names
    kinds); keys that are no layer of the model (the loss, the optimizer, "other") stay as they
    are. Kinds read from the layers, not from the ops' names: in the backward PyTorch's slow
    convolution is ``aten::_slow_conv2d_backward`` and a ReLU's node ``ReluBackward0``, and
    a transposed convolution's forward runs ``aten::_convolution``."""
    kind_of = {name.rsplit(".", 1)[-1]: type(m).__name__ for name, m in model.named_modules()
               if name}
    out = {}
    for (layer, phase), seconds in layers.items():
        key = (kind_of.get(layer, layer), phase)
        out[key] = out.get(key, 0.0) + seconds
    return out


def print_kinds(mine, theirs, steps, title="layer kind"):
    """Per step, ms by layer kind (or by layer): minifcn's and PyTorch's, and the ratio."""
    keys = sorted(set(mine) | set(theirs), key=lambda k: -(mine.get(k, 0) + theirs.get(k, 0)))
    print(f"  {title:28s} {'minifcn ms':>10s} {'torch ms':>9s} {'ratio':>6s}")
    for k in keys:
        a, b = mine.get(k, 0.0) / steps, theirs.get(k, 0.0) / steps
        ratio = f"{a / b:6.2f}" if a and b else "     -"
        print(f"  {' '.join(k).strip():28s} {1e3 * a:10.2f} {1e3 * b:9.2f} {ratio}")
