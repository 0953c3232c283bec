"""matplotlib figures for training runs and lessons (saved to files; no screen needed).

A leaf: arrays and palettes in, figures out (``minifcn.runplots`` draws a run folder's).

Three rules hold for every figure minifcn draws, and the helpers here are how:

- a label map is drawn in the dataset's colours beside a legend that names every class and the
  void (255) pixels: ``draw_label_map`` for one panel, ``class_legend`` for the figure,
  ``plot_label_grid`` for the usual rows of image | ground truth | predictions;
- panels that are compared with each other share their colour limits and one colour bar
  (``draw_shared_scale``), so that the same colour means the same number in every panel;
- text is at least ``MIN_FONT_SIZE`` points (titles ``TITLE_SIZE``).

Every ``plot_*`` function saves to ``path`` and returns it, or, with ``path=None``, returns the
open figure for the caller to add to (and save with ``save_figure``).
"""
import os

import numpy as np

MIN_FONT_SIZE = 9        # points: the smallest text in any figure (ticks, legends)
TITLE_SIZE = 10          # points: panel titles
SUPTITLE_SIZE = 11       # points: figure titles
VOID_NAME = "void (255, ignored)"
METRIC_LABELS = (("mean_iu", "mean IU"), ("acc", "pixel acc"), ("acc_cls", "mean acc"),
                 ("fwavacc", "f.w. IU"))


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no screen)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _figure(*args, **kwargs):
    return pyplot().subplots(*args, **kwargs)


def save_figure(fig, path):
    """Save ``fig`` to ``path`` (folders made as needed), close it, return ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    return path


def _finish(fig, path):
    return fig if path is None else save_figure(fig, path)


# --- label maps ---------------------------------------------------------------------------------
def dataset_palette(dataset):
    """The (256, 3) colours a dataset's labels are drawn in: its ``class_colors`` (your own data,
    ``minifcn.data.prepare``) or, without them, VOC's."""
    from .data.palette import label_palette
    return label_palette(getattr(dataset, "class_colors", None))


def draw_label_map(ax, label, title=None, extent=None, palette=None):
    """Draw a label map (H, W) of class indices (255 = void) on ``ax`` in the dataset's colours.

    palette: (256, 3) uint8 colours by index, ``dataset_palette(ds)`` for a dataset's own class
    colours; None is the VOC colour map. extent: where the map lies in image pixels (imshow's),
    for maps that are not at the image's resolution. Nearest-neighbour drawing: no blended
    colours between classes.
    """
    from .data.palette import voc_palette
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"draw_label_map: expected an H×W label map, got shape {label.shape}")
    colours = voc_palette(256) if palette is None else np.asarray(palette, dtype=np.uint8)
    ax.imshow(colours[label.astype(np.intp)], interpolation="nearest", extent=extent)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=TITLE_SIZE)
    return ax


def class_legend(fig, class_names, palette=None, void=True, ncol=None, **kwargs):
    """One legend for the whole figure, below it: a colour swatch per class, named, and the void
    (255) colour, named too. ``kwargs`` go to ``fig.legend`` (e.g. loc, bbox_to_anchor)."""
    from matplotlib.patches import Patch

    from .data.palette import VOID_INDEX, voc_palette
    colours = voc_palette(256) if palette is None else np.asarray(palette, dtype=np.uint8)
    entries = list(enumerate(class_names)) + ([(VOID_INDEX, VOID_NAME)] if void else [])
    handles = [Patch(facecolor=colours[i] / 255.0, edgecolor="0.3", label=f"{i} {name}"
                     if i != VOID_INDEX else name) for i, name in entries]
    options = dict(loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False,
                   fontsize=MIN_FONT_SIZE, ncol=ncol or min(len(handles), 6))
    return fig.legend(handles=handles, **{**options, **kwargs})


def plot_label_grid(rows, class_names, path=None, col_titles=None, row_titles=None,
                    title=None, palette=None, panel_size=2.0):
    """Rows of panels with one class legend: the usual image | ground truth | predictions figure.

    rows: a list of rows, each a list of arrays; an (H, W, 3) array is drawn as an RGB image, an
    (H, W) array as a label map (``draw_label_map``). col_titles: one per column (the first row's
    titles); row_titles: one per row, on the left. Returns ``path`` or, if None, the figure.
    """
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = _figure(n_rows, n_cols, figsize=(panel_size * n_cols, panel_size * n_rows + 0.4),
                        squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(row):
                ax.axis("off")
                continue
            a = np.asarray(row[c])
            if a.ndim == 2:
                draw_label_map(ax, a, palette=palette)
            else:
                ax.imshow(a)
                ax.set_xticks([])
                ax.set_yticks([])
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[c], fontsize=TITLE_SIZE)
        if row_titles is not None:
            axes[r, 0].set_ylabel(row_titles[r], fontsize=TITLE_SIZE)
    if title:
        fig.suptitle(title, fontsize=SUPTITLE_SIZE)
    fig.tight_layout()
    class_legend(fig, class_names, palette=palette)
    return _finish(fig, path)


