"""Interruption, resume, divergence, determinism and never clobbering a run folder."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from helpers import events, interrupt_after, invoke, only_run, start, timeless
from revival import runs
from revival.cli import main

RBM = [
    "pretrain-rbm",
    "--dataset",
    "mnist-sample",
    "--hidden",
    "64",
    "--epochs",
    "8",
    "--ais-runs",
    "0",
    "--monitor-size",
    "200",
    "--seed",
    "3",
    "--persistent",
    "--no-progress",
]
MLP = [
    "compare-dropout",
    "--dataset",
    "mnist-sample",
    "--train-size",
    "500",
    "--layers",
    "64",
    "--epochs",
    "6",
    "--variants",
    "baseline,dropout",
    "--mc-samples",
    "3",
    "--eval-train-size",
    "500",
    "--seed",
    "2",
    "--no-progress",
]


def test_sigint_then_resume_gives_the_uninterrupted_parameters_bit_for_bit(tmp_path):
    code = interrupt_after(start(RBM, tmp_path / "a"), "epoch 2/8", signal.SIGINT)
    assert code == 130
    run = only_run(tmp_path / "a", "pretrain-rbm")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "interrupted" and "--resume" in s["hint"]
    done = torch.load(run / "state.pt", weights_only=True)["epoch"]
    assert 2 <= done < 8
    torch.load(run / "model.pt", weights_only=True)  # the last completed epoch is readable
    r = invoke("pretrain-rbm", "--resume", run, "--no-progress")
    assert r.exit_code == 0, r.output
    assert f"resuming {run} after epoch {done}" in r.output
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert invoke(*RBM, "--logdir", tmp_path / "b").exit_code == 0
    ref = only_run(tmp_path / "b", "pretrain-rbm")
    a, b = (torch.load(p / "model.pt", weights_only=True)["state_dict"] for p in (run, ref))
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa, sb = (torch.load(p / "state.pt", weights_only=True)["trainer"] for p in (run, ref))
    assert torch.equal(sa["chain"], sb["chain"]) and all(torch.equal(x, y) for x, y in zip(sa["vel"], sb["vel"]))
    # one scalar per epoch in TensorBoard, no duplicates from the interrupted part
    steps = [e.step for e in events(run).Scalars("rbm/recon_error")]
    assert steps == list(range(1, 9))


def test_sigterm_then_resume_compare_dropout(tmp_path):
    code = interrupt_after(start(MLP, tmp_path / "a"), "[dropout] epoch 2/6", signal.SIGTERM)
    assert code == 143
    run = only_run(tmp_path / "a", "compare-dropout")
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert (run / "baseline" / "result.json").is_file() and not (run / "dropout" / "result.json").exists()
    r = invoke("compare-dropout", "--resume", run, "--no-progress")
    assert r.exit_code == 0, r.output
    assert invoke(*MLP, "--logdir", tmp_path / "b").exit_code == 0
    ref = only_run(tmp_path / "b", "compare-dropout")
    rows = [timeless(json.loads((p / "summary.json").read_text())["rows"]) for p in (run, ref)]
    assert rows[0] == rows[1]
    a, b = (torch.load(p / "dropout" / "model.pt", weights_only=True)["state_dict"] for p in (run, ref))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_during_the_final_evaluation_is_an_interruption_and_resumes(tmp_path, monkeypatch):
    from revival.models import partition

    real = partition.log_prob

    def interrupted_once(*a, **k):
        monkeypatch.setattr(partition, "log_prob", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(partition, "log_prob", interrupted_once)
    args = [
        "pretrain-rbm",
        "--dataset",
        "mnist-sample",
        "--hidden",
        "12",
        "--epochs",
        "2",
        "--monitor-size",
        "100",
        "--no-progress",
        "--logdir",
        tmp_path,
    ]
    r = invoke(*args)
    assert r.exit_code == 130
    run = only_run(tmp_path, "pretrain-rbm")
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    r = invoke("pretrain-rbm", "--resume", run, "--no-progress")
    assert r.exit_code == 0, r.output
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "finished" and s["log_prob"]["method"] == "exact" and "recon_error" in s["final"]


def test_divergence_stops_keeps_the_last_good_epoch_and_says_so(tmp_path, monkeypatch):
    from revival.training import train

    real = train.RBMTrainer.train_epoch

    def poisoned(self, data, epoch, *a, **k):
        out = real(self, data, epoch, *a, **k)
        if epoch == 1:
            self.model.weight.data[0, 0] = float("nan")
        return out

    monkeypatch.setattr(train.RBMTrainer, "train_epoch", poisoned)
    r = CliRunner().invoke(
        main,
        [
            "pretrain-rbm",
            "--dataset",
            "mnist-sample",
            "--hidden",
            "8",
            "--epochs",
            "4",
            "--ais-runs",
            "0",
            "--monitor-size",
            "100",
            "--logdir",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 1 and "diverged" in r.output and "--lr" in r.output
    run = only_run(tmp_path, "pretrain-rbm")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "diverged" and s["epoch"] == 2
    ck = torch.load(run / "model.pt", weights_only=True)
    assert ck["config"]["epochs_completed"] == 1 and torch.isfinite(ck["state_dict"]["weight"]).all()
    assert [e.step for e in events(run).Scalars("rbm/recon_error")] == [1]


def test_a_huge_learning_rate_diverges_with_exit_1(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "compare-dropout",
            "--dataset",
            "mnist-sample",
            "--train-size",
            "200",
            "--layers",
            "32",
            "--epochs",
            "3",
            "--lr",
            "1e12",
            "--variants",
            "baseline",
            "--logdir",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 1 and "diverged" in r.output
    s = json.loads((only_run(tmp_path, "compare-dropout") / "summary.json").read_text())
    assert s["status"] == "diverged"


def test_same_seed_same_metrics(tmp_path):
    args = [
        "pretrain-rbm",
        "--dataset",
        "mnist-sample",
        "--hidden",
        "20",
        "--epochs",
        "2",
        "--ais-runs",
        "0",
        "--monitor-size",
        "100",
        "--dropout",
        "0.3",
        "--logdir",
        tmp_path,
    ]
    for name in ("x", "y"):
        assert invoke(*args, "--name", name).exit_code == 0
    finals = [json.loads(p.read_text())["final"] for p in sorted((tmp_path / "pretrain-rbm").glob("*/summary.json"))]
    assert len(finals) == 2 and finals[0] == finals[1]
    assert invoke(*args, "--name", "z", "--seed", 5).exit_code == 0
    other = json.loads(next((tmp_path / "pretrain-rbm").glob("*-z/summary.json")).read_text())["final"]
    assert other != finals[0]


def test_run_folders_are_never_reused(tmp_path):
    now = time.time()
    made = {runs.new_run_dir(tmp_path, "cmd", None, now) for _ in range(5)}
    made |= {runs.new_run_dir(tmp_path, "cmd", "n", now) for _ in range(2)}
    assert len(made) == 7 and all(p.is_dir() for p in made)


def test_two_processes_started_together_get_distinct_folders(tmp_path):
    code = (
        "import sys, time; from revival import runs; t = float(sys.argv[1]);"
        "print(runs.new_run_dir(sys.argv[2], 'cmd', None, t))"
    )
    now = str(time.time())
    procs = [
        subprocess.Popen([sys.executable, "-c", code, now, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = {p.communicate()[0].strip() for p in procs}
    assert len(outs) == 4


@pytest.mark.parametrize("what", ["not-a-run", "other-command", "finished"])
def test_resume_refuses_what_it_cannot_continue(tmp_path, what):
    if what == "not-a-run":
        target = tmp_path / "empty"
        target.mkdir()
    else:
        cmd = "compare-dropout" if what == "other-command" else "pretrain-rbm"
        target = runs.new_run_dir(tmp_path, cmd)
        runs.write_json(target / "config.json", {"command": cmd, "options": {}})
        runs.write_json(target / "summary.json", {"status": "finished" if what == "finished" else "interrupted"})
    r = CliRunner().invoke(main, ["pretrain-rbm", "--resume", str(target)])
    assert r.exit_code == 2 and "--resume" in r.output
    needle = {
        "not-a-run": "not a revival run folder",
        "other-command": "not of 'pretrain-rbm'",
        "finished": "already finished",
    }[what]
    assert needle in r.output
