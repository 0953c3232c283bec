"""The command line: ``python -m minifcn {prepare, train, eval, predict, make-data, convert}``.

All parsing is here, one argparse subcommand each: ``_add_<command>(subparsers)`` declares its
flags and ``_run_<command>(args)`` calls the Python API. ``train``'s flags are ``minifcn.train``'s
keywords with dashes (``--base-channels`` → ``base_channels``), read from ``minifcn.config``.

``main`` is the one error boundary: a mistake (a bad value, a missing or broken file) prints one
line, ``error: …``, and exits with status 2 (1 for a diverged training run, 128 + the signal for
one that stopped on Ctrl-C (130), SIGTERM (143) or SIGHUP (129));
``--debug`` prints the traceback instead.
"""
import argparse
import json
import os
import signal
import sys
import time
import traceback
import warnings

from .config import FLOAT_WARNINGS

DEVICES = ("cpu", "cuda")
DEVICE_HELP = "where to compute (default: $MINIFCN_DEVICE or cpu)"
DESCRIPTION = ("minifcn: Fully Convolutional Networks for semantic segmentation, written by hand "
               "in NumPy. Train, evaluate and run FCN-32s/16s/8s.")


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line too."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _bool(s):
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


# --- train -------------------------------------------------------------------------------------
def _add_train(sub, parents):
    from .config import OPTIONS, flag
    p = sub.add_parser("train", parents=parents,
                       help="train an FCN (default: a small FCN-8s on the shapes data)")
    for key, option in OPTIONS.items():
        # Only the flags given reach train(): a --resume run keeps its saved settings otherwise.
        if key in ("resume", "overwrite"):
            p.add_argument(flag(key), action="store_true", default=argparse.SUPPRESS,
                           help=option.help)
        elif option.type is bool:
            p.add_argument(flag(key), type=_bool, default=argparse.SUPPRESS, metavar="BOOL",
                           help=_help(option))
        else:
            p.add_argument(flag(key), type=option.type, default=argparse.SUPPRESS,
                           choices=option.choices, help=_help(option))
    return p


def _help(option):
    """The option's help with its default once (a None default is described in the help)."""
    return option.help if option.default is None else f"{option.help} (default {option.default})"


def _run_train(args):
    from .train import train
    result = train(**{k: v for k, v in vars(args).items() if k != "command"})
    if result["metrics"]:
        print(json.dumps(result["metrics"], indent=1))
    print(f"run folder: {result['out']}")
    return 0


# --- eval --------------------------------------------------------------------------------------
def _add_eval(sub, parents):
    p = sub.add_parser("eval", parents=parents,
                       help="evaluate a checkpoint on a dataset's val split")
    p.add_argument("--checkpoint", required=True, help="a saved model or checkpoint.npz")
    p.add_argument("--data", default=None, help="VOC-layout folder (default: the shapes data)")
    p.add_argument("--split", default="val", help="the split list to score (default val)")
    p.add_argument("--subset", type=int, default=None,
                   help="score a deterministic subset of this many images")
    p.add_argument("--device", choices=DEVICES, default=None, help=DEVICE_HELP)
    p.add_argument("--allow-other-names", action="store_true",
                   help="score a model whose class names differ from the dataset's")
    _add_allow_nonfinite(p)


def _add_allow_nonfinite(p):
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="load weights that hold NaN or Inf (refused otherwise; for debugging)")


def _run_eval(args):
    from . import io
    from .data import default_train_data, load_dataset
    from .evaluate import evaluate
    data = default_train_data() if args.data is None else args.data
    model = io.load(args.checkpoint, device=args.device, allow_nonfinite=args.allow_nonfinite)
    dataset = load_dataset(data, args.split, args.subset)
    scores = evaluate(model, dataset, progress=True, same_names=not args.allow_other_names)
    print(json.dumps(scores, indent=1))
    if scores["collapse"]:
        print(scores["collapse"], file=sys.stderr)
    return 0


