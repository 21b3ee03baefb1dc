"""compare-dropout --executor ray on a local Ray instance the test starts (2 CPUs): the same rows as
the local executor, retries of a dead worker, a point that always fails, Ctrl-C and resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import only_run, timeless
from revival.cli import main
from revival.config import CompareConfig

GRID = [
    "--dataset",
    "mnist-sample",
    "--train-sizes",
    "100,200",
    "--layers",
    "16",
    "--epochs",
    "2",
    "--mc-samples",
    "0",
    "--variants",
    "baseline,dropout",
    "--no-progress",
    "--no-figures",
    "--threads",
    "1",
]
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_DEDUP_LOGS": "0", "PYTHONUNBUFFERED": "1"}

pytestmark = pytest.mark.slow  # each test starts a Ray cluster (10-30 s)

needs_ray = pytest.mark.skipif(
    __import__("importlib").util.find_spec("ray") is None,
    reason="ray not installed: pip install 'revival[ray]' (.ci/run installs it)",
)


def cli(args, logdir, extra_env=None, **kw):
    """``revival compare-dropout ARGS`` in a subprocess; with REVIVAL_FAULTS in ``extra_env`` through
    the fault-injecting shim tests/ray_faults.py."""
    entry = (
        [str(Path(__file__).parent / "ray_faults.py")] if "REVIVAL_FAULTS" in (extra_env or {}) else ["-m", "revival"]
    )
    return subprocess.run(
        [sys.executable, *entry, "compare-dropout", *args, "--logdir", str(logdir)],
        capture_output=True,
        text=True,
        env={**ENV, **(extra_env or {})},
        timeout=300,
        **kw,
    )


def rows(run):
    """The run's rows without their wall times (which differ between any two runs)."""
    return timeless(json.loads((run / "summary.json").read_text())["rows"])


def test_executor_ray_without_ray_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    r = CliRunner().invoke(main, ["compare-dropout", *GRID, "--executor", "ray", "--logdir", str(tmp_path)])
    assert r.exit_code == 2 and "revival[ray]" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "compare-dropout").exists()


@needs_ray
def test_ray_gives_the_local_rows(tmp_path):
    assert cli(GRID, tmp_path / "local").returncode == 0
    r = cli([*GRID, "--executor", "ray"], tmp_path / "ray")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ray: 4/4 points" in r.stdout
    a, b = (only_run(tmp_path / k, "compare-dropout") for k in ("local", "ray"))
    assert rows(a) == rows(b)  # same seeds, same device type: the executor changes nothing
    assert not list(b.glob(".ray-storage-check*"))  # the storage check cleans up after itself


@needs_ray
def test_dead_worker_is_retried_and_a_failing_point_is_reported_then_resumed(tmp_path):
    r = cli([*GRID, "--executor", "ray"], tmp_path, {"REVIVAL_FAULTS": "fail:baseline-n200,die-once:dropout-n100"})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 of 4 points failed" in r.stderr and "baseline-n200" in r.stderr
    run = only_run(tmp_path, "compare-dropout")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "failed" and [f["point"] for f in s["failed"]] == ["baseline-n200"]
    assert len(s["rows"]) == 3 and (run / ".dropout-n100.died").exists()  # it died once, was retried, finished
    before = {p.name: (p / "result.json").stat().st_mtime_ns for p in run.iterdir() if (p / "result.json").is_file()}
    assert sorted(before) == ["baseline-n100", "dropout-n100", "dropout-n200"]
    r = CliRunner().invoke(main, ["compare-dropout", "--resume", str(run), "--no-progress", "--no-figures"])
    assert r.exit_code == 0, r.output
    assert all((run / n / "result.json").stat().st_mtime_ns == t for n, t in before.items())  # only the failed one ran
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "finished" and len(s["rows"]) == 4
    import ray

    assert not ray.is_initialized()  # the in-process run shut down the local instance it started


