"""The per-layer monitors (gradient norms, mean activations, saturation) against hand-computed values,
and the initial weights' bounds."""

import math

import numpy as np
import pytest
import torch

from revival.config import NetConfig
from revival.data import Visible
from revival.models.mlp import MLP, init_, saturation
from revival.training.train import ClassifierTrainer, layer_monitor


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
