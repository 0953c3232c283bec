"""minifcn.plots: label maps with a class legend, shared colour scales, readable text, and the
training figure drawn from a run folder's CSV files."""
import os

import numpy as np
import pytest

from minifcn import plots, runplots
from minifcn.data.palette import colorize, voc_palette
from minifcn.runfolder import RunFolder

NAMES = ("background", "circle", "square")


def _texts(fig):
    """Every visible text of the figure after drawing (ticks are made at draw time)."""
    from matplotlib.text import Text
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _assert_readable(fig):
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig)
             if t.get_fontsize() < plots.MIN_FONT_SIZE]
    assert not small, small


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plots.pyplot().close("all")


def _label(seed=0, size=12):
    lab = np.random.default_rng(seed).integers(0, 3, size=(size, size))
    lab[0, :] = 255
    return lab


def test_label_grid_draws_the_dataset_colours_and_names_every_class_and_void():
    image = np.full((12, 12, 3), 200, dtype=np.uint8)
    rows = [[image, _label(0), _label(1)], [image, _label(2), _label(3)]]
    fig = plots.plot_label_grid(rows, NAMES, col_titles=["image", "truth", "pred"], title="t")
    axes = fig.axes
    assert len(axes) == 6
    np.testing.assert_array_equal(axes[1].images[0].get_array(), colorize(_label(0)))
    legend = fig.legends[0]
    names = [t.get_text() for t in legend.get_texts()]
    assert names == ["0 background", "1 circle", "2 square", plots.VOID_NAME]
    colours = [tuple(np.round(np.array(h.get_facecolor()[:3]) * 255).astype(int))
               for h in legend.legend_handles]
    assert colours == [tuple(voc_palette()[i]) for i in (0, 1, 2, 255)]
    assert [ax.get_title() for ax in axes[:3]] == ["image", "truth", "pred"]
    _assert_readable(fig)


def test_label_grid_saves_a_png(tmp_path):
    path = plots.plot_label_grid([[_label()]], NAMES, str(tmp_path / "a" / "grid.png"))
    assert path.endswith("grid.png") and os.path.getsize(path) > 1000


def test_draw_label_map_rejects_a_score_map():
    fig, ax = plots._figure()
    with pytest.raises(ValueError, match="H×W label map"):
        plots.draw_label_map(ax, np.zeros((3, 4, 4)))


def test_predictions_figure_has_the_legend_and_class_names():
    image = np.zeros((12, 12, 3), dtype=np.uint8)
    fig = plots.plot_predictions([image], [_label(0)], [_label(1)], class_names=NAMES)
    assert [t.get_text() for t in fig.legends[0].get_texts()][:3] == [
        "0 background", "1 circle", "2 square"]
    # without names: one numbered entry per class up to the largest seen, and void
    fig = plots.plot_predictions([image], [_label(0)], [_label(1)])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "0 0", "1 1", "2 2", plots.VOID_NAME]
    _assert_readable(fig)


def test_shared_scale_gives_every_panel_the_same_limits_and_one_colour_bar():
    fig, axes = plots._figure(1, 3)
    arrays = [np.array([[0.0, 1.0]]), np.array([[-3.0, 0.5]]), np.array([[2.0, 5.0]])]
    bar = plots.draw_shared_scale(axes, arrays, titles=["a", "b", "c"], label="score")
    assert {ax.images[0].get_clim() for ax in axes} == {(-3.0, 5.0)}
    assert bar.mappable.get_clim() == (-3.0, 5.0)
    assert len(fig.axes) == 4                          # three panels and one colour bar
    fig2, axes2 = plots._figure(1, 3)
    plots.draw_shared_scale(axes2, arrays, cmap="RdBu_r", symmetric=True)
    assert {ax.images[0].get_clim() for ax in axes2} == {(-5.0, 5.0)}
    _assert_readable(fig)
    with pytest.raises(ValueError, match="3 axes for 2 arrays"):
        plots.draw_shared_scale(axes, arrays[:2])


def _write_run(path, with_eval=True):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "log.csv"), "w") as f:
        f.write("iteration,loss,seconds\n")
        f.writelines(f"{i},{2.0 / i},{0.1 * i}\n" for i in range(1, 41))
    if with_eval:
        with open(os.path.join(path, "eval.csv"), "w") as f:
            f.write("iteration,acc,acc_cls,mean_iu,fwavacc\n20,0.7,0.4,0.3,0.6\n"
                    "40,0.9,0.8,0.7,0.85\n")


def test_training_figure_is_drawn_from_the_run_folder(tmp_path):
    run = str(tmp_path / "run")
    _write_run(run)
    fig = runplots.plot_run(run, title="FCN-8s, 40 iterations")
    loss_ax, metric_ax = fig.axes
    per_iteration = loss_ax.lines[0]
    np.testing.assert_allclose(per_iteration.get_xdata(), np.arange(1, 41))
    np.testing.assert_allclose(per_iteration.get_ydata(), 2.0 / np.arange(1, 41))
    curves = {line.get_label(): line.get_ydata() for line in metric_ax.lines}
    np.testing.assert_allclose(curves["mean IU"], [0.3, 0.7])
    np.testing.assert_allclose(curves["pixel acc"], [0.7, 0.9])
    assert metric_ax.get_xlim() == loss_ax.get_xlim()
    # the first loss (2.0) is above the 99th percentile · 1.1: the axis is cut, and says so
    assert loss_ax.get_ylim()[1] < 2.0 and "axis cut" in loss_ax.get_title()
    assert "last mean IU 0.700" in metric_ax.get_title()
    _assert_readable(fig)
    assert runplots.plot_run(run, str(tmp_path / "training.png")).endswith("training.png")


def test_training_figure_without_evaluations_says_so(tmp_path):
    run = str(tmp_path / "run")
    _write_run(run, with_eval=False)
    fig = runplots.plot_run(run)
    assert any("no evaluation" in t.get_text() for t in _texts(fig))


def test_run_folder_reads_its_logs_back_as_numbers(tmp_path):
    run = str(tmp_path / "run")
    _write_run(run)
    folder = RunFolder(run)
    log, evals = folder.read_log(), folder.read_evaluations()
    assert len(log) == 40 and log[0] == {"iteration": 1, "loss": 2.0, "seconds": 0.1}
    assert evals[1] == {"iteration": 40, "acc": 0.9, "acc_cls": 0.8, "mean_iu": 0.7,
                        "fwavacc": 0.85}
    folder.start({"model": "fcn8s"}, 20, evals[:1])   # resumed at 20: the evaluation at 40 goes
    assert [e["iteration"] for e in folder.read_evaluations()] == [20]
    assert folder.read_log()[-1]["iteration"] == 20


def test_a_dataset_with_its_own_colours_is_drawn_and_named_in_them():
    class Own:
        class_names = ("soil", "leaf")
        class_colors = ((120, 80, 40), (30, 200, 60))
    palette = plots.dataset_palette(Own())
    fig = plots.plot_label_grid([[np.array([[0, 1], [255, 1]])]], Own.class_names,
                                palette=palette)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array()[0], [[120, 80, 40],
                                                                         [30, 200, 60]])
    colours = [tuple(np.round(np.array(h.get_facecolor()[:3]) * 255).astype(int))
               for h in fig.legends[0].legend_handles]
    assert colours == [(120, 80, 40), (30, 200, 60), tuple(voc_palette()[255])]
