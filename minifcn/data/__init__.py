"""Data: datasets in the VOC layout, the offline shapes dataset, transforms and the VOC palette.

- ``VOCSegmentation`` / ``SBDSegmentation`` / ``ShapesSegmentation``: ``ds[i]`` → (image (H, W, 3)
  uint8 RGB, label (H, W) int32 class indices, 255 = ignored); all are ``SegmentationDataset``.
- ``load_dataset(root, split)``: any VOC-layout folder, classes from its ``classes.txt`` or VOC's.
- ``ensure_shapes()`` / ``make_shapes(root)``: generate the offline dataset (what ``train`` uses);
  ``default_data_root()`` / ``default_train_data()``: where it lives (``locations``).
- ``prepare(images, masks, out, classes)``: your photos and masks (index, 0/255 or RGB) → a
  VOC-layout dataset with your class colours (``minifcn.data.prepare``).
- ``download_voc(root)``: fetch and unpack VOC2012 (resumable, md5-checked, safe extraction).
- ``preprocess`` / ``deprocess``: RGB image ↔ network input in the 'caffe' or 'torchvision'
  convention.
"""
from .download import (
    VOC2012_MD5,
    VOC2012_URL,
    download_url,
    download_voc,
    file_md5,
    safe_extract,
)
from .masks import read_class_spec
from .palette import (
    VOID_INDEX,
    colorize,
    label_palette,
    read_label_png,
    save_label_png,
    voc_palette,
)
from .prepare import prepare
from .sbd import SBDSegmentation
from .locations import ShapesSegmentation, default_data_root, default_train_data, ensure_shapes
from .shapes import SHAPE_CLASSES, boundary_void, draw_sample, make_shapes
from .transforms import (
    INPUT_CONVENTIONS,
    MEAN_RGB,
    deprocess,
    make_batch,
    preprocess,
    random_crop,
    random_flip,
)
from .voc import (
    VOC_CLASSES,
    SegmentationDataset,
    VOCSegmentation,
    load_dataset,
    read_classes,
    read_image,
)

__all__ = [
    "SegmentationDataset", "VOCSegmentation", "SBDSegmentation", "ShapesSegmentation",
    "load_dataset",
    "VOC_CLASSES", "SHAPE_CLASSES", "read_image",
    "make_shapes", "ensure_shapes", "default_data_root", "default_train_data", "draw_sample",
    "boundary_void",
    "download_voc", "download_url", "safe_extract", "file_md5", "VOC2012_URL", "VOC2012_MD5",
    "INPUT_CONVENTIONS", "MEAN_RGB", "preprocess", "deprocess", "make_batch", "random_flip",
    "random_crop",
    "voc_palette", "colorize", "save_label_png", "read_label_png", "VOID_INDEX", "label_palette",
    "prepare", "read_class_spec", "read_classes",
]
