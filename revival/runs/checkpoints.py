"""Checkpoints and saved predictions in a run folder: ``state.pt`` (what resume needs) beside the
public ``model.pt``, each written atomically, read back with ``weights_only=True``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from revival.runs import folder as run_folder

PREDICTIONS_FILE = "test_predictions.npz"


def save_predictions(folder: Path, pred, label) -> Path:
    """A point's predicted class and the true class of every test image, int8, compressed (about 5 KB
    for MNIST's 10,000): what McNemar's test and the standard error of a difference between two
    models need (:mod:`revival.reporting.significance`)."""

    buf = io.BytesIO()
    np.savez_compressed(buf, pred=np.asarray(pred, dtype=np.int8), label=np.asarray(label, dtype=np.int8))
    path = Path(folder) / PREDICTIONS_FILE
    run_folder.atomic_write_bytes(path, buf.getvalue())
    return path


def load_predictions(folder: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(pred, label)`` of a point folder, or None where it saved none (a run before they were saved)."""
    path = Path(folder) / PREDICTIONS_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return z["pred"], z["label"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: cannot be read ({type(e).__name__}); it is a revival predictions file") from None


def save_torch(path: Path, obj):
    """``torch.save`` made atomic (see :func:`run_folder.atomic_write_bytes`)."""

    buf = io.BytesIO()
    torch.save(obj, buf)
    run_folder.atomic_write_bytes(path, buf.getvalue())


def save_epoch(folder: Path, model: dict | None, state: dict):
    """The pair written after every completed epoch: ``state.pt`` (what resume needs, the model's
    parameters included) first, then the public ``model.pt``; each atomic. A failure between the two
    leaves state.pt one epoch ahead, and resume trusts state.pt."""
    save_torch(Path(folder) / run_folder.STATE_FILE, state)
    if model is not None:
        save_torch(Path(folder) / run_folder.MODEL_FILE, model)


def load_state(folder: Path, device) -> dict | None:
    """``folder/state.pt`` for resume, or None when there is none; ValueError naming the file when
    it cannot be read."""
    p = Path(folder) / run_folder.STATE_FILE
    if not p.is_file():
        return None
    try:
        st = torch.load(p, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a torn or foreign file gets one line
        raise ValueError(
            f"{p}: cannot be read ({type(e).__name__}); delete it to restart this part from epoch 0"
        ) from None
    if not isinstance(st, dict) or "epoch" not in st:
        raise ValueError(f"{p}: not a revival resume state; delete it to restart this part from epoch 0")
    return st


def load_checkpoint(path) -> tuple[dict, Path]:
    """A checkpoint dict from a run folder (its ``model.pt``) or a file, loaded with
    ``weights_only=True``; ValueError with one line when it is missing or unreadable."""
    p = Path(path)
    if p.is_dir():
        p = p / run_folder.MODEL_FILE
    if not p.is_file():
        raise ValueError(f"{p}: no such checkpoint")
    try:
        return torch.load(p, map_location="cpu", weights_only=True), p
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise ValueError(f"{p}: cannot be read as a torch checkpoint ({type(e).__name__})") from None
