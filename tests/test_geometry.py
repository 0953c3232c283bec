"""Crop offsets from composed coordinate maps (minifcn.geometry), checked three ways: against the
published numbers, against receptive-field centroids measured through the real kernels, and on
models whose conv1_1 padding differs from 100."""
from fractions import Fraction

import numpy as np
import pytest

import minifcn.functional as F
from minifcn import geometry, nn
from minifcn.models import FCN8s, FCN8sAtOnce, FCN16s, FCN32s

# The published VGG16-FCN layers as specs (kind, kernel, stride, pad); pools are 2×2 stride 2.
CONV = ("conv", 3, 1, 1)
POOL = ("pool", 2, 2, 0)


def trunk(pad=100, up_to=5):
    blocks = [[("conv", 3, 1, pad), CONV], [CONV] * 2, [CONV] * 3, [CONV] * 3, [CONV] * 3]
    return [spec for block in blocks[:up_to] for spec in block + [POOL]]


SCORE_FR = trunk() + [("conv", 7, 1, 0), ("conv", 1, 1, 0), ("conv", 1, 1, 0)]
UPSCORE2 = SCORE_FR + [("deconv", 4, 2, 0)]
UPSCORE_POOL4 = UPSCORE2 + [("deconv", 4, 2, 0)]


def test_single_layer_maps():
    # conv: input = s·o + d(k−1)/2 − p;  deconv: the inverse.
    assert geometry.coord_map("conv", 3, 1, 100) == (1, -99)
    assert geometry.coord_map("conv", 3, 1, 1, dilation=2) == (1, 1)
    assert geometry.coord_map("pool", 2, 2, 0) == (2, Fraction(1, 2))
    up = geometry.coord_map("deconv", 64, 32, 0)
    assert up == (Fraction(1, 32), Fraction(-63, 64))
    down = geometry.coord_map("conv", 64, 32, 0)
    assert down.then(up) == geometry.IDENTITY        # a deconv undoes its convolution's map
    assert geometry.coord_map("crop", 5) == (1, 5)


def test_pool5_map_and_published_offsets():
    assert geometry.path_map(trunk()) == (32, Fraction(-167, 2))       # (32, −83.5)
    assert geometry.path_map(SCORE_FR) == (32, Fraction(25, 2))        # fc6's centre: +96 px
    assert geometry.crop_offset(SCORE_FR + [("deconv", 64, 32, 0)]) == 19              # 32s
    assert geometry.crop_offset(trunk(up_to=4) + [("conv", 1, 1, 0)], like=UPSCORE2) == 5
    assert geometry.crop_offset(UPSCORE2 + [("deconv", 32, 16, 0)]) == 27              # 16s
    assert geometry.crop_offset(trunk(up_to=3) + [("conv", 1, 1, 0)], like=UPSCORE_POOL4) == 9
    assert geometry.crop_offset(UPSCORE_POOL4 + [("deconv", 16, 8, 0)]) == 31          # 8s


def test_a_crop_makes_the_maps_equal():
    cropped = trunk(up_to=4) + [("conv", 1, 1, 0), ("crop", 5)]
    assert geometry.path_map(cropped) == geometry.path_map(UPSCORE2)


def test_misaligned_blobs_are_refused():
    with pytest.raises(ValueError, match="scales"):
        geometry.crop_offset(trunk(up_to=4), like=trunk(up_to=3))
    with pytest.raises(ValueError, match="whole number"):      # half a pixel apart
        geometry.crop_offset([("conv", 2, 1, 0)])
    with pytest.raises(ValueError, match="whole number"):      # negative: the blob is too small
        geometry.crop_offset([("conv", 3, 1, 0)])


def test_layer_specs_from_layer_objects():
    assert geometry.layer_spec(nn.Conv2d(1, 1, 7)) == ("conv", 7, 1, 0, 1)
    assert geometry.layer_spec(nn.MaxPool2d(2, 2, ceil_mode=True)) == ("pool", 2, 2, 0)
    assert geometry.layer_spec(nn.ConvTranspose2d(1, 1, 4, 2, bias=False)) == ("deconv", 4, 2, 0)
    assert geometry.layer_spec(nn.Crop(9)) == ("crop", 9)
    for layer in (nn.ReLU(), nn.Dropout(0.5), nn.Scale(0.01)):
        assert geometry.layer_spec(layer) is None
    with pytest.raises(ValueError, match="square"):
        geometry.layer_spec(nn.Conv2d(1, 1, (3, 5)))
    with pytest.raises(TypeError):
        geometry.layer_spec(nn.Linear(2, 2))


