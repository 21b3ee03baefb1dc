"""``python tests/ray_faults.py ARGS``: ``revival ARGS`` with faults injected into its Ray points, for
the tests of the Ray executor (revival itself has no fault hook).

``REVIVAL_FAULTS="fail:NAME,die-once:NAME"`` (point folder names): ``fail`` raises in every attempt
of point NAME, ``die-once`` kills the worker process in NAME's first attempt (a crashed node). The
wrapper below replaces ``revival.experiments.compare.point_on_worker`` in this driver only; defined in
``__main__``, Ray ships it to the workers by value, with the fault list, and there it calls the
real function.
"""

import os
import sys
from pathlib import Path

import revival.experiments.compare as C
from revival.cli import main

FAULTS = [item.partition(":")[::2] for item in filter(None, os.environ.get("REVIVAL_FAULTS", "").split(","))]


def faulty_point(job, run_path, point, threads):
    name = point.name(job.cfg)
    for kind, target in FAULTS:
        if target != name:
            continue
        if kind == "fail":
            raise RuntimeError(f"injected failure of {name}")
        flag = Path(run_path) / f".{name}.died"
        if kind == "die-once" and not flag.exists():
            flag.write_text("1")
            os._exit(1)
    import revival.experiments.compare  # in the worker: the module as installed, whose point_on_worker is the real one

    return revival.experiments.compare.point_on_worker(job, run_path, point, threads)


if __name__ == "__main__":
    C.point_on_worker = faulty_point
    sys.exit(main(sys.argv[1:], prog_name="revival"))
