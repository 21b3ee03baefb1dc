"""Hand-made features for digits, as the classical pipelines of 1998-2009 built them: pure functions,
numpy in and numpy out, a batch of images at a time.

- :func:`deskew`: each digit sheared upright by its image moments (the "deskewed" rows of LeCun,
  Bottou, Bengio & Haffner 1998, Table 1).
- :func:`hog`: histograms of oriented gradients (Dalal & Triggs 2005) by scikit-image, at one or
  several cell sizes, concatenated.
- :func:`sphog`: oriented-gradient histograms pooled over a pyramid of overlapping blocks (the
  "spatial pyramid HOG" of Maji & Malik 2009), vectorised in numpy.
- :func:`intersection_map`: an explicit feature map whose inner products are the histogram
  intersection kernel sum_i min(x_i, y_i) up to its quantisation, so a linear SVM on the map is the
  intersection-kernel SVM that Maji & Malik (2009, "Fast and accurate digit classification", UC
  Berkeley EECS-2009-159) made fast with an additive map of the same kind.

scikit-image comes with ``pip install 'revival[classic]'``; only :func:`hog` needs it.
"""

from __future__ import annotations

import numpy as np

SIDE = 28  # MNIST's images are 28 x 28
HOG_CELLS, HOG_ORIENTATIONS = (4, 7), 9  # hog's defaults (and revival.sklearn.HOGTransformer's)
# sphog's defaults: (block side, stride) per pyramid level, overlapping by half; 12 signed orientations
SPHOG_BLOCKS, SPHOG_ORIENTATIONS = ((4, 2), (7, 3), (14, 7)), 12


def _as_images(x: np.ndarray) -> np.ndarray:
    """``x`` [n, 784] (MNIST's rows) or [n, H, W] as float64 images [n, H, W]; ValueError otherwise."""
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == SIDE * SIDE:
        x = x.reshape(len(x), SIDE, SIDE)
    if x.ndim != 3:
        raise ValueError(f"expected images [n, 784] or [n, height, width], got shape {x.shape}")
    return x.astype(np.float64)


def moments(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each image's intensity centroid [n, 2] (row, column) and covariance [n, 2, 2] of its pixel
    coordinates weighted by intensity (mu_20, mu_11; mu_11, mu_02 over the total mass)."""
    x = _as_images(images)
    r, c = np.mgrid[: x.shape[1], : x.shape[2]].astype(np.float64)
    mass = x.sum((1, 2)).clip(1e-12)
    cr, cc = (x * r).sum((1, 2)) / mass, (x * c).sum((1, 2)) / mass
    dr, dc = r[None] - cr[:, None, None], c[None] - cc[:, None, None]
    rr = (x * dr * dr).sum((1, 2)) / mass
    rc = (x * dr * dc).sum((1, 2)) / mass
    cc2 = (x * dc * dc).sum((1, 2)) / mass
    cov = np.stack([np.stack([rr, rc], -1), np.stack([rc, cc2], -1)], -2)
    return np.stack([cr, cc], -1), cov


def deskew(images: np.ndarray) -> np.ndarray:
    """Each digit sheared so that its principal stroke stands upright and its centroid is at the
    centre, by its second moments (LeCun et al. 1998): with centroid (r0, c0) and skew
    alpha = mu_11 / mu_20, output pixel (r, c) of an H x W image takes the input at row
    r + r0 - H/2 and column c + alpha (r - H/2) + c0 - W/2 (bilinear interpolation, zero outside;
    H/2 = W/2 = 14 for MNIST). Returns the same shape as ``images`` (rows of 784 stay rows of 784),
    float32."""
    flat = np.asarray(images).ndim == 2
    x = _as_images(images)
    centre, cov = moments(x)
    alpha = cov[:, 0, 1] / cov[:, 0, 0].clip(1e-12)
    r, c = np.mgrid[: x.shape[1], : x.shape[2]].astype(np.float64)
    half_r, half_c = x.shape[1] / 2, x.shape[2] / 2
    src_r = r[None] + (centre[:, 0] - half_r)[:, None, None]
    src_c = c[None] + alpha[:, None, None] * (r[None] - half_r) + (centre[:, 1] - half_c)[:, None, None]
    out = _bilinear(x, src_r, src_c)
    return (out.reshape(len(out), -1) if flat else out).astype(np.float32)


def _bilinear(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``x`` [n, H, W] sampled at fractional (rows, cols) [n, H, W], zero outside the image."""
    n = np.arange(len(x))[:, None, None]
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    out = np.zeros_like(rows)
    for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        h, w_ = x.shape[1], x.shape[2]
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w_)
        out += np.where(inside, x[n, rr.clip(0, h - 1), cc.clip(0, w_ - 1)], 0.0) * w
    return out


