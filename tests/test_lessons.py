"""The other lessons of the revival as experiments: activation / loss / init-scheme sweep axes, the
per-layer monitors, the classical baselines and --min-updates."""

import json
import math
import sys

import numpy as np
import pytest
import torch

from conftest import full_mnist_root, needs_full_mnist
from helpers import events, invoke, only_run
from revival import tables as T
from revival.config import NetConfig, resolve_compare
from revival.data import Visible
from revival.experiments import compare as C
from revival.models import baselines as K
from revival.models.mlp import MLP, init_, saturation
from revival.training.train import ClassifierTrainer, layer_monitor

TINY = [
    "--dataset",
    "mnist-sample",
    "--train-size",
    "200",
    "--layers",
    "32,32",
    "--epochs",
    "2",
    "--mc-samples",
    "0",
    "--eval-train-size",
    "200",
    "--no-progress",
]


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
    pts = C.grid(opts)
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
    names = [p.name(opts) for p in pts]
    assert len(set(names)) == len(names)
    assert "baseline-n100-p0.2-d3-tanh-mse-glorot-s1" in names and "knn-n200-s0" in names


def test_grid_without_new_axes_keeps_todays_names():
    opts = resolve_compare({"variants": ["baseline", "dropout"], "train_sizes": [100], "seeds": 1, "seed": 0})
    assert [p.name(opts) for p in C.grid(opts)] == ["baseline-n100", "dropout-n100"]


def test_point_epochs_min_updates():
    opts = {"epochs": 3, "batch_size": 50, "min_updates": 40}
    assert C.point_epochs(opts, 100) == 20  # 2 updates per epoch -> 20 epochs
    assert C.point_epochs(opts, 10_000) == 3  # 200 updates per epoch already
    assert C.point_epochs({**opts, "min_updates": 0}, 100) == 3


# ------------------------------------------------------------------------- kNN


def brute_knn(tx, ty, q, k):
    out = []
    for x in q:
        d = ((tx - x) ** 2).sum(1)
        order = np.argsort(d, kind="stable")[:k]
        labels = ty[order]
        counts = np.bincount(labels, minlength=10)
        best = np.flatnonzero(counts == counts.max())
        # a tie goes to the tied class whose nearest member comes first
        out.append(next(lab for lab in labels if lab in best))
    return np.array(out)


@pytest.mark.parametrize("k", [1, 3, 4, 7])
def test_knn_matches_a_brute_force_loop(k):
    rng = np.random.default_rng(k)
    tx = rng.normal(size=(60, 12)).astype(np.float64)
    ty = rng.integers(0, 4, 60)
    q = rng.normal(size=(25, 12))
    nb = torch.from_numpy(ty)[K.nearest(torch.from_numpy(tx), torch.from_numpy(q), k, batch=7)]
    got = K.vote(nb, k, 10).numpy()
    np.testing.assert_array_equal(got, brute_knn(tx, ty, q, k))


def test_knn_vote_breaks_ties_by_the_nearest():
    lab = torch.tensor([[2, 5, 5, 2], [7, 1, 1, 7]])
    assert K.vote(lab, 4, 10).tolist() == [2, 7]
    assert K.vote(lab, 3, 10).tolist() == [5, 1]


def test_fit_knn_chooses_k_on_validation():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 4

    def draw(n):
        y = rng.integers(0, 3, n)
        return torch.from_numpy(centres[y] + rng.normal(size=(n, 5))), torch.from_numpy(y)

    tr, va, te = draw(90), draw(60), draw(60)
    res = K.fit_knn(tr, va, te, (tr[0][:30], tr[1][:30]), (1, 3, 5, 200))
    assert res["k"] in (1, 3, 5)  # 200 > 90 training points is not tried
    assert res["error/valid"] == min(res["valid_error_by_k"].values())
    assert res["error/test"] < 0.1


def test_fit_svm_or_a_clear_error_without_scikit_learn():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-2, 1, (40, 4)), rng.normal(2, 1, (40, 4))]).astype(np.float32)
    y = np.repeat([0, 1], 40)
    res = K.fit_svm((x, y), (x, y), (x, y), (x, y), (1.0, 10.0), seed=0)
    assert res["C"] == 1.0 and res["error/test"] < 0.05  # the smaller C on a tie


