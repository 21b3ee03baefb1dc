"""Make the packaged ``mnist-sample`` data set from the full MNIST files, reproducibly.

    REVIVAL_DATA_DIR=~/data python scripts/make_mnist_sample.py

Takes a class-balanced, seeded choice of 300 digits per class from the paper's training split
(the first 50,000 training images), 100 per class from its validation split (the last 10,000) and
100 per class from the test file, and writes them as gzip IDX files into
``revival/datasets/mnist-sample/``: ``train-*`` holds the 3,000 training digits followed by the
1,000 validation digits (so the loader's "last n_valid images are validation" rule applies), and
``t10k-*`` the 1,000 test digits. gzip is written with mtime 0, so the bytes are reproducible.
"""

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from revival import data as D  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "revival" / "datasets" / "mnist-sample"
PER_CLASS = {"train": 300, "valid": 100, "test": 100}
SEED = 20240601


def pick(labels, per_class, rng):
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(10)]))


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write(name: str, array: np.ndarray):
    path = OUT / f"{name}.gz"
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as g:
        g.write(idx_bytes(array))
    print(f"{path}  {array.shape}  sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")


def main():
    rng = np.random.default_rng(SEED)
    parts = {}
    for split in ("train", "valid", "test"):
        images, labels = D.load_split("mnist", split, allow_download=False)
        i = pick(labels, PER_CLASS[split], rng)
        parts[split] = (images[i].reshape(-1, 28, 28), labels[i])
    OUT.mkdir(parents=True, exist_ok=True)
    write("train-images-idx3-ubyte", np.concatenate([parts["train"][0], parts["valid"][0]]))
    write("train-labels-idx1-ubyte", np.concatenate([parts["train"][1], parts["valid"][1]]))
    write("t10k-images-idx3-ubyte", parts["test"][0])
    write("t10k-labels-idx1-ubyte", parts["test"][1])


if __name__ == "__main__":
    main()
