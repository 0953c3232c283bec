"""Winograd's F(2×2, 3×3): a wide 3×3 stride-1 convolution with 2.25× fewer multiplications.

Lavin and Gray (CVPR 2016). Cut the output into 2×2 tiles; tile (t, s) reads the 4×4 patch d
of the padded input at rows 2t … 2t+3, columns 2s … 2s+3. For one input and one output channel

    y_tile (2×2) = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A

with the 3×3 filter g and the constant matrices below, which is exact in real arithmetic: 16
products per tile where four 3×3 windows take 36. Summed over channels, the ⊙ becomes one
matrix product for each of the 16 positions ξ of the 4×4 transformed tile:

    M[ξ] (O, tiles) = U[ξ] (O, C) @ V[ξ] (C, tiles),     U = G g Gᵀ,  V = Bᵀ d B

16·O·C multiply-adds per tile against im2col's 9·O·C per pixel, 4 pixels a tile. That passes
the GEMM floor that bounds im2col, at the price of the transforms: additions and subtractions of
whole slices, memory-bound and split over channels between threads like im2col's copies. They
cost less than the GEMMs save only with many channels (``applies``); a VGG16-width network
has them from conv3 on.

The backward needs no other algorithm. The data gradient of a stride-1 convolution is the
convolution of dy with the flipped kernel (cpu/conv.py), so it goes through ``conv_apply``. The
weight gradient is the adjoint of the forward above, which is linear in U:

    dU[ξ] (O, C) = Σ_tiles dM[ξ] (O, tiles) @ V[ξ]ᵀ,   dM = A dy_tile Aᵀ,   dW = Gᵀ dU G

Everything runs in bands of tile rows: V and M stay within ``BAND_BYTES`` each, in the
workspace buffer that conv.py's im2col bands use (workspace.py), and the transforms' own
temporaries are about another band's worth. NumPy only: the device takes the textbook im2col
kernels (functional/conv.py). Tested against them and the naive loops in tests/test_winograd.py.
"""
import numpy as np

from . import threads, workspace

# From this many channels on both sides the GEMMs' saving outweighs the transforms' passes
# (bench/RESULTS.md, "Winograd F(2×2, 3×3)").
MIN_CHANNELS = 128
# On smaller maps the 16 GEMMs are too short: at 512 channels, 11×11 (36 tiles) ran at 0.5–0.7×
# im2col's speed and 21×21 (121 tiles) about even (bench/RESULTS.md).
MIN_TILES = 100
# V or M of one band of tile rows, at most. Long GEMMs matter more than the cache here: at 512
# channels bands of 4–8 MiB (a few hundred tiles) ran slower than whole images, while 32 MiB
# was as fast as 64–128 at every VGG16 width (bench/RESULTS.md, "Winograd F(2×2, 3×3)").
BAND_BYTES = 32 * 2 ** 20

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])    # (4, 3)
# vec(G g Gᵀ) = (G ⊗ G) vec(g): the filter transform of every (o, c) in one GEMM.
G_KRON = np.kron(G, G)                                                      # (16, 9)
# Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], so A has −1 in its last row: row 3 of A d Aᵀ is −d's odd
# row and column 3 its odd column. _output_adjoint leaves these signs out; they go into dW here.
_SIGN = np.outer([1, 1, 1, -1], [1, 1, 1, -1]).reshape(16, 1)


