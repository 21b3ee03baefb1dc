"""AIS against exact log Z on random RBMs that can be enumerated."""

import math

import numpy as np
import pytest
import torch

from conftest import random_rbm
from revival import data as D
from revival.models import partition as P


def sample_pixel_mean():
    images, _ = D.load_split("mnist-sample", "train")
    return torch.from_numpy(D.binarize(images, "stochastic", 0).astype(np.float32)).mean(0)


def mnist_like_rbm(n_h, seed):
    """784 visibles with biases fitted to digits plus random weights: a hard but enumerable case."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(n_h, 784, generator=g) * 0.1
    c = torch.randn(n_h, generator=g) * 0.5
    b = P.base_rate_bias(sample_pixel_mean()) + torch.randn(784, generator=g) * 0.3
    return W, b, c


@pytest.mark.slow
@pytest.mark.parametrize("case", ["784x15", "20x200"])
def test_ais_matches_exact_log_z_at_default_schedule(case):
    if case == "784x15":
        W, b, c = mnist_like_rbm(15, seed=0)
        base = P.base_rate_bias(sample_pixel_mean())
    else:
        W, b, c = (t.float() for t in random_rbm(20, 200, seed=1, scale=0.15))
        base = torch.zeros(20)
    exact = float(P.exact_log_z(W, b, c))
    res = P.ais_log_z(W, b, c, base, n_runs=100, generator=torch.Generator().manual_seed(0))
    assert res.n_betas == 14_501 and res.n_runs == 100
    assert abs(res.log_z - exact) < 0.2, (res, exact)
    assert res.log_z_lower <= exact <= res.log_z_upper, (res, exact)
    assert 1 <= res.ess <= 100


def test_ais_error_shrinks_as_betas_grow():
    W, b, c = mnist_like_rbm(12, seed=3)
    W = W * 3  # sharpen the model so short schedules are visibly biased
    base = P.base_rate_bias(sample_pixel_mean())
    exact = float(P.exact_log_z(W, b, c))
    errs = []
    for n in (10, 100, 3000):
        e = [
            abs(P.ais_log_z(W, b, c, base, 50, P.betas_of_size(n), torch.Generator().manual_seed(s)).log_z - exact)
            for s in range(3)
        ]
        errs.append(float(np.mean(e)))
    assert errs[0] > errs[1] > errs[2], errs


def test_base_rate_log_z_is_exact_at_beta_zero():
    """With zero weights the RBM *is* the base-rate model: every weight is 1 and log Z is exact."""
    base = P.base_rate_bias(sample_pixel_mean())
    W, c = torch.zeros(30, 784), torch.zeros(30)
    res = P.ais_log_z(W, base, c, base, n_runs=10, betas=P.betas_of_size(50))
    exact = float(torch.nn.functional.softplus(base.double()).sum() + 30 * math.log(2))
    assert res.log_z_base == pytest.approx(exact, abs=1e-4)
    assert res.log_z == pytest.approx(exact, abs=1e-4)
    assert res.ess == pytest.approx(10)
    assert res.log_z_lower_markov == pytest.approx(res.log_z - math.log(100))


def test_schedules():
    d = P.default_betas()
    assert d.numel() == 14_501 and d[0] == 0 and d[-1] == 1 and torch.all(d[1:] > d[:-1])
    s = P.betas_of_size(1000)
    assert abs(s.numel() - 1000) <= 2 and s[0] == 0 and s[-1] == 1 and torch.all(s[1:] > s[:-1])


def test_exact_refuses_large_layers():
    with pytest.raises(ValueError, match="at most"):
        P.exact_log_z(torch.zeros(30, 40), torch.zeros(40), torch.zeros(30))