# ------------------------------------------------------------------------- monitors


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_layer_monitors_against_hand_computed_values():
    """A 3-2-2-3 logistic net with set weights: activations, saturation, and the weight-gradient
    norms of a cross-entropy step by hand-written backpropagation."""
    model = MLP([3, 2, 2, 3], "logistic")
    W1 = np.array([[10.0, 0.0, 0.0], [0.1, -0.2, 0.3]])
    W2 = np.array([[0.5, -0.5], [-12.0, 1.0]])
    W3 = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    b = [np.array([0.0, 0.1]), np.array([0.0, 0.0]), np.array([0.1, 0.0, -0.1])]
    with torch.no_grad():
        for lin, W, bb in zip(model.layers, (W1, W2, W3), b):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(bb))
    x32 = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))  # noqa: E731 (the trainer's float32)
    x = np.array([[1.0, 0.0, 1.0], [-1.0, 1.0, 0.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]])
    y = np.array([0, 2, 1, 2])
    a1 = sigmoid(x @ W1.T + b[0])
    a2 = sigmoid(a1 @ W2.T + b[1])
    logits = a2 @ W3.T + b[2]
    scalars, acts = layer_monitor(model, x32(x))
    np.testing.assert_allclose(acts[0].numpy(), a1, rtol=1e-6)
    np.testing.assert_allclose(scalars["activation/layer_2/mean"].item(), a2.mean(), rtol=1e-6)
    for k, a in ((1, a1), (2, a2)):
        assert scalars[f"activation/layer_{k}/saturated"].item() == pytest.approx(((a < 0.01) | (a > 0.99)).mean())
    assert scalars["activation/layer_1/saturated"].item() > 0  # unit 1 of layer 1 is pinned by its weight of 10
    # backpropagation by hand (mean cross-entropy over the batch)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d3 = (p - np.eye(3)[y]) / len(x)
    g3 = d3.T @ a2
    d2 = (d3 @ W3) * a2 * (1 - a2)
    g2 = d2.T @ a1
    d1 = (d2 @ W2) * a1 * (1 - a1)
    g1 = d1.T @ x
    want = [np.linalg.norm(g) for g in (g1, g2, g3)]
    cfg = NetConfig(epochs=1, batch_size=len(x), initial_momentum=0.0, final_momentum=0.0, monitor_layers=True)
    object.__setattr__(cfg, "lr", 0.0)  # the weights stay put; a config refuses a rate of 0
    tr = ClassifierTrainer(model, cfg, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    out = tr.train_epoch(Visible(x32(x)), torch.from_numpy(y), 0)
    np.testing.assert_allclose(out["grad_norm"].numpy(), want, rtol=1e-5)
    # two batches with lr 0: the same weights, so the mean of the two batches' norms
    object.__setattr__(cfg, "batch_size", 2)
    tr = ClassifierTrainer(model, cfg, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    out = tr.train_epoch(Visible(x32(x)), torch.from_numpy(y), 0)
    order = torch.randperm(4, generator=torch.Generator().manual_seed(0)).numpy()
    halves = []
    for idx in (order[:2], order[2:]):
        xb, yb = x[idx], y[idx]
        h1 = sigmoid(xb @ W1.T + b[0])
        h2 = sigmoid(h1 @ W2.T + b[1])
        lg = h2 @ W3.T + b[2]
        pp = np.exp(lg - lg.max(1, keepdims=True))
        pp /= pp.sum(1, keepdims=True)
        e3 = (pp - np.eye(3)[yb]) / 2
        e2 = (e3 @ W3) * h2 * (1 - h2)
        e1 = (e2 @ W2) * h1 * (1 - h1)
        halves.append([np.linalg.norm(e1.T @ xb), np.linalg.norm(e2.T @ h1), np.linalg.norm(e3.T @ h2)])
    np.testing.assert_allclose(out["grad_norm"].numpy(), np.mean(halves, 0), rtol=1e-5)


def test_saturation_of_tanh_and_dead_relus():
    a = torch.tensor([[0.99, -0.5, 0.0], [-0.985, 0.97, 0.1]])
    assert saturation(a, "tanh").item() == pytest.approx(2 / 6)  # |a| > 0.98
    r = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert saturation(r, "relu").item() == pytest.approx(1 / 3)  # unit 0 is zero on every example
    assert saturation(r, "linear").item() == 0.0


def test_standard_uniform_init_bounds():
    m = init_(MLP([400, 300, 10], "tanh"), "standard-uniform", torch.Generator().manual_seed(0))
    w = m.layers[0].weight
    assert w.abs().max().item() <= 1 / math.sqrt(400)
    assert w.var().item() == pytest.approx(1 / (3 * 400), rel=0.02)


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


def test_svm_without_scikit_learn_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    r = invoke("compare-dropout", *TINY, "--variants", "baseline,svm-rbf", "--logdir", tmp_path)
    assert r.exit_code == 2
    assert "revival[classic]" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "compare-dropout").exists()


@needs_full_mnist
def test_logistic_regression_reaches_known_error_on_full_mnist(tmp_path):
    """Softmax regression on 50,000 MNIST digits: about 7-8% test error after a few epochs."""
    r = invoke(
        "compare-dropout",
        "--data-dir",
        full_mnist_root(),
        "--variants",
        "logistic-regression",
        "--epochs",
        "3",
        "--lr",
        "0.1",
        "--mc-samples",
        "0",
        "--eval-train-size",
        "2000",
        "--no-progress",
        "--logdir",
        tmp_path,
        "--preset",
        "quick",
        "--train-size",
        "50000",
    )
    assert r.exit_code == 0, r.output
    row = json.loads((only_run(tmp_path, "compare-dropout") / "logistic-regression" / "result.json").read_text())
    assert 0.065 < row["test_error"] < 0.085, row["test_error"]
