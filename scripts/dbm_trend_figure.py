"""How a DBM's test log-probability and its nets' test error move with its joint training: one figure
from a `revival pretrain-dbm` run folder, the AIS evaluations of copies of its model.pt taken at some
joint epochs (`revival evaluate-rbm COPY --ais-betas 20000 --ais-schedule uniform --json > FILE`), and
optionally compare-dropout runs fine-tuned from those copies (`--dbm-init COPY`).

    python scripts/dbm_trend_figure.py RUN --ais 100=e100.json [--ais 200=e200.json ...] \
        [--finetune 100=FT_RUN ...] [--out docs/figures/dbm-trend.png]

Panels: the AIS estimate of the test bound at each copy (the bars: log Z's +- 3 standard errors; a bar
open at the top where AIS's lower end of log Z is -inf), the paper's figure dashed; the share of
each hidden layer's units whose posterior varies across images and their mean activity, every joint
epoch (the run's TensorBoard scalars ``dbm/varying_h*``, ``dbm/mean_h*``); with ``--finetune``, the
test error of the nets started from each copy (the ``dbm-pretrained`` rows), the paper's dashed.
It prints the table it draws. Salakhutdinov & Hinton (2009), Deep Boltzmann machines, AISTATS, Table 1
and section 4 give the published figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from revival.reporting.panels import read_scalars  # noqa: E402
from revival.training.dbm_train import MONITOR_ROWS  # noqa: E402

PAPER_BOUND = -84.62  # Salakhutdinov & Hinton 2009, Table 1: the 784-500-1000 DBM on MNIST (unconfirmed copy)
PAPER_ERROR = 0.95  # the same paper, section 4: the net started from it (a DBM with label units)


def pairs(items: list[str], what: str) -> list[tuple[int, str]]:
    out = []
    for item in items:
        epoch, sep, path = item.partition("=")
        if not sep or not epoch.isdigit():
            raise SystemExit(f"{what} {item!r}: expected EPOCH=PATH, e.g. 100=e100.json")
        out.append((int(epoch), path))
    return sorted(out, key=lambda p: p[0])  # by epoch, the command line's order within one


def finetune_error(run: Path) -> tuple[float, str]:
    """The dbm-pretrained row's test error (%) of a compare-dropout run, and how it was fine-tuned."""
    s = json.loads((run / "summary.json").read_text())
    optimizer = json.loads((run / "config.json").read_text())["options"].get("optimizer", "sgd")
    for r in s.get("rows", []):
        if r.get("variant") == "dbm-pretrained":
            return 100 * r["test_error"], optimizer
    raise SystemExit(f"{run}: no dbm-pretrained row in its summary.json")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="the pretrain-dbm run folder")
    ap.add_argument("--ais", action="append", default=[], help="EPOCH=evaluate-rbm --json output of a copy")
    ap.add_argument("--finetune", action="append", default=[], help="EPOCH=compare-dropout run from that copy")
    ap.add_argument("--out", type=Path, default=Path("docs/figures/dbm-trend.png"))
    a = ap.parse_args(argv)

    ais = [(e, json.loads(Path(p).read_text())) for e, p in pairs(a.ais, "--ais")]
    tuned = [(e, finetune_error(Path(p))) for e, p in pairs(a.finetune, "--finetune")]
    sc = read_scalars(a.run)
    depth = len([t for t in sc if t.startswith("dbm/varying_h")])

    print("| joint epoch | test bound (nats) | its interval (log Z +- 3 s.e.) | AIS ESS | fine-tuned test error % |")
    print("| --- | --- | --- | --- | --- |")
    for e in sorted({e for e, _ in ais} | {e for e, _ in tuned}):
        r = dict(ais).get(e)
        errs = ", ".join(f"{err:.2f} ({how})" for x, (err, how) in tuned if x == e) or "-"
        if r is None:
            print(f"| {e} | - | - | - | {errs} |")
            continue
        lo, hi = float(r["avg_log_prob_lower"]), float(r["avg_log_prob_upper"])  # JSON writes an open end as "inf"
        print(
            f"| {e} | {r['avg_log_prob']:.2f} | [{lo:.2f}, {hi:.2f}] | {r.get('ess', float('nan')):.1f} of "
            f"{r.get('ais_runs')} | {errs} |"
        )

    panels = 3 if tuned else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2))
    ax = axes[0]
    if ais:
        xs = [e for e, _ in ais]
        ys = [r["avg_log_prob"] for _, r in ais]
        below = [y - float(r["avg_log_prob_lower"]) for y, (_, r) in zip(ys, ais)]
        above = [float(r["avg_log_prob_upper"]) - y for y, (_, r) in zip(ys, ais)]
        above_open = [not math.isfinite(u) for u in above]
        above = [0 if o else u for u, o in zip(above, above_open)]
        ax.errorbar(xs, ys, yerr=[below, above], fmt="o-", color="C0", capsize=4, label="revival: AIS estimate")
        for x, y, o in zip(xs, ys, above_open):
            if o:  # AIS's lower end of log Z is -inf: the bound's upper end is open
                ax.annotate("", (x, y + 5), (x, y), arrowprops={"arrowstyle": "->", "color": "C0"})
                ax.annotate("upper end open", (x, y + 5), textcoords="offset points", xytext=(4, 0), fontsize=7)
            ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(8, -4), fontsize=8)
    ax.axhline(PAPER_BOUND, ls="--", color="k", lw=1, label=f"paper ({PAPER_BOUND:g}, 500 epochs)")
    last = max(sc["dbm/varying_h1"][0]) if "dbm/varying_h1" in sc else max(e for e, _ in ais)
    ax.set_xlim(0, last * 1.05 + 1)
    ax.set_xlabel("joint training epochs")
    ax.set_ylabel("test log-probability bound (nats / image)")
    ax.set_title("the DBM's test bound (higher is better)")
    ax.legend(fontsize=8, loc="center left")

    ax = axes[1]
    for k in range(1, depth + 1):
        steps, vals = sc[f"dbm/varying_h{k}"]
        ax.plot(steps, vals, color=f"C{k}", label=f"h{k}: share of units that vary")
        steps, vals = sc[f"dbm/mean_h{k}"]
        ax.plot(steps, vals, color=f"C{k}", ls=":", label=f"h{k}: mean activity")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("joint training epochs")
    ax.set_title(f"hidden layers, mean-field on {MONITOR_ROWS:,} training digits")
    ax.legend(fontsize=8)

    if tuned:
        ax = axes[2]
        for k, how in enumerate(sorted({h for _, (_, h) in tuned})):
            pts = [(e, err) for e, (err, h) in tuned if h == how]
            name = {"sgd": "SGD", "cg": "conjugate gradients"}.get(how, how)
            ax.plot(
                [e for e, _ in pts], [v for _, v in pts], "os"[k % 2] + "-", color=f"C{3 + k}", label=f"revival, {name}"
            )
            for e, v in pts:
                ax.annotate(f"{v:.2f}%", (e, v), textcoords="offset points", xytext=(8, 4), fontsize=8)
        ax.axhline(PAPER_ERROR, ls="--", color="k", lw=1, label=f"paper ({PAPER_ERROR}%, a DBM with labels)")
        ax.set_xlabel("joint epochs of the DBM it started from")
        ax.set_ylabel("test error %")
        ax.set_title("fine-tuned 784+1000-500-1000-10 net")
        ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"784-500-1000 DBM on all 60,000 MNIST digits ({a.run.name})", fontsize=10)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"figure: {a.out}")


if __name__ == "__main__":
    main()
