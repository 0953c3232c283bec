"""``prepare``: a folder of photos and a folder of masks → a VOC-layout dataset that --data reads.

    prepare("photos/", "masks/", "data/mine", classes="classes.txt")
    python -m minifcn prepare --images photos --masks masks --out data/mine --classes classes.txt

Images and masks are matched by file stem (``cat1.jpg`` ↔ ``cat1.png``). Masks are read as
``minifcn.data.masks`` describes (index, binary 0/255 or RGB with a classes file). What is written:

    JPEGImages/<id>.jpg                 JPEG inputs, copied byte for byte
    JPEGImages/<id>.png                 every other image, upright, 8-bit RGB, lossless
    SegmentationClass/<id>.png          palette PNGs: values = class indices, drawn in your colours
    ImageSets/Segmentation/{train,val,trainval}.txt   a split that depends only on (ids, seed)
    classes.txt                         ``name R G B`` per class, in index order
    class_frequency.png, prepare.json   the class-frequency report, and how the set was made

Photos are read upright (their EXIF orientation applied, as ``read_image`` does when training),
so a mask must have the upright photo's size. Every pair is checked before anything is kept: the
dataset is built in a hidden folder beside ``out`` and renamed to ``out`` only when complete, and
an existing non-empty ``out`` is never written into. The input folders are only read.
"""
import errno
import json
import os
import shutil
import tempfile

import numpy as np
from PIL import Image, ImageOps

