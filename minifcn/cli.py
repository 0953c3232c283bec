"""The command line: ``python -m minifcn {train, eval, predict, make-data, convert}``.

All parsing is here, one argparse subcommand each: ``_add_<command>(subparsers)`` declares its
flags and ``_run_<command>(args)`` calls the Python API. ``train``'s flags are ``minifcn.train``'s
keywords with dashes (``--base-channels`` → ``base_channels``), read from ``minifcn.config``.
"""
import argparse
import json
import os
import sys
import time

DESCRIPTION = ("minifcn: Fully Convolutional Networks for semantic segmentation, written by hand "
               "in NumPy. Train, evaluate and run FCN-32s/16s/8s.")


def _bool(s):
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


# --- train -------------------------------------------------------------------------------------
def _add_train(sub):
    from .config import OPTIONS, flag
    p = sub.add_parser("train", help="train an FCN (default: a small FCN-8s on the shapes data)")
    for key, option in OPTIONS.items():
        # Only the flags given reach train(): a --resume run keeps its saved settings otherwise.
        if key == "resume":
            p.add_argument(flag(key), action="store_true", default=argparse.SUPPRESS,
                           help=option.help)
        elif option.type is bool:
            p.add_argument(flag(key), type=_bool, default=argparse.SUPPRESS, metavar="BOOL",
                           help=f"{option.help} (default {option.default})")
        else:
            p.add_argument(flag(key), type=option.type, default=argparse.SUPPRESS,
                           help=f"{option.help} (default {option.default})")
    return p


def _run_train(args):
    from .train import TrainingDiverged, train
    kwargs = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        result = train(**kwargs)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if result["metrics"]:
        print(json.dumps(result["metrics"], indent=1))
    print(f"run folder: {result['out']}")
    return 0


# --- eval --------------------------------------------------------------------------------------
def _add_eval(sub):
    p = sub.add_parser("eval", help="evaluate a checkpoint on a dataset's val split")
    p.add_argument("--checkpoint", required=True, help="a saved model or checkpoint.npz")
    p.add_argument("--data", default=None, help="VOC-layout folder (default: the shapes data)")
    p.add_argument("--split", default="val")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--device", default=None)


def _run_eval(args):
    from . import io
    from .data import default_train_data, load_dataset
    from .evaluate import evaluate
    data = default_train_data() if args.data is None else args.data
    model = io.load(args.checkpoint, device=args.device)
    dataset = load_dataset(data, args.split, args.subset)
    scores = evaluate(model, dataset, progress=True)
    print(json.dumps(scores, indent=1))
    return 0


# --- predict -----------------------------------------------------------------------------------
def _add_predict(sub):
    p = sub.add_parser("predict", help="write a VOC-palette label PNG for each image")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overlay", action="store_true", help="also write the labels blended in")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    p.add_argument("--device", default=None)


def _run_predict(args):
    from PIL import Image

    from . import io
    from .data.palette import colorize, save_label_png
    from .data.voc import read_image
    from .predict import predict
    model = io.load(args.checkpoint, device=args.device)
    os.makedirs(args.out, exist_ok=True)
    for path in args.images:
        image = read_image(path)
        label = predict(model, image)
        stem = os.path.splitext(os.path.basename(path))[0]
        target = os.path.join(args.out, stem + ".png")
        save_label_png(target, label)
        print(target)
        if args.overlay:
            blend = (1 - args.alpha) * image + args.alpha * colorize(label)
            over = os.path.join(args.out, stem + "_overlay.jpg")
            Image.fromarray(blend.round().astype("uint8")).save(over, quality=92)
            print(over)
    return 0


# --- make-data ---------------------------------------------------------------------------------
def _add_make_data(sub):
    from .data.shapes import DEFAULTS
    p = sub.add_parser("make-data", help="generate the offline shapes dataset",
                       description="Generate the offline shapes segmentation dataset (VOC "
                                   "layout).")
    p.add_argument("dir", nargs="?", default=None, metavar="DIR",
                   help="output folder (default: $MINIFCN_DATA, else data/shapes in a source "
                        "checkout, else ~/.cache/minifcn/shapes)")
    p.add_argument("--n-train", type=int, default=DEFAULTS["n_train"],
                   help="training images (default %(default)s)")
    p.add_argument("--n-val", type=int, default=DEFAULTS["n_val"],
                   help="validation images (default %(default)s)")
    p.add_argument("--size", type=int, default=DEFAULTS["size"],
                   help="image side in pixels (default %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="random seed (default %(default)s)")


def _run_make_data(args):
    from .data.locations import default_data_root
    from .data.shapes import SHAPE_CLASSES, make_shapes
    root = default_data_root() if args.dir is None else args.dir
    start = time.perf_counter()
    make_shapes(root, args.n_train, args.n_val, args.size, args.seed, progress=True)
    print(f"wrote {args.n_train} train + {args.n_val} val images of {args.size}×{args.size} "
          f"({len(SHAPE_CLASSES)} classes: {', '.join(SHAPE_CLASSES)}) to {root} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


# --- convert -----------------------------------------------------------------------------------
def _add_convert(sub):
    from .convert import SOURCES
    from .models import MODELS
    p = sub.add_parser("convert", help="convert torchfcn / torchvision / Chainer weights",
                       description="Convert torchfcn/PyTorch (.pth), torchvision VGG16 (.pth) or "
                                   "Chainer fcn (.npz) weights into a minifcn .npz file (loaded "
                                   "with minifcn.load).")
    p.add_argument("src", help="the weights to convert (.pth or Chainer .npz)")
    p.add_argument("dst", help="the minifcn .npz file to write")
    p.add_argument("--from", dest="source", choices=SOURCES, default="auto",
                   help="source format (default: from the file's extension and keys)")
    p.add_argument("--model", choices=tuple(MODELS),
                   help="FCN variant: needed for fcn8s-atonce (same parameters as fcn8s), "
                        "or to build an FCN from torchvision's VGG16")
    p.add_argument("--n-class", type=int, default=21,
                   help="classes of an FCN built from VGG16 (default 21)")
    p.add_argument("--input-convention", choices=("caffe", "torchvision"),
                   help="override the input convention recorded with the weights")


def _run_convert(args):
    from .convert import convert
    net = convert(args.src, args.dst, args.source, args.model, args.input_convention,
                  args.n_class)
    cfg = net.config
    print(f"{args.src} → {args.dst}: {type(net).__name__}(n_class={cfg['n_class']}, "
          f"base_channels={cfg['base_channels']}, fc_channels={cfg['fc_channels']}), "
          f"input convention {net.input_convention!r}, "
          f"{sum(p.data.size for p in net.parameters()):,} parameters")
    return 0


# --- the parser and the entry point ------------------------------------------------------------
COMMANDS = {
    "train": (_add_train, _run_train),
    "eval": (_add_eval, _run_eval),
    "predict": (_add_predict, _run_predict),
    "make-data": (_add_make_data, _run_make_data),
    "convert": (_add_convert, _run_convert),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="minifcn", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
