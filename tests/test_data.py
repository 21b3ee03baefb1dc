"""The data layer on small synthetic IDX files, corrupt ones included, and on the shipped sample."""

import gzip
import stat

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import full_mnist_root, needs_full_mnist
from revival import data as D
from revival import tables as T


def idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_dataset(root, n_train=30, n_test=10, gz=True, dotted=False, seed=0):
    """A fake ``mnist`` folder under ``root`` with n_train training and n_test test images."""
    rng = np.random.default_rng(seed)
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels": np.arange(n_train) % 10,
        "test-images": rng.integers(0, 256, (n_test, 28, 28)),
        "test-labels": np.arange(n_test) % 10,
    }
    paths = {}
    for kind, arr in arrays.items():
        name = D.FILES[kind].replace("-idx", ".idx") if dotted else D.FILES[kind]
        raw = idx(arr)
        path = folder / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(raw) if gz else raw)
        paths[kind] = path
    return arrays, paths


@pytest.fixture
def small_valid(monkeypatch):
    """Let the fake mnist have a 10-image validation split."""
    spec = D.DATASETS["mnist"]
    monkeypatch.setitem(D.DATASETS, "mnist", D.DatasetSpec(spec.name, (), spec.md5, n_valid=10))


@pytest.mark.parametrize("gz,dotted", [(True, False), (False, False), (True, True), (False, True)])
def test_reads_gzip_or_raw_and_both_namings(tmp_path, small_valid, gz, dotted):
    arrays, _ = make_dataset(tmp_path, gz=gz, dotted=dotted)
    x, y = D.load_split("mnist", "train", tmp_path, allow_download=False)
    assert x.shape == (20, 784) and x.dtype == np.uint8
    assert np.array_equal(x, arrays["train-images"][:20].reshape(20, 784))
    xv, yv = D.load_split("mnist", "valid", tmp_path, allow_download=False)
    assert np.array_equal(yv, arrays["train-labels"][20:])
    xt, yt = D.load_split("mnist", "test", tmp_path, allow_download=False)
    assert xt.shape == (10, 784)


@pytest.mark.parametrize(
    "corrupt,message",
    [
        (lambda b: b[:-5], "truncated"),
        (lambda b: b + b"xx", "trailing bytes"),
        (lambda b: b"\x00\x00\x09" + b[3:], "magic"),
        (lambda b: b[:3] + b"\x02" + b[4:], "dimensions"),
        (lambda b: b"", "not an IDX file"),
    ],
)
def test_corrupt_images_name_the_file(tmp_path, small_valid, corrupt, message):
    _, paths = make_dataset(tmp_path, gz=False)
    p = paths["train-images"]
    p.write_bytes(corrupt(p.read_bytes()))
    with pytest.raises(D.DataError, match=message) as e:
        D.load_split("mnist", "train", tmp_path, allow_download=False)
    assert str(p) in str(e.value)


def test_label_problems(tmp_path, small_valid):
    _, paths = make_dataset(tmp_path, gz=False)
    paths["train-labels"].write_bytes(idx(np.arange(29) % 10))
    with pytest.raises(D.DataError, match="29 labels for 30 images"):
        D.load_split("mnist", "train", tmp_path, allow_download=False)
    paths["train-labels"].write_bytes(idx(np.full(30, 11)))
    with pytest.raises(D.DataError, match="out of range"):
        D.load_split("mnist", "train", tmp_path, allow_download=False)


def test_gz_name_that_is_not_gzip_and_broken_gzip(tmp_path, small_valid):
    _, paths = make_dataset(tmp_path)
    p = paths["train-images"]
    p.write_bytes(b"this is not gzip at all")
    with pytest.raises(D.DataError, match="magic"):
        D.load_split("mnist", "train", tmp_path, allow_download=False)
    p.write_bytes(gzip.compress(b"x" * 1000)[:20])
    with pytest.raises(D.DataError, match="gzip") as e:
        D.load_split("mnist", "train", tmp_path, allow_download=False)
    assert str(p) in str(e.value)


def test_missing_files_say_where_and_mention_the_sample(tmp_path):
    (tmp_path / "mnist").mkdir()
    with pytest.raises(D.DataError, match="mnist-sample") as e:
        D.load_split("mnist", "train", tmp_path, allow_download=False)
    assert str(tmp_path / "mnist") in str(e.value)


def test_download_verifies_checksum_and_leaves_nothing_behind(tmp_path, monkeypatch):
    served = tmp_path / "mirror"
    served.mkdir()
    (served / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(np.arange(10) % 10)))
    bad = D.DatasetSpec("mnist", (served.as_uri() + "/",), {"t10k-labels-idx1-ubyte.gz": "0" * 32}, 10)
    dest = tmp_path / "root" / "mnist"
    with pytest.raises(D.DataError, match="checksum mismatch"):
        D.download(bad, "t10k-labels-idx1-ubyte", dest)
    assert list(dest.iterdir()) == []  # no partial or unverified file under any name
    good_md5 = D._md5(served / "t10k-labels-idx1-ubyte.gz")
    missing = (tmp_path / "nowhere").as_uri() + "/"
    good = D.DatasetSpec("mnist", (missing, served.as_uri() + "/"), {"t10k-labels-idx1-ubyte.gz": good_md5}, 10)
    path = D.download(good, "t10k-labels-idx1-ubyte", dest)  # the first mirror fails, the second serves
    assert path.name == "t10k-labels-idx1-ubyte.gz" and [p.name for p in dest.iterdir()] == [path.name]


