"""What the library's fits show while they train, and on how many threads: tqdm's auto progress bar
(a widget in a notebook that has ipywidgets, a text bar on a terminal), one step per epoch, and
``threads="auto"`` as the commands choose it. No torch at import."""

from __future__ import annotations

import os
import sys
from revival.threads import MAX_THREADS, auto_threads

OFF = ("0", "false", "no", "off")


def wanted(progress: bool | None) -> bool:
    """``progress`` when given; None: a bar where a person watches (a terminal or a notebook kernel),
    never in a pipe, a log or a test, and never when ``REVIVAL_PROGRESS=0``."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("REVIVAL_PROGRESS", "").strip().lower() in OFF:
        return False
    return sys.stderr.isatty() or "ipykernel" in sys.modules


class EpochBar:
    """``with EpochBar(total, desc, progress) as bar: ... bar.step(loss=...)``: a tqdm bar over epochs,
    or nothing (:func:`wanted`; also when tqdm is not installed)."""

    def __init__(self, total: int, desc: str, progress: bool | None = None, done: int = 0):
        self.bar = None
        if total > 0 and wanted(progress):
            try:
                from tqdm.auto import tqdm  # here: only where a bar is shown
            except ImportError:  # a minimal install: train in silence rather than fail
                return
            self.bar = tqdm(total=total, initial=done, desc=desc, unit="epoch", leave=True)

    def step(self, **postfix):
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def set_threads(threads) -> int | None:
    """A fit's ``threads``: None leaves torch as it is; ``"auto"`` gives it the cores free now
    (``OMP_NUM_THREADS`` wins when set; :func:`revival.threads.auto_threads`, as the commands'
    ``--threads auto``); a whole number in 1..1024 sets it. Returns the count set, or None."""
    if threads is None:
        return None

    if isinstance(threads, str) and threads.strip().lower() == "auto":
        n = auto_threads()[0]
    elif isinstance(threads, int) and not isinstance(threads, bool) and 1 <= threads <= MAX_THREADS:
        n = threads
    else:
        raise ValueError(f"threads: expected 'auto', a whole number in 1..{MAX_THREADS} or None, got {threads!r}")
    import torch  # here: the CLI starts without torch

    torch.set_num_threads(n)
    return n