# --- predict -----------------------------------------------------------------------------------
def _add_predict(sub, parents):
    p = sub.add_parser("predict", parents=parents,
                       help="write a VOC-palette label PNG for each image")
    p.add_argument("--checkpoint", required=True, help="a saved model or checkpoint.npz")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="the images to segment")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of an earlier run (never an input image)")
    p.add_argument("--overlay", action="store_true", help="also write the labels blended in")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    p.add_argument("--max-size", type=int, default=None, metavar="N",
                   help="predict at a long side of N px and scale the labels back (less memory)")
    p.add_argument("--tile", type=int, default=None, metavar="T",
                   help="predict at full size in T×T tiles (memory of one tile)")
    p.add_argument("--overlap", type=int, default=None, metavar="O",
                   help="px shared by neighbouring tiles (default 128; ≥ 490 gives exactly the "
                        "whole-image labels)")
    p.add_argument("--device", choices=DEVICES, default=None, help=DEVICE_HELP)
    _add_allow_nonfinite(p)


def _check_large(args):
    """--max-size, --tile and --overlap, checked before anything is read or written."""
    from .predict import TILE_ALIGN, TILE_OVERLAP
    if args.max_size is not None and args.max_size < 1:
        raise ValueError(f"--max-size must be ≥ 1 px, got {args.max_size}")
    if args.overlap is not None and args.tile is None:
        raise ValueError("--overlap is the overlap of tiles: give --tile too")
    if args.tile is None:
        return
    args.overlap = TILE_OVERLAP if args.overlap is None else args.overlap
    if args.overlap < 0 or args.tile - args.overlap < TILE_ALIGN:
        raise ValueError(f"--tile ({args.tile}) must exceed --overlap ({args.overlap}) by at "
                         f"least {TILE_ALIGN} px, and --overlap must be ≥ 0")


def _run_predict(args):
    from PIL import Image

    from . import io
    from .data.palette import colorize, label_palette, save_label_png
    from .data.voc import read_image
    from .predict import predict
    if not 0 <= args.alpha <= 1:
        raise ValueError(f"--alpha must be in 0..1, got {args.alpha}")
    _check_large(args)
    targets = _predict_targets(args.images, args.out, args.overlay, args.overwrite)
    model = io.load(args.checkpoint, device=args.device, allow_nonfinite=args.allow_nonfinite)
    palette = label_palette(getattr(model, "class_colors", None))   # the dataset's colours
    os.makedirs(args.out, exist_ok=True)
    for path, (target, over) in zip(args.images, targets):
        image = read_image(path)
        label = predict(model, image, max_size=args.max_size, tile=args.tile,
                        overlap=args.overlap)
        save_label_png(target, label, palette)
        print(printable(f"{path} → {target}"))
        if over:
            blend = (1 - args.alpha) * image + args.alpha * colorize(label, palette)
            Image.fromarray(blend.round().astype("uint8")).save(over, quality=92)
            print(printable(f"{path} → {over}"))
    return 0


