"""What a person sees: the console's progress and times, the summaries in percent with the settings
used, TensorBoard's hparams, and the notes a run prints."""

import json

import torch

from helpers import TINY_COMPARE as C
from helpers import TINY_DBN, events, handmade_checkpoint, only_run, run_cli
from helpers import TINY_RBM as R
from revival import runs


def test_evaluate_rbm_shows_ais_progress_and_says_one_run_has_no_interval(tmp_path):

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
    assert run_cli(*TINY_DBN, "--logdir", tmp_path).exit_code == 0
    opts = json.loads((only_run(tmp_path, "pretrain-dbn") / "config.json").read_text())["options"]
    assert opts["lr"] == [0.1, 0.1] and opts["momentum_schedule"] == ["0.5 for 5 epochs, then 0.9"] * 2


def test_the_console_epoch_time_includes_evaluation_and_says_what_is_left(tmp_path):
    r = run_cli(*C, "--variants", "baseline", "--epochs", 3, "--logdir", tmp_path)
    lines = [line for line in r.output.splitlines() if "] epoch " in line]
    assert "s/epoch, about" in lines[0] and "left" in lines[0] and lines[-1].endswith("s/epoch")


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
    from revival.runs import console

    t = iter([0.0, 2.0, 0.0, 0.04])
    monkeypatch.setattr(console.time, "perf_counter", lambda: next(t))
    assert runs.EpochClock(0, 10).lap(1) == "2.0 s/epoch, about 18 s left"
    assert runs.EpochClock(0, 200).lap(2) == "20 ms/epoch, about 4.0 s left"
