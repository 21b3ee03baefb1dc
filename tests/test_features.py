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
