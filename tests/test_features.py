"""Hand-made features against what they must do, on synthetic images whose answer is known."""

import numpy as np
import pytest

from revival import features as F


def slanted_bar(slope: float) -> np.ndarray:
    """A 28 x 28 image of a 3-pixel-wide stroke through the centre, leaning ``slope`` columns per row."""
    img = np.zeros((28, 28), dtype=np.float32)
    for r in range(4, 24):
        c = 14 + slope * (r - 14)
        for dc in (-1, 0, 1):
            cc = int(round(c)) + dc
            if 0 <= cc < 28:
                img[r, cc] = 1.0
    return img


def test_moments_of_an_upright_bar_have_no_cross_term():
    centre, cov = F.moments(slanted_bar(0.0)[None])
    assert centre[0] == pytest.approx([13.5, 14.0], abs=0.01)
    assert abs(cov[0, 0, 1]) < 1e-9 and cov[0, 0, 0] > cov[0, 1, 1]


@pytest.mark.parametrize("slope", [0.4, -0.5])
def test_deskew_straightens_a_slanted_bar(slope):
    x = slanted_bar(slope)[None]
    _, before = F.moments(x)
    out = F.deskew(x)
    centre, after = F.moments(out)
    # the cross term, relative to the stroke's length, goes from the slope's to about nothing
    assert abs(before[0, 0, 1] / before[0, 0, 0]) == pytest.approx(abs(slope), rel=0.1)
    assert abs(after[0, 0, 1] / after[0, 0, 0]) < 0.03
    assert centre[0] == pytest.approx([14.0, 14.0], abs=0.6)  # and the centroid goes to the centre
    assert out.shape == x.shape and out.dtype == np.float32
    assert F.deskew(x.reshape(1, 784)).shape == (1, 784)  # rows stay rows


def test_deskew_leaves_an_upright_centred_digit_alone():
    x = slanted_bar(0.0)[None]
    shifted = F.deskew(x)
    assert np.abs(shifted - F.deskew(shifted)).max() < 1e-4  # deskewing twice changes nothing more


def test_hog_of_a_vertical_edge_puts_its_mass_in_the_horizontal_gradient_bin():
    pytest.importorskip("skimage")
    img = np.zeros((28, 28), dtype=np.float32)
    img[:, 14:] = 1.0  # dark left, bright right: the gradient points along the rows' direction, 0 degrees
    f = F.hog(img[None], cells=(7,), orientations=9)
    assert f.shape == (1, 4 * 4 * 9)
    per_bin = f.reshape(16, 9).sum(0)
    assert per_bin.argmax() == 0 and per_bin[0] > 0.9 * per_bin.sum()
    assert F.hog(img[None], cells=(4, 7)).shape == (1, (7 * 7 + 4 * 4) * 9)  # two cell sizes, concatenated


@pytest.mark.parametrize("bins", [10, 100])
def test_the_intersection_map_gives_the_intersection_kernel_within_its_quantisation(bins):
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 50)), rng.random((30, 50))
    exact = np.minimum(x[:, None, :], y[None, :, :]).sum(-1)
    approx = F.intersection_map(x, bins) @ F.intersection_map(y, bins).T
    assert np.abs(approx - exact).max() <= 50 * 1.0 / (2 * bins) + 1e-4
    assert np.abs(approx - exact).mean() < 50 / (8 * bins)  # the errors of 50 features mostly cancel


def test_bad_shapes_are_refused_with_the_shape():
    with pytest.raises(ValueError, match=r"\(3, 10\)"):
        F.deskew(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="features"):
        F.intersection_map(np.zeros(5))


