"""--precision bf16: probed, with a fallback that says why; mixed-precision CD statistics and
classifier steps close to float32; --threads."""

import json
import os

import pytest
import torch

from helpers import invoke, only_run
from revival.models import rbm as R
from revival.training import precision as PR


def test_probe_measures_both_precisions():
    p = PR.probe(torch.device("cpu"), shape=(32, 64, 32), budget_s=0.01)
    assert p["fp32"] > 0 and p["bf16"] >= 0 and p["ratio"] == pytest.approx(p["bf16"] / p["fp32"])


def test_resolve_falls_back_with_one_line_where_bf16_is_slow(monkeypatch):
    lines = []
    monkeypatch.setattr(
        PR, "probe", lambda device, shape=None, budget_s=0.1: {"fp32": 140.0, "bf16": 4.0, "ratio": 4.0 / 140.0}
    )
    used, info = PR.resolve("bf16", "cpu", lines.append)
    assert used == "fp32" and info["requested"] == "bf16" and info["probe_ratio"] == pytest.approx(0.03, abs=0.01)
    assert len(lines) == 1 and "falls back to fp32" in lines[0] and "0.03x" in lines[0]
    monkeypatch.setattr(
        PR, "probe", lambda device, shape=None, budget_s=0.1: {"fp32": 100.0, "bf16": 230.0, "ratio": 2.3}
    )
    assert PR.resolve("bf16", "cpu", lines.append)[0] == "bf16" and len(lines) == 1
    assert PR.resolve("fp32", "cpu", lines.append) == ("fp32", {"requested": "fp32"})


def test_bf16_cd_statistics_stay_close_to_float32():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(64, 100, generator=g) * 0.1
    b, c = torch.randn(100, generator=g) * 0.1, torch.randn(64, generator=g) * 0.1
    v0 = (torch.rand(50, 100, generator=g) < 0.3).float()
    full = R.cd_statistics(v0, W, b, c, 1, torch.Generator().manual_seed(1))
    low = R.cd_statistics(v0, W, b, c, 1, torch.Generator().manual_seed(1), lowp=torch.bfloat16)
    for a, z in zip(full[:4], low[:4]):
        assert z.dtype == torch.float32
    # the data-phase probabilities differ only by bf16 rounding of the product (8 bits)
    assert (full[0][:50] - low[0][:50]).abs().max() < 0.02
    # the same uniforms drive the samples: nearly every hidden sample agrees
    grad_full = R.weight_gradient(full[0], full[1])
    grad_low = R.weight_gradient(low[0], low[1])
    assert (grad_full - grad_low).norm() / grad_full.norm() < 0.1


def test_bf16_everywhere_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setattr(
        PR, "probe", lambda device, shape=None, budget_s=0.1: {"fp32": 100.0, "bf16": 300.0, "ratio": 3.0}
    )
    r = invoke(
        "pretrain-rbm",
        "--dataset",
        "mnist-sample",
        "--hidden",
        "32",
        "--epochs",
        "2",
        "--ais-runs",
        "0",
        "--precision",
        "bf16",
        "--no-progress",
        "--logdir",
        tmp_path / "rbm",
    )
    assert r.exit_code == 0, r.output
    cfg = json.loads((only_run(tmp_path / "rbm", "pretrain-rbm") / "config.json").read_text())["options"]
    assert cfg["precision"] == "bf16" and cfg["precision_info"]["probe_ratio"] == 3.0
    assert cfg["precision_info"]["probe_shape"] == [100, 784, 32]  # the run's own batch x 784 x hidden product
    r = invoke(
        "compare-dropout",
        "--dataset",
        "mnist-sample",
        "--train-size",
        "200",
        "--layers",
        "32",
        "--epochs",
        "2",
        "--mc-samples",
        "0",
        "--variants",
        "baseline,pretrained",
        "--pretrain-epochs",
        "1",
        "--precision",
        "bf16",
        "--no-progress",
        "--logdir",
        tmp_path / "cmp",
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path / "cmp", "compare-dropout")
    rows = json.loads((run / "summary.json").read_text())["rows"]
    assert all(0 <= row["test_error"] < 0.9 for row in rows)
    # a slow bf16: the run says so once and trains in fp32
    monkeypatch.setattr(
        PR, "probe", lambda device, shape=None, budget_s=0.1: {"fp32": 100.0, "bf16": 5.0, "ratio": 0.05}
    )
    r = invoke(
        "pretrain-rbm",
        "--dataset",
        "mnist-sample",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--ais-runs",
        "0",
        "--precision",
        "bf16",
        "--no-progress",
        "--logdir",
        tmp_path / "slow",
    )
    assert r.exit_code == 0
    assert r.output.count("falls back to fp32") == 1  # Click's runner shows stderr in the output
    cfg = json.loads((only_run(tmp_path / "slow", "pretrain-rbm") / "config.json").read_text())["options"]
    assert cfg["precision"] == "fp32" and cfg["precision_info"]["requested"] == "bf16"


