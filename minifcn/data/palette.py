"""The PASCAL VOC colour map, and label maps stored as palette PNGs.

VOC stores a label map as a PNG in mode 'P': every pixel holds a palette *index*, and the index
IS the class (0 = background, 1..20 = objects, 255 = "void", the object borders that the loss
ignores). The palette only decides how the file looks in an image viewer. So a label must be read
as indices (``np.asarray`` of the 'P' image), never converted to RGB and matched back to colours.
"""
import os
import tempfile

import numpy as np
from PIL import Image

from .imagefile import ImageTooLarge, open_image

VOID_INDEX = 255  # VOC's "void": object borders and unlabelled regions, ignored by loss and metrics


def voc_palette(n=256):
    """The standard VOC colour map, as an (n, 3) uint8 array.

    Colour i is built by spreading the bits of i over the three channels, high bit first: bit 0
    of i goes to red, bit 1 to green, bit 2 to blue, in bit 7 of each channel; bits 3, 4, 5 go to
    bit 6 of each, and so on. Neighbouring classes therefore get very different colours:
    1 → (128, 0, 0), 2 → (0, 128, 0), 3 → (128, 128, 0), ..., 255 → (224, 224, 192).
    """
    if not 0 < n <= 256:
        raise ValueError(f"voc_palette: n must be in 1..256, got {n}")
    index = np.arange(n)
    palette = np.zeros((n, 3), dtype=np.int64)
    for level in range(8):  # 8 groups of 3 bits → bits 7, 6, ..., 0 of the channels
        for channel in range(3):
            bit = (index >> (3 * level + channel)) & 1
            palette[:, channel] |= bit << (7 - level)
    return palette.astype(np.uint8)


def label_palette(class_colors=None):
    """A (256, 3) uint8 palette: the dataset's own class colours first (a sequence of (R, G, B),
    as ``classes.txt`` gives them), VOC's colours for the other indices; 255 stays void's
    (224, 224, 192). None: VOC's palette."""
    palette = voc_palette(256)
    if class_colors is not None:
        colours = np.asarray(class_colors, dtype=np.int64).reshape(-1, 3)
        if len(colours) > 255 or colours.min(initial=0) < 0 or colours.max(initial=0) > 255:
            raise ValueError(f"class colours must be at most 255 (R, G, B) triples in 0..255, "
                             f"got {len(colours)} with values {colours.min()}..{colours.max()}")
        palette[:len(colours)] = colours
    return palette


def colorize(label, palette=None):
    """Class indices (H, W) → RGB image (H, W, 3) uint8 in ``palette``'s colours (a (256, 3)
    array from ``label_palette``; None: VOC's); 255 → (224, 224, 192)."""
    label = np.asarray(label)
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(
            f"colorize: label values must be in 0..255, got min {label.min()}, max {label.max()}"
        )
    return (voc_palette(256) if palette is None else np.asarray(palette))[label.astype(np.intp)]


def save_label_png(path, label, palette=None):
    """Write a label map (H, W) of indices 0..255 as a palette PNG (mode 'P'); the stored values
    are the indices, ``palette`` ((256, 3), see ``label_palette``; None: VOC's) how they look.

    Written to a temporary file in the same folder and renamed, so a reader never sees half a file.
    """
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"save_label_png: label must be H×W, got shape {label.shape} for {path}")
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(
            f"save_label_png: label values must be in 0..255 to fit a palette PNG, "
            f"got min {label.min()}, max {label.max()} for {path}"
        )
    height, width = label.shape
    pixels = np.ascontiguousarray(label, dtype=np.uint8).tobytes()
    image = Image.frombytes("P", (width, height), pixels)
    palette = voc_palette(256) if palette is None else np.asarray(palette, dtype=np.uint8)
    image.putpalette(palette.tobytes())
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_label_png(path):
    """Read a label PNG → (H, W) int32 array of the stored indices (mode 'P' or 'L' only).

    Raises FileNotFoundError if the file is missing, ValueError if it cannot be decoded or holds
    colours (an RGB label would have to be matched against the palette, which is exactly the
    mistake to avoid).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label file not found: {path}")
    try:
        with open_image(path, "label image") as image:
            image.load()
    except ImageTooLarge:
        raise
    except Exception as e:  # PIL raises several types for a broken file
        raise ValueError(f"cannot read label image {path}: {e}") from e
    if image.mode not in ("P", "L"):  # 16-bit ('I;16'), RGB, …: never scaled or matched
        raise ValueError(
            f"label image {path} has mode {image.mode!r}; expected an 8-bit palette ('P') or "
            f"grayscale ('L') PNG whose pixel values are the class indices"
        )
    return np.asarray(image, dtype=np.int32)