def _predict_targets(images, out, overlay, overwrite):
    """[(label path, overlay path or None)] for each image: distinct names (``x.png``,
    ``x-2.png`` for a second ``x``), never an input, and no existing file unless ``overwrite``.
    Everything is checked before anything is written."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    missing = [p for p in images if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"image file not found: {missing[0]}")
    inputs = {os.path.realpath(p) for p in images}
    taken, targets = set(), []
    for path in images:
        stem = os.path.splitext(os.path.basename(path))[0]
        name, n = stem, 1
        while name + ".png" in taken or name + "_overlay.jpg" in taken:
            n += 1
            name = f"{stem}-{n}"
        names = [name + ".png"] + ([name + "_overlay.jpg"] if overlay else [])
        taken.update(names)
        for target in (os.path.join(out, t) for t in names):
            if os.path.realpath(target) in inputs:
                raise ValueError(f"--out {out}: {target} would be written over the input image "
                                 f"{path}; choose another --out folder")
            if os.path.exists(target) and not overwrite:
                raise FileExistsError(f"{target} exists; choose another --out folder, or "
                                      f"replace earlier outputs with --overwrite")
        targets.append((os.path.join(out, names[0]),
                        os.path.join(out, names[1]) if overlay else None))
    return targets


# --- prepare -----------------------------------------------------------------------------------
def _add_prepare(sub, parents):
    p = sub.add_parser("prepare", parents=parents,
                       help="photos + masks (index, 0/255 or RGB) → a VOC-layout dataset",
                       description="Match photos and masks by file stem, check every pair and "
                                   "write a VOC-layout dataset that --data reads, with a "
                                   "class-frequency report (docs/own-data.md).")
    p.add_argument("--images", required=True, metavar="DIR", help="the photos (JPEG, PNG, …)")
    p.add_argument("--masks", required=True, metavar="DIR",
                   help="one mask per photo, same stem: index/palette PNG, binary 0/255, or RGB")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the dataset folder to create (new or empty)")
    p.add_argument("--classes", default=None, metavar="FILE",
                   help="'name R G B' lines in class order (needed for RGB masks; a line named "
                        "void, or 224 224 192, means ignore)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the pairs held out for validation (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="the split's seed (default %(default)s)")


def _run_prepare(args):
    from .data.prepare import prepare
    prepare(args.images, args.masks, args.out, args.classes, args.val_fraction, args.seed)
    return 0


# --- make-data ---------------------------------------------------------------------------------
def _add_make_data(sub, parents):
    from .data.shapes import DEFAULTS
    p = sub.add_parser("make-data", parents=parents, help="generate the offline shapes dataset",
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
    from .data.locations import default_data_root, ensure_shapes
    from .data.shapes import SHAPE_CLASSES
    root = default_data_root() if args.dir is None else args.dir
    start = time.perf_counter()
    # ensure_shapes writes into a new or empty folder only (never over a folder of the user's)
    # and leaves a dataset made with the same arguments as it is.
    root = ensure_shapes(root, n_train=args.n_train, n_val=args.n_val, size=args.size,
                         seed=args.seed)
    print(f"wrote {args.n_train} train + {args.n_val} val images of {args.size}×{args.size} "
          f"({len(SHAPE_CLASSES)} classes: {', '.join(SHAPE_CLASSES)}) to {root} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


# --- convert -----------------------------------------------------------------------------------
def _add_convert(sub, parents):
    from .convert import SOURCES
    from .models import MODELS
    p = sub.add_parser("convert", parents=parents,
                       help="convert torchfcn / torchvision / Chainer weights",
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
    p.add_argument("--overwrite", action="store_true", help="replace DST if it exists")


def _run_convert(args):
    from .convert import convert
    if os.path.exists(args.dst) and os.path.exists(args.src) and os.path.samefile(args.src,
                                                                                    args.dst):
        raise ValueError(f"{args.dst} is the source itself: choose another DST")
    if os.path.exists(args.dst) and not args.overwrite:
        raise FileExistsError(f"{args.dst} exists; choose another DST, or replace it with "
                              f"--overwrite")
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
    "prepare": (_add_prepare, _run_prepare),
    "train": (_add_train, _run_train),
    "eval": (_add_eval, _run_eval),
    "predict": (_add_predict, _run_predict),
    "make-data": (_add_make_data, _run_make_data),
    "convert": (_add_convert, _run_convert),
}


def build_parser():
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error")
    parser = _Parser(prog="minifcn", description=DESCRIPTION, parents=[debug])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add, _ in COMMANDS.values():
        add(sub, [debug])
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    command, debug = COMMANDS[args.command][1], getattr(args, "debug", False)
    kwargs = {k: v for k, v in vars(args).items() if k != "debug"}
    try:
        with warnings.catch_warnings():     # overflow during a divergence: the error says it
            warnings.filterwarnings("ignore", FLOAT_WARNINGS, RuntimeWarning)
            return command(argparse.Namespace(**kwargs))
    except KeyboardInterrupt as e:         # Ctrl-C, or train's Stopped (SIGTERM, SIGHUP)
        signum = getattr(e, "signum", signal.SIGINT)
        print("interrupted" if signum == signal.SIGINT else
              f"stopped by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    except Exception as e:
        if debug:
            traceback.print_exc()
        else:
            print(f"error: {printable(_one_line(e))}", file=sys.stderr)
        return 1 if type(e).__name__ == "TrainingDiverged" else 2


# Exceptions whose message is the whole story; others get their type and a pointer to --debug.
USER_ERRORS = (ValueError, OSError, TypeError, KeyError, ImportError, RuntimeError,
               FloatingPointError)


def printable(text):
    """``text`` with the bytes of a file name that is not UTF-8 shown as ``\\xe9``: printing
    it as it is would fail."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _one_line(e):
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, (FileNotFoundError, PermissionError)) and e.filename and e.strerror:
        text = f"{e.strerror}: {e.filename}"
    if not isinstance(e, USER_ERRORS):
        text = f"{type(e).__name__}: {text} (--debug shows the traceback)"
    return text
