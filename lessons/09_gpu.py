"""Lesson 09: the same code on a GPU, and on 'cuda' without one.

Nothing in minifcn's layers says "CPU". Every kernel asks its inputs which array library they
belong to (``xp = get_array_module(x)``: NumPy, or CuPy for arrays on an NVIDIA GPU) and calls
``xp.matmul``, ``xp.maximum``, slices… which CuPy provides with NumPy's names. Moving a model
(``model.to('cuda')``) and its batches (``backend.to_device``) is all it takes. This lesson runs
an FCN forward and backward on both and times them.

Without a GPU you can still run the device path: minifcn's CuPy stand-in
(``backend.use_fake_cupy()``, or ``MINIFCN_FAKE_CUPY=1``) computes with NumPy on the CPU but keeps
CuPy's rules: a device array refuses to turn into a NumPy array behind your back, a NumPy array
mixed into a device operation is an error, and every copy between host and device is counted.
"""
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup
import time

from _common import np, plt, say, section

from minifcn import backend, nn
from minifcn.functional import conv as conv_kernels
from minifcn.models import FCN8s
from minifcn.optim import SGD, Adam
from minifcn.testing import count_transfers
from minifcn.testing.opcount import batch_on, training_step_ops

args = _common.parse_args("09_gpu", "The same code on a GPU", gpu_optional=True,
                          default_device="cuda")
_common.intro(args)
rng = np.random.default_rng(args.seed)
N_CLASS, SIZE = 5, 64

# %% 1. The model
section("1. The model")


def make_model():
    """A small FCN-8s: VGG16's layout, narrow layers."""
    return FCN8s(n_class=N_CLASS, base_channels=8, fc_channels=64, seed=args.seed)


model = make_model()
for p in model.parameters():
    if not p.data.any():    # FCN's score layers start at zero: give them weights, so that the
        p.data = rng.normal(0, 0.01, p.data.shape).astype(p.data.dtype)   # scores are not all 0
n_params = sum(p.data.size for p in model.parameters())
print(f"{type(model).__name__}: {n_params / 1e3:.0f} k parameters, {SIZE}×{SIZE} inputs, "
      f"{N_CLASS} classes")
crit = nn.SoftmaxCrossEntropy()


def step(model, x, t):
    """One forward and backward pass, as a training iteration does (without the update)."""
    loss = crit(model(x), t)
    model.backward(crit.backward())
    model.zero_grad()
    return loss


def batch(n):
    x = rng.standard_normal((n, 3, SIZE, SIZE)).astype(np.float32)
    t = rng.integers(0, N_CLASS, (n, SIZE, SIZE)).astype(np.int32)
    return x, t


def time_step(model, x, t, device, repeat):
    """Seconds per forward+backward, the batch already on ``device``; the best of ``repeat``."""
    x, t = backend.to_device(x, device), backend.to_device(t, device)
    backend.synchronize(step(model, x, t))                 # warm-up: first calls are slow
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        loss = step(model, x, t)
        backend.synchronize(loss)                          # GPU calls return before the work ends
        times.append(time.perf_counter() - start)
    return min(times)


# %% 2. On the CPU
section("2. On the CPU")
say("""
    Forward and backward of a batch, for a few batch sizes. The best of a few runs is kept:
    it is the one least disturbed by whatever else the machine is doing.
""")
sizes = [1, 4] if args.quick else [1, 4, 16]
repeat = 2 if args.quick else 3
cpu_times = {}
for n in sizes:
    cpu_times[n] = time_step(model, *batch(n), "cpu", repeat)
    print(f"  batch {n:>2}: {1e3 * cpu_times[n]:8.1f} ms  "
          f"({1e3 * cpu_times[n] / n:6.1f} ms per image)")

# %% 3. On the GPU
section("3. On the GPU")
gpu_times = {}
if args.device != "cuda":
    say("You asked for --device cpu: the GPU part is skipped.")
elif not backend.cuda_available() or backend.using_fake_cupy():
    say(f"""
        No GPU here (CuPy is not installed, it finds no CUDA device, or 'cuda' is already the
        stand-in). To run this part, {backend.INSTALL_HINT}.
        Then `python -c "import minifcn; print(minifcn.cuda_available())"` prints True, and
        every lesson (and `minifcn train`) accepts --device cuda.

        What happens there: model.to('cuda') copies every parameter to the GPU as a CuPy
        array; backend.to_device(x, 'cuda') does the same for a batch. From then on the very
        same layer code runs, because get_array_module(x) returns cupy instead of numpy. GPU
        calls return before the work is done, so timings call backend.synchronize() first.
        Section 4 runs that same program on 'cuda' without a GPU.
    """)
