"""Segment an image: RGB pixels in, a class per pixel out.

The image is preprocessed in the model's input convention ('caffe' or 'torchvision', see
``minifcn.data.transforms``), run once through the network in eval mode (dropout off) without
caches (``no_grad``), on the model's device; the results come back as NumPy arrays. Any image size
works: an FCN's scores always have the input's height and width.

Large photos. Memory grows with the pixels: a layer's activations and im2col's buffers grow
with H·W (bench/bench_predict_memory.py measures it: 1.1 GiB for a 4000×3000 photo with the main
job's small FCN-8s, about 7 GiB at VGG16's widths). Two ways to bound it:

- ``max_size=N``: shrink the photo so that its long side is N, predict, and bring the labels back
  to the photo's size with nearest-neighbour (coarser edges, N²-bounded memory and time);
- ``tile=T, overlap=O``: full resolution, in T×T tiles that overlap by O px. Each pixel takes its
  label from the tile where it lies farthest from an edge (the seams run down the middle of the
  overlaps). Tiles start on multiples of 32, the net's total stride, so every tile's coarse grid
  (pool5 and fc6/fc7) falls exactly on the whole image's. An FCN's output pixel depends on the
  input within ±245 px (FCN-8s, worst case; measured in tests/test_predict.py), so a pixel
  farther than that from its tile's edges gets exactly the whole-image result: with O ≥ 2·245
  every pixel does. Nearer a tile edge the tile sees padding instead of the photo around it; in
  a trained net that changes few labels (bench/bench_tile_agreement.py counts them: 0.015% at
  O = 128 in docs/own-data.md's example).
"""
from contextlib import contextmanager

import numpy as np
from PIL import Image

from . import backend
from .nn import no_grad

TILE_ALIGN = 32       # FCN's total stride (pool5 is 1/32): tiles start on multiples of it
TILE_OVERLAP = 128    # px shared by neighbouring tiles (exact results need 2·245, see above)


def model_input(model, image):
    """(H, W, 3) or (N, H, W, 3) RGB uint8 → the network input (N, 3, H, W) in the model's
    input convention, dtype and device."""
    from .data.transforms import preprocess
    image = np.asarray(image)
    if image.ndim not in (3, 4) or image.shape[-1] != 3:
        raise ValueError(f"expected an H×W×3 RGB image (or N×H×W×3), got shape {image.shape}")
    x = preprocess(image, model.input_convention, dtype=np.dtype(model.dtype))
    return backend.to_device(x if x.ndim == 4 else x[None], model.device)


@contextmanager
def inference(model):
    """Eval mode (dropout off) and no caches inside the block; the model's mode comes back."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield model
    finally:
        model.train(was_training)


def _scores(model, image):
    """(N, n_class, H, W) scores on the model's device, for (H, W, 3) or (N, H, W, 3) RGB."""
    x = model_input(model, image)
    h, w = x.shape[2:]
    # An FCN whose conv1_1 pads less than the paper's 100 needs a minimum input size (fc6's
    # 7×7 pool5): pad smaller images at the bottom and right with 0 (the mean colour after
    # preprocessing) and crop the scores back. The top-left stays where it was, so nothing moves.
    least = getattr(model, "min_input_size", 1)
    if h < least or w < least:
        xp = backend.get_array_module(x)
        x = xp.pad(x, ((0, 0), (0, 0), (0, max(0, least - h)), (0, max(0, least - w))))
    with inference(model):
        return model(x)[:, :, :h, :w]


def _softmax(score):
    xp = backend.get_array_module(score)
    e = xp.exp(score - score.max(axis=1, keepdims=True))    # softmax over classes, stably
    return backend.to_cpu(e / e.sum(axis=1, keepdims=True))


def _argmax(score):
    return backend.to_cpu(score.argmax(axis=1)).astype(np.int64)


def predict_proba(model, image, max_size=None, tile=None, overlap=TILE_OVERLAP):
    """Class probabilities (n_class, H, W) (or (N, n_class, H, W) for a batch), NumPy.

    max_size, tile, overlap: for one large photo, see the module docstring and ``predict``.
    """
    if max_size is not None or tile is not None:
        return _large(model, image, _softmax, max_size, tile, overlap)
    prob = _softmax(_scores(model, image))
    return prob if np.asarray(image).ndim == 4 else prob[0]


