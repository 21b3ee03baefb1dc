"""Datasets: IDX parsing, the local cache and downloads, paper splits, subsets, binarization, batches.

The images live on the device as ``uint8`` (one row of 784 pixels per image); batches are sliced by
index from a seeded ``randperm`` and converted to floating point on the fly (:class:`Visible`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

PACKAGE_DATA = Path(__file__).parent / "datasets"
DEFAULT_ROOT = Path("~/.cache/revival").expanduser()
MAX_IDX_BYTES = 256 * 2**20  # refuse to decompress beyond this: no real 28x28 IDX file is that large


class DataError(Exception):
    """A data file is missing, unreadable or malformed; the message names the file."""


class TooFew(DataError):
    """A subset larger than its split was asked for (``wanted`` examples of ``have``)."""

    def __init__(self, wanted: int, have: int):
        super().__init__(f"requested {wanted} examples but the split holds only {have}")
        self.wanted, self.have = wanted, have


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    mirrors: tuple[str, ...]
    md5: dict  # archive name -> MD5 of the published .gz archive
    n_valid: int  # the last n_valid images of the training file form the validation split
    packaged: bool = False  # shipped inside the package (no download, no data root)
    sha256: dict | None = None  # file base name -> SHA-256 of the decompressed file, when known


FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}

DATASETS = {
    "mnist": DatasetSpec(
        "mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        n_valid=10_000,
    ),
    "fashion-mnist": DatasetSpec(
        "fashion-mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        n_valid=10_000,
    ),
    "kmnist": DatasetSpec(
        "kmnist",
        mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
        md5={
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
        n_valid=10_000,
    ),
    # 3,000 train + 1,000 valid (one training file) and 1,000 test digits, class-balanced, shipped
    # inside the package; made by scripts/make_mnist_sample.py (CC BY-SA 3.0, see its README).
    "mnist-sample": DatasetSpec("mnist-sample", mirrors=(), md5={}, n_valid=1_000, packaged=True),
}


@dataclass(frozen=True)
class Resplit:
    """A data set made by re-splitting another's 70,000 images (its training file, then its test
    file) in one seeded random order: the first ``n_train`` are train, the next ``n_valid`` valid,
    the next ``n_test`` test (the rest unused)."""

    base: str
    n_train: int
    n_valid: int
    n_test: int
    seed: int


# Larochelle et al. 2007's MNIST-basic protocol: 10,000 training, 2,000 validation and 50,000 test
# images drawn from MNIST's 70,000. Their own files are not used here (not reachable offline): this
# is the same protocol on a seeded split of our own, so the images differ from theirs.
RESPLITS = {"mnist-basic": Resplit("mnist", 10_000, 2_000, 50_000, seed=2007)}

SPLITS = ("train", "valid", "test")


# ----------------------------------------------------------------------------------- IDX files


def parse_idx(raw: bytes, name: str = "<bytes>", ndim: int | None = None) -> np.ndarray:
    """Parse the bytes of one uncompressed IDX file of unsigned bytes (type code 0x08).

    Header: two zero bytes, the type code, the number of dimensions d, then d big-endian uint32
    sizes; the data follows. The declared sizes are checked against the actual length *before*
    anything is allocated, so a lying header cannot ask for a huge array.
    """
    if len(raw) < 4:
        raise DataError(f"{name}: not an IDX file (only {len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{name}: bad IDX magic number 0x{raw[:4].hex()} (expected 0x000008xx, unsigned bytes)")
    d = raw[3]
    if d == 0 or (ndim is not None and d != ndim):
        raise DataError(f"{name}: IDX file has {d} dimensions, expected {ndim}")
    header = 4 + 4 * d
    if len(raw) < header:
        raise DataError(f"{name}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(d))
    count = 1
    for s in dims:
        count *= s
    if len(raw) - header != count:
        how = "truncated" if len(raw) - header < count else "has trailing bytes"
        raise DataError(
            f"{name}: {how}: header declares {'x'.join(map(str, dims))} = {count} bytes "
            f"of data, file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header, count=count).reshape(dims).copy()


def read_bytes(path: Path) -> bytes:
    """Read a file, gunzipping it when it starts with the gzip magic; bounded in size."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head != b"\x1f\x8b":
                if os.fstat(f.fileno()).st_size > MAX_IDX_BYTES:
                    raise DataError(f"{path}: larger than {MAX_IDX_BYTES} bytes, not a 28x28 IDX file")
                return f.read()
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = bytearray()
            while chunk := f.read(1 << 20):
                out += d.decompress(chunk, MAX_IDX_BYTES + 1 - len(out))
                if len(out) > MAX_IDX_BYTES:
                    raise DataError(f"{path}: decompresses to more than {MAX_IDX_BYTES} bytes")
                if d.eof:
                    break
            if not d.eof:
                raise DataError(f"{path}: gzip stream is truncated")
            return bytes(out)
    except zlib.error as e:
        raise DataError(f"{path}: not a valid gzip file ({e})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def candidates(folder: Path, base: str) -> list[Path]:
    """The names a file goes by: ``train-images-idx3-ubyte`` or ``train-images.idx3-ubyte``, raw or .gz."""
    dotted = base.replace("-idx", ".idx")
    return [folder / (n + ext) for n in (base, dotted) for ext in ("", ".gz")]


# ----------------------------------------------------------------------------------- the cache


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``--data-dir``, else ``$REVIVAL_DATA_DIR``, else ``~/.cache/revival``."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("REVIVAL_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_ROOT


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download(spec: DatasetSpec, base: str, folder: Path, timeout: float = 30.0) -> Path:
    """Fetch ``base``.gz from the dataset's mirrors in turn, verify its checksum, move it into place.

    The download goes to a temporary file in ``folder`` and is renamed only after the checksum
    matched, so an interrupted or corrupt download never stays behind under the final name.
    """
    archive = base + ".gz"
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in spec.mirrors:
        fd, tmp = tempfile.mkstemp(prefix=f".{archive}.", suffix=".part", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(mirror + archive, timeout=timeout) as r:
                shutil.copyfileobj(r, out)
            got = _md5(Path(tmp))
            if got != spec.md5[archive]:
                raise DataError(f"checksum mismatch for {mirror + archive}: md5 {got}, expected {spec.md5[archive]}")
            final = folder / archive
            os.replace(tmp, final)
            return final
        except Exception as e:  # noqa: BLE001 - every failure means "try the next mirror"
            errors.append(str(e) if isinstance(e, DataError) else f"{mirror + archive}: {e}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DataError(f"could not download {archive} for {spec.name} ({'; '.join(errors)})")


def locate(dataset: str, base: str, root: Path, allow_download: bool = True) -> Path:
    """Find ``base`` for ``dataset`` under ``root`` (or inside the package), downloading if missing."""
    spec = DATASETS[dataset]
    folder = PACKAGE_DATA / dataset if spec.packaged else root / dataset
    for p in candidates(folder, base):
        if p.is_file():
            return p
    if spec.packaged:
        raise DataError(f"{folder / base}.gz: packaged sample file missing (reinstall revival)")
    if any(p.is_file() for p in candidates(root, base)):  # the folder given is the data set's own folder
        raise DataError(
            f"{folder / base}: not found, but {root}/ itself holds {base}: give --data-dir / REVIVAL_DATA_DIR "
            f"the folder above it ({root.parent}), the root that holds {dataset}/"
        )
    hint = (
        f"put the IDX files (gzip or raw) in {folder}/ or point --data-dir / REVIVAL_DATA_DIR at "
        f"the folder that holds {dataset}/; --dataset mnist-sample works without any files"
    )
    if not allow_download:
        raise DataError(f"{folder / base}: not found; {hint} (or add --download to fetch them into {folder}/)")
    try:
        return download(spec, base, folder)
    except (DataError, OSError) as e:
        raise DataError(f"{folder / base}: not found and {e}; {hint}") from None


def read_pair(dataset: str, part: str, root: Path, allow_download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, 784] uint8 and labels [N] of the ``train`` or ``test`` file pair, checked."""
    ipath = locate(dataset, FILES[f"{part}-images"], root, allow_download)
    lpath = locate(dataset, FILES[f"{part}-labels"], root, allow_download)
    images = parse_idx(read_bytes(ipath), str(ipath), ndim=3)
    labels = parse_idx(read_bytes(lpath), str(lpath), ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{ipath}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if len(images) != len(labels):
        raise DataError(f"{lpath}: {len(labels)} labels for {len(images)} images in {ipath.name}")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{lpath}: label {int(labels.max())} out of range 0-9")
    return images.reshape(len(images), 784), labels


# ----------------------------------------------------------------------------------- splits


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of a seeded, class-stratified subset of size ``n`` (sorted, so order is stable).

    Each class gets ``n`` times its share of the split (largest remainders first); within a class
    the examples are a seeded random choice.
    """
    if n > len(labels):
        raise TooFew(n, len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / len(labels)
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def download_allowed(data_dir=None) -> bool:
    """Missing files are downloaded only into the default cache, never into a root the user named
    (``--data-dir`` or ``REVIVAL_DATA_DIR``) unless they ask for it (``--download``)."""
    return not data_dir and not os.environ.get("REVIVAL_DATA_DIR")


def load_split(
    dataset: str,
    split: str,
    data_dir=None,
    train_size: int | None = None,
    seed: int = 0,
    allow_download: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The paper split: train = training file minus its last ``n_valid`` images, valid = those, test = t10k.

    ``train_size`` takes a class-stratified, seeded subset of the train split. ``allow_download``
    None: only into the default cache (:func:`download_allowed`).
    """
    if dataset in RESPLITS:
        return resplit(RESPLITS[dataset], split, data_dir, train_size, seed, allow_download)
    if allow_download is None:
        allow_download = download_allowed(data_dir)
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    spec, root = DATASETS[dataset], data_root(data_dir)
    images, labels = read_pair(dataset, "test" if split == "test" else "train", root, allow_download)
    if split != "test":
        if len(images) <= spec.n_valid:
            raise DataError(f"{dataset}: training file holds {len(images)} images, need more than {spec.n_valid}")
        cut = len(images) - spec.n_valid
        images, labels = (images[:cut], labels[:cut]) if split == "train" else (images[cut:], labels[cut:])
    if split == "train" and train_size is not None:
        idx = stratified_subset(labels, train_size, seed)
        images, labels = images[idx], labels[idx]
    return images, labels


def resplit(
    r: Resplit,
    split: str,
    data_dir=None,
    train_size: int | None = None,
    seed: int = 0,
    allow_download: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One split of a :class:`Resplit` data set (``train_size``: a stratified subset of its train)."""
    if allow_download is None:
        allow_download = download_allowed(data_dir)
    root = data_root(data_dir)
    parts = [read_pair(r.base, part, root, allow_download) for part in ("train", "test")]
    images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if len(images) < r.n_train + r.n_valid + r.n_test:
        raise DataError(f"{r.base}: {len(images)} images in all, the re-split needs {r.n_train + r.n_valid + r.n_test}")
    order = np.random.default_rng(r.seed).permutation(len(images))
    start = {"train": 0, "valid": r.n_train, "test": r.n_train + r.n_valid}[split]
    n = {"train": r.n_train, "valid": r.n_valid, "test": r.n_test}[split]
    idx = np.sort(order[start : start + n])
    images, labels = images[idx], labels[idx]
    if split == "train" and train_size is not None:
        sub = stratified_subset(labels, train_size, seed)
        images, labels = images[sub], labels[sub]
    return images, labels


def split_seed(seed: int, split: str) -> int:
    """The seed of a split's stochastic binarization: each split gets its own fixed sample."""
    return seed + SPLITS.index(split)


def evaluated_as(mode: str) -> str:
    """How data binarized by ``mode`` in training are binarized to evaluate the model: a DBM's
    ``resample`` (a fresh sample of every minibatch) becomes one fixed seeded sample (``stochastic``),
    as the test images of Salakhutdinov & Murray 2008; the others stay."""
    return "stochastic" if mode == "resample" else mode


def binarize(images: np.ndarray, mode: str, seed: int) -> np.ndarray:
    """uint8 images -> uint8 visible data.

    ``stochastic``: one Bernoulli sample per pixel with probability pixel/255, drawn once with a
    generator seeded from ``seed`` on the CPU, so the binary data set is the same across epochs,
    runs and devices (Salakhutdinov & Murray 2008). ``threshold``: pixel >= 128. ``none``: unchanged.
    """
    if mode == "none":
        return images
    if mode == "threshold":
        return (images >= 128).astype(np.uint8)
    if mode == "stochastic":
        g = torch.Generator().manual_seed(seed)
        p = torch.from_numpy(images.astype(np.float32) / 255.0)
        return (torch.rand(p.shape, generator=g) < p).to(torch.uint8).numpy()
    raise ValueError(f"unknown binarize mode {mode!r}")


@dataclass
class Visible:
    """Visible data on the device as uint8, turned into floats per batch: ``x * scale + offset``."""

    data: torch.Tensor  # [N, D] uint8
    scale: torch.Tensor | float = 1.0
    offset: torch.Tensor | float = 0.0

    def __len__(self):
        return self.data.shape[0]

    def batch(self, idx: torch.Tensor | slice, out: torch.Tensor | None = None) -> torch.Tensor:
        """Rows ``idx`` as floats; written into ``out`` (a preallocated [len(idx), D] buffer) if given."""
        rows = torch.index_select(self.data, 0, idx) if isinstance(idx, torch.Tensor) else self.data[idx]
        x = rows.float() if out is None else out.copy_(rows)
        if isinstance(self.scale, torch.Tensor) or self.scale != 1.0:
            x.mul_(self.scale)
        if isinstance(self.offset, torch.Tensor) or self.offset != 0.0:
            x.add_(self.offset)
        return x

    def all(self) -> torch.Tensor:
        return self.batch(slice(None))


def visible_data(
    images: np.ndarray,
    device,
    binarize_mode: str,
    seed: int,
    standardize_with: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Visible:
    """Put ``images`` on ``device`` as RBM visible data.

    Binary modes give 0/1 values; ``none`` gives pixel/255; ``standardize_with=(mean, std)``
    (per-pixel, in [0, 1] units) gives standardised pixels for Gaussian visible units.
    """
    if standardize_with is not None:
        mean, std = standardize_with
        scale = (1.0 / (255.0 * std)).to(device)
        return Visible(torch.from_numpy(np.ascontiguousarray(images)).to(device), scale, (-mean / std).to(device))
    data = binarize(images, binarize_mode, seed)
    return Visible(
        torch.from_numpy(np.ascontiguousarray(data)).to(device), 1.0 / 255.0 if binarize_mode == "none" else 1.0
    )


def pixel_stats(images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel mean and standard deviation in [0, 1] units; constant pixels get std 1."""
    x = torch.from_numpy(images.astype(np.float64) / 255.0)
    mean, std = x.mean(0), x.std(0)
    std[std < 1e-3] = 1.0
    return mean.float(), std.float()


def batches(n: int, batch_size: int, generator: torch.Generator, device) -> list[torch.Tensor]:
    """A seeded shuffle of ``range(n)`` cut into batches (the last one may be shorter)."""
    perm = torch.randperm(n, generator=generator, device=device)
    return list(torch.split(perm, batch_size))
