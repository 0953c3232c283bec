"""Make the trained models the lessons look at: data/pretrained/fcn32s.npz, fcn16s.npz, fcn8s.npz.

The paper's staged training (CVPR 2015 §4.1 and Table 2; docs/fcn.md §6) with the main job's
recipe and widths (``python -m minifcn train``'s defaults: base_channels 8, fc_channels 128,
Adam with poly decay, class weights, no dropout, fc6 padded by 3) on the main job's data, the
128×128 shapes dataset (``data/shapes-128``, generated if missing):

    FCN-32s   from scratch                 STAGES[0] iterations
    FCN-16s   from FCN-32s (--init)        STAGES[1]
    FCN-8s    from FCN-16s (--init)        STAGES[2]

Then lesson 08's comparison (``--only lesson08`` makes just these): four nets trained from
scratch with the same recipe and budget, LESSON08_ITERATIONS each, on the same data:

    lesson08_fcn8s     FCN-8s (the main job: ``python -m minifcn train``)
    lesson08_coarse    a 1/8 trunk, its scores upsampled bilinearly ×8
    lesson08_unpool    an unpooling decoder (DeconvNet / SegNet in miniature)
    lesson08_dilated   the 1/8 trunk with its last layers dilated (DeepLab, Yu & Koltun)

(lessons/upsampling_nets.py defines the last three.) Each run is one ``minifcn.train`` in
``--work``; its final model is saved (weights only, no optimizer state) as ``OUT/<name>.npz``,
and ``OUT/manifest.json`` records the command, the data, each net's settings and its metrics
on the whole validation set. With the threads pinned the run is deterministic on one machine;
``bench/bench_pretrained.py`` reruns it and compares the mean IU with the manifest's.

    OPENBLAS_NUM_THREADS=1 MINIFCN_NUM_THREADS=1 python lessons/make_pretrained.py
    python lessons/make_pretrained.py --out /tmp/pretrained --work /tmp/pretrained-runs
    python lessons/make_pretrained.py --only lesson08
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
from minifcn.config import DEFAULTS  # noqa: E402

sys.path.insert(0, LESSONS_DIR)
import upsampling_nets  # noqa: E402

PRETRAINED_DIR = os.path.join(REPO, "data", "pretrained")
# (name, parent, iterations). FCN-32s gets the main job's count, FCN-16s and FCN-8s 3000 and
# 5000 more (with the earlier recipe, fc6 padded by 1 and 5000 for FCN-32s, 2500 each for 16s
# and 8s gave 0.743 and 0.835 mean IU, short of 0.85; 3000 and 5000 gave 0.756 and 0.871).
STAGES = (("fcn32s", None, DEFAULTS["iterations"]), ("fcn16s", "fcn32s", 3000),
          ("fcn8s", "fcn16s", 5000))
# Lesson 08's nets, each from scratch for the main job's budget.
LESSON08 = ("lesson08_fcn8s",) + tuple(upsampling_nets.VARIANTS)
LESSON08_ITERATIONS = DEFAULTS["iterations"]
PARTS = ("stages", "lesson08")


def cpu_name():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name:"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


METRICS = ("acc", "acc_cls", "mean_iu", "fwavacc", "iu")


def train_one(name, model, out, work, its, init=None, val_subset=None, seed=0, device=None,
              root=None):
    """One ``minifcn.train`` run of ``model`` (a name or a net) for ``its`` iterations in
    ``work/name``; its final weights saved as ``out/name.npz``. Returns (model, metrics on the
    validation set, training seconds)."""
    t0 = time.perf_counter()
    r = minifcn.train(model=model, data=root, init=init, iterations=its, seed=seed,
                      eval_every=max(its // 5, 1), val_subset=val_subset, progress=False,
                      device=device, out=os.path.join(work, name), overwrite=True)
    seconds = time.perf_counter() - t0
    scores = minifcn.evaluate(r["model"], data.load_dataset(root, "val", val_subset, seed))
    scores = {k: scores[k] for k in METRICS}
    parent = os.path.basename(init)[:-4] if init else None
    io.save(r["model"], os.path.join(out, name + ".npz"),
            meta={"iterations": its, "init": parent, "mean_iu": scores["mean_iu"]},
            compress=True)
    return r["model"], dict(scores, iteration=its), seconds


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
        done[name] = train_one(name, name, out, work, its, init, val_subset, seed, device, root)
        say(f"{name}: mean IU {done[name][1]['mean_iu']:.3f} after {done[name][2]:.0f} s")
    return done


def train_lesson08(out, work, iterations=LESSON08_ITERATIONS, val_subset=None, seed=0,
                   device=None, root=None, say=print):
    """Train lesson 08's four nets from scratch, ``iterations`` each; save each as
    ``out/<name>.npz``. Returns {name: (model, metrics, seconds)}."""
    root = root or data.default_train_data()
    n_class = len(data.load_dataset(root, "val", 1).class_names)
    os.makedirs(out, exist_ok=True)
    done = {}
    for name in LESSON08:
        net = ("fcn8s" if name == "lesson08_fcn8s"
               else upsampling_nets.build(name, n_class=n_class, seed=seed))
        say(f"{name}: {iterations} iterations from scratch")
        done[name] = train_one(name, net, out, work, iterations, None, val_subset, seed, device,
                               root)
        say(f"{name}: mean IU {done[name][1]['mean_iu']:.3f} after {done[name][2]:.0f} s")
    return done


def describe(out, done, parents):
    """The manifest's entry for each net of ``done``."""
    entries = {}
    for name, (model, metrics, seconds) in done.items():
        entries[name] = {
            "file": name + ".npz", "bytes": os.path.getsize(os.path.join(out, name + ".npz")),
            "class": type(model).__name__, "init": parents.get(name), "config": model.config,
            "metrics": {k: metrics[k] for k in ("iteration",) + METRICS},
            "train_seconds": round(seconds, 1)}
    return entries


