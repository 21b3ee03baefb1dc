"""The helper scripts under scripts/ that turn run folders into the docs' tables."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import full_mnist_root, needs_full_mnist

SCRIPTS = Path(__file__).parent.parent / "scripts"


def fake_run(root: Path, seeds, errors, epochs=200):
    root.mkdir(parents=True)
    (root / "config.json").write_text(
        json.dumps({"command": "compare-dropout", "options": {"preset": "p", "epochs": epochs}})
    )
    for s, e in zip(seeds, errors):
        point = root / f"baseline-s{s}"
        point.mkdir()
        row = {"variant": "baseline", "depth": 1, "train_size": None, "seed": s, "test_error": e}
        (point / "result.json").write_text(json.dumps(row))
    return root


def seeds_table(*runs):
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "seeds_table.py"), *map(str, runs)], capture_output=True, text=True
    )


def test_seeds_table_pools_the_seeds_of_several_runs(tmp_path):
    a = fake_run(tmp_path / "a", [0], [0.04])
    b = fake_run(tmp_path / "b", [1, 2], [0.05, 0.06])
    out = seeds_table(a, b)
    assert out.returncode == 0, out.stderr
    assert "| baseline | 1 | all | 3 | 5.00 +- 1.00 | 0: 4.00, 1: 5.00, 2: 6.00 |" in out.stdout
    assert seeds_table(a, a).returncode != 0  # the same seed twice
    c = fake_run(tmp_path / "c", [3], [0.05], epochs=100)
    bad = seeds_table(a, c)
    assert bad.returncode != 0 and "other epochs" in bad.stderr


def size_run(root: Path, rows):
    for variant, size, seed, err in rows:
        point = root / f"{variant}-n{size}-s{seed}"
        point.mkdir(parents=True)
        (point / "result.json").write_text(
            json.dumps({"variant": variant, "train_size": size, "seed": seed, "test_error": err})
        )
    return root


def test_data_size_figure_pools_seeds_and_a_later_run_replaces_its_points(tmp_path):
    a = size_run(tmp_path / "a", [("dropout", 100, 0, 0.2), ("dropout", 100, 1, 0.3), ("svm-rbf", 100, 0, 0.25)])
    b = size_run(tmp_path / "b", [("dropout", 50000, 0, 0.017), ("svm-rbf", 50000, 0, 0.0163)])
    c = size_run(tmp_path / "c", [("dropout", 50000, 0, 0.014), ("dropout", 50000, 1, 0.016)])  # longer rerun
    out = subprocess.run(
        [sys.executable, str(SCRIPTS / "data_size_figure.py"), str(a), str(b), str(c)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "| dropout | 25.00 +- 7.07 (2) | 1.50 +- 0.14 (2) |" in out.stdout  # c's two rows, not b's
    assert "| svm-rbf | 25.00 (1 seed) | 1.63 (1 seed) |" in out.stdout
    assert "note: dropout at 50,000 images from" in out.stdout and "replacing 1 row(s)" in out.stdout


@needs_full_mnist
def test_bench_floor_counts_each_loops_matrix_work_as_the_formulas_do():
    """The floor benchmark's GFLOP column against the products written out: CD-1 makes five
    [B, 784] x [784, 500]-sized products a batch (up, down, up, and the fused positive and negative
    statistics, 10 N V H), and a 784-500-500-2000-10 net's epoch 2 P N forward plus 2 P N for the
    weights' gradients and 2 (P - 784 x 500) N for the inputs' (none for the pixels)."""
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "bench_floor.py"),
            "--rows",
            "300",
            "--repeats",
            "1",
            "--only",
            "rbm-cd1,rbm-cd1-monitored,finetune,finetune-plain",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "REVIVAL_DATA_DIR": str(full_mnist_root())},
    )
    assert out.returncode == 0, out.stderr
    table = [line.split("|") for line in out.stdout.splitlines() if line.startswith("| ")]
    rows = {cells[1].strip(): cells[2:] for cells in table[2:]}  # past the header and its rule
    n = 60_000  # every row is scaled to all of MNIST's training images
    assert int(rows["rbm-cd1"][1]) == round(10 * n * 784 * 500 / 1e9)
    params = 784 * 500 + 500 * 500 + 500 * 2000 + 2000 * 10
    assert int(rows["finetune"][1]) == round((6 * params - 2 * 784 * 500) * n / 1e9)
    assert rows["finetune-plain"][1] == rows["finetune"][1]  # the plain loop: the same products
    assert "finetune / finetune-plain, epoch by epoch in the same rounds: median" in out.stdout
    # the monitors look at fixed subsets (150 images each here) and sweep 100 display chains: about
    # 4 GFLOP, counted once an epoch, not scaled with the training pass (200-fold: ~800 GFLOP more)
    assert 0 <= int(rows["rbm-cd1-monitored"][1]) - int(rows["rbm-cd1"][1]) <= 10
    for cells in rows.values():  # the time shares of the profiled epoch add up
        assert sum(float(c.strip().rstrip("%")) for c in cells[3:8]) == pytest.approx(100, abs=3)


@needs_full_mnist
def test_bench_floor_in_bf16_counts_the_same_work_against_the_bf16_floor():
    """``--precision bf16``: the same products (in bf16, the commands' ``--precision bf16``), the floor
    measured in bf16; the DBM's joint epoch, which has no bf16, is refused by name, not silently run in fp32."""
    env = {**os.environ, "REVIVAL_DATA_DIR": str(full_mnist_root())}
    cmd = [sys.executable, str(SCRIPTS / "bench_floor.py"), "--rows", "200", "--repeats", "1", "--precision", "bf16"]
    out = subprocess.run([*cmd, "--only", "finetune,finetune-plain"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    rows = {
        c[1].strip(): c[2:] for c in (line.split("|") for line in out.stdout.splitlines()[4:] if line.startswith("| "))
    }
    params = 784 * 500 + 500 * 500 + 500 * 2000 + 2000 * 10
    assert (
        int(rows["finetune"][1]) == int(rows["finetune-plain"][1]) == round((6 * params - 2 * 784 * 500) * 60_000 / 1e9)
    )
    assert "products in bf16" in out.stdout and "large bf16 matmul" in out.stdout
    bad = subprocess.run([*cmd, "--only", "dbm-joint"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "no loop dbm-joint" in bad.stderr


def test_dbm_trend_figure_tables_the_copies_and_draws_them(tmp_path):
    from helpers import invoke, only_run

    r = invoke(
        "pretrain-dbm", "--dataset", "mnist-sample", "--train-size", 300, "--layers", "16,8", "--pretrain-epochs", 1,
        "--epochs", 2, "--ais-runs", 0, "--no-progress", "--logdir", tmp_path,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-dbm")
    ais = tmp_path / "e2.json"
    ais.write_text(
        json.dumps(
            {
                "avg_log_prob": -150.0,
                "avg_log_prob_lower": -151.5,
                "avg_log_prob_upper": "inf",
                "ess": 7.5,
                "ais_runs": 100,
            }
        )
    )
    runs = []
    for name, optimizer, err in (("sgd", "sgd", 0.0123), ("cg", "cg", 0.0111)):
        ft = tmp_path / name
        ft.mkdir()
        (ft / "config.json").write_text(json.dumps({"command": "compare-dropout", "options": {"optimizer": optimizer}}))
        (ft / "summary.json").write_text(json.dumps({"rows": [{"variant": "dbm-pretrained", "test_error": err}]}))
        runs += ["--finetune", f"2={ft}"]
    out_png = tmp_path / "trend.png"
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "dbm_trend_figure.py"),
            str(run),
            "--ais",
            f"2={ais}",
            *runs,
            "--out",
            str(out_png),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "| 2 | -150.00 | [-151.50, inf] | 7.5 of 100 | 1.23 (sgd), 1.11 (cg) |" in out.stdout
    assert out_png.stat().st_size > 10_000
    bad = subprocess.run(
        [sys.executable, str(SCRIPTS / "dbm_trend_figure.py"), str(run), "--ais", str(ais)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "expected EPOCH=PATH" in bad.stderr
