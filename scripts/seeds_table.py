"""Mean +- standard deviation over seeds of the points of one or more `revival compare-dropout` run
folders (for instance a first run with seed 0 and a later one with `--seed 1 --seeds 2`): every
point's row is read from its own result.json, rows that differ only in their seed are grouped, and
the table is printed in Markdown, one line per variant and setting, with each seed's figure.

    python scripts/seeds_table.py RUN [RUN ...]

The runs must share their settings apart from the seed (the script refuses runs of different presets,
sizes or epochs, which would mix two experiments into one mean).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

SAME = ("preset", "dataset", "layers", "epochs", "lr", "train_size", "activation", "batch_size")
KEY = ("variant", "depth", "train_size", "hidden_dropout", "activation")


def rows_of(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(run).glob("*/result.json"))]


def settings(run: Path) -> dict:
    o = json.loads((Path(run) / "config.json").read_text())["options"]
    return {k: o.get(k) for k in SAME}


def grouped(rows: list[dict]) -> dict:
    """{(variant, depth, ...): {seed: test error in %}}; a seed seen twice for one point is an error."""
    out: dict = {}
    for r in rows:
        by_seed = out.setdefault(tuple(r.get(k) for k in KEY), {})
        if r["seed"] in by_seed:
            raise SystemExit(f"seed {r['seed']} of {r['variant']} appears in two runs: give each seed once")
        by_seed[r["seed"]] = 100 * r["test_error"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    a = ap.parse_args()
    first = settings(a.runs[0])
    for run in a.runs[1:]:
        other = settings(run)
        differ = [k for k in SAME if other[k] != first[k]]
        if differ:
            raise SystemExit(f"{run}: other {', '.join(differ)} than {a.runs[0]}; seeds of one experiment only")
    groups = grouped([r for run in a.runs for r in rows_of(run)])
    print("| variant | depth | seeds | test error % (mean +- s.d.) | each seed |")
    print("| --- | --- | --- | --- | --- |")
    for key, by_seed in groups.items():
        errs = [by_seed[s] for s in sorted(by_seed)]
        sd = statistics.stdev(errs) if len(errs) > 1 else float("nan")
        each = ", ".join(f"{s}: {by_seed[s]:.2f}" for s in sorted(by_seed))
        print(f"| {key[0]} | {key[1]} | {len(errs)} | {statistics.mean(errs):.2f} +- {sd:.2f} | {each} |")


if __name__ == "__main__":
    main()
