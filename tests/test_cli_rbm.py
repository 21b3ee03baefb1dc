"""pretrain-rbm and evaluate-rbm through Click's runner, reading the outputs back."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import full_mnist_root, needs_full_mnist
from helpers import events, handmade_checkpoint, invoke, only_run
from revival.cli import main
from revival.models import partition as P
from revival.models import rbm as R

SMALL = ["--dataset", "mnist-sample", "--hidden", "16", "--epochs", "2", "--monitor-size", "200", "--no-progress"]


def test_pretrain_rbm_writes_everything(tmp_path):
    r = invoke(
        "pretrain-rbm",
        *SMALL,
        "--logdir",
        tmp_path,
        "--ais-every",
        1,
        "--ais-runs",
        20,
        "--ais-betas",
        200,
        "--name",
        "t",
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-rbm")
    assert run.name.endswith("-t") and str(run) in r.output and "epoch 2/2" in r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["command"] == "pretrain-rbm" and cfg["options"]["hidden"] == 16 and cfg["options"]["lr"] == 0.1
    assert cfg["environment"]["torch"] == torch.__version__
    ck = torch.load(run / "model.pt", weights_only=True)
    assert ck["format"] == "revival.rbm.v1" and ck["visible_type"] == "bernoulli"
    assert ck["state_dict"]["weight"].shape == (16, 784)
    assert ck["state_dict"]["visible_bias"].shape == (784,) and ck["state_dict"]["hidden_bias"].shape == (16,)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs"] == 2
    assert summary["log_prob"]["method"] == "exact"  # 16 hidden units: enumerated
    assert -300 < summary["log_prob"]["avg_log_prob"] < -50
    assert (run / "summary.md").read_text().startswith("# pretrain-rbm")
    ea = events(run)
    tags = ea.Tags()
    for t in (
        "rbm/recon_error",
        "rbm/free_energy/train",
        "rbm/free_energy/valid",
        "rbm/free_energy/gap",
        "rbm/pseudo_log_likelihood",
        "rbm/update_ratio",
        "rbm/log_prob/test",
        "rbm/log_Z",
        "rbm/momentum",
    ):
        assert t in tags["scalars"], t
        assert [e.step for e in ea.Scalars(t)] == [1, 2]
    assert {"rbm/filters", "rbm/samples", "rbm/reconstructions"} <= set(tags["images"])
    assert {"weights/weight", "weights/visible_bias", "weights/hidden_bias", "rbm/hidden_activations"} <= set(
        tags["histograms"]
    )
    img = ea.Images("rbm/filters")[-1]
    assert img.width > 100 and img.height > 100
    # reconstruction error falls as it learns
    rec = [e.value for e in ea.Scalars("rbm/recon_error")]
    assert rec[1] < rec[0]


@pytest.mark.parametrize(
    "extra",
    [
        ["--persistent", "--cd-k", "2"],
        ["--visible-type", "gaussian", "--ais-runs", "0"],
        ["--dropout", "0.5", "--sparsity-target", "0.05", "--sparsity-cost", "0.1"],
        ["--binarize", "threshold", "--momentum", "0.7"],
    ],
)
def test_pretrain_rbm_variants_run(tmp_path, extra):
    r = invoke("pretrain-rbm", *SMALL, "--epochs", 1, "--logdir", tmp_path, "--ais-runs", 0, *extra)
    assert r.exit_code == 0, r.output
    assert json.loads((only_run(tmp_path, "pretrain-rbm") / "summary.json").read_text())["status"] == "finished"


def test_config_file_sets_defaults_and_command_line_wins(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('hidden = 12\nepochs = 1\ndataset = "mnist-sample"\nais-runs = 0\nmonitor-size = 100\n')
    r = invoke("pretrain-rbm", "--config", cfg, "--hidden", 9, "--logdir", tmp_path / "runs", "--no-progress")
    assert r.exit_code == 0, r.output
    opts = json.loads((only_run(tmp_path / "runs", "pretrain-rbm") / "config.json").read_text())["options"]
    assert opts["hidden"] == 9 and opts["epochs"] == 1
    cfg.write_text("hiden = 3\n")
    r = invoke("pretrain-rbm", "--config", cfg)
    assert r.exit_code == 2 and "unknown option 'hiden'" in r.output


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--dropout", "1"], "--dropout"),
        (["--hidden", "-3"], "--hidden"),
        (["--batch-size", "0"], "--batch-size"),
        (["--lr", "-1"], "--lr"),
        (["--device", "cuda:7"], "--device"),
        (["--cd-k", "0"], "--cd-k"),
        (["--sparsity-cost", "0.1"], "--sparsity-target"),
        (["--train-size", "0"], "--train-size"),
    ],
)
def test_bad_options_exit_2(tmp_path, args, needle):
    if args[0] == "--device" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    r = invoke("pretrain-rbm", "--dataset", "mnist-sample", "--logdir", tmp_path, *args)
    assert r.exit_code == 2 and needle in r.output
    assert not (tmp_path / "pretrain-rbm").exists()


def test_bad_data_exits_1_naming_the_file_and_leaves_no_run(tmp_path):
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    bad = tmp_path / "data" / "mnist" / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 20)
    (tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    r = CliRunner().invoke(
        main, ["pretrain-rbm", "--data-dir", str(tmp_path / "data"), "--logdir", str(tmp_path / "runs")]
    )
    assert r.exit_code == 1
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and str(bad) in lines[0]
    assert not (tmp_path / "runs").exists()


def test_train_size_larger_than_split_is_refused(tmp_path):
    r = invoke("pretrain-rbm", "--dataset", "mnist-sample", "--train-size", 5000, "--logdir", tmp_path)
    assert r.exit_code == 2 and "(3000 images)" in r.output and not (tmp_path / "pretrain-rbm").exists()


@needs_full_mnist
def test_pretrain_rbm_on_a_subset_of_full_mnist(tmp_path):
    r = invoke(
        "pretrain-rbm",
        "--dataset",
        "mnist",
        "--data-dir",
        full_mnist_root(),
        "--train-size",
        1000,
        "--hidden",
        25,
        "--epochs",
        1,
        "--monitor-size",
        500,
        "--ais-runs",
        0,
        "--logdir",
        tmp_path,
        "--no-progress",
    )
    assert r.exit_code == 0, r.output
    ea = events(only_run(tmp_path, "pretrain-rbm"))
    assert "rbm/free_energy/gap" in ea.Tags()["scalars"]


# ------------------------------------------------------------------------- evaluate-rbm


def test_evaluate_rbm_on_a_handwritten_checkpoint(tmp_path):
    ck = handmade_checkpoint(tmp_path / "m.pt")
    r = invoke("evaluate-rbm", tmp_path / "m.pt", "--dataset", "mnist-sample", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    for k in ("log_Z", "log_Z_lower", "log_Z_upper", "method", "avg_log_prob", "n_examples"):
        assert k in res
    assert res["method"] == "exact" and res["n_examples"] == 1000 and res["split"] == "test"
    W, b, c = (ck["state_dict"][k] for k in ("weight", "visible_bias", "hidden_bias"))
    from revival import data as D

    x, _ = D.load_split("mnist-sample", "test")
    v = torch.from_numpy(D.binarize(x, "stochastic", D.split_seed(0, "test")).astype(np.float32))
    expect = float((-R.free_energy(v.double(), W.double(), b.double(), c.double())).mean() - P.exact_log_z(W, b, c))
    assert res["avg_log_prob"] == pytest.approx(expect, abs=1e-6)
    # the same model through AIS lands within its bounds of the exact answer
    r = invoke(
        "evaluate-rbm", tmp_path / "m.pt", "--dataset", "mnist-sample", "--method", "ais", "--ais-betas", 2000, "--json"
    )
    ais = json.loads(r.output, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert ais["method"] == "ais" and ais["log_Z_lower"] - 0.05 <= res["log_Z"] <= ais["log_Z_upper"] + 0.05
    r = invoke("evaluate-rbm", tmp_path / "m.pt", "--dataset", "mnist-sample")
    assert r.exit_code == 0 and "avg_log_prob" in r.output


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda p: torch.save({"weights": torch.zeros(3)}, p), "not a revival RBM checkpoint"),
        (
            lambda p: handmade_checkpoint(
                p,
                state_dict={
                    "weight": torch.zeros(10, 784),
                    "visible_bias": torch.zeros(784),
                    "hidden_bias": torch.zeros(11),
                },
            ),
            "shapes disagree",
        ),
        (
            lambda p: handmade_checkpoint(
                p,
                n_h=40,
                visible_type="gaussian",
                preprocessing={"pixel_mean": torch.zeros(784), "pixel_std": torch.ones(784)},
            ),
            "AIS supports Bernoulli",
        ),
        (lambda p: p.write_bytes(b"garbage"), "cannot be read"),
    ],
)
def test_evaluate_rbm_bad_checkpoints(tmp_path, make, needle):
    p = tmp_path / "bad.pt"
    make(p)
    r = CliRunner().invoke(main, ["evaluate-rbm", str(p), "--dataset", "mnist-sample", "--ais-betas", "100"])
    assert r.exit_code == 1, r.output
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0]
