"""The README's main job, measured: `python -m minifcn train` with its defaults, from scratch.

Runs the command in a subprocess (a fresh run folder; the dataset is generated first if it is
missing, and that time is reported separately), then reads the run's eval.csv and log.csv:
the mean IU at every evaluation, the wall time at which mean IU first reached the target, and
the whole run's wall time. Extra arguments go to `minifcn train` unchanged.

    python bench/bench_main_job.py                       # the defaults, target 0.85
    python bench/bench_main_job.py --target 0.9 -- --iterations 3000
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

from common import cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.85, help="mean IU to reach")
    parser.add_argument("--out", default=None, help="run folder (default: a temporary one)")
    parser.add_argument("train_args", nargs="*", help="passed to `minifcn train` (after --)")
    args = parser.parse_args()
    sys.path.insert(0, REPO)
    from minifcn.data import default_train_data

    t = time.time()
    root = default_train_data()
    data_seconds = time.time() - t
    out = args.out or tempfile.mkdtemp(prefix="minifcn-main-job-")
    cmd = [sys.executable, "-m", "minifcn", "train", "--out", out, "--overwrite",
           "--progress", "false", *args.train_args]
    print("running:", " ".join(cmd), flush=True)
    t = time.time()
    subprocess.run(cmd, check=True, cwd=REPO)
    wall = time.time() - t

    with open(os.path.join(out, "log.csv"), newline="") as f:
        seconds = {int(r["iteration"]): float(r["seconds"]) for r in csv.DictReader(f)}
    with open(os.path.join(out, "eval.csv"), newline="") as f:
        evals = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    print(f"\nmachine: {cpu_model()}, {os.cpu_count()} cores; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"dataset {root} ({data_seconds:.1f} s to make or find)")
    print(f"{'iteration':>9} {'train s':>8} {'mean IU':>8} {'pixel acc':>9} {'mean acc':>8} "
          f"{'fw IU':>6}")
    reached = None
    for e in evals:
        it = int(e["iteration"])
        s = seconds.get(it, float("nan"))
        print(f"{it:9d} {s:8.1f} {e['mean_iu']:8.4f} {e['acc']:9.4f} {e['acc_cls']:8.4f} "
              f"{e['fwavacc']:6.4f}")
        if reached is None and e["mean_iu"] >= args.target:
            reached = (it, s)
    final = json.load(open(os.path.join(out, "metrics.json")))
    print(f"\nwhole run: {wall:.1f} s wall (training, evaluations, checkpoints, figures)")
    print(f"final mean IU {final['mean_iu']:.4f} at iteration {final['iteration']}")
    if reached:
        print(f"mean IU ≥ {args.target} first at iteration {reached[0]}, "
              f"{reached[1]:.1f} s into training")
    else:
        print(f"mean IU never reached {args.target}")
    print(f"run folder: {out}")


if __name__ == "__main__":
    main()