def predict(model, image, max_size=None, tile=None, overlap=TILE_OVERLAP):
    """The label map (H, W) of class indices (or (N, H, W) for a batch), int64, NumPy.

    For one large (H, W, 3) photo: max_size=N predicts at a long side of N px and scales the
    labels back (nearest-neighbour); tile=T predicts at full size in T×T tiles overlapping by
    ``overlap`` px (see the module docstring). Both together: shrink, then tile.
    """
    if max_size is not None or tile is not None:
        return _large(model, image, _argmax, max_size, tile, overlap)
    labels = _argmax(_scores(model, image))
    return labels if np.asarray(image).ndim == 4 else labels[0]


def _large(model, image, head, max_size, tile, overlap):
    """``head`` ((1, C, h, w) scores → (1, …, h, w) host array) over a shrunk and/or tiled photo."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"max_size and tile take one H×W×3 RGB image, got shape {image.shape}")
    height, width = image.shape[:2]
    if max_size is not None:
        image = shrink(image, max_size)
    if tile is not None:
        out = tiled(model, image, tile, overlap, head)
    else:
        out = head(_scores(model, image))[0]
    return nearest_resize(out, (height, width))


def shrink(image, max_size):
    """(H, W, 3) uint8 → the same photo with its long side at most ``max_size`` (antialiased)."""
    if not (isinstance(max_size, (int, np.integer)) and max_size >= 1):
        raise ValueError(f"max_size must be a whole number of pixels ≥ 1, got {max_size!r}")
    height, width = image.shape[:2]
    scale = max_size / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image.astype(np.uint8)).resize(size, Image.BILINEAR))


def nearest_resize(array, size):
    """(…, h, w) → (…, H, W) by nearest neighbour: output pixel centre (y + ½)·h/H falls in
    input pixel ⌊(y + ½)·h/H⌋. Labels stay labels (no class is invented between two others)."""
    h, w = array.shape[-2:]
    height, width = size
    if (h, w) == (height, width):
        return array
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.intp), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.intp), w - 1)
    return array[..., rows[:, None], cols[None, :]]


def tile_spans(length, tile, overlap, align=TILE_ALIGN):
    """[(start, stop, own_start, own_stop)] of the tiles along one axis of ``length`` px.

    Tiles are ``tile`` px (the last one up to align − 1 more) and start on multiples of
    ``align``, a step of (tile − overlap) rounded down to it; a tile owns the pixels from the
    middle of its overlap with the previous tile to the middle of its overlap with the next.
    """
    if tile < 1 or overlap < 0:
        raise ValueError(f"tile must be ≥ 1 and overlap ≥ 0, got tile {tile}, overlap {overlap}")
    step = (tile - overlap) // align * align
    if length <= tile:
        return [(0, length, 0, length)]
    if step < align:
        raise ValueError(f"tile ({tile}) must exceed overlap ({overlap}) by at least {align} px, "
                         f"the net's stride, so that tiles advance")
    starts = list(range(0, length - tile, step))
    last = (length - tile) // align * align            # the last tile reaches the far edge
    if last > starts[-1]:
        starts.append(last)
    stops = [s + tile for s in starts[:-1]] + [length]
    cuts = [0] + [(s + e) // 2 for s, e in zip(starts[1:], stops[:-1])] + [length]
    return [(s, e, cuts[k], cuts[k + 1]) for k, (s, e) in enumerate(zip(starts, stops))]


def tiled(model, image, tile, overlap, head=_argmax):
    """``head`` of the scores of an (H, W, 3) photo computed tile by tile, stitched (…, H, W).

    Peak memory is one tile's forward pass plus the stitched output.
    """
    if not (isinstance(tile, (int, np.integer)) and isinstance(overlap, (int, np.integer))):
        raise ValueError(f"tile and overlap must be whole numbers of pixels, got {tile!r}, "
                         f"{overlap!r}")
    height, width = image.shape[:2]
    out = None
    for y0, y1, oy0, oy1 in tile_spans(height, tile, overlap):
        for x0, x1, ox0, ox1 in tile_spans(width, tile, overlap):
            part = head(_scores(model, image[y0:y1, x0:x1]))[0]
            if out is None:
                out = np.empty(part.shape[:-2] + (height, width), dtype=part.dtype)
            out[..., oy0:oy1, ox0:ox1] = part[..., oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0]
    return out
