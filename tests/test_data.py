"""VOC-layout datasets, SBD and the VOC palette, on tiny datasets written by the tests."""
import os
import sys

import numpy as np
import pytest
from PIL import Image

from minifcn.data import (
    VOC_CLASSES,
    SBDSegmentation,
    SegmentationDataset,
    VOCSegmentation,
    colorize,
    load_dataset,
    read_label_png,
    save_label_png,
    voc_palette,
)

IDS = ["2007_000001", "2007_000002", "2007_000003", "2008_000004", "2008_000005"]


def make_voc(tmp_path, ids=IDS, seg11valid=False):
    """tmp/VOCdevkit/VOC2012 with 6×8 images: ids[0] grayscale, ids[1] CMYK, the others RGB."""
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, image_id in enumerate(ids):
        rgb = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(rgb)
        if k == 0:
            image = image.convert("L")
        elif k == 1:
            image = image.convert("CMYK")
        image.save(voc / "JPEGImages" / f"{image_id}.jpg", quality=95)
        label = np.full((6, 8), k % 21, dtype=np.int32)
        label[0, :] = 255
        label[5, 7] = 20
        save_label_png(str(voc / "SegmentationClass" / f"{image_id}.png"), label)
    lists = voc / "ImageSets" / "Segmentation"
    (lists / "train.txt").write_text("".join(i + "\n" for i in ids[:3]))
    (lists / "val.txt").write_text("".join(i + "\n" for i in ids[3:]))
    (lists / "trainval.txt").write_text("".join(i + "\n" for i in ids))
    if seg11valid:
        (lists / "seg11valid.txt").write_text(ids[4] + "\n")
    return voc


# --- palette ----------------------------------------------------------------------------------

def test_voc_palette_known_colours():
    p = voc_palette()
    assert p.shape == (256, 3) and p.dtype == np.uint8
    known = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128),
             7: (128, 128, 128), 8: (64, 0, 0), 15: (192, 128, 128), 20: (0, 64, 128),
             255: (224, 224, 192)}
    for index, colour in known.items():
        assert tuple(p[index]) == colour, index
    assert len({tuple(c) for c in p}) == 256  # every index its own colour
    np.testing.assert_array_equal(voc_palette(21), p[:21])


def test_colorize():
    rgb = colorize(np.array([[0, 1], [15, 255]]))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[1, 0]) == (192, 128, 128) and tuple(rgb[1, 1]) == (224, 224, 192)
    with pytest.raises(ValueError, match="256"):
        colorize(np.array([256]))


def test_label_png_round_trip_keeps_indices(tmp_path):
    label = np.arange(256, dtype=np.int32).reshape(16, 16)
    path = str(tmp_path / "l.png")
    save_label_png(path, label)
    with Image.open(path) as image:
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image.convert("RGB"))[15, 15], (224, 224, 192))
    back = read_label_png(path)
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, label)
    assert os.listdir(tmp_path) == ["l.png"]  # no temporary file left behind


def test_label_png_accepts_L_and_rejects_RGB(tmp_path):
    Image.fromarray(np.full((3, 3), 7, np.uint8)).save(tmp_path / "gray.png")
    np.testing.assert_array_equal(read_label_png(str(tmp_path / "gray.png")), 7)
    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"rgb\.png.*'RGB'"):
        read_label_png(str(tmp_path / "rgb.png"))


# --- VOC --------------------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["VOC2012", "VOCdevkit", "parent"])
def test_voc_root_may_be_any_of_three_levels(tmp_path, level):
    voc = make_voc(tmp_path)
    root = {"VOC2012": voc, "VOCdevkit": voc.parent, "parent": tmp_path}[level]
    ds = VOCSegmentation(root, "train")
    assert ds.root == str(voc)
    assert ds.ids == IDS[:3] and len(ds) == 3


def test_voc_items(tmp_path):
    ds = VOCSegmentation(make_voc(tmp_path), "trainval")
    assert ds.class_names == VOC_CLASSES and len(VOC_CLASSES) == 21
    assert ds.class_names[0] == "background" and ds.class_names[20] == "tvmonitor"
    assert ds.n_class == 21 and ds.ignore_index == 255
    for k in range(len(ds)):
        image, label = ds[k]
        assert image.shape == (6, 8, 3) and image.dtype == np.uint8  # grayscale and CMYK → RGB
        assert label.shape == (6, 8) and label.dtype == np.int32
        assert (label[0] == 255).all() and label[5, 7] == 20 and label[3, 3] == k
    gray, _ = ds[0]
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])  # a gray image stays gray
    assert [lb[3, 3] for _, lb in ds] == list(range(5))  # iteration stops at the end


def test_seg11valid(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"seg11valid\.txt.*736"):
        VOCSegmentation(make_voc(tmp_path / "a"), "seg11valid")
    ds = VOCSegmentation(make_voc(tmp_path / "b", seg11valid=True), "seg11valid")
    assert ds.ids == [IDS[4]]


