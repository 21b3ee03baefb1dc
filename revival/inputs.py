"""What the library takes in: data sets (:func:`load_dataset`), arrays and tensors as the trainers
read them (grey levels kept on the device as bytes, binarized once with a seeded sample), labels,
the device, and the checks that refuse what would not fit in memory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from revival import data as D
from revival import runs
from revival.errors import ConfigError
from revival.memory import memory_problem


@dataclass
class Dataset:
    """The three splits of a data set as numpy arrays: ``x_*`` float32 [n, 784] grey levels in
    [0, 1] (pixel / 255), ``y_*`` int64 labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __repr__(self):
        return (
            f"Dataset({self.name!r}: train {len(self.x_train)}, valid {len(self.x_valid)}, test "
            f"{len(self.x_test)}; x float32 [n, {self.x_train.shape[1]}] in [0, 1], y int64)"
        )


def load_dataset(
    name: str = "mnist", train_size: int | None = None, seed: int = 0, data_dir=None, download: bool | None = None
) -> Dataset:
    """The paper split of ``name`` (train, valid, test; :func:`revival.data.load_split`) as numpy
    arrays. ``train_size``: a class-stratified subset of the training split chosen by ``seed``.
    ``data_dir`` (else ``$REVIVAL_DATA_DIR``, else ``~/.cache/revival``) holds ``<name>/`` IDX files;
    ``mnist-sample`` ships with the package. DataError when a file is missing or malformed; ValueError
    for a ``train_size`` that is not a positive whole number."""
    if train_size is not None and (
        isinstance(train_size, bool) or not isinstance(train_size, (int, np.integer)) or train_size < 1
    ):
        raise ValueError(
            f"train_size: expected a positive whole number of training images (or None), got {train_size!r}"
        )
    parts = {}
    for split in D.SPLITS:
        x, y = D.load_split(name, split, data_dir, train_size if split == "train" else None, seed, download)
        parts[f"x_{split}"], parts[f"y_{split}"] = grey_levels(x), y.astype(np.int64)
    return Dataset(name, **parts)


def grey_levels(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 grey levels pixel / 255 (exactly recoverable as bytes)."""
    return images.astype(np.float32) / np.float32(255.0)


def _array(x, what: str) -> np.ndarray:
    """``x`` as a finite 2-D numeric numpy array; ValueError naming ``what`` otherwise."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{what}: expected a 2-D array with one example per row, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{what}: expected numbers, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise ValueError(f"{what}: holds NaN or infinite values")
    return a


def _as_bytes(a: np.ndarray) -> np.ndarray | None:
    """``a`` as uint8 pixels when it is (pixel / 255 grey levels or uint8 already), else None."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * np.uint8(255)
    if a.min() < 0 or a.max() > 1:
        return None
    u = np.rint(a.astype(np.float64) * 255.0)
    return u.astype(np.uint8) if np.array_equal(grey_levels(u.astype(np.uint8)), a.astype(np.float32)) else None


def visible(x, device, binarize: str = "none", seed: int = 0, what: str = "x") -> D.Visible:
    """Rows of ``x`` on ``device`` as the trainers read them. Grey levels k/255 go as bytes, exactly
    as the CLI loads images (so the same seed gives the same run); ``binarize`` ``stochastic``: one
    fixed Bernoulli sample (probability = the value, seeded by ``seed``), ``threshold``: value >= 0.5.
    Other real values are kept as float32 (binarizing needs them in [0, 1])."""
    if isinstance(x, D.Visible):  # already prepared on the device (the commands' own loading)
        return x
    a = _array(x, what)
    u8 = _as_bytes(a)
    if u8 is not None:
        return D.visible_data(u8, device, binarize, seed)
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    if binarize != "none":
        if t.min() < 0 or t.max() > 1:
            raise ValueError(f"{what}: binarize={binarize!r} needs values in [0, 1] (use binarize='none')")
        if binarize == "threshold":
            t = (t >= 0.5).float()
        else:
            t = (torch.rand(t.shape, generator=torch.Generator().manual_seed(seed)) < t).float()
    return D.Visible(t.to(device))


def labels(y, n: int, device, what: str = "y") -> torch.Tensor:
    """Class indices 0..C-1 as an int64 tensor; ValueError unless ``n`` non-negative whole numbers."""
    a = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if a.ndim != 1 or len(a) != n:
        raise ValueError(f"{what}: expected {n} labels in a 1-D array, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer) or (len(a) and a.min() < 0):
        raise ValueError(
            f"{what}: expected class indices 0, 1, ... (whole numbers); revival.sklearn's estimators take any labels"
        )
    return torch.from_numpy(a.astype(np.int64)).to(device)


def device_of(spec: str, owner: str) -> torch.device:
    try:
        return runs.resolve_device(spec)
    except ValueError as e:
        raise ConfigError(f"{owner}.device", str(e).replace("--device ", "")) from None


def fits(field: str, n_floats: int, what: str) -> None:
    """ValueError naming the config ``field`` when the model would not fit in memory (the commands' rule)."""
    why = memory_problem(n_floats, what)
    if why:
        raise ValueError(f"{field}: {why}")


def fingerprint(*arrays) -> dict:
    """What a library run records of its training data, so that a resume with other rows of the same
    width is refused: rows, columns and a SHA-1 of the values (tensors or numpy arrays, in order)."""

    h = hashlib.sha1()
    for a in arrays:
        t = a.data if isinstance(a, D.Visible) else a
        a_np = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        h.update(str(a_np.shape).encode())
        h.update(np.ascontiguousarray(a_np).tobytes())
    first = arrays[0].data if isinstance(arrays[0], D.Visible) else arrays[0]
    return {"rows": int(first.shape[0]), "columns": int(first.shape[1]) if first.ndim > 1 else 1, "sha1": h.hexdigest()}
