"""Make the trained models the lessons look at: data/pretrained/fcn32s.npz, fcn16s.npz, fcn8s.npz.

The paper's staged training (CVPR 2015 §4.1 and Table 2; docs/fcn.md §6) with the main job's
recipe and widths (``python -m minifcn train``'s defaults: base_channels 8, fc_channels 128,
Adam with poly decay, class weights, no dropout, fc6 padded by 1) on the main job's data, the
128×128 shapes dataset (``data/shapes-128``, generated if missing):

    FCN-32s   from scratch                 STAGES[0] iterations
    FCN-16s   from FCN-32s (--init)        STAGES[1]
    FCN-8s    from FCN-16s (--init)        STAGES[2]

Each stage is one ``minifcn.train`` run in ``--work``; its final model is saved (weights only,
no optimizer state) as ``OUT/<name>.npz``, and ``OUT/manifest.json`` records the command, the
data, each stage's settings and its metrics on the whole validation set. With the threads
pinned the run is deterministic on one machine; ``bench/bench_pretrained.py`` reruns it and
compares the mean IU with the manifest's.

    OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 python lessons/make_pretrained.py
    python lessons/make_pretrained.py --out /tmp/pretrained --work /tmp/pretrained-runs
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

LESSONS_DIR = os.path.dirname(os.path.abspath(__spec__.origin if __spec__ else sys.argv[0]))
REPO = os.path.dirname(LESSONS_DIR)
try:
    import minifcn
except ImportError:
    sys.path.insert(0, REPO)
    import minifcn

from minifcn import data, io  # noqa: E402

PRETRAINED_DIR = os.path.join(REPO, "data", "pretrained")
# (name, parent, iterations). FCN-32s gets the main job's count; FCN-8s as many again from
# FCN-16s, which is what it took to pass 0.85 mean IU (2500 each for 16s and 8s gave 0.743
# and 0.835, on an Intel Xeon with the threads pinned).
STAGES = (("fcn32s", None, 5000), ("fcn16s", "fcn32s", 3000), ("fcn8s", "fcn16s", 5000))


def cpu_name():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name:"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def train_stages(out, work, iterations=None, val_subset=None, seed=0, device=None, root=None,
                 say=print):
    """Train FCN-32s → 16s → 8s in stages; save each as ``out/<name>.npz``. Returns
    {name: (model, metrics, seconds)}. ``iterations``: one count per stage (default STAGES')."""
    root = root or data.default_train_data()
    counts = iterations or [n for _, _, n in STAGES]
    os.makedirs(out, exist_ok=True)
    done = {}
    for (name, parent, _), its in zip(STAGES, counts):
        init = os.path.join(out, parent + ".npz") if parent else None
        say(f"{name}: {its} iterations " + (f"from {parent}" if parent else "from scratch"))
        t0 = time.perf_counter()
        r = minifcn.train(model=name, data=root, init=init, iterations=its, seed=seed,
                          eval_every=max(its // 5, 1), val_subset=val_subset, progress=False,
                          device=device, out=os.path.join(work, name), overwrite=True)
        seconds = time.perf_counter() - t0
        scores = minifcn.evaluate(r["model"], data.load_dataset(root, "val", val_subset, seed))
        scores = {k: scores[k] for k in ("acc", "acc_cls", "mean_iu", "fwavacc", "iu")}
        io.save(r["model"], os.path.join(out, name + ".npz"),
                meta={"iterations": its, "init": parent, "mean_iu": scores["mean_iu"]},
                compress=True)
        done[name] = (r["model"], dict(scores, iteration=its), seconds)
        say(f"{name}: mean IU {r['metrics']['mean_iu']:.3f} after {seconds:.0f} s")
    return done


def manifest(out, root, done, argv):
    """What made the files in ``out``: the command, the machine, the data, every stage."""
    with open(os.path.join(root, "shapes.json"), encoding="utf-8") as f:
        made_with = json.load(f)
    stages = {}
    for (name, parent, _), (model, metrics, seconds) in zip(STAGES, done.values()):
        path = os.path.join(out, name + ".npz")
        stages[name] = {
            "file": name + ".npz", "bytes": os.path.getsize(path), "init": parent,
            "config": model.config,
            "metrics": {k: metrics[k] for k in ("iteration", "acc", "acc_cls", "mean_iu",
                                                "fwavacc", "iu")},
            "train_seconds": round(seconds, 1)}
    return {"command": "python lessons/make_pretrained.py " + " ".join(argv),
            "minifcn_version": minifcn.__version__, "machine": cpu_name(),
            "threads": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS",
                                                       "MINIFCN_NUM_THREADS")},
            "data": {"folder": os.path.relpath(root, REPO), "shapes.json": made_with,
                     "validation": "the whole val split (minifcn.evaluate)"},
            "recipe": "python -m minifcn train defaults (minifcn.config), --init the previous "
                      "stage", "stages": stages}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=PRETRAINED_DIR, help="where the .npz files and "
                                                             "manifest.json go (%(default)s)")
    parser.add_argument("--work", default=os.path.join(REPO, "runs", "pretrained"),
                        help="the stages' run folders (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    root = data.default_train_data()
    done = train_stages(args.out, args.work, seed=args.seed, root=root)
    path = os.path.join(args.out, "manifest.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest(args.out, root, done, argv), f, indent=1)
    os.replace(path + ".tmp", path)
    for name, (_, metrics, _) in done.items():
        print(f"{name}: mean IU {metrics['mean_iu']:.4f}, {os.path.join(args.out, name)}.npz")


if __name__ == "__main__":
    main()
