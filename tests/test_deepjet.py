"""The deep jet's stages: each brought to the image as FCN-32s/16s/8s's own heads do it, and
scored over a dataset, whole and near the boundaries."""
import numpy as np
import pytest

import minifcn
from minifcn import deepjet, metrics, nn
from minifcn.data import load_dataset
from minifcn.data.shapes import make_shapes
from minifcn.models import VGG16, FCN8s, FCN8sAtOnce, FCN16s, FCN32s

TINY = dict(n_class=5, base_channels=2, fc_channels=8)


def _tiny(cls, seed=1):
    """A tiny FCN whose score layers are random (at zero every stage would answer 0)."""
    model = cls(seed=seed, **TINY)
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if name.startswith("score"):
            p.data[...] = rng.standard_normal(p.data.shape).astype(p.data.dtype)
    return model.eval()


def _forward(model, x):
    with nn.no_grad():
        return model.forward(x, return_blobs=True)


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    make_shapes(str(root), n_train=1, n_val=3, size=40, seed=0)
    return load_dataset(str(root), "val")


@pytest.mark.parametrize("cls, n_stages", [(FCN32s, 1), (FCN16s, 2), (FCN8s, 3),
                                           (FCN8sAtOnce, 3)])
def test_deepest_stage_upsampled_bilinearly_is_the_models_own_output(cls, n_stages):
    # With frozen (bilinear) upsampling, the model's last deconvolution and crop are exactly
    # upsample_to_image's: this checks the scale, kernel, stride and crop offset it derives.
    model = _tiny(cls)
    x = np.random.default_rng(0).standard_normal((2, 3, 37, 45)).astype(np.float32)
    score, blobs = _forward(model, x)
    stages = deepjet.model_stages(model)
    assert len(stages) == n_stages
    up = deepjet.upsample_to_image(blobs[stages[-1].blob], stages[-1].path(model), (37, 45))
    np.testing.assert_allclose(up, score, rtol=1e-5, atol=1e-5)


def test_coarser_stages_are_what_fcn32s_and_fcn16s_heads_would_output():
    # FCN-8s's 1/32 stage = an FCN-32s with its trunk and score_fr; its 1/32 + 1/16 stage = an
    # FCN-16s with those and score_pool4, upscore2 (copy_params_from copies them by name).
    fcn8 = _tiny(FCN8s)
    x = np.random.default_rng(1).standard_normal((1, 3, 50, 41)).astype(np.float32)
    stages = deepjet.stage_scores(fcn8, x)
    assert list(stages) == ["1/32", "1/32 + 1/16", "1/32 + 1/16 + 1/8"]
    for cls, name in ((FCN32s, "1/32"), (FCN16s, "1/32 + 1/16")):
        head = cls(**TINY)
        head.copy_params_from(fcn8)
        np.testing.assert_allclose(stages[name], _forward(head.eval(), x)[0], rtol=1e-5,
                                   atol=1e-5)
    np.testing.assert_array_equal(stages["1/32 + 1/16 + 1/8"], _forward(fcn8, x)[0])
    # the stages differ: the skips add something
    assert not np.allclose(stages["1/32"], stages["1/32 + 1/16 + 1/8"])


def test_stage_predictions_of_one_image_and_of_a_batch(val):
    model = _tiny(FCN8s)
    images = np.stack([val[i][0] for i in range(2)])
    batch = deepjet.stage_predictions(model, images)
    single = deepjet.stage_predictions(model, images[1])
    for name, labels in batch.items():
        assert labels.shape == (2, 40, 40) and labels.dtype == np.int64
        assert single[name].shape == (40, 40)
        assert (labels[1] != single[name]).mean() < 0.01     # batched GEMMs may round apart
    np.testing.assert_array_equal(single["1/32 + 1/16 + 1/8"], minifcn.predict(model, images[1]))


def test_evaluate_stages_scores_each_stage_whole_and_near_boundaries(val):
    model = _tiny(FCN8s)
    results = deepjet.evaluate_stages(model, val, k=3, batch_size=1)
    assert list(results) == ["1/32", "1/32 + 1/16", "1/32 + 1/16 + 1/8"]
    whole = minifcn.evaluate(model, val)
    assert results["1/32 + 1/16 + 1/8"]["mean_iu"] == pytest.approx(whole["mean_iu"])
    labels = [val[i][1] for i in range(len(val))]
    for name, scores in results.items():
        preds = [deepjet.stage_predictions(model, val[i][0])[name] for i in range(len(val))]
        assert scores["mean_iu"] == pytest.approx(
            metrics.label_accuracy_score(labels, preds, val.n_class)[2])
        assert scores["boundary_iu"] == pytest.approx(
            metrics.boundary_iu(labels, preds, val.n_class, k=3))
        assert set(scores) == {"acc", "acc_cls", "mean_iu", "fwavacc", "boundary_iu"}
    batched = deepjet.evaluate_stages(model, val, k=3, batch_size=2, limit=2)
    assert set(batched) == set(results)


