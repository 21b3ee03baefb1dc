"""RAISE against the exact forward-annealed distribution of a tiny RBM (Burda et al. 2015)."""

import pytest
import torch

from conftest import random_rbm
from revival.models import partition as P
from revival.models import rbm as R


def bernoulli_table(probs, states):
    """P(states | probs) for every row of probs and every state: [rows, n_states]."""
    return torch.exp(states @ torch.log(probs).T + (1 - states) @ torch.log1p(-probs).T).T


def exact_forward_annealed(W, b, c, b_a, betas):
    """p_fwd of AIS: p_0 (the base rate) pushed through the Gibbs sweeps T_1 .. T_{K-1}, each the
    exact [2^D, 2^D] matrix sum_h p_k(h | v) p_k(v' | h)."""
    n_h, n_v = W.shape
    V = P.all_states(n_v, 0, 2**n_v, "cpu", torch.float64)
    H = P.all_states(n_h, 0, 2**n_h, "cpu", torch.float64)
    p = bernoulli_table(torch.sigmoid(b_a)[None, :], V)[0]
    for beta in betas[1:-1]:
        p_h = bernoulli_table(torch.sigmoid(beta * (V @ W.T + c)), H)  # [V, H]
        p_v = bernoulli_table(torch.sigmoid((1 - beta) * b_a + beta * (H @ W + b)), V)  # [H, V]
        p = p @ (p_h @ p_v)
    return V, p


def exact_log_p(W, b, c, V):
    return -R.free_energy(V, W, b, c) - P.exact_log_z(W, b, c)


@pytest.fixture
def tiny():
    W, b, c = random_rbm(5, 3, seed=3, scale=1.0)
    b_a = torch.randn(5, generator=torch.Generator().manual_seed(9), dtype=torch.float64) * 0.5
    return W, b, c, b_a


def test_raise_weights_average_to_the_forward_annealed_probability(tiny):
    W, b, c, b_a = tiny
    betas = torch.linspace(0, 1, 8, dtype=torch.float64)
    V, p_fwd = exact_forward_annealed(W, b, c, b_a, betas)
    assert float(p_fwd.sum()) == pytest.approx(1.0, abs=1e-12)
    pick = [0, 7, 19, 31]
    g = torch.Generator().manual_seed(0)
    res = P.raise_log_prob(V[pick], W, b, c, b_a, n_chains=40_000, betas=betas, generator=g)
    est = torch.exp(res.log_p)
    # unbiased: the mean weight is p_fwd(v) (40,000 chains: a few per cent of sampling error)
    assert torch.allclose(est, p_fwd[pick], rtol=0.05), (est, p_fwd[pick])


def test_raise_log_estimate_lies_below_on_average_and_both_approach_the_rbm(tiny):
    W, b, c, b_a = tiny
    V, _ = exact_forward_annealed(W, b, c, b_a, torch.linspace(0, 1, 8, dtype=torch.float64))
    log_exact = exact_log_p(W, b, c, V)
    gaps_fwd, gaps_raise = [], []
    for k in (4, 40, 400):
        betas = torch.linspace(0, 1, k, dtype=torch.float64)
        _, p_fwd = exact_forward_annealed(W, b, c, b_a, betas)
        g = torch.Generator().manual_seed(k)
        one = P.raise_log_prob(V.repeat(300, 1), W, b, c, b_a, n_chains=1, betas=betas, generator=g)
        mean_log = one.log_p.reshape(300, -1).mean(0)  # E[log w] per state, one chain each
        # Jensen: E[log w] <= log E[w] = log p_fwd, for every state (300 replicates; allow noise)
        assert float((mean_log - torch.log(p_fwd)).max()) < 0.05
        assert float((mean_log - torch.log(p_fwd)).mean()) < 0
        gaps_fwd.append(float((torch.log(p_fwd) - log_exact).abs().max()))
        gaps_raise.append(abs(float((log_exact - mean_log).mean())))
    assert gaps_fwd[2] < gaps_fwd[1] < gaps_fwd[0] and gaps_fwd[2] < 0.02  # p_fwd -> the RBM
    # the estimate bounds p_fwd, not the RBM: with 4 betas it can even lie above the RBM's value;
    # as the schedule gets finer it closes on the RBM's exact log-probability
    assert gaps_raise[2] < gaps_raise[0] and gaps_raise[2] < 0.1


