"""Opening an image file, with Pillow's refusals turned into errors that name the file.

Pillow refuses an image of more than twice ``PIL.Image.MAX_IMAGE_PIXELS`` pixels (about 179
million) as a possible decompression bomb, and only warns between once and twice the limit; its
message names no file. ``open_image`` refuses both, naming the file, its size and the limit,
from the header, before any pixel is decoded.
"""
import warnings

from PIL import Image


class ImageTooLarge(ValueError):
    """An image over Pillow's size limit (the message names the file)."""


def open_image(path, what="image"):
    """``Image.open(path)``, or ``ImageTooLarge`` naming ``what`` and ``path`` for an image over
    Pillow's size limit (the caller loads it, in a ``with`` block)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            size = _size_in(str(e))
            raise ImageTooLarge(f"{what} {path} is too large{size}: over Pillow's limit of "
                             f"{Image.MAX_IMAGE_PIXELS:,} pixels, which guards against "
                             f"decompression bombs. Shrink it, or if you trust the file raise "
                             f"PIL.Image.MAX_IMAGE_PIXELS") from None


def _size_in(message):
    """' (N pixels)' from Pillow's message, or ''."""
    words = message.replace("(", " ").replace(")", " ").split()
    for a, b in zip(words, words[1:]):
        if b.startswith("pixels") and a.isdigit():
            return f" ({int(a):,} pixels)"
    return ""
