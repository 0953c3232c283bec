"""The deep jet: what an FCN predicts from 1/32 alone, with the 1/16 skip, and with the 1/8 skip.

FCN-8s sums its scores coarse to fine (``minifcn.models.fcn8s``):

    score_fr     1/32    the coarse prediction, from fc7
    fuse_pool4   1/16    upscore2(score_fr) + score_pool4c          = 1/32 + 1/16
    fuse_pool3   1/8     upscore_pool4(fuse_pool4) + score_pool3c   = 1/32 + 1/16 + 1/8

Each of these blobs is a full score map, just coarser. To compare them with the labels, each is
brought to the image: upsampled bilinearly by its remaining factor (a deconvolution of kernel 2f
and stride f with the bilinear filter, as FCN's own upscore layers start) and cropped at the
offset that ``minifcn.geometry`` computes for that path, exactly as FCN-32s and FCN-16s do with
their ``upscore`` and ``upscore16``. The deepest stage a model has is its own output (``score``),
so its numbers are the model's. With the upsampling frozen at bilinear (the default) the other
stages are what an FCN-32s / FCN-16s head would output from these same blobs.

This is the paper's Table 2 and Figure 4 (CVPR 2015) measured on one trained net: the mean IU
of each stage and, with ``minifcn.metrics.boundary_iu``, its IU near the boundaries, where the
skips are supposed to add the detail.
"""
from typing import Callable, NamedTuple

import numpy as np

from . import backend, geometry
from .functional import bilinear_upsample_forward
from .metrics import ConfusionMatrix, boundary_labels
from .predict import inference, model_input


class Stage(NamedTuple):
    name: str            # what it sums, as the paper's figure says it
    blob: str            # the blob of forward(x, return_blobs=True) that holds it
    path: Callable       # model → its layers from the image to that blob (for geometry)


STAGES = (
    Stage("1/32", "score_fr", lambda m: m.score_fr_path()),
    # a sum lives in the coordinates of its upsampled input (see the model files)
    Stage("1/32 + 1/16", "fuse_pool4", lambda m: m.score_fr_path() + [m.upscore2]),
    Stage("1/32 + 1/16 + 1/8", "fuse_pool3",
          lambda m: m.score_fr_path() + [m.upscore2, m.upscore_pool4]),
)


def model_stages(model):
    """The stages of ``model``'s deep jet: FCN-32s has one, FCN-16s two, FCN-8s three."""
    if not hasattr(model, "score_fr_path"):
        raise TypeError(f"deep jet stages need an FCN, got {type(model).__name__}")
    skips = {"score_fr": True, "fuse_pool4": hasattr(model, "score_pool4"),
             "fuse_pool3": hasattr(model, "score_pool3")}
    return [s for s in STAGES if skips[s.blob]]


def image_extent(path, shape):
    """Where a blob of ``shape`` (…, h, w) at the end of ``path`` lies on the image, as
    matplotlib's imshow ``extent`` (left, right, bottom, top) in image pixels: pixel o sits at
    a·o + b (``geometry.path_map``) and covers a pixels, so a 1/32 cell is drawn 32 px wide,
    reaching beyond the image where the padding put it."""
    m = geometry.path_map(path)
    a, b = float(m.scale), float(m.shift)
    h, w = shape[-2:]
    return (b - a / 2, b + a * (w - 0.5), b + a * (h - 0.5), b - a / 2)


