"""How many CPU threads torch gets when ``--threads`` is not given (``auto``). No torch here.

torch's own default, one intra-op thread per core, collapses when other work shares the cores:
its OpenMP threads wait for each other at every parallel region, and a thread that has lost its
core to another process holds all the others up. Measured on a 2-core machine with both cores
busy, the README's main job ran 5-10x slower at 2 threads than at 1 (scripts/bench_threads.py,
docs/benchmarks.md). ``auto`` therefore gives torch the cores that are *free* when the run starts
(never fewer than 1, never more than this process may use), measured over a short window of the
kernel's CPU counters, and an explicit ``OMP_NUM_THREADS`` in the environment wins over that.
"""

from __future__ import annotations

import math
import os
import time

WINDOW_S = 0.2  # how long the idle counters are watched at start
MAX_THREADS = 1024  # more is a typo (torch itself crashes on 100,000)


def omp_threads(env: dict | None = None) -> int | None:
    """``OMP_NUM_THREADS`` as a count (None when unset or not one plain number, e.g. OpenMP's
    nested list "4,2", which torch reads itself); ValueError when it is a number outside
    1..MAX_THREADS, as ``--threads N`` would be refused."""
    env = os.environ if env is None else env
    omp = env.get("OMP_NUM_THREADS", "").strip()
    if not omp.isdigit():
        return None
    if not 1 <= int(omp) <= MAX_THREADS:
        raise ValueError(f"OMP_NUM_THREADS={omp} is not in 1..{MAX_THREADS}; set it to a count of cores or unset it")
    return int(omp)


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs from /proc/stat; None where there is no such file."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    vals = [int(x) for x in parts[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    return idle, sum(vals[:8])  # guest time is already inside user time


def free_cores(window: float = WINDOW_S) -> float:
    """Cores left idle by the rest of the machine over ``window`` seconds (0 .. all of them): the
    idle share of the kernel's CPU counters times the machine's CPU count; where /proc/stat is
    missing, the CPU count minus the 1-minute load average; else every usable core."""
    n = os.cpu_count() or 1
    a = _cpu_times()
    if a is not None:
        time.sleep(window)
        b = _cpu_times()
        if b is not None and b[1] > a[1]:
            return n * (b[0] - a[0]) / (b[1] - a[1])
    try:
        return max(0.0, n - os.getloadavg()[0])
    except (AttributeError, OSError):
        return float(usable_cores())


def auto_threads(env: dict | None = None, free: float | None = None) -> tuple[int, str]:
    """The thread count of ``--threads auto`` and why, in words for config.json and the console.
    ``OMP_NUM_THREADS`` (a positive whole number) wins; otherwise the free cores rounded down
    (a core 70% busy elsewhere is not free), at least 1, at most :func:`usable_cores`."""
    omp = omp_threads(env)
    if omp is not None:
        return omp, "OMP_NUM_THREADS"
    cap = usable_cores()
    f = free_cores() if free is None else free
    n = max(1, min(cap, math.floor(f + 0.25)))  # 1.8 free cores of 2 are 2; 1.6 are 1
    return n, f"{f:.1f} of {os.cpu_count() or cap} cores free at start"
