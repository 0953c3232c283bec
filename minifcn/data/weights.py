"""Class weights for the loss: median-frequency balancing, or one weight per class from a file.

Median-frequency balancing (Eigen & Fergus 2015, used by SegNet): a class's frequency is its
pixel count divided by the pixels of the images in which it appears,

    freq_c = pixels_c / pixels of the images holding c,    weight_c = median_c(freq) / freq_c

so a class as common as the median weighs 1, a rare one more, background less. Void pixels (255)
count for nothing. A class absent from the training set gets weight 1: it has no pixel to weigh.
"""
import math
import re

import numpy as np

from ..textfile import read_lines
from .palette import VOID_INDEX


def class_pixel_counts(dataset):
    """(pixels per class, pixels of the images holding each class), two (n_class,) int64 arrays,
    over every label map of ``dataset`` (labels only: the photos are not decoded)."""
    n = dataset.n_class
    pixels = np.zeros(n, dtype=np.int64)
    image_pixels = np.zeros(n, dtype=np.int64)
    for image_id in dataset.ids:
        label = np.asarray(dataset.read_label(dataset.label_path(image_id)))
        counts = np.bincount(label[label != VOID_INDEX].ravel(), minlength=n)
        if counts.size > n:
            raise ValueError(f"label {dataset.label_path(image_id)} has values over {n - 1}")
        pixels += counts
        image_pixels += np.where(counts > 0, int((label != VOID_INDEX).sum()), 0)
    return pixels, image_pixels


def median_frequency_weights(pixels, image_pixels):
    """weight_c = median(freq) / freq_c, freq_c = pixels_c / image_pixels_c (module docstring);
    a list of floats, 1.0 for classes with no pixels."""
    pixels = np.asarray(pixels, dtype=np.float64)
    image_pixels = np.asarray(image_pixels, dtype=np.float64)
    seen = pixels > 0
    if not seen.any():
        raise ValueError("median-frequency weights: the training labels hold no counted pixel")
    freq = pixels[seen] / image_pixels[seen]
    weights = np.ones(len(pixels))
    weights[seen] = np.median(freq) / freq
    return [float(w) for w in weights]


def read_class_weights(path, class_names):
    """One weight per class from a text file: lines ``weight`` or ``name weight``, in class
    order (blank lines and ``#`` comments skipped; a byte-order mark and CRLF are read).
    Names, when given, must match the classes."""
    # spaces, or the commas, semicolons and tabs of a file saved by a spreadsheet
    lines = [(n, re.split(r"[\s,;]+", line)) for n, line in read_lines(path, "class-weight file")]
    if len(lines) != len(class_names):
        raise ValueError(f"class-weight file {path} gives {len(lines)} weights for "
                         f"{len(class_names)} classes ({', '.join(class_names)})")
    weights = []
    for (n, parts), name in zip(lines, class_names):
        try:
            w = float(parts[-1])
        except ValueError:
            raise ValueError(f"{path}:{n}: {parts[-1]!r} is not a number") from None
        if len(parts) > 1 and " ".join(parts[:-1]) != name:
            raise ValueError(f"{path}:{n}: names class {' '.join(parts[:-1])!r} where the "
                             f"dataset's class {len(weights)} is {name!r}")
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"{path}:{n}: weight {w} must be a finite number ≥ 0")
        weights.append(w)
    if not any(weights):
        raise ValueError(f"class-weight file {path}: every weight is 0")
    return weights


def class_weights(spec, dataset):
    """The loss's class weights for ``--class-weight spec``: None for 'none' (or None), median-
    frequency weights over ``dataset`` (the training set) for 'auto', else one weight per class
    read from the file ``spec`` names. A list of floats, one per class."""
    if spec is None or spec == "none":
        return None
    if spec == "auto":
        return median_frequency_weights(*class_pixel_counts(dataset))
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"class_weight must be 'none', 'auto' or a file name, got {spec!r}")
    return read_class_weights(spec, dataset.class_names)
