"""Are data/pretrained/*.npz reproducible? Remake them elsewhere and compare the mean IU.

Runs ``lessons/make_pretrained.py`` (the command recorded in data/pretrained/manifest.json) in a
subprocess with the threads pinned (``OPENBLAS_NUM_THREADS=1``, ``MINIFCN_NUM_THREADS=1``) into
a temporary folder, then prints, for FCN-32s, 16s and 8s and lesson 08's four nets, the
shipped mean IU, the remade one and their difference, against the ±0.03 that summation order
alone moves a run by (with the threads pinned the two agree exactly on one machine, and did on
the other machine kind too: bench/RESULTS.md). It takes as long as the training itself (about
15 minutes on a 2-core machine).

    python bench/bench_pretrained.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHIPPED = os.path.join(REPO, "data", "pretrained", "manifest.json")
TOLERANCE = 0.03


def main():
    with open(SHIPPED, encoding="utf-8") as f:
        shipped = json.load(f)
    out = tempfile.mkdtemp(prefix="minifcn-pretrained-")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MINIFCN_NUM_THREADS="1")
    cmd = [sys.executable, os.path.join(REPO, "lessons", "make_pretrained.py"), "--out", out,
           "--work", os.path.join(out, "runs")]
    print("running:", " ".join(cmd), "(threads pinned to 1)", flush=True)
    t = time.time()
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        remade = json.load(f)
    print(f"\nremade in {time.time() - t:.0f} s on {remade['machine']}; shipped ones made on "
          f"{shipped['machine']}")
    print(f"{'model':>16} {'shipped':>8} {'remade':>8} {'diff':>7}  within ±{TOLERANCE}")
    worst = 0.0
    for part in ("stages", "lesson08"):
        for name, entry in shipped[part].items():
            a = entry["metrics"]["mean_iu"]
            b = remade[part][name]["metrics"]["mean_iu"]
            worst = max(worst, abs(a - b))
            ok = "yes" if abs(a - b) <= TOLERANCE else "NO"
            print(f"{name:>16} {a:8.4f} {b:8.4f} {b - a:+7.4f}  {ok}")
    print(f"largest difference {worst:.4f}; remade files in {out}")


if __name__ == "__main__":
    main()