def plot_predictions(images, labels, preds, path=None, class_names=None,
                     titles=("image", "ground truth", "prediction"), palette=None):
    """One row per example: the image, its label and the prediction, with the class legend.
    class_names: the dataset's (None: '0', '1', … up to the largest class present); palette:
    its colours ((256, 3), ``data.palette.label_palette``; None: VOC's)."""
    if class_names is None:
        top = max([int(np.max(a[a != 255], initial=0)) for a in (*labels, *preds)] or [0])
        class_names = [str(c) for c in range(top + 1)]
    rows = [[img, lab, pred] for img, lab, pred in zip(images, labels, preds)]
    return plot_label_grid(rows, class_names, path, col_titles=titles, palette=palette)


# --- panels on one colour scale -----------------------------------------------------------------
def draw_shared_scale(axes, arrays, titles=None, cmap="viridis", vmin=None, vmax=None,
                      symmetric=False, label=None, extents=None):
    """Draw 2-D ``arrays`` on ``axes`` with the same colour limits and one colour bar for all.

    The limits are the min and max over all arrays unless given; ``symmetric`` makes them
    ±max|value| (for signed maps such as score differences, with a diverging cmap like 'RdBu_r').
    extents: one imshow extent per panel (or None). label: the colour bar's label.
    Returns the colour bar.
    """
    axes = list(np.ravel(axes))
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    if len(axes) != len(arrays):
        raise ValueError(f"draw_shared_scale: {len(axes)} axes for {len(arrays)} arrays")
    if symmetric:
        lim = max(max(float(np.abs(a).max()) for a in arrays), 1e-12)
        vmin, vmax = (-lim if vmin is None else vmin), (lim if vmax is None else vmax)
    vmin = min(float(a.min()) for a in arrays) if vmin is None else vmin
    vmax = max(float(a.max()) for a in arrays) if vmax is None else vmax
    image = None
    for i, (ax, a) in enumerate(zip(axes, arrays)):
        image = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                          extent=None if extents is None else extents[i])
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=TITLE_SIZE)
    bar = axes[0].figure.colorbar(image, ax=axes, shrink=0.8)
    bar.ax.tick_params(labelsize=MIN_FONT_SIZE)
    if label:
        bar.set_label(label, fontsize=MIN_FONT_SIZE)
    return bar


# --- training curves ----------------------------------------------------------------------------
def smooth(values, window=25):
    """Moving average (shorter at the start) for noisy per-iteration losses."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))          # c[i] = sum of the first i values
    i = np.arange(1, v.size + 1)
    w = np.minimum(i, window)
    return (c[i] - c[i - w]) / w


def draw_loss(ax, iterations, losses, title="training loss"):
    """The loss per iteration (grey: one batch at a time, noisy) and its moving average."""
    ax.plot(iterations, losses, color="0.75", lw=0.8, label="per iteration")
    ax.plot(iterations, smooth(losses), color="C0", lw=1.5, label="moving average")
    # The first iterations of a run from scratch can be 10× the rest and would flatten the
    # curve: the axis stops at the 99th percentile, and says so when it cuts something off.
    losses = np.asarray(losses, dtype=np.float64)
    top = float(np.percentile(losses, 99)) * 1.1 if losses.size else 1.0
    if losses.size and losses.max() > top:
        ax.set_ylim(0, top)
        title += f" (axis cut at {top:.3g}; max {losses.max():.3g})"
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.tick_params(labelsize=MIN_FONT_SIZE)
    ax.legend(fontsize=MIN_FONT_SIZE)
    return ax


def draw_metrics(ax, history, title="validation"):
    """The four scores at each evaluation; history: dicts with 'iteration' and METRIC_LABELS'
    keys. The last mean IU goes in the title."""
    its = [h["iteration"] for h in history]
    for key, label in METRIC_LABELS:
        ax.plot(its, [h[key] for h in history], marker="o", ms=3, label=label)
    if history:
        title += f" (last mean IU {history[-1]['mean_iu']:.3f})"
    ax.set_xlabel("iteration")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.tick_params(labelsize=MIN_FONT_SIZE)
    # beside the axes: the curves can be anywhere in 0..1, and a legend inside would hide one
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=MIN_FONT_SIZE)
    return ax


def plot_loss(iterations, losses, path=None, title="training loss"):
    fig, ax = _figure(figsize=(6, 3.5))
    draw_loss(ax, iterations, losses, title)
    return _finish(fig, path)


def plot_metrics(history, path=None, title="validation"):
    """history: list of dicts with 'iteration' and the four metrics."""
    fig, ax = _figure(figsize=(6, 3.5))
    draw_metrics(ax, history, title)
    return _finish(fig, path)


def plot_training(log_rows, history, path=None, title=None):
    """The training figure: loss per iteration (left), the scores at each evaluation (right),
    over the same iterations. log_rows: dicts with 'iteration' and 'loss'; history: as for
    ``plot_metrics`` (may be empty: a run without evaluations)."""
    fig, (left, right) = _figure(1, 2, figsize=(11, 3.8))
    draw_loss(left, [r["iteration"] for r in log_rows], [r["loss"] for r in log_rows])
    if history:
        draw_metrics(right, history)
        right.set_xlim(left.get_xlim())
    else:
        right.text(0.5, 0.5, "no evaluation in this run", ha="center", va="center",
                   transform=right.transAxes, fontsize=TITLE_SIZE)
        right.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=SUPTITLE_SIZE)
    fig.tight_layout()
    return _finish(fig, path)
