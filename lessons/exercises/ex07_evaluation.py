"""Exercises for lesson 07: the confusion matrix and the four scores of the FCN papers.

Check with

    python lessons/exercises/check.py 7

The grader compares your answers with minifcn.metrics.ConfusionMatrix (its ``hist``, ``iu`` and
``scores()``), on label maps that contain VOC's void label 255 and classes that never occur.
"""
import numpy as np  # noqa: F401  (for your answers)


def confusion_matrix(label_true, label_pred, n_class):
    """hist (n_class, n_class) int64: hist[t, p] counts the pixels of true class t predicted p.

    Pixels whose true label is not in 0 … n_class − 1 (255, "void") are not counted.
    """
    # TODO: keep the valid pixels, then np.bincount(n_class · t + p, minlength=n_class²).
    raise NotImplementedError("TODO: confusion_matrix")


def iu_per_class(hist):
    """Intersection over union of each class: diag / (row sum + column sum − diag).

    A class that occurs neither in the truth nor in the prediction has 0 / 0: return nan for it.
    """
    # TODO: one line of array arithmetic (under np.errstate(divide="ignore", invalid="ignore")).
    raise NotImplementedError("TODO: iu_per_class")


def segmentation_scores(hist):
    """(pixel accuracy, mean accuracy, mean IU, frequency-weighted IU) from one confusion matrix.

    pixel acc = Σ diag / Σ hist;  mean acc = nanmean(diag / row sums);
    mean IU = nanmean(IU);  f.w. IU = Σ freq · IU over classes with freq > 0, freq = row sums
    / Σ hist. (torchfcn's names: acc, acc_cls, mean_iu, fwavacc.)
    """
    # TODO: the four formulas.
    raise NotImplementedError("TODO: segmentation_scores")
