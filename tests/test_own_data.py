"""docs/own-data.md end to end: RGB-mask photos in a colour scheme of their own → prepare → train
from scratch → eval → predict in the dataset's own colours. Tiny images, a few iterations."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minifcn import io
from minifcn.cli import main
from minifcn.data import load_dataset, prepare, read_image, read_label_png
from minifcn.data.weights import class_pixel_counts, median_frequency_weights
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


def test_prepare_train_eval_predict(orchard_dir, tmp_path, capsys):
    """The guide's commands, through the command line."""
    data, run, pred = tmp_path / "orchard", tmp_path / "run", tmp_path / "pred"
    assert main(["prepare", "--images", str(orchard_dir / "photos"), "--masks",
                 str(orchard_dir / "masks"), "--classes", str(orchard_dir / "classes.txt"),
                 "--out", str(data), "--val-fraction", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "fruit" in printed and "8 train + 2 val images, 3 classes" in printed
    assert main(["train", "--data", str(data), "--iterations", "60", "--eval-every", "30",
                 "--base-channels", "4", "--fc-channels", "16", "--out", str(run),
                 "--progress", "false"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["pred_share"]) == {"soil", "tree", "fruit"}
    # each share is rounded to 6 decimals (minifcn.evaluate): their sum is 1 within 3 × 5e-7
    assert sum(metrics["pred_share"].values()) == pytest.approx(1, abs=2e-6)
    capsys.readouterr()
    checkpoint = str(run / "checkpoint.npz")
    assert main(["eval", "--checkpoint", checkpoint, "--data", str(data)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["acc"] > 0.8, scores                  # colour alone separates the classes
    assert scores["collapse"] is None
    photo = str(orchard_dir / "photos" / "tree09.jpg")
    assert main(["predict", "--checkpoint", checkpoint, "--out", str(pred), photo]) == 0
    labels = read_label_png(pred / "tree09.png")
    np.testing.assert_array_equal(labels, predict(io.load(checkpoint), read_image(photo)))
    drawn = np.asarray(Image.open(pred / "tree09.png").convert("RGB"))
    np.testing.assert_array_equal(drawn, MASK_COLOURS[labels])  # the user's colours, not VOC's
    assert main(["predict", "--checkpoint", checkpoint, "--out", str(pred / "small"),
                 "--max-size", "16", photo]) == 0
    assert read_label_png(pred / "small" / "tree09.png").shape == (SIZE, SIZE)


def test_class_weight_auto_is_computed_once_and_saved(orchard_dir, tmp_path, capsys):
    data = tmp_path / "orchard"
    prepare(orchard_dir / "photos", orchard_dir / "masks", data,
            classes=orchard_dir / "classes.txt", val_fraction=0.2, verbose=False)
    assert main(["train", "--data", str(data), "--iterations", "2", "--eval-every", "0",
                 "--base-channels", "2", "--fc-channels", "4", "--out", str(tmp_path / "run"),
                 "--progress", "false", "--class-weight", "auto"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    expected = median_frequency_weights(*class_pixel_counts(load_dataset(str(data), "train")))
    assert config["class_weight"] == "auto"
    np.testing.assert_allclose(config["class_weights"], expected)
    assert expected[2] > 2 * expected[1]                # fruit is rare: weighed up
    assert "class weights: soil" in capsys.readouterr().err
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run2"),
                 "--class-weight", str(tmp_path / "missing.txt")]) == 2
    assert "must be none, auto or a file of class weights" in capsys.readouterr().err
    assert not (tmp_path / "run2").exists()


def test_a_collapsed_run_warns_with_causes_and_flags(orchard_dir, tmp_path, capsys):
    data = tmp_path / "orchard"
    prepare(orchard_dir / "photos", orchard_dir / "masks", data,
            classes=orchard_dir / "classes.txt", val_fraction=0.2, verbose=False)
    # far too high a rate for the summed loss: the net ends up predicting one class
    main(["train", "--data", str(data), "--iterations", "4", "--eval-every", "2",
          "--base-channels", "2", "--fc-channels", "4", "--out", str(tmp_path / "run"),
          "--progress", "false", "--lr", "0.5", "--reduction", "sum"])
    err = capsys.readouterr().err
    assert "warning: the predictions collapsed to" in err and "--reduction" in err


@pytest.mark.parametrize("flags,message", [
    (["--max-size", "0"], "--max-size must be ≥ 1"),
    (["--overlap", "64"], "give --tile too"),
    (["--tile", "100"], "--tile (100) must exceed --overlap (128) by at least 32"),
])
def test_predict_flags_are_checked_before_anything_is_written(tmp_path, capsys, flags, message):
    photo = tmp_path / "p.jpg"
    Image.fromarray(orchard(0)[0]).save(photo)
    assert main(["predict", "--checkpoint", str(tmp_path / "none.npz"), "--out",
                 str(tmp_path / "pred"), str(photo), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "pred").exists()


def test_init_from_a_model_with_other_classes_says_what_it_reinitialised(orchard_dir, tmp_path,
                                                                         capsys):
    from minifcn.models import FCN8s
    data = tmp_path / "orchard"
    prepare(orchard_dir / "photos", orchard_dir / "masks", data,
            classes=orchard_dir / "classes.txt", val_fraction=0.2, verbose=False)
    io.save(FCN8s(n_class=21, base_channels=2, fc_channels=4), str(tmp_path / "voc.npz"))
    assert main(["train", "--data", str(data), "--init", str(tmp_path / "voc.npz"),
                 "--iterations", "1", "--eval-every", "0", "--base-channels", "2",
                 "--fc-channels", "4", "--out", str(tmp_path / "run"), "--progress",
                 "false"]) == 0
    assert "re-initialised for this model's classes: score_fr" in capsys.readouterr().err
    model = io.load(str(tmp_path / "run" / "checkpoint.npz"))
    assert model.class_names == ["soil", "tree", "fruit"]
    assert model.class_colors == [list(c) for c in MASK_COLOURS.tolist()]
