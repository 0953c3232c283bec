"""Files from other tools (Notepad, spreadsheets, Latin-1 editors) are read, or refused by name;
classes files that contradict themselves are refused naming both lines. Where a user's file is
at risk, its hash is checked before and after."""
import os
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from minifcn import io
from minifcn.data import load_dataset, prepare, read_class_spec, read_classes
from minifcn.data.shapes import make_shapes
from minifcn.data.weights import read_class_weights
from minifcn.models import FCN8s
from minifcn.runfolder import RunFolder
from minifcn.textfile import read_lines, read_text
from minifcn.train import train
from test_bad_inputs import TINY, cli, hashes, one_error_line, photos_and_masks

TINY_KW = dict(base_channels=2, fc_channels=8, progress=False)
NAMES = ["background", "circle", "square", "triangle", "cross"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_shapes(str(tmp_path_factory.mktemp("shapes") / "data"), n_train=3, n_val=1,
                       size=32, seed=0)


@pytest.fixture
def own(data, tmp_path):
    """A copy of the dataset, for tests that rewrite its text files."""
    copy = str(tmp_path / "data")
    shutil.copytree(data, copy)
    return copy


def notepad(text):
    """``text`` as Windows Notepad saves it: a byte-order mark and CRLF line ends."""
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")


# --- text: read what other tools write, refuse what is not UTF-8 by name ------------------------
def test_bom_crlf_and_comments_are_read(tmp_path):
    f = tmp_path / "list.txt"
    f.write_bytes(notepad("# my list\nfirst\n\n  second  \nthird"))
    assert read_lines(f) == [(2, "first"), (4, "second"), (5, "third")]
    f.write_bytes(b"a\rb\r")                         # old Mac line ends
    assert read_text(f) == "a\nb\n"


def test_latin1_and_utf16_are_refused_naming_the_file_and_line(tmp_path):
    f = tmp_path / "classes.txt"
    f.write_bytes("background\ncircle\ncarré\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"classes.txt:3: bytes .* are not UTF-8"):
        read_classes(f)
    f.write_bytes("background\ncircle\n".encode("utf-16"))
    with pytest.raises(ValueError, match=r"classes.txt:1: .*(not UTF-8|NUL)"):
        read_classes(f)


def test_a_dataset_saved_by_notepad_reads_as_the_original(own, data):
    for name in ("classes.txt", os.path.join("ImageSets", "Segmentation", "train.txt")):
        path = os.path.join(own, name)
        text = open(path, encoding="utf-8").read()
        with open(path, "wb") as f:
            f.write(notepad("# written in Notepad\n" + text))
    a, b = load_dataset(own, "train"), load_dataset(data, "train")
    assert a.class_names == b.class_names and a.class_colors == b.class_colors
    assert a.ids == b.ids


def test_a_latin1_classes_file_stops_train_before_anything_is_written(capsys, own, tmp_path):
    with open(os.path.join(own, "classes.txt"), "ab") as f:
        f.write("carré 1 2 3\n".encode("latin-1"))
    before = hashes(own)
    code, _, err = cli(capsys, "train", "--data", own, "--out", tmp_path / "run", *TINY)
    line = one_error_line(err)
    assert code == 2 and "classes.txt:6" in line and "UTF-8" in line, line
    assert hashes(own) == before and not os.path.exists(tmp_path / "run")


def test_a_class_weight_file_from_a_spreadsheet(tmp_path):
    f = tmp_path / "weights.csv"
    f.write_bytes(notepad("background,0.5\ncircle;2\nsquare\t3\n"))
    assert read_class_weights(f, ["background", "circle", "square"]) == [0.5, 2.0, 3.0]
    f.write_bytes("background 0.5\ncercle é 2\nsquare 3\n".encode("latin-1"))
    with pytest.raises(ValueError, match="weights.csv:2"):
        read_class_weights(f, ["background", "circle", "square"])


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("run") / "run")
    train(data=data, iterations=4, eval_every=2, out=out, log_every=1, **TINY_KW)
    return out


def test_a_log_resaved_by_a_spreadsheet_resumes(run, tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(run, out)
    log = os.path.join(out, "log.csv")
    rows = RunFolder(out).read_log()
    text = open(log, encoding="utf-8").read().replace(",", ";")    # a European spreadsheet
    with open(log, "wb") as f:
        f.write(notepad(text + ";;\n"))                            # and a blank row
    assert RunFolder(out).read_log() == rows
    result = train(out=out, resume=True, iterations=6)
    assert result["iteration"] == 6
    assert [r["iteration"] for r in RunFolder(out).read_log()] == list(range(1, 7))


@pytest.mark.parametrize("content, message", [
    (b"Iteration,Loss\n1,0.5\n", "no column 'iteration'"),
    (b"iteration,loss,seconds\n1,0.5,0.1\ntwo,0.4,0.2\n", r"log.csv:3: .*not the numbers"),
    ("iteration,loss,seconds\n1,0.5,0.1 é\n".encode("latin-1"), r"log.csv:2: .*not UTF-8"),
])
def test_a_log_that_cannot_be_read_is_named_and_kept(capsys, run, tmp_path, content, message):
    out = str(tmp_path / "run")
    shutil.copytree(run, out)
    with open(os.path.join(out, "log.csv"), "wb") as f:
        f.write(content)
    before = hashes(out)
    code, _, err = cli(capsys, "train", "--out", out, "--resume", "--iterations", "6")
    line = one_error_line(err)
    assert code == 2 and "log.csv" in line
    import re
    assert re.search(message, line), line
    assert hashes(out) == before
    # a fresh run there is refused, as for any folder that holds a run
    code, _, err = cli(capsys, "train", "--out", out, *TINY)
    assert code == 2 and "already holds a training run" in one_error_line(err)
    assert hashes(out) == before


# --- classes files that contradict themselves ---------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("background\ncircle\nsquare\ncircle\ncross\n", r":4: class 'circle' is also on line 2"),
    ("bg 0 0 0\na 1 1 1\nb 1 1 1\n", r":3: colour \(1, 1, 1\) is also on line 2"),
    ("bg 0 0 0\na 224 224 192\n", r":2: colour \(224, 224, 192\) is void's"),
    ("background\nvoid\n", r":2: void is not a class"),
    ("0 background\n1 circle\n7 square\n", r":3: index 7 is past the list: 3 classes"),
    ("0 background\n1 circle\n1 square\n", r":3: index 1 is also given on line 2"),
])
def test_a_dataset_classes_file_that_contradicts_itself(capsys, own, tmp_path, text, message):
    path = os.path.join(own, "classes.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    with pytest.raises(ValueError, match=message):
        read_classes(path)
    before = hashes(own)
    code, _, err = cli(capsys, "train", "--data", own, "--out", tmp_path / "run", *TINY)
    assert code == 2 and "classes.txt" in one_error_line(err)
    assert hashes(own) == before and not os.path.exists(tmp_path / "run")


def test_an_index_column_orders_the_classes(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_text("1 circle 255 0 0\n0 background 0 0 0\n")
    assert read_classes(f) == (("background", "circle"), ((0, 0, 0), (255, 0, 0)))
    spec = read_class_spec(f)
    assert spec.names == ("background", "circle")


@pytest.mark.parametrize("text, message", [
    ("void 0 0 0\nbackground 0 0 0\nthing 255 0 0\n",
     r":2: colour \(0, 0, 0\) is also on line 1"),
    ("background 0 0 0\nthing 255 0 0\nthing 0 255 0\n", r":3: class 'thing' is also on line 2"),
    ("background 0 0 0\nthing 255 0 0\nother 255 0 0\n",
     r":3: colour \(255, 0, 0\) is also on line 2"),
    ("0 background 0 0 0\n5 thing 255 0 0\n", r":2: index 5 is past the list"),
])
def test_a_prepare_classes_file_that_contradicts_itself(capsys, tmp_path, text, message):
    mask = np.zeros((8, 8, 3), np.uint8)
    mask[:4] = (255, 0, 0)
    images, masks = photos_and_masks(tmp_path, 2, mask)
    classes = tmp_path / "classes.txt"
    classes.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_class_spec(classes)
    before = hashes(tmp_path)
    code, _, err = cli(capsys, "prepare", "--images", images, "--masks", masks, "--out",
                       tmp_path / "out", "--classes", classes)
    assert code == 2 and "classes.txt" in one_error_line(err)
    assert hashes(tmp_path) == before and not os.path.exists(tmp_path / "out")
    # the same file saved by Notepad, once it no longer contradicts itself, is read
    classes.write_bytes(notepad("void 0 0 0\nbackground 90 90 90\nthing 255 0 0\n"))
    assert read_class_spec(classes).names == ("background", "thing")
    prepare(images, masks, tmp_path / "out", classes, verbose=False)
    assert load_dataset(tmp_path / "out").class_names == ("background", "thing")


# --- images over Pillow's size limit, file names that are not UTF-8 -----------------------------
@pytest.mark.parametrize("limit", [600, 1000], ids=["over twice the limit", "over the limit"])
def test_an_image_over_pillows_limit_is_named(capsys, own, tmp_path, monkeypatch, limit):
    # the training images are 32×32 = 1024 px: Pillow refuses over 2×limit and warns over limit
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit // 2 if limit == 600 else limit)
    before = hashes(own)
    code, _, err = cli(capsys, "train", "--data", own, "--out", tmp_path / "run", *TINY)
    line = one_error_line(err)
    assert code == 2 and "JPEGImages" in line and "is too large (1,024 pixels): over " \
                                                  "Pillow's limit" in line, line
    assert hashes(own) == before and not os.path.exists(tmp_path / "run")
    model = tmp_path / "model.npz"
    io.save(FCN8s(n_class=5, base_channels=2, fc_channels=8), model)
    image = os.path.join(own, "JPEGImages", sorted(os.listdir(os.path.join(own, "JPEGImages")))[0])
    code, _, err = cli(capsys, "predict", "--checkpoint", model, image, "--out", tmp_path / "p")
    line = one_error_line(err)
    assert code == 2 and f"image {image} is too large" in line, line
    assert hashes(own) == before and not os.listdir(tmp_path / "p")


def test_a_mask_over_pillows_limit_is_named_by_prepare(capsys, tmp_path, monkeypatch):
    images, masks = photos_and_masks(tmp_path, 2)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)
    code, _, err = cli(capsys, "prepare", "--images", images, "--masks", masks, "--out",
                       tmp_path / "out")
    line = one_error_line(err)
    assert code == 2 and "p0.png is too large (64 pixels)" in line, line
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.skipif(sys.platform in ("darwin", "win32"),
                    reason="file systems that store only Unicode names")
def test_a_file_name_that_is_not_utf8_is_named(capsys, tmp_path):
    images, masks = tmp_path / "photos", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for stem in (b"caf\xe9", b"tea"):                        # Latin-1 'café'
        name = stem + b".png"
        Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(
            os.fsdecode(os.path.join(os.fsencode(str(images)), name)))
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(
            os.fsdecode(os.path.join(os.fsencode(str(masks)), name)))
    before = hashes(tmp_path)
    code, _, err = cli(capsys, "prepare", "--images", images, "--masks", masks, "--out",
                       tmp_path / "out")
    line = one_error_line(err)
    assert code == 2 and "file name 'caf\\\\xe9.png' in" in line and "not UTF-8" in line, line
    assert hashes(tmp_path) == before and not os.path.exists(tmp_path / "out")


# --- a VOC-layout folder without class names ----------------------------------------------------
def test_data_without_class_names_says_so_once(capsys, own, tmp_path):
    os.remove(os.path.join(own, "classes.txt"))
    before = hashes(own)
    code, _, err = cli(capsys, "train", "--data", own, "--out", tmp_path / "run",
                       "--iterations", "2", "--eval-every", "0", *TINY)
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1, err
    highest = max(int(np.max(np.where(label == 255, 0, label))) for _, label in
                  load_dataset(own, "train"))
    names = ", ".join(["background", "aeroplane", "bicycle", "bird", "boat"][:highest + 1])
    assert (f"{own} has no classes.txt, so its classes are taken to be VOC's 21, but its train "
            f"labels use only the values 0..{highest} ({names})" in notes[0]), notes[0]
    assert os.path.join(own, "classes.txt") in notes[0]
    assert hashes(own) == before
    # with its classes named there is no note
    with open(os.path.join(own, "classes.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(NAMES) + "\n")
    code, _, err = cli(capsys, "train", "--data", own, "--out", tmp_path / "run2",
                       "--iterations", "2", "--eval-every", "0", *TINY)
    assert code == 0 and "note:" not in err


def test_a_classes_file_saved_by_a_spreadsheet(tmp_path):
    f = tmp_path / "classes.csv"
    f.write_bytes(notepad("background,0,0,0\npotted plant;0;128;0\nsky\t30\t144\t255\n"))
    assert read_class_spec(f).colours == ((0, 0, 0), (0, 128, 0), (30, 144, 255))
    assert read_classes(f)[0] == ("background", "potted plant", "sky")
    f.write_bytes(notepad("name,R,G,B\nbackground,0,0,0\n"))      # a header row
    with pytest.raises(ValueError, match="classes.csv:2: some lines give a colour"):
        read_classes(f)


def test_a_split_list_that_names_a_path_is_refused(capsys, own, tmp_path):
    path = os.path.join(own, "ImageSets", "Segmentation", "train.txt")
    with open(path, "a", encoding="utf-8") as f:
        f.write("../../secret\n")
    n = len(open(path, encoding="utf-8").read().splitlines())
    before = hashes(own)
    code, _, err = cli(capsys, "train", "--data", own, "--out", tmp_path / "run", *TINY)
    line = one_error_line(err)
    assert code == 2 and f"train.txt:{n}: '../../secret' is not an image id" in line, line
    assert hashes(own) == before and not os.path.exists(tmp_path / "run")


def test_photos_named_as_cameras_name_them(own, data):
    folder = os.path.join(own, "JPEGImages")
    for name in os.listdir(folder):
        os.rename(os.path.join(folder, name), os.path.join(folder, name[:-4] + ".JPG"))
    ours, theirs = load_dataset(own, "train"), load_dataset(data, "train")
    assert ours.image_path(ours.ids[0]).endswith(".JPG")
    for (a, la), (b, lb) in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
