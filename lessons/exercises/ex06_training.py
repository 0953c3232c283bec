"""Exercises for lesson 06: FCN's loss, softmax cross-entropy over pixels with an ignore label,
and one Adam step. Then CS231n's sanity check.

Check with

    python lessons/exercises/check.py 6

The grader compares your answers with stored ones (expected/ex06.npz), for both reductions and
for Adam's first and later steps. Only NumPy and the standard library: the grader refuses a file
that imports minifcn.

Once lessons 01, 02, 04, 05 and 06 pass, ``check.py 6`` ends with the sanity check every
training loop should pass first (CS231n's "overfit a small dataset"): a small FCN made of your
own functions trains on four images until it labels at least 98% of their pixels right. If your
pieces pass one by one but the net cannot learn four images, a gradient is lost between them.
"""
import numpy as np  # noqa: F401  (for your answers)


def softmax_cross_entropy(score, target, ignore_index=255, reduction="mean"):
    """score (N, K, H, W) float, target (N, H, W) int → (loss, dscore).

    p = softmax of score over the class axis (subtract the max first, so exp cannot overflow);
    each pixel whose target is not ``ignore_index`` adds −log p[target] to the loss. 'sum' (the
    reference models' choice) returns the sum, 'mean' divides it by the number of counted pixels
    (but never by 0: with no counted pixel the loss is 0). dscore = dloss/dscore, of score's
    shape: p − onehot(target) at counted pixels, 0 at ignored ones, divided by the count for
    'mean'.
    """
    # TODO: log-probabilities, the target's share of them, the void pixels left out, the
    # reduction; then the gradient.
    raise NotImplementedError("TODO: softmax_cross_entropy")


def adam_step(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update (Kingma & Ba, 2015; lesson 06): → (new param, new m, new v).

    m and v are running averages of the gradient and of its square, both starting at zero;
    t is the number of this step, 1 for the first. Because m and v start at zero they are
    too small in the first steps: divide them by (1 − beta1^t) and (1 − beta2^t) before use.
    The step moves param by lr times the corrected m over (the square root of the corrected v,
    plus eps). Return new arrays (do not change the inputs in place).
    """
    # TODO: the two averages, their corrections, the step.
    raise NotImplementedError("TODO: adam_step")