from .imagefile import ImageTooLarge, open_image
from .masks import is_binary, mask_to_label, open_mask, read_class_spec
from .palette import VOID_INDEX, label_palette, save_label_png, voc_palette
from .voc import read_image

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MASK_EXTS = (".png", ".bmp", ".gif", ".tif", ".tiff")
LOSSY_MASK_EXTS = (".jpg", ".jpeg", ".webp")
LIST_DIR = os.path.join("ImageSets", "Segmentation")
# A write that fails for want of room: a full disk, a quota, a file size limit.
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _list_files(folder, exts, what):
    """{stem: path} of the files in ``folder`` with one of ``exts`` (hidden files skipped)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what} folder not found: {folder}")
    found = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        path = os.path.join(folder, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:             # bytes that are not UTF-8, kept by os.listdir
            shown = os.fsencode(name).decode("utf-8", "backslashreplace")
            raise ValueError(f"{what} file name {shown!r} in {folder} is not UTF-8 (saved "
                             f"on a system with another encoding?): the split lists could not "
                             f"name it; rename it") from None
        if what == "mask" and ext.lower() in LOSSY_MASK_EXTS:
            raise ValueError(f"mask {path} is lossy ({ext}): its colours are smeared between "
                             f"classes; export masks as PNG")
        if ext.lower() not in exts:
            continue
        if stem in found:
            raise ValueError(f"two {what} files share the stem {stem!r}: {found[stem]} and {path}")
        if stem != stem.strip() or len(stem.split()) != 1:
            raise ValueError(f"{what} file name {path} holds white space, which VOC's split "
                             f"lists cannot hold; rename it")
        found[stem] = path
    return found


def match_pairs(images, masks):
    """[(id, image path, mask path)] sorted by id; an image without a mask, or a mask without an
    image, is a ValueError naming them."""
    image_files = _list_files(images, IMAGE_EXTS, "image")
    mask_files = _list_files(masks, MASK_EXTS, "mask")
    for a, b, what in ((image_files, mask_files, "image"), (mask_files, image_files, "mask")):
        missing = sorted(set(a) - set(b))
        if missing:
            other = "a mask" if what == "image" else "an image"
            shown = ", ".join(a[s] for s in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise ValueError(f"{len(missing)} {what} file(s) without {other} of the same stem: "
                             f"{shown}{more}")
    if not image_files:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) in {images}")
    return [(stem, image_files[stem], mask_files[stem]) for stem in sorted(image_files)]


def store_image(src, folder, image_id):
    """Put one photo into ``folder``: (stored path, upright (H, W), raw (H, W), note or None).

    A JPEG is copied byte for byte (its EXIF orientation is applied when it is read); any other
    image is written upright as an 8-bit RGB PNG, without loss.
    """
    try:
        with open_image(src) as image:
            image.load()
            fmt, raw = image.format, (image.height, image.width)
            upright = ImageOps.exif_transpose(image)
    except ImageTooLarge:
        raise
    except Exception as e:                  # PIL raises several types for broken files
        raise ValueError(f"cannot read image {src}: {e}") from None
    size = (upright.height, upright.width)
    if fmt == "JPEG":
        dst = os.path.join(folder, image_id + ".jpg")
        shutil.copyfile(src, dst)
        return dst, size, raw, None
    dst = os.path.join(folder, image_id + ".png")
    Image.fromarray(read_image(src)).save(dst, format="PNG")   # upright, 8-bit (16-bit scaled)
    return dst, size, raw, f"{fmt} stored as PNG (lossless)"


def _scan_masks(pairs, spec):
    """How to read the grayscale masks (binary or index) and the palette of the first 'P' mask."""
    gray_binary, palette = [], None
    for _, _, mask in pairs:
        kind, array, pal = open_mask(mask)
        if kind == "gray" or (kind == "rgb" and (spec is None or spec.colours is None)
                              and (array == array[..., :1]).all()):
            gray_binary.append(is_binary(array))
        if palette is None and pal is not None:
            palette = pal
    binary = bool(gray_binary) and all(gray_binary) and (spec is None or len(spec.names) == 2)
    return binary, palette


def _class_table(spec, binary, palette, max_index):
    """(names, colours) of the output classes."""
    if spec is not None:
        names = spec.names
    elif binary:
        names = ("background", "foreground")
    else:
        names = tuple(f"class_{i}" for i in range(max_index + 1))
    if spec is not None and spec.colours is not None:
        colours = spec.colours
    elif binary and palette is None:
        colours = ((0, 0, 0), (255, 255, 255))
    else:
        source = palette if palette is not None else voc_palette(256)
        colours = tuple(tuple(int(v) for v in source[i]) for i in range(len(names)))
    return tuple(names), tuple(tuple(c) for c in colours)


def _convert_pair(image_id, image, mask, tmp, spec, binary):
    """Store one pair in ``tmp``; (label, note). Raises ValueError naming the file at fault."""
    kind, array, palette = open_mask(mask)
    label = mask_to_label(kind, array, mask, spec, binary, palette)
    _, size, raw, note = store_image(image, os.path.join(tmp, "JPEGImages"), image_id)
    if label.shape != size:
        turned = (f"; the photo is stored {raw[0]}×{raw[1]} and its EXIF orientation turns it: "
                  f"draw the mask on the upright photo" if label.shape == raw != size else "")
        raise ValueError(f"mask {mask} is {label.shape[0]}×{label.shape[1]} but image {image} is "
                         f"{size[0]}×{size[1]} (H×W){turned}")
    return label, note


def _convert_all(pairs, tmp, spec, binary):
    """Labels of every pair (stored in ``tmp``), notes; every pair is checked, and the problems
    are raised together as one ValueError (the first in full, a few more named)."""
    labels, notes, errors = {}, [], []
    for image_id, image, mask in pairs:
        try:
            labels[image_id], note = _convert_pair(image_id, image, mask, tmp, spec, binary)
        except ValueError as e:
            errors.append(str(e))
            continue
        if note:
            notes.append(note)
    if errors:
        more = (f" (and {len(errors) - 1} more problem(s): " + "; ".join(errors[1:4])
                + ("; …" if len(errors) > 4 else "") + ")") if len(errors) > 1 else ""
        raise ValueError(errors[0] + more)
    return labels, notes


def split_ids(ids, val_fraction, seed):
    """(train ids, val ids), each sorted: a deterministic random choice of round(f·n) ≥ 1 ids."""
    ids = sorted(ids)
    n_val = max(1, round(val_fraction * len(ids)))
    if len(ids) - n_val < 1:
        raise ValueError(f"{len(ids)} image(s) cannot be split into train and val with "
                         f"val_fraction={val_fraction}: at least one of each is needed")
    perm = np.random.default_rng(seed).permutation(len(ids))
    val = {ids[i] for i in perm[:n_val]}
    return [i for i in ids if i not in val], sorted(val)


def class_frequency(labels, n_class):
    """(pixels, images) per class, two (n_class,) int64 arrays, and the void pixel count."""
    pixels = np.zeros(256, dtype=np.int64)
    images = np.zeros(256, dtype=np.int64)
    for label in labels:
        counts = np.bincount(label.ravel(), minlength=256)
        pixels += counts
        images += counts > 0
    return pixels[:n_class], images[:n_class], int(pixels[VOID_INDEX])


def frequency_table(names, pixels, images, void):
    """The report as text: one row per class (pixels, share of the labelled pixels, images)."""
    total = max(1, int(pixels.sum()))
    width = max(8, *(len(n) for n in names))
    rows = [f"{'class':<{width}} {'pixels':>12} {'share':>7} {'images':>7}"]
    for i, name in enumerate(names):
        rows.append(f"{name:<{width}} {pixels[i]:>12,} {100 * pixels[i] / total:>6.2f}% "
                    f"{images[i]:>7}")
    rows.append(f"{'(void)':<{width}} {void:>12,}  (ignored by the loss and the metrics)")
    return "\n".join(rows)


def plot_frequency(names, colours, pixels, path):
    """A bar plot of each class's share of the labelled pixels, in the classes' colours."""
    from ..plots import TITLE_SIZE, pyplot, save_figure
    plt = pyplot()
    share = 100 * pixels / max(1, pixels.sum())
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.2))
    y = np.arange(len(names))[::-1]
    ax.barh(y, share, color=np.asarray(colours) / 255, edgecolor="black", linewidth=0.5)
    ax.set_yticks(y, names)
    ax.set_xlabel("share of the labelled pixels (%)")
    ax.set_title("class frequency", fontsize=TITLE_SIZE)
    return save_figure(fig, path)


def _check_out(out):
    """The absolute output path; refused if it is a file or a non-empty folder."""
    out = os.path.abspath(os.path.expanduser(os.fspath(out)))
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise FileExistsError(f"output {out} already exists and is not an empty folder; "
                              f"prepare never writes into it: choose a new --out")
    parent = os.path.dirname(out)
    while not os.path.isdir(parent):
        if os.path.exists(parent):
            raise FileExistsError(f"cannot make the output folder {out}: {parent} is a file")
        parent = os.path.dirname(parent)
    return out


def _remove_stale(out):
    """Remove the hidden build folders an interrupted (killed) prepare of ``out`` left beside
    it; returns a note naming them, or None."""
    parent, prefix = os.path.dirname(out), "." + os.path.basename(out) + ".prepare-"
    if not os.path.isdir(parent):
        return None
    stale = sorted(n for n in os.listdir(parent) if n.startswith(prefix))
    for name in stale:
        shutil.rmtree(os.path.join(parent, name))
    if not stale:
        return None
    return f"removed {len(stale)} unfinished build folder(s) of an interrupted prepare: {stale}"


def _make_parents(out):
    """Make the missing folders above ``out``; returns them, deepest first, to undo on failure."""
    made, folder = [], os.path.dirname(out)
    while not os.path.isdir(folder):
        made.append(folder)
        folder = os.path.dirname(folder)
    for folder in reversed(made):
        os.mkdir(folder)
    return made


def _write_lists(tmp, train, val):
    folder = os.path.join(tmp, LIST_DIR)
    os.makedirs(folder)
    for split, ids in (("train", train), ("val", val), ("trainval", sorted(train + val))):
        with open(os.path.join(folder, split + ".txt"), "w", encoding="utf-8") as f:
            f.write("".join(i + "\n" for i in ids))


def _write_dataset(tmp, labels, names, colours, train, val):
    """Labels, split lists, classes.txt into ``tmp``."""
    os.makedirs(os.path.join(tmp, "SegmentationClass"))
    palette = label_palette(colours)
    for image_id, label in labels.items():
        save_label_png(os.path.join(tmp, "SegmentationClass", image_id + ".png"), label, palette)
    _write_lists(tmp, train, val)
    with open(os.path.join(tmp, "classes.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{n} {r} {g} {b}\n" for n, (r, g, b) in zip(names, colours)))


def _binary_note(binary, masks):
    if not binary:
        return None
    return (f"the grayscale masks in {masks} hold only 0 and 255: read as binary masks, "
            f"0 = background (class 0), 255 = foreground (class 1), not as 255 = void")


def prepare(images, masks, out, classes=None, val_fraction=0.1, seed=0, verbose=True):
    """Build a VOC-layout dataset in ``out`` from ``images`` and ``masks`` (see the module doc).

    classes: a file of ``name R G B`` lines (needed for RGB masks; optional for index masks,
    whose classes are otherwise named class_0, …). val_fraction: the share of the pairs held out
    for validation (at least one). seed: the split's seed. verbose: print notes and the report.
    Returns a dict: out, names, colours, train/val ids, pixels and images per class, notes.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    out = _check_out(out)
    spec = read_class_spec(classes) if classes is not None else None
    pairs = match_pairs(os.fspath(images), os.fspath(masks))
    train, val = split_ids([p[0] for p in pairs], val_fraction, seed)
    binary, palette = _scan_masks(pairs, spec)
    stale = _remove_stale(out)
    made = _make_parents(out)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".prepare-",
                           dir=os.path.dirname(out))
    try:
        os.makedirs(os.path.join(tmp, "JPEGImages"))
        labels, notes = _convert_all(pairs, tmp, spec, binary)
        max_index = max(int(np.max(lab, initial=0, where=lab != VOID_INDEX))
                        for lab in labels.values())
        names, colours = _class_table(spec, binary, palette, max_index)
        _write_dataset(tmp, labels, names, colours, train, val)
        pixels, counts, void = class_frequency(labels.values(), len(names))
        notes = [n for n in [stale, _binary_note(binary, masks)] if n] + _summarise(notes)
        report = {"out": out, "names": list(names), "colours": [list(c) for c in colours],
                  "train": train, "val": val, "pixels": pixels.tolist(),
                  "images": counts.tolist(), "void_pixels": void, "notes": notes, "seed": seed,
                  "val_fraction": val_fraction, "sources": {
                      "images": os.path.abspath(images), "masks": os.path.abspath(masks),
                      "classes": classes and os.path.abspath(classes)}}
        with open(os.path.join(tmp, "prepare.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
        plot_frequency(names, colours, pixels, os.path.join(tmp, "class_frequency.png"))
        if os.path.isdir(out):
            os.rmdir(out)                       # empty, checked above
        os.rename(tmp, out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in made:                     # the folders made above out, deepest first
            os.rmdir(folder)
        if isinstance(e, OSError) and e.errno in WRITE_ERRORS:
            raise OSError(e.errno, f"could not write the dataset {out} "
                                   f"({os.strerror(e.errno)}): nothing was kept (the "
                                   f"unfinished copy beside it is removed) and your photos "
                                   f"and masks are unchanged") from e
        raise
    if verbose:
        _print_report(report, names, pixels, counts, void)
    return report


def _summarise(notes):
    """Per-image notes, counted: ['12 images: PNG stored as PNG (lossless)']."""
    kinds = sorted(set(notes))
    return [f"{notes.count(k)} image(s): {k}" for k in kinds]


def _print_report(report, names, pixels, counts, void):
    for note in report["notes"]:
        print(f"note: {note}")
    print(frequency_table(names, pixels, counts, void))
    print(f"{len(report['train'])} train + {len(report['val'])} val images, "
          f"{len(names)} classes → {_shown(report['out'])} (plot: class_frequency.png)")


def _shown(path):
    """``path`` relative to the current folder when it lies below it (as a user typed it)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
