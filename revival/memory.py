"""Will it fit? One rule, before any allocation, for the commands (exit 2 naming the option) and the
library (ValueError naming the config field): the 4-byte numbers a model needs against this machine's
memory. No torch here."""

from __future__ import annotations

import os


def total_bytes() -> int | None:
    """This machine's physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_problem(n_floats: int, what: str) -> str | None:
    """Why ``n_floats`` float32 numbers (a model's weights, velocities, workspaces) cannot be held here, or None."""
    total = total_bytes()
    if total is None or 4 * n_floats <= total:
        return None
    return f"{what} needs about {4 * n_floats / 2**30:,.0f} GiB, more than this machine's {total / 2**30:,.0f} GiB; choose smaller sizes"


def layered_floats(sizes, rows: int) -> int:
    """About what a stack of dense layers ``sizes`` costs: 6 copies of every weight matrix (weights,
    velocities, gradients, workspaces) and ``rows`` rows of its widest layer."""
    return sum(6 * a * b for a, b in zip(sizes, sizes[1:])) + rows * max(sizes)
