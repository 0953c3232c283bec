"""matplotlib figures for training runs and lessons (saved to files; no screen needed)."""
import os

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    _plt().close(fig)
    return path


def smooth(values, window=25):
    """Moving average (shorter at the start) for noisy per-iteration losses."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))          # c[i] = sum of the first i values
    i = np.arange(1, v.size + 1)
    w = np.minimum(i, window)
    return (c[i] - c[i - w]) / w


def plot_loss(iterations, losses, path, title="training loss"):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(iterations, losses, color="0.75", lw=0.8, label="per iteration")
    ax.plot(iterations, smooth(losses), color="C0", lw=1.5, label="moving average")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def plot_metrics(history, path, title="validation"):
    """history: list of dicts with 'iteration' and the four metrics."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    its = [h["iteration"] for h in history]
    for key, label in (("mean_iu", "mean IU"), ("acc", "pixel acc"), ("acc_cls", "mean acc"),
                       ("fwavacc", "f.w. IU")):
        ax.plot(its, [h[key] for h in history], marker="o", ms=3, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_predictions(images, labels, preds, path, titles=("image", "ground truth", "prediction"),
                     palette=None):
    """One row per example: the image, its label and the prediction, in ``palette``'s colours
    ((256, 3), ``data.palette.label_palette``; None: VOC's)."""
    from .data.palette import colorize
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.5 * n), squeeze=False)
    for row, (img, lab, pred) in enumerate(zip(images, labels, preds)):
        for col, (im, t) in enumerate(zip((img, colorize(lab, palette), colorize(pred, palette)),
                                          titles)):
            axes[row, col].imshow(im)
            axes[row, col].axis("off")
            if row == 0:
                axes[row, col].set_title(t)
    return _save(fig, path)
