"""The Semantic Boundaries Dataset (SBD, Hariharan et al. 2011): the FCN papers' training set.

SBD labels 11,355 VOC2011 images with the 21 VOC classes (FCN trains on its 8,498-image train
list). It ships as ``benchmark_RELEASE/dataset``::

    img/<id>.jpg      the images
    cls/<id>.mat      a MATLAB struct GTcls whose field Segmentation is the (H, W) uint8 label map
    train.txt         the ids of each split
    val.txt

Reading .mat files needs scipy, an optional dependency: ``pip install minifcn[sbd]``.
"""
import os

import numpy as np

from .voc import VOC_CLASSES, SegmentationDataset


def _loadmat():
    try:
        from scipy.io import loadmat  # imported here: scipy is only needed for SBD
    except ImportError as e:
        raise ImportError("reading SBD's .mat labels needs scipy: pip install minifcn[sbd]") from e
    return loadmat


def resolve_sbd_root(root):
    """The folder that holds img/ and cls/, given it or ``benchmark_RELEASE`` above it."""
    root = os.path.expanduser(os.fspath(root))
    candidates = [
        root,
        os.path.join(root, "dataset"),
        os.path.join(root, "benchmark_RELEASE", "dataset"),
    ]
    for folder in candidates:
        has_cls = os.path.isdir(os.path.join(folder, "cls"))
        if has_cls and os.path.isdir(os.path.join(folder, "img")):
            return folder
    if not os.path.isdir(root):
        raise FileNotFoundError(f"SBD folder not found: {root}")
    raise FileNotFoundError(
        f"no SBD dataset (a folder with img/ and cls/) at {root}; looked in "
        + ", ".join(candidates)
    )


def read_sbd_label(path):
    """(H, W) int32 class indices from an SBD ``cls/<id>.mat`` file (GTcls.Segmentation)."""
    loadmat = _loadmat()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label file not found: {path}")
    try:
        # squeeze_me + struct_as_record=False turn the 1×1 MATLAB struct into an object with fields
        gt = loadmat(path, squeeze_me=True, struct_as_record=False)["GTcls"]
        label = np.asarray(gt.Segmentation)
    except Exception as e:  # a broken file, or a .mat without GTcls.Segmentation
        raise ValueError(f"cannot read GTcls.Segmentation from {path}: {e}") from e
    if label.ndim != 2:
        raise ValueError(f"GTcls.Segmentation in {path} has shape {label.shape}, expected H×W")
    return label.astype(np.int32)


class SBDSegmentation(SegmentationDataset):
    """SBD with the 21 VOC classes; split 'train' (8,498 images) or 'val' (2,857).

    root may be the ``dataset`` folder or ``benchmark_RELEASE`` above it.
    """

    image_dir = "img"
    label_dir = "cls"
    label_ext = ".mat"
    list_dir = ""
    splits = ("train", "val")

    def __init__(self, root, split="train", subset=None, seed=0):
        _loadmat()  # fail now, not at the first image, when scipy is missing
        super().__init__(resolve_sbd_root(root), split, VOC_CLASSES, subset, seed)

    def read_label(self, path):
        return read_sbd_label(path)
