"""The bilinear upsampling filter that FCN initialises its deconvolutions with.

Caffe's ``surgery.upsample_filt``: for a kernel of size k, factor f = (k + 1) // 2 and centre
c = f − 1 (k odd) or f − 0.5 (k even); w[i, j] = (1 − |i − c|/f)(1 − |j − c|/f). With stride f
and k = 2f this transposed convolution is exactly bilinear interpolation by a factor f (away from
the borders): every output pixel gets weights that sum to 1 from its two nearest input pixels per
axis. FCN uses k = 4, s = 2 (×2), k = 16, s = 8 (×8), k = 32, s = 16 and k = 64, s = 32.
"""
import numpy as np

from ..backend import get_array_module


def upsample_filter_1d(kernel_size):
    """The 1-D bilinear filter f (float64): 1 − |i − c|/factor, i = 0 … k−1."""
    k = int(kernel_size)
    factor = (k + 1) // 2
    center = factor - 1 if k % 2 == 1 else factor - 0.5
    og = np.arange(k, dtype=np.float64)
    return 1 - np.abs(og - center) / factor


def upsample_filter(kernel_size, dtype=np.float32):
    """The (k, k) bilinear kernel f ⊗ f."""
    filt = upsample_filter_1d(kernel_size)
    return np.outer(filt, filt).astype(dtype)


def bilinear_weight(in_channels, out_channels, kernel_size, dtype=np.float32):
    """(in, out, k, k) deconvolution weight: the bilinear kernel on the channel diagonal.

    Class c is upsampled into class c only; every other channel pair is zero.
    """
    w = np.zeros((in_channels, out_channels, kernel_size, kernel_size), dtype=dtype)
    filt = upsample_filter(kernel_size, dtype)
    for c in range(min(in_channels, out_channels)):
        w[c, c] = filt
    return w


# --- the frozen bilinear upsampling, per class and separable ---------------------------------
# A deconvolution whose weight is ``bilinear_weight(C, C, k)`` does not mix classes (the weight is
# diagonal across them) and its kernel is an outer product f ⊗ f of the 1-D filter. So per class
# it is out = Uh · x · Uwᵀ, with U the (OH × H) matrix of the 1-D transposed convolution
# (column i holds f at rows i·s − p … i·s − p + k − 1). Two small matrix products per map instead
# of the general path's C²·k² products and k² col2im offsets: for upscore8 (k 16) 256 offsets.
# The general path stays for learned deconvolutions; tests check that both give the same result.

def is_bilinear_weight(w):
    """True when w (C, C, k, k) is exactly ``bilinear_weight(C, C, k)`` in w's dtype.

    One comparison of the weight (a host sync on CuPy). ``nn.ConvTranspose2d`` makes it on every
    forward pass on the CPU, and once per weight array on a GPU, where a frozen weight is only
    ever replaced (``load_state_dict``, ``to``), never updated in place by the optimizers.
    """
    C_in, C_out, kh, kw = w.shape
    if C_in != C_out or kh != kw:
        return False
    xp = get_array_module(w)
    ref = xp.asarray(bilinear_weight(C_in, C_out, kh, dtype=w.dtype))
    return bool(xp.array_equal(w, ref))


def upsample_matrix(size, kernel_size, stride, padding, dtype=np.float32):
    """U (OH, size): the 1-D bilinear transposed convolution as a matrix, OH = (size − 1)·s − 2p
    + k. Built on the host (a few kB) and moved to x's device by the caller."""
    k, s, p = kernel_size, stride, padding
    f = upsample_filter_1d(k)
    full = np.zeros(((size - 1) * s + k, size))
    for i in range(size):
        full[i * s:i * s + k, i] = f
    return full[p:full.shape[0] - p].astype(dtype)


_DEVICE_MATRICES = {}    # (device, size, k, s, p, dtype) → U on that device, copied over once


def _upsample_matrix_like(x, size, kernel_size, stride, padding):
    """``upsample_matrix`` in x's dtype on x's device; on a GPU copied there once per shape, not
    once per forward pass (a host→device copy in every training iteration otherwise)."""
    xp = get_array_module(x)
    u = upsample_matrix(size, kernel_size, stride, padding, x.dtype) if xp is np else None
    if u is None:
        key = (xp.__name__, str(x.device), size, kernel_size, stride, padding, x.dtype.str)
        u = _DEVICE_MATRICES.get(key)
        if u is None:
            u = _DEVICE_MATRICES[key] = xp.asarray(
                upsample_matrix(size, kernel_size, stride, padding, x.dtype))
    return u


def bilinear_upsample_forward(x, kernel_size, stride, padding=0):
    """The deconvolution with weight ``bilinear_weight(C, C, k)``, without bias, per class.

    x (N, C, H, W) → out (N, C, (H−1)·s − 2p + k, (W−1)·s − 2p + k), and a cache.
    """
    xp = get_array_module(x)
    (kh, kw), (sy, sx), (ph, pw) = kernel_size, stride, padding
    uh = _upsample_matrix_like(x, x.shape[2], kh, sy, ph)                 # (OH, H)
    uw = _upsample_matrix_like(x, x.shape[3], kw, sx, pw)                 # (OW, W)
    out = xp.matmul(uh, xp.matmul(x, uw.T))                               # (N, C, OH, OW)
    return out, (uh, uw)


def bilinear_upsample_backward(dout, cache):
    """dout (N, C, OH, OW) → dx (N, C, H, W) = Uhᵀ · dout · Uw per map (the adjoint)."""
    xp = get_array_module(dout)
    uh, uw = cache
    return xp.matmul(uh.T, xp.matmul(dout, uw))
