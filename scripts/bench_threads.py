"""How many CPU threads should torch use by default? The README's main job timed under each thread
setting, on an idle machine and on one whose cores are all busy with other work.

    python scripts/bench_threads.py                       # idle and loaded, every setting
    python scripts/bench_threads.py --load 0,1,2 --repeats 2

Settings (each a fresh process, as a user runs the command):

- ``1``: ``--threads 1``;
- ``all``: ``--threads <cores>``, torch's own default (one thread per core);
- ``all-passive``: the same with ``OMP_WAIT_POLICY=PASSIVE`` (OpenMP threads sleep instead of
  spinning while they wait for each other);
- ``auto``: revival's default (``--threads auto``: the cores free when the run starts, see
  ``revival.threads``).

The load is ``--load`` busy processes (a pure-Python loop each, one core apiece), started before
the job and stopped after it. Rows of one table are measured back to back in one run: compare
ratios within a table, not times across machines.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time


def spin(stop):
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def run_job(job: list[str], threads: str, env_extra: dict) -> float:
    env = {**os.environ, **env_extra}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "revival",
                *job,
                "--threads",
                threads,
                "--logdir",
                d,
                "--no-progress",
                "--no-figures",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        dt = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"job failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", default="0,2", help="busy processes beside the job, a comma list")
    ap.add_argument("--settings", default="1,all,all-passive,auto")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument(
        "--job",
        default="pretrain-rbm --dataset mnist-sample --epochs 5 --ais-betas 2000",
        help="the revival command timed (the README's main job)",
    )
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    settings = {
        "1": ("1", {}),
        "all": (str(cores), {}),
        "all-passive": (str(cores), {"OMP_WAIT_POLICY": "PASSIVE"}),
        "auto": ("auto", {}),
    }
    print(f"job: revival {a.job} ({cores} cores, torch threads as set; best of {a.repeats})\n")
    print("| busy processes | " + " | ".join(a.settings.split(",")) + " |")
    print("| --- " * (1 + len(a.settings.split(","))) + "|")
    for load in map(int, a.load.split(",")):
        stop = mp.Event()
        procs = [mp.Process(target=spin, args=(stop,), daemon=True) for _ in range(load)]
        for p in procs:
            p.start()
        time.sleep(2.0 if load else 0.0)  # let the load settle before the job looks at the machine
        cells = []
        try:
            for name in a.settings.split(","):
                threads, env = settings[name]
                cells.append(min(run_job(a.job.split(), threads, env) for _ in range(a.repeats)))
        finally:
            stop.set()
            for p in procs:
                p.join()
        print(f"| {load} | " + " | ".join(f"{t:.1f} s" for t in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
