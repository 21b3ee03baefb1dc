"""Mean +- standard deviation over seeds of the points of one or more `revival compare-dropout` run
folders (for instance a first run with seed 0 and a later one with `--seed 1 --seeds 2`): every
point's row is read from its own result.json, rows that differ only in their seed are grouped, and
the table is printed in Markdown, one line per variant and setting, with each seed's figure. Then,
for each pair of variants at the same training-set size, whether their difference is real: the mean
difference over seeds, its standard error over the seeds, and, from the points' saved test
predictions (`test_predictions.npz`), its standard error over the test images and McNemar's exact p
per seed (revival.reporting.significance).

    python scripts/seeds_table.py RUN [RUN ...]

The runs must share their settings apart from the seed (the script refuses runs of different presets,
sizes or epochs, which would mix two experiments into one mean).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from revival.reporting.significance import paired_difference, seeds_se
from revival.runs import load_predictions

SAME = ("preset", "dataset", "layers", "epochs", "lr", "train_size", "activation", "batch_size")
KEY = ("variant", "depth", "train_size", "hidden_dropout", "activation")


def rows_of(run: Path) -> list[dict]:
    """Each point's row, with its folder (``_folder``) for the saved predictions."""
    return [{**json.loads(p.read_text()), "_folder": p.parent} for p in sorted(Path(run).glob("*/result.json"))]


def settings(run: Path) -> dict:
    o = json.loads((Path(run) / "config.json").read_text())["options"]
    return {k: o.get(k) for k in SAME}


def grouped(rows: list[dict], folders: dict | None = None) -> dict:
    """{(variant, depth, ...): {seed: test error in %}}; a seed seen twice for one point is an error.
    ``folders``, when given, gets {(variant, depth, ...): {seed: point folder}}."""
    out: dict = {}
    for r in rows:
        key = tuple(r.get(k) for k in KEY)
        by_seed = out.setdefault(key, {})
        if r["seed"] in by_seed:
            raise SystemExit(f"seed {r['seed']} of {r['variant']} appears in two runs: give each seed once")
        by_seed[r["seed"]] = 100 * r["test_error"]
        if folders is not None and "_folder" in r:
            folders.setdefault(key, {})[r["seed"]] = r["_folder"]
    return out


def differences(groups: dict, folders: dict) -> list[str]:
    """Markdown rows: each pair of groups at one training-set size, over the seeds both have."""
    lines = []
    keys = list(groups)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if a[2] != b[2]:  # another training-set size: not one comparison
                continue
            seeds = sorted(set(groups[a]) & set(groups[b]))
            if not seeds:
                continue
            diffs = [groups[a][s] - groups[b][s] for s in seeds]
            se = seeds_se(diffs)
            paired = []
            for s in seeds:
                pa, pb = (load_predictions(folders.get(k, {}).get(s, Path("/nonexistent"))) for k in (a, b))
                if pa is not None and pb is not None and len(pa[1]) == len(pb[1]) and (pa[1] == pb[1]).all():
                    paired.append((s, paired_difference(pa[0], pb[0], pa[1])))
            img = (
                f"{100 * statistics.mean(d['se'] ** 2 for _, d in paired) ** 0.5 / len(paired) ** 0.5:.2f}"
                if paired
                else "-"
            )
            ps = ", ".join(f"{s}: {d['mcnemar_p']:.2g}" for s, d in paired) or "no saved predictions"
            name = lambda k: f"{k[0]} (depth {k[1]})" if k[1] else k[0]  # noqa: E731
            lines.append(
                f"| {name(a)} | {name(b)} | {a[2]} | {len(seeds)} | {statistics.mean(diffs):+.2f} | "
                f"{'-' if se is None else f'{se:.2f}'} | {img} | {ps} |"
            )
    return lines


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
    folders: dict = {}
    groups = grouped([r for run in a.runs for r in rows_of(run)], folders)
    print("| variant | depth | train size | seeds | test error % (mean +- s.d.) | each seed |")
    print("| --- | --- | --- | --- | --- | --- |")
    for key, by_seed in groups.items():
        errs = [by_seed[s] for s in sorted(by_seed)]
        sd = statistics.stdev(errs) if len(errs) > 1 else float("nan")
        each = ", ".join(f"{s}: {by_seed[s]:.2f}" for s in sorted(by_seed))
        size = "all" if key[2] is None else f"{key[2]:,}"
        print(f"| {key[0]} | {key[1]} | {size} | {len(errs)} | {statistics.mean(errs):.2f} +- {sd:.2f} | {each} |")
    rows = differences(groups, folders)
    if rows:
        print()
        print("Is a difference real? A - B in test error points, mean over the seeds both have; its standard error")
        print(
            "over the seeds and over the test images (paired, from the saved predictions); McNemar's exact p by seed."
        )
        print()
        print("| A | B | train size | seeds | A - B | s.e. (seeds) | s.e. (test images) | McNemar p by seed |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for line in rows:
            print(line)


if __name__ == "__main__":
    main()