def centroid(specs, width, o):
    """Where output column ``o`` looks in a 33×``width`` input: the centroid of its gradient.

    Convolutions and pools become all-ones kernels and deconvolutions bilinear ones, so every
    layer weighs its window symmetrically about the window's centre; the weights are separable,
    so the column marginal of d output / d input gives the x centroid. (33 rows: the floor-mode
    2×2 "pools" here still leave fc6 its 7 rows.)
    """
    h, caches = np.zeros((1, 1, 33, width)), []
    for kind, k, s, p, *_ in specs:
        if kind == "deconv":
            h, cache = F.conv_transpose2d_forward(h, F.bilinear_weight(1, 1, k, np.float64), None,
                                                  s, p)
        else:
            h, cache = F.conv2d_forward(h, np.ones((1, 1, k, k)), None, s, p)
        caches.append((kind, cache))
    dh = np.zeros_like(h)
    dh[0, 0, h.shape[2] // 2, o] = 1
    for kind, cache in reversed(caches):
        backward = F.conv_transpose2d_backward if kind == "deconv" else F.conv2d_backward
        dh = backward(dh, cache)[0]
    w = dh[0, 0].sum(axis=0)
    return (w * np.arange(width)).sum() / w.sum()


@pytest.mark.parametrize("path", [trunk(), SCORE_FR, UPSCORE2, UPSCORE_POOL4,
                                  SCORE_FR + [("deconv", 64, 32, 0)]])
def test_maps_match_measured_receptive_field_centres(path):
    # Output pixels whose receptive field lies inside a 1000-px wide input (no border effects).
    m = geometry.path_map(path)
    for o in (int((400 - m.shift) / m.scale), int((500 - m.shift) / m.scale) + 1):
        assert centroid(path, 1000, o) == pytest.approx(float(m(o)), abs=1e-9)


def test_measured_centres_confirm_the_final_crop():
    # After FCN-32s's crop at 19, output pixel o looks at image pixel o: the scores line up.
    for o in (480, 513):
        assert centroid(SCORE_FR + [("deconv", 64, 32, 0)], 1000, o + 19) == pytest.approx(o)


@pytest.mark.parametrize("cls,published", [
    (FCN32s, {"score": 19}),
    (FCN16s, {"score_pool4c": 5, "score": 27}),
    (FCN8s, {"score_pool4c": 5, "score_pool3c": 9, "score": 31}),
    (FCN8sAtOnce, {"score_pool4c": 5, "score_pool3c": 9, "score": 31}),
])
@pytest.mark.parametrize("pad", [99, 100, 101, 132])
def test_models_compute_their_offsets(cls, published, pad):
    model = cls(base_channels=1, fc_channels=2, conv1_1_padding=pad).eval()
    # One more pixel of padding shifts everything by one image pixel: the final crop moves by
    # one, the skip crops (between blobs that both shift) do not.
    expected = {name: off + (pad - 100 if name == "score" else 0)
                for name, off in published.items()}
    assert model.crop_offsets == expected
    for h, w in [(1, 1), (2, 33), (31, 97)]:
        x = np.zeros((1, 3, h, w), np.float32)
        assert model(x).shape == (1, 21, h, w)


@pytest.mark.parametrize("cls, crop_bound", [(FCN32s, 81), (FCN16s, 73), (FCN8s, 69),
                                             (FCN8sAtOnce, 69)])
def test_smallest_padding_is_the_smallest_that_works(cls, crop_bound):
    # 100 − the paper's final crop (19, 27, 31); small images need more, for fc6's 7×7 pool5.
    assert cls.smallest_padding(128) == crop_bound
    assert cls.smallest_padding(1) == 97
    for size in (20, 57, 64, 128):
        pad = cls.smallest_padding(size)
        model = cls(2, 1, 2, conv1_1_padding=pad)
        model.eval()
        for h, w in ((size, size), (size + 1, size + 6), (2 * size, size)):
            assert model(np.zeros((1, 3, h, w))).shape == (1, 2, h, w)
        with pytest.raises(ValueError):          # one less: a negative crop, or no pool5 7×7
            smaller = cls(2, 1, 2, conv1_1_padding=pad - 1)
            smaller.eval()
            smaller(np.zeros((1, 3, size, size)))


@pytest.mark.parametrize("cls, crop_bound", [(FCN32s, 49), (FCN16s, 41), (FCN8s, 37)])
def test_fc6_padding_1_lets_conv1_1_pad_32_less(cls, crop_bound):
    # fc6's window centre moves one pool5 pixel (32 image px) back: the final crop grows by 32,
    # the skip crops between pool4/pool3 and the coarse path shrink (5 → 3, 9 → 5).
    model = cls(2, 1, 2, conv1_1_padding=100, fc6_padding=1)
    paper = cls(2, 1, 2, conv1_1_padding=100).crop_offsets
    assert model.crop_offsets["score"] == paper["score"] + 32
    assert {k: v for k, v in model.crop_offsets.items() if k != "score"} == {
        k: {5: 3, 9: 5}[v] for k, v in paper.items() if k != "score"}
    assert cls.smallest_padding(128, fc6_padding=1) == crop_bound
    for size in (20, 57, 64, 128):
        pad = cls.smallest_padding(size, fc6_padding=1)
        model = cls(2, 1, 2, conv1_1_padding=pad, fc6_padding=1).eval()
        assert model.min_input_size <= size
        for h, w in ((size, size), (size + 1, size + 6), (size + 17, 2 * size)):
            assert model(np.zeros((1, 3, h, w))).shape == (1, 2, h, w)
        with pytest.raises(ValueError):          # one less: a negative crop, or pool5 under 5×5
            smaller = cls(2, 1, 2, conv1_1_padding=pad - 1, fc6_padding=1).eval()
            smaller(np.zeros((1, 3, size, size)))


@pytest.mark.parametrize("cls, pads", [(FCN32s, (17, 0)), (FCN16s, (9, 0)), (FCN8s, (5, 0))])
def test_fc6_padding_2_and_3_pad_conv1_1_32_and_64_less(cls, pads):
    # Two and three pixels of fc6 padding: the final crop grows by 64 and 96 over the paper's,
    # so conv1_1 needs 64 and 96 px less (37 → 5 for FCN-8s; 0 once the bound goes negative).
    paper = cls(2, 1, 2, conv1_1_padding=100).crop_offsets["score"]
    for fc6_padding, pad in zip((2, 3), pads):
        model = cls(2, 1, 2, conv1_1_padding=100, fc6_padding=fc6_padding)
        assert model.crop_offsets["score"] == paper + 32 * fc6_padding
        assert cls.smallest_padding(128, fc6_padding=fc6_padding) == pad
        for size in (3, 20, 57, 128):
            pad_here = cls.smallest_padding(size, fc6_padding=fc6_padding)
            model = cls(2, 1, 2, conv1_1_padding=pad_here, fc6_padding=fc6_padding).eval()
            assert model.min_input_size <= size
            for h, w in ((size, size), (size + 1, size + 6), (size + 17, 2 * size)):
                assert model(np.zeros((1, 3, h, w))).shape == (1, 2, h, w)


@pytest.mark.parametrize("cls", [FCN16s, FCN8s])
@pytest.mark.parametrize("fc6_padding", [2, 3])
def test_the_skips_zero_filled_cells_lie_outside_the_image(cls, fc6_padding):
    # With fc6 padded by 2 or 3 the upsampled coarse scores reach past score_pool4/score_pool3,
    # and the skip crops fill those cells with 0 (FCN.skip_crop). Each such cell's centre, mapped
    # back to the image, must fall outside it: inside the image every skip adds its scores.
    for size in (3, 20, 57, 64, 100, 128, 129, 200, 257):
        for pad in {cls.smallest_padding(size, fc6_padding=fc6_padding), 37, 100}:
            model = cls(2, 1, 2, conv1_1_padding=pad, fc6_padding=fc6_padding).eval()
            _, b = model(np.zeros((1, 3, size, size)), return_blobs=True)
            upscore = model.score_fr_path() + [model.upscore2]
            skips = [("score_pool4", "upscore2", model.score_pool4c, upscore)]
            if cls is FCN8s:
                skips.append(("score_pool3", "upscore_pool4", model.score_pool3c,
                              upscore + [model.upscore_pool4]))
            for skip, ref, crop, path in skips:
                inside, offset = b[skip].shape[2], crop.offset[0]
                centre = geometry.path_map(path)            # ref's pixel → image pixel
                filled = [r for r in range(b[ref].shape[2]) if not 0 <= r + offset < inside]
                in_image = [r for r in filled if -0.5 < centre(r) < size - 0.5]
                assert not in_image, (skip, size, pad, in_image)


def test_fc6_padding_4_is_refused_by_name():
    with pytest.raises(ValueError, match="fc6_padding"):
        FCN8s(2, 1, 2, fc6_padding=4)
