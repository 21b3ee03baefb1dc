"""Paper fidelity: the papers' dropout formulation against the inverted one, max-norm on every
layer, initialisation schemes, and presets that say where each setting comes from."""

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from helpers import only_run
from revival import presets
from revival.cli import main
from revival.config import CompareConfig, NetConfig, defaults, resolve_compare
from revival.data import Visible
from revival.models import mlp as M
from revival.training.train import ClassifierTrainer

DOCS = Path(__file__).resolve().parents[1] / "docs" / "compare-dropout.md"


def test_paper_and_inverted_dropout_follow_the_same_trajectory():
    """Same masks, same seed: with the inverted net's weights after a dropped layer q times the
    paper's, its learning rate q^2 times, its weight decay 1/q^2 times and its max-norm radius q
    times, the two nets stay the same function step after step (mlp module docstring)."""
    sizes, p_in, p_hid = [6, 5, 4, 3], 0.2, 0.5
    q = [1 - p_in, 1 - p_hid, 1 - p_hid]  # retain probability of each weight matrix's input
    paper = M.MLP(sizes, "logistic", p_in, p_hid, dropout_scaling="paper").double()
    inv = M.MLP(sizes, "logistic", p_in, p_hid, dropout_scaling="inverted").double()
    M.init_(paper, "fan-in", torch.Generator().manual_seed(0))
    with torch.no_grad():
        for lp, li, qk in zip(paper.layers, inv.layers, q):
            li.weight.copy_(qk * lp.weight)
            li.bias.copy_(lp.bias)
    lr, wd, c, mom = 0.5, 1e-3, 1.1, 0.5
    groups = lambda net, scale: (
        [
            {"params": [l.weight], "lr": lr * s**2, "weight_decay": wd / s**2}  # noqa: E731
            for l, s in zip(net.layers, scale)
        ]
        + [{"params": net.biases(), "lr": lr, "weight_decay": 0}]
    )
    naive = M.MLP(sizes, "logistic", p_in, p_hid, dropout_scaling="inverted").double()
    naive.load_state_dict(inv.state_dict())  # the papers' settings copied unchanged into an inverted net
    opt_p = torch.optim.SGD(groups(paper, [1, 1, 1]), lr=lr, momentum=mom)
    opt_i = torch.optim.SGD(groups(inv, q), lr=lr, momentum=mom)
    opt_n = torch.optim.SGD(groups(naive, [1, 1, 1]), lr=lr, momentum=mom)
    data = torch.Generator().manual_seed(1)
    x, y = torch.rand(32, 6, generator=data, dtype=torch.float64), torch.randint(0, 3, (32,), generator=data)
    for step in range(25):
        for net, opt in ((paper, opt_p), (inv, opt_i), (naive, opt_n)):
            g = torch.Generator().manual_seed(100 + step)  # the same draws: the same masks
            loss = M.loss_fn(net(x, g, stochastic=True), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for lp, li, ln, qk in zip(paper.layers, inv.layers, naive.layers, q):
            M.max_norm_(lp.weight, c)
            M.max_norm_(li.weight, c * qk)
            M.max_norm_(ln.weight, c)
    for lp, li, qk in zip(paper.layers, inv.layers, q):
        assert torch.allclose(li.weight, qk * lp.weight, atol=1e-10)
        assert torch.allclose(li.bias, lp.bias, atol=1e-10)
    assert torch.allclose(paper(x), inv(x), atol=1e-10)  # the deterministic (weight-scaled) nets agree
    # the papers' settings copied unchanged into the inverted net train a different net
    drift = max(
        float((ln.weight - qk * lp.weight).detach().abs().max()) for lp, ln, qk in zip(paper.layers, naive.layers, q)
    )
    assert drift > 1e-2


def test_paper_formulation_scales_at_test_time_and_not_in_training():
    net = M.MLP([4, 3, 2], "linear", input_dropout=0.5, hidden_dropout=0.25, dropout_scaling="paper")
    with torch.no_grad():
        net.layers[0].weight.fill_(1.0)
        net.layers[0].bias.zero_()
        net.layers[1].weight.fill_(1.0)
        net.layers[1].bias.zero_()
    x = torch.ones(1, 4)
    net.requires_grad_(False)
    assert torch.allclose(net(x), torch.full((1, 2), 3 * 0.75 * 4 * 0.5))  # both layers' outputs scaled
    g = torch.Generator().manual_seed(0)
    outs = {float(net(x, g, stochastic=True)[0, 0]) for _ in range(200)}
    assert all(v == int(v) for v in outs)  # kept units unscaled: sums of whole numbers
    # the expectation over masks is the deterministic net for a linear net
    mean = torch.stack([net(x, g, stochastic=True) for _ in range(20_000)]).mean(0)
    assert torch.allclose(mean, net(x), atol=0.05)


@pytest.mark.parametrize("layers,bounded", [("hidden", 1), ("all", 2)])
def test_max_norm_on_hidden_layers_or_every_layer(layers, bounded):
    torch.manual_seed(0)
    net = M.MLP([10, 8, 4], "relu")
    with torch.no_grad():
        for lin in net.layers:
            lin.weight.mul_(50)
    cfg = NetConfig(epochs=1, batch_size=10, lr=0.01, max_norm=1.0, max_norm_layers=layers)
    tr = ClassifierTrainer(net, cfg, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    tr.train_epoch(Visible(torch.randint(0, 255, (20, 10), dtype=torch.uint8), 1 / 255), torch.randint(0, 4, (20,)), 0)
    norms = [float(lin.weight.detach().norm(dim=1).max()) for lin in net.layers]
    assert sum(n <= 1.0 + 1e-6 for n in norms) == bounded


@pytest.mark.parametrize(
    "scheme,std",
    [
        ("he", math.sqrt(2 / 400)),
        ("fan-in", math.sqrt(1 / 400)),
        ("small-gaussian", 0.01),
        ("glorot", math.sqrt(6 / 800) / math.sqrt(3)),
    ],
)
def test_init_schemes_have_their_scale(scheme, std):
    net = M.init_(M.MLP([400, 400, 10], "relu"), scheme, torch.Generator().manual_seed(0))
    assert float(net.layers[0].weight.detach().std()) == pytest.approx(std, rel=0.02)
    assert float(net.layers[0].bias.detach().abs().sum()) == 0


@pytest.mark.parametrize("name", [n for n, p in presets.PRESETS.items() if p.citation])
def test_every_paper_preset_says_where_each_setting_comes_from(name):
    preset = presets.PRESETS[name]
    for option, value, source in presets.preset_settings(name):
        assert option in defaults(CompareConfig), option  # a real option
        assert option in preset.sources, f"{name}: no source for {option}"
        assert source == preset.sources[option]
    resolved = resolve_compare({"preset": name})
    for option, value, _ in presets.preset_settings(name):
        assert resolved[option] == value  # what trains is what the table says
    assert preset.architecture, name


@pytest.mark.parametrize("name", [n for n, p in presets.PRESETS.items() if p.citation])
def test_docs_carry_each_presets_settings_table(name):
    """docs/ (compare-dropout.md, or lessons.md for the activation / cost / data-size presets) shows
    `revival compare-dropout --preset NAME --explain`; it must say what the code trains."""
    text = DOCS.read_text() + (DOCS.parent / "lessons.md").read_text()
    r = CliRunner().invoke(main, ["compare-dropout", "--preset", name, "--explain"])
    assert r.exit_code == 0, r.output
    rows = [line for line in r.output.splitlines() if line.startswith("| ") and not line.startswith("| setting")]
    missing = [row for row in rows if row not in text]
    assert not missing, f"docs/compare-dropout.md is out of date for {name}: {missing[:3]}"


def test_hinton2012_rows_name_what_they_belong_to():
    p = presets.PRESETS["hinton2012-800"]
    assert "four architectures" in p.architecture and "literature figure for another net" in p.architecture
    assert "best standard net of the architectures" not in p.architecture + p.note  # the paper trained no such net
    assert "Simard" in p.other_net["baseline"] and "784-800-10" in p.other_net["baseline"]
    assert "Simard" in p.note and "new measurement" in p.note
    assert resolve_compare({"preset": "hinton2012-800"})["dropout_scaling"] == "paper"


def test_hinton2012_baseline_trains_at_its_own_rate_and_the_preset_runs_without_it():
    opts = resolve_compare({"preset": "hinton2012-800"})
    assert opts["variant_options"] == {"baseline": {"lr": 1.0}}
    cfg = CompareConfig.from_options(opts)
    assert cfg.variant_settings("baseline", None)["lr"] == 1.0
    assert "lr" not in cfg.variant_settings("dropout-maxnorm", None) and cfg.lr == 10.0  # the shared rate
    alone = resolve_compare({"preset": "hinton2012-800", "variants": ["dropout-maxnorm"]})
    assert alone["variant_options"] == {}  # the preset's baseline rate goes unused, no error
    mine = resolve_compare({"preset": "hinton2012-800", "variant_options": {"baseline": {"lr": 0.3}}})
    assert mine["variant_options"] == {"baseline": {"lr": 0.3}}  # the command line wins
    with pytest.raises(ValueError, match="not among the variants"):
        resolve_compare({"preset": "quick", "variants": ["baseline"], "variant_options": {"dropout": {"lr": 1}}})


def test_hinton2006_random_init_row_is_a_new_measurement_beside_a_literature_figure():
    p = presets.PRESETS["hinton2006-dbn"]
    assert set(p.other_net) == {"baseline"} and "new measurement" in p.other_net["baseline"]
    assert "literature figure for other nets" in p.architecture
    r = CliRunner().invoke(main, ["compare-dropout", "--preset", "hinton2006-dbn", "--explain"])
    assert r.exit_code == 0 and "- baseline: literature figure for other nets" in r.output
    assert "| freeze_pretrained_epochs | 5 | authors' code (backpropclassify.m)" in r.output
    from revival.reporting.summaries import group_rows

    rows = [
        {
            "variant": v,
            "train_size": 100,
            "seed": 0,
            "depth": 3,
            "hidden_dropout": 0.0,
            "train_error": 0.0,
            "valid_error": 0.1,
            "test_error": 0.1,
            "generalization_gap": 0.1,
            "test_loss": 0.3,
            "test_loss_min": 0.3,
        }
        for v in ("baseline", "pretrained")
    ]
    groups = group_rows(rows, p)
    assert groups[0]["paper_other_net"] and "paper_other_net" not in groups[1]


def test_a_reduced_paper_preset_runs_and_documents_itself(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "compare-dropout",
            "--preset",
            "srivastava2014-3x1024-relu",
            "--dataset",
            "mnist-sample",
            "--train-size",
            "300",
            "--layers",
            "32,32,32",
            "--epochs",
            "2",
            "--mc-samples",
            "2",
            "--eval-train-size",
            "300",
            "--max-norm",
            "0.8",
            "--logdir",
            str(tmp_path),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    opts = json.loads((run / "config.json").read_text())["options"]
    assert opts["dropout_scaling"] == "paper" and opts["max_norm_layers"] == "all" and not opts["retrain_on_full"]
    md = (run / "summary.md").read_text()
    assert "| dropout_scaling | paper |" in md and "| layers | 32, 32, 32 | command line (preset:" in md
    net = torch.load(run / "dropout-maxnorm" / "model.pt", weights_only=True)["state_dict"]
    free = torch.load(run / "dropout" / "model.pt", weights_only=True)["state_dict"]
    for k in ("layers.0.weight", "layers.3.weight"):  # every layer bounded, the output too
        assert float(net[k].norm(dim=1).max()) <= 0.8 + 1e-5
        assert float(free[k].norm(dim=1).max()) > 0.8  # the variant without the bound goes past it


def test_retrain_on_full_trains_a_second_net_for_the_same_updates(tmp_path, monkeypatch):
    r = CliRunner().invoke(
        main,
        [
            "compare-dropout",
            "--preset",
            "hinton2006-dbn",
            "--dataset",
            "mnist-sample",
            "--layers",
            "16",
            "--epochs",
            "4",
            "--variants",
            "baseline",
            "--retrain-on-full",
            "--eval-train-size",
            "200",
            "--logdir",
            str(tmp_path),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    row = json.loads((run / "baseline" / "result.json").read_text())
    # mnist-sample: 3,000 train (30 updates an epoch) + 1,000 valid -> 4 x 30 / 40 = 3 epochs
    assert row["epochs"] == 4 and row["epochs_full"] == 3 and 0 <= row["test_error_full"] <= 1
    assert (run / "baseline" / "full" / "model.pt").is_file()
    assert "retrained on the training and validation images together" in (run / "summary.md").read_text()
    r = CliRunner().invoke(
        main,
        [
            "compare-dropout",
            "--dataset",
            "mnist-sample",
            "--train-size",
            "100",
            "--retrain-on-full",
            "--logdir",
            str(tmp_path / "x"),
        ],
    )
    assert r.exit_code == 2 and "--retrain-on-full" in r.output


def test_larochelle2007_uses_its_own_split_and_figures_per_depth():
    opts = resolve_compare({"preset": "larochelle2007", "dataset": None})
    assert opts["dataset"] == "mnist-basic" and opts["depths"] == [1, 3]
    assert resolve_compare({"preset": "larochelle2007", "dataset": "mnist"})["dataset"] == "mnist"
    from revival.reporting.summaries import group_rows

    rows = [
        {
            "variant": v,
            "train_size": 10_000,
            "seed": 0,
            "depth": d,
            "hidden_dropout": 0.0,
            "train_error": 0.0,
            "valid_error": 0.05,
            "test_error": 0.05,
            "generalization_gap": 0.05,
            "test_loss": 0.2,
            "test_loss_min": 0.2,
        }
        for v, d in (("baseline", 1), ("baseline", 3), ("pretrained", 1), ("pretrained", 3))
    ]
    paper = {
        (g["variant"], g["depth"]): g.get("paper_test_error")
        for g in group_rows(rows, presets.PRESETS["larochelle2007"])
    }
    assert paper == pytest.approx(
        {("baseline", 1): 0.0469, ("baseline", 3): None, ("pretrained", 1): 0.0394, ("pretrained", 3): 0.0311}
    )


def test_train_on_all_trains_once_on_training_and_validation_images(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "compare-dropout",
            "--dataset",
            "mnist-sample",
            "--layers",
            "16",
            "--epochs",
            "2",
            "--variants",
            "baseline,pretrained",
            "--pretrain-epochs",
            "1",
            "--train-on-all",
            "--mc-samples",
            "0",
            "--eval-train-size",
            "200",
            "--logdir",
            str(tmp_path),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    rows = {x["variant"]: x for x in json.loads((run / "summary.json").read_text())["rows"]}
    assert rows["baseline"]["train_size"] == 4000 and rows["pretrained"]["train_size"] == 4000  # 3,000 + 1,000
    assert not (run / "baseline" / "full").exists()  # one phase, no retrain
    assert "on 4000 training images" in r.output  # the stack is pretrained on all of them too
    assert resolve_compare({"preset": "hinton2006-dbn"})["train_on_all"]
    assert not resolve_compare({"preset": "hinton2006-dbn", "train_size": 5000})["train_on_all"]  # reduced run
    r = CliRunner().invoke(
        main,
        [
            "compare-dropout",
            "--dataset",
            "mnist-sample",
            "--train-size",
            "100",
            "--train-on-all",
            "--logdir",
            str(tmp_path / "x"),
        ],
    )
    assert r.exit_code == 2 and "--train-on-all" in r.output
