"""Where compare-dropout's grid points run (``--executor``): one after another in this process, or
as Ray tasks for sweeps beyond one machine. What a point computes is the caller's (two functions
passed in); this room only runs them, retries, cancels and reports.

A point is self-contained (its options in, its own sub-folder out, ``result.json`` when it
finished), so on Ray each becomes one task that loads its own data, resolves its device on the
worker and writes only its own sub-folder of the run folder, which must therefore be on storage every
worker sees (checked at start: a worker reads a marker the driver wrote and writes one back). The
driver keeps what is shared: the root event file, ``summary.json`` / ``summary.md`` as points
finish, the progress lines. A task that raises or whose worker dies is retried ``--max-retries``
times, then recorded as failed without stopping the others. Ctrl-C cancels what is outstanding.
Ray is an optional extra: ``pip install "revival[ray]"``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from revival import runs

MARKER = ".ray-storage-check"


def _point_task(work, job, run_path: str, point, threads: int) -> dict:
    """One grid point on a Ray worker: ``work(job, run_path, point, threads)`` (a module-level
    function, so Ray ships it by reference)."""
    return work(job, run_path, point, threads)


def _check_task(run_path: str, token: str) -> str:
    p = Path(run_path) / MARKER
    seen = p.read_text() if p.is_file() else ""
    (Path(run_path) / (MARKER + ".worker")).write_text(token[::-1])
    return seen


STORAGE_CHECK_TIMEOUT_S = 120.0  # a check task that has not run by then never will: resources, or no worker


def connect(address: str | None):
    """Join the Ray cluster at ``address`` (``auto``, ``ray://host:port``) or start a local one
    with this machine's CPUs and GPUs. Ray's start-up installs its own SIGTERM handler (which ends
    the driver with SIGABRT and C++ stack lines); revival's handlers are put back, so a SIGTERM
    stops the run like Ctrl-C. A signal during the start-up shuts down what had started.
    ValueError naming --ray-address when the cluster cannot be joined."""

    import ray  # optional: pip install 'revival[ray]'

    if ray.is_initialized():
        return ray
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    if not address:
        # Ray starts its workers at niceness 15, below every other process: on a busy machine a local
        # run's points then crawl (a 2-core machine with one other job: minutes instead of seconds).
        # A local instance exists for this run alone, so its points run at the priority of the run
        # itself, as with --executor local. An explicit RAY_worker_niceness is kept.
        os.environ.setdefault("RAY_worker_niceness", "0")
    try:
        ray.init(log_to_driver=True, **({"address": address} if address else {"include_dashboard": False}))
    except (ConnectionError, RuntimeError, ValueError) as e:
        _shutdown(ray)
        if address:
            raise ValueError(
                f"--ray-address {address}: cannot join a Ray cluster there ({runs.one_line(e)}); "
                "check the address (auto, or ray://HOST:PORT), or leave it out to start one here"
            ) from None
        raise
    except BaseException:
        _shutdown(ray)
        raise
    finally:
        for s, h in old.items():
            if h is not None:
                signal.signal(s, h)
    return ray


def _shutdown(ray):
    try:
        if ray.is_initialized():
            ray.shutdown()
    except Exception:  # noqa: BLE001 - already going down
        pass


@contextlib.contextmanager
def session(cfg):
    """One run's hold on Ray (``--executor ray``; nothing otherwise). Whatever Ray connection the
    run makes inside (``connect``: a local instance started, or a cluster joined by
    ``--ray-address``) is undone when it ends, finished, failed or interrupted: the local instance
    is shut down, a joined cluster is left (it keeps running). So a run from a notebook or another
    program leaves no cluster and no idle workers behind, and the next run connects afresh, to the
    address it names. A Ray the caller had started itself is left as it is."""
    ray = sys.modules.get("ray")  # not imported: not initialized
    mine = cfg.executor == "ray" and not (ray is not None and ray.is_initialized())
    try:
        yield
    finally:
        if mine and (ray := sys.modules.get("ray")) is not None:
            _shutdown(ray)


def check_resources(ray, cfg):
    """``runs.OptionError`` naming --point-cpus / --point-gpus when one point asks for more than
    the whole cluster has (such a task would wait for ever)."""
    total = ray.cluster_resources()
    for opt, key, unit in (("point_cpus", "CPU", "CPUs"), ("point_gpus", "GPU", "GPUs")):
        want, have = float(getattr(cfg, opt) or 0.0), float(total.get(key, 0.0))
        if want > have:
            name = "--" + opt.replace("_", "-")
            raise runs.OptionError(
                name,
                f"{name} {want:g}: the Ray cluster has {have:g} {unit} in all, so no point "
                f"could ever start; ask for at most {have:g}"
                + (" (or use --point-gpus 0 on a machine without GPUs)" if key == "GPU" else ""),
            )


def check_shared_storage(ray, run_path: Path, resources: dict, stop=None, timeout: float = STORAGE_CHECK_TIMEOUT_S):
    """ValueError unless a worker can read the driver's marker in ``run_path`` and the driver can
    read the worker's reply (the run folder must be on storage every node sees). Waits at most
    ``timeout`` seconds, calling ``stop.check()`` every second (a signal stops the wait)."""
    token = secrets.token_hex(8)
    (run_path / MARKER).write_text(token)
    ref = ray.remote(_check_task).options(**resources).remote(str(run_path), token)
    t0 = time.monotonic()
    try:
        while True:
            if stop is not None:
                stop.check()
            ready, _ = ray.wait([ref], timeout=1.0)
            if ready:
                seen = ray.get(ref)
                break
            if time.monotonic() - t0 > timeout:
                raise ValueError(
                    f"no Ray worker ran the storage check within {timeout:.0f} s: the cluster cannot "
                    f"grant a point its resources now ({resources}); lower --point-cpus / --point-gpus "
                    "or free the cluster"
                )
    except BaseException:
        ray.cancel(ref, force=True)
        (run_path / MARKER).unlink(missing_ok=True)
        raise
    reply = run_path / (MARKER + ".worker")
    ok = seen == token and reply.is_file() and reply.read_text() == token[::-1]
    for p in (run_path / MARKER, reply):
        p.unlink(missing_ok=True)
    if not ok:
        raise ValueError(
            f"the Ray workers cannot see the run folder {run_path}: put --logdir on storage every "
            "node shares (NFS, a cluster file system), or run one node"
        )


def run_points(
    points: list, job, run, here, remote, stop, echo, on_done, progress: bool = False
) -> list[tuple[str, str]]:
    """Run ``points`` by ``job.cfg.executor`` (``job``: a :class:`revival.experiments.experiment.Job`):
    ``local``, ``on_done(point, here(point))`` for each in turn (an error stops the experiment);
    ``ray``, each as a Ray task running ``remote(job, run_path, point, threads)``, ``on_done(point, row)`` as each finishes. Returns the
    failed points as ``(name, error line)`` (always empty locally). ``stop.check()`` is polled while
    waiting (a signal cancels the outstanding tasks and raises Interrupted). ``progress``: a bar of
    points done on a terminal instead of one line a point."""
    cfg = job.cfg
    if cfg.executor == "local":
        for p in points:
            on_done(p, here(p))
        return []
    ray = connect(cfg.ray_address)  # joined or started before: the run checked its resources
    resources = {"num_cpus": cfg.point_cpus, "num_gpus": cfg.point_gpus}
    check_shared_storage(ray, run.path, resources, stop)
    task = ray.remote(_point_task).options(max_retries=cfg.max_retries, retry_exceptions=True, **resources)
    pending = {task.remote(remote, job, str(run.path), p, max(1, int(cfg.point_cpus))): p for p in points}
    failed, done, t0 = [], 0, time.perf_counter()
    bar = runs.Progress(len(points), "points", progress)
    try:
        while pending:
            stop.check()
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                p = pending.pop(ref)
                name = p.name(cfg)
                try:
                    row = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - the task's error after its retries: record it, go on
                    failed.append((name, runs.one_line(getattr(e, "cause", None) or e)))
                    echo(
                        f"[{name}] failed after {cfg.max_retries} retr{'y' if cfg.max_retries == 1 else 'ies'}: "
                        f"{failed[-1][1]}"
                    )
                    bar.step()
                    continue
                done += 1
                on_done(p, row)
                bar.step()
                if not progress:
                    echo(
                        f"ray: {done + len(failed)}/{done + len(failed) + len(pending)} points ({name} finished, "
                        f"{time.perf_counter() - t0:.0f} s)"
                    )
    except BaseException:
        run.set_status(
            runs.STATUS_RUNNING, points_finished=done, points_failed=len(failed), points_remaining=len(pending)
        )  # how the run ended is written over it by run.recording()
        for ref in pending:  # force: a running task's worker is killed, so nothing writes after we return
            ray.cancel(ref, force=True)
        raise  # the run's session() shuts down the local instance it started
    finally:
        bar.close()
    return failed
