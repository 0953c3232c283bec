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

import numpy as np
from PIL import Image, ImageOps

from ..conventions import VOC_CLASSES
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
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode not in SIXTEEN_BIT_MODES + ("RGB", "F"):
                image = image.convert("RGB")
            mode, pixels = image.mode, np.asarray(image)
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
    """'name' → (name, None); 'name R G B' → (name, (R, G, B)) (a name may hold spaces)."""
    parts = line.split()
    if len(parts) >= 4 and all(p.isdigit() for p in parts[-3:]):
        return " ".join(parts[:-3]), tuple(int(p) for p in parts[-3:])
    return line.strip(), None


def read_classes(path):
    """(names, colours) from a classes file: one class per line, ``name`` or ``name R G B``.

    colours is None when no line has one, else a tuple of (R, G, B); a file where only some
    lines have a colour, or with a value over 255, is a ValueError naming the line.
    """
    with open(path, encoding="utf-8") as f:
        lines = [(n, line) for n, line in enumerate(f, 1) if line.strip()]
    if not lines:
        raise ValueError(f"no class names in {path}")
    names, colours = [], []
    for n, line in lines:
        name, colour = parse_class_line(line)
        if colour is not None and max(colour) > 255:
            raise ValueError(f"{path}:{n}: colour {colour} has a value over 255")
        names.append(name)
        colours.append(colour)
    has = [c is not None for c in colours]
    if any(has) and not all(has):
        n = lines[has.index(not has[0])][0]
        raise ValueError(f"{path}:{n}: some lines give a colour 'R G B' after the name and others "
                         f"do not; give every class a colour, or none")
    return tuple(names), (tuple(colours) if all(has) else None)


def read_split(path):
    """Image ids from a split list, one per line (VOC's lists hold only the id)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"split list not found: {path}")
    with open(path, encoding="utf-8") as f:
        return [line.split()[0] for line in f if line.strip()]


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
    other_image_exts = (".png",)  # where there is no <id>.jpg (prepare's lossless copies)
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


def load_dataset(root, split="train", subset=None, seed=0):
    """Open a VOC-layout dataset, with the class names from ``classes.txt`` if present, else VOC's.

    This is how the training script opens either the offline shapes dataset or real VOC.
    """
    folder = resolve_voc_root(root)
    if os.path.isfile(os.path.join(folder, CLASSES_FILE)):
        return SegmentationDataset(folder, split, None, subset, seed)
    return VOCSegmentation(folder, split, subset, seed)
