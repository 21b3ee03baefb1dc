"""Benchmark: what a DBN layer and a pretrained fine-tuning epoch cost, through the CLI.

    REVIVAL_DATA_DIR=~/data python scripts/bench_dbn.py [--epochs 3] [--rounds 2] [--device cuda]

Rows, measured back to back in this run on this machine (each the fastest epoch over ``--rounds``
alternating rounds, read from the commands' own epoch lines, so monitoring, TensorBoard and
checkpoints are included as a user gets them):

- ``pretrain-rbm --hidden 500 --binarize none`` on the 50,000 training images;
- ``pretrain-dbn --layers 500,500``: layer 1 (the same 784-500 RBM) and layer 2 (500-500);
- ``compare-dropout`` on 10,000 labelled images, 784-500-500-10 logistic: the baseline's epoch and
  the pretrained variant's epoch (fine-tuning), which must cost the same.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile

EPOCH = re.compile(r"^(?:(layer \d)/\d: )?(?:\[([\w-]+)\] )?epoch (\d+)/\d+ .* (\d+\.\d+)s$")


def epoch_times(cmd: list[str]) -> dict[str, list[float]]:
    """Seconds of each epoch line a command printed, keyed by its layer or variant prefix."""
    out = subprocess.run([sys.executable, "-m", "revival", *cmd, "--no-progress"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr.strip()[-500:]}")
    times = {}
    for line in out.stdout.splitlines():
        m = EPOCH.match(line.strip())
        if m:
            times.setdefault(m.group(1) or m.group(2) or "rbm", []).append(float(m.group(4)))
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--device", a.device, "--logdir", tmp, "--epochs", str(a.epochs)]
        runs = {
            "pretrain-rbm 784-500": [
                "pretrain-rbm",
                "--hidden",
                "500",
                "--binarize",
                "none",
                "--ais-runs",
                "0",
                *common,
            ],
            "pretrain-dbn 500,500": ["pretrain-dbn", "--layers", "500,500", "--sample-steps", "20", *common],
            "compare-dropout 784-500-500-10": [
                "compare-dropout",
                "--preset",
                "pretraining-quick",
                "--train-size",
                "10000",
                "--variants",
                "baseline,pretrained",
                "--pretrain-epochs",
                "1",
                "--eval-train-size",
                "10000",
                *common,
            ],
        }
        for _ in range(a.rounds):
            for name, cmd in runs.items():
                for key, ts in epoch_times(cmd).items():
                    best[(name, key)] = min([*ts, best.get((name, key), float("inf"))])
    rows = [
        ("pretrain-rbm, 784-500 RBM", best[("pretrain-rbm 784-500", "rbm")]),
        ("pretrain-dbn, layer 1 (784-500)", best[("pretrain-dbn 500,500", "layer 1")]),
        ("pretrain-dbn, layer 2 (500-500)", best[("pretrain-dbn 500,500", "layer 2")]),
        ("compare-dropout, baseline epoch (10,000 images)", best[("compare-dropout 784-500-500-10", "baseline")]),
        ("compare-dropout, pretrained epoch (10,000 images)", best[("compare-dropout 784-500-500-10", "pretrained")]),
    ]
    ref = {0: rows[0][1], 1: rows[0][1], 2: rows[0][1], 3: rows[3][1], 4: rows[3][1]}
    print("| what | s / epoch (best) | ratio to its reference |\n| --- | --- | --- |")
    for i, (what, t) in enumerate(rows):
        print(f"| {what} | {t:.2f} | {t / ref[i]:.2f} |")
    print(
        "\nreferences: rows 1-3 against pretrain-rbm's epoch, rows 4-5 against the baseline's; layer 2 does "
        f"{500 * 500 / (784 * 500):.2f}x the matmul work of layer 1"
    )


if __name__ == "__main__":
    main()