else:
    say("""
        model.to('cuda') copies every parameter to the GPU; the batches follow with
        backend.to_device. First a check that both devices compute the same thing: the scores
        of one batch in eval mode (no dropout: the two libraries draw different random masks).
    """)
    gpu_model = make_model()
    gpu_model.load_state_dict(model.state_dict())      # the very same weights
    gpu_model.to("cuda")
    x, _ = batch(2)
    model.eval()
    gpu_model.eval()
    with nn.no_grad():
        cpu_scores = model(x)
        gpu_scores = backend.to_cpu(gpu_model(backend.to_device(x, "cuda")))
    model.train()
    gpu_model.train()
    print(f"  max |CPU − GPU| scores: {np.abs(cpu_scores - gpu_scores).max():.1e} "
          f"(of values up to {np.abs(cpu_scores).max():.1e}; float32 sums in another order)")
    for n in sizes:
        gpu_times[n] = time_step(gpu_model, *batch(n), "cuda", repeat + 2)
        print(f"  batch {n:>2}: {1e3 * gpu_times[n]:8.1f} ms  "
              f"→ {cpu_times[n] / gpu_times[n]:5.1f}× the CPU's speed")
    say("""
        The GPU gains most on large batches: a small one cannot keep its thousands of cores
        busy, and every layer call costs a fixed launch overhead. (The times leave out copying
        the batch to the GPU, which a training loop does once per iteration.)
    """)

# %% 4. 'cuda' without a GPU: CuPy's rules on the CPU
section("4. 'cuda' without a GPU: CuPy's rules on the CPU")
say("""
    backend.use_fake_cupy() puts minifcn's CuPy stand-in where CuPy would be (the environment
    variable MINIFCN_FAKE_CUPY=1 does the same when minifcn is imported; the test suite runs a
    second time that way). Its arrays hold NumPy arrays but are not NumPy arrays, its functions
    are only those CuPy has, and it counts every copy between host and device. Underneath it is
    NumPy, random generator included, so the same program must give the same numbers on 'cpu'
    and on this 'cuda', bit for bit: a difference would be a code path that differs between them.
""")
backend.use_fake_cupy()
cpu_model, fake_model = make_model(), make_model()       # fresh: dropout masks count from 0
cpu_model.load_state_dict(model.state_dict())
fake_model.load_state_dict(model.state_dict())
fake_model.to("cuda")
x, t = batch(2)
results = []
for m, device in ((cpu_model, "cpu"), (fake_model, "cuda")):
    opt = SGD(m.named_parameters(), lr=1e-3, momentum=0.9)
    m.zero_grad()
    loss = crit(m(backend.to_device(x, device)), backend.to_device(t, device))   # dropout on
    m.backward(crit.backward())
    opt.step()
    results.append((float(loss), {n: backend.to_cpu(v) for n, v in m.state_dict().items()}))
diff = max(np.abs(results[0][1][n] - results[1][1][n]).max() for n in results[0][1])
print(f"  one SGD step, train mode: loss {results[0][0]:.6f} on 'cpu', {results[1][0]:.6f} on "
      f"'cuda'; largest weight difference afterwards {diff:.1e}")

say("What it refuses, as CuPy on a GPU would:")
scores = fake_model(backend.to_device(x, "cuda"))
xp = backend.get_array_module(scores)
tries = {"np.asarray(scores)": lambda: np.asarray(scores),
         "scores + np.ones(...)": lambda: scores + np.ones(scores.shape[1:], scores.dtype),
         "xp.errstate(...)": lambda: xp.errstate(over="ignore")}
for code, attempt in tries.items():
    try:
        attempt()
        print(f"  {code:24s} ran (it should not have)")
    except (TypeError, AttributeError) as err:
        print(f"  {code:24s} {type(err).__name__}: {str(err)[:60]}…")
print(f"  {'backend.to_cpu(scores)':24s} fine: the one explicit way back, {scores.shape}")

say("""
    Transfers. A training loop copies each batch to the device; reading the loss back with
    float(loss) makes the host wait for the device every time. minifcn.train keeps the losses
    on the device and reads them back together, once every log_every iterations. The loss
    layer's check_target (are all labels valid classes?) costs one read of a flag per call too:
    minifcn.train checks labels on the host and turns it off. Counted:
""")
N = 10 if args.quick else 20