def applies(in_channels, out_channels, g):
    """3×3, stride 1, no dilation, padding ≤ 2, MIN_CHANNELS or more on both sides, and an
    output of at least MIN_TILES 2×2 tiles."""
    tiles = ((g.out_hw[0] + 1) // 2) * ((g.out_hw[1] + 1) // 2)
    return (g.kernel == (3, 3) and g.stride == (1, 1) and g.dilation == (1, 1)
            and max(g.padding) <= 2 and min(in_channels, out_channels) >= MIN_CHANNELS
            and tiles >= MIN_TILES)


def filter_transform(w):
    """U (16, O, C) = G g Gᵀ for every 3×3 filter g of w (O, C, 3, 3), position-major."""
    O, C = w.shape[:2]
    return (G_KRON.astype(w.dtype) @ w.reshape(O * C, 9).T).reshape(16, O, C)


def _bt(d, out):
    """out[k] = (Bᵀ d)[k]: the input transform along one axis, d the four rows (or columns) of
    a 4×4 patch, each a slice over every tile.
    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]."""
    np.subtract(d[0], d[2], out=out[0])
    np.add(d[1], d[2], out=out[1])
    np.subtract(d[2], d[1], out=out[2])
    np.subtract(d[1], d[3], out=out[3])


def _padded_band(x, pad, r0, n_rows, even, odd):
    """even, odd (c, n_rows, tw + 1) ← rows [r0, r0 + n_rows) of x (c, H, W), its columns zero
    padded by ``pad`` on the left, the even and odd columns apart (rows outside x are zeros).
    The four columns of tile s are then even[s], odd[s], even[s + 1], odd[s + 1]: contiguous
    slices over all tiles."""
    H, W = x.shape[1:]
    s0, s1 = max(0, r0), min(H, r0 + n_rows)             # x's rows in the band
    for out, col in ((even, 0), (odd, 1)):
        j0 = (col - pad) % 2                               # x's first column of this parity
        c0 = (j0 + pad) // 2                               # where it lands
        n = len(range(j0, W, 2))
        out[:, :s0 - r0] = 0
        out[:, s1 - r0:] = 0
        out[:, s0 - r0:s1 - r0, :c0] = 0
        out[:, s0 - r0:s1 - r0, c0 + n:] = 0
        out[:, s0 - r0:s1 - r0, c0:c0 + n] = x[:, s0:s1, j0::2]


def _input_transform(x, padding, t0, V):
    """V (16, C, rows, tw) ← Bᵀ d B of the tiles in tile rows [t0, t0 + rows) of x (C, H, W)
    zero padded by ``padding`` (ph, pw)."""
    (ph, pw) = padding
    C, rows, tw = V.shape[1:]

    def block(c0, c1):
        even, odd = np.empty((2, c1 - c0, 2 * rows + 2, tw + 1), V.dtype)
        _padded_band(x[c0:c1], pw, 2 * t0 - ph, 2 * rows + 2, even, odd)
        te, to = np.empty((2, 4, c1 - c0, rows, tw + 1), V.dtype)
        for half, t in ((even, te), (odd, to)):            # Bᵀ d: along the rows
            _bt([half[:, a:a + 2 * rows:2] for a in range(4)], t)
        for a in range(4):                                 # (Bᵀ d) B: along the columns
            _bt([te[a][..., :tw], to[a][..., :tw], te[a][..., 1:], to[a][..., 1:]],
                [V[4 * a + b, c0:c1] for b in range(4)])

    threads.over_channels(block, C, V.size, np)


def _output_transform(M, y, t0):
    """y's rows [2·t0, 2·t0 + 2·rows) (O, oh, ow) ← Aᵀ m A of each tile's m in M (16, O, rows,
    tw), Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]; a last odd row or column is cut off."""
    O, rows, tw = M.shape[1:]

    def block(o0, o1):
        m = M[:, o0:o1]
        s = np.empty((2, 4, o1 - o0, rows, tw), M.dtype)
        for b in range(4):                                 # Aᵀ m: along the rows
            np.add(m[b], m[4 + b], out=s[0, b])
            s[0, b] += m[8 + b]
            np.subtract(m[4 + b], m[8 + b], out=s[1, b])
            s[1, b] -= m[12 + b]
        for i in range(2):                                 # (Aᵀ m) A, into y's pixels
            for j in range(2):
                dst = y[o0:o1, 2 * t0 + i:2 * (t0 + rows):2, j::2]
                si = s[i][..., :dst.shape[1], :dst.shape[2]]
                (np.add if j == 0 else np.subtract)(si[j], si[j + 1], out=dst)
                (np.add if j == 0 else np.subtract)(dst, si[j + 2], out=dst)

    threads.over_channels(block, O, M.size // 4, np)


def _output_adjoint(dy, t0, dM):
    """dM (16, O, rows, tw) ← A d Aᵀ for each 2×2 tile d of dy (O, oh, ow) in tile rows
    [t0, t0 + rows), with the signs of A's last row and column left out (``_SIGN``)."""
    O, rows, tw = dM.shape[1:]

    def block(o0, o1):
        # dy's tile rows, even and odd columns apart, zeros past a last odd row or column
        d = np.zeros((2, 2, o1 - o0, rows, tw), dM.dtype)             # [row i][column j]
        band = dy[o0:o1, 2 * t0:2 * (t0 + rows)]
        for i in range(2):
            for j in range(2):
                part = band[:, i::2, j::2]
                d[i, j][:, :part.shape[1], :part.shape[2]] = part
        r = np.empty((2, 2, o1 - o0, rows, tw), dM.dtype)            # A d: rows 1, 2
        np.add(d[0], d[1], out=r[0])
        np.subtract(d[0], d[1], out=r[1])
        for a, ra in enumerate((d[0], r[0], r[1], d[1])):            # (A d) Aᵀ: columns
            out = dM[4 * a:4 * a + 4, o0:o1]
            out[0] = ra[0]
            np.add(ra[0], ra[1], out=out[1])
            np.subtract(ra[0], ra[1], out=out[2])
            out[3] = ra[1]

    threads.over_channels(block, O, dM.size // 4, np)



def _tile_bands(x, out_channels, g):
    """(n, t0, V, M) for each image n and band of tile rows [t0, t0 + rows): V (16, C, rows, tw)
    and M (16, O, rows, tw), side by side in the shared workspace buffer, which the next band
    overwrites. A band holds what fits in BAND_BYTES for the wider of the two."""
    N, C = x.shape[:2]
    O = out_channels
    oh, ow = g.out_hw
    th, tw = (oh + 1) // 2, (ow + 1) // 2                 # 2×2 output tiles down and across
    step = max(1, min(th, BAND_BYTES // (16 * max(C, O) * tw * x.itemsize)))
    buf = workspace.band_buffer(np, 1, 16 * (C + O) * step * tw * x.itemsize, x.dtype,
                                getattr(x, "device", None))
    for n in range(N):
        for t0 in range(0, th, step):
            rows = min(step, th - t0)
            V = buf[:16 * C * rows * tw].reshape(16, C, rows, tw)
            M = buf[16 * C * rows * tw:16 * (C + O) * rows * tw].reshape(16, O, rows, tw)
            yield n, t0, V, M


def conv_apply(x, w, g):
    """y = conv(x, w) without bias where ``applies``: x (N, C, H, W), w (O, C, 3, 3) → y (N, O,
    oh, ow). Per band of tile rows: V = the input transform, 16 GEMMs M[ξ] = U[ξ] @ V[ξ], the
    output transform into y."""
    N, C = x.shape[:2]
    O = w.shape[0]
    U = filter_transform(w)
    y = np.empty((N, O, *g.out_hw), dtype=x.dtype)
    for n, t0, V, M in _tile_bands(x, O, g):
        _input_transform(x[n], g.padding, t0, V)
        np.matmul(U, V.reshape(16, C, -1), out=M.reshape(16, O, -1))
        _output_transform(M, y[n], t0)
    return y


def weight_grad(x, dy, g):
    """dW (O, C, 3, 3) of y = conv(x, w) where ``applies``: Σ over bands of tile rows of
    dM[ξ] @ V[ξ]ᵀ, then Gᵀ dU G. The product's result is (O, C) or its transpose, whichever
    is taller (cpu/conv.py, ``_conv_weight_grad``)."""
    C, O = x.shape[1], dy.shape[1]
    tall = O >= C
    acc = None
    for n, t0, V, dM in _tile_bands(x, O, g):
        _input_transform(x[n], g.padding, t0, V)
        _output_adjoint(dy[n], t0, dM)
        V2, dM2 = V.reshape(16, C, -1), dM.reshape(16, O, -1)
        prod = dM2 @ V2.transpose(0, 2, 1) if tall else V2 @ dM2.transpose(0, 2, 1)
        if acc is None:
            acc = prod
        else:
            acc += prod
    dU = acc if tall else acc.transpose(0, 2, 1)                       # (16, O, C)
    k = (_SIGN * G_KRON).astype(x.dtype)                                 # (16, 9)
    return (dU.reshape(16, O * C).T @ k).reshape(O, C, 3, 3)