def hog(images: np.ndarray, cells: tuple[int, ...] = HOG_CELLS, orientations: int = HOG_ORIENTATIONS) -> np.ndarray:
    """Histograms of oriented gradients (Dalal & Triggs 2005) of each image, one per cell of
    ``cell`` x ``cell`` pixels for every size in ``cells``, ``orientations`` unsigned bins over
    0-180 degrees, each cell's histogram L2-normalised on its own (scikit-image's ``hog`` with
    1 x 1 blocks), concatenated: [n, sum over sizes of (28 // cell)^2 x orientations] for MNIST,
    float32. Images of other sizes work alike (a cell larger than the image shrinks to it)."""
    from skimage.feature import hog as sk_hog  # optional: pip install 'revival[classic]'

    x = _as_images(images)
    out = []
    for img in x:
        parts = [
            sk_hog(
                img,
                orientations=orientations,
                pixels_per_cell=(min(s, img.shape[0]), min(s, img.shape[1])),
                cells_per_block=(1, 1),
                block_norm="L2",
            )
            for s in cells
        ]
        out.append(np.concatenate(parts))
    return np.asarray(out, dtype=np.float32)


def gradients(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's gradient by central differences ([-1, 0, 1] across rows and across columns, zero
    on the image's border, as scikit-image's hog takes them): magnitude and angle atan2(d_row, d_col)
    in [-pi, pi], each [n, H, W] float32."""
    x = _as_images(images).astype(np.float32)
    dr, dc = np.zeros_like(x), np.zeros_like(x)
    dr[:, 1:-1, :] = x[:, 2:, :] - x[:, :-2, :]
    dc[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    return np.hypot(dr, dc), np.arctan2(dr, dc)


def orientation_maps(images: np.ndarray, orientations: int = SPHOG_ORIENTATIONS, signed: bool = True) -> np.ndarray:
    """Each pixel's gradient magnitude shared between the two orientation bins nearest its angle
    (linear interpolation between bin centres (k + 1/2) P / B, P = 2 pi signed, pi unsigned, B =
    ``orientations``; Dalal & Triggs 2005's orientation voting): [n, B, H, W] float32, summing over
    the bins to the magnitude."""
    mag, ang = gradients(images)
    period = 2 * np.pi if signed else np.pi
    pos = np.mod(ang, period) / (period / orientations) - 0.5
    lo = np.floor(pos)
    frac = (pos - lo).astype(np.float32)
    lo = np.mod(lo.astype(np.int64), orientations)
    hi = np.mod(lo + 1, orientations)
    out = np.zeros((mag.shape[0], orientations) + mag.shape[1:], dtype=np.float32)
    for k in range(orientations):
        out[:, k] = mag * (np.where(lo == k, 1 - frac, 0) + np.where(hi == k, frac, 0))
    return out


def sphog(
    images: np.ndarray,
    blocks: tuple[tuple[int, int], ...] = SPHOG_BLOCKS,
    orientations: int = SPHOG_ORIENTATIONS,
    signed: bool = True,
    chunk: int = 2000,
) -> np.ndarray:
    """Spatial-pyramid histograms of oriented gradients, after Maji & Malik 2009 ("Fast and accurate
    digit classification", UC Berkeley EECS-2009-159): the orientation maps of
    :func:`orientation_maps` summed over square blocks at several levels of a pyramid, each level a
    (side, stride) pair of ``blocks`` (by default 4-, 7- and 14-pixel blocks, each overlapping its
    neighbour by about half), every block's histogram h normalised to h / sqrt(|h|^2 + eps^2)
    (eps = 1e-3; a block without ink stays zero), concatenated level by level, block by block
    (row-major), bin by bin: [n, sum over levels of n_rows x n_cols x B] float32 with
    n_rows = (H - side) // stride + 1. For MNIST and the defaults: 13 x 13 + 8 x 8 + 3 x 3 blocks of
    12 bins, 2,904 numbers. Block sums come from an integral image (a summed-area table), so the
    cost does not grow with the block's side.

    Where this may differ from Maji & Malik's features: their report's exact block sides, strides,
    bin count and normalisation could not be read here (their project page describes blockwise
    histograms of local orientations over a pyramid of overlapping blocks); these are revival's
    choices in that spirit."""
    x = _as_images(images)
    out = []
    for start in range(0, len(x), chunk):
        maps = orientation_maps(x[start : start + chunk], orientations, signed)
        n, b, h, w = maps.shape
        table = np.zeros((n, b, h + 1, w + 1), dtype=np.float64)
        table[:, :, 1:, 1:] = maps.cumsum(2, dtype=np.float64).cumsum(3)
        levels = []
        for side, stride in blocks:
            side_r, side_c = min(side, h), min(side, w)
            r0 = np.arange(0, h - side_r + 1, stride)
            c0 = np.arange(0, w - side_c + 1, stride)
            r1, c1 = r0 + side_r, c0 + side_c
            sums = (
                table[:, :, r1[:, None], c1[None, :]]
                - table[:, :, r0[:, None], c1[None, :]]
                - table[:, :, r1[:, None], c0[None, :]]
                + table[:, :, r0[:, None], c0[None, :]]
            )  # [n, B, rows, cols]
            sums = sums.clip(0).transpose(0, 2, 3, 1)  # [n, rows, cols, B]
            norm = np.sqrt((sums**2).sum(-1, keepdims=True) + 1e-6)
            levels.append((sums / norm).reshape(n, -1))
        out.append(np.concatenate(levels, 1).astype(np.float32))
    return np.concatenate(out, 0) if out else np.zeros((0, 0), dtype=np.float32)


def intersection_map(x: np.ndarray, bins: int = 10, top: float = 1.0, sparse: bool = False, chunk: int = 5000):
    """An explicit feature map for the histogram intersection kernel K(x, y) = sum_i min(x_i, y_i)
    on features in [0, top]: each value becomes ``bins`` indicators of t_j < x_i at the bin
    midpoints t_j = (j + 1/2) top / bins, each weighted sqrt(top / bins), so that
    <phi(x), phi(y)> = sum_i (top / bins) #{j : t_j < min(x_i, y_i)}, within top / (2 bins) of
    min(x_i, y_i) per feature (Maji & Malik 2009 approximate the same kernel with a piecewise-linear
    map). A linear classifier on phi is then an intersection-kernel classifier. [n, d] -> [n, d x bins]
    float32; with ``sparse`` a scipy CSR matrix, built ``chunk`` rows at a time (most of a digit's
    map is zero: about 10% of the spatial pyramid's is not, so 60,000 digits take 0.7 GB, not 3.5)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected features [n, d], got shape {x.shape}")
    t = (np.arange(bins, dtype=np.float32) + 0.5) * (top / bins)

    def phi(rows: np.ndarray) -> np.ndarray:
        return ((rows[:, :, None] > t[None, None, :]).astype(np.float32) * np.float32(np.sqrt(top / bins))).reshape(
            len(rows), -1
        )

    if not sparse:
        return phi(x)
    from scipy import sparse as sp  # scikit-learn's dependency: pip install 'revival[classic]'

    parts = [sp.csr_matrix(phi(x[i : i + chunk])) for i in range(0, len(x), chunk)]
    return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, x.shape[1] * bins), dtype=np.float32)


# the hand-made pipelines compare-dropout's feature variants run, by name: grey levels [n, 784] in
# [0, 1] -> features [n, d]
PIPELINES = {
    "deskew": lambda x: deskew(x),
    "hog": lambda x: hog(x),
    "deskew-hog": lambda x: hog(deskew(x)),
    # the gradient histograms of deskewed digits through the intersection kernel's feature map (a
    # cell's L2-normalised histogram lies in [0, 1]); 5 levels a feature
    "deskew-hog-intersection": lambda x: intersection_map(hog(deskew(x)), bins=5),
    "sphog": lambda x: sphog(x),
    "deskew-sphog": lambda x: sphog(deskew(x)),
    # the spatial pyramid's histograms through the intersection kernel's map, as Maji & Malik 2009
    # used them, of deskewed digits (a sparse matrix: 14,520 features, 90% zero)
    "deskew-sphog-intersection": lambda x: intersection_map(sphog(deskew(x)), bins=5, sparse=True),
}


def transform(pipeline: str, x: np.ndarray):
    """The features of :data:`PIPELINES` ``pipeline`` for grey-level images ``x`` [n, 784], float32 (a
    numpy array, or a scipy CSR matrix where the pipeline's map is sparse)."""
    out = PIPELINES[pipeline](x)
    return out if hasattr(out, "tocsr") else np.asarray(out, dtype=np.float32)


def stack_rows(a, b):
    """Rows of ``a`` then rows of ``b``: numpy arrays or scipy sparse matrices (training + validation)."""
    if hasattr(a, "tocsr"):
        from scipy import sparse as sp

        return sp.vstack([a, b], format="csr")
    return np.concatenate([a, b])
