"""Pretraining vs random initialisation across labelled-set sizes and depths (Erhan et al. 2010).

    REVIVAL_DATA_DIR=~/data python scripts/reproduce_dbn.py                 # CPU length
    python scripts/reproduce_dbn.py --scale 5 --device cuda                          # longer, on a GPU

For each labelled-set size it runs one ``revival compare-dropout`` experiment with the variants
baseline, dropout (random init), pretrained and pretrained-dropout (a DBN pretrained without labels
on the same examples, then fine-tuned), over ``--depths`` hidden layers of ``--width`` logistic
units and ``--seeds`` seeds. Smaller sets get more epochs (a fixed budget of example presentations,
so every size sees a comparable number of updates without the 50,000-image runs dominating), and
``--scale`` multiplies every epoch count. Then it writes one markdown table: test error (mean +-
standard deviation over seeds) per variant, size and depth, the gain from pretraining (random
minus pretrained, with and without dropout) beside the seed spread, and the papers' rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import revival.api

VARIANTS = ["baseline", "dropout", "pretrained", "pretrained-dropout"]
# test error in %, with trust marks (V verbatim, S several sources, U unconfirmed); the architecture each belongs to
PAPER_ROWS = [
    (
        "Hinton & Salakhutdinov 2006 (citing others)",
        "best randomly initialised backprop of the time, other nets (a literature figure, not this architecture)",
        "1.6",
        "S",
    ),
    ("Hinton & Salakhutdinov 2006", "784-500-500-2000-10, 60,000 labels: DBN-pretrained", "1.2", "S"),
    ("Srivastava et al. 2014, Table 2", "DBN 500-500-2000 + fine-tuning", "1.18", "U"),
    ("Srivastava et al. 2014, Table 2", "DBN 500-500-2000 + dropout fine-tuning", "0.92", "S"),
    ("Erhan et al. 2010", "gain from pretraining grows as depth grows and labelled data shrink", "(figures)", "S"),
]


def epochs_for(size: int, budget: int, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(budget / size))))


def use_free_cores():
    """torch's threads as ``--threads auto`` sets them: the cores free now (one per core collapses on a busy machine)."""
    import torch

    from revival.threads import auto_threads

    torch.set_num_threads(auto_threads()[0])


def run_size(a, size: int, stamp: str) -> dict:
    epochs = epochs_for(size, a.budget * a.scale, 3 * a.scale, 60 * a.scale)
    pre_epochs = epochs_for(size, a.pretrain_budget * a.scale, 2 * a.scale, 30 * a.scale)
    options = {
        "preset": "pretraining-quick",
        "variants": a.variants.split(","),
        "train_size": size,
        "depths": [int(d) for d in a.depths.split(",")],
        "width": a.width,
        "seeds": a.seeds,
        "epochs": epochs,
        "pretrain_epochs": pre_epochs,
        "eval_train_size": min(size, 5000),
        "mc_samples": 0,
        "device": a.device,
    }
    print(
        "$ revival compare-dropout " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items()), flush=True
    )
    t0 = time.perf_counter()
    s = revival.api.compare_dropout(a.logdir, f"{stamp}-n{size}", echo=lambda line: None, **options)
    print(
        f"  {time.perf_counter() - t0:.0f} s, {epochs} epochs, pretraining {pre_epochs} epochs/layer: {s['run']}",
        flush=True,
    )
    return {
        "rows": s["rows"],
        "epochs": epochs,
        "pretrain_epochs": pre_epochs,
        "seconds": time.perf_counter() - t0,
        "run": s["run"],
    }


