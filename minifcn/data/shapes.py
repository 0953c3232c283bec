"""An offline segmentation dataset of random shapes, written in the VOC layout.

Real VOC is 2 GB and needs days of GPU time; this one is generated in seconds and a small FCN
learns it on a laptop CPU. It is built so that a network has to do what it does on VOC:

- the classes differ by **shape** (circle, square, triangle, cross), not by colour: every object
  gets a random colour and texture (solid, gradient, stripes, noise, blobs), so a per-pixel
  colour classifier cannot solve it; the net must look at a neighbourhood;
- sizes, positions and tilts (up to 25°) are random, the background is textured too, and 1–3
  objects overlap, later ones hiding part of earlier ones (each keeps 75% of itself visible);
- like VOC, a thin band of "void" (255) runs along every boundary, which the loss and the metrics
  ignore, so the exact boundary pixel (blurred by JPEG) does not count.

Files: ``JPEGImages/<id>.jpg`` (quality 90), ``SegmentationClass/<id>.png`` (palette PNG, VOC
colours), ``ImageSets/Segmentation/{train,val,trainval}.txt``, ``classes.txt``, and
``shapes.json`` (the arguments it was made with). Read it with ``ShapesSegmentation`` or
``load_dataset``; where it lives by default, and how it is made on first use, is
``minifcn.data.locations``. Image i of a split depends only on (seed, split, i): the same
arguments give the same bytes, and a bigger n_train only adds images.
"""
import json
import os

import numpy as np
from PIL import Image

from .palette import VOID_INDEX, save_label_png
from .voc import CLASSES_FILE

SHAPE_CLASSES = ("background", "circle", "square", "triangle", "cross")
DEFAULTS = {"n_train": 1000, "n_val": 100, "size": 64, "seed": 0}
META_FILE = "shapes.json"
SPLIT_CODES = {"train": 0, "val": 1}  # a separate random stream per split

# Geometry at radius 1, chosen so the four shapes cover similar areas (π, 2.56, 1.87, 2.15) and
# area alone does not give the class away. Radii are a fraction of the image size.
SQUARE_HALF_SIDE = 0.8
TRIANGLE_CIRCUMRADIUS = 1.2
CROSS_HALF_WIDTH = 0.32  # arms ≥ 7 px wide at the smallest radius: they survive their void border
# The knobs below set how hard the task is. They were tuned so that a small FCN-8s trained from
# scratch learns it in minutes of CPU time: full rotations, 8 px shapes or 4 objects with heavy
# occlusion made it markedly slower to learn.
RADIUS_RANGE = (0.18, 0.36)  # 11.5–23 px at size 64
MAX_OBJECTS = 3
MAX_ROTATION = 25.0  # degrees either way: shapes stay near upright, so a square is not a diamond
MIN_COLOUR_DISTANCE = 100.0  # RGB distance between an object and what lies around it
MIN_VISIBLE = 0.75  # every object keeps this fraction of its pixels when later ones overlap it
OBJECT_CONTRAST = 40.0  # how far a texture's second colour may be from its base, per channel
BACKGROUND_CONTRAST = 60.0


