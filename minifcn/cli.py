"""The command line: ``python -m minifcn {train, eval, predict, make-data, convert}``.

Each subcommand is a thin layer over the Python API; ``train``'s flags are ``minifcn.train``'s
keywords with dashes (``--base-channels`` → ``base_channels``).
"""
import argparse
import json
import os
import sys

TRAIN_HELP = {
    "model": "fcn32s | fcn16s | fcn8s | fcn8s-atonce",
    "data": "a VOC-layout folder (default: the 128×128 offline shapes dataset, generated if "
            "missing)",
    "iterations": "total iterations (a resumed run continues up to it)",
    "optimizer": "adam | sgd (sgd: the papers' recipe, for training from VGG16 weights)",
    "lr": "learning rate (the papers' 1e-10 is for --reduction sum at 500×500)",
    "lr_policy": "fixed | poly (lr·(1 − i/iterations)^0.9)",
    "momentum": "SGD momentum", "weight_decay": "weight decay (biases get none)",
    "reduction": "loss over pixels: mean | sum (the papers' unnormalised loss)",
    "base_channels": "VGG width scale (64 = VGG16)", "fc_channels": "fc6/fc7 width (4096 = VGG16)",
    "conv1_1_padding": "conv1_1's padding (100 = the paper's; default: the smallest that works "
                       "for the dataset's images, 69 for FCN-8s at 128×128)",
    "init": "a saved model to start from (VGG16, or the previous stage: 32s → 16s → 8s)",
    "device": "cpu | cuda (default: $MINIFCN_DEVICE or cpu)", "seed": "random seed",
    "subset": "train on a deterministic subset of this many images",
    "eval_every": "iterations between evaluations and checkpoints (0: none until the end)",
    "out": "run folder (default runs/<model>)", "batch_size": "images per iteration",
    "val_subset": "evaluate on this many validation images", "log_every": "iterations per log row",
}


def _bool(s):
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


TRAIN_TYPES = {"iterations": int, "lr": float, "momentum": float, "weight_decay": float,
               "base_channels": int, "fc_channels": int, "conv1_1_padding": int, "seed": int,
               "subset": int, "eval_every": int, "batch_size": int, "val_subset": int,
               "log_every": int}


def _add_train(sub):
    from .train import DEFAULTS
    p = sub.add_parser("train", help="train an FCN (default: a small FCN-8s on the shapes data)")
    for key, default in DEFAULTS.items():
        flag = "--" + key.replace("_", "-")
        # Only the flags given reach train(): a --resume run keeps its saved settings otherwise.
        if key == "resume":
            p.add_argument(flag, action="store_true", default=argparse.SUPPRESS,
                           help="continue the run in OUT from OUT/checkpoint.npz, with its "
                                "saved settings (flags given now override them)")
        elif key in ("progress", "augment"):
            what = "progress bar" if key == "progress" else "random flips"
            p.add_argument(flag, type=_bool, default=argparse.SUPPRESS, metavar="BOOL",
                           help=f"{what} (default {default})")
        else:
            p.add_argument(flag, type=TRAIN_TYPES.get(key, str), default=argparse.SUPPRESS,
                           help=f"{TRAIN_HELP.get(key, key)} (default {default})")
    return p


def _cmd_train(args):
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


def _cmd_eval(args):
    from . import io
    from .data import load_dataset
    from .evaluate import evaluate
    model = io.load(args.checkpoint, device=args.device)
    dataset = load_dataset(args.data, args.split, args.subset)
    scores = evaluate(model, dataset, progress=True)
    print(json.dumps(scores, indent=1))
    return 0


def _cmd_predict(args):
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


def build_parser():
    parser = argparse.ArgumentParser(prog="minifcn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)

    p = sub.add_parser("eval", help="evaluate a checkpoint on a dataset's val split")
    p.add_argument("--checkpoint", required=True, help="a saved model or checkpoint.npz")
    p.add_argument("--data", default=None, help="VOC-layout folder (default: the shapes data)")
    p.add_argument("--split", default="val")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--device", default=None)

    p = sub.add_parser("predict", help="write a VOC-palette label PNG for each image")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overlay", action="store_true", help="also write the labels blended in")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    p.add_argument("--device", default=None)

    sub.add_parser("make-data", help="generate the offline shapes dataset", add_help=False)
    sub.add_parser("convert", help="convert torchfcn / torchvision / Chainer weights",
                   add_help=False)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # make-data and convert own their flags: hand them the rest of the line as it is.
    if argv and argv[0] == "make-data":
        from .data.shapes import make_data_main
        return make_data_main(argv[1:]) or 0
    if argv and argv[0] == "convert":
        from .convert import convert_main
        return convert_main(argv[1:]) or 0
    args = build_parser().parse_args(argv)
    if args.command == "eval" and args.data is None:
        from .train import default_train_data
        args.data = default_train_data()
    try:
        return {"train": _cmd_train, "eval": _cmd_eval, "predict": _cmd_predict}[args.command](
            args)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