def test_orientation_maps_vote_a_gradient_between_its_two_nearest_bins():
    """A ramp whose gradient points at 45 degrees (rows and columns rising alike): with 12 signed
    bins of 30 degrees centred at 15, 45, 75, ... the whole magnitude goes to bin 1 (centred at 45);
    at 30 degrees, halfway between the centres 15 and 45, it splits in half between bins 0 and 1;
    the bins always sum to the magnitude."""
    r, c = np.mgrid[:28, :28].astype(np.float64)
    maps = F.orientation_maps(((r + c) / 60.0)[None], orientations=12)
    inner = maps[0, :, 5:-5, 5:-5].reshape(12, -1)
    assert np.allclose(inner[1], inner.sum(0)) and inner[1].min() > 0
    mag, _ = F.gradients(((r + c) / 60.0)[None])
    assert np.allclose(maps.sum(1), mag, atol=1e-6)
    angle = np.deg2rad(30)
    ramp = (np.sin(angle) * r + np.cos(angle) * c) / 60.0
    inner = F.orientation_maps(ramp[None], orientations=12)[0, :, 5:-5, 5:-5].reshape(12, -1)
    assert np.allclose(inner[0], inner[1], rtol=1e-3) and np.allclose(inner[0] + inner[1], inner.sum(0))
    # the opposite direction lands six bins on (signed), the same bin when unsigned
    back = F.orientation_maps((-(r + c) / 60.0)[None], orientations=12)[0, :, 5:-5, 5:-5].reshape(12, -1)
    assert np.allclose(back[7], back.sum(0))
    folded = F.orientation_maps((-(r + c) / 60.0)[None], orientations=6, signed=False)[0, :, 5:-5, 5:-5]
    assert np.allclose(folded.reshape(6, -1)[1], folded.reshape(6, -1).sum(0))


def test_sphog_sums_each_block_as_a_loop_over_its_pixels_would():
    """The integral image's block sums against a brute-force loop over every block of every level,
    then the per-block normalisation; shapes as the docstring counts them."""
    rng = np.random.default_rng(1)
    x = rng.random((3, 28, 28)).astype(np.float32)
    blocks = ((4, 2), (7, 3), (14, 7))
    got = F.sphog(x, blocks=blocks, orientations=12, chunk=2)  # chunks of 2 images: the seams too
    assert got.shape == (3, (13 * 13 + 8 * 8 + 3 * 3) * 12) and got.dtype == np.float32
    maps = F.orientation_maps(x, 12).astype(np.float64)
    want = []
    for img in maps:
        parts = []
        for side, stride in blocks:
            for r0 in range(0, 28 - side + 1, stride):
                for c0 in range(0, 28 - side + 1, stride):
                    h = img[:, r0 : r0 + side, c0 : c0 + side].sum((1, 2))
                    parts.append(h / np.sqrt((h**2).sum() + 1e-6))
        want.append(np.concatenate(parts))
    assert np.allclose(got, np.asarray(want), atol=1e-5)
    assert np.array_equal(F.sphog(x.reshape(3, 784)), F.sphog(x))  # rows of 784 read as images


def test_sphog_of_a_blank_image_is_zero_and_of_an_edge_in_its_bin():
    assert not F.sphog(np.zeros((1, 784))).any()  # no ink: no gradient, every block stays zero
    img = np.zeros((28, 28), dtype=np.float32)
    img[:, 14:] = 1.0  # a vertical edge, bright on the right: the gradient points along +columns, 0 degrees
    f = F.sphog(img[None], blocks=((28, 28),), orientations=12)  # one block: the whole image
    assert f.shape == (1, 12)
    assert f[0, 0] == pytest.approx(f[0, 11], rel=1e-5) and f[0, 0] == pytest.approx(np.sqrt(0.5), rel=1e-3)


def test_the_sparse_intersection_map_is_the_dense_one():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(2)
    x = rng.random((11, 7)) * (rng.random((11, 7)) > 0.5)
    dense = F.intersection_map(x, bins=5)
    sparse = F.intersection_map(x, bins=5, sparse=True, chunk=4)
    assert sp.issparse(sparse) and sparse.shape == dense.shape
    assert np.array_equal(sparse.toarray(), dense)
    both = F.stack_rows(sparse, sparse)
    assert both.shape == (22, 35) and np.array_equal(both.toarray()[11:], dense)
