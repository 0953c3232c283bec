"""Correct answers to lesson 06's exercises, written with NumPy only (the grader's tests)."""
import numpy as np


def softmax_cross_entropy(score, target, ignore_index=255, reduction="mean"):
    shifted = score - score.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    counted = target != ignore_index
    safe = np.where(counted, target, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    loss = -(picked * counted).sum()
    grad = np.exp(logp)
    onehot = np.zeros_like(grad)
    np.put_along_axis(onehot, safe[:, None], 1.0, axis=1)
    grad = (grad - onehot) * counted[:, None]
    if reduction == "mean":
        n = max(int(counted.sum()), 1)
        loss, grad = loss / n, grad / n
    return loss, grad


def adam_step(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
