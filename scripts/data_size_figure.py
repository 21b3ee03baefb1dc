"""Test error against training-set size from one or more `revival compare-dropout --preset data-size`
run folders (for instance the sizes up to 10,000 with three seeds, and 50,000 with fewer, run apart):
every point's row is read from its own result.json, rows of the same variant and size are averaged
over seeds (the band is +- one standard deviation), and the table is printed in Markdown. When two
runs hold the same variant at the same size (a longer rerun of some points), the later run on the
command line replaces the earlier one's rows there, and the script says so.

    python scripts/data_size_figure.py RUN [RUN ...] [--out docs/figures/data-size.png]

Srivastava et al. (2014), Figure 10 draws the same axes for a 784-1024-1024-2048-10 net.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ORDER = [
    "baseline",
    "dropout",
    "logistic-regression",
    "knn",
    "svm-rbf",
    "deskew-hog-svm",
    "deskew-hog-iksvm",
    "sphog-iksvm",
]


# what each line is, in the legend (the variant's name first, as the runs and tables call it)
LABELS = {
    "baseline": "baseline: 784-800-800 net",
    "dropout": "dropout: the same net with dropout",
    "logistic-regression": "logistic regression on pixels",
    "knn": "knn: k nearest neighbours on pixels",
    "svm-rbf": "svm-rbf: RBF SVM on pixels",
    "deskew-hog-svm": "deskew-hog-svm: hand-made, RBF SVM",
    "deskew-hog-iksvm": "deskew-hog-iksvm: hand-made, intersection kernel",
    "sphog-iksvm": "sphog-iksvm: hand-made pyramid, intersection kernel",
}


def rows_of(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(run).glob("*/result.json"))]


def table(rows: list[dict]) -> dict:
    """{variant: {size: [test errors in %]}}"""
    out: dict = {}
    for r in rows:
        out.setdefault(r["variant"], {}).setdefault(r["train_size"], []).append(100 * r["test_error"])
    return out


def merge(runs: list[Path], echo=print) -> dict:
    """The runs' tables, a later run's (variant, size) replacing an earlier one's."""
    out: dict = {}
    for run in runs:
        for v, by_size in table(rows_of(run)).items():
            for n, errors in by_size.items():
                if n in out.get(v, {}):
                    echo(f"note: {v} at {n:,} images from {run} (replacing {len(out[v][n])} row(s) of an earlier run)")
                out.setdefault(v, {})[n] = errors
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="PNG to write (else only the table)")
    ap.add_argument("--variants", default=None, help="comma-separated: only these (default: every variant found)")
    a = ap.parse_args()
    t = merge(a.runs)
    if a.variants:
        keep = a.variants.split(",")
        t = {v: by for v, by in t.items() if v in keep}
    sizes = sorted({n for by in t.values() for n in by})
    variants = [v for v in ORDER if v in t] + [v for v in t if v not in ORDER]
    print("| variant | " + " | ".join(f"{n:,}" for n in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for v in variants:
        cells = []
        for n in sizes:
            e = t[v].get(n)
            if not e:
                cells.append("-")
            elif len(e) == 1:
                cells.append(f"{e[0]:.2f} (1 seed)")
            else:
                cells.append(f"{np.mean(e):.2f} +- {np.std(e, ddof=1):.2f} ({len(e)})")
        print(f"| {v} | " + " | ".join(cells) + " |")
    if a.out is None:
        return
    from revival.presets import VARIANTS
    from revival.reporting.figures import Panel, Series, draw, save

    missing = [v for v in variants if sizes[-1] not in t[v]]
    p = Panel(
        "test error against training-set size (mean over seeds, band +- 1 s.d.)"
        + (f"\nnot in these runs at {sizes[-1]:,}: {', '.join(missing)}" if missing else ""),
        "training images (log scale)",
        "test error % (log scale)",
        logx=True,
        logy=True,
    )
    for k, v in enumerate(variants):
        ns = sorted(t[v])
        mean = [float(np.mean(t[v][n])) for n in ns]
        sd = [float(np.std(t[v][n], ddof=1)) if len(t[v][n]) > 1 else 0.0 for n in ns]
        p.series.append(
            Series(
                LABELS.get(v, v),
                ns,
                mean,
                lo=[m - s for m, s in zip(mean, sd)],
                hi=[m + s for m, s in zip(mean, sd)],
                style=k,
                line="-",
            )  # every line solid: in revival's figures a dashed line means training error
        )
    hand = any(VARIANTS[v].get("features") for v in variants if v in VARIANTS)
    fig = draw(
        [p],
        "How much data a deep net needs: MNIST, 784-800-800-10 ReLU nets vs classical models"
        + ("\non pixels and on hand-made features (deskewed digits, gradient histograms)" if hand else ""),
    )
    from matplotlib.ticker import NullFormatter

    ax = fig.axes[0]
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])  # the sizes run, not powers of ten
    ax.xaxis.set_minor_formatter(NullFormatter())
    out = save(fig, a.out.parent, a.out.stem)
    print("figure:", ", ".join(map(str, out)))


if __name__ == "__main__":
    main()