def run_loop(read_every, check_target):
    """N training iterations on the stand-in's 'cuda', reading the loss every ``read_every``."""
    opt = SGD(fake_model.named_parameters(), lr=1e-3, momentum=0.9)
    loop_crit = nn.SoftmaxCrossEntropy(check_target=check_target)
    pending = []
    with count_transfers() as counted:
        for i in range(1, N + 1):
            xb, tb = batch(1)
            loss = loop_crit(fake_model(backend.to_device(xb, "cuda")),
                             backend.to_device(tb, "cuda"))
            fake_model.zero_grad()
            fake_model.backward(loop_crit.backward())
            opt.step()
            pending.append(loss)
            if i % read_every == 0:       # one read for all pending losses
                backend.to_cpu(backend.get_array_module(loss).stack(pending))
                pending = []
    return counted


counts = {}
for every, check in ((1, True), (10, True), (10, False)):
    c = counts[every, check] = run_loop(every, check)
    print(f"  loss read every {every:2d}, check_target={check!s:5s}: {c.d2h:2d} reads back; "
          f"{c.h2d} copies to the device ({sum(e[2] for e in c.of('h2d')) / 1e3:.0f} kB, "
          f"the batches), in {N} iterations")

# %% 5. Few, large operations
section("5. Few, large operations")
say("""
    A GPU runs each operation on thousands of cores at once, but starting one costs the host
    10–20 µs whatever its size. A step of the small networks trained here is then bounded by
    how many operations it issues, not by its arithmetic. The stand-in counts them
    (minifcn.testing.count_device_ops): every ufunc, reduction, copy, matrix product and new
    array; views (slices, reshapes, the im2col window view) cost nothing.

    minifcn's im2col (functional/im2col.py) is one copy of a strided window view, whatever the
    kernel size. The classic way (Chainer's, and minifcn's before) copies one kernel offset at a
    time: kh·kw copies, 9 for a 3×3 kernel, 49 for fc6. Below, one training step of the main
    job's network (forward, loss, backward, Adam), counted both ways.
""")


def im2col_per_offset(xpad, g):
    """The same cols (C·kh·kw, N·oh·ow) built one kernel offset at a time."""
    xp = backend.get_array_module(xpad)
    (kh, kw), (sy, sx), _, (dy, dx), (oh, ow) = g
    N, C = xpad.shape[:2]
    cols = xp.empty((C, kh, kw, N, oh, ow), dtype=xpad.dtype)
    for ky in range(kh):
        for kx in range(kw):
            cols[:, ky, kx] = xpad[:, :, ky * dy:ky * dy + sy * (oh - 1) + 1:sy,
                                   kx * dx:kx * dx + sx * (ow - 1) + 1:sx].transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, -1)


def count_step(im2col=None):
    """Device operations of one main-job training step (after a first one that sets up)."""
    job = FCN8s.main_job(N_CLASS).to("cuda")
    opt = Adam(job.named_parameters(), lr=1e-3, weight_decay=5e-4)
    xb, tb = batch_on("cuda", N_CLASS, 128, seed=args.seed)
    original = conv_kernels.im2col_padded
    conv_kernels.im2col_padded = im2col or original
    try:
        training_step_ops(job, opt, xb, tb)
        return training_step_ops(job, opt, xb, tb)[0]
    finally:
        conv_kernels.im2col_padded = original


ops_view, ops_offsets = count_step(), count_step(im2col_per_offset)
print(f"  one training step, im2col as one copy:       {ops_view.n:5d} operations")
print(f"  one training step, one copy per kernel offset: {ops_offsets.n:5d} operations")
print(f"  at 10–20 µs each: {ops_view.n * 0.01:.0f}–{ops_view.n * 0.02:.0f} ms against "
      f"{ops_offsets.n * 0.01:.0f}–{ops_offsets.n * 0.02:.0f} ms of launch overhead per step")
