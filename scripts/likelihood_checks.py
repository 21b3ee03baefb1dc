"""How far to trust an RBM's estimated log-probability: AIS convergence, and calibration on RBMs
small enough to solve exactly.

    REVIVAL_DATA_DIR=~/data python scripts/likelihood_checks.py --sweep runs/.../<CD-1 run>
    REVIVAL_DATA_DIR=~/data python scripts/likelihood_checks.py --calibrate

``--sweep RUN``: evaluates one trained RBM with every combination of ``--betas`` and ``--runs`` by
``revival evaluate-rbm --method sandwich`` and prints log Z, the ESS, AIS's estimate on the RAISE
images and RAISE's conservative estimate for each, so a reader sees whether the number still moves.

``--calibrate``: trains 784-20 RBMs by CD-1 and by PCD with the same settings (``revival
pretrain-rbm``), where 20 hidden units make log Z exact by enumeration, then reports the exact
average test log-probability beside AIS's and RAISE's, whether they bracket it, and by how much
each misses.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def revival(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "revival", *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"revival {' '.join(map(str, args))} failed: {out.stderr.strip()[-400:]}")
    return out.stdout


def evaluate(run, method, betas, runs, raise_examples, base_rate):
    t0 = time.perf_counter()
    res = json.loads(
        revival(
            "evaluate-rbm",
            run,
            "--method",
            method,
            "--ais-betas",
            betas,
            "--ais-runs",
            runs,
            "--raise-examples",
            raise_examples,
            "--base-rate",
            base_rate,
            "--json",
        )
    )
    res["wall"] = time.perf_counter() - t0
    return res


def sweep(a) -> str:
    lines = [
        f"AIS convergence and the RAISE side for `{a.sweep}` (first {a.raise_examples} test images for RAISE):",
        "",
        "| betas | AIS runs | log Z | ESS | AIS, all test images | AIS, RAISE's images | RAISE | gap | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for betas in a.betas.split(","):
        for runs in a.runs.split(","):
            r = evaluate(a.sweep, "sandwich", betas, runs, a.raise_examples, a.base_rate)
            lines.append(
                f"| {int(betas):,} | {int(runs):,} | {r['log_Z']:.2f} | {r['ess']:.1f} | {r['avg_log_prob']:.2f} | "
                f"{r['ais_avg_log_prob_subset']:.2f} | {r['raise_avg_log_prob']:.2f} | {r['sandwich_gap']:.2f} | "
                f"{r['wall']:.0f} |"
            )
            print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


def calibrate(a) -> str:
    lines = [
        f"Calibration on 784-{a.hidden} RBMs ({a.epochs} epochs, lr {a.lr}, momentum 0.5, same seed), where log Z "
        f"is exact by enumeration over the {a.hidden} hidden units; AIS and RAISE with {a.cal_betas} betas, "
        f"{a.cal_runs} AIS runs, RAISE on the first {a.raise_examples} test images:",
        "",
        "| model | exact (same images) | AIS (same images) | AIS miss | RAISE | RAISE miss | bracketed | ESS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, extra in (("CD-1", []), ("PCD", ["--persistent"])):
        out = revival(
            "pretrain-rbm",
            "--hidden",
            a.hidden,
            "--epochs",
            a.epochs,
            "--lr",
            a.lr,
            "--momentum",
            0.5,
            "--ais-runs",
            0,
            "--logdir",
            a.logdir,
            "--name",
            f"calibrate-{name}",
            "--no-progress",
            *extra,
        )
        run = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("run folder: "))
        r = evaluate(run, "sandwich", a.cal_betas, a.cal_runs, a.raise_examples, a.base_rate)
        # the exact value on RAISE's images: same free energies, the exact log Z
        ex = evaluate(run, "exact", a.cal_betas, a.cal_runs, a.raise_examples, a.base_rate)
        exact_subset = r["ais_avg_log_prob_subset"] + r["log_Z"] - ex["log_Z"]
        ais_miss = r["ais_avg_log_prob_subset"] - exact_subset
        raise_miss = r["raise_avg_log_prob"] - exact_subset
        bracket = r["raise_avg_log_prob"] <= exact_subset <= r["ais_avg_log_prob_subset_upper_markov"]
        lines.append(
            f"| {name} | {exact_subset:.3f} | {r['ais_avg_log_prob_subset']:.3f} | {ais_miss:+.3f} | "
            f"{r['raise_avg_log_prob']:.3f} | {raise_miss:+.3f} | {'yes' if bracket else 'NO'} | {r['ess']:.1f} |"
        )
        print(lines[-1], flush=True)
    lines += ["", "bracketed: RAISE <= exact <= AIS's 99% upper bound (estimate + log 100)."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default=None, help="a pretrain-rbm run folder (e.g. the CD-1 one)")
    ap.add_argument("--betas", default="14501,50000")
    ap.add_argument("--runs", default="100,1000")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--hidden", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--cal-betas", type=int, default=14_501)
    ap.add_argument("--cal-runs", type=int, default=100)
    ap.add_argument("--raise-examples", type=int, default=300)
    ap.add_argument("--base-rate", default="clip", choices=["clip", "pseudo-counts"])
    ap.add_argument("--logdir", default="runs/likelihood-checks")
    ap.add_argument("--out", default=None, help="also append the tables to this file")
    a = ap.parse_args()
    text = ""
    if a.sweep:
        text += sweep(a) + "\n"
    if a.calibrate:
        text += calibrate(a)
    if not text:
        ap.error("give --sweep RUN and/or --calibrate")
    print("\n" + text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
