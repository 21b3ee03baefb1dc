"""Resume: a run folder says how it ended and continues from its last completed epoch; damaged,
busy, killed or changed runs are told apart."""

import json
import os
import signal
import subprocess
import sys

import pytest

from helpers import TINY_RBM as R
from helpers import events, interrupt_after, one_error_line, only_run, run_cli, start
from revival import runs


def test_divergence_in_the_first_epoch_says_nothing_was_saved_and_resume_starts_over(tmp_path):
    r = run_cli(*R, "--lr", "1e6", "--logdir", tmp_path)
    assert r.exit_code == 1
    line = one_error_line(r.output.replace("run folder: ", "", 1).split("\n", 1)[1])
    assert "diverged" in line and "no checkpoint" in line
    run = only_run(tmp_path, "pretrain-rbm")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "diverged" and "nothing was saved" in s["hint"]
    r = run_cli("pretrain-rbm", "--resume", run, "--no-progress")
    assert r.exit_code == 1 and "diverged" in r.output and "Traceback" not in r.output  # from epoch 0, no crash


@pytest.mark.parametrize("damage", ["truncated-state", "config-list", "config-garbage"])
def test_damaged_run_folders_on_resume(tmp_path, damage):
    assert run_cli(*R, "--logdir", tmp_path).exit_code == 0
    run = only_run(tmp_path, "pretrain-rbm")
    runs.write_json(run / "summary.json", {"status": "interrupted"})
    if damage == "truncated-state":
        (run / "state.pt").write_bytes((run / "state.pt").read_bytes()[:100])
        r = run_cli("pretrain-rbm", "--resume", run, "--no-progress")
        assert r.exit_code == 1 and "state.pt: cannot be read" in one_error_line(r.output.split("\n", 1)[1])
        assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    else:
        (run / "config.json").write_text("[1, 2]" if damage == "config-list" else "{not json")
        r = run_cli("pretrain-rbm", "--resume", run)
        assert r.exit_code == 2 and "--resume" in r.output and "config.json" in r.output


def test_a_second_process_cannot_resume_a_folder_in_use(tmp_path):
    assert run_cli(*R, "--logdir", tmp_path).exit_code == 0
    run = only_run(tmp_path, "pretrain-rbm")
    runs.write_json(run / "summary.json", {"status": "interrupted"})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from revival import runs; "
            "l = runs.RunLock(sys.argv[1]); assert l.acquire(); print('held', flush=True); "
            "time.sleep(60)",
            str(run),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        r = run_cli("pretrain-rbm", "--resume", run)
        assert r.exit_code == 2 and f"in use by another revival process (PID {holder.pid})" in r.output
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("pretrain-rbm", "--resume", run, "--no-progress").exit_code == 0  # the lock died with it


def test_a_killed_run_is_called_killed_and_resumes(tmp_path):
    proc = start([*R, "--epochs", "40", "--hidden", "64"], tmp_path)
    for line in proc.stdout:
        if "epoch 2/40" in line:
            proc.kill()  # SIGKILL: no chance to record anything
            break
    proc.wait()
    run = only_run(tmp_path, "pretrain-rbm")
    assert json.loads((run / "summary.json").read_text())["status"] == "running"
    r = run_cli("pretrain-rbm", "--resume", run, "--no-progress", "--epochs", 3)
    assert r.exit_code == 0 and "died without recording" in r.output, r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["options"]["epochs"] == 3 and cfg["resumed"][0]["epochs"] == 3


def test_a_resumed_run_is_running_again_so_a_kill_during_it_is_detected(tmp_path):
    proc = start([*R, "--epochs", "40", "--hidden", "64"], tmp_path)
    assert interrupt_after(proc, "epoch 2/40", signal.SIGINT) == 130
    run = only_run(tmp_path, "pretrain-rbm")
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"

    def resume():
        return subprocess.Popen(
            [sys.executable, "-m", "revival", "pretrain-rbm", "--resume", str(run), "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    proc = resume()
    for line in proc.stdout:
        if "epoch 4/40" in line:  # training again: the folder says so
            s = json.loads((run / "summary.json").read_text())
            proc.kill()
            break
    proc.wait()
    assert s["status"] == "running" and "hint" not in s and s["resumed_from"][0]["status"] == "interrupted"
    assert json.loads((run / "summary.json").read_text())["status"] == "running"  # SIGKILL: nothing recorded
    assert interrupt_after(resume(), "epoch 5/40", signal.SIGINT) == 130  # the next resume knows it was killed
    s = json.loads((run / "summary.json").read_text())
    assert [h["status"] for h in s["resumed_from"]] == ["interrupted", "killed"] and s["status"] == "interrupted"


def test_resume_refuses_changed_options_but_extends_epochs(tmp_path):
    assert run_cli(*R, "--logdir", tmp_path).exit_code == 0
    run = only_run(tmp_path, "pretrain-rbm")
    r = run_cli("pretrain-rbm", "--resume", run, "--epochs", 2, "--lr", 5)
    assert r.exit_code == 2 and "--lr cannot change on resume" in r.output
    r = run_cli("pretrain-rbm", "--resume", run)
    assert r.exit_code == 2 and "already finished" in r.output
    r = run_cli("pretrain-rbm", "--resume", run, "--epochs", 4, "--no-progress")  # a finished run, extended
    assert r.exit_code == 0 and "after epoch 2" in r.output and "epoch 4/4" in r.output, r.output
    assert [e.step for e in events(run).Scalars("rbm/recon_error")] == [1, 2, 3, 4]
    assert json.loads((run / "config.json").read_text())["resumed"][0]["epochs"] == 4
    r = run_cli("compare-dropout", "--resume", run)
    assert r.exit_code == 2  # not a compare-dropout run


def test_a_resume_in_the_same_second_keeps_tensorboard_steps_in_order(tmp_path):
    """TensorBoard reads event files in name order (creation second, then PID): a resumed writer
    must not sort before the file of the run it continues."""
    with runs.writer(tmp_path) as w:
        for step in (1, 2, 3):
            w.add_scalar("x", step, step)
    with runs.writer(tmp_path, purge_step=3) as w:  # at once, as a quick Ctrl-C and --resume would
        for step in (3, 4):
            w.add_scalar("x", 10 + step, step)
    files = sorted(p.name for p in tmp_path.glob("events.out.tfevents.*"))
    assert len(files) == 2 and files[0].split(".")[3] < files[1].split(".")[3]
    assert [(e.step, e.value) for e in events(tmp_path).Scalars("x")] == [(1, 1), (2, 2), (3, 13), (4, 14)]
