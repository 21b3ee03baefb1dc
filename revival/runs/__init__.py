"""The file layer: run folders and their lock (:mod:`.folder`, no torch), checkpoints
(:mod:`.checkpoints`), TensorBoard (:mod:`.tensorboard`), the console (:mod:`.console`, :mod:`.progress`).

``revival.runs.NAME`` finds NAME in the submodule that owns it, imported on first use, so a caller
that only needs folders never imports torch (PEP 562 module ``__getattr__``); the submodules are the
place to read, patch or import from directly.
"""

from __future__ import annotations

import importlib

_OWNER = {
    "Diverged": "folder",
    "COMPOSED_FILE": "folder",
    "EXTENDABLE": "folder",
    "EpochBar": "progress",
    "EpochClock": "console",
    "Interrupted": "folder",
    "LOCK_FILE": "folder",
    "MODEL_FILE": "folder",
    "OFF": "progress",
    "OptionError": "folder",
    "PREDICTIONS_FILE": "checkpoints",
    "Progress": "console",
    "RESULT_FILE": "folder",
    "ResumeRefused": "folder",
    "Run": "folder",
    "RunLock": "folder",
    "STALE_FIELDS": "folder",
    "STATE_AT_TOP": "folder",
    "STATE_FILE": "folder",
    "STATUS_DIVERGED": "folder",
    "STATUS_FAILED": "folder",
    "STATUS_FINISHED": "folder",
    "STATUS_INTERRUPTED": "folder",
    "STATUS_KILLED": "folder",
    "STATUS_RUNNING": "folder",
    "StepProgress": "console",
    "TAG_DESCRIPTIONS": "tensorboard",
    "add_gray_image": "tensorboard",
    "atomic_write_bytes": "folder",
    "duration": "console",
    "environment": "folder",
    "git_commit": "folder",
    "guarded": "folder",
    "has_checkpoint": "folder",
    "image_grid": "tensorboard",
    "jsonable": "folder",
    "load_checkpoint": "checkpoints",
    "load_predictions": "checkpoints",
    "load_state": "checkpoints",
    "log_final_scalars": "tensorboard",
    "log_hparams": "tensorboard",
    "markdown_table": "folder",
    "name_problem": "folder",
    "new_run_dir": "folder",
    "one_line": "folder",
    "read_json": "folder",
    "resolve_device": "console",
    "save_epoch": "checkpoints",
    "save_predictions": "checkpoints",
    "save_torch": "checkpoints",
    "set_threads": "progress",
    "tag_description": "tensorboard",
    "wanted": "progress",
    "write_json": "folder",
    "writer": "tensorboard",
}


def __getattr__(name: str):
    owner = _OWNER.get(name)
    if owner is None:
        raise AttributeError(f"module 'revival.runs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"revival.runs.{owner}"), name)


def __dir__():
    return sorted(_OWNER)
