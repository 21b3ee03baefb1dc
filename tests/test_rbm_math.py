"""RBM formulas against brute-force enumeration of every state of tiny RBMs."""

import math

import pytest
import torch

from conftest import random_rbm
from revival.models import partition as P
from revival.models import rbm as R


def joint_table(W, b, c):
    """Every (v, h) pair of a tiny Bernoulli RBM with -E(v, h)."""
    n_h, n_v = W.shape
    vs, hs = P.all_states(n_v, 0, 2**n_v, "cpu", W.dtype), P.all_states(n_h, 0, 2**n_h, "cpu", W.dtype)
    V = vs[:, None, :].expand(-1, len(hs), -1).reshape(-1, n_v)
    H = hs[None, :, :].expand(len(vs), -1, -1).reshape(-1, n_h)
    return vs, hs, V, H, -R.energy(V, H, W, b, c)


def test_conditionals_and_free_energy_match_enumeration():
    W, b, c = random_rbm(4, 3, seed=1)
    vs, hs, V, H, negE = joint_table(W, b, c)
    negE = negE.reshape(len(vs), len(hs))
    # F(v) = -log sum_h exp(-E(v, h))
    assert torch.allclose(R.free_energy(vs, W, b, c), -torch.logsumexp(negE, 1))
    # P(h_j = 1 | v)
    p_h_given_v = torch.softmax(negE, 1)  # [v, h]
    assert torch.allclose(R.hidden_probs(vs, W, c), p_h_given_v @ hs)
    # P(v_i = 1 | h)
    p_v_given_h = torch.softmax(negE, 0)  # [v, h], normalised over v
    assert torch.allclose(R.visible_mean(hs, W, b), p_v_given_h.t() @ vs)


@pytest.mark.parametrize("shape", [(4, 3), (3, 6), (7, 2)])
def test_exact_log_z_and_log_prob_identity(shape):
    n_v, n_h = shape
    W, b, c = random_rbm(n_v, n_h, seed=n_v * 10 + n_h)
    _, _, _, _, negE = joint_table(W, b, c)
    log_z = torch.logsumexp(negE, 0)
    assert torch.allclose(P.exact_log_z(W, b, c), log_z)
    assert torch.allclose(P.exact_log_z(W, b, c, chunk=3), log_z)  # chunking changes nothing
    vs = P.all_states(n_v, 0, 2**n_v, "cpu", W.dtype)
    logp = -R.free_energy(vs, W, b, c) - log_z
    assert torch.allclose(torch.logsumexp(logp, 0), torch.zeros((), dtype=W.dtype), atol=1e-10)  # sum_v p(v) = 1
    assert math.isclose(P.avg_log_prob([vs], W, b, c, float(log_z)), float(logp.mean()), rel_tol=1e-9)


def test_gaussian_free_energy_and_log_z_by_quadrature():
    W, b, c = random_rbm(2, 3, seed=5, scale=0.7)
    hs = P.all_states(3, 0, 8, "cpu", W.dtype)
    # a grid over v in R^2 wide enough to hold all the mass
    t = torch.linspace(-12, 12, 801, dtype=W.dtype)
    grid = torch.cartesian_prod(t, t)
    step = float(t[1] - t[0])
    negE = torch.stack([-R.energy(grid, h.expand(len(grid), -1), W, b, c, "gaussian") for h in hs], 1)
    assert torch.allclose(R.free_energy(grid, W, b, c, "gaussian"), -torch.logsumexp(negE, 1), atol=1e-10)
    log_z_quad = torch.logsumexp(negE.reshape(-1), 0) + 2 * math.log(step)
    assert abs(float(P.exact_log_z(W, b, c, "gaussian")) - float(log_z_quad)) < 1e-6
    # E[v | h] is the mean of p(v | h) on the grid
    p = torch.softmax(negE, 0)  # over v for each h
    assert torch.allclose(R.visible_mean(hs, W, b, "gaussian"), p.t() @ grid, atol=1e-6)
    # P(h | v) for Gaussian visibles has the same logistic form
    assert torch.allclose(R.hidden_probs(grid[::997], W, c), torch.softmax(negE[::997], 1) @ hs)


def test_cd1_statistics_match_their_expectation():
    """Monte-Carlo mean of the CD-1 gradient for one v0 against the exact expectation over h0."""
    W, b, c = random_rbm(5, 3, seed=7)
    W, b, c = W.float(), b.float(), c.float()
    v0 = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]])
    hs = P.all_states(3, 0, 8, "cpu")
    ph0 = R.hidden_probs(v0, W, c)[0]
    w_h = torch.prod(torch.where(hs == 1, ph0, 1 - ph0), 1)  # P(h0 = h | v0)
    vm = R.visible_mean(hs, W, b)  # the reconstruction for each h0 sample
    hn = R.hidden_probs(vm, W, c)
    exact_gw = ph0[:, None] * v0[0][None, :] - torch.einsum("s,sj,si->ji", w_h, hn, vm)
    exact_gb = v0[0] - w_h @ vm
    exact_gc = ph0 - w_h @ hn
    n = 200_000
    g = torch.Generator().manual_seed(0)
    hs, vs, gb, gc, recon, _ = R.cd_statistics(v0.expand(n, -1), W, b, c, 1, g)
    gw = R.weight_gradient(hs, vs)
    # the tolerance is ~5 standard errors of a mean of n terms bounded by 1
    assert torch.allclose(gw, exact_gw, atol=5 / math.sqrt(n))
    assert torch.allclose(gb, exact_gb, atol=5 / math.sqrt(n))
    assert torch.allclose(gc, exact_gc, atol=5 / math.sqrt(n))
    assert torch.allclose(recon.mean(0), w_h @ vm, atol=5 / math.sqrt(n))


