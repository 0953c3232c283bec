"""Segment an image: RGB pixels in, a class per pixel out.

The image is preprocessed in the model's input convention ('caffe' or 'torchvision', see
``minifcn.data.transforms``), run once through the network in eval mode (dropout off) without
caches (``no_grad``), on the model's device; the results come back as NumPy arrays. Any image size
works: an FCN's scores always have the input's height and width.
"""
import numpy as np

from . import backend
from .nn import no_grad


def _scores(model, image):
    """(N, n_class, H, W) scores on the model's device, for (H, W, 3) or (N, H, W, 3) RGB."""
    from .data.transforms import preprocess
    image = np.asarray(image)
    if image.ndim not in (3, 4) or image.shape[-1] != 3:
        raise ValueError(f"expected an H×W×3 RGB image (or N×H×W×3), got shape {image.shape}")
    x = preprocess(image, model.input_convention, dtype=np.dtype(model.dtype))
    x = x if x.ndim == 4 else x[None]
    h, w = x.shape[2:]
    # An FCN whose conv1_1 pads less than the paper's 100 needs a minimum input size (fc6's
    # 7×7 pool5): pad smaller images at the bottom and right with 0 (the mean colour after
    # preprocessing) and crop the scores back. The top-left stays where it was, so nothing moves.
    least = getattr(model, "min_input_size", 1)
    if h < least or w < least:
        x = np.pad(x, ((0, 0), (0, 0), (0, max(0, least - h)), (0, max(0, least - w))))
    x = backend.to_device(x, model.device)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return model(x)[:, :, :h, :w]
    finally:
        model.train(was_training)


def predict_proba(model, image):
    """Class probabilities (n_class, H, W) (or (N, n_class, H, W) for a batch), NumPy."""
    score = _scores(model, image)
    xp = backend.get_array_module(score)
    e = xp.exp(score - score.max(axis=1, keepdims=True))    # softmax over classes, stably
    prob = backend.to_cpu(e / e.sum(axis=1, keepdims=True))
    return prob if np.asarray(image).ndim == 4 else prob[0]


def predict(model, image):
    """The label map (H, W) of class indices (or (N, H, W) for a batch), int64, NumPy."""
    score = _scores(model, image)
    labels = backend.to_cpu(score.argmax(axis=1)).astype(np.int64)
    return labels if np.asarray(image).ndim == 4 else labels[0]