def shape_mask(kind, size, cy, cx, radius, angle):
    """(size, size) bool mask of one shape centred at (cy, cx), rotated by ``angle`` radians."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    cos, sin = np.cos(angle), np.sin(angle)
    # pixel coordinates in the shape's own frame, in units of its radius
    u = ((xx - cx) * cos + (yy - cy) * sin) / radius
    v = (-(xx - cx) * sin + (yy - cy) * cos) / radius
    if kind == "circle":
        return u * u + v * v <= 1.0
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE
    if kind == "triangle":
        # equilateral: inside the three edges, each at the inradius (half the circumradius)
        inside = np.ones((size, size), dtype=bool)
        for k in range(3):
            a = np.pi / 2 + 2 * np.pi * k / 3
            inside &= u * np.cos(a) + v * np.sin(a) <= TRIANGLE_CIRCUMRADIUS / 2
        return inside
    if kind == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= CROSS_HALF_WIDTH) & (av <= 1.0)) | ((av <= CROSS_HALF_WIDTH) & (au <= 1.0))
    raise ValueError(f"unknown shape {kind!r}: expected one of {SHAPE_CLASSES[1:]}")


def texture(rng, size, colour, contrast):
    """(size, size, 3) float image around a base colour: solid, gradient, stripes, noise or blobs.

    The second colour lies within ``contrast`` of the base in each channel, so the texture's mean
    stays near ``colour`` and the colour test in ``draw_sample`` means something.
    """
    colour = np.asarray(colour, dtype=np.float64)
    other = np.clip(colour + rng.uniform(-contrast, contrast, size=3), 0, 255)
    kind = rng.choice(["solid", "gradient", "stripes", "noise", "blobs"])
    yy, xx = np.mgrid[0:size, 0:size] / size
    if kind == "solid":
        mix = np.zeros((size, size))
    elif kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(a) + yy * np.sin(a)
        mix = (t - t.min()) / (t.max() - t.min())
    elif kind == "stripes":
        a, period = rng.uniform(0, np.pi), rng.uniform(4, 10) / size
        phase = rng.uniform(0, 2 * np.pi)
        mix = (np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period + phase) > 0) * 1.0
    elif kind == "noise":  # gray noise, per pixel
        noise = rng.normal(0, contrast / 3, size=(size, size, 1))
        return np.clip(colour + noise, 0, 255) * np.ones(3)
    else:  # blobs: a coarse random grid, smoothly upsampled
        coarse = (rng.random((4, 4)) * 255).astype(np.uint8)
        mix = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR)) / 255.0
    return colour + mix[..., None] * (other - colour)


def boundary_void(label, width=1):
    """Label map with 255 on every pixel that has a different label within ``width`` pixels.

    That is a band 2·width pixels wide along every boundary (width on each side), like the void
    outline of VOC's objects. The image border does not count as a boundary.
    """
    height, w = label.shape
    padded = np.pad(label, width, mode="edge")
    near_other = np.zeros(label.shape, dtype=bool)
    for dy in range(2 * width + 1):
        for dx in range(2 * width + 1):
            near_other |= padded[dy:dy + height, dx:dx + w] != label
    out = label.copy()
    out[near_other] = VOID_INDEX
    return out


def _area(kind, radius):
    """Area in pixels of a shape of this radius (unclipped), to spot shapes cut off by the
    border."""
    unit = {
        "circle": np.pi,
        "square": (2 * SQUARE_HALF_SIDE) ** 2,
        "triangle": 3 * np.sqrt(3) / 4 * TRIANGLE_CIRCUMRADIUS ** 2,
        "cross": 2 * (4 * CROSS_HALF_WIDTH) - (2 * CROSS_HALF_WIDTH) ** 2,
    }[kind]
    return unit * radius * radius


def _dilate(mask, r):
    """Grow a bool mask by r pixels (a (2r+1)² square neighbourhood)."""
    padded = np.pad(mask, r)
    h, w = mask.shape
    out = np.zeros_like(mask)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= padded[dy:dy + h, dx:dx + w]
    return out


def _far_from(colour, others):
    return all(np.linalg.norm(colour - o) >= MIN_COLOUR_DISTANCE for o in others)


def _place(rng, size, owner, areas):
    """Try up to 10 random shapes; return (class index, mask) of the first that fits, or None.

    A shape fits if most of it lies inside the image and every object already drawn (owner[p] = k
    on its visible pixels, areas[k] its full area) keeps MIN_VISIBLE of its pixels.
    """
    for _attempt in range(10):
        cls = int(rng.integers(1, len(SHAPE_CLASSES)))
        kind = SHAPE_CLASSES[cls]
        radius = rng.uniform(*RADIUS_RANGE) * size
        cy, cx = rng.uniform(0.6 * radius, size - 0.6 * radius, size=2)
        angle = np.deg2rad(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
        mask = shape_mask(kind, size, cy, cx, radius, angle)
        if mask.sum() < 0.7 * _area(kind, radius):
            continue  # mostly outside the image
        if all(((owner == k) & ~mask).sum() >= MIN_VISIBLE * area for k, area in enumerate(areas)):
            return cls, mask
    return None


def draw_sample(rng, size=64, void_width=None, max_objects=MAX_OBJECTS):
    """One random image and its label: ((size, size, 3) uint8 RGB, (size, size) int32).

    rng: a numpy Generator. void_width: half-width of the void band, default size // 64 (≥ 1).
    """
    if void_width is None:
        void_width = max(1, size // 64)
    bg_colour = rng.uniform(0, 255, size=3)
    image = texture(rng, size, bg_colour, BACKGROUND_CONTRAST)
    label = np.zeros((size, size), dtype=np.int32)
    owner = np.full((size, size), -1)  # which object each pixel shows, -1 = background
    areas, colours = [], []
    for _ in range(rng.integers(1, max_objects + 1)):
        placed = _place(rng, size, owner, areas)
        if placed is None:
            continue  # no room left for another object
        cls, mask = placed
        # a colour that stands out against the background and every object it touches
        touching = np.unique(owner[_dilate(mask, 2)])
        neighbours = [bg_colour] + [colours[k] for k in touching if k >= 0]
        colour = rng.uniform(0, 255, size=3)
        for _try in range(20):
            if _far_from(colour, neighbours):
                break
            colour = rng.uniform(0, 255, size=3)
        image[mask] = texture(rng, size, colour, OBJECT_CONTRAST)[mask]
        label[mask] = cls
        owner[mask] = len(areas)
        areas.append(mask.sum())
        colours.append(colour)
    image = image + rng.normal(0, rng.uniform(0, 8), size=image.shape)  # sensor noise
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return image, boundary_void(label, void_width)


def make_shapes(root, n_train=DEFAULTS["n_train"], n_val=DEFAULTS["n_val"], size=DEFAULTS["size"],
                seed=DEFAULTS["seed"], progress=False):
    """Write the shapes dataset into ``root`` (created if needed) in the VOC layout; return root.

    Ids are ``train_00000``… and ``val_00000``…; ``trainval`` lists both. Existing files of the
    same names are overwritten. ``locations.ensure_shapes`` is the safe way to create it on first
    use.
    """
    if n_train < 1 or n_val < 1:
        raise ValueError(f"make_shapes: n_train and n_val must be ≥ 1, got {n_train} and {n_val}")
    if size < 32:
        raise ValueError(f"make_shapes: size must be ≥ 32 pixels, got {size}")
    root = os.path.expanduser(os.fspath(root))
    image_dir = os.path.join(root, "JPEGImages")
    label_dir = os.path.join(root, "SegmentationClass")
    list_dir = os.path.join(root, "ImageSets", "Segmentation")
    for folder in (image_dir, label_dir, list_dir):
        os.makedirs(folder, exist_ok=True)
    ids = {}
    for split, count in (("train", n_train), ("val", n_val)):
        ids[split] = [f"{split}_{i:05d}" for i in range(count)]
        for i, image_id in enumerate(ids[split]):
            # one stream per image: image i is the same whatever n_train and n_val are
            image, label = draw_sample(np.random.default_rng([seed, SPLIT_CODES[split], i]), size)
            Image.fromarray(image).save(os.path.join(image_dir, image_id + ".jpg"), quality=90,
                                        subsampling=0)
            save_label_png(os.path.join(label_dir, image_id + ".png"), label)
            if progress and (i + 1) % 100 == 0:
                print(f"  {split}: {i + 1}/{count}")
    ids["trainval"] = ids["train"] + ids["val"]
    for split, split_ids in ids.items():
        with open(os.path.join(list_dir, split + ".txt"), "w", encoding="utf-8") as f:
            f.write("".join(i + "\n" for i in split_ids))
    with open(os.path.join(root, CLASSES_FILE), "w", encoding="utf-8") as f:
        f.write("".join(name + "\n" for name in SHAPE_CLASSES))
    meta = {"n_train": n_train, "n_val": n_val, "size": size, "seed": seed}
    with open(os.path.join(root, META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    return root
