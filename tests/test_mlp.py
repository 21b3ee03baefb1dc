"""Dropout, max-norm and inference rules of revival.models.mlp, checked exactly where possible."""

import copy
import itertools

import pytest
import torch

from revival.config import NetConfig
from revival.data import Visible
from revival.models import mlp as M
from revival.training.train import ClassifierTrainer


def test_weight_scaling_equals_the_mean_over_all_masks_for_a_linear_net():
    """For a linear net, the deterministic (weight-scaled) output is exactly the average of the
    outputs of all 2^n dropout sub-networks, each weighted by its probability."""
    torch.manual_seed(0)
    net = M.MLP([3, 4, 2], "linear", input_dropout=0.25, hidden_dropout=0.5).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    total = torch.zeros(5, 2, dtype=torch.float64)
    for in_mask in itertools.product([0, 1], repeat=3):
        for h_mask in itertools.product([0, 1], repeat=4):
            mi, mh = torch.tensor(in_mask, dtype=torch.float64), torch.tensor(h_mask, dtype=torch.float64)
            prob = torch.prod(torch.where(mi == 1, 0.75, 0.25)) * torch.prod(torch.where(mh == 1, 0.5, 0.5))
            h = net.layers[0](x * mi / 0.75) * mh / 0.5  # inverted dropout, as in training
            total += prob * net.layers[1](h)
    assert torch.allclose(net(x), total, atol=1e-12)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_drop_rates_match_the_options(p):
    g = torch.Generator().manual_seed(1)
    x = torch.ones(200_000)
    out = M.apply_noise(x, M.dropout_noise(x, p, g, "bernoulli"), p, "bernoulli")
    assert abs(float((out == 0).float().mean()) - p) < 0.005
    assert torch.allclose(out[out != 0], torch.tensor(1 / (1 - p)))


def test_dropout_noise_is_the_seeded_uniforms_compared_with_p_and_scales_as_the_formula():
    """An outside reference for the helpers both the taped trainer and autograd's forward share: the
    mask is (u >= p) for the generator's uniforms u, and x * m / (1 - p) is the bool mask's product, bit
    for bit (Gaussian: 1 + sigma z from the same normals)."""
    x = torch.rand(64, 300, generator=torch.Generator().manual_seed(3)) - 0.5
    for p in (0.2, 0.5):
        m = M.dropout_noise(x, p, torch.Generator().manual_seed(4), "bernoulli")
        keep = torch.rand(x.shape, generator=torch.Generator().manual_seed(4)) >= p
        assert torch.equal(m, keep.float())
        assert torch.equal(M.apply_noise(x, m, p, "bernoulli"), x * keep / (1.0 - p))
        assert torch.equal(M.apply_noise(x, m, p, "bernoulli", inverted=False), x * keep)
        g = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))
        assert torch.equal(M.noise_backward(g, m, p, "bernoulli"), (g / (1.0 - p)) * keep)
    r = M.dropout_noise(x, 0.5, torch.Generator().manual_seed(6), "gaussian")
    assert torch.equal(r, 1.0 + 1.0 * torch.randn(x.shape, generator=torch.Generator().manual_seed(6)))


def test_gaussian_dropout_mean_one_and_stated_variance():
    g = torch.Generator().manual_seed(2)
    p = 0.5
    x = torch.ones(400_000)
    r = M.apply_noise(x, M.dropout_noise(x, p, g, "gaussian"), p, "gaussian")
    assert abs(float(r.mean()) - 1.0) < 0.01
    assert abs(float(r.var()) - p / (1 - p)) < 0.01


def test_max_norm_holds_after_every_step():
    torch.manual_seed(0)
    model = M.MLP([784, 64, 32, 10], "relu", 0.2, 0.5)
    x = Visible(torch.randint(0, 256, (300, 784), dtype=torch.uint8), 1 / 255)
    y = torch.randint(0, 10, (300,))
    start = copy.deepcopy(model.state_dict())

    def norms_with(max_norm):
        model.load_state_dict(start)
        cfg = NetConfig(epochs=1, batch_size=30, lr=1.0, max_norm=max_norm)
        tr = ClassifierTrainer(model, cfg, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
        norms = []
        tr.train_epoch(
            x,
            y,
            0,
            on_batch=lambda: norms.append(max(float(w.detach().norm(dim=1).max()) for w in model.weights()[:-1])),
        )
        return norms

    norms = norms_with(0.5)
    assert len(norms) == 10 and max(norms) <= 0.5 + 1e-5
    assert min(norms_with(None)) > 0.5  # the same steps without the bound leave it


def test_mc_average_approaches_weight_scaling_for_a_linear_net():
    torch.manual_seed(3)
    net = M.MLP([6, 8, 3], "linear", 0.2, 0.5)
    x = torch.randn(4, 6)
    g = torch.Generator().manual_seed(0)
    mean_logits = torch.stack([net(x, g, stochastic=True) for _ in range(20_000)]).mean(0)
    assert torch.allclose(mean_logits, net(x), atol=0.05)
    probs = M.mc_predict(net, x, 50, g)
    assert torch.allclose(probs.sum(1), torch.ones(4))


def test_bad_dropout_probability_is_refused():
    with pytest.raises(ValueError):
        M.MLP([4, 2], hidden_dropout=1.0)


def rbm_of(sd):
    from revival.models import rbm as R

    r = R.RBM(sd["weight"].shape[1], sd["weight"].shape[0])
    r.load_state_dict(sd)
    return r


def test_init_from_rbm_layers_checks_shapes():
    from revival.models.dbn import init_mlp_

    net = M.MLP([784, 20, 10])
    sd = {"weight": torch.ones(20, 784), "hidden_bias": torch.full((20,), 2.0), "visible_bias": torch.zeros(784)}
    init_mlp_(net, [rbm_of(sd)])
    assert torch.all(net.layers[0].weight == 1) and torch.all(net.layers[0].bias == 2)
    with pytest.raises(ValueError, match="784->30"):
        init_mlp_(net, [rbm_of({**sd, "weight": torch.ones(30, 784), "hidden_bias": torch.zeros(30)})])


def test_mse_loss():
    logits = torch.tensor([[10.0, -10.0]])
    assert float(M.loss_fn(logits, torch.tensor([0]), "mse")) < 1e-6
    assert float(M.loss_fn(logits, torch.tensor([1]), "mse")) == pytest.approx(2.0, abs=1e-6)
