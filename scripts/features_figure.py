"""Figure: what a person designed next to what the machine learned. A few MNIST digits, the same
digits deskewed by their moments (LeCun et al. 1998), their histograms of oriented gradients drawn
on them (Dalal & Triggs 2005; in each 4 x 4-pixel cell a star of nine
lines, one per orientation bin, each drawn along the edges of that bin and as bright as its share),
and beside them
the filters an RBM learns from the same images without being told anything about strokes.

    REVIVAL_DATA_DIR=~/data python scripts/features_figure.py --out docs/figures/hand-made-vs-learned.png

The RBM is trained here (``revival.fit_rbm``: 100 hidden units, 10 epochs of CD-1 on 5,000 training
images, seed 0; about half a minute on a laptop CPU); ``--rbm RUN_OR_FILE`` shows a saved one instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import revival  # noqa: E402
from revival import features as F  # noqa: E402

SHOWN = (0, 1, 2, 3, 4, 7)  # six of the 5,000 training images (a seeded, class-stratified subset)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="hand-made-vs-learned.png")
    ap.add_argument("--rbm", default=None, help="a pretrain-rbm run folder or model.pt to show instead")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    from revival.reporting.feature_drawing import draw_gradient_histograms

    data = revival.load_dataset("mnist", train_size=5000, data_dir=a.data_dir)
    x = np.asarray(data.x_train, dtype=np.float32)
    digits = x[list(SHOWN)]
    upright = F.deskew(digits)
    if a.rbm:
        rbm = revival.load(a.rbm)
    else:
        rbm, _ = revival.fit_rbm(x, revival.RBMConfig(n_hidden=100, epochs=10, seed=0), progress=False, threads=1)
    W = rbm.weight.detach().cpu().numpy()
    order = np.argsort(-np.abs(W).sum(1))[: 2 * len(SHOWN)]  # the filters with most weight: the clearest

    fig, ax = plt.subplots(len(SHOWN), 5, figsize=(7.5, 1.45 * len(SHOWN) + 0.6))
    titles = (
        "digit",
        "deskewed\n(hand-made)",
        "gradient histograms\n(hand-made, orange)",
        "RBM filter\n(learned)",
        "RBM filter\n(learned)",
    )
    for i in range(len(SHOWN)):
        panels = (
            (digits[i].reshape(28, 28), "gray", None),
            (upright[i].reshape(28, 28), "gray", None),
            (upright[i], "hog", None),  # the features' 4 x 4 cells, drawn on the deskewed digit
            (W[order[2 * i]].reshape(28, 28), "RdBu_r", np.abs(W[order[2 * i]]).max()),
            (W[order[2 * i + 1]].reshape(28, 28), "RdBu_r", np.abs(W[order[2 * i + 1]]).max()),
        )
        for j, (img, cmap, lim) in enumerate(panels):
            kw = {"vmin": -lim, "vmax": lim} if lim else {}
            if cmap == "hog":
                draw_gradient_histograms(ax[i, j], img)
            else:
                ax[i, j].imshow(img, cmap=cmap, interpolation="nearest", **kw)
            ax[i, j].set_xticks([])
            ax[i, j].set_yticks([])
            if i == 0:
                ax[i, j].set_title(titles[j], fontsize=9)
    fig.suptitle(
        "Designed by a person (columns 2-3) beside learned from the images (columns 4-5)\n"
        "RBM filters: red raises a hidden unit's input, blue lowers it (weights, 100-unit RBM, 5,000 digits)",
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
