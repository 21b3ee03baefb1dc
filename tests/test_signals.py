"""SIGINT and SIGTERM are honoured at every stage (starting, training, evaluating, drawing figures):
one line, the signal's exit code, and what was completed is kept and resumable."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers import TINY_COMPARE as C
from helpers import TINY_RBM as R
from helpers import interrupt_after, only_run, run_cli, start
from revival import runs


def test_sigterm_during_mc_evaluation_stops_the_experiment_promptly(tmp_path):
    proc = start([*C, "--variants", "dropout,baseline", "--mc-samples", "200000"], tmp_path)
    t0 = time.time()
    code = interrupt_after(proc, "[dropout] epoch 2/2", signal.SIGTERM)
    assert code == 143 and time.time() - t0 < 60  # 200,000 masks would take many minutes
    run = only_run(tmp_path, "compare-dropout")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "interrupted"
    assert not (run / "baseline").exists()  # the next variant never started
    assert (run / "dropout" / "model.pt").is_file() and (run / "dropout" / "state.pt").is_file()
    assert "interrupted" in (run / "summary.md").read_text()


def test_gracefulstop_never_drops_a_signal():
    from revival.training.train import GracefulStop

    with pytest.raises(runs.Interrupted) as e:
        with GracefulStop():
            signal.raise_signal(signal.SIGTERM)  # arrives after the last check(): raised on leaving
    assert e.value.exit_code == 143


def test_ctrl_c_while_starting_exits_130_not_aborted(monkeypatch):
    from revival.cli import rbm as cli_rbm

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_rbm, "prepare", interrupted)
    r = run_cli(*R)
    assert r.exit_code == 130 and "Aborted" not in r.output and "nothing to resume" in r.output


def test_ais_checks_for_signals_and_reports_progress(tmp_path):
    from revival.models import partition as P

    W, b, c = torch.zeros(4, 6), torch.zeros(6), torch.zeros(4)
    seen = []

    def check():
        if len(seen) > 5:
            raise runs.Interrupted(signal.SIGINT)

    with pytest.raises(runs.Interrupted):
        P.ais_log_z(
            W,
            b,
            c,
            torch.zeros(6),
            3,
            P.betas_of_size(1000),
            torch.Generator().manual_seed(0),
            check,
            lambda done, total: seen.append((done, total)),
        )
    assert seen[0][1] == 999 and 5 < len(seen) < 10


def test_interrupt_before_the_first_epoch_tells_the_truth(tmp_path, monkeypatch):
    from revival.training import train

    real = train.RBMTrainer.train_epoch
    calls = []

    def interrupted_first(self, *a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise runs.Interrupted(signal.SIGINT)
        return real(self, *a, **k)

    monkeypatch.setattr(train.RBMTrainer, "train_epoch", interrupted_first)
    r = run_cli(*R, "--logdir", tmp_path)
    assert r.exit_code == 130 and "nothing was saved yet" in r.output
    run = only_run(tmp_path, "pretrain-rbm")
    assert "nothing saved yet" in json.loads((run / "summary.json").read_text())["hint"]
    r = run_cli("pretrain-rbm", "--resume", run, "--no-progress")
    assert r.exit_code == 0, r.output
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"


def _patched_cli(patch: str, args: list, tmp_path):
    """Run the CLI in a fresh interpreter after ``patch`` (Python source run first), so a signal
    can be sent at a chosen moment from inside the process."""
    code = (
        "import os, signal, sys, time\nimport revival.cli.common as CLI\nimport revival.reporting.report as REP\n"
        "from revival.cli import main\n" + patch + "\nsys.argv = ['revival', *sys.argv[1:]]\nmain()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_figures_are_drawn_leaves_the_run_finished(tmp_path, sig, code):
    patch = (
        f"real = REP.run_figures\ndef slow(*a, **k):\n    os.kill(os.getpid(), {int(sig)})\n    time.sleep(30)\n"
        "    return real(*a, **k)\nREP.run_figures = slow"
    )
    out = _patched_cli(patch, [*R, "--epochs", 1, "--figures", "--logdir", tmp_path], tmp_path)
    assert out.returncode == code, out.stderr
    run = only_run(tmp_path, "pretrain-rbm")
    assert "interrupted while drawing the figures: the run itself finished" in out.stderr
    assert f"revival report {run}" in out.stderr and "Traceback" not in out.stderr
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert "nothing to resume" not in out.stderr


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_at_start_up_is_one_line_and_the_signal_code(tmp_path, sig, code):
    patch = f"def early(*a, **k):\n    os.kill(os.getpid(), {int(sig)})\n    time.sleep(30)\nCLI.apply_threads = early"
    out = _patched_cli(patch, [*R, "--logdir", tmp_path], tmp_path)
    assert out.returncode == code and out.stderr.strip() == "interrupted before anything started; nothing to resume."
    assert not (tmp_path / "pretrain-rbm").exists()


def test_a_stop_between_evaluations_saves_the_last_completed_epoch(tmp_path, monkeypatch):
    """--min-updates: 20 short epochs evaluated every 10; a stop in epoch 8 keeps epochs 1-7."""
    from revival.training.train import ClassifierTrainer

    real = ClassifierTrainer.train_epoch

    def stop_in_8(self, x, y, epoch, *a, **k):
        if epoch == 7:
            raise runs.Interrupted(signal.SIGINT)
        return real(self, x, y, epoch, *a, **k)

    monkeypatch.setattr(ClassifierTrainer, "train_epoch", stop_in_8)
    r = run_cli(*C, "--variants", "baseline", "--min-updates", 40, "--logdir", tmp_path)
    assert r.exit_code == 130 and "the last completed epoch is saved" in r.output, r.output
    run = only_run(tmp_path, "compare-dropout")
    assert torch.load(run / "baseline" / "state.pt", weights_only=True)["epoch"] == 7
    monkeypatch.setattr(ClassifierTrainer, "train_epoch", real)
    r = run_cli("compare-dropout", "--resume", run)
    assert r.exit_code == 0 and "resuming after epoch 7" in r.output, r.output
