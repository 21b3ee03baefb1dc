"""compare-dropout end to end through Click's runner, reading the event files back."""

import json

import pytest
import torch
from click.testing import CliRunner

from helpers import events, invoke, only_run, plugin_events, timeless
from revival.cli import main
from revival.config import CompareConfig
from revival.experiments import experiment

TINY = [
    "--dataset",
    "mnist-sample",
    "--train-size",
    "300",
    "--layers",
    "64",
    "--epochs",
    "3",
    "--mc-samples",
    "4",
    "--eval-train-size",
    "300",
    "--no-progress",
]


def test_compare_dropout_end_to_end(tmp_path):
    r = invoke(
        "compare-dropout", *TINY, "--variants", "baseline,dropout,gaussian-dropout,weight-decay", "--logdir", tmp_path
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished"
    rows = {row["variant"]: row for row in summary["rows"]}
    assert set(rows) == {"baseline", "dropout", "gaussian-dropout", "weight-decay"}
    for row in rows.values():
        for k in ("train_size", "seed", "train_error", "valid_error", "test_error", "generalization_gap", "epochs"):
            assert k in row
        assert row["train_size"] == 300 and 0 <= row["test_error"] <= 1
        assert row["generalization_gap"] == pytest.approx(row["test_error"] - row["train_error"])
    assert "test_error_mc" in rows["dropout"] and "test_error_mc" not in rows["baseline"]
    assert "| dropout |" in (run / "summary.md").read_text() and "| dropout |" in r.output
    # one event file per variant, same tags, hparams in the same run (not a nested one)
    hp_keys = None
    for v in rows:
        folder = run / v
        assert len(list(folder.glob("events.out.tfevents.*"))) == 1
        assert not [p for p in folder.iterdir() if p.is_dir()]  # no nested hparams sub-run
        ea = events(folder)
        for t in ("error/train", "error/valid", "error/test", "loss/train", "loss/valid", "loss/test"):
            assert [e.step for e in ea.Scalars(t)] == [1, 2, 3]
        pea = plugin_events(folder)
        assert "_hparams_/session_start_info" in pea.Tags()["tensors"]
        from tensorboard.plugins.hparams import plugin_data_pb2

        info = plugin_data_pb2.HParamsPluginData.FromString(
            pea.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
        ).session_start_info
        keys = set(info.hparams)
        hp_keys = hp_keys or keys
        assert keys == hp_keys and info.hparams["variant"].string_value == v
    # the custom-scalars layout sits in the experiment's top folder
    top = plugin_events(run)
    assert "custom_scalars__config__" in top.Tags()["tensors"]
    # all variants start from the same weights: same seed, same initial test error with no training noise
    assert rows["baseline"]["epochs"] == rows["dropout"]["epochs"] == 3


def test_sweeps_and_seeds_make_one_row_each(tmp_path):
    r = invoke(
        "compare-dropout",
        *TINY,
        "--epochs",
        1,
        "--mc-samples",
        0,
        "--variants",
        "baseline,dropout",
        "--train-sizes",
        "100,200",
        "--dropout-rates",
        "0.3,0.6",
        "--seeds",
        2,
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    s = json.loads((run / "summary.json").read_text())
    assert len(s["rows"]) == 2 * 2 * 2 * 2
    assert {(x["train_size"], x["seed"]) for x in s["rows"]} == {(100, 0), (100, 1), (200, 0), (200, 1)}
    assert {x["hidden_dropout"] for x in s["rows"] if x["variant"] == "dropout"} == {0.3, 0.6}
    assert (run / "dropout-n100-p0.3-s1").is_dir()
    g = [x for x in s["groups"] if x["variant"] == "dropout" and x["train_size"] == 200 and x["hidden_dropout"] == 0.3]
    assert g[0]["seeds"] == 2 and "test_error_std" in g[0]


def test_same_seed_same_summary(tmp_path):
    for name in ("a", "b"):
        assert (
            invoke(
                "compare-dropout", *TINY, "--epochs", 2, "--variants", "dropout", "--logdir", tmp_path, "--name", name
            ).exit_code
            == 0
        )
    rows = [json.loads(p.read_text())["rows"] for p in sorted((tmp_path / "compare-dropout").glob("*/summary.json"))]
    assert all(r["seconds"] > 0 for r in rows[0])  # each point's wall time: the one field that differs
    assert timeless(rows[0]) == timeless(rows[1])


def test_plan_lists_points_updates_and_a_measured_estimate_without_a_run_folder(tmp_path):
    r = invoke(
        "compare-dropout",
        *TINY,
        "--variants",
        "baseline,pretrained,knn",
        "--train-sizes",
        "100,300",
        "--pretrain-epochs",
        1,
        "--logdir",
        tmp_path,
        "--plan",
    )
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "compare-dropout").exists()
    rows = [
        line.split(" | ")
        for line in r.output.splitlines()
        if line.startswith("| baseline-n") or line.startswith("| pretrained-n") or line.startswith("| knn-n")
    ]
    assert len(rows) == 6
    by = {row[0].strip("| "): row for row in rows}
    assert by["baseline-n300"][3] == "9" and by["baseline-n100"][3] == "3"  # 3 epochs of 3 and of 1 batches
    assert "pretraining" in by["pretrained-n300"][5] and "not estimated" in by["knn-n100"][5]
    assert "total: about" in r.output and "plus the classical models" in r.output
    from revival.config import resolve_compare
    from revival.experiments import compare as C

    opts = resolve_compare(
        {
            "dataset": "mnist-sample",
            "train_size": 300,
            "layers": [64],
            "epochs": 3,
            "variants": ["baseline"],
            "eval_every": 2,
        }
    )
    cfg = CompareConfig.from_options({**opts, "seed": 0})  # (the command line adds the seed)
    d = experiment.load_data(cfg, "cpu")
    (row,) = C.plan(cfg, d, "cpu")
    assert (row["epochs"], row["updates"], row["evaluations"]) == (3, 9, 2) and row["seconds"] > 0
    assert 0 < row["evaluation_seconds"] < row["seconds"]  # part of the estimate, and its share is printed
    assert "evaluations " in C.plan_lines([row], "cpu", 1)[4] and "%)" in C.plan_lines([row], "cpu", 1)[4]
    (both,) = C.plan(cfg.replace(retrain_on_full=True), d, "cpu")  # then a fresh net on 300 + 1,000 images
    assert (both["epochs"], both["updates"]) == (3 + 1, 18) and both["seconds"] > 0  # (timings: not compared)
    # --min-updates stretches 300 images to 20 epochs: the plan counts the evaluations the run makes
    # (about --epochs of them, every 7th epoch and the last), not one per epoch
    (stretched,) = C.plan(cfg.replace(min_updates=60, eval_every=1), d, "cpu")
    assert (stretched["epochs"], stretched["evaluations"]) == (20, 3)
    assert (
        CompareConfig(epochs=3).eval_interval(20) == 7
        and CompareConfig(epochs=3, eval_every=10).eval_interval(20) == 10
    )


def test_preset_carries_the_paper_number(tmp_path):
    r = invoke(
        "compare-dropout",
        "--preset",
        "srivastava2014-3x1024-relu",
        *TINY,
        "--epochs",
        1,
        "--mc-samples",
        0,
        "--variants",
        "dropout-maxnorm",
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    s = json.loads((run / "summary.json").read_text())
    assert s["groups"][0]["paper_test_error"] == pytest.approx(0.0106)
    assert "Srivastava" in s["paper"]["citation"] and "1.06" in (run / "summary.md").read_text()
    opts = json.loads((run / "config.json").read_text())["options"]
    assert (
        opts["layers"] == [64] and opts["max_norm"] == 2.0 and opts["final_momentum"] == 0.95
    )  # CLI wins, preset fills


def test_init_from_an_rbm_checkpoint(tmp_path):
    ck = {
        "format": "revival.rbm.v1",
        "visible_type": "bernoulli",
        "config": {},
        "state_dict": {
            "weight": torch.zeros(64, 784),
            "visible_bias": torch.zeros(784),
            "hidden_bias": torch.zeros(64),
        },
    }
    torch.save(ck, tmp_path / "rbm.pt")
    r = invoke(
        "compare-dropout",
        *TINY,
        "--epochs",
        1,
        "--variants",
        "baseline,pretrained",
        "--init",
        tmp_path / "rbm.pt",
        "--logdir",
        tmp_path / "runs",
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path / "runs", "compare-dropout")
    # only the pretrained variant starts from the checkpoint (all-zero first layer), the baseline does not
    w = {v: torch.load(run / v / "model.pt", weights_only=True)["state_dict"] for v in ("baseline", "pretrained")}
    assert json.loads((run / "config.json").read_text())["options"]["activation"] == "logistic"
    assert not (run / "pretrain-nNone-s0").exists() and not list(run.glob("pretrain-*"))
    r = CliRunner().invoke(
        main,
        [
            "compare-dropout",
            *TINY,
            "--layers",
            "32",
            "--variants",
            "pretrained",
            "--init",
            str(tmp_path / "rbm.pt"),
            "--logdir",
            str(tmp_path / "runs2"),
        ],
    )
    assert r.exit_code == 2 and "784->64" in r.output and not (tmp_path / "runs2").exists()
    # --init without a pretrained variant, or a pretrained variant with ReLU units: refused, exit 2
    for extra, needle in (
        (["--variants", "baseline"], "only applies to the pretrained"),
        (["--variants", "pretrained", "--activation", "relu"], "use --activation logistic"),
    ):
        r = CliRunner().invoke(
            main,
            ["compare-dropout", *TINY, "--init", str(tmp_path / "rbm.pt"), *extra, "--logdir", str(tmp_path / "runs3")],
        )
        assert r.exit_code == 2 and needle in r.output and not (tmp_path / "runs3").exists()
    assert w["baseline"]["layers.0.weight"].abs().sum() > 0


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["--hidden-dropout", "1"], 2, "--hidden-dropout"),
        (["--input-dropout", "-0.1"], 2, "--input-dropout"),
        (["--layers", ""], 2, "--layers"),
        (["--layers", "a,b"], 2, "not a valid int"),
        (["--layers", "10,,3"], 2, "--layers"),
        (["--layers", "0"], 2, "--layers"),
        (["--variants", "dropout,magic"], 2, "unknown 'magic'"),
        (["--preset", "nope"], 2, "--preset"),
        (["--dropout-rates", "0.5,1.0"], 2, "outside"),
        (["--train-size", "99999"], 2, "larger than"),
    ],
)
def test_bad_input(tmp_path, args, code, needle):
    r = CliRunner().invoke(main, ["compare-dropout", *TINY, "--logdir", str(tmp_path), *args])
    assert r.exit_code == code, r.output
    assert needle in r.output
    assert not (tmp_path / "compare-dropout").exists()


