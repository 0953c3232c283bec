"""Masks as users draw them → label maps of class indices (what ``minifcn prepare`` reads).

A mask file comes in one of three kinds:

- an **index** mask: a palette ('P') or 8-bit grayscale ('L') PNG whose pixel values ARE the class
  indices (VOC's own labels; 255 = void, ignored by the loss and the metrics). A palette PNG
  whose palette paints its pixels in the classes file's colours, under other numbers (a paint
  program's indexed PNG), is read by those colours instead;
- a **binary** mask: grayscale, only 0 and 255, as most drawing tools export foreground masks.
  Read as indices its foreground would be VOC's "void" and the net would never learn it, so a
  data set whose grayscale masks are all 0/255 is read as background 0 / foreground 1 instead;
- an **RGB** mask: every class drawn in a colour of its own. The colours are matched exactly
  against a classes file of ``name R G B`` lines, whose order gives the class indices. The
  colour (224, 224, 192) (VOC's void colour), or any line named ``void``, means "ignore" (255)
  and takes no index.

Matching is exact: a mask saved as JPEG, or drawn with anti-aliased brushes, holds in-between
colours, and those are reported (file, colour, pixel count) rather than guessed.
"""
from typing import NamedTuple

import numpy as np

from .imagefile import ImageTooLarge, open_image
from .palette import VOID_INDEX
from ..textfile import read_lines
from .voc import drop_index_column, first_repeat, parse_class_line

VOID_COLOUR = (224, 224, 192)


class ClassSpec(NamedTuple):
    """A classes file: names in index order, their (R, G, B) colours (None if not given) and the
    colours that mean void."""
    names: tuple
    colours: tuple
    void_colours: frozenset


def read_class_spec(path):
    """Parse a classes file of ``name R G B`` lines (blank lines and ``#`` comments skipped; a
    byte-order mark and CRLF line ends are read; lines may open with their index, ``0 name``).

    Lines with a name only are allowed when no line has a colour (for index masks). Raises
    FileNotFoundError or ValueError naming the file and the line; a name or a colour used twice
    (a void line's included: its pixels would silently become void) names both lines.
    """
    lines = drop_index_column(read_lines(path, "classes file"), path, void_allowed=True)
    names, colours, voids = [], [], {VOID_COLOUR}
    seen_names, seen_colours = [], []                # [(line, key)], void lines' colours too
    for n, line in lines:
        name, colour = parse_class_line(line)
        if colour is not None and max(colour) > 255:
            raise ValueError(f"{path}:{n}: colour {colour} has a value over 255")
        if colour is not None:
            seen_colours.append((n, colour))
        if name.lower() == "void" or colour == VOID_COLOUR:
            voids.add(colour or VOID_COLOUR)
            continue
        seen_names.append((n, name))
        names.append(name)
        colours.append(colour)
    for entries, what, why in ((seen_names, "class", "a class needs one name"),
                               (seen_colours, "colour", "its pixels could not tell them apart")):
        repeat = first_repeat(entries)
        if repeat:
            key, first, second = repeat
            raise ValueError(f"{path}:{second}: {what} {key!r} is also on line {first}: {why}; "
                             f"give each line its own {'name' if what == 'class' else 'colour'}")
    if not names:
        raise ValueError(f"classes file {path} names no class (expected lines 'name R G B')")
    if len(names) > 255:
        raise ValueError(f"classes file {path} names {len(names)} classes; at most 255 fit")
    has = [c is not None for c in colours]
    if any(has) and not all(has):
        raise ValueError(f"classes file {path}: class {names[has.index(False)]!r} has no colour; "
                         f"give every class a colour 'name R G B', or none")
    return ClassSpec(tuple(names), tuple(colours) if all(has) else None, frozenset(voids))


def open_mask(path):
    """(kind, array, palette) of a mask file: kind 'index' (H, W) uint8 values, 'gray' the same
    from a grayscale file, or 'rgb' (H, W, 3) uint8; palette: the file's (256, 3) palette or None.

    Raises ValueError naming the file if it cannot be read or is not 8-bit label data.
    """
    try:
        with open_image(path, "mask") as image:
            image.load()
    except ImageTooLarge:
        raise
    except Exception as e:  # PIL raises several types for a broken file
        raise ValueError(f"cannot read mask {path}: {e}") from None
    if image.mode in ("LA", "RGBA", "PA"):
        alpha = np.asarray(image.getchannel("A"))
        if (alpha != 255).any():
            raise ValueError(f"mask {path} has {int((alpha != 255).sum())} transparent pixels; "
                             f"a mask must give every pixel a class (flatten it first)")
        image = image.convert({"LA": "L", "RGBA": "RGB", "PA": "P"}[image.mode])
    if image.mode == "P":
        pal = np.zeros(768, dtype=np.uint8)
        raw = np.frombuffer(bytes(image.getpalette() or b""), dtype=np.uint8)[:768]
        pal[:raw.size] = raw
        return "index", np.asarray(image, dtype=np.uint8), pal.reshape(256, 3)
    if image.mode in ("1", "L"):
        return "gray", np.asarray(image.convert("L"), dtype=np.uint8), None
    if image.mode == "RGB":
        return "rgb", np.asarray(image, dtype=np.uint8), None
    raise ValueError(f"mask {path} has mode {image.mode!r} (16-bit, 32-bit or float data); a mask "
                     f"must be 8-bit index, grayscale or RGB data, which is never rescaled")