def manifest(out, root, made, argv, previous=None):
    """What made the files in ``out``: the command, the machine, the data, every net.
    ``made``: {part: done} for the parts (PARTS) this run trained; the others are kept from
    ``previous`` (the manifest already there), so ``--only`` updates one part."""
    with open(os.path.join(root, "shapes.json"), encoding="utf-8") as f:
        made_with = json.load(f)
    how = {"command": "python lessons/make_pretrained.py " + " ".join(argv),
           "minifcn_version": minifcn.__version__, "machine": cpu_name(),
           "threads": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS",
                                                      "MINIFCN_NUM_THREADS")}}
    result = dict(previous or {}, **how)
    result["data"] = {"folder": os.path.relpath(root, REPO), "shapes.json": made_with,
                      "validation": "the whole val split (minifcn.evaluate)"}
    result["recipe"] = ("python -m minifcn train defaults (minifcn.config); the stages --init "
                        "the previous one, lesson 08's nets start from scratch")
    parents = {name: parent for name, parent, _ in STAGES}
    for part, done in made.items():
        result[part] = describe(out, done, parents)
        result.setdefault("made_by", {})[part] = how
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=PRETRAINED_DIR, help="where the .npz files and "
                                                             "manifest.json go (%(default)s)")
    parser.add_argument("--work", default=os.path.join(REPO, "runs", "pretrained"),
                        help="the runs' folders (%(default)s)")
    parser.add_argument("--only", choices=PARTS, help="make only the paper's stages or only "
                                                      "lesson 08's nets (default: both)")
    parser.add_argument("--seed", type=int, default=0)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    root = data.default_train_data()
    made = {}
    if args.only in (None, "stages"):
        made["stages"] = train_stages(args.out, args.work, seed=args.seed, root=root)
    if args.only in (None, "lesson08"):
        made["lesson08"] = train_lesson08(args.out, args.work, seed=args.seed, root=root)
    path = os.path.join(args.out, "manifest.json")
    previous = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            previous = json.load(f)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest(args.out, root, made, argv, previous), f, indent=1)
    os.replace(path + ".tmp", path)
    for done in made.values():
        for name, (_, metrics, _) in done.items():
            print(f"{name}: mean IU {metrics['mean_iu']:.4f}, {os.path.join(args.out, name)}.npz")


if __name__ == "__main__":
    main()