def test_read_only_root_is_never_written(tmp_path, small_valid):
    make_dataset(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    for p in [tmp_path, *tmp_path.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        for split in D.SPLITS:
            D.load_split("mnist", split, tmp_path, allow_download=False)
    finally:
        for p in [tmp_path, *tmp_path.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_stratified_subset_is_balanced_seeded_and_bounded():
    labels = np.repeat(np.arange(10), [100, 90, 80, 70, 60, 50, 40, 30, 20, 10])
    a = D.stratified_subset(labels, 55, seed=1)
    assert len(a) == 55 and len(set(a)) == 55
    counts = np.bincount(labels[a], minlength=10)
    assert np.all(np.abs(counts - 55 * np.bincount(labels) / len(labels)) < 1)
    assert np.array_equal(a, D.stratified_subset(labels, 55, seed=1))
    assert not np.array_equal(a, D.stratified_subset(labels, 55, seed=2))
    with pytest.raises(D.DataError, match="only 550"):
        D.stratified_subset(labels, 551, seed=0)


def test_binarize_modes():
    images = np.array([[0, 127, 128, 255] * 196], dtype=np.uint8)
    assert D.binarize(images, "threshold", 0).tolist()[0][:4] == [0, 0, 1, 1]
    s = D.binarize(np.full((200, 784), 64, np.uint8), "stochastic", 3)
    assert set(np.unique(s)) <= {0, 1} and abs(s.mean() - 64 / 255) < 0.01
    assert np.array_equal(s, D.binarize(np.full((200, 784), 64, np.uint8), "stochastic", 3))


def test_shipped_sample_is_balanced():
    x, y = D.load_split("mnist-sample", "train")
    assert x.shape == (3000, 784) and np.all(np.bincount(y) == 300)
    xv, yv = D.load_split("mnist-sample", "valid")
    xt, yt = D.load_split("mnist-sample", "test")
    assert len(xv) == len(xt) == 1000 and np.all(np.bincount(yt) == 100)


@needs_full_mnist
def test_full_mnist_splits_are_the_papers():
    root = full_mnist_root()
    sizes = {s: len(D.load_split("mnist", s, root, allow_download=False)[0]) for s in D.SPLITS}
    assert sizes == {"train": 50_000, "valid": 10_000, "test": 10_000}
    x, y = D.load_split("mnist", "train", root, train_size=1000, seed=0, allow_download=False)
    assert len(x) == 1000 and np.all(np.abs(np.bincount(y) - 100) <= 15)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64), st.lists(st.integers(0, 2**32 - 1), max_size=4), st.integers(0, 255))
def test_fuzz_idx_parser_never_crashes(tail, dims, nd):
    """Arbitrary bytes, and headers that lie about their sizes: a DataError or a valid array."""
    raw = bytes([0, 0, 8, nd]) + b"".join(d.to_bytes(4, "big") for d in dims) + tail
    for blob in (raw, tail):
        try:
            arr = D.parse_idx(blob, "fuzz")
        except D.DataError:
            continue
        assert arr.size == len(blob) - 4 - 4 * arr.ndim


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_gzip_reader(tmp_path_factory, blob):
    p = tmp_path_factory.mktemp("fz") / "f.gz"
    p.write_bytes(b"\x1f\x8b" + blob)
    try:
        D.read_bytes(p)
    except D.DataError:
        pass


@needs_full_mnist
def test_mnist_basic_is_a_seeded_disjoint_resplit_of_the_70000():
    """Larochelle et al. 2007's protocol: 10,000 / 2,000 / 50,000 from MNIST's 70,000, no image twice."""
    root = full_mnist_root()
    parts = {s: D.load_split("mnist-basic", s, root) for s in D.SPLITS}
    assert {s: len(x) for s, (x, _) in parts.items()} == {"train": 10_000, "valid": 2_000, "test": 50_000}
    train, test = (D.read_pair("mnist", p, root) for p in ("train", "test"))
    pool = np.concatenate([train[0], test[0]])
    order = np.random.default_rng(D.RESPLITS["mnist-basic"].seed).permutation(70_000)
    used = []
    for s, (a, b) in (("train", (0, 10_000)), ("valid", (10_000, 12_000)), ("test", (12_000, 62_000))):
        idx = np.sort(order[a:b])
        assert np.array_equal(parts[s][0], pool[idx])  # each split is exactly its slice of the seeded order
        used.append(idx)
    assert len(np.unique(np.concatenate(used))) == 62_000  # no source image in two splits
    assert (np.concatenate(used) >= 60_000).sum() > 5_000  # MNIST's test file contributes too
    again = D.load_split("mnist-basic", "train", root)
    assert np.array_equal(again[0], parts["train"][0]) and np.array_equal(again[1], parts["train"][1])
    for labels in (parts["train"][1], parts["test"][1]):  # every digit, near its share
        assert np.bincount(labels, minlength=10).min() > 0.08 * len(labels)


def test_the_commands_data_set_names_are_the_loaders():
    """experiments.DATASETS (what the CLI and the configs offer, torch-free) names exactly the data sets
    data.py can load: its files and its re-splits."""

    assert set(T.DATASETS) == set(D.DATASETS) | set(D.RESPLITS)
