"""Shared helpers for the tests: run the CLI in process, read TensorBoard event files back."""

from pathlib import Path

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
