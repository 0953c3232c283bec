"""Correct answers to lesson 07's exercises, written with NumPy only (the grader's tests)."""
import numpy as np


def confusion_matrix(label_true, label_pred, n_class):
    keep = (label_true >= 0) & (label_true < n_class)
    index = n_class * label_true[keep].astype(np.int64) + label_pred[keep]
    return np.bincount(index, minlength=n_class ** 2).reshape(n_class, n_class)


def iu_per_class(hist):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))


def segmentation_scores(hist):
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.diag(hist).sum() / hist.sum()
        acc_cls = np.nanmean(np.diag(hist) / hist.sum(1))
        iu = iu_per_class(hist)
        freq = hist.sum(1) / hist.sum()
    return acc, acc_cls, np.nanmean(iu), (freq[freq > 0] * iu[freq > 0]).sum()
