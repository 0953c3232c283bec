"""Every lesson's wall time, with --quick and in full, against the lessons' time limits.

Runs each ``lessons/NN_*.py`` as a user would (``python lessons/05_skip_layers.py [--quick]``),
one after the other in a subprocess, and prints its wall time next to the limit the lessons
promise on a 2-core CPU (60 s with --quick, 5 minutes in full), with lscpu's model name. The
figures go to each lesson's default folder, ``lessons/out/<name>/``, so a full run here is
also the run that regenerates the README's lesson figures. Run it on an otherwise idle machine:
a second job on the cores makes every lesson slower.

    python bench/bench_lessons.py                   # all lessons, --quick then full
    python bench/bench_lessons.py --only 05 06 --modes full
"""
import argparse
import glob
import os
import subprocess
import sys
import time

from common import cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
LESSONS = os.path.join(os.path.dirname(HERE), "lessons")
LIMITS = {"quick": 60.0, "full": 300.0}          # seconds, on a 2-core CPU of the slower kind


def lesson_files(only):
    files = sorted(glob.glob(os.path.join(LESSONS, "[0-9][0-9]_*.py")))
    return [f for f in files if not only or os.path.basename(f)[:2] in only]


def run(path, mode, extra):
    cmd = [sys.executable, path] + (["--quick"] if mode == "quick" else []) + extra
    t = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        print(f"  {os.path.basename(path)} {mode} failed ({done.returncode}): {tail[0]}")
    return seconds, done.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="lesson numbers (01 … 09); default: all")
    ap.add_argument("--modes", nargs="+", choices=tuple(LIMITS), default=list(LIMITS))
    ap.add_argument("extra", nargs="*", help="passed to every lesson (after --)")
    args = ap.parse_args()
    print(f"{cpu_model()}, {os.cpu_count()} cores; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}", flush=True)
    rows, failed = [], 0
    for path in lesson_files(args.only):
        for mode in args.modes:
            seconds, rc = run(path, mode, args.extra)
            failed += rc != 0
            ok = "yes" if rc == 0 and seconds <= LIMITS[mode] else "NO"
            rows.append((os.path.basename(path), mode, seconds, ok))
            print(f"{rows[-1][0]:<28} {mode:<6} {seconds:7.1f} s   within {LIMITS[mode]:.0f} s: "
                  f"{ok}", flush=True)
    worst = {m: max((r[2] for r in rows if r[1] == m), default=0.0) for m in args.modes}
    print("slowest: " + ", ".join(f"{m} {s:.1f} s" for m, s in worst.items())
          + (f"; {failed} run(s) failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
