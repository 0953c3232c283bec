#!/usr/bin/env bash
# The GPU check: everything minifcn promises on a CUDA GPU, in one call, with one summary.
#
#     bash bench/gpu_check.sh            (from anywhere; logs go to $OUT or a temporary folder)
#
# For a machine with an NVIDIA GPU whose Python already has CuPy (cupy-cuda12x or -cuda13x),
# numpy, pillow, matplotlib, tqdm and pytest (PyTorch with CUDA optional: the benchmark's
# reference). It installs nothing and needs no network: minifcn runs from this checkout
# (PYTHONPATH). Meant to take under 4 minutes on one H200 (not yet measured: no GPU so far);
# every stage has its own time limit (45 + 150 + 60 + 60 + 60 s at most), and a stage that fails or
# runs out of time is reported and the next one still runs. Exit status 0 only if all passed.
#
#   1. the environment: versions, the GPU, and that minifcn's 'cuda' is real CuPy
#   2. the test suite on real CuPy, MINIFCN_DEVICE=cuda: every test marked gpu and every test
#      that is not slow (the slow ones are CPU-only lessons 01-08 and gradient checks)
#   3. bench/bench_gpu.py: FCN-8s forward and training step, CuPy against PyTorch CUDA
#   4. the main job trained briefly on the GPU (300 iterations, one evaluation)
#   5. the device operations of one training step, counted on the CuPy stand-in
#      (bench/count_device_ops.py: the count a GPU pays ~10-20 us of host time each for)
#   6. the summary, also written to $OUT/summary.txt
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT_DIR=${OUT:-$(mktemp -d /tmp/minifcn_gpu_check.XXXXXX)}
mkdir -p "$OUT_DIR"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg
unset MINIFCN_FAKE_CUPY                      # this check is about the real thing
SUMMARY=()
start_all=$(date +%s)

stage() {   # stage NAME LIMIT_S LOG COMMAND... : run with a time limit, record status and time
    local name=$1 limit=$2 log=$3
    shift 3
    local t0 rc
    t0=$(date +%s)
    echo "=== $name (limit ${limit}s) ==="
    timeout -k 10 "$limit" "$@" >"$log" 2>&1
    rc=$?
    tail -n 25 "$log"
    local status=ok
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="TIMED OUT"; elif [ "$rc" -ne 0 ]; then status="FAILED (rc $rc)"; fi
    SUMMARY+=("$(printf '%-34s %-16s %4ss' "$name" "$status" "$(( $(date +%s) - t0 ))")")
    return "$rc"
}

# 1. environment ------------------------------------------------------------------------------
stage "environment" 45 "$OUT_DIR/env.log" python - <<'EOF'
import platform
import numpy
from minifcn import backend
import cupy
print("python", platform.python_version(), "numpy", numpy.__version__, "cupy", cupy.__version__)
n = cupy.cuda.runtime.getDeviceCount()
name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
print(f"{n} CUDA device(s); device 0: {name.decode() if isinstance(name, bytes) else name}")
print("CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(),
      "driver", cupy.cuda.runtime.driverGetVersion())
try:
    import torch
    print("torch", torch.__version__, "cuda available:", torch.cuda.is_available())
except ImportError:
    print("torch: not installed (the benchmark runs minifcn alone)")
assert backend.cuda_available(), "minifcn.backend sees no CUDA device"
assert backend.array_module("cuda") is cupy, "minifcn's 'cuda' is not the real CuPy"
x = backend.to_device(numpy.arange(6, dtype=numpy.float32), "cuda")
assert float((x * 2).sum()) == 30.0
print("minifcn on cupy: ok")
EOF
env_rc=$?

if [ "$env_rc" -eq 0 ]; then
    # 2. the test suite on the GPU ------------------------------------------------------------
    stage "tests, MINIFCN_DEVICE=cuda" 150 "$OUT_DIR/pytest.log" \
        env MINIFCN_DEVICE=cuda python -m pytest -m "not slow or gpu" -p no:cacheprovider \
        -q -ra --durations=5 -o cache_dir="$OUT_DIR/.pytest_cache"
    tests_line=$(grep -E "[0-9]+ (passed|failed)" "$OUT_DIR/pytest.log" | tail -n 1)

    # 3. the benchmark --------------------------------------------------------------------------
    stage "bench_gpu.py (FCN-8s 375x500)" 60 "$OUT_DIR/bench_gpu.log" \
        python bench/bench_gpu.py --repeat 3

    # 4. the main job, briefly ------------------------------------------------------------------
    stage "main job, 300 iterations on GPU" 60 "$OUT_DIR/train.log" \
        python -m minifcn train --device cuda --iterations 300 --eval-every 300 \
        --out "$OUT_DIR/train" --progress false
    train_line=$(python - "$OUT_DIR/train" <<'EOF' 2>/dev/null
import csv, json, os, sys
run = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
m = json.load(open(os.path.join(run, "metrics.json")))
it, sec = int(rows[-1]["iteration"]), float(rows[-1]["seconds"])
print(f"{it} iterations in {sec:.1f} s ({it / sec:.1f} it/s, first included), "
      f"loss {float(rows[-1]['loss']):.3f}, mean IU {m['mean_iu']:.3f}")
EOF
)
fi

# 5. device operations per step (the stand-in, whatever the GPU) ------------------------------
stage "device operations per step" 60 "$OUT_DIR/device_ops.log" \
    env MINIFCN_FAKE_CUPY=1 python bench/count_device_ops.py --size 128 512 --top 0

# 6. summary ----------------------------------------------------------------------------------
{
    echo
    echo "=== minifcn GPU check: summary ($(date -u '+%Y-%m-%d %H:%M UTC'), $(( $(date +%s) - start_all )) s) ==="
    grep -E "CUDA device|^python|^torch" "$OUT_DIR/env.log" 2>/dev/null
    printf '%s\n' "${SUMMARY[@]}"
    [ "$env_rc" -ne 0 ] && echo "no usable CuPy/GPU: the other stages did not run (see $OUT_DIR/env.log)"
    [ -n "${tests_line:-}" ] && echo "tests: $tests_line"
    grep -E "^FAILED|^ERROR|^SKIPPED" "$OUT_DIR/pytest.log" 2>/dev/null | head -n 20
    grep -E "^  (minifcn|torch|ratio)" "$OUT_DIR/bench_gpu.log" 2>/dev/null
    [ -n "${train_line:-}" ] && echo "main job: $train_line"
    grep -E "^main job|^VGG16" "$OUT_DIR/device_ops.log" 2>/dev/null | sed 's/^/device ops: /'
    echo "logs: $OUT_DIR"
} | tee "$OUT_DIR/summary.txt"
grep -qE "FAILED|TIMED OUT" "$OUT_DIR/summary.txt" && exit 1
[ "$env_rc" -eq 0 ]
