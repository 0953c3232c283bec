"""prepare: photos + masks (index, binary 0/255, RGB with a classes file) → a VOC-layout dataset.

Every input is generated here. Bad inputs must give an error naming the problem, leave no output
(not even half of one) and change no input file.
"""
import hashlib
import importlib
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from minifcn.data import load_dataset, prepare, read_image, read_label_png
from minifcn.data.prepare import split_ids

# A colour scheme of its own (not VOC's): class index = line order, void skipped.
CLASSES = "sky 30 144 255\n# a comment\nvoid 0 0 0\ngrass 34 139 34\nroad 128 128 128\n"
COLOURS = np.array([(30, 144, 255), (34, 139, 34), (128, 128, 128)], dtype=np.uint8)
H, W = 12, 16


def tree_hashes(*folders):
    """{path: sha256} of every file under the folders."""
    out = {}
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def label_map(seed, h=H, w=W, n_class=3):
    """A label map with every class and a few void pixels."""
    rng = np.random.default_rng(seed)
    label = np.repeat(np.arange(n_class), -(-h * w // n_class))[:h * w].reshape(h, w)
    label = label.astype(np.uint8)
    label[rng.integers(0, h), rng.integers(0, w)] = 255
    return label


def photo(seed, h=H, w=W):
    return np.random.default_rng(100 + seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def rgb_mask(label):
    rgb = np.zeros(label.shape + (3,), dtype=np.uint8)     # void: black, named 'void' in CLASSES
    keep = label != 255
    rgb[keep] = COLOURS[label[keep]]
    return rgb


@pytest.fixture
def rgb_set(tmp_path):
    """4 JPEG photos, 2 PNG photos, RGB masks, and a classes file."""
    images, masks = tmp_path / "photos", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    labels = {}
    for i in range(6):
        stem = f"img{i}"
        labels[stem] = label_map(i)
        ext = ".jpg" if i < 4 else ".png"
        Image.fromarray(photo(i)).save(images / (stem + ext), quality=80)
        Image.fromarray(rgb_mask(labels[stem])).save(masks / (stem + ".png"))
    (tmp_path / "classes.txt").write_text(CLASSES)
    return tmp_path, images, masks, labels


def run(tmp_path, images, masks, out="out", **kw):
    kw.setdefault("classes", tmp_path / "classes.txt")
    kw.setdefault("verbose", False)
    return prepare(images, masks, tmp_path / out, **kw)


def test_rgb_masks_become_a_voc_dataset_in_the_users_colours(rgb_set):
    tmp_path, images, masks, labels = rgb_set
    report = run(tmp_path, images, masks, val_fraction=0.34, seed=3)
    out = tmp_path / "out"
    assert report["names"] == ["sky", "grass", "road"]
    assert (out / "classes.txt").read_text() == (
        "sky 30 144 255\ngrass 34 139 34\nroad 128 128 128\n")
    assert len(report["val"]) == 2 and len(report["train"]) == 4
    assert sorted(report["train"] + report["val"]) == sorted(labels)
    for stem, label in labels.items():
        np.testing.assert_array_equal(
            read_label_png(out / "SegmentationClass" / f"{stem}.png"), label)
        stored = Image.open(out / "SegmentationClass" / f"{stem}.png")
        assert stored.mode == "P" and stored.getpalette()[:3] == [30, 144, 255]
    for i in range(4):                        # JPEG: the same bytes
        stored = (out / "JPEGImages" / f"img{i}.jpg").read_bytes()
        assert stored == (images / f"img{i}.jpg").read_bytes()
    for i in (4, 5):                          # PNG: lossless
        np.testing.assert_array_equal(read_image(str(out / "JPEGImages" / f"img{i}.png")), photo(i))
    assert "2 image(s): PNG stored as PNG (lossless)" in report["notes"]
    train = load_dataset(out, "train")
    assert train.class_names == ("sky", "grass", "road")
    assert train.class_colors == tuple(tuple(int(v) for v in c) for c in COLOURS)
    assert len(train) == 4 and all(train[i][0].shape == (H, W, 3) for i in range(4))
    val = load_dataset(out, "val")
    stem = val.ids[0]
    np.testing.assert_array_equal(val[0][1], labels[stem])
    assert (out / "class_frequency.png").stat().st_size > 1000
    assert json.loads((out / "prepare.json").read_text())["seed"] == 3


def test_report_counts_pixels_and_images_and_is_printed(rgb_set, capsys):
    tmp_path, images, masks, labels = rgb_set
    report = run(tmp_path, images, masks, verbose=True)
    stack = np.stack(list(labels.values()))
    assert report["pixels"] == [int((stack == c).sum()) for c in range(3)]
    assert report["images"] == [6, 6, 6]
    assert report["void_pixels"] == int((stack == 255).sum())
    printed = capsys.readouterr().out
    assert "grass" in printed and f"{report['pixels'][1]:,}" in printed and "(void)" in printed


def test_the_split_depends_only_on_ids_and_seed():
    ids = [f"x{i}" for i in range(20)]
    assert split_ids(ids, 0.25, 0) == split_ids(list(reversed(ids)), 0.25, 0)
    train, val = split_ids(ids, 0.25, 0)
    assert len(val) == 5 and sorted(train + val) == sorted(ids)
    assert split_ids(ids, 0.25, 1)[1] != val
    with pytest.raises(ValueError, match="at least one of each"):
        split_ids(["a"], 0.5, 0)


def test_palette_masks_keep_their_indices_and_palette(tmp_path):
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    palette = [0, 0, 0, 250, 10, 10, 10, 250, 10] + [7] * (256 * 3 - 9)
    for i in range(3):
        Image.fromarray(photo(i)).save(images / f"p{i}.jpg")
        mask = Image.fromarray(label_map(i), "P")
        mask.putpalette(palette)
        mask.save(masks / f"p{i}.png")
    report = run(tmp_path, images, masks, classes=None)
    assert report["names"] == ["class_0", "class_1", "class_2"]
    assert report["colours"] == [[0, 0, 0], [250, 10, 10], [10, 250, 10]]
    np.testing.assert_array_equal(
        read_label_png(tmp_path / "out" / "SegmentationClass" / "p1.png"), label_map(1))


def test_binary_masks_are_foreground_not_void(tmp_path, capsys):
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    for i in range(3):
        Image.fromarray(photo(i)).save(images / f"b{i}.jpg")
        fg = np.zeros((H, W), dtype=np.uint8)
        fg[2:8, 3 + i:10] = 255
        Image.fromarray(fg, "L").save(masks / f"b{i}.png")
    report = run(tmp_path, images, masks, classes=None, verbose=True)
    assert report["names"] == ["background", "foreground"]
    assert report["void_pixels"] == 0 and report["images"] == [3, 3]
    label = read_label_png(tmp_path / "out" / "SegmentationClass" / "b0.png")
    assert label.max() == 1 and (label == 1).sum() == 6 * 7
    assert "binary masks" in capsys.readouterr().out


def exif_jpeg(path, array, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(array).save(path, exif=exif.tobytes(), quality=95)


def test_exif_orientation_is_applied(tmp_path):
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    (tmp_path / "classes.txt").write_text(CLASSES)
    for i in range(2):                           # stored 12×16, orientation 6: upright 16×12
        exif_jpeg(images / f"e{i}.jpg", photo(i), 6)
        Image.fromarray(rgb_mask(label_map(i, W, H))).save(masks / f"e{i}.png")
    run(tmp_path, images, masks)
    assert read_image(str(tmp_path / "out" / "JPEGImages" / "e0.jpg")).shape == (W, H, 3)
    # a mask drawn on the sideways (stored) photo: named, with the reason
    Image.fromarray(rgb_mask(label_map(1))).save(masks / "e1.png")
    with pytest.raises(ValueError, match=r"e1.png is 12×16 but image .*e1.jpg is 16×12.*EXIF"):
        run(tmp_path, images, masks, out="out2")


def test_16_bit_photos_are_scaled_not_clipped(tmp_path, rgb_set):
    tmp_path, images, masks, _ = rgb_set
    gray = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.uint16)
    os.remove(images / "img5.png")
    Image.fromarray(gray).save(images / "img5.png")
    run(tmp_path, images, masks)
    stored = read_image(str(tmp_path / "out" / "JPEGImages" / "img5.png"))
    np.testing.assert_array_equal(stored[..., 0], np.round(gray / 257).astype(np.uint8))


# Bad inputs: (name, how to break the set (images, masks, tmp_path), the error, its message).
BAD = [
    ("unknown colour", lambda i, m, t: Image.fromarray(
        np.where(np.arange(W)[None, :, None] < 3, np.uint8([9, 9, 9]), rgb_mask(label_map(2)))
        .astype(np.uint8)).save(m / "img2.png"),
     ValueError, r"img2\.png has colours that are not in the classes file: \(9, 9, 9\): 36 px"),
    ("size mismatch", lambda i, m, t: Image.fromarray(rgb_mask(label_map(1, H, W + 1)))
     .save(m / "img1.png"), ValueError, r"img1\.png is 12×17 but image .*img1\.jpg is 12×16"),
    ("unreadable image", lambda i, m, t: (i / "img3.jpg").write_bytes(b"not a jpeg at all"),
     ValueError, r"cannot read image .*img3\.jpg"),
    ("truncated image", lambda i, m, t: (i / "img0.jpg").write_bytes(
        (i / "img0.jpg").read_bytes()[:200]), ValueError, r"cannot read image .*img0\.jpg"),
    ("unreadable mask", lambda i, m, t: (m / "img3.png").write_bytes(b"\x89PNG junk"),
     ValueError, r"cannot read mask .*img3\.png"),
    ("image without mask", lambda i, m, t: Image.fromarray(photo(9)).save(i / "lonely.jpg"),
     ValueError, r"1 image file\(s\) without a mask of the same stem: .*lonely\.jpg"),
    ("mask without image", lambda i, m, t: os.remove(i / "img4.png"),
     ValueError, r"1 mask file\(s\) without an image of the same stem: .*img4\.png"),
    ("jpeg mask", lambda i, m, t: Image.fromarray(rgb_mask(label_map(0))).save(m / "img0.jpg"),
     ValueError, r"mask .*img0\.jpg is lossy"),
    ("16-bit mask", lambda i, m, t: Image.fromarray(label_map(1).astype(np.uint16) * 300)
     .save(m / "img1.png"), ValueError, r"img1\.png has mode 'I;16'.*never rescaled"),
    ("two images, one stem", lambda i, m, t: Image.fromarray(photo(1)).save(i / "img1.png"),
     ValueError, r"two image files share the stem 'img1'"),
    ("colour named twice", lambda i, m, t: (t / "classes.txt").write_text(
        CLASSES + "water 30 144 255\n"), ValueError, r"classes.txt:6: colour \(30, 144, 255\)"),
    ("class without colour", lambda i, m, t: (t / "classes.txt").write_text(CLASSES + "water\n"),
     ValueError, r"class 'water' has no colour"),
    ("transparent mask", lambda i, m, t: Image.fromarray(np.zeros((H, W, 4), np.uint8))
     .save(m / "img2.png"), ValueError, r"img2\.png has 192 transparent pixels"),
]


@pytest.mark.parametrize("name,corrupt,error,message", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_are_named_and_nothing_is_written_or_changed(rgb_set, name, corrupt, error,
                                                               message):
    tmp_path, images, masks, _ = rgb_set
    corrupt(images, masks, tmp_path)
    before = tree_hashes(images, masks, tmp_path / "classes.txt")
    with pytest.raises(error, match=message):
        run(tmp_path, images, masks)
    assert tree_hashes(images, masks, tmp_path / "classes.txt") == before
    assert sorted(os.listdir(tmp_path)) == ["classes.txt", "masks", "photos"]   # no out, no tmp


def test_rgb_masks_without_a_classes_file_are_refused(rgb_set):
    tmp_path, images, masks, _ = rgb_set
    with pytest.raises(ValueError, match=r"img0\.png is an RGB image: give a classes file"):
        run(tmp_path, images, masks, classes=None)
    assert not (tmp_path / "out").exists()


def test_every_bad_pair_is_reported_in_one_error(rgb_set):
    tmp_path, images, masks, _ = rgb_set
    for stem in ("img1", "img4"):
        Image.fromarray(rgb_mask(label_map(1, H + 2, W))).save(masks / f"{stem}.png")
    with pytest.raises(ValueError, match=r"img1\.png is 14×16.*1 more problem.*img4\.png is 14×16"):
        run(tmp_path, images, masks, out="new/folders/out")
    assert not (tmp_path / "new").exists()               # folders made for it are gone again
    Image.fromarray(rgb_mask(label_map(1))).save(masks / "img1.png")
    Image.fromarray(rgb_mask(label_map(4))).save(masks / "img4.png")
    run(tmp_path, images, masks, out="new/folders/out")
    assert (tmp_path / "new" / "folders" / "out" / "classes.txt").exists()


def test_an_existing_output_is_never_written_into(rgb_set):
    tmp_path, images, masks, _ = rgb_set
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="already exists and is not an empty folder"):
        run(tmp_path, images, masks)
    assert os.listdir(tmp_path / "out") == ["precious.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError):
        run(tmp_path, images, masks, out="file")
    with pytest.raises(FileExistsError, match="file is a file"):
        run(tmp_path, images, masks, out="file/sub/out")
    os.remove(tmp_path / "out" / "precious.txt")          # an empty folder is fine
    run(tmp_path, images, masks)
    assert (tmp_path / "out" / "classes.txt").exists()


def test_an_interrupted_prepare_leaves_nothing(rgb_set, monkeypatch):
    tmp_path, images, masks, _ = rgb_set
    mod = importlib.import_module("minifcn.data.prepare")     # the module, not the function

    def boom(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(mod, "plot_frequency", boom)      # the last step before the rename
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, images, masks)
    assert sorted(os.listdir(tmp_path)) == ["classes.txt", "masks", "photos"]


def test_read_image_applies_exif_orientation(tmp_path):
    exif_jpeg(tmp_path / "r.jpg", photo(0), 8)                # rotate 90° the other way
    assert read_image(str(tmp_path / "r.jpg")).shape == (W, H, 3)
    buf = io.BytesIO()
    Image.fromarray(photo(0)).save(buf, format="JPEG")
    (tmp_path / "plain.jpg").write_bytes(buf.getvalue())
    assert read_image(str(tmp_path / "plain.jpg")).shape == (H, W, 3)


def test_build_folders_left_by_a_killed_prepare_are_removed(rgb_set):
    tmp_path, images, masks, _ = rgb_set
    (tmp_path / ".out.prepare-abc123" / "JPEGImages").mkdir(parents=True)   # kill -9 leftovers
    (tmp_path / ".other.prepare-x").mkdir()                                  # not out's: kept
    report = run(tmp_path, images, masks)
    assert "removed 1 unfinished build folder(s)" in report["notes"][0]
    assert sorted(os.listdir(tmp_path)) == [".other.prepare-x", "classes.txt", "masks", "out",
                                            "photos"]


def test_an_indexed_png_in_the_classes_colours_is_read_by_colour(rgb_set):
    """A paint program's indexed PNG numbers its colours freely: index 0 = road's grey here."""
    tmp_path, images, masks, labels = rgb_set
    order = [2, 0, 1]                                      # palette slot k holds class order[k]
    palette = [int(v) for k in order for v in COLOURS[k]] + [0, 0, 0] * 253
    for stem, label in labels.items():
        slots = np.array([order.index(c) for c in range(3)] + [0] * 252 + [3], np.uint8)[label]
        mask = Image.fromarray(slots, "P")
        mask.putpalette(palette)                          # slot 3: black, named void
        mask.save(masks / f"{stem}.png")
    run(tmp_path, images, masks)
    for stem, label in labels.items():
        np.testing.assert_array_equal(
            read_label_png(tmp_path / "out" / "SegmentationClass" / f"{stem}.png"), label)
