"""What the console shows while a run works (progress of long steps, the honest epoch time), and the
device a run asks for (``--device auto|cpu|cuda[:N]``)."""

from __future__ import annotations

import sys
import time

import torch
import click


class StepProgress:
    """Progress of a long step that is not an epoch (AIS over its betas, MC evaluation): a bar on a
    terminal, otherwise a plain line at every tenth of the way; ``update(done)`` with the count so far."""

    def __init__(self, total: int, label: str, bar: bool, echo=None):
        self.total, self.label, self.echo, self.shown, self.t0 = total, label, echo, 0, time.perf_counter()
        self.progress = Progress(total, label, bar)

    def update(self, done: int, total: int | None = None):
        if self.progress.bar is not None:
            self.progress.bar.update(done - self.progress.bar.pos)
        elif self.echo is not None and done * 10 // self.total > self.shown:
            self.shown = done * 10 // self.total
            elapsed = time.perf_counter() - self.t0
            left = elapsed * (self.total - done) / max(done, 1)
            self.echo(
                f"{self.label}: {done:,}/{self.total:,} ({100 * done // self.total}%), "
                f"{elapsed:.0f} s so far, about {left:.0f} s left"
            )

    def close(self):
        self.progress.close()


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``: a time a person reads at a glance."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{max(0.0, seconds):.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class EpochClock:
    """The console's honest epoch time: wall time per epoch including evaluation, logging and the
    checkpoint (not training alone), and the time left at that pace, for the epochs this process
    trains (``start`` .. ``epochs``)."""

    def __init__(self, start: int, epochs: int):
        self.t0, self.start, self.epochs = time.perf_counter(), start, epochs

    def lap(self, done: int, of: str = "") -> str:
        """After epoch ``done`` (counting from 1): ``"3.6 s/epoch, about 2 min 10 s left"`` (``of``, e.g.
        ``" in this phase"``, follows "left")."""
        per = (time.perf_counter() - self.t0) / max(1, done - self.start)
        left = self.epochs - done
        pace = f"{per:.1f} s/epoch" if per >= 0.1 else f"{per * 1000:.0f} ms/epoch"  # 100 images: ~20 ms
        return pace + (f", about {duration(per * left)} left{of}" if left > 0 else "")


class Progress:
    """A progress bar over an epoch's batches on a terminal; silent otherwise."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.bar = None
        if enabled and total > 0:

            self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self.bar.__enter__()

    def step(self):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda[:N]`` must exist. ValueError otherwise."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"--device {spec!r}: expected auto, cpu or cuda[:N]") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {spec}: CUDA is not available on this machine (use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type != "cpu":
        raise ValueError(f"--device {spec}: expected auto, cpu or cuda[:N]")
    return dev
