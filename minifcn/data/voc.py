"""Segmentation datasets in the PASCAL VOC layout.

A VOC-style dataset is a folder holding::

    JPEGImages/<id>.jpg                  the images (<id>.png where there is no .jpg: lossless)
    SegmentationClass/<id>.png           the labels: palette PNGs whose pixel values are class
                                         indices
    ImageSets/Segmentation/<split>.txt   the ids of each split, one per line
    classes.txt                          (minifcn's own datasets only) one class per line: its name,
                                         optionally followed by its colour ``R G B`` (0..255)

``SegmentationDataset`` reads any such folder; ``VOCSegmentation`` is it with VOC's 21 classes and
VOC's extra split ``seg11valid``; the offline shapes dataset (``minifcn.data.shapes``) and SBD
(``minifcn.data.sbd``) reuse the same class. ``load_dataset`` picks the class names from
``classes.txt`` when the folder has one, else VOC's.

``ds[i]`` is ``(image, label)``: image (H, W, 3) uint8 RGB, label (H, W) int32 class indices with
255 ("void") for pixels that the loss and the metrics ignore.
"""
import os
import re

import numpy as np
from PIL import ImageOps

from ..conventions import VOC_CLASSES
from ..textfile import read_lines
from .imagefile import ImageTooLarge, open_image
from .palette import VOID_INDEX, read_label_png

CLASSES_FILE = "classes.txt"
SEG11VALID_HELP = (
    "seg11valid is the FCN papers' validation set: the 736 images of the VOC2011 segmentation "
    "val list that are not in SBD's training set. minifcn cannot download it; copy seg11valid.txt "
    "(from the FCN authors' repository, shelhamer/fcn.berkeleyvision.org, data/pascal/) there"
)