print("  where the one-copy step's operations come from:")
for name, n in ops_view.by_file().most_common(6):
    print(f"    {n:4d}  {name}")

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
pos = np.arange(len(sizes))
if gpu_times:       # a real GPU: its time per image beside the CPU's
    ax.bar(pos - 0.2, [1e3 * cpu_times[n] / n for n in sizes], 0.4, label="CPU (NumPy)")
    ax.bar(pos + 0.2, [1e3 * gpu_times[n] / n for n in sizes], 0.4, label="GPU (CuPy)")
    ax.set_xticks(pos, [str(n) for n in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("ms per image (forward + backward)")
    ax.set_title(f"{type(model).__name__}, {SIZE}×{SIZE} inputs", fontsize=10)
    ax.legend()
else:               # the stand-in computes with NumPy: its times say nothing about a GPU
    bars = ax.bar(["im2col as\none copy\n(minifcn)", "one copy per\nkernel offset"],
                  [ops_view.n, ops_offsets.n], color=["tab:green", "tab:red"])
    ax.bar_label(bars)
    ax.set_ylabel("device operations per training step")
    ax.set_title("main job's FCN-8s, one step (counted by the stand-in)", fontsize=10)
ax2.bar(["every iteration", "every 10", "every 10,\nno check_target\n(minifcn.train)"],
        [counts[1, True].d2h, counts[10, True].d2h, counts[10, False].d2h],
        color=["tab:red", "tab:orange", "tab:green"])
ax2.set_xlabel("loss read back")
ax2.set_ylabel(f"device→host reads in {N} iterations")
ax2.set_title("counted by the CuPy stand-in", fontsize=10)
_common.save_figure(fig, args, "cpu_vs_gpu.png")

# %% Summary and questions
big = max(sizes)
on_gpu = (f", {cpu_times[big] / gpu_times[big]:.1f}× faster on the GPU" if gpu_times
          else "; no GPU took part in this run")
_common.summary([
    "No layer names a device: every kernel takes xp = get_array_module(x), NumPy or CuPy, "
    "and model.to('cuda') and backend.to_device move the arrays.",
    f"One forward and backward pass took {1e3 * cpu_times[big] / big:.1f} ms per image at "
    f"batch {big} on the CPU{on_gpu}.",
    "On the CuPy stand-in one SGD step gave "
    + ("exactly the CPU's weights." if diff == 0 else
       f"weights that differ from the CPU's by up to {diff:.0e}.")
    + " Section 4 lists what its device arrays refuse, as CuPy's would.",
    f"Reading the loss back every iteration cost {counts[1, True].d2h} device-to-host reads in "
    f"{N} iterations; every 10 iterations without check_target, {counts[10, False].d2h}.",
    f"One training step of the main job's network issues {ops_view.n} device operations; "
    f"with one copy per kernel offset in im2col it would be {ops_offsets.n}.",
], [
    "Why does the count of section 5 not change with the image size, while the arithmetic "
    "grows with its square?",
    "GPU calls return before the work is done. What would the timings of section 3 measure "
    "without backend.synchronize?",
    "float(loss) copies four bytes. Why does it still slow down a training loop on a GPU when "
    "it is done every iteration?",
    "Pick a kernel in minifcn/functional/ and find the line that would break on CuPy if it "
    "called np.asarray; try it on 'cuda' with backend.use_fake_cupy().",
], ko=([
    "어떤 계층도 장치 이름을 쓰지 않습니다: 모든 커널은 xp = get_array_module(x)로 NumPy나 "
    "CuPy를 받고, model.to('cuda')와 backend.to_device가 배열을 옮깁니다.",
    f"순전파와 역전파 한 번에 CPU에서 배치 {big}일 때 이미지 한 장당 "
    f"{1e3 * cpu_times[big] / big:.1f} ms가 걸렸습니다"
    + (f", GPU에서는 {cpu_times[big] / gpu_times[big]:.1f}배 빨랐습니다." if gpu_times
       else ". 이번 실행에는 GPU가 없었습니다."),
    "CuPy 대역(stand-in)에서 SGD 한 번의 갱신은 "
    + ("CPU와 정확히 같은 가중치를 냈습니다." if diff == 0 else
       f"CPU와 최대 {diff:.0e}만큼 다른 가중치를 냈습니다.")
    + " 4절은 그 장치 배열이 CuPy처럼 거부하는 것들을 보여 줍니다.",
    f"매 반복마다 손실을 읽어 오면 {N}번 반복에 장치→호스트 읽기가 {counts[1, True].d2h}번, "
    f"check_target 없이 10번마다 읽으면 {counts[10, False].d2h}번이었습니다.",
    f"메인 작업 망의 학습 한 단계는 장치 연산 {ops_view.n}개를 냅니다. im2col에서 커널 위치마다 "
    f"복사를 한 번씩 하면 {ops_offsets.n}개가 됩니다.",
], [
    "5절의 연산 수는 이미지 크기와 상관없는데 계산량은 크기의 제곱으로 늘어납니다. 왜 그럴까요?",
    "GPU 호출은 일이 끝나기 전에 돌아옵니다. backend.synchronize가 없다면 3절의 시간은 무엇을 "
    "잴까요?",
    "float(loss)는 4바이트를 복사할 뿐입니다. 그런데 매 반복마다 하면 GPU에서 학습 루프가 왜 "
    "느려질까요?",
    "minifcn/functional/의 커널 하나를 골라, np.asarray를 부르면 CuPy에서 깨질 줄을 찾아보세요. "
    "backend.use_fake_cupy()로 'cuda'에서 시험해 보세요.",
]))
