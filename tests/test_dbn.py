"""Deep belief nets: the stack's math, greedy training, pretrain-dbn end to end, resume mid-stack,
and pretrained variants in compare-dropout."""

import json
import signal

import pytest
import torch
from click.testing import CliRunner

from helpers import events, interrupt_after, invoke, only_run, start
from revival.cli import main
from revival.data import Visible
from revival.models import dbn as DBN
from revival.models import rbm as R
from revival.models.mlp import MLP
from revival.training import layerwise as L
from revival.training.train import ClassifierTrainer

DBN_SMALL = [
    "pretrain-dbn",
    "--dataset",
    "mnist-sample",
    "--layers",
    "48,24",
    "--monitor-size",
    "200",
    "--sample-steps",
    "10",
    "--no-progress",
]


def random_stack(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    rbms = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        r = R.RBM(a, b)
        r.weight.data.normal_(0, 0.3, generator=g)
        r.visible_bias.data.normal_(0, 1, generator=g)
        r.hidden_bias.data.normal_(0, 1, generator=g)
        rbms.append(r)
    return rbms


def test_unrolled_net_computes_the_up_pass_exactly():
    rbms = random_stack([784, 30, 20, 12])
    net = MLP([784, 30, 20, 12, 10], "logistic")
    DBN.init_mlp_(net, rbms)
    x = torch.rand(17, 784)
    h = x
    for lin in net.layers[:-1]:
        h = torch.sigmoid(lin(h))
    top = DBN.up_pass(x, rbms)
    assert torch.equal(h, top)
    assert torch.equal(net(x), net.layers[-1](top))
    # by hand for layer 1: sigmoid(c + W v)
    W, _, c = rbms[0].params()
    assert torch.allclose(DBN.up_pass(x, rbms[:1]), torch.sigmoid(x @ W.t() + c), atol=1e-6)


def test_down_pass_and_projected_filters():
    rbms = random_stack([784, 30, 20])
    h = torch.rand(5, 20)
    W1, b1, _ = rbms[0].params()
    W2, b2, _ = rbms[1].params()
    assert torch.allclose(DBN.down_pass(h, rbms), torch.sigmoid(torch.sigmoid(h @ W2 + b2) @ W1 + b1), atol=1e-6)
    assert torch.allclose(DBN.project_filters(rbms), W2 @ W1, atol=1e-5)
    g = torch.Generator().manual_seed(0)
    s = DBN.sample(rbms, 7, 3, g)
    assert s.shape == (7, 784) and bool(((s >= 0) & (s <= 1)).all())


def test_checkpoint_round_trip_and_bad_stacks(tmp_path):
    rbms = random_stack([784, 30, 20])
    ck = DBN.checkpoint_dict(rbms, [{"epochs": 1}, {"epochs": 2}], {"dataset": "mnist", "binarize": "none", "seed": 0})
    torch.save(ck, tmp_path / "m.pt")
    back = DBN.from_checkpoint(torch.load(tmp_path / "m.pt", weights_only=True))
    assert len(back) == 2
    for a, b in zip(rbms, back):
        assert all(torch.equal(x, y) for x, y in zip(a.params(), b.params()))
    with pytest.raises(ValueError, match="layer 2 has 784 visible units but layer 1 has 30 hidden"):
        DBN.from_checkpoint({**ck, "layers": [ck["layers"][0], ck["layers"][0]]})
    bad = random_stack([784, 30, 20])
    bad[1] = random_stack([25, 20])[0]
    with pytest.raises(ValueError, match="layer 2 has 25 visible units but layer 1 has 30 hidden units"):
        DBN.from_checkpoint(DBN.checkpoint_dict(bad, [{}, {}], {}))
    with pytest.raises(ValueError, match="non-empty list 'layers'"):
        DBN.from_checkpoint({"format": DBN.FORMAT, "layers": []})
    broken = {**ck, "layers": [ck["layers"][0], {"format": "revival.rbm.v1", "state_dict": {}}]}
    with pytest.raises(ValueError, match="layer 2: state_dict lacks"):
        DBN.from_checkpoint(broken)


def test_reference_cd_k_gives_the_fused_numbers():
    W, b, c = (t.float() for t in (torch.randn(12, 20) * 0.5, torch.randn(20), torch.randn(12)))
    v0 = (torch.rand(9, 20) < 0.4).float()
    for k in (1, 3):
        gw, gb, gc = R.cd_k_reference(v0, W, b, c, k, torch.Generator().manual_seed(5))
        hs, vs, fb, fc, _, _ = R.cd_statistics(v0, W, b, c, k, torch.Generator().manual_seed(5))
        assert torch.allclose(R.weight_gradient(hs, vs), gw, atol=1e-5)
        assert torch.allclose(fb, gb, atol=1e-6) and torch.allclose(fc, gc, atol=1e-6)


def tiny_first_layer():
    patterns = torch.tensor(
        [
            [1, 1, 1, 1, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 1, 1, 1, 1, 0, 1],
            [1, 0, 1, 0, 1, 0, 1, 0, 1, 1],
            [1, 1, 0, 0, 1, 1, 0, 0, 0, 0],
        ],
        dtype=torch.uint8,
    )
    x = Visible(patterns.repeat(25, 1))
    return L.LayerData(x, x, x.all(), x.all(), True, None, None)  # 10 pixels: no image grids


def layer_opts(hidden, epochs=30):
    return {
        "hidden": hidden,
        "epochs": epochs,
        "batch_size": 10,
        "lr": 0.1,
        "momentum": 0.5,
        "weight_decay": 0.0,
        "monitor_size": 100,
        "visible_type": "bernoulli",
    }


@pytest.mark.parametrize("feed", ["probs", "samples"])
def test_greedy_stack_trains_each_layer_on_the_one_below(tmp_path, monkeypatch, feed):
    seen = []
    real = L.fit_rbm

    def spy(job, *a, **k):
        seen.append(job.data.train.all().clone())
        return real(job, *a, **k)

    monkeypatch.setattr(L, "fit_rbm", spy)
    first = tiny_first_layer()
    rbms, finals = L.fit_stack(
        tmp_path, [layer_opts(6), layer_opts(4)], first, 0, feed, {}, torch.device("cpu"), echo=lambda s: None
    )
    assert len(rbms) == 2 and [f["n_hidden"] for f in finals] == [6, 4]
    probs = DBN.up_pass(first.train.all(), rbms[:1])
    if feed == "probs":
        assert torch.allclose(seen[1], probs)  # layer 2 saw layer 1's probabilities of the same examples
    else:
        assert set(seen[1].unique().tolist()) <= {0.0, 1.0}
        assert abs(float(seen[1].mean() - probs.mean())) < 0.05
    for k in (1, 2):
        rec = [e.value for e in events(tmp_path / f"layer-{k}").Scalars("rbm/recon_error")]
        assert rec[-1] < rec[0], (k, rec)  # greedy training lowers each layer's reconstruction error
        assert (tmp_path / f"layer-{k}" / "result.json").is_file()


@pytest.mark.slow
def test_pretrain_dbn_end_to_end(tmp_path):
    small = [a if a != "48,24" else "48,16" for a in DBN_SMALL]  # exact log Z of layer 2 over 2^16 states, not 2^24
    r = invoke(*small, "--epochs", "2,1", "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-dbn")
    assert "layer 1/2: epoch 2/2" in r.output and "layer 2/2: epoch 1/1" in r.output
    ck = torch.load(run / "model.pt", weights_only=True)
    assert ck["format"] == "revival.dbn.v1" and len(ck["layers"]) == 2
    assert ck["layers"][0]["state_dict"]["weight"].shape == (48, 784)
    assert ck["layers"][1]["state_dict"]["weight"].shape == (16, 48)
    assert ck["layers"][0]["format"] == "revival.rbm.v1" and ck["preprocessing"]["binarize"] == "none"
    opts = json.loads((run / "config.json").read_text())["options"]
    assert opts["epochs"] == [2, 1] and opts["feed"] == "probs"
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "finished" and [x["layer"] for x in s["layers"]] == [1, 2]
    for k, epochs in ((1, 2), (2, 1)):
        ea = events(run / f"layer-{k}")
        for t in ("rbm/recon_error", "rbm/free_energy/gap", "rbm/update_ratio"):
            assert [e.step for e in ea.Scalars(t)] == list(range(1, epochs + 1))
        assert {"rbm/filters", "rbm/samples", "rbm/reconstructions"} <= set(ea.Tags()["images"])
        assert "weights/weight" in ea.Tags()["histograms"]
        assert "rbm/pseudo_log_likelihood" not in ea.Tags()["scalars"]  # grey levels / probabilities: no PLL
        f = ea.Images("rbm/filters")[-1]
        assert f.width > 100 and f.height > 100  # higher-layer filters drawn as 28x28 pictures too
    root = events(run)
    assert [e.step for e in root.Images("dbn/samples")] == [1, 2]
    # evaluate-rbm takes a layer of the stack, and says what it needs without one
    r = invoke("evaluate-rbm", run, "--layer", 2, "--split", "valid", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["layer"] == 2 and res["n_visible"] == 48 and res["method"] == "exact"
    r = CliRunner().invoke(main, ["evaluate-rbm", str(run)])
    assert r.exit_code == 2 and "choose one with --layer 1..2" in r.output
    r = CliRunner().invoke(main, ["evaluate-rbm", str(run), "--layer", "3"])
    assert r.exit_code == 2 and "layers 1..2" in r.output


def test_one_layer_dbn_is_pretrain_rbm(tmp_path):
    common = [
        "--dataset",
        "mnist-sample",
        "--epochs",
        "2",
        "--monitor-size",
        "100",
        "--no-progress",
        "--seed",
        "4",
        "--binarize",
        "none",
    ]
    assert invoke("pretrain-dbn", "--layers", 20, "--sample-steps", 1, *common, "--logdir", tmp_path).exit_code == 0
    assert invoke("pretrain-rbm", "--hidden", 20, "--ais-runs", 0, *common, "--logdir", tmp_path).exit_code == 0
    a = torch.load(only_run(tmp_path, "pretrain-dbn") / "model.pt", weights_only=True)["layers"][0]["state_dict"]
    b = torch.load(only_run(tmp_path, "pretrain-rbm") / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in b)


def test_resume_mid_stack_is_bit_exact(tmp_path):
    args = [*DBN_SMALL, "--epochs", "3,5", "--seed", "2", "--persistent"]
    code = interrupt_after(start(args, tmp_path / "a"), "layer 2/2: epoch 2/5", signal.SIGINT)
    assert code == 130
    run = only_run(tmp_path / "a", "pretrain-dbn")
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert (run / "layer-1" / "result.json").is_file() and not (run / "layer-2" / "result.json").exists()
    r = invoke("pretrain-dbn", "--resume", run, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "layer 1/2: finished earlier" in r.output and "layer 2/2: resuming" in r.output
    assert invoke(*args, "--logdir", tmp_path / "b").exit_code == 0
    ref = only_run(tmp_path / "b", "pretrain-dbn")
    a, b = (torch.load(p / "model.pt", weights_only=True)["layers"] for p in (run, ref))
    for la, lb in zip(a, b):
        assert all(torch.equal(la["state_dict"][k], lb["state_dict"][k]) for k in la["state_dict"])
    assert [e.step for e in events(run / "layer-2").Scalars("rbm/recon_error")] == [1, 2, 3, 4, 5]
    assert [e.step for e in events(run).Images("dbn/samples")] == [1, 2]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--epochs", "1,2,3"], "3 values for 2 layers"),
        (["--lr", "0.1,nan"], "not a finite number"),
        (["--layers", "10,0"], "--layers"),
        (["--feed", "noise"], "--feed"),
        (["--dropout", "0.2,1"], "outside"),
    ],
)
def test_pretrain_dbn_bad_options(tmp_path, args, needle):
    r = CliRunner().invoke(main, [*DBN_SMALL, "--logdir", str(tmp_path), *args])
    assert r.exit_code == 2 and needle in r.output, r.output
    assert not (tmp_path / "pretrain-dbn").exists()


TINY = [
    "compare-dropout",
    "--dataset",
    "mnist-sample",
    "--train-size",
    "300",
    "--layers",
    "32,16",
    "--epochs",
    "2",
    "--mc-samples",
    "0",
    "--eval-train-size",
    "300",
    "--pretrain-epochs",
    "2",
    "--no-progress",
]


def test_compare_pretrained_vs_random_end_to_end(tmp_path):
    r = invoke(*TINY, "--variants", "pretrained,baseline", "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    assert "activation: logistic for every variant" in r.output
    s = json.loads((run / "summary.json").read_text())
    rows = {x["variant"]: x for x in s["rows"]}
    assert rows["pretrained"]["pretrained"] and not rows["baseline"]["pretrained"]
    assert rows["pretrained"]["layers"] == [32, 16] and rows["pretrained"]["depth"] == 2
    stack_dir = run / "pretrain-n300-s0"
    ck = torch.load(stack_dir / "model.pt", weights_only=True)
    assert ck["format"] == "revival.dbn.v1" and ck["preprocessing"]["train_size"] == 300
    assert [e.step for e in events(stack_dir / "layer-2").Scalars("rbm/recon_error")] == [1, 2]
    for v in ("pretrained", "baseline"):
        assert [e.step for e in events(run / v).Scalars("error/test")] == [1, 2]
    cfg = json.loads((run / "config.json").read_text())["options"]
    assert cfg["activation"] == "logistic" and cfg["input"].startswith("grey levels")


def test_pretrained_net_starts_from_the_stack(tmp_path, monkeypatch):
    """Before its first update, a pretrained variant's hidden layers are the stack's RBMs."""

    captured = {}
    real = ClassifierTrainer.train_epoch

    def first_epoch(self, *a, **k):
        captured.setdefault(id(self), [p.detach().clone() for p in self.model.parameters()])
        return real(self, *a, **k)

    monkeypatch.setattr(ClassifierTrainer, "train_epoch", first_epoch)
    assert invoke(*TINY, "--epochs", 1, "--variants", "pretrained", "--logdir", tmp_path).exit_code == 0
    run = only_run(tmp_path, "compare-dropout")
    rbms = DBN.from_checkpoint(torch.load(run / "pretrain-n300-s0" / "model.pt", weights_only=True))
    (params,) = captured.values()
    for i, rbm in enumerate(rbms):
        W, _, c = rbm.params()
        assert torch.equal(params[2 * i], W) and torch.equal(params[2 * i + 1], c)


def test_depth_axis_shares_one_stack_per_size_and_seed(tmp_path):
    r = invoke(
        *TINY,
        "--epochs",
        1,
        "--variants",
        "baseline,pretrained",
        "--depths",
        "1,2",
        "--width",
        24,
        "--train-sizes",
        "200,300",
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    s = json.loads((run / "summary.json").read_text())
    assert len(s["rows"]) == 2 * 2 * 2
    assert {(x["train_size"], x["depth"]) for x in s["rows"]} == {(200, 1), (200, 2), (300, 1), (300, 2)}
    assert (run / "pretrained-n200-d2").is_dir() and (run / "baseline-n300-d1").is_dir()
    assert sorted(p.name for p in run.glob("pretrain-*")) == ["pretrain-n200-s0", "pretrain-n300-s0"]
    assert {g["depth"] for g in s["groups"]} == {1, 2}
    assert "| pretrained | 300 | 2 |" in (run / "summary.md").read_text()


def test_bad_dbn_checkpoint_for_init_is_one_line(tmp_path):
    rbms = random_stack([784, 32, 16])
    ck = DBN.checkpoint_dict(rbms, [{}, {}], {})
    ck["layers"][1]["state_dict"]["weight"] = torch.zeros(16, 20)  # does not fit layer 1
    torch.save(ck, tmp_path / "dbn.pt")
    r = CliRunner().invoke(
        main,
        [*TINY, "--variants", "pretrained", "--init", str(tmp_path / "dbn.pt"), "--logdir", str(tmp_path / "runs")],
    )
    assert r.exit_code == 2  # an option the user gave: Click's usage line, then one error line naming it
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--init" in errors[0] and "shapes disagree" in errors[0]
    assert not (tmp_path / "runs").exists()


def test_a_collapsed_layer_is_reported_and_the_2006_init_is_available(tmp_path, monkeypatch):
    real = L.rbm_monitor

    def dead(*a, **k):
        out = real(*a, **k)
        out["hidden_mean"] = torch.tensor(1e-5)
        return out

    monkeypatch.setattr(L, "rbm_monitor", dead)
    r = invoke(
        *DBN_SMALL,
        "--layers",
        16,
        "--epochs",
        2,
        "--init-std",
        0.1,
        "--visible-bias-init",
        "zero",
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    assert r.output.count("warning: the hidden units are almost all off") == 1  # once, not every epoch
    opts = json.loads((only_run(tmp_path, "pretrain-dbn") / "config.json").read_text())["options"]
    assert opts["init_std"] == 0.1 and opts["visible_bias_init"] == "zero"


def test_init_options_set_the_rbm_start():
    from revival.config import RBMConfig

    first = tiny_first_layer()
    for std, vb in ((0.1, "zero"), (0.01, "log-odds")):
        cfg = RBMConfig.from_options({**layer_opts(6, 1), "init_std": std, "visible_bias_init": vb})
        fit = L.RBMFit(first.train, cfg, 0, torch.device("cpu"))
        W, b, _ = fit.model.params()
        assert float(W.std()) == pytest.approx(std, rel=0.5)
        assert (float(b.abs().max()) == 0) == (vb == "zero")


def test_papers_dropout_scales_the_pretrained_weights_up_by_one_over_q():
    """Srivastava et al. 2014 sec. 5.2: with dropout that does not rescale in training, the copied
    weights are divided by the retain probability of their input, so the first forward pass of the
    dropout net in training mode gets, in expectation, the RBM's up-pass input."""
    rbms = random_stack([784, 30, 20])
    x = torch.rand(16, 784, generator=torch.Generator().manual_seed(3))
    net = MLP([784, 30, 20, 10], "logistic", input_dropout=0.2, hidden_dropout=0.5, dropout_scaling="paper")
    scales = DBN.dropout_scales(2, 0.2, 0.5)
    assert scales == [1 / 0.8, 1 / 0.5]
    DBN.init_mlp_(net, rbms, scales)
    W, _, c = rbms[0].params()
    want = x @ W.t() + c  # the RBM's up-pass pre-activation of layer 1
    g, total, n = torch.Generator().manual_seed(0), torch.zeros_like(want), 8000
    with torch.no_grad():
        for _ in range(n):  # training mode: masks drawn, no rescaling (the papers' formulation)
            total += net.layers[0](net._drop(x, 0.2, g, True))
    # unscaled weights would give 0.8 W x + c, several nats of pre-activation away
    assert torch.allclose(total / n, want, atol=0.15), float((total / n - want).abs().max())
    # the second layer: its input, the first layer's dropped output, is scaled by 1/0.5
    assert torch.allclose(net.layers[1].weight, rbms[1].params()[0] * 2.0)
    assert torch.equal(net.layers[1].bias, rbms[1].params()[2])


def test_compare_scales_pretrained_weights_only_for_the_papers_dropout(tmp_path, monkeypatch):

    captured = {}
    real = ClassifierTrainer.train_epoch

    def first_epoch(self, *a, **k):
        captured.setdefault(self.model.dropout_scaling, [p.detach().clone() for p in self.model.parameters()])
        return real(self, *a, **k)

    monkeypatch.setattr(ClassifierTrainer, "train_epoch", first_epoch)
    for scaling in ("paper", "inverted"):
        assert (
            invoke(
                *TINY,
                "--epochs",
                1,
                "--variants",
                "pretrained-dropout",
                "--dropout-scaling",
                scaling,
                "--logdir",
                tmp_path / scaling,
            ).exit_code
            == 0
        )
    for scaling, factors in (("paper", [1 / 0.8, 2.0]), ("inverted", None)):
        run = only_run(tmp_path / scaling, "compare-dropout")
        rbms = DBN.from_checkpoint(torch.load(run / "pretrain-n300-s0" / "model.pt", weights_only=True))
        row = json.loads((run / "pretrained-dropout" / "result.json").read_text())
        assert row["pretrained_weight_scale"] == factors
        for i, rbm in enumerate(rbms):
            W = rbm.params()[0]
            assert torch.allclose(captured[scaling][2 * i], W * (factors[i] if factors else 1.0))


def test_freeze_pretrained_epochs_trains_only_the_output_layer_first(tmp_path, monkeypatch):
    """backpropclassify.m: the first epochs train only the new softmax layer on the pretrained stack."""

    seen = []
    real = ClassifierTrainer.train_epoch

    def spy(self, x, y, epoch, *a, **k):
        out = real(self, x, y, epoch, *a, **k)
        seen.append((epoch, [p.detach().clone() for p in self.model.parameters()]))
        return out

    monkeypatch.setattr(ClassifierTrainer, "train_epoch", spy)
    r = invoke(
        *TINY, "--epochs", 4, "--variants", "pretrained,baseline", "--freeze-pretrained-epochs", 2, "--logdir", tmp_path
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    rbms = DBN.from_checkpoint(torch.load(run / "pretrain-n300-s0" / "model.pt", weights_only=True))
    pre, base = seen[:4], seen[4:]
    for epoch, params in pre[:2]:  # hidden layers are the stack's after 2 epochs; the output layer moved
        for i, rbm in enumerate(rbms):
            assert torch.equal(params[2 * i], rbm.params()[0]) and torch.equal(params[2 * i + 1], rbm.params()[2])
    assert not torch.equal(pre[0][1][4], pre[1][1][4])
    assert not torch.equal(pre[2][1][0], rbms[0].params()[0])  # then everything trains
    assert not torch.equal(base[0][1][0], base[1][1][0])  # random-init points are never frozen
    rows = {x["variant"]: x for x in json.loads((run / "summary.json").read_text())["rows"]}
    assert rows["pretrained"]["freeze_pretrained_epochs"] == 2 and "freeze_pretrained_epochs" not in rows["baseline"]
    assert json.loads((run / "config.json").read_text())["options"]["freeze_pretrained_epochs"] == 2


def test_extending_a_stack_trains_only_the_layers_not_finished(tmp_path):
    assert invoke(*DBN_SMALL, "--epochs", 2, "--logdir", tmp_path).exit_code == 0
    run = only_run(tmp_path, "pretrain-dbn")
    r = CliRunner().invoke(main, ["pretrain-dbn", "--resume", str(run), "--epochs", "5"])
    assert r.exit_code == 2 and "every layer of this stack has finished" in r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["options"]["epochs"] == [2] and "resumed" not in cfg  # a refusal changes nothing
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    (run / "layer-2" / "result.json").unlink()  # layer 2 as if it had not finished
    r = invoke("pretrain-dbn", "--resume", run, "--epochs", 5, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "layer 1 finished earlier and keeps 2 epochs; layer 2 trains to 5" in r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["options"]["epochs"] == [2, 5] and cfg["resumed"][0]["epochs"] == [2, 5]
    assert json.loads((run / "layer-1" / "result.json").read_text())["epochs"] == 2
    assert json.loads((run / "layer-2" / "result.json").read_text())["epochs"] == 5
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "finished" and s["resumed_from"][0]["status"] == "finished"


@pytest.mark.parametrize(
    "damage,needle",
    [
        (lambda L: (L / "result.json").write_text("{not json"), "result.json: cannot be read as JSON"),
        (lambda L: (L / "result.json").write_text("{}"), "result.json: not a layer result"),
        (lambda L: (L / "result.json").write_text("[1, 2]"), "result.json: not a layer result"),
        (lambda L: (L / "model.pt").unlink(), "model.pt: missing, although result.json says layer 1 finished"),
        (
            lambda L: torch.save(DBN.checkpoint_dict(random_stack([784, 20]), [{}], {})["layers"][0], L / "model.pt"),
            "model.pt: a 784-20 RBM, but layer 1 of this stack is 784-48",
        ),
    ],
)
def test_a_damaged_finished_layer_is_named_on_resume(tmp_path, damage, needle):
    assert invoke(*DBN_SMALL, "--epochs", 1, "--logdir", tmp_path).exit_code == 0
    run = only_run(tmp_path, "pretrain-dbn")
    (run / "layer-2" / "result.json").unlink()
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    damage(run / "layer-1")
    r = CliRunner().invoke(main, ["pretrain-dbn", "--resume", str(run), "--no-progress"])
    assert r.exit_code == 1, r.output
    err = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and needle in err[0] and "delete" in err[0] and "Traceback" not in r.output, r.output
