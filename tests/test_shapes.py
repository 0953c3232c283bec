"""The offline shapes dataset: layout, determinism, labels, and creating it on first use."""
import filecmp
import json
import os

import numpy as np
import pytest
from PIL import Image

from minifcn.data import (
    SHAPE_CLASSES,
    ShapesSegmentation,
    boundary_void,
    default_data_root,
    draw_sample,
    ensure_shapes,
    load_dataset,
    make_shapes,
    voc_palette,
)
from minifcn.cli import main as cli_main
from minifcn.data import locations, shapes

SMALL = {"n_train": 5, "n_val": 3, "size": 48, "seed": 0}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return make_shapes(str(tmp_path_factory.mktemp("shapes")), **SMALL)


def _files(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


def test_voc_layout_and_file_formats(small):
    lists = os.path.join(small, "ImageSets", "Segmentation")
    train = open(os.path.join(lists, "train.txt")).read().split()
    val = open(os.path.join(lists, "val.txt")).read().split()
    assert train == [f"train_{i:05d}" for i in range(5)] and len(val) == 3
    assert open(os.path.join(lists, "trainval.txt")).read().split() == train + val
    assert open(os.path.join(small, "classes.txt")).read().split() == list(SHAPE_CLASSES)
    assert json.load(open(os.path.join(small, "shapes.json"))) == SMALL
    assert len(_files(small)) == 2 * 8 + 3 + 2  # a .jpg and a .png per image, 3 lists, 2 files
    with Image.open(os.path.join(small, "JPEGImages", val[0] + ".jpg")) as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (48, 48)
    with Image.open(os.path.join(small, "SegmentationClass", val[0] + ".png")) as label:
        assert label.mode == "P"
        palette = np.frombuffer(label.palette.tobytes(), np.uint8).reshape(-1, 3)
        np.testing.assert_array_equal(palette[:21], voc_palette(21))


def test_read_back_through_the_dataset_classes(small):
    for ds in (ShapesSegmentation(small, "val"), load_dataset(small, "val")):
        assert ds.class_names == SHAPE_CLASSES and ds.n_class == 5 and len(ds) == 3
        image, label = ds[2]
        assert image.shape == (48, 48, 3) and label.shape == (48, 48)
        assert set(np.unique(label)) <= {0, 1, 2, 3, 4, 255}
        # an object and its border
        assert (label == 255).any() and ((label >= 1) & (label <= 4)).any()


def test_same_arguments_same_bytes(small, tmp_path):
    again = make_shapes(str(tmp_path / "again"), **SMALL)
    names = _files(small)
    assert names == _files(again)
    match, mismatch, errors = filecmp.cmpfiles(small, again, names, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(names)
    # image i depends only on (seed, split, i): fewer images are a prefix of more
    fewer = make_shapes(str(tmp_path / "fewer"), n_train=2, n_val=1, size=48, seed=0)
    assert filecmp.cmp(os.path.join(small, "JPEGImages", "train_00001.jpg"),
                       os.path.join(fewer, "JPEGImages", "train_00001.jpg"), shallow=False)
    other = make_shapes(str(tmp_path / "other"), n_train=2, n_val=1, size=48, seed=1)
    assert not filecmp.cmp(os.path.join(small, "JPEGImages", "train_00000.jpg"),
                           os.path.join(other, "JPEGImages", "train_00000.jpg"), shallow=False)


def test_boundary_void_by_hand():
    label = np.zeros((8, 8), np.int32)
    label[2:6, 2:6] = 1
    expected = np.zeros((8, 8), np.int32)
    expected[1:7, 1:7] = 255  # one pixel either side of the square's outline
    expected[3:5, 3:5] = 1  # the inside that is more than a pixel from the outline
    np.testing.assert_array_equal(boundary_void(label, 1), expected)
    # the image border is not a boundary
    corner = np.zeros((6, 6), np.int32)
    corner[:3, :3] = 2
    expected = np.zeros((6, 6), np.int32)
    expected[:4, :4] = 255
    expected[:2, :2] = 2
    np.testing.assert_array_equal(boundary_void(corner, 1), expected)
    # width 2: a band 4 pixels wide
    label = np.zeros((12, 12), np.int32)
    label[3:9, 3:9] = 3
    expected = np.zeros((12, 12), np.int32)
    expected[1:11, 1:11] = 255
    expected[5:7, 5:7] = 3
    np.testing.assert_array_equal(boundary_void(label, 2), expected)


def test_labels_have_void_between_any_two_classes():
    rng = np.random.default_rng(5)
    for _ in range(10):
        _, label = draw_sample(rng, 64)
        padded = np.pad(label, 1, mode="edge")
        for dy in range(3):
            for dx in range(3):
                other = padded[dy:dy + 64, dx:dx + 64]
                touching = (other != label) & (other != 255) & (label != 255)
                assert not touching.any()  # two classes never meet without void between them
        assert 0 < (label == 255).mean() < 0.3


def test_shapes_are_distinct_and_have_the_planned_areas():
    masks = {}
    for kind in SHAPE_CLASSES[1:]:
        masks[kind] = shapes.shape_mask(kind, 96, 48, 48, 30, 0.3)
        assert masks[kind].sum() == pytest.approx(shapes._area(kind, 30), rel=0.03)
        ys, xs = np.nonzero(masks[kind])
        assert abs(ys.mean() - 48) < 1.5 and abs(xs.mean() - 48) < 1.5  # centred
    kinds = list(masks)
    for i, a in enumerate(kinds):
        for b in kinds[i + 1:]:
            assert (masks[a] != masks[b]).sum() > 200, (a, b)
    with pytest.raises(ValueError, match="'hexagon'"):
        shapes.shape_mask("hexagon", 8, 4, 4, 2, 0)


def test_class_is_shape_not_colour():
    # every class turns up, in many colours: the mean colour of a class varies between images
    rng = np.random.default_rng(0)
    colours = {c: [] for c in range(1, 5)}
    for _ in range(40):
        image, label = draw_sample(rng, 64)
        for c in colours:
            if (label == c).sum() > 20:
                colours[c].append(image[label == c].mean(axis=0))
    for c, seen in colours.items():
        assert len(seen) >= 5, SHAPE_CLASSES[c]
        assert np.std(seen, axis=0).mean() > 30, SHAPE_CLASSES[c]


def test_ensure_shapes_creates_once(tmp_path, monkeypatch):
    root = str(tmp_path / "data" / "shapes")
    assert ensure_shapes(root, **SMALL) == root
    assert len(ShapesSegmentation(root, "train")) == 5
    assert os.listdir(tmp_path / "data") == ["shapes"]  # the temporary folder is gone
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(root).st_mode & 0o777 == 0o777 & ~umask  # an ordinary folder, not a private one

    def fail(*args, **kwargs):
        raise AssertionError("regenerated an existing dataset")

    monkeypatch.setattr(locations, "make_shapes", fail)
    assert ensure_shapes(root) == root
    assert ensure_shapes(root, n_train=5) == root
    with pytest.raises(ValueError, match="n_train: 5 there, 7 asked"):
        ensure_shapes(root, n_train=7)


def test_ensure_shapes_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="classes.txt"):
        ensure_shapes(str(tmp_path / "mine"), **SMALL)
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]
    (tmp_path / "empty").mkdir()  # an empty folder is fine
    assert len(ShapesSegmentation(ensure_shapes(str(tmp_path / "empty"), **SMALL), "val")) == 3


