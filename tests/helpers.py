"""Shared helpers for the tests: run the CLI in process or as a child process (and signal it), read
TensorBoard event files back, write a hand-made checkpoint."""

import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from revival.cli import main


def invoke(*args, catch: bool = False):
    """``revival ARGS`` in this process (arguments turned to text); exceptions propagate unless
    ``catch`` (then the result holds the exit code and output, as for a user)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=catch)


def events(folder) -> EventAccumulator:
    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    return ea


def only_run(logdir, command) -> Path:
    runs = sorted((Path(logdir) / command).iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def plugin_events(folder):
    """The accumulator TensorBoard's own plugins read (legacy summaries migrated to tensors)."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea

    ea = pea.EventAccumulator(str(folder), size_guidance={"tensors": 0})
    ea.Reload()
    return ea


def timeless(rows: list[dict]) -> list[dict]:
    """Summary rows without their wall times (``seconds``), the one field two identical runs differ in."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def start(args, logdir):
    return subprocess.Popen(
        [sys.executable, "-m", "revival", *args, "--logdir", str(logdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def interrupt_after(proc, marker, sig, timeout=120):
    """Read the child's output until ``marker``, then send ``sig``; return the exit code."""
    t0 = time.time()
    for line in proc.stdout:
        if marker in line:
            proc.send_signal(sig)
            break
        assert time.time() - t0 < timeout
    proc.stdout.read()
    return proc.wait(timeout=timeout)


def handmade_checkpoint(path, n_h=10, seed=0, **over):
    g = torch.Generator().manual_seed(seed)
    ck = {
        "format": "revival.rbm.v1",
        "visible_type": "bernoulli",
        "config": {},
        "state_dict": {
            "weight": torch.randn(n_h, 784, generator=g) * 0.05,
            "visible_bias": torch.randn(784, generator=g) - 2.0,
            "hidden_bias": torch.zeros(n_h),
        },
    }
    ck.update(over)
    torch.save(ck, path)
    return ck


# a tiny pretrain-rbm and compare-dropout on the packaged sample (seconds each)
TINY_RBM = [
    "pretrain-rbm",
    "--dataset",
    "mnist-sample",
    "--hidden",
    "16",
    "--epochs",
    "2",
    "--ais-runs",
    "0",
    "--monitor-size",
    "100",
    "--no-progress",
]
TINY_COMPARE = [
    "compare-dropout",
    "--dataset",
    "mnist-sample",
    "--layers",
    "32",
    "--epochs",
    "2",
    "--train-size",
    "200",
    "--eval-train-size",
    "200",
    "--no-progress",
]


def run_cli(*args):
    """``revival ARGS`` as a user meets it: the exit code and the output, no exception."""
    return invoke(*args, catch=True)


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith(("Usage:", "Try "))]
    assert len(lines) == 1, output
    return lines[0]


# compare-dropout's options for a tiny sweep on the packaged sample (the command and --variants added by each test)
TINY_SWEEP = [
    "--dataset",
    "mnist-sample",
    "--train-size",
    "200",
    "--layers",
    "32,32",
    "--epochs",
    "2",
    "--mc-samples",
    "0",
    "--eval-train-size",
    "200",
    "--no-progress",
]


# a two-layer pretrain-dbn on the packaged sample (seconds)
TINY_DBN = [
    "pretrain-dbn",
    "--dataset",
    "mnist-sample",
    "--layers",
    "16,8",
    "--epochs",
    "1",
    "--monitor-size",
    "100",
    "--sample-steps",
    "2",
    "--no-progress",
]
