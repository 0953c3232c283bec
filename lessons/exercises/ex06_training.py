"""Exercise for lesson 06: FCN's loss, softmax cross-entropy over pixels with an ignore label.

Check with

    python lessons/exercises/check.py 6

The grader compares your loss and gradient with minifcn.functional.softmax_cross_entropy_forward
/ _backward and the gradient with numerical gradients, for both reductions.
"""
import numpy as np  # noqa: F401  (for your answers)


def softmax_cross_entropy(score, target, ignore_index=255, reduction="mean"):
    """score (N, K, H, W) float, target (N, H, W) int → (loss, dscore).

    p = softmax of score over the class axis (subtract the max first, so exp cannot overflow);
    each pixel whose target is not ``ignore_index`` adds −log p[target] to the loss. 'sum' (the
    paper's) returns the sum, 'mean' divides it by the number of counted pixels (but never by 0:
    with no counted pixel the loss is 0). dscore = dloss/dscore, of score's shape:
    p − onehot(target) at counted pixels, 0 at ignored ones, divided by the count for 'mean'.
    """
    # TODO: log-softmax, pick the target's log-probability, mask the ignored pixels, reduce;
    # then the gradient.
    raise NotImplementedError("TODO: softmax_cross_entropy")