def table(results: dict, a) -> str:
    sizes = sorted(results)
    depths = [int(d) for d in a.depths.split(",")]
    err = {}
    for n, res in results.items():
        for r in res["rows"]:
            err.setdefault((r["variant"], n, r["depth"]), []).append(100 * r["test_error"])
    fmt = lambda xs: f"{np.mean(xs):.2f} +- {np.std(xs, ddof=1):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"  # noqa: E731
    lines = [
        "| variant | depth | " + " | ".join(f"{n} labels" for n in sizes) + " |",
        "| --- | --- |" + " --- |" * len(sizes),
    ]
    for v in a.variants.split(","):
        for dp in depths:
            lines.append(f"| {v} | {dp} | " + " | ".join(fmt(err[(v, n, dp)]) for n in sizes) + " |")
    lines += [
        "",
        "Gain from pretraining, test error points (random minus pretrained, mean over seeds; paired by seed, "
        "so the spread is of the per-seed differences):",
        "",
        "| comparison | depth | " + " | ".join(f"{n} labels" for n in sizes) + " |",
        "| --- | --- |" + " --- |" * len(sizes),
    ]
    for rnd, pre in (("baseline", "pretrained"), ("dropout", "pretrained-dropout")):
        if (rnd, sizes[0], depths[0]) not in err or (pre, sizes[0], depths[0]) not in err:
            continue
        for dp in depths:
            cells = []
            for n in sizes:
                diff = np.array(err[(rnd, n, dp)]) - np.array(err[(pre, n, dp)])
                sd = np.std(diff, ddof=1) if len(diff) > 1 else 0.0
                clear = " **clear**" if len(diff) > 1 and diff.mean() > 2 * sd else ""
                cells.append(f"{diff.mean():+.2f} +- {sd:.2f}{clear}")
            lines.append(f"| {rnd} -> {pre} | {dp} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "**clear**: the mean gain exceeds twice the standard deviation of the per-seed gains.",
        "",
        "| run | labels | epochs (fine-tuning) | pretraining epochs / layer | seconds |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{results[n]['run']}` | {n} | {results[n]['epochs']} | {results[n]['pretrain_epochs']} | "
        f"{results[n]['seconds']:.0f} |"
        for n in sizes
    ]
    lines += [
        "",
        "Published (architectures and training differ from the rows above: see the text):",
        "",
        "| source | what | test error % | trust |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {s} | {w} | {e} | {t} |" for s, w, e, t in PAPER_ROWS]
    return "\n".join(lines) + "\n"


def figure(results: dict, a, path: Path):
    """Test error against the number of labelled examples (log x), one line per variant, a panel
    per depth, bands of +-1 standard deviation over seeds (Erhan et al. 2010's picture)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from revival.reporting.figures import Panel, Series, draw, save

    sizes = sorted(results)
    panels = []
    for dp in [int(d) for d in a.depths.split(",")]:
        p = Panel(
            f"{dp} hidden layer{'s' if dp > 1 else ''} of {a.width}",
            "labelled training examples",
            "test error %",
            logx=True,
        )
        for i, v in enumerate(a.variants.split(",")):
            errs = [
                [100 * r["test_error"] for r in results[n]["rows"] if r["variant"] == v and r["depth"] == dp]
                for n in sizes
            ]
            if not all(errs):
                continue
            m, sd = [float(np.mean(e)) for e in errs], [float(np.std(e, ddof=1)) if len(e) > 1 else 0.0 for e in errs]
            p.series.append(
                Series(v, sizes, m, [x - d for x, d in zip(m, sd)], [x + d for x, d in zip(m, sd)], style=i)
            )
        panels.append(p)
    save(draw(panels, "random init vs DBN pretraining, with and without dropout", len(panels)), path.parent, path.stem)


def from_runs(folders: list[str]) -> dict:
    """Results read back from existing experiment folders (one per size), to redraw without training."""
    out = {}
    for f in folders:
        s = json.loads((Path(f) / "summary.json").read_text())
        cfg = json.loads((Path(f) / "config.json").read_text())["options"]
        out[cfg["train_size"]] = {
            "rows": s["rows"],
            "epochs": cfg["epochs"],
            "pretrain_epochs": cfg["pretrain_epochs"],
            "seconds": float("nan"),
            "run": f,
        }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,50000")
    ap.add_argument("--depths", default="1,2,3")
    ap.add_argument("--width", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--budget", type=int, default=60_000, help="example presentations per fine-tuning run")
    ap.add_argument("--pretrain-budget", type=int, default=30_000, help="example presentations per layer")
    ap.add_argument("--scale", type=int, default=1, help="multiply every epoch count (longer runs)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--logdir", default="runs/reproduce-dbn")
    ap.add_argument("--out", default=None, help="also write the table to this file")
    ap.add_argument("--figure", default=None, help="draw test error against labelled examples into this PNG")
    ap.add_argument(
        "--from-runs",
        nargs="+",
        default=None,
        help="existing experiment folders (one per size) to tabulate and draw instead of training",
    )
    a = ap.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if not a.from_runs:
        use_free_cores()
    results = (
        from_runs(a.from_runs) if a.from_runs else {int(n): run_size(a, int(n), stamp) for n in a.sizes.split(",")}
    )
    md = table(results, a)
    print(md)
    if a.out:
        Path(a.out).write_text(md)
    if a.figure:
        figure(results, a, Path(a.figure))


if __name__ == "__main__":
    main()