@needs_ray
# SIGTERM, what a cluster's scheduler sends (SIGINT takes the same GracefulStop path: tests/test_signals.py
# checks both signals on local runs; here each signal cost half a minute of the suite)
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143)])
def test_a_signal_cancels_outstanding_points_and_resume_finishes(tmp_path, sig, code):
    args = [a if a != "2" else "40" for a in GRID]  # 40 epochs: points long enough to interrupt
    p = subprocess.Popen(
        [sys.executable, "-m", "revival", "compare-dropout", *args, "--executor", "ray", "--logdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    t0 = time.time()
    for line in p.stdout:
        if "ray: 1/4 points" in line:
            p.send_signal(sig)  # SIGTERM too: Ray's own handler must not replace revival's
            break
        assert time.time() - t0 < 240
    out = p.stdout.read()
    assert p.wait(timeout=120) == code, out
    assert "Traceback" not in out and "SIGABRT" not in out
    run = only_run(tmp_path, "compare-dropout")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "interrupted"
    finished = [q.name for q in run.iterdir() if (q / "result.json").is_file()]
    assert 1 <= len(finished) < 4
    assert s["points_finished"] >= 1 and s["points_finished"] + s["points_remaining"] == 4
    if sig == signal.SIGTERM:
        return  # the resume after it is the same as after Ctrl-C's (another Ray start-up, ~10 s)
    r = CliRunner().invoke(main, ["compare-dropout", "--resume", str(run), "--no-progress", "--no-figures"])
    assert r.exit_code == 0, r.output
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert len(rows(run)) == 4


@needs_ray
def test_a_local_instance_runs_at_the_runs_priority_and_goes_with_the_session(monkeypatch):
    from revival.experiments import executor

    monkeypatch.delenv("RAY_worker_niceness", raising=False)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with executor.session(CompareConfig(executor="ray")):
        ray = executor.connect(None)
        # Ray's default would be 15: a busy machine then starves the points (minutes per test here)
        niceness = ray.remote(lambda: os.nice(0))  # a lambda travels by value: the worker cannot import tests
        assert ray.get(niceness.remote()) == os.nice(0)
    assert not ray.is_initialized()


@needs_ray
def test_resources_the_cluster_cannot_grant_are_refused_before_any_folder(tmp_path, monkeypatch):
    from revival.experiments import executor

    class Cluster:  # a CPU machine: no GPU to give (a stand-in: starting Ray here took 18 s of the suite)
        @staticmethod
        def cluster_resources():
            return {"CPU": 2.0}

    monkeypatch.setattr(executor, "connect", lambda address: Cluster)
    r = CliRunner().invoke(
        main, ["compare-dropout", *GRID, "--executor", "ray", "--point-gpus", "1", "--logdir", str(tmp_path)]
    )
    assert r.exit_code == 2, r.output
    assert "--point-gpus 1: the Ray cluster has 0 GPUs in all" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "compare-dropout").exists()


def test_the_resource_check_names_the_option_and_what_the_cluster_has():
    from revival import runs
    from revival.experiments import executor

    class Cluster:
        @staticmethod
        def cluster_resources():
            return {"CPU": 2.0}

    executor.check_resources(Cluster, CompareConfig(point_cpus=2, point_gpus=0))
    for cfg, needle in (
        (CompareConfig(point_cpus=1000, point_gpus=0), "--point-cpus 1000: the Ray cluster has 2 CPUs"),
        (CompareConfig(point_cpus=1, point_gpus=0.5), "--point-gpus 0.5: the Ray cluster has 0 GPUs"),
    ):
        with pytest.raises(runs.OptionError) as e:
            executor.check_resources(Cluster, cfg)
        assert needle in str(e.value) and e.value.param_hint == needle.split()[0]


@needs_ray
def test_a_ray_address_with_no_cluster_is_one_line_and_no_folder(tmp_path):
    r = cli([*GRID, "--executor", "ray", "--ray-address", "auto"], tmp_path)
    assert r.returncode == 2 and "--ray-address auto: cannot join a Ray cluster there" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "compare-dropout").exists()
