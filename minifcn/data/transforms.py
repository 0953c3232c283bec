"""Image → network input, and the two augmentations FCN training uses. All NumPy, on the host.

Two input conventions exist for VGG16, and weights trained with one give poor results with the
other (docs/fcn.md §9, item 6):

- 'caffe' (the FCN papers, the original VGG16 release): channels in BGR order, values on the
  0–255 scale, minus the per-channel ImageNet mean. No division by a standard deviation.
- 'torchvision' (PyTorch's VGG16): RGB, values scaled to 0–1, then ``(x - mean) / std``.

Data loading happens on the host; the training loop moves a finished batch to the device.
"""
import numpy as np

from ..conventions import INPUT_CONVENTIONS

# The ImageNet mean colour as uint8 RGB: what an image is padded with, so that padding becomes
# (close to) zero after preprocess under either convention.
MEAN_RGB = (123, 117, 104)


def _convention(name):
    if name not in INPUT_CONVENTIONS:
        raise ValueError(
            f"unknown input convention {name!r}: expected one of {tuple(INPUT_CONVENTIONS)}"
        )
    c = INPUT_CONVENTIONS[name]
    return c["order"] == "BGR", c["scale"], np.asarray(c["mean"]), np.asarray(c["std"])


def preprocess(image, convention="caffe", dtype=np.float32):
    """RGB image(s) → network input.

    image: (H, W, 3) or a batch (N, H, W, 3), uint8 (or any real dtype holding 0–255 values).
    Returns (3, H, W) or (N, 3, H, W) of ``dtype``, channels in the convention's order.
    """
    image = np.asarray(image)
    if image.ndim not in (3, 4) or image.shape[-1] != 3:
        raise ValueError(
            f"preprocess: expected an H×W×3 RGB image (or N×H×W×3), got shape {image.shape}"
        )
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise ValueError(f"preprocess: expected uint8 pixel values, got dtype {image.dtype}")
    bgr, scale, mean, std = _convention(convention)
    x = image.astype(np.float64)
    if bgr:
        x = x[..., ::-1]
    x = (x * scale - mean) / std
    return np.ascontiguousarray(np.moveaxis(x, -1, -3), dtype=dtype)  # HWC → CHW


def deprocess(x, convention="caffe"):
    """Inverse of ``preprocess``: (3, H, W) or (N, 3, H, W) → uint8 RGB (H, W, 3) or (N, H, W, 3).

    Values are rounded and clipped to 0..255, so it also turns an optimised input into a picture.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"deprocess: expected a 3×H×W input (or N×3×H×W), got shape {x.shape}")
    bgr, scale, mean, std = _convention(convention)
    x = (np.moveaxis(x, -3, -1) * std + mean) / scale
    if bgr:
        x = x[..., ::-1]
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _check_pair(image, label):
    if image.shape[:2] != label.shape:
        raise ValueError(f"image {image.shape} and label {label.shape} sizes differ")


def random_flip(image, label, rng):
    """Mirror image (H, W, 3) and label (H, W) left–right together with probability 1/2.

    rng: a numpy Generator (or a seed). Returns new contiguous arrays either way.
    """
    _check_pair(image, label)
    if np.random.default_rng(rng).random() < 0.5:
        image, label = image[:, ::-1], label[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(label)


def random_crop(image, label, size, rng, pad_label=255, pad_value=MEAN_RGB):
    """A random ``size`` window (int or (h, w)) of image (H, W, 3) and label (H, W).

    An image smaller than the window is first padded at the bottom and right: the image with
    ``pad_value`` (the mean colour, ≈ 0 after preprocess), the label with ``pad_label`` (255 =
    ignored, so the padding teaches the net nothing).
    """
    _check_pair(image, label)
    rng = np.random.default_rng(rng)
    crop_h, crop_w = (size, size) if np.isscalar(size) else size
    height, width = label.shape
    pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
    if pad_h or pad_w:
        padded = np.empty((height + pad_h, width + pad_w, image.shape[2]), dtype=image.dtype)
        padded[...] = np.asarray(pad_value, dtype=image.dtype)
        padded[:height, :width] = image
        image = padded
        label = np.pad(label, ((0, pad_h), (0, pad_w)), constant_values=pad_label)
        height, width = label.shape
    top = rng.integers(0, height - crop_h + 1)
    left = rng.integers(0, width - crop_w + 1)
    window = (slice(top, top + crop_h), slice(left, left + crop_w))
    return np.ascontiguousarray(image[window]), np.ascontiguousarray(label[window])


def make_batch(samples, convention="caffe", dtype=np.float32):
    """[(image (H, W, 3), label (H, W)), ...] → x (N, 3, H, W) ``dtype``, t (N, H, W) int32.

    All samples must have the same size (crop them first); ValueError lists the sizes otherwise.
    """
    samples = list(samples)
    if not samples:
        raise ValueError("make_batch: no samples")
    sizes = [label.shape for _, label in samples]
    if len(set(sizes)) > 1:
        raise ValueError(
            f"make_batch: samples have different sizes {sorted(set(sizes))}; "
            "crop them to one size"
        )
    images = np.stack([image for image, _ in samples])
    labels = np.stack([label for _, label in samples]).astype(np.int32)
    return preprocess(images, convention, dtype), labels
