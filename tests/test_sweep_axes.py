"""compare-dropout's sweep axes (activations, losses, init schemes, depths) and --min-updates:
the grid's points and names, the thinned evaluation, and the axes end to end."""

import json

import pytest

from helpers import TINY_SWEEP as TINY
from helpers import events, invoke, only_run
from revival import tables as T
from revival.config import CompareConfig, resolve_compare
from revival.experiments import compare as C

# ------------------------------------------------------------------------- grid


def test_grid_crosses_every_axis_with_unique_names():
    opts = resolve_compare(
        {
            "variants": ["baseline", "dropout", "knn", "logistic-regression"],
            "train_sizes": [100, 200],
            "depths": [1, 3],
            "activations": ["logistic", "tanh"],
            "losses": ["cross-entropy", "mse"],
            "init_schemes": ["standard-uniform", "glorot"],
            "dropout_rates": [0.2, 0.5],
            "seeds": 2,
            "seed": 0,
        }
    )
    cfg = CompareConfig.from_options(opts)
    pts = C.grid(cfg)
    nets = [p for p in pts if not p.classic]
    assert (
        len(nets) == 2 * 2 * 2 * 2 * 2 * 2 * 2 * 2
    )  # variants x sizes x rates x depths x acts x losses x inits x seeds
    # every combination appears once
    combos = {(p.variant, p.size, p.rate, p.depth, p.activation, p.loss, p.init_scheme, p.seed) for p in nets}
    assert len(combos) == len(nets)
    # the classical models: once per size and seed, off the net's axes
    cls = [p for p in pts if p.classic]
    assert sorted((p.variant, p.size, p.seed) for p in cls) == sorted(
        (v, n, s) for v in ("knn", "logistic-regression") for n in (100, 200) for s in (0, 1)
    )
    assert all(p.depth is None and p.activation is None and p.rate is None for p in cls)
    names = [p.name(cfg) for p in pts]
    assert len(set(names)) == len(names)
    assert "baseline-n100-p0.2-d3-tanh-mse-glorot-s1" in names and "knn-n200-s0" in names


def test_grid_without_new_axes_keeps_todays_names():
    opts = resolve_compare({"variants": ["baseline", "dropout"], "train_sizes": [100], "seeds": 1, "seed": 0})
    cfg = CompareConfig.from_options(opts)
    assert [p.name(cfg) for p in C.grid(cfg)] == ["baseline-n100", "dropout-n100"]


def test_point_epochs_min_updates():
    cfg = CompareConfig(epochs=3, batch_size=50, min_updates=40)
    assert cfg.point_epochs(100) == 20  # 2 updates per epoch -> 20 epochs
    assert cfg.point_epochs(10_000) == 3  # 200 updates per epoch already
    assert cfg.replace(min_updates=0).point_epochs(100) == 3


# ------------------------------------------------------------------------- end to end