def test_subset_is_deterministic_and_keeps_order(tmp_path):
    voc = make_voc(tmp_path)
    a = VOCSegmentation(voc, "trainval", subset=3, seed=0).ids
    assert a == VOCSegmentation(voc, "trainval", subset=3, seed=0).ids
    assert len(a) == 3 and a == sorted(a, key=IDS.index)
    picks = {tuple(VOCSegmentation(voc, "trainval", subset=3, seed=s).ids) for s in range(10)}
    assert len(picks) > 1  # the seed matters
    with pytest.raises(ValueError, match=r"subset=9.*5"):
        VOCSegmentation(voc, "trainval", subset=9)


def test_missing_things_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        VOCSegmentation(tmp_path / "nowhere")
    voc = make_voc(tmp_path)
    with pytest.raises(ValueError, match="'test'"):
        VOCSegmentation(voc, "test")
    os.remove(voc / "ImageSets" / "Segmentation" / "val.txt")
    with pytest.raises(FileNotFoundError, match=r"val\.txt"):
        VOCSegmentation(voc, "val")
    os.remove(voc / "JPEGImages" / f"{IDS[0]}.jpg")
    os.remove(voc / "SegmentationClass" / f"{IDS[1]}.png")
    ds = VOCSegmentation(voc, "train")
    with pytest.raises(FileNotFoundError, match=f"{IDS[0]}.jpg"):
        ds[0]
    with pytest.raises(FileNotFoundError, match=f"{IDS[1]}.png"):
        ds[1]


def test_bad_files_are_named(tmp_path):
    voc = make_voc(tmp_path)
    ds = VOCSegmentation(voc, "train")
    (voc / "JPEGImages" / f"{IDS[0]}.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=f"{IDS[0]}.jpg"):
        ds[0]
    bad = np.ones((6, 8), np.int32)
    bad[2, 2], bad[3, 3] = 21, 40
    save_label_png(str(voc / "SegmentationClass" / f"{IDS[1]}.png"), bad)
    with pytest.raises(ValueError, match=rf"{IDS[1]}.png.*\[21, 40\]"):
        ds[1]
    save_label_png(str(voc / "SegmentationClass" / f"{IDS[2]}.png"), np.zeros((5, 8)))
    with pytest.raises(ValueError, match=rf"{IDS[2]}.png.*6×8.*5×8"):
        ds[2]


def test_load_dataset_reads_classes_txt(tmp_path):
    voc = make_voc(tmp_path)
    assert isinstance(load_dataset(tmp_path, "val"), VOCSegmentation)
    (voc / "classes.txt").write_text("\n".join(VOC_CLASSES[:10]) + "\n")
    ds = load_dataset(tmp_path, "val")
    assert type(ds) is SegmentationDataset
    assert ds.class_names == VOC_CLASSES[:10] and ds.n_class == 10
    with pytest.raises(ValueError, match=r"\[20\]"):  # 20 is no longer a class
        ds[0]


# --- SBD --------------------------------------------------------------------------------------

def make_sbd(tmp_path):
    """tmp/benchmark_RELEASE/dataset with two images and GTcls .mat labels."""
    sio = pytest.importorskip("scipy.io")
    dataset = tmp_path / "benchmark_RELEASE" / "dataset"
    (dataset / "img").mkdir(parents=True)
    (dataset / "cls").mkdir()
    for k, image_id in enumerate(["2008_000002", "2008_000003"]):
        Image.fromarray(np.full((5, 4, 3), 100, np.uint8)).save(dataset / "img" / f"{image_id}.jpg")
        seg = np.full((5, 4), k + 1, np.uint8)
        seg[0, 0] = 0
        gt = {"Segmentation": seg, "Boundaries": np.zeros((1, 1)), "CategoriesPresent": k + 1}
        sio.savemat(dataset / "cls" / f"{image_id}.mat", {"GTcls": gt})
    (dataset / "train.txt").write_text("2008_000002\n2008_000003\n")
    (dataset / "val.txt").write_text("2008_000003\n")
    return dataset


@pytest.mark.parametrize("level", ["dataset", "benchmark_RELEASE"])
def test_sbd(tmp_path, level):
    dataset = make_sbd(tmp_path)
    ds = SBDSegmentation(dataset if level == "dataset" else dataset.parent, "train")
    assert len(ds) == 2 and ds.n_class == 21 and ds.class_names == VOC_CLASSES
    image, label = ds[1]
    assert image.shape == (5, 4, 3) and image.dtype == np.uint8
    assert label.dtype == np.int32 and label.shape == (5, 4)
    assert label[0, 0] == 0 and (label.ravel()[1:] == 2).all()
    assert SBDSegmentation(dataset, "val").ids == ["2008_000003"]


def test_sbd_without_scipy_says_how_to_install(tmp_path, monkeypatch):
    dataset = make_sbd(tmp_path)
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # makes `from scipy.io import ...` fail
    with pytest.raises(ImportError, match=r"pip install minifcn\[sbd\]"):
        SBDSegmentation(dataset)


def test_sbd_bad_mat_is_named(tmp_path):
    dataset = make_sbd(tmp_path)
    (dataset / "cls" / "2008_000002.mat").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"2008_000002\.mat"):
        SBDSegmentation(dataset)[0]
