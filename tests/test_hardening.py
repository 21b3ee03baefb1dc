"""Every failure a user can cause ends in one clear line with the documented exit code; every
signal is honoured; what a run folder says is true ."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from functools import partial

import pytest
import torch

from helpers import events, invoke, only_run
from revival import runs
from revival.config import resolve_compare
from test_reliability import interrupt_after, start

run_cli = partial(invoke, catch=True)  # as a user meets it: the exit code and the output, no exception

R = [
    "pretrain-rbm",
    "--dataset",
    "mnist-sample",
    "--hidden",
    "16",
    "--epochs",
    "2",
    "--ais-runs",
    "0",
    "--monitor-size",
    "100",
    "--no-progress",
]
C = [
    "compare-dropout",
    "--dataset",
    "mnist-sample",
    "--layers",
    "32",
    "--epochs",
    "2",
    "--train-size",
    "200",
    "--eval-train-size",
    "200",
    "--no-progress",
]


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith(("Usage:", "Try "))]
    assert len(lines) == 1, output
    return lines[0]


# ------------------------------------------------------------------------- signals


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


def test_evaluate_rbm_shows_ais_progress_and_says_one_run_has_no_interval(tmp_path):
    from test_cli_rbm import handmade_checkpoint

    handmade_checkpoint(tmp_path / "m.pt", n_h=30)
    r = run_cli("evaluate-rbm", tmp_path / "m.pt", "--dataset", "mnist-sample", "--ais-runs", 1, "--ais-betas", 300)
    assert r.exit_code == 0, r.output
    assert "AIS betas: " in r.output and "(100%)" in r.output  # a line every 10% off a terminal
    assert "one AIS run has no standard error" in r.output
    r = run_cli(
        "evaluate-rbm", tmp_path / "m.pt", "--dataset", "mnist-sample", "--ais-runs", 1, "--ais-betas", 300, "--json"
    )
    res = json.loads(r.output)
    assert res["log_Z_lower"] == "-inf" and res["log_Z_upper"] == "inf"


# ------------------------------------------------------------------------- nothing saved yet


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


# ------------------------------------------------------------------------- one line each


@pytest.mark.parametrize(
    "args,option",
    [
        (["--hidden", "99999999999999999999"], "--hidden"),
        (["--hidden", "10000000000"], "--hidden"),
        (["--device", "tpu"], "--device"),
        (["--device", "cuda:abc"], "--device"),
        (["--device", ""], "--device"),
        (["--seed", str(2**64)], "--seed"),
        (["--name", "a/b"], "--name"),
        (["--name", "x" * 300], "--name"),
        (["--lr", "nan"], "--lr"),
        (["--momentum", "nan"], "--momentum"),
        (["--weight-decay", "inf"], "--weight-decay"),
        (["--dropout", "nan"], "--dropout"),
        (["--lr", "-inf"], "--lr"),
    ],
)
def test_bad_rbm_options_exit_2_naming_the_option(tmp_path, args, option):
    r = run_cli(*R, "--logdir", tmp_path, *args)
    assert r.exit_code == 2 and option in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "pretrain-rbm").exists()


@pytest.mark.parametrize(
    "args,option",
    [
        (["--layers", "100000000000"], "--layers"),
        (["--hidden-dropout", "nan"], "--hidden-dropout"),
        (["--dropout-rates", "0.5,nan"], "--dropout-rates"),
        (["--lr", "inf"], "--lr"),
        (["--depths", "0"], "--depths"),
    ],
)
def test_bad_compare_options_exit_2_naming_the_option(tmp_path, args, option):
    r = run_cli(*C, "--logdir", tmp_path, *args)
    assert r.exit_code == 2 and option in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("args", [["--ais-betas", "10000000000"], ["--ais-runs", "100000000000"]])
def test_evaluate_rbm_refuses_impossible_ais_sizes(tmp_path, args):
    from test_cli_rbm import handmade_checkpoint

    handmade_checkpoint(tmp_path / "m.pt")
    r = run_cli("evaluate-rbm", tmp_path / "m.pt", *args)
    assert r.exit_code == 2 and args[0] in r.output


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"hidden = {a=1}\n", "expected a number"),
        (b'hidden = "\xff\xfe"\n', "cannot read"),
        (b"epochs = 1.5\n", "expected a whole number"),
    ],
)
def test_bad_config_files_exit_2(tmp_path, content, needle):
    (tmp_path / "c.toml").write_bytes(content)
    r = run_cli(*R, "--config", tmp_path / "c.toml", "--logdir", tmp_path / "runs")
    assert r.exit_code == 2 and needle in r.output and "--config" in r.output


def test_logdir_that_cannot_be_written_exits_2(tmp_path):
    (tmp_path / "file").write_text("x")
    for logdir in (tmp_path / "file" / "sub", "/proc/revival-test"):
        r = run_cli(*R, "--logdir", logdir)
        assert r.exit_code == 2 and "--logdir" in r.output and "cannot create a run folder" in r.output, r.output


def test_disk_full_is_one_line_and_keeps_state_and_model_consistent(tmp_path, monkeypatch):
    from revival.runs import folder

    real = folder.atomic_write_bytes
    writes = []

    def full_at_second_model(path, data):
        writes.append(path.name)
        if path.name == "model.pt" and writes.count("model.pt") == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(folder, "atomic_write_bytes", full_at_second_model)
    r = run_cli(*R, "--epochs", 3, "--logdir", tmp_path)
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and r.output.rstrip().endswith(errors[0]) and "Traceback" not in r.output
    line = errors[0]
    assert "disk full" in line and "model.pt" in line
    run = only_run(tmp_path, "pretrain-rbm")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "failed" and "disk full" in s["error"] and (run / "traceback.txt").is_file()
    # state.pt is written first: it is one epoch ahead of model.pt, and resume trusts it
    assert torch.load(run / "state.pt", weights_only=True)["epoch"] == 2
    assert torch.load(run / "model.pt", weights_only=True)["config"]["epochs_completed"] == 1
    monkeypatch.setattr(folder, "atomic_write_bytes", real)
    r = run_cli("pretrain-rbm", "--resume", run, "--no-progress")
    assert r.exit_code == 0 and "resuming" in r.output and "after epoch 2" in r.output, r.output
    assert torch.load(run / "model.pt", weights_only=True)["config"]["epochs_completed"] == 3


def test_checkpoint_with_bad_preprocessing_is_one_line(tmp_path):
    from test_cli_rbm import handmade_checkpoint

    handmade_checkpoint(tmp_path / "m.pt", preprocessing=[1, 2])
    r = run_cli("evaluate-rbm", tmp_path / "m.pt", "--dataset", "mnist-sample")
    assert r.exit_code == 1 and "'preprocessing' must be a dict" in one_error_line(r.output)


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


# ------------------------------------------------------------------------- run folders and resume


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


def test_an_empty_data_dir_is_never_written(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_cli("pretrain-rbm", "--data-dir", tmp_path / "empty", "--logdir", tmp_path / "runs")
    assert r.exit_code == 1 and "--download" in one_error_line(r.output)
    assert list((tmp_path / "empty").iterdir()) == [] and not (tmp_path / "runs").exists()


def test_init_with_an_empty_stack_is_refused(tmp_path):
    torch.save({"format": "revival.dbn.v1", "layers": [], "preprocessing": {}}, tmp_path / "d.pt")
    r = run_cli(*C, "--variants", "pretrained", "--init", tmp_path / "d.pt", "--logdir", tmp_path / "runs")
    assert r.exit_code == 2 and "non-empty list 'layers'" in one_error_line(r.output)  # a bad --init: an option error


# ------------------------------------------------------------------------- what a user reads


def test_compare_reports_in_percent_with_the_settings_used(tmp_path):
    r = run_cli(*C, "--variants", "baseline", "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    assert "test err " in r.output and "%" in r.output.split("[baseline] epoch 1/2")[1].splitlines()[0]
    assert "settings used: mnist-sample, 200 training images, 784-32-10 relu, 2 epochs" in r.output
    assert "**" not in r.output
    run = only_run(tmp_path, "compare-dropout")
    assert not (run / "baseline" / "state.pt").exists() and (run / "baseline" / "model.pt").is_file()
    tags = events(run / "baseline").Tags()["scalars"]
    assert "train/batch_loss" in tags and "loss/train_dropout" not in tags
    import re

    from revival.experiments.compare import layout

    charts = layout()["compare-dropout"]
    found = {name: [t for t in tags if re.search(spec[1][0], t)] for name, spec in charts.items()}
    assert found["train loss, every variant"] == ["loss/train"] and found[
        "test error, every variant (fraction: 0.05 = 5%)"
    ] == ["error/test"]
    assert all(len(ts) == 1 for name, ts in found.items() if name.startswith(("train", "test")))  # never mixed


def test_summary_md_is_readable(tmp_path):
    assert run_cli(*R, "--logdir", tmp_path).exit_code == 0
    md = (only_run(tmp_path, "pretrain-rbm") / "summary.md").read_text()
    assert "| options.hidden | 16 |" in md and '{"' not in md  # one row per option, not a JSON blob
    assert "| options.weight_decay | 0.0002 |" in md


def test_hparams_mark_what_differs_so_tensorboard_shows_the_variant_column(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    from helpers import plugin_events

    r = run_cli(*C, "--variants", "baseline,weight-decay", "--mc-samples", "0", "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    pea = plugin_events(only_run(tmp_path, "compare-dropout") / "weight-decay")
    exp = plugin_data_pb2.HParamsPluginData.FromString(
        pea.SummaryMetadata("_hparams_/experiment").plugin_data.content
    ).experiment
    differs = {i.name for i in exp.hparam_infos if i.differs}
    assert differs == {"variant", "weight_decay"}  # TensorBoard lists these first
    info = plugin_data_pb2.HParamsPluginData.FromString(
        pea.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    ).session_start_info
    assert info.hparams["pretrained"].string_value == "false"  # booleans as text, not 0.0


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


def test_names_that_are_not_utf8_or_hold_a_newline_are_refused_before_any_folder(tmp_path):
    for name in (b"caf\xff", b"two\nlines", b"tab\there"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "revival",
                "pretrain-rbm",
                "--dataset",
                "mnist-sample",
                "--epochs",
                "1",
                "--name",
                name,
                "--logdir",
                str(tmp_path),
            ],
            capture_output=True,
        )
        err = out.stderr.decode(errors="replace")
        assert out.returncode == 2 and "--name" in err and "Traceback" not in err, err
        assert not (tmp_path / "pretrain-rbm").exists()


def test_sweep_values_that_print_alike_are_refused_and_repeats_count_once(tmp_path):

    r = run_cli(*C, "--dropout-rates", "0.1,0.1000001", "--variants", "dropout", "--logdir", tmp_path)
    assert r.exit_code == 2 and "--dropout-rates" in r.output and "p0.1" in r.output
    assert not (tmp_path / "compare-dropout").exists()
    opts = resolve_compare(
        {
            "variants": ["baseline", "baseline", "dropout"],
            "dropout_rates": [0.5, 0.5, 0.2],
            "train_sizes": [100, 100],
            "depths": [1, 2, 1],
        }
    )
    assert opts["variants"] == ["baseline", "dropout"] and opts["dropout_rates"] == [0.5, 0.2]
    assert opts["train_sizes"] == [100] and opts["depths"] == [1, 2]


def test_the_resume_refusal_names_options_as_typed(tmp_path):
    assert run_cli(*C, "--variants", "baseline", "--epochs", 1, "--logdir", tmp_path).exit_code == 0
    r = run_cli("compare-dropout", "--resume", only_run(tmp_path, "compare-dropout"), "--lr", 1)
    assert r.exit_code == 2 and "--ray-address" in r.output and "--point-cpus" in r.output
    assert "--ray_address" not in r.output and "--point_cpus" not in r.output


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


def test_every_resolved_value_is_shown_and_recorded(tmp_path):
    h = run_cli("compare-dropout", "-h").output
    for opt, shown in (
        ("--epochs", "80 in preset quick"),
        ("--lr", "0.02 in preset quick"),
        ("--weight-decay", "0.0001 in preset quick"),
        ("--max-norm", "3 in preset quick"),
    ):
        assert shown in " ".join(h.split(opt, 1)[1].split("--", 1)[0].split()), opt
    ex = run_cli("compare-dropout", "--preset", "pretraining-quick", "--explain").output
    assert "Every other setting" in ex and "weight_decay 0.0001" in ex and "max_norm 3" in ex
    assert (
        run_cli(
            "pretrain-dbn",
            "--dataset",
            "mnist-sample",
            "--layers",
            "16,8",
            "--epochs",
            "1",
            "--monitor-size",
            "100",
            "--sample-steps",
            "2",
            "--no-progress",
            "--logdir",
            tmp_path,
        ).exit_code
        == 0
    )
    opts = json.loads((only_run(tmp_path, "pretrain-dbn") / "config.json").read_text())["options"]
    assert opts["lr"] == [0.1, 0.1] and opts["momentum_schedule"] == ["0.5 for 5 epochs, then 0.9"] * 2


def test_the_console_epoch_time_includes_evaluation_and_says_what_is_left(tmp_path):
    r = run_cli(*C, "--variants", "baseline", "--epochs", 3, "--logdir", tmp_path)
    lines = [line for line in r.output.splitlines() if "] epoch " in line]
    assert "s/epoch, about" in lines[0] and "left" in lines[0] and lines[-1].endswith("s/epoch")


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


def test_a_failed_write_names_the_file(tmp_path, monkeypatch):
    import os as _os

    from revival.runs import folder

    real = _os.fdopen

    def full(fd, *a, **k):
        f = real(fd, *a, **k)

        class Full:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                raise OSError(errno.EFBIG, "File too large")

            def flush(self):
                pass

            def fileno(self):
                return f.fileno()

        return Full()

    monkeypatch.setattr(folder.os, "fdopen", full)
    with pytest.raises(OSError) as e:
        runs.atomic_write_bytes(tmp_path / "state.pt", b"x")
    assert runs.one_line(e.value) == f"{tmp_path / 'state.pt'}: File too large"
    assert list(tmp_path.iterdir()) == []


def test_bad_values_exit_2_naming_the_option_given(tmp_path):
    cases = [
        ([*C, "--train-sizes", "100,99999999"], "--train-sizes 99999999"),
        (["pretrain-rbm", "--dataset", "mnist-sample", "--train-size", "99999", "--epochs", "1"], "--train-size 99999"),
        ([*C, "--depths", "1,3000", "--width", "800"], "--depths"),
        ([*C, "--width", "32"], "--width"),
    ]
    for args, needle in cases:
        r = run_cli(*args, "--logdir", tmp_path)
        line = one_error_line(r.output)
        assert r.exit_code == 2 and needle in line and len(line) < 300, (args, r.output)
    assert "784-(3000 x 800)-10" in run_cli(*C, "--depths", "1,3000", "--width", "800", "--logdir", tmp_path).output
    assert not (tmp_path / "pretrain-rbm").exists() and not (tmp_path / "compare-dropout").exists()


def test_evaluate_rbm_names_what_is_wrong_with_exit_2(tmp_path):
    assert (
        run_cli(
            "pretrain-dbn",
            "--dataset",
            "mnist-sample",
            "--layers",
            "16,8",
            "--epochs",
            "1",
            "--monitor-size",
            "100",
            "--sample-steps",
            "2",
            "--no-progress",
            "--logdir",
            tmp_path,
        ).exit_code
        == 0
    )
    dbn = only_run(tmp_path, "pretrain-dbn")
    r = run_cli("evaluate-rbm", dbn, "--layer", "99")
    assert r.exit_code == 2 and "--layer 99, but the DBN has layers 1..2" in r.output
    r = run_cli("evaluate-rbm", dbn, "--layer", "1", "--raise-examples", "10")
    assert r.exit_code == 2 and "--raise-examples" in r.output and "only with --method sandwich" in r.output
    assert run_cli(*C, "--variants", "baseline", "--epochs", 1, "--logdir", tmp_path).exit_code == 0
    r = run_cli("evaluate-rbm", only_run(tmp_path, "compare-dropout"))
    assert r.exit_code == 2 and "is a compare-dropout run" in r.output and "pretrain-n" in r.output


def test_init_notes_what_a_person_should_know(tmp_path):
    from revival.models import dbn as DBN
    from revival.models import rbm as Rm

    rbm = Rm.RBM(784, 32, visible_type="gaussian")
    torch.save(DBN.checkpoint_dict([rbm], [{}], {}), tmp_path / "g.pt")
    r = run_cli(
        *C,
        "--layers",
        "32,16",
        "--variants",
        "pretrained",
        "--epochs",
        1,
        "--init",
        tmp_path / "g.pt",
        "--logdir",
        tmp_path / "runs",
    )
    assert r.exit_code == 0, r.output
    assert "Gaussian visible units" in r.output and "hidden layers 2..2 start from random weights" in r.output
    torch.save(DBN.checkpoint_dict([Rm.RBM(784, 20)], [{}], {}), tmp_path / "w.pt")
    r = run_cli(
        *C,
        "--layers",
        "32",
        "--variants",
        "pretrained",
        "--epochs",
        1,
        "--init",
        tmp_path / "w.pt",
        "--logdir",
        tmp_path / "runs2",
    )
    assert r.exit_code == 2 and "--init" in r.output and "784->20" in r.output


def test_the_epoch_clock_shows_milliseconds_for_tiny_epochs(monkeypatch):
    from revival import runs
    from revival.runs import console

    t = iter([0.0, 2.0, 0.0, 0.04])
    monkeypatch.setattr(console.time, "perf_counter", lambda: next(t))
    assert runs.EpochClock(0, 10).lap(1) == "2.0 s/epoch, about 18 s left"
    assert runs.EpochClock(0, 200).lap(2) == "20 ms/epoch, about 4.0 s left"