def test_threads_option_sets_torch_threads(tmp_path):
    before = torch.get_num_threads()
    try:
        r = invoke(
            "pretrain-rbm",
            "--dataset",
            "mnist-sample",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--ais-runs",
            "0",
            "--threads",
            "1",
            "--no-progress",
            "--logdir",
            tmp_path,
        )
        assert r.exit_code == 0, r.output
        assert torch.get_num_threads() == 1
        assert json.loads((only_run(tmp_path, "pretrain-rbm") / "config.json").read_text())["options"]["threads"] == 1
    finally:
        torch.set_num_threads(before)
    r = invoke("evaluate-rbm", only_run(tmp_path, "pretrain-rbm"), "--threads", "0")
    assert r.exit_code == 2


def test_auto_threads_takes_the_free_cores_and_honours_omp_num_threads(monkeypatch):
    from revival import threads as T

    monkeypatch.setattr(T, "usable_cores", lambda: 4)
    assert T.auto_threads({}, free=4.0)[0] == 4
    assert T.auto_threads({}, free=1.8)[0] == 2  # a core 20% busy elsewhere still counts
    assert T.auto_threads({}, free=1.6)[0] == 1
    assert T.auto_threads({}, free=0.0)[0] == 1  # every core busy: one thread, never torch's one per core
    assert T.auto_threads({}, free=9.0)[0] == 4  # never more than this process may use
    assert T.auto_threads({"OMP_NUM_THREADS": "3"}, free=0.0) == (3, "OMP_NUM_THREADS")
    assert T.auto_threads({"OMP_NUM_THREADS": "x"}, free=2.2)[0] == 2
    assert 0.0 <= T.free_cores(0.05) <= (os.cpu_count() or 1) + 1e-9


def test_threads_default_is_auto_and_recorded(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        r = invoke(
            "pretrain-rbm",
            "--dataset",
            "mnist-sample",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--ais-runs",
            "0",
            "--no-progress",
            "--logdir",
            tmp_path,
        )
        assert r.exit_code == 0, r.output
        opts = json.loads((only_run(tmp_path, "pretrain-rbm") / "config.json").read_text())["options"]
        assert opts["threads"] == 1 and opts["threads_chosen_by"] == "OMP_NUM_THREADS"
    finally:
        torch.set_num_threads(before)
    r = invoke("pretrain-rbm", "--threads", "many")
    assert r.exit_code == 2 and "neither 'auto' nor a whole number" in r.output


def test_a_resume_at_another_thread_count_is_on_record(tmp_path):
    # torch's thread count is put back after each test by conftest's autouse fixture
    r = invoke(
        "pretrain-rbm",
        "--dataset",
        "mnist-sample",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--ais-runs",
        "0",
        "--threads",
        "1",
        "--no-progress",
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-rbm")
    r = invoke("pretrain-rbm", "--resume", run, "--epochs", "2", "--threads", "2", "--no-progress")
    assert r.exit_code == 0, r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["options"]["threads"] == 2 and cfg["resumed"][-1]["threads"] == 2
    assert cfg["resumed"][-1]["threads_chosen_by"] == "--threads"
