"""The four segmentation scores of the FCN papers, from one confusion matrix over the whole set.

hist[i, j] counts the pixels whose true class is i and predicted class j (rows = ground truth).
Pixels whose true label is outside 0..n_class-1 (VOC's 255 "void") are not counted. Then

    pixel acc = Σ_i hist[i, i] / Σ hist                      (fraction of pixels right)
    mean acc  = mean over classes of hist[i, i] / Σ_j hist[i, j]   (per-class recall)
    IU_i      = hist[i, i] / (Σ_j hist[i, j] + Σ_j hist[j, i] − hist[i, i])
    mean IU   = mean over classes of IU_i
    f.w. IU   = Σ_i freq_i · IU_i,  freq_i = Σ_j hist[i, j] / Σ hist   (over classes with freq > 0)

A class that appears in neither truth nor prediction has IU 0/0 = nan and is left out of the
means (nanmean). Scores are accumulated over the set, not averaged per image: an image with few
pixels of a class counts for as little as it holds.
"""
import numpy as np


class ConfusionMatrix:
    """Accumulates an (n_class, n_class) confusion matrix over many label maps (host side)."""

    def __init__(self, n_class):
        self.n_class = int(n_class)
        self.hist = np.zeros((self.n_class, self.n_class), dtype=np.int64)

    def reset(self):
        self.hist[...] = 0

    def update(self, label_true, label_pred):
        """Add one label map, or a batch, of true and predicted class indices (same shape)."""
        label_true = np.asarray(label_true)
        label_pred = np.asarray(label_pred)
        if label_true.shape != label_pred.shape:
            raise ValueError(
                "true and predicted labels differ in shape: "
                f"{label_true.shape} vs {label_pred.shape}"
            )
        n = self.n_class
        # drops 255 ("void") and any other ignore value
        valid = (label_true >= 0) & (label_true < n)
        true = label_true[valid].astype(np.int64)
        pred = label_pred[valid].astype(np.int64)
        if pred.size and (pred.min() < 0 or pred.max() >= n):
            # n·t + p would silently land in another row
            raise ValueError(
                f"predicted labels must be in 0..{n - 1}, got min {pred.min()}, max {pred.max()}"
            )
        self.hist += np.bincount(n * true + pred, minlength=n * n).reshape(n, n)
        return self

    @property
    def iu(self):
        """Per-class intersection over union, (n_class,) float64; nan for classes never seen."""
        hist = self.hist
        diag = np.diag(hist)
        with np.errstate(divide="ignore", invalid="ignore"):
            return diag / (hist.sum(axis=1) + hist.sum(axis=0) - diag)

    def scores(self):
        """{'acc', 'acc_cls', 'mean_iu', 'fwavacc'} as Python floats.

        All four are nan when nothing was counted.
        """
        hist = self.hist
        diag = np.diag(hist)
        iu = self.iu
        with np.errstate(divide="ignore", invalid="ignore"):
            acc = diag.sum() / hist.sum()
            rows = hist.sum(axis=1)
            acc_cls = np.nanmean(diag / rows) if (rows > 0).any() else np.nan
            mean_iu = np.nanmean(iu) if (~np.isnan(iu)).any() else np.nan
            freq = rows / hist.sum()
        fwavacc = (freq[freq > 0] * iu[freq > 0]).sum() if hist.sum() else np.nan
        return {
            "acc": float(acc),
            "acc_cls": float(acc_cls),
            "mean_iu": float(mean_iu),
            "fwavacc": float(fwavacc),
        }


def label_accuracy_score(label_trues, label_preds, n_class):
    """(acc, acc_cls, mean_iu, fwavacc) over sequences of true and predicted label maps.

    The same names and numbers as torchfcn's and Chainer fcn's ``label_accuracy_score``.
    """
    label_trues, label_preds = list(label_trues), list(label_preds)
    if len(label_trues) != len(label_preds):
        raise ValueError(
            f"{len(label_trues)} true label maps but {len(label_preds)} predicted ones"
        )
    matrix = ConfusionMatrix(n_class)
    for label_true, label_pred in zip(label_trues, label_preds):
        matrix.update(label_true, label_pred)
    s = matrix.scores()
    return s["acc"], s["acc_cls"], s["mean_iu"], s["fwavacc"]


# A run "collapses" when one class swallows the predictions: FCN from scratch, or with a rate too
# high for the loss's scale, often ends predicting background everywhere (fcn #25, pytorch-fcn
# #113) while the loss still looks plausible. Two conditions, both needed:
#   nearly all: the class takes at least COLLAPSE_SHARE of the predicted pixels, and
#   far above its labels: the other classes together get less than COLLAPSE_REST_RATIO of the
#   pixels that their labels hold (so a data set that is 97% background, predicted 98%, is fine).
COLLAPSE_SHARE = 0.95
COLLAPSE_REST_RATIO = 0.25


def class_shares(hist):
    """(predicted share, label share) of each class, two (n_class,) float64 arrays, from a
    confusion matrix (rows = truth): the fraction of the counted pixels predicted as, and labelled
    as, each class. Zeros when nothing was counted."""
    hist = np.asarray(hist, dtype=np.float64)
    total = hist.sum()
    if total == 0:
        return np.zeros(len(hist)), np.zeros(len(hist))
    return hist.sum(axis=0) / total, hist.sum(axis=1) / total


