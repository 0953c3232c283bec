"""Exercises for lesson 07: the confusion matrix and the four scores of the FCN papers.

Check with

    python lessons/exercises/check.py 7

The grader compares your answers with stored ones (expected/ex07.npz), on label maps that contain
VOC's void label 255 and classes that never occur. Only NumPy and the standard library: the grader
refuses a file that imports minifcn. The capstone (check.py
--mine) scores its network with your confusion matrix and your scores.
"""
import numpy as np  # noqa: F401  (for your answers)


def confusion_matrix(label_true, label_pred, n_class):
    """hist (n_class, n_class) int64: hist[t, p] counts the pixels of true class t predicted p.

    Pixels whose true label is not in 0 … n_class − 1 (255, "void") are not counted.
    """
    # TODO: which pixels count? Then count each (true, predicted) pair.
    raise NotImplementedError("TODO: confusion_matrix")


def iu_per_class(hist):
    """Intersection over union of each class: diag / (row sum + column sum − diag).

    A class that occurs neither in the truth nor in the prediction has 0 / 0: return nan for it.
    """
    # TODO: intersection and union from the matrix's diagonal, rows and columns.
    raise NotImplementedError("TODO: iu_per_class")


def segmentation_scores(hist):
    """(pixel accuracy, mean accuracy, mean IU, frequency-weighted IU) from one confusion matrix.

    pixel acc = Σ diag / Σ hist;  mean acc = nanmean(diag / row sums);
    mean IU = nanmean(IU);  f.w. IU = Σ freq · IU over classes with freq > 0, freq = row sums
    / Σ hist. (torchfcn's names: acc, acc_cls, mean_iu, fwavacc.)
    """
    # TODO: the four formulas; watch which classes each mean may skip.
    raise NotImplementedError("TODO: segmentation_scores")