def is_binary(gray):
    """Whether a grayscale mask holds only 0 and 255."""
    return bool(np.isin(gray, (0, 255)).all())


def _check_indices(label, n_class, path):
    bad = (label >= n_class) & (label != VOID_INDEX)
    if bad.any():
        values, counts = np.unique(label[bad], return_counts=True)
        found = ", ".join(f"{v} ({c} px)" for v, c in zip(values[:5], counts[:5]))
        raise ValueError(f"mask {path} has values {found} outside the {n_class} classes "
                         f"0..{n_class - 1} and void {VOID_INDEX}")
    return label


def _pack(rgb):
    """(..., 3) uint8 colours → one int per colour, 0xRRGGBB."""
    rgb = np.asarray(rgb, dtype=np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def rgb_to_label(rgb, spec, path):
    """(H, W, 3) colours → (H, W) uint8 indices by the classes file; void colours → 255.

    A colour the file does not name is a ValueError naming the file, the colour and its pixels.
    """
    packed = _pack(rgb)
    colours, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    table = {int(c): i for i, c in enumerate(_pack(np.array(spec.colours)).tolist())}
    table.update({int(c): VOID_INDEX for c in _pack(np.array(sorted(spec.void_colours)))})
    unknown = [(n, c) for c, n in zip(colours.tolist(), counts.tolist()) if c not in table]
    if unknown:
        unknown.sort(reverse=True)
        shown = ", ".join(f"({c >> 16}, {(c >> 8) & 255}, {c & 255}): {n} px"
                          for n, c in unknown[:5])
        more = f" and {len(unknown) - 5} more colours" if len(unknown) > 5 else ""
        raise ValueError(f"mask {path} has colours that are not in the classes file: "
                         f"{shown}{more}")
    lut = np.array([table[c] for c in colours.tolist()], dtype=np.uint8)
    return lut[inverse.reshape(packed.shape)]


def palette_by_colour(array, palette, spec):
    """Whether a palette mask should be read by its colours: the classes file gives colours, and
    every index used in the mask has one of them (or a void colour) in the mask's palette, while
    not every used index is already that colour's class. (A paint program's indexed PNG numbers
    its colours as it likes; VOC-style masks, whose values are the classes, stay indices.)"""
    if spec is None or spec.colours is None or palette is None:
        return False
    used = np.flatnonzero(np.bincount(array.ravel(), minlength=256))
    colours = [tuple(int(v) for v in palette[i]) for i in used]
    known = set(spec.colours) | set(spec.void_colours)
    if not all(c in known for c in colours):
        return False
    as_index = all((i == VOID_INDEX and c in spec.void_colours)
                   or (i < len(spec.colours) and spec.colours[i] == c)
                   for i, c in zip(used.tolist(), colours))
    return not as_index


def mask_to_label(kind, array, path, spec=None, binary=False, palette=None):
    """A mask of ``open_mask``'s kind → (H, W) uint8 label map (0..n_class-1, 255 = void).

    spec: the classes file (``read_class_spec``), needed for RGB masks; binary: read grayscale
    0/255 as background 0 / foreground 1 (``prepare`` decides it for the whole data set);
    palette: a palette mask's own palette, to read it by colour (``palette_by_colour``).
    """
    n_class = len(spec.names) if spec is not None else VOID_INDEX
    if kind == "index" and palette_by_colour(array, palette, spec):
        return rgb_to_label(palette[array], spec, path)
    if kind == "rgb":
        if spec is None or spec.colours is None:
            if (array == array[..., :1]).all():       # gray saved as RGB
                return mask_to_label("gray", array[..., 0], path, spec, binary)
            raise ValueError(f"mask {path} is an RGB image: give a classes file of 'name R G B' "
                             f"lines (--classes FILE) so its colours can be read as classes")
        return rgb_to_label(array, spec, path)
    if kind == "gray" and binary:
        return (array == 255).astype(np.uint8)
    return _check_indices(array, n_class, path)
