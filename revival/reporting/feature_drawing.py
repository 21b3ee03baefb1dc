"""Drawing what hand-made features see, for figures in notebooks and scripts. This module leaves
matplotlib's backend alone (revival.reporting.figures sets Agg for the headless commands, which
would stop a notebook showing its figures)."""

from __future__ import annotations


def draw_gradient_histograms(ax, image, cell: int = 4, orientations: int = 9):
    """A digit's histograms of oriented gradients (:func:`revival.features.hog`, one cell size) drawn on
    the dimmed digit: in every ``cell`` x ``cell`` cell, a line per orientation bin across its gradient
    direction (so along the edge the bin stands for), as opaque as the bin's share of the cell's
    normalised histogram, in orange. ``image``: one 28 x 28 digit (or its 784 values) in [0, 1]."""
    import numpy as np
    from matplotlib.collections import LineCollection

    from revival import features

    img = np.asarray(image, dtype=np.float32).reshape(features.SIDE, features.SIDE)
    n = features.SIDE // cell
    h = features.hog(img[None], cells=(cell,), orientations=orientations)[0].reshape(n, n, orientations)
    theta = (np.arange(orientations) + 0.5) * np.pi / orientations  # each bin's gradient, from the columns' axis
    along = np.stack([-np.sin(theta), np.cos(theta)], 1)  # (column, row) steps across the gradient
    segs, alpha = [], []
    for i in range(n):
        for j in range(n):
            centre = np.array([j * cell + (cell - 1) / 2, i * cell + (cell - 1) / 2])
            for k in range(orientations):
                segs.append([centre - along[k] * cell / 2, centre + along[k] * cell / 2])
                alpha.append(h[i, j, k])
    colours = np.zeros((len(segs), 4))
    colours[:, :3], colours[:, 3] = (1.0, 0.55, 0.0), np.clip(alpha, 0, 1)
    ax.imshow(img, cmap="gray", vmin=0, vmax=2.5, interpolation="nearest")  # dimmed: the lines carry the figure
    ax.add_collection(LineCollection(segs, colors=colours, linewidths=1.2))