def upsample_to_image(blob, path, size):
    """A score blob (N, C, h, w) at scale f (``path``: the layers from the image to it) →
    (N, C, H, W) on the image's pixels: bilinear ×f (kernel 2f, stride f, as FCN's upscore
    layers start), then the crop that ``geometry.crop_offset`` gives (a blob that does not
    cover the whole image is first extended by its edge cells). ``size`` = (H, W) of the image.
    Same backend as ``blob``."""
    f = geometry.path_map(path).scale                  # image pixels per blob pixel, e.g. 32
    if f.denominator != 1 or f < 1:
        raise ValueError(f"upsample_to_image: the blob is at scale {f}, not a whole factor ≥ 1")
    f, (h, w), (H, W) = int(f), blob.shape[2:], size
    if f == 1:                                         # at the image's scale already: crop only
        offset = geometry.crop_offset(path)
        return blob[:, :, offset:offset + H, offset:offset + W]
    # Where the image starts in the upsampled map: 19, 27, 31 … with the paper's padding. With
    # less padding (the main job's) a coarse blob can end before the image's edge, and the
    # offset is negative: the blob is then extended by repeating its edge cells, as many as
    # it takes on each side, which is the nearest prediction there is for those pixels.
    m = geometry.path_map(list(path) + [("deconv", 2 * f, f, 0)])
    offset = -m.shift
    if offset.denominator != 1:
        raise ValueError(f"upsample_to_image: the blob's ×{f} map is offset by {offset} px")
    before = max(0, -(int(offset) // f))                       # cells to add at the top/left
    offset = int(offset) + before * f
    # ×f gives (cells + 1)·f pixels, which must reach offset + the image's side
    after_h, after_w = (max(0, -(-(offset + side) // f) - 1 - (cells + before))
                        for side, cells in ((H, h), (W, w)))
    if before or after_h or after_w:
        xp = backend.get_array_module(blob)
        blob = xp.pad(blob, ((0, 0), (0, 0), (before, after_h), (before, after_w)), mode="edge")
        h, w = blob.shape[2:]
    # FCN's frozen upscore, per class and one axis at a time (functional.upsample)
    up, _ = bilinear_upsample_forward(blob, (2 * f, 2 * f), (f, f), (0, 0))   # (h + 1)·f
    return up[:, :, offset:offset + H, offset:offset + W]


def stage_scores(model, x):
    """{stage name: scores (N, n_class, H, W)} for an input batch x (N, 3, H, W) on the model's
    device (eval mode, no caches); the deepest stage is the model's own output."""
    stages = model_stages(model)
    with inference(model):
        score, blobs = model.forward(x, return_blobs=True)
    out = {s.name: upsample_to_image(blobs[s.blob], s.path(model), x.shape[2:])
           for s in stages[:-1]}
    out[stages[-1].name] = score
    return out


def stage_predictions(model, image):
    """{stage name: label map (H, W) int64, NumPy} for an RGB image (H, W, 3); for a batch
    (N, H, W, 3), label maps (N, H, W)."""
    scores = stage_scores(model, model_input(model, image))
    labels = {name: backend.to_cpu(s.argmax(axis=1)).astype(np.int64)
              for name, s in scores.items()}
    return {name: lab[0] for name, lab in labels.items()} if np.ndim(image) == 3 else labels


def _batches(dataset, n, batch_size):
    """Consecutive images of one size, at most ``batch_size`` at a time: (images, labels)."""
    images, labels = [], []
    for i in range(n):
        image, label = dataset[i]
        if images and (len(images) == batch_size or image.shape != images[0].shape):
            yield np.stack(images), np.stack(labels)
            images, labels = [], []
        images.append(image)
        labels.append(label)
    if images:
        yield np.stack(images), np.stack(labels)


def evaluate_stages(model, dataset, k=3, limit=None, batch_size=8):
    """Score every stage of the deep jet over ``dataset`` (or its first ``limit`` images).

    Returns {stage name: {'acc', 'acc_cls', 'mean_iu', 'fwavacc', 'boundary_iu'}}: the four
    scores from one confusion matrix over the set (as ``minifcn.evaluate``), and the mean IU
    over ``metrics.boundary_band(label, k)``, the labelled pixels within k px of void or of
    another class. The deepest stage's scores are the model's (``minifcn.evaluate``'s).
    """
    n = len(dataset) if limit is None else min(limit, len(dataset))
    names = [s.name for s in model_stages(model)]
    whole = {name: ConfusionMatrix(dataset.n_class) for name in names}
    near = {name: ConfusionMatrix(dataset.n_class) for name in names}
    for images, labels in _batches(dataset, n, batch_size):
        band = boundary_labels(labels, k)             # (B, H, W): void outside the band
        for name, pred in stage_predictions(model, images).items():
            whole[name].update(labels, pred)
            near[name].update(band, pred)
    return {name: {**whole[name].scores(), "boundary_iu": near[name].scores()["mean_iu"]}
            for name in names}


def plot_stages(model, dataset, indices, results=None, path=None, title=None):
    """The deep-jet figure: for each image of ``indices``, the image, each stage's prediction and
    the ground truth, with the class legend; ``results`` (``evaluate_stages``'s) puts each
    stage's mean IU and boundary IU under its name. Returns ``path`` or the figure."""
    from . import plots
    names = [s.name for s in model_stages(model)]
    rows = []
    for i in indices:
        image, label = dataset[i]
        preds = stage_predictions(model, image)
        rows.append([image] + [preds[name] for name in names] + [label])
    titles = [name if results is None else
              f"{name}\nmean IU {results[name]['mean_iu']:.3f}\n"
              f"boundary IU {results[name]['boundary_iu']:.3f}" for name in names]
    names_of_classes = getattr(dataset, "class_names", None) or [str(c) for c in
                                                                 range(dataset.n_class)]
    return plots.plot_label_grid(rows, names_of_classes, path, title=title,
                                 col_titles=["image"] + titles + ["ground truth"],
                                 palette=plots.dataset_palette(dataset))
