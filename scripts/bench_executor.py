"""Benchmark: one 12-point compare-dropout grid (train sizes 500 / 1,000 / 2,000 x baseline, dropout
x 2 seeds; 784-256-10 ReLU, 10 epochs) run by the local executor and by Ray with one CPU per point
(two points at a time on a 2-core machine), through the CLI.

    REVIVAL_DATA_DIR=~/data python scripts/bench_executor.py [--points-cpus 1]

Prints the wall time of each, the per-point time, and whether both give the same summary.json rows.
Needs ``pip install "revival[ray]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = [
    "--train-sizes",
    "500,1000,2000",
    "--variants",
    "baseline,dropout",
    "--seeds",
    "2",
    "--layers",
    "256",
    "--epochs",
    "10",
    "--mc-samples",
    "0",
    "--no-progress",
    "--no-figures",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--point-cpus", default="1")
    a = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (
            ("local (torch's threads: every core, one point at a time)", []),
            (
                f"ray ({a.point_cpus} CPU / thread per point, points side by side)",
                ["--executor", "ray", "--point-cpus", a.point_cpus],
            ),
        ):
            logdir = Path(tmp) / str(len(out))
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "revival", "compare-dropout", *GRID, *extra, "--logdir", str(logdir)],
                check=True,
                capture_output=True,
                cwd=root,
                env=env,
            )
            wall = time.perf_counter() - t
            run = next((logdir / "compare-dropout").iterdir())
            out[name] = (wall, json.loads((run / "summary.json").read_text())["rows"])
    print("| executor | wall s (12 points) | s per point |\n| --- | --- | --- |")
    for name, (wall, _) in out.items():
        print(f"| {name} | {wall:.1f} | {wall / 12:.2f} |")
    (w0, r0), (w1, r1) = out.values()
    diff = max(abs(x["test_error"] - y["test_error"]) for x, y in zip(r0, r1))
    print(
        f"\nray / local wall time: {w1 / w0:.2f}x; identical rows: {r0 == r1}; largest test-error difference "
        f"{100 * diff:.2f} points (one thread per point against two: float sums in another order)"
    )


if __name__ == "__main__":
    main()
