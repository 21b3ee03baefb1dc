"""Degenerate runs say so: a log-probability below the base-rate model's, AIS carried by a few runs,
samples all alike, each one warning line with what to change; the collapsed DBM a new user met ends
with them in the console and summary.md."""

import json

import numpy as np
import pytest

from helpers import invoke, only_run
from revival.training import health as H


def test_the_base_rate_log_probability_against_brute_force():
    rng = np.random.default_rng(0)
    train = (rng.random((50, 6)) < [0.1, 0.5, 0.9, 0.3, 0.0, 1.0]).astype(float)
    test = (rng.random((20, 6)) < 0.5).astype(float)
    p = np.clip(train.mean(0), H.EPS, 1 - H.EPS)
    brute = np.mean([sum(np.log(p[i] if v[i] else 1 - p[i]) for i in range(6)) for v in test])
    assert H.base_rate_log_prob(train, test) == pytest.approx(brute)


def test_each_warning_fires_on_its_sign_and_only_then():
    rng = np.random.default_rng(1)
    varied = (rng.random((100, 784)) < 0.3).astype(float)
    same = np.tile(varied[:1], (100, 1)) + rng.normal(0, 0.005, (100, 784))
    assert H.degenerate_warnings(-120.0, -206.0, 80.0, 100, varied) == []
    below = H.degenerate_warnings(-304.5, -207.3, what="DBM")
    assert len(below) == 1 and "below the base-rate model's (-207.30:" in below[0]
    assert "smaller rate" in below[0]
    ess = H.degenerate_warnings(ess=6.8, ais_runs=100)
    assert len(ess) == 1 and "6.8 of 100 runs" in ess[0] and "--ais-betas" in ess[0]
    assert H.degenerate_warnings(ess=10.0, ais_runs=100) == []  # 10% is enough
    alike = H.degenerate_warnings(samples=same)
    assert len(alike) == 1 and "100 samples are all alike" in alike[0]


def test_the_collapsed_dbm_a_new_user_met_ends_with_warnings(tmp_path):
    r = invoke(
        "pretrain-dbm", "--dataset", "mnist-sample", "--layers", "100,100", "--pretrain-epochs", 3, "--epochs", 4,
        "--ais-betas", 1000, "--ais-runs", 20, "--no-progress", "--threads", 1, "--logdir", tmp_path,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-dbm")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and len(summary["warnings"]) >= 2
    # 3 pretraining epochs are too few: the top layer's informative share falls from about 0.3 to 0.1
    assert any("collapsing in h2" in w and "--pretrain-epochs" in w for w in summary["warnings"])
    assert any("samples are all alike" in w for w in summary["warnings"])
    md = (run / "summary.md").read_text()
    for w in summary["warnings"]:
        assert w in r.output and w in md


def test_a_healthy_small_dbm_ends_without_warnings(tmp_path):
    """The README's small DBM (20 pretraining and 20 joint epochs on the sample) keeps its top layer
    informative, and its samples, from chains started at training images, are not all alike (from its
    biases they were: slow mixing, not a collapse)."""
    r = invoke(
        "pretrain-dbm", "--dataset", "mnist-sample", "--layers", "100,100", "--pretrain-epochs", 20, "--epochs", 20,
        "--ais-betas", 1000, "--ais-runs", 20, "--no-progress", "--threads", 1, "--logdir", tmp_path,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads((only_run(tmp_path, "pretrain-dbm") / "summary.json").read_text())
    assert summary["warnings"] == [], summary["warnings"]


def test_collapse_warnings_compare_the_last_joint_epoch_with_the_first():
    from revival.training.dbm_train import collapse_warnings, drifting_layers

    first = {"phase": "joint", "varying_h1": 1.0, "varying_h2": 0.34}
    held = {"phase": "joint", "varying_h1": 0.98, "varying_h2": 0.30}
    fell = {"phase": "joint", "varying_h1": 0.98, "varying_h2": 0.10}
    pre = {"phase": "top", "recon_error": 3.0}
    assert collapse_warnings([pre, first, held]) == [] and collapse_warnings([pre]) == []
    (line,) = collapse_warnings([pre, first, held, fell])
    assert "collapsing in h2" in line and "0.34 to 0.10" in line and "--chain-start data" in line
    assert drifting_layers({"varying_h1": 0.4}, {"varying_h1": 0.3}) == []  # not yet half of where it began
    assert drifting_layers({"varying_h1": 0.9}, {"varying_h1": 0.6}) == []  # most units still vary