# 16-bit grayscale photos (PNG, TIFF): PIL's modes for them, scaled to 0..255 by 255/65535.
# PIL's convert("RGB") would clip them at 255 instead, leaving a mostly white image.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def read_image(path):
    """Read an image file → (H, W, 3) uint8 RGB, upright: a camera's EXIF orientation tag is
    applied, as image viewers do (grayscale, CMYK, palette images are converted; 16-bit images
    are scaled to 8 bits). ValueError names a file that is broken or unsupported."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with open_image(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode not in SIXTEEN_BIT_MODES + ("RGB", "F"):
                image = image.convert("RGB")
            mode, pixels = image.mode, np.asarray(image)
    except ImageTooLarge:
        raise
    except Exception as e:  # PIL raises several types for a broken file
        raise ValueError(f"cannot read image {path}: {e}") from e
    if mode == "F" or (mode == "I" and pixels.size and (pixels.min() < 0 or pixels.max() > 65535)):
        raise ValueError(f"cannot read image {path}: mode {mode!r} (floating-point or 32-bit "
                         f"pixels) is not a photo format minifcn reads; save it as 8 or 16 bit")
    if mode in SIXTEEN_BIT_MODES:
        gray = np.rint(pixels.astype(np.float64) * (255 / 65535)).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(pixels, dtype=np.uint8)


def parse_class_line(line):
    """'name' → (name, None); 'name R G B' → (name, (R, G, B)) (a name may hold spaces). The
    fields may be parted by the commas, semicolons or tabs of a file saved by a spreadsheet."""
    parts = re.split(r"[\s,;]+", line.strip().strip(",;"))
    if len(parts) >= 4 and all(p.isdigit() for p in parts[-3:]):
        return " ".join(parts[:-3]), tuple(int(p) for p in parts[-3:])
    return " ".join(parts), None


def first_repeat(entries):
    """The first key given twice in ``entries`` [(line number, key)], as (key, first line,
    second line); None when every key is used once."""
    seen = {}
    for n, key in entries:
        if key in seen:
            return key, seen[key], n
        seen[key] = n
    return None


def drop_index_column(lines, path, void_allowed=False):
    """Lines ``index name …`` (every line opening with a number, as some tools write label
    lists) → the lines without it, in index order; other lists are returned as they are.
    An index used twice, or past the list (the indices must be 0..n-1), is a ValueError naming
    the lines. ``void_allowed``: a line ``255 void …`` is void's, not a class's."""
    split = [(n, line.split(None, 1)) for n, line in lines]
    if not split or not all(len(p) == 2 and p[0].isdigit() for _, p in split):
        return lines
    entries = [(n, int(p[0]), p[1]) for n, p in split]
    if void_allowed:
        void = [(n, i, rest) for n, i, rest in entries if i == VOID_INDEX]
        entries = [e for e in entries if e[1] != VOID_INDEX]
    else:
        void = []
    repeat = first_repeat([(n, i) for n, i, _ in entries])
    if repeat:
        raise ValueError(f"{path}:{repeat[2]}: index {repeat[0]} is also given on line "
                         f"{repeat[1]}; each class needs its own index")
    for n, i, _ in entries:
        if i >= len(entries):
            raise ValueError(f"{path}:{n}: index {i} is past the list: {len(entries)} classes "
                             f"take the indices 0..{len(entries) - 1}")
    return [(n, rest) for n, _, rest in sorted(entries, key=lambda e: e[1])] + \
        [(n, rest) for n, _, rest in void]


def read_classes(path):
    """(names, colours) from a classes file: one class per line, ``name`` or ``name R G B``
    (optionally opened by its index, ``0 background``); blank lines and ``#`` comments skipped.

    colours is None when no line has one, else a tuple of (R, G, B). A file that contradicts
    itself is a ValueError naming the lines: only some lines with a colour, a value over 255, a
    name or a colour used twice (void's (224, 224, 192) included: it draws label 255), a line
    for void (255 is void's label, not a class), an index used twice or past the list.
    """
    from .palette import voc_palette
    lines = drop_index_column(read_lines(path, "classes file"), path)
    if not lines:
        raise ValueError(f"no class names in {path}")
    names, colours = [], []
    void_colour = tuple(int(v) for v in voc_palette(256)[VOID_INDEX])
    for n, line in lines:
        name, colour = parse_class_line(line)
        if colour is not None and max(colour) > 255:
            raise ValueError(f"{path}:{n}: colour {colour} has a value over 255")
        if name.lower() == "void":
            raise ValueError(f"{path}:{n}: void is not a class (it is label {VOID_INDEX}, "
                             f"ignored by the loss); remove the line")
        if colour == void_colour:
            raise ValueError(f"{path}:{n}: colour {colour} is void's (label {VOID_INDEX} is "
                             f"drawn in it); give {name!r} another colour")
        names.append((n, name))
        colours.append((n, colour))
    has = [c is not None for _, c in colours]
    if any(has) and not all(has):
        n = lines[has.index(not has[0])][0]
        raise ValueError(f"{path}:{n}: some lines give a colour 'R G B' after the name and others "
                         f"do not; give every class a colour, or none")
    for entries, what in ((names, "class"), (colours if all(has) else [], "colour")):
        repeat = first_repeat(entries)
        if repeat:
            key, first, second = repeat
            raise ValueError(f"{path}:{second}: {what} {key!r} is also on line {first}; each "
                             f"class needs its own {'name' if what == 'class' else what}")
    return (tuple(name for _, name in names),
            tuple(c for _, c in colours) if all(has) else None)


def read_split(path):
    """Image ids from a split list, one per line (VOC's lists hold only the id; blank lines and
    ``#`` comments skipped)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"split list not found: {path}")
    ids = []
    for n, line in read_lines(path, "split list"):
        image_id = line.split()[0]
        if "/" in image_id or "\\" in image_id or image_id.startswith("."):
            raise ValueError(f"{path}:{n}: {image_id!r} is not an image id (a file name "
                             f"without folder or extension, as in JPEGImages/<id>.jpg)")
        ids.append(image_id)
    return ids


def resolve_voc_root(root):
    """The folder that holds JPEGImages/ etc., given it, ``VOCdevkit`` or the folder above that.

    Raises FileNotFoundError naming every folder that was tried.
    """
    root = os.path.expanduser(os.fspath(root))
    candidates = [root, os.path.join(root, "VOC2012"), os.path.join(root, "VOCdevkit", "VOC2012")]
    for folder in candidates:
        if os.path.isdir(os.path.join(folder, "JPEGImages")):
            return folder
    if not os.path.isdir(root):
        raise FileNotFoundError(f"dataset folder not found: {root}")
    raise FileNotFoundError(
        f"no VOC-layout dataset (a folder with JPEGImages/) at {root}; looked in "
        + ", ".join(candidates)
    )


def subset_ids(ids, subset, seed=0):
    """A deterministic random choice of ``subset`` ids, kept in their original order."""
    if subset is None:
        return list(ids)
    if not 0 < subset <= len(ids):
        raise ValueError(f"subset={subset} is not in 1..{len(ids)} (the split has {len(ids)} ids)")
    keep = np.random.default_rng(seed).choice(len(ids), size=subset, replace=False)
    return [ids[i] for i in np.sort(keep)]


class SegmentationDataset:
    """Images and label maps in the VOC layout (see the module docstring).

    root: the dataset folder. split: the name of a list ``<list_dir>/<split>.txt``.
    class_names: the class names; None reads ``root/classes.txt``. subset, seed: keep a
    deterministic random subset of ``subset`` ids (in list order).

    Subclasses change where files live through the class attributes (SBD keeps its labels in
    .mat files) and ``read_label``.
    """

    image_dir = "JPEGImages"
    image_ext = ".jpg"
    # where there is no <id>.jpg: prepare's lossless copies, and cameras' and Windows' spellings
    other_image_exts = (".png", ".JPG", ".jpeg", ".JPEG", ".PNG")
    label_dir = "SegmentationClass"
    label_ext = ".png"
    list_dir = os.path.join("ImageSets", "Segmentation")
    splits = None  # None: any split that has a list file
    ignore_index = VOID_INDEX

    def __init__(self, root, split="train", class_names=None, subset=None, seed=0):
        self.root = os.path.expanduser(os.fspath(root))
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"dataset folder not found: {self.root}")
        if self.splits is not None and split not in self.splits:
            raise ValueError(
                f"unknown split {split!r} for {type(self).__name__}: "
                f"expected one of {self.splits}"
            )
        for folder in (self.image_dir, self.label_dir):
            path = os.path.join(self.root, folder)
            if not os.path.isdir(path):
                raise FileNotFoundError(f"dataset folder not found: {path}")
        class_colors = None
        if class_names is None:
            class_names, class_colors = read_classes(os.path.join(self.root, CLASSES_FILE))
        self.split = split
        self.class_names = tuple(class_names)
        self.class_colors = class_colors  # (R, G, B) per class from classes.txt; None: VOC palette
        self.n_class = len(self.class_names)
        ids = read_split(self.split_file(split))
        if not ids:
            raise ValueError(f"the split list {self.split_file(split)} names no images")
        self.ids = subset_ids(ids, subset, seed)

    def split_file(self, split):
        return os.path.join(self.root, self.list_dir, split + ".txt")

    def image_path(self, image_id):
        path = os.path.join(self.root, self.image_dir, image_id + self.image_ext)
        for ext in self.other_image_exts:
            other = os.path.join(self.root, self.image_dir, image_id + ext)
            if not os.path.isfile(path) and os.path.isfile(other):
                return other
        return path

    def label_path(self, image_id):
        return os.path.join(self.root, self.label_dir, image_id + self.label_ext)

    def read_label(self, path):
        """(H, W) int32 class indices from a label file."""
        return read_label_png(path)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        """(image (H, W, 3) uint8 RGB, label (H, W) int32 in 0..n_class-1 or 255)."""
        image_id = self.ids[i]  # IndexError past the end ends a for loop over the dataset
        image = read_image(self.image_path(image_id))
        label_path = self.label_path(image_id)
        label = self.read_label(label_path)
        if image.shape[:2] != label.shape:
            raise ValueError(
                f"image and label sizes differ for {label_path}: "
                f"image {image.shape[0]}×{image.shape[1]}, "
                f"label {label.shape[0]}×{label.shape[1]}"
            )
        bad = ((label < 0) | (label >= self.n_class)) & (label != self.ignore_index)
        if bad.any():
            raise ValueError(
                f"label {label_path} has values {np.unique(label[bad]).tolist()} outside "
                f"0..{self.n_class - 1} and {self.ignore_index}"
            )
        return image, label

    def __repr__(self):
        return (
            f"{type(self).__name__}(root={self.root!r}, split={self.split!r}, "
            f"{len(self)} images, {self.n_class} classes)"
        )


class VOCSegmentation(SegmentationDataset):
    """PASCAL VOC 2012 segmentation: 21 classes, splits train / val / trainval / seg11valid.

    root may be the VOC2012 folder, ``VOCdevkit`` or the folder above it.
    """

    splits = ("train", "val", "trainval", "seg11valid")

    def __init__(self, root, split="train", subset=None, seed=0):
        super().__init__(resolve_voc_root(root), split, VOC_CLASSES, subset, seed)

    def split_file(self, split):
        path = super().split_file(split)
        if split == "seg11valid" and not os.path.isfile(path):
            raise FileNotFoundError(f"split list not found: {path}. {SEG11VALID_HELP}")
        return path


def unnamed_classes_note(dataset):
    """A note for a VOC-layout folder without ``classes.txt`` (so read with VOC's 21 classes)
    whose labels use only the values 0..k of fewer classes, saying how to name its own; None
    when the folder names its classes or its labels reach VOC's last class. Reads the labels
    until one holds that class."""
    if os.path.isfile(os.path.join(dataset.root, CLASSES_FILE)):
        return None
    highest = -1
    for image_id in dataset.ids:
        label = dataset.read_label(dataset.label_path(image_id))
        counted = label[label != dataset.ignore_index]
        highest = max(highest, int(counted.max(initial=-1)))
        if highest >= dataset.n_class - 1:
            return None
    names = ", ".join(dataset.class_names[:highest + 1])
    return (f"note: {dataset.root} has no {CLASSES_FILE}, so its classes are taken to be "
            f"VOC's {dataset.n_class}, but its {dataset.split} labels use only the values "
            f"0..{highest} ({names}): the model learns {dataset.n_class} classes and its "
            f"reports use VOC's names. If these are classes of your own, name them in "
            f"{os.path.join(dataset.root, CLASSES_FILE)}, one a line in index order ('name', or "
            f"'name R G B' with its colour), and train again")


def load_dataset(root, split="train", subset=None, seed=0):
    """Open a VOC-layout dataset, with the class names from ``classes.txt`` if present, else VOC's.

    This is how the training script opens either the offline shapes dataset or real VOC.
    """
    folder = resolve_voc_root(root)
    if os.path.isfile(os.path.join(folder, CLASSES_FILE)):
        return SegmentationDataset(folder, split, None, subset, seed)
    return VOCSegmentation(folder, split, subset, seed)
