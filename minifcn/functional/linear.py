"""Fully connected layer: the layer FCN turns into a convolution."""


def linear_forward(x, w, b=None):
    """x (N, in_features), w (out_features, in_features), b (out_features,) → (N, out_features)."""
    if x.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(x.shape)} does not match weight "
                         f"{tuple(w.shape)} (expected (N, {w.shape[1]}))")
    out = x @ w.T
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def linear_backward(dout, cache):
    """dout (N, out) → dx (N, in), dw (out, in), db (out,) or None."""
    x, w, has_bias = cache
    return dout @ w, dout.T @ x, (dout.sum(axis=0) if has_bias else None)
