"""Fine-tuning by conjugate gradients (NetConfig(optimizer="cg"), revival.training.cg): the line searches
minimise the batch's summed loss, frozen epochs move the softmax alone, resume continues bit for bit,
and the command refuses what CG cannot train."""

import numpy as np
import pytest
import torch

import revival
from revival.config import NetConfig
from revival.data import Visible
from revival.errors import ConfigError
from revival.models.mlp import loss_fn, seeded_mlp
from revival.training import cg
from revival.training.netfit import NetFit, classifier_trainer
from revival.training.train import GracefulStop


def blobs(n=300, d=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.randn(3, d, generator=g) * 0.3
    x = ((centres[y] + torch.randn(n, d, generator=g) * 0.25).clamp(0, 1) * 255).to(torch.uint8)
    return Visible(x, 1 / 255), y


def trainer(sizes, seed=0, **cfg):
    cfg = NetConfig(layers=tuple(sizes[1:-1]), activation="logistic", optimizer="cg", **cfg)
    model = seeded_mlp(sizes, "logistic", seed)
    return model, classifier_trainer(model, cfg, torch.Generator().manual_seed(seed), torch.Generator())


def test_flat_vectors_round_trip():
    model = seeded_mlp([5, 4, 3], "logistic", 0)
    params = list(model.parameters())
    theta = cg.flat(params)
    assert theta.dtype == np.float64 and theta.size == sum(p.numel() for p in params)
    cg.set_flat_(params, np.arange(theta.size, dtype=np.float64))
    assert torch.equal(torch.cat([p.detach().reshape(-1) for p in params]), torch.arange(theta.size).float())


def test_many_line_searches_reach_the_convex_minimum():
    """Softmax regression (no hidden layer) is convex: with enough line searches on one batch the
    gradient of the summed cross-entropy vanishes, and the loss is below plain gradient descent's."""
    x, y = blobs()
    model, tr = trainer([12, 3], cg_batch_size=300, cg_line_searches=200)
    with torch.no_grad():
        before = float(loss_fn(model(x.all()), y))
    out = tr.train_epoch(x, y, 0)
    assert float(out["loss"]) == pytest.approx(before)  # reported: the batch before its searches
    model.zero_grad()
    total = loss_fn(model(x.all()), y, reduction="sum")
    total.backward()
    grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert grad.norm() < 1e-2 * 300 and float(total.detach()) / 300 < before
    gd = seeded_mlp([12, 3], "logistic", 0)  # 200 steps of full-batch gradient descent, for scale
    opt = torch.optim.SGD(gd.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        loss_fn(gd(x.all()), y).backward()
        opt.step()
    assert float(total.detach()) / 300 <= float(loss_fn(gd(x.all()), y).detach()) + 1e-4


def test_frozen_epochs_move_the_softmax_alone_and_batches_follow_the_size():
    x, y = blobs()
    model, tr = trainer([12, 6, 3], cg_batch_size=100, freeze_pretrained_epochs=1)
    first = [p.detach().clone() for p in model.layers[0].parameters()]
    top = model.layers[-1].weight.detach().clone()
    calls = []
    tr.train_epoch(x, y, 0, on_batch=lambda: calls.append(1))
    assert len(calls) == 3  # 300 rows in batches of 100
    assert all(torch.equal(a, b) for a, b in zip(first, model.layers[0].parameters()))
    assert not torch.equal(top, model.layers[-1].weight)
    tr.train_epoch(x, y, 1)
    assert not torch.equal(first[0], model.layers[0].weight)


def test_cg_refuses_what_changes_its_objective():
    for bad in ({"hidden_dropout": 0.5}, {"max_norm": 3.0}, {"weight_decay": 1e-4}, {"precision": "bf16"}):
        with pytest.raises(ConfigError, match="NetConfig.optimizer"):
            NetConfig(optimizer="cg", **bad)


def test_cg_runs_resume_bit_for_bit(tmp_path):
    x, y = blobs()
    cfg = NetConfig(layers=(6,), activation="logistic", optimizer="cg", cg_batch_size=100, epochs=3)

    def fit(folder, epochs):
        folder.mkdir(exist_ok=True)
        model = seeded_mlp([12, 6, 3], "logistic", 0)
        f = NetFit(model, cfg.replace(epochs=epochs), 0, x, y, {"train": (x, y)}, 1, folder=folder)
        f.run(None, GracefulStop())
        return model

    whole = fit(tmp_path / "a", 3)
    fit(tmp_path / "b", 2)
    resumed = fit(tmp_path / "b", 3)  # reads state.pt after epoch 2
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_fit_net_with_cg_learns(tmp_path):
    x, y = blobs(600)
    net, hist = revival.fit_net(
        x.all().numpy(),
        y.numpy(),
        NetConfig(layers=(8,), activation="logistic", optimizer="cg", cg_batch_size=300, epochs=4),
        test=(x.all().numpy(), y.numpy()),
    )
    errors = hist["test_error"]
    assert len(errors) == 4 and errors[-1] < errors[0] and errors[-1] < 0.2, errors


def test_compare_dropout_refuses_cg_for_dropout_variants(tmp_path):
    from helpers import invoke

    r = invoke(
        "compare-dropout",
        "--dataset",
        "mnist-sample",
        "--variants",
        "baseline,dropout",
        "--optimizer",
        "cg",
        "--logdir",
        tmp_path,
    )
    assert r.exit_code == 2 and "the dropout variant(s) cannot train that way" in r.output, r.output
    assert not (tmp_path / "compare-dropout").exists()


def test_compare_dropout_fine_tunes_by_cg_and_says_so(tmp_path):
    import json

    from helpers import invoke, only_run

    args = ["compare-dropout", "--dataset", "mnist-sample", "--variants", "baseline", "--layers", "20"]
    args += ["--epochs", "2", "--optimizer", "cg", "--cg-batch-size", "500", "--logdir", tmp_path]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    assert "conjugate gradients (3 line searches on each batch of 500)" in (run / "summary.md").read_text()
    assert "bfloat16" not in r.output  # no hint at a precision CG refuses
    assert json.loads((run / "config.json").read_text())["options"]["optimizer"] == "cg"


def test_a_batch_stops_when_its_evaluations_are_spent_and_keeps_the_best_point(monkeypatch):
    """minimize.m allows 20 evaluations per line search; here 1 per search and 3 searches: at most 4
    evaluations, and the net ends at the evaluated point of lowest summed loss (computed in float64)."""
    import copy

    x, y = blobs()
    model, tr = trainer([12, 6, 3], cg_batch_size=300, cg_line_searches=3)
    monkeypatch.setattr(cg, "EVALS_PER_SEARCH", 1)
    thetas = []
    real = cg.set_flat_

    def spy(params, theta):
        thetas.append(np.array(theta, copy=True))
        real(params, theta)

    monkeypatch.setattr(cg, "set_flat_", spy)
    tr.train_epoch(x, y, 0)
    evaluated, final = thetas[:-1], thetas[-1]  # the last call writes the chosen point back

    def summed_loss(theta):
        m = copy.deepcopy(model).double()
        real(list(m.parameters()), theta)
        with torch.no_grad():
            return float(loss_fn(m(x.all().double()), y, reduction="sum"))

    assert len(evaluated) == 4  # spent, not finished
    assert np.array_equal(final, min(evaluated, key=summed_loss))
    assert np.allclose(cg.flat(list(model.parameters())), final.astype(np.float32))  # the float32 net took it