def test_raise_and_ais_sandwich_the_exact_log_probability_of_a_784_unit_rbm():
    from revival.data import Visible

    W, b, c = (t.float() for t in random_rbm(784, 12, seed=1, scale=0.05))
    b = b - 1.0
    g = torch.Generator().manual_seed(0)
    v = R.sample_bernoulli(torch.sigmoid(b).expand(50, -1).contiguous(), g)
    exact = float((-R.free_energy(v.double(), W.double(), b.double(), c.double())).mean() - P.exact_log_z(W, b, c))
    base = P.base_rate_bias(v.mean(0), kind="pseudo-counts")
    r = P.raise_log_prob(v, W, b, c, base, 2, P.betas_of_size(2000), torch.Generator().manual_seed(1))
    ais = P.log_prob(
        _rbm(W, b, c), Visible(v.to(torch.uint8)), Visible(v.to(torch.uint8)), P.Estimate("ais", 50, 2000, 0)
    )
    assert r.avg_log_prob <= exact + 0.05  # conservative
    assert abs(r.avg_log_prob - exact) < 1.0 and abs(ais["avg_log_prob"] - exact) < 1.0


def _rbm(W, b, c):
    m = R.RBM(W.shape[1], W.shape[0])
    m.load_state_dict({"weight": W, "visible_bias": b, "hidden_bias": c})
    return m


def test_pseudo_count_base_rate():
    p = torch.tensor([0.0, 0.5, 1.0])
    assert torch.allclose(
        torch.sigmoid(P.base_rate_bias(p, kind="pseudo-counts")), torch.tensor([5 / 105, 55 / 105, 1 - 1e-3])
    )
    # base_rate.m's sums over batches of 100: (count + 5 batches) / (100 batches + 5 batches)
    v = (torch.rand(300, 6, generator=torch.Generator().manual_seed(1)) < torch.linspace(0.05, 0.95, 6)).float()
    ref = (v.sum(0) + 5 * 3) / (100 * 3 + 5 * 3)
    assert torch.allclose(torch.sigmoid(P.base_rate_bias(v.mean(0), kind="pseudo-counts")), ref)
    assert torch.isfinite(P.base_rate_bias(torch.ones(3), kind="pseudo-counts")).all()
    assert torch.allclose(torch.sigmoid(P.base_rate_bias(p)), torch.tensor([1e-3, 0.5, 1 - 1e-3]))
    with pytest.raises(ValueError):
        P.base_rate_bias(p, kind="nope")


def test_the_sandwich_line_never_prints_an_impossible_inequality():
    from revival.pretrain import sandwich_line

    r = {"raise_examples": 300, "ess": 1.1, "tolerance": 1.0, "ais_avg_log_prob_subset_upper_markov": -187.7}
    crossed = sandwich_line(
        {**r, "raise_avg_log_prob": -192.17, "ais_avg_log_prob_subset": -192.31, "sandwich_gap": -0.14, "tight": True}
    )
    assert "<=" not in crossed and "cross by 0.14 nats" in crossed and "no bracket" in crossed
    far = sandwich_line(
        {**r, "raise_avg_log_prob": -190.0, "ais_avg_log_prob_subset": -192.31, "sandwich_gap": -2.31, "tight": False}
    )
    assert "<=" not in far and "cross by 2.31 nats" in far and "beyond" in far
    ok = sandwich_line(
        {**r, "raise_avg_log_prob": -192.5, "ais_avg_log_prob_subset": -192.31, "sandwich_gap": 0.19, "tight": True}
    )
    assert "-192.50 <= log p <= AIS -192.31" in ok and "tight" in ok
