"""Segment an image: RGB pixels in, a class per pixel out.

The image is preprocessed in the model's input convention ('caffe' or 'torchvision', see
``minifcn.data.transforms``), run once through the network in eval mode (dropout off) without
caches (``no_grad``), on the model's device; the results come back as NumPy arrays. Any image size
works: an FCN's scores always have the input's height and width.
"""
from contextlib import contextmanager

import numpy as np

from . import backend
from .nn import no_grad


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
    with inference(model):
        return model(x)


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