def test_persistent_chains_sample_the_model():
    """After many Gibbs sweeps, PCD's negative statistics estimate the model's <h v> exactly."""
    W, b, c = random_rbm(4, 3, seed=3)
    _, _, V, H, negE = joint_table(W, b, c)
    p = torch.softmax(negE, 0)
    model_vh = torch.einsum("n,nj,ni->ji", p, H, V).float()
    W, b, c = W.float(), b.float(), c.float()
    n = 20_000
    g = torch.Generator().manual_seed(1)
    chain = torch.bernoulli(torch.full((n, 4), 0.5), generator=g)
    v0 = torch.zeros(n, 4)  # data term is zero, so -grad_W is the negative statistic
    for _ in range(50):
        hs, vs, _, _, _, chain = R.cd_statistics(v0, W, b, c, 1, g, chain=chain)
    gw = R.weight_gradient(hs, vs)
    assert torch.allclose(-gw, model_vh, atol=0.02)


def test_dropout_mask_silences_hidden_units():
    W, b, c = random_rbm(6, 4, seed=2)
    W, b, c = W.float(), b.float(), c.float()
    keep = torch.tensor([[1.0, 0.0, 1.0, 0.0]]).expand(50, -1)
    v0 = torch.bernoulli(torch.full((50, 6), 0.5), generator=torch.Generator().manual_seed(0))
    hs, vs, _, gc, _, _ = R.cd_statistics(v0, W, b, c, 2, torch.Generator().manual_seed(1), hidden_keep=keep)
    gw = R.weight_gradient(hs, vs)
    assert torch.all(gw[[1, 3]] == 0) and torch.all(gc[[1, 3]] == 0)
    assert gw[[0, 2]].abs().sum() > 0


def test_pseudo_log_likelihood_is_the_conditional_of_the_flipped_unit():
    W, b, c = random_rbm(5, 3, seed=4)
    vs = P.all_states(5, 0, 32, "cpu", W.dtype)
    idx = torch.arange(32) % 5
    logp = -R.free_energy(vs, W, b, c)
    flipped = vs.clone()
    flipped[torch.arange(32), idx] = 1 - flipped[torch.arange(32), idx]
    cond = logp - torch.logaddexp(logp, -R.free_energy(flipped, W, b, c))  # log P(v_i | v_-i)
    assert torch.allclose(R.pseudo_log_likelihood(vs, W, b, c, idx), 5 * cond)


def test_sparsity_gradient_pushes_towards_target():
    q = torch.tensor([0.5, 0.01])
    gw, gc = R.sparsity_gradient(q, 0.1, torch.ones(3))
    assert gc[0] < 0 < gc[1] and gw.shape == (2, 3)


def test_a_hidden_persistent_chain_steps_as_scikit_learns_bernoulli_rbm():
    """PCD with the chain holding hidden states (BernoulliRBM's h_samples_): v_k ~ P(v | chain),
    statistics from P(h | v_k), the new chain a sample of that P(h | v_k). Weights of +-20 make
    P(v | h) 0 or 1, so v_k is known exactly and every number can be written down."""
    import torch

    from revival.models import rbm as R

    torch.manual_seed(0)
    W = torch.tensor([[20.0, -20.0, 20.0], [-20.0, 20.0, 20.0]])  # 2 hidden x 3 visible
    b = torch.tensor([-10.0, -10.0, -30.0])
    c = torch.tensor([0.5, -0.5])
    v0 = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    chain = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    hs, vs, gb, gc, _, new = R.cd_statistics(
        v0, W, b, c, 1, torch.Generator().manual_seed(1), chain=chain, hidden_chain=True
    )
    v_neg = torch.sigmoid(chain @ W + b).round()  # [1, 0, 0] and [0, 1, 0]
    h_neg = torch.sigmoid(v_neg @ W.t() + c)
    assert torch.equal(vs[2:], v_neg)
    assert torch.allclose(-hs[2:], h_neg) and torch.allclose(hs[:2], torch.sigmoid(v0 @ W.t() + c))
    assert torch.allclose(gb, (v0 - v_neg).mean(0)) and torch.allclose(
        gc, (torch.sigmoid(v0 @ W.t() + c) - h_neg).mean(0)
    )
    assert new.shape == (2, 2) and set(new.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(new, h_neg.round())  # P(h | v_neg) is 0 or 1 here too: the sample is known
