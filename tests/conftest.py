import os
from pathlib import Path

# one torch thread for the suite and every command it starts (`--threads auto` honours
# OMP_NUM_THREADS): the tests' tiny nets gain nothing from more, and on a machine whose cores are
# busy with other work one-thread-per-core ran the suite past 40 minutes (revival.threads)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from revival import data as D

# the automatic figures at the end of each command cost a second a run; the figure tests ask for them
os.environ.setdefault("REVIVAL_FIGURES", "0")


def full_mnist_root():
    """The data root when it holds the full MNIST files (CI sets REVIVAL_DATA_DIR), else None."""
    env = os.environ.get("REVIVAL_DATA_DIR")
    if not env:
        return None
    folder = Path(env) / "mnist"
    ok = all(any(p.is_file() for p in D.candidates(folder, base)) for base in D.FILES.values())
    return Path(env) if ok else None


needs_full_mnist = pytest.mark.skipif(
    full_mnist_root() is None,
    reason="full MNIST not found: set REVIVAL_DATA_DIR to a root holding mnist/ (a folder whose mnist/ holds the IDX files)",
)


def random_rbm(n_v, n_h, seed=0, scale=1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(n_h, n_v, generator=g, dtype=dtype) * scale
    b = torch.randn(n_v, generator=g, dtype=dtype) * scale
    c = torch.randn(n_h, generator=g, dtype=dtype) * scale
    return W, b, c


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """`--threads N` in an in-process CLI call sets torch's threads for the whole process; put them
    back, so a later test's bit-for-bit comparison with a subprocess is not run at another count."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """Tiny trained run folders built once per test session and shared by the tests that only read
    them (reports, overlays): two pretrain-rbm runs (a, b) and a two-layer pretrain-dbn run. A test
    that changes a run copies it first (:func:`copy_run`)."""
    from helpers import invoke, only_run

    root = tmp_path_factory.mktemp("tiny-runs")
    common = ["--dataset", "mnist-sample", "--monitor-size", 100, "--logdir", root, "--no-progress"]
    for name in ("a", "b"):
        r = invoke("pretrain-rbm", *common, "--hidden", 8, "--epochs", 2, "--ais-runs", 0, "--name", name)
        assert r.exit_code == 0, r.output
    r = invoke("pretrain-dbn", *common, "--layers", "16,8", "--epochs", 1, "--sample-steps", 2)
    assert r.exit_code == 0, r.output
    return {"rbm": sorted((root / "pretrain-rbm").iterdir()), "dbn": only_run(root, "pretrain-dbn")}


def copy_run(run: Path, dest: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, dest / run.name))