def test_plot_stages_draws_every_stage_with_its_scores(val, tmp_path):
    model = _tiny(FCN16s)
    results = deepjet.evaluate_stages(model, val, limit=2)
    fig = deepjet.plot_stages(model, val, [0, 1], results)
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles[0] == "image" and titles[-1] == "ground truth"
    assert titles[1].startswith("1/32\nmean IU") and "boundary IU" in titles[2]
    assert len(fig.axes) == 2 * 4
    minifcn.plots.pyplot().close(fig)
    assert deepjet.plot_stages(model, val, [0], path=str(tmp_path / "jet.png")).endswith(".png")


def test_a_model_without_a_deep_jet_is_refused():
    with pytest.raises(TypeError, match="need an FCN, got VGG16"):
        deepjet.model_stages(VGG16(base_channels=2, fc_channels=8))


def test_image_extent_places_a_blob_by_its_coordinate_map():
    # FCN-32s's score_fr: pixel o at 32·o + 12.5 (minifcn.geometry's worked example), so a
    # 3×4 blob spans 12.5 − 16 … 12.5 + 32·3.5 across and 12.5 − 16 … 12.5 + 32·2.5 down.
    model = FCN32s(**TINY)
    assert deepjet.image_extent(model.score_fr_path(), (1, 5, 3, 4)) == (-3.5, 124.5, 92.5, -3.5)
    assert deepjet.image_extent([], (2, 2)) == (-0.5, 1.5, 1.5, -0.5)     # the image itself


def test_separable_upsampling_equals_the_bilinear_deconvolution_and_crop(xp):
    # Two 2×2 pools (blob pixel o at 4·o + 1.5), then ×4: kernel 8, stride 4, crop at 2; the
    # deconvolved map is (5 + 1)·4 = 24 rows, so 22 fit after the crop and 23 do not.
    from minifcn.functional import bilinear_weight, conv_transpose2d_forward
    path = [("pool", 2, 2, 0), ("pool", 2, 2, 0)]
    blob = np.random.default_rng(2).standard_normal((2, 3, 5, 4))
    deconv, _ = conv_transpose2d_forward(blob, bilinear_weight(3, 3, 8, np.float64), stride=4)
    expect = deconv[:, :, 2:2 + 19, 2:2 + 15]
    out = deepjet.upsample_to_image(xp.asarray(blob), path, (19, 15))
    assert type(out) is type(xp.asarray(blob))          # stays on its device
    np.testing.assert_allclose(minifcn.to_cpu(out), expect, rtol=1e-12, atol=1e-12)
    # 23 rows do not fit in 24 − 2: the blob is extended by one copy of its last row, and
    # a blob that starts inside the image (a 3×3 conv without padding after the pools: the
    # image starts 2 px before the map) by one copy of its first row and column
    tall = np.pad(blob, ((0, 0), (0, 0), (0, 1), (0, 0)), mode="edge")
    deconv, _ = conv_transpose2d_forward(tall, bilinear_weight(3, 3, 8, np.float64), stride=4)
    np.testing.assert_allclose(deepjet.upsample_to_image(blob, path, (23, 15)),
                               deconv[:, :, 2:2 + 23, 2:2 + 15], rtol=1e-12, atol=1e-12)
    inside = path + [("conv", 3, 1, 0)]
    wide = np.pad(blob, ((0, 0), (0, 0), (1, 0), (1, 0)), mode="edge")
    deconv, _ = conv_transpose2d_forward(wide, bilinear_weight(3, 3, 8, np.float64), stride=4)
    np.testing.assert_allclose(deepjet.upsample_to_image(blob, inside, (19, 15)),
                               deconv[:, :, 2:2 + 19, 2:2 + 15], rtol=1e-12, atol=1e-12)
    # a blob at the image's scale is only cropped: a 3×3 conv padded by 2 puts o at o − 1
    np.testing.assert_array_equal(deepjet.upsample_to_image(blob, [("conv", 3, 1, 2)], (3, 2)),
                                  blob[:, :, 1:4, 1:3])