def test_default_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIFCN_DATA", str(tmp_path / "elsewhere"))
    assert default_data_root() == str(tmp_path / "elsewhere")
    monkeypatch.delenv("MINIFCN_DATA")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(locations.__file__))))
    if os.path.isdir(os.path.join(repo, "data")) and os.path.isfile(os.path.join(repo, "setup.py")):
        assert default_data_root() == os.path.join(repo, "data", "shapes")
    # an installed package (no data/ folder beside it) uses the user's cache
    monkeypatch.setattr(locations, "__file__",
                        str(tmp_path / "site" / "minifcn" / "data" / "locations.py"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_root() == str(tmp_path / "home" / ".cache" / "minifcn" / "shapes")


def test_make_data_command(tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert cli_main(["make-data", out, "--n-train", "4", "--n-val", "2", "--size", "40",
                     "--seed", "3"]) == 0
    assert out in capsys.readouterr().out
    ds = ShapesSegmentation(out, "train")
    assert len(ds) == 4 and ds[3][0].shape == (40, 40, 3)
    assert len(ShapesSegmentation(out, "val")) == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        make_shapes("/nonexistent-never-written", n_train=1, n_val=1, size=8)
    with pytest.raises(TypeError, match="n_trian"):
        ensure_shapes("/nonexistent-never-written", n_trian=3)
