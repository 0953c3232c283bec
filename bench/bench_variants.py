"""FCN-32s vs FCN-16s vs FCN-8s on the same budget, like the papers' table.

Each variant trains from scratch on the offline shapes data with the same settings and number of
iterations (the main job's defaults unless overridden), then is evaluated on the validation split.
Prints the four metrics side by side. The shapes data is boundary-heavy (a 255 band along every
edge, objects touching and occluding), so the finer skips should help: expect 8s ≥ 16s ≥ 32s.

    python bench/bench_variants.py --iterations 1500
"""
import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=None, help="default: the main job's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    sys.path.insert(0, REPO)
    import minifcn
    from minifcn.train import DEFAULTS

    iterations = args.iterations or DEFAULTS["iterations"]
    out = args.out or tempfile.mkdtemp(prefix="minifcn-variants-")
    rows = []
    for name in ("fcn32s", "fcn16s", "fcn8s"):
        t = time.time()
        result = minifcn.train(model=name, iterations=iterations, seed=args.seed,
                               eval_every=iterations, out=os.path.join(out, name),
                               overwrite=True, progress=False)
        rows.append((name, result["metrics"], time.time() - t))
        print(f"{name}: done in {rows[-1][2]:.0f} s", flush=True)
    print(f"\n{iterations} iterations each, seed {args.seed}, defaults otherwise")
    print(f"{'model':8} {'pixel acc':>9} {'mean acc':>9} {'mean IU':>8} {'f.w. IU':>8} {'s':>6}")
    for name, m, secs in rows:
        print(f"{name:8} {m['acc']:9.4f} {m['acc_cls']:9.4f} {m['mean_iu']:8.4f} "
              f"{m['fwavacc']:8.4f} {secs:6.0f}")


if __name__ == "__main__":
    main()
