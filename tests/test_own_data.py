"""docs/own-data.md end to end: RGB-mask photos in a colour scheme of their own → prepare → train
from scratch → eval → predict in the dataset's own colours. Tiny images, a few iterations."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minifcn import evaluate, io, train
from minifcn.data import label_palette, load_dataset, prepare, read_image
from minifcn.data.palette import save_label_png
from minifcn.predict import predict

# An orchard scheme: the photo's colour gives the class away, so a few iterations learn it.
CLASSES = "soil 120 80 40\ntree 0 100 0\nfruit 250 200 0\nvoid 255 255 255\n"
MASK_COLOURS = np.array([(120, 80, 40), (0, 100, 0), (250, 200, 0)], dtype=np.uint8)
PHOTO_COLOURS = np.array([(150, 110, 70), (40, 160, 40), (230, 60, 50)], dtype=np.uint8)
SIZE = 32


def orchard(i, size=SIZE):
    """(photo, RGB mask): soil below, a tree above, 1-2 round fruits, a white void top row."""
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[:size, :size] * (32 / size)        # drawn on a 32-unit canvas
    label = np.where(yy > rng.integers(18, 24), 0, 1)
    for _ in range(rng.integers(1, 3)):
        cy, cx, r = rng.integers(6, 16), rng.integers(6, 26), rng.integers(3, 6)
        label[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 2
    photo = PHOTO_COLOURS[label] + rng.integers(-20, 21, (size, size, 3))
    mask = MASK_COLOURS[label]
    mask[0] = 255
    return np.clip(photo, 0, 255).astype(np.uint8), mask


def write_orchard(root, n=10, size=SIZE):
    """photos/*.jpg, masks/*.png (RGB) and classes.txt under ``root`` (docs/own-data.md uses
    ``write_orchard("orchard", n=40, size=64)``)."""
    root = Path(root)
    (root / "photos").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        photo, mask = orchard(i, size)
        Image.fromarray(photo).save(root / "photos" / f"tree{i:02d}.jpg", quality=95)
        Image.fromarray(mask).save(root / "masks" / f"tree{i:02d}.png")
    (root / "classes.txt").write_text(CLASSES)
    return root


@pytest.fixture(scope="module")
def orchard_dir(tmp_path_factory):
    return write_orchard(tmp_path_factory.mktemp("orchard") / "o")


def test_prepare_train_eval_predict(orchard_dir, tmp_path):
    data = tmp_path / "orchard"
    report = prepare(orchard_dir / "photos", orchard_dir / "masks", data,
                     classes=orchard_dir / "classes.txt", val_fraction=0.2, verbose=False)
    assert report["names"] == ["soil", "tree", "fruit"] and len(report["val"]) == 2
    result = train(data=str(data), iterations=60, eval_every=30, base_channels=4, fc_channels=16,
                   out=str(tmp_path / "run"), progress=False, seed=0)
    assert result["metrics"]["iteration"] == 60
    model = io.load(str(tmp_path / "run" / "checkpoint.npz"))
    assert model.class_names == ["soil", "tree", "fruit"]
    val = load_dataset(str(data), "val")
    scores = evaluate(model, val)
    assert scores["acc"] > 0.8, scores                  # colour alone separates the classes
    photo = read_image(str(orchard_dir / "photos" / "tree09.jpg"))
    labels = predict(model, photo)
    assert labels.shape == (SIZE, SIZE) and set(np.unique(labels)) <= {0, 1, 2}
    out = tmp_path / "tree09.png"
    save_label_png(str(out), labels, label_palette(val.class_colors))
    drawn = np.asarray(Image.open(out).convert("RGB"))
    np.testing.assert_array_equal(drawn, MASK_COLOURS[labels])  # the user's colours, not VOC's