def collapsed_class(hist, share=COLLAPSE_SHARE, rest_ratio=COLLAPSE_REST_RATIO):
    """The index of the class the predictions collapsed to, or None (see COLLAPSE_SHARE)."""
    pred, true = class_shares(hist)
    if not pred.any():
        return None
    c = int(pred.argmax())
    if pred[c] >= share and (1 - pred[c]) < rest_ratio * (1 - true[c]):
        return c
    return None


def collapse_warning(hist, class_names=None, iteration=None, iterations=None,
                     share=COLLAPSE_SHARE, rest_ratio=COLLAPSE_REST_RATIO):
    """A warning text when the predictions collapsed to one class (``collapsed_class``), else None.

    It names the usual causes and the flags that address them. Given the evaluation's iteration
    and the run's total, nothing is said in the first quarter of a run: from scratch, a net
    predicts the majority class first (the main job at its first evaluation, iteration 1000 of
    6000: 95.5% background predicted against 73.1% labelled, in a run that ends at 0.85 mean IU),
    so a warning there would fire on healthy runs. The shares are logged all the same.
    """
    if iteration is not None and iterations and iteration < iterations / 4:
        return None
    c = collapsed_class(hist, share, rest_ratio)
    if c is None:
        return None
    pred, true = class_shares(hist)
    name = class_names[c] if class_names is not None else f"class {c}"
    return (
        f"warning: the predictions collapsed to {name!r}: {100 * pred[c]:.1f}% of the predicted "
        f"pixels, against {100 * true[c]:.1f}% of the labels. Likely causes: a learning rate too "
        f"high for the loss's scale (--lr; with --reduction sum the loss grows with the image "
        f"size, so the rate must be tiny, e.g. 1e-10, or use --reduction mean), too few "
        f"iterations (--iterations; from scratch a net first predicts the majority class), or "
        f"class imbalance (--class-weight auto weighs rare classes up). Also try --optimizer adam "
        f"when training from scratch, or --init from a trained model."
    )


# --- accuracy near boundaries -------------------------------------------------------------------
# Where do the skips help? At the boundaries (the paper's Figure 4). But the labels' own void band
# (255, several pixels wide at 128 px) covers the exact boundary, so "pixels within k px of an
# edge" would be nearly all void. Instead: the labelled pixels just outside that band, i.e. those
# with a void pixel or a pixel of another class within k px (a (2k+1)×(2k+1) square around them,
# cut at the image's border). With k = 3 that is a ring 3 px wide along every void band, and
# 3 px on each side of a class change that has no void between.


def _window_extreme(label, k, op):
    """op (xp.maximum or xp.minimum) over the (2k+1)×(2k+1) window around every pixel of the
    last two axes, cut at the border. Separable: along rows, then along columns, one shift at a
    time with plain slices (same code on NumPy and CuPy)."""
    out = label.copy()
    for axis in (-2, -1):
        src = out.copy()                      # the previous pass's result, shifted along `axis`
        n = label.shape[axis]
        for s in range(1, min(k, n - 1) + 1):
            lo = (Ellipsis, slice(None, n - s)) + (slice(None),) * (axis == -2)
            hi = (Ellipsis, slice(s, None)) + (slice(None),) * (axis == -2)
            out[hi] = op(out[hi], src[lo])    # neighbour s before
            out[lo] = op(out[lo], src[hi])    # neighbour s after
    return out


def boundary_band(label, k=3, ignore_index=255):
    """(…, H, W) bool: the labelled pixels with a void pixel or a pixel of another class within
    k px (Chebyshev distance: the (2k+1)×(2k+1) square around them, inside the image).

    label: (H, W) or (N, H, W) class indices, ``ignore_index`` = void, on NumPy or CuPy (the
    result lives where ``label`` does). A pixel differs from something in its window exactly when
    the window's min or max differs from it, so two separable min/max filters do it in O(k).
    """
    from .backend import get_array_module
    xp = get_array_module(label)
    if label.ndim < 2:
        raise ValueError(f"boundary_band: expected (H, W) or (N, H, W) labels, got {label.shape}")
    if int(k) < 1:
        raise ValueError(f"boundary_band: k must be at least 1 pixel, got {k}")
    label = label.astype(xp.int64)
    near_other = ((_window_extreme(label, int(k), xp.maximum) != label)
                  | (_window_extreme(label, int(k), xp.minimum) != label))
    return near_other & (label != ignore_index)


def boundary_labels(label, k=3, ignore_index=255):
    """``label`` with every pixel outside ``boundary_band`` set to ``ignore_index``: fed to a
    ``ConfusionMatrix``, it scores the prediction near the boundaries only."""
    from .backend import get_array_module
    xp = get_array_module(label)
    return xp.where(boundary_band(label, k, ignore_index), label, ignore_index)


def boundary_iu(label_trues, label_preds, n_class, k=3):
    """Mean IU over the pixels of ``boundary_band`` (host label maps, as ``label_accuracy_score``
    takes): how well the outlines are drawn, where the whole-image mean IU is dominated by the
    easy interiors."""
    label_trues, label_preds = list(label_trues), list(label_preds)
    if len(label_trues) != len(label_preds):
        raise ValueError(f"{len(label_trues)} true label maps but {len(label_preds)} "
                         f"predicted ones")
    matrix = ConfusionMatrix(n_class)
    for label_true, label_pred in zip(label_trues, label_preds):
        matrix.update(boundary_labels(np.asarray(label_true), k), label_pred)
    return matrix.scores()["mean_iu"]