def test_axes_monitors_and_classical_models_end_to_end(tmp_path, monkeypatch):
    args = [
        "compare-dropout",
        *TINY,
        "--variants",
        "baseline,logistic-regression,knn",
        "--activations",
        "logistic,relu",
        "--losses",
        "cross-entropy,mse",
        "--logdir",
        tmp_path,
    ]
    # interrupted at the first kNN fit (the third point), then resumed
    from revival.experiments import points

    real = points.fit_classic

    def interrupted_once(*a, **k):
        monkeypatch.setattr(points, "fit_classic", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(points, "fit_classic", interrupted_once)
    r = invoke(*args)
    assert r.exit_code == 130, r.output
    run = only_run(tmp_path, "compare-dropout")
    done = {p.name: (p / "result.json").stat().st_mtime_ns for p in run.iterdir() if (p / "result.json").is_file()}
    assert sorted(done) == ["baseline-logistic-cross-entropy", "logistic-regression"]
    r = invoke("compare-dropout", "--resume", run, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "[baseline-logistic-cross-entropy] epoch" not in r.output and "[logistic-regression] epoch" not in r.output
    assert "[knn] fitting" in r.output and "[baseline-relu-mse] epoch 2/2" in r.output
    assert all((run / n / "result.json").stat().st_mtime_ns == t for n, t in done.items())
    summary = json.loads((run / "summary.json").read_text())
    names = sorted(p.name for p in run.iterdir() if (p / "result.json").is_file())
    assert names == sorted(
        [
            "baseline-logistic-cross-entropy",
            "baseline-logistic-mse",
            "baseline-relu-cross-entropy",
            "baseline-relu-mse",
            "logistic-regression",
            "knn",
        ]
    )
    rows = {(r_["variant"], r_["activation"], r_["loss"]): r_ for r_ in summary["rows"]}
    assert len(rows) == 6
    assert rows[("baseline", "logistic", "mse")]["depth"] == 2
    assert rows[("logistic-regression", None, None)]["depth"] == 0
    knn = rows[("knn", None, None)]
    assert knn["k"] in T.KNN_KS and knn["valid_error"] == min(knn["valid_error_by_k"].values())
    # the net's monitors, per layer and epoch
    ea = events(run / "baseline-logistic-mse")
    tags = ea.Tags()
    for k in (1, 2):
        assert f"activation/layer_{k}/saturated" in tags["scalars"] and f"activation/layer_{k}/mean" in tags["scalars"]
        assert f"activation/layer_{k}" in tags["histograms"]
    assert [e.step for e in ea.Scalars("grad_norm/layer_3")] == [1, 2]
    assert len(rows[("baseline", "logistic", "mse")]["grad_norm"]) == 3
    # the classical model: one point per split at the nets' last epoch
    assert [(e.step, e.value) for e in events(run / "knn").Scalars("error/test")] == [
        (2, pytest.approx(knn["test_error"]))
    ]
    md = (run / "summary.md").read_text()
    assert (
        "| activation | loss |" in md
        and "mean activation by layer" in md
        and "saturated % by layer" in md
        and "k = " in md
    )


def test_min_updates_thins_evaluation(tmp_path):
    r = invoke(
        "compare-dropout",
        "--dataset",
        "mnist-sample",
        "--train-size",
        "100",
        "--layers",
        "16",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--min-updates",
        "20",
        "--mc-samples",
        "0",
        "--variants",
        "baseline",
        "--no-monitor-layers",
        "--no-progress",
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    row = json.loads((run / "baseline" / "result.json").read_text())
    assert row["epochs"] == 10 and row["updates"] == 20
    ea = events(run / "baseline")
    assert [e.step for e in ea.Scalars("error/test")] == [5, 10]
    assert not [t for t in ea.Tags()["scalars"] if t.startswith(("grad_norm", "activation"))]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--activations", "logistic,softplus"], "softplus"),
        (["--depths", "0"], "--depths"),
        (["--losses", "hinge"], "hinge"),
        (["--init-schemes", "orthogonal"], "orthogonal"),
        (["--variants", "pretrained", "--activations", "tanh"], "logistic"),
    ],
)
def test_bad_axes_exit_2(tmp_path, args, message):
    r = invoke("compare-dropout", *TINY, *args, "--logdir", tmp_path)
    assert r.exit_code == 2 and message in r.output
    assert not (tmp_path / "compare-dropout").exists()


def test_each_point_gets_its_net_from_the_config():
    from revival.experiments.sweep import Point

    cfg = CompareConfig(
        variants=("baseline", "dropout-maxnorm", "pretrained"),
        layers=(32, 16),
        epochs=4,
        freeze_pretrained_epochs=5,
        variant_options={"dropout-maxnorm": {"lr": 3.0}},
    )
    plain = cfg.net_config(Point("baseline", None, None, None, 7), 4)
    assert (plain.layers, plain.input_dropout, plain.hidden_dropout, plain.max_norm) == ((32, 16), 0.0, 0.0, None)
    assert (plain.lr, plain.seed, plain.epochs, plain.freeze_pretrained_epochs) == (cfg.lr, 7, 4, 0)
    own = cfg.net_config(Point("dropout-maxnorm", 100, 0.3, 3, 0, "relu"), 12)
    assert own.layers == (32, 32, 32) and own.activation == "relu" and own.lr == 3.0  # its own rate
    assert (own.input_dropout, own.hidden_dropout, own.max_norm) == (0.2, 0.3, 3.0)  # the point's drop rate
    assert own.eval_every == 3  # 12 epochs stretched from 4: evaluated about 4 times
    assert cfg.net_config(Point("pretrained", None, None, None, 0), 4).freeze_pretrained_epochs == 4  # <= its epochs


def test_a_compare_config_refuses_settings_that_contradict_each_other_without_the_command():
    with pytest.raises(ValueError, match="start from RBMs"):
        CompareConfig(variants=("pretrained",), activations=("logistic", "tanh"))
    with pytest.raises(ValueError, match="two-hidden-layer DBM"):
        CompareConfig(variants=("dbm-pretrained",), layers=(10,))
    with pytest.raises(ValueError, match="--train-on-all trains on"):
        CompareConfig(train_on_all=True, restore_best=True)
