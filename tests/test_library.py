"""The library API (revival.fit_rbm / fit_dbn / fit_net, the configs, load, RunLogger): in memory,
the same numbers as the commands, clear errors, and the docs' example runs as written."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import revival
from helpers import invoke, only_run, timeless
from revival import inputs
from revival.config import CompareConfig, DBNConfig, NetConfig, RBMConfig, defaults
from revival.errors import ConfigError

DOCS = Path(__file__).parent.parent / "docs"


@pytest.fixture(scope="module")
def sample():
    return revival.load_dataset("mnist-sample", train_size=300)


def test_configs_check_themselves_and_round_trip():
    for cls, bad, field in [
        (RBMConfig, {"lr": -1.0}, "RBMConfig.lr"),
        (RBMConfig, {"n_hidden": 0}, "RBMConfig.n_hidden"),
        (RBMConfig, {"dropout": 1.0}, "RBMConfig.dropout"),
        (RBMConfig, {"epochs": 2.0}, "RBMConfig.epochs"),
        (RBMConfig, {"lr": float("nan")}, "RBMConfig.lr"),
        (RBMConfig, {"sparsity_cost": 0.1}, "RBMConfig.sparsity_cost"),
        (NetConfig, {"hidden_dropout": 1.0}, "NetConfig.hidden_dropout"),
        (NetConfig, {"layers": (100, -5)}, "NetConfig.layers"),
        (NetConfig, {"activation": "softsign"}, "NetConfig.activation"),
        (DBNConfig, {"layers": (10, 5), "epochs": (1, 2, 3)}, "DBNConfig.epochs"),
        (DBNConfig, {"layers": ()}, "DBNConfig.layers"),
    ]:
        with pytest.raises(ConfigError) as e:
            cls(**bad)
        assert e.value.field == field and str(e.value).startswith(field + ": ")
    with pytest.raises(ConfigError, match="unknown setting"):
        NetConfig.from_dict({"layerz": [10]})
    for c in (
        RBMConfig(n_hidden=7),
        DBNConfig(layers=[5, 4], epochs=[1, 2]),
        NetConfig(layers=[3], hidden_dropout=0.5),
    ):
        assert type(c).from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert RBMConfig().train_options()["lr"] == 0.1 and RBMConfig(visible_type="gaussian").train_options()["lr"] == 0.01
    assert [c.epochs for c in DBNConfig(layers=(5, 4), epochs=(1, 2)).layer_configs()] == [1, 2]
    with pytest.raises(Exception):
        RBMConfig().lr = 1.0  # frozen


@pytest.mark.parametrize(
    "command,configs",
    [
        ("pretrain-rbm", ("RBMConfig", "RBMMonitorConfig")),
        ("pretrain-dbn", ("DBNConfig", "DBNMonitorConfig")),
        ("pretrain-dbm", ("DBMConfig",)),
    ],
)
def test_the_configs_defaults_are_the_commands_defaults(command, configs):
    """Every option of a command that is a config's setting shows the config's default, its help and its
    bounds: the option is generated from the field, never declared a second time."""
    import dataclasses

    import click

    from revival import config
    from revival.cli import main

    params = {p.name: p for p in main.commands[command].params if isinstance(p, click.Option)}
    seen = 0
    for name in configs:
        for f in dataclasses.fields(getattr(config, name)):
            if not f.metadata.get("help"):
                continue
            p = params[config.option_name(f)]
            seen += 1
            default = f.default
            if f.name == "layers":
                default = ",".join(map(str, default))
            elif f.metadata.get("per_layer") and not isinstance(default, bool) and default is not None:
                default = str(default)
            elif f.metadata.get("many") and isinstance(default, tuple):  # a list setting's default as typed
                default = ",".join(map(str, default))
            assert p.default == default, (command, f.name)
            assert p.help.startswith(f.metadata["help"]), (command, f.name)
            rule = config.rule_of(f)
            if isinstance(rule, config.Range) and isinstance(p.type, click.types._NumberRangeBase):
                assert (p.type.min, p.type.max) == (rule.lo, rule.hi), (command, f.name)
    assert seen >= 6


def test_the_net_configs_defaults_are_compare_dropouts():
    assert (
        NetConfig().lr == defaults(CompareConfig)["lr"]
        and list(NetConfig().layers) == defaults(CompareConfig)["layers"]
    )


def test_fit_rbm_and_fit_dbn_give_the_commands_parameters_bit_for_bit(sample, tmp_path):
    rbm, hist = revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=20, epochs=2, device="cpu"), x_valid=sample.x_valid)
    assert hist["epoch"] == [1, 2] and all(np.isfinite(hist["free_energy_gap"]))
    r = invoke(
        "pretrain-rbm",
        "--dataset",
        "mnist-sample",
        "--train-size",
        300,
        "--hidden",
        20,
        "--epochs",
        2,
        "--ais-runs",
        0,
        "--logdir",
        tmp_path,
        "--no-progress",
        "--threads",
        1,
    )
    assert r.exit_code == 0, r.output
    cli = revival.load(only_run(tmp_path, "pretrain-rbm"))
    assert all(torch.equal(a, b) for a, b in zip(rbm.params(), cli.params()))

    dbn, hist = revival.fit_dbn(sample.x_train, DBNConfig(layers=(20, 10), epochs=(2, 1), device="cpu"))
    assert len(hist["layers"]) == 2 and dbn.layers == [784, 20, 10]
    r = invoke(
        "pretrain-dbn",
        "--dataset",
        "mnist-sample",
        "--train-size",
        300,
        "--layers",
        "20,10",
        "--epochs",
        "2,1",
        "--logdir",
        tmp_path,
        "--no-progress",
        "--threads",
        1,
    )
    assert r.exit_code == 0, r.output
    cli = revival.load(only_run(tmp_path, "pretrain-dbn"))
    assert all(torch.equal(a, b) for x, y in zip(dbn.rbms, cli.rbms) for a, b in zip(x.params(), y.params()))


def test_fit_net_gives_a_compare_dropout_points_parameters_bit_for_bit(sample, tmp_path):
    cfg = NetConfig(layers=(24,), epochs=2, lr=0.02, weight_decay=0.0, device="cpu")
    net, hist = revival.fit_net(sample.x_train, sample.y_train, cfg, test=(sample.x_test, sample.y_test))
    assert hist["epoch"] == [1, 2] and 0 < hist["test_error"][-1] < 0.9
    r = invoke(
        "compare-dropout",
        "--dataset",
        "mnist-sample",
        "--train-size",
        300,
        "--layers",
        24,
        "--epochs",
        2,
        "--variants",
        "baseline",
        "--logdir",
        tmp_path,
        "--no-progress",
        "--threads",
        1,
    )
    assert r.exit_code == 0, r.output
    cli = revival.load(only_run(tmp_path, "compare-dropout") / "baseline")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), cli.state_dict().values()))
    assert np.array_equal(net.predict(sample.x_test), cli.predict(sample.x_test))
    p = net.predict_proba(sample.x_test[:5])
    assert p.shape == (5, 10) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert abs(np.mean(net.predict(sample.x_test) != sample.y_test) - hist["test_error"][-1]) < 1e-6


def test_fit_net_from_a_dbn_scales_its_weights_for_the_papers_dropout(sample):
    dbn, _ = revival.fit_dbn(sample.x_train, DBNConfig(layers=(16, 12), epochs=1, device="cpu"))
    cfg = NetConfig(
        layers=(16, 12),
        epochs=2,
        input_dropout=0.2,
        hidden_dropout=0.5,
        dropout_scaling="paper",
        freeze_pretrained_epochs=2,
        device="cpu",
    )
    net, _ = revival.fit_net(sample.x_train, sample.y_train, cfg, init=dbn)
    # frozen for every epoch: the hidden layers are the DBN's weights times 1/q (q = 0.8, then 0.5)
    assert torch.equal(net.layers[0].weight, dbn.rbms[0].weight * (1 / 0.8))
    assert torch.equal(net.layers[1].weight, dbn.rbms[1].weight * (1 / 0.5))
    assert torch.equal(net.layers[1].bias, dbn.rbms[1].hidden_bias)


def test_models_save_and_load_by_format(sample, tmp_path):
    rbm, _ = revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=8, epochs=1, device="cpu"))
    dbn, _ = revival.fit_dbn(sample.x_train, DBNConfig(layers=(8, 6), epochs=1, device="cpu"))
    net, _ = revival.fit_net(sample.x_train, sample.y_train, NetConfig(layers=(8,), epochs=1, device="cpu"))
    for name, model, out in (
        ("rbm", rbm, lambda m: m.transform(sample.x_test)),
        ("dbn", dbn, lambda m: m.transform(sample.x_test)),
        ("net", net, lambda m: m.predict_proba(sample.x_test)),
    ):
        revival.save(model, tmp_path / f"{name}.pt")
        back = revival.load(tmp_path / f"{name}.pt")
        assert type(back) is type(model) and np.array_equal(out(back), out(model)), name
    assert rbm.transform(sample.x_test).shape == (len(sample.x_test), 8)
    assert rbm.free_energy(sample.x_test[:3]).shape == (3,)
    assert rbm.sample(4, gibbs_steps=2).shape == (4, 784) and dbn.sample(3, gibbs_steps=2).shape == (3, 784)
    torch.save({"format": "something.else"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        revival.load(tmp_path / "x.pt")


def test_bad_data_gets_one_clear_error(sample):
    x = sample.x_train.copy()
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        revival.fit_rbm(x, RBMConfig(n_hidden=4, epochs=1, device="cpu"))
    with pytest.raises(ValueError, match="2-D"):
        revival.fit_rbm(sample.x_train[0], RBMConfig(n_hidden=4, epochs=1, device="cpu"))
    with pytest.raises(ValueError, match="class indices"):
        revival.fit_net(sample.x_train, sample.y_train.astype(float), NetConfig(layers=(4,), epochs=1, device="cpu"))
    with pytest.raises(ValueError, match="labels"):
        revival.fit_net(sample.x_train, sample.y_train[:-1], NetConfig(layers=(4,), epochs=1, device="cpu"))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=4, epochs=1, device="cuda"))


def test_real_valued_data_trains_in_float_and_binarizes_by_value():
    rng = np.random.default_rng(0)
    x = rng.random((64, 10))  # not pixel / 255: kept as floats
    v = inputs.visible(x, "cpu", "none")
    assert v.data.dtype == torch.float32 and torch.allclose(v.all(), torch.tensor(x, dtype=torch.float32))
    b = inputs.visible(x, "cpu", "stochastic", seed=3).all()
    assert set(b.unique().tolist()) <= {0.0, 1.0} and abs(b.mean().item() - x.mean()) < 0.05
    assert torch.equal(b, inputs.visible(x, "cpu", "stochastic", seed=3).all())
    pixels = np.arange(256, dtype=np.uint8)[None].repeat(2, 0)
    assert (
        inputs.visible(inputs.grey_levels(pixels), "cpu").data.dtype == torch.uint8
    )  # k/255 kept as bytes, like the CLI


def test_a_run_logger_writes_the_commands_run_folder(sample, tmp_path):
    logger = revival.RunLogger(tmp_path, "lib", echo=lambda m: None)
    rbm, hist = revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=10, epochs=2, device="cpu"), logger=logger)
    run = logger.path
    assert run.parent.name == "pretrain-rbm" and run.name.endswith("-lib")
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert json.loads((run / "config.json").read_text())["options"]["api"] is True
    assert list(run.glob("events.out.tfevents.*")) and hist["epoch"] == [1, 2] and "pseudo_log_likelihood" in hist
    assert all(torch.equal(a, b) for a, b in zip(rbm.params(), revival.load(run).params()))
    with pytest.raises(ValueError, match="already holds"):
        revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=10, epochs=1, device="cpu"), logger=logger)
    rows = np.random.default_rng(0).random((200, 50))  # not images: no image grids, the rest logged as usual
    other, _ = revival.fit_rbm(
        rows,
        RBMConfig(n_hidden=6, epochs=1, device="cpu"),
        logger=revival.RunLogger(tmp_path, "rows", echo=lambda m: None),
    )
    assert other.n_visible == 50
    net_logger = revival.RunLogger(tmp_path, echo=lambda m: None)
    net, hist = revival.fit_net(
        sample.x_train,
        sample.y_train,
        NetConfig(layers=(8,), epochs=2, device="cpu"),
        test=(sample.x_test, sample.y_test),
        logger=net_logger,
    )
    assert json.loads((net_logger.path / "summary.json").read_text())["final"]["test_error"] == hist["test_error"][-1]
    assert revival.load(net_logger.path).sizes == [784, 8, 10]


def test_the_library_pages_example_runs_as_written(monkeypatch):
    """docs/library.md's first code block, with the sizes its comment says to use for a quick check."""
    text = (DOCS / "library.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "revival.fit_rbm" in code and "revival.fit_dbn" in code and "revival.fit_net" in code
    monkeypatch.setenv("REVIVAL_QUICK", "1")
    namespace = {}
    exec(compile(code, "docs/library.md", "exec"), namespace)
    assert namespace["hist"]["valid_error"][-1] < 0.5 and "test_error" not in namespace["hist"]


def test_the_readmes_library_example_runs_as_written():
    text = (DOCS.parent / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "revival.fit_net" in b)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    d, net = namespace["data"], namespace["net"]
    assert "test=" not in code  # the example monitors validation, as a user should
    assert namespace["hist"]["valid_error"][-1] < 0.08 and (net.predict(d.x_test) != d.y_test).mean() < 0.07  # ~5%


def test_compare_dropout_from_python_gives_the_commands_rows(tmp_path):
    small = {
        "dataset": "mnist-sample",
        "train_size": 200,
        "layers": [16],
        "epochs": 2,
        "variants": ["baseline", "dropout"],
        "mc_samples": 0,
        "eval_train_size": 200,
        "device": "cpu",
    }
    s = revival.api.compare_dropout(tmp_path / "lib", echo=lambda m: None, **small)
    assert Path(s["run"]).parent.parent == tmp_path / "lib" and [r["variant"] for r in s["rows"]] == [
        "baseline",
        "dropout",
    ]
    r = invoke(
        "compare-dropout",
        "--dataset",
        "mnist-sample",
        "--train-size",
        200,
        "--layers",
        16,
        "--epochs",
        2,
        "--variants",
        "baseline,dropout",
        "--mc-samples",
        0,
        "--eval-train-size",
        200,
        "--device",
        "cpu",
        "--logdir",
        tmp_path / "cli",
        "--no-progress",
        "--threads",
        torch.get_num_threads(),
    )
    assert r.exit_code == 0, r.output
    cli = json.loads((only_run(tmp_path / "cli", "compare-dropout") / "summary.json").read_text())
    assert timeless(s["rows"]) == timeless(cli["rows"])
    with pytest.raises(ValueError, match="unknown option"):
        revival.api.compare_dropout(tmp_path, layerz=[3])