def test_config_file_with_lists(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'layers = [32, 16]\nvariants = ["baseline", "dropout"]\nepochs = 1\ndataset = "mnist-sample"\n'
        "train-size = 200\nmc-samples = 0\neval-train-size = 200\n"
    )
    r = invoke("compare-dropout", "--config", cfg, "--logdir", tmp_path / "runs", "--no-progress")
    assert r.exit_code == 0, r.output
    opts = json.loads((only_run(tmp_path / "runs", "compare-dropout") / "config.json").read_text())["options"]
    assert opts["layers"] == [32, 16] and opts["variants"] == ["baseline", "dropout"]


def test_a_variant_trains_at_its_own_learning_rate_and_says_so(tmp_path, monkeypatch):
    from revival.training.train import ClassifierTrainer

    seen = {}
    real = ClassifierTrainer.train_epoch

    def spy(self, x, y, epoch, *a, **k):
        out = real(self, x, y, epoch, *a, **k)
        seen.setdefault(self.model.hidden_dropout, self.hyper["lr"])  # what SGD used
        return out

    monkeypatch.setattr(ClassifierTrainer, "train_epoch", spy)
    r = invoke(
        "compare-dropout",
        *TINY,
        "--mc-samples",
        0,
        "--variants",
        "baseline,dropout",
        "--lr",
        0.02,
        "--variant-lr",
        "dropout=0.3",
        "--variant-momentum",
        "dropout=0.5",
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    assert seen[0.0] == 0.02 and seen[0.5] == 0.3
    run = only_run(tmp_path, "compare-dropout")
    rows = {x["variant"]: x for x in json.loads((run / "summary.json").read_text())["rows"]}
    assert rows["dropout"]["variant_options"] == {"lr": 0.3, "final_momentum": 0.5} and rows["dropout"]["lr"] == 0.3
    assert "variant_options" not in rows["baseline"]
    assert "lr 0.02 (dropout lr 0.3 final momentum 0.5)" in (run / "summary.md").read_text()
    assert json.loads((run / "config.json").read_text())["options"]["variant_options"] == {
        "dropout": {"lr": 0.3, "final_momentum": 0.5}
    }
    for bad, needle in (
        (["--variant-lr", "knn=0.1"], "knn is not among the variants"),
        (["--variant-lr", "dropout=0"], "> 0"),
        (["--variant-lr", "dropout"], "VARIANT=VALUE"),
    ):
        r = CliRunner().invoke(
            main, ["compare-dropout", *TINY, "--variants", "baseline,dropout", *bad, "--logdir", str(tmp_path / "bad")]
        )
        assert r.exit_code == 2 and needle in r.output, r.output


def test_eval_every_evaluates_at_its_epochs_and_the_last(tmp_path):
    r = invoke(
        "compare-dropout",
        *TINY,
        "--mc-samples",
        0,
        "--variants",
        "baseline",
        "--epochs",
        7,
        "--eval-every",
        3,
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    assert [e.step for e in events(run / "baseline").Scalars("error/test")] == [3, 6, 7]
    assert [line.split("epoch ")[1].split()[0] for line in r.output.splitlines() if "[baseline] epoch" in line] == [
        "3/7",
        "6/7",
        "7/7",
    ]


@pytest.mark.parametrize("ratio,asked,hinted", [(3.0, "fp32", True), (1.2, "fp32", False), (3.0, "bf16", False)])
def test_a_long_float32_run_says_when_bf16_would_be_faster_here(tmp_path, monkeypatch, ratio, asked, hinted):
    from revival.experiments import compare as C
    from revival.training import precision

    monkeypatch.setattr(C, "LONG_RUN", 0)  # every run is long: it prints its plan, and the hint
    monkeypatch.setattr(precision, "probe", lambda *a, **k: {"fp32": 100.0, "bf16": 100.0 * ratio, "ratio": ratio})
    r = invoke("compare-dropout", *TINY, "--variants", "baseline", "--precision", asked, "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    assert ("--precision bf16 runs the products in bf16" in r.output) == hinted
    if hinted:
        assert f"{ratio:.1f}x faster" in r.output
