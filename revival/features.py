"""Hand-made features for digits, as the classical pipelines of 1998-2009 built them: pure functions,
numpy in and numpy out, a batch of images at a time.

- :func:`deskew`: each digit sheared upright by its image moments (the "deskewed" rows of LeCun,
  Bottou, Bengio & Haffner 1998, Table 1).
- :func:`hog`: histograms of oriented gradients (Dalal & Triggs 2005) by scikit-image, at one or
  several cell sizes, concatenated.
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


def intersection_map(x: np.ndarray, bins: int = 10, top: float = 1.0) -> np.ndarray:
    """An explicit feature map for the histogram intersection kernel K(x, y) = sum_i min(x_i, y_i)
    on features in [0, top]: each value becomes ``bins`` indicators of t_j < x_i at the bin
    midpoints t_j = (j + 1/2) top / bins, each weighted sqrt(top / bins), so that
    <phi(x), phi(y)> = sum_i (top / bins) #{j : t_j < min(x_i, y_i)}, within top / (2 bins) of
    min(x_i, y_i) per feature (Maji & Malik 2009 approximate the same kernel with a piecewise-linear
    map). A linear classifier on phi is then an intersection-kernel classifier. [n, d] -> [n, d x bins]."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected features [n, d], got shape {x.shape}")
    t = (np.arange(bins, dtype=np.float32) + 0.5) * (top / bins)
    phi = (x[:, :, None] > t[None, None, :]).astype(np.float32) * np.float32(np.sqrt(top / bins))
    return phi.reshape(len(x), -1)


# the hand-made pipelines compare-dropout's feature variants run, by name: grey levels [n, 784] in
# [0, 1] -> features [n, d]
PIPELINES = {
    "deskew": lambda x: deskew(x),
    "hog": lambda x: hog(x),
    "deskew-hog": lambda x: hog(deskew(x)),
    # the gradient histograms of deskewed digits through the intersection kernel's feature map (a
    # cell's L2-normalised histogram lies in [0, 1]); 5 levels a feature
    "deskew-hog-intersection": lambda x: intersection_map(hog(deskew(x)), bins=5),
}


def transform(pipeline: str, x: np.ndarray) -> np.ndarray:
    """The features of :data:`PIPELINES` ``pipeline`` for grey-level images ``x`` [n, 784], float32."""
    return np.asarray(PIPELINES[pipeline](x), dtype=np.float32)
