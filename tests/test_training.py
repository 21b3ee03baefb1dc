"""The RBM trainer on tiny problems where the exact likelihood is known."""

import torch

from revival.config import RBMConfig
from revival.data import Visible
from revival.models import partition as P
from revival.models import rbm as R
from revival.training.train import RBMTrainer


def tiny_data():
    patterns = torch.tensor(
        [[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 1, 0, 0]],
        dtype=torch.uint8,
    )
    return Visible(patterns.repeat(25, 1))


def exact_avg_log_prob(model, data):
    W, b, c = model.params()
    return P.avg_log_prob([data.all()], W, b, c, float(P.exact_log_z(W, b, c)))


def train(persistent, epochs=150, k=1):
    data = tiny_data()
    g = torch.Generator().manual_seed(0)
    model = R.RBM(8, 6).init_(g, data.all().mean(0), std=0.1)
    # no momentum: with 10-example batches on four patterns, momentum 0.9 makes PCD's chains lag
    # the fast-moving model and the likelihood oscillates (Tieleman 2008 uses small steps too)
    cfg = RBMConfig(
        n_hidden=6, epochs=epochs, batch_size=10, lr=0.05, momentum=0.0, weight_decay=0.0, cd_k=k, persistent=persistent
    )
    tr = RBMTrainer(model, cfg, g)
    before = exact_avg_log_prob(model, data)
    for e in range(epochs):
        tr.train_epoch(data, e)
    return before, exact_avg_log_prob(model, data)


def test_pcd_improves_the_exact_log_likelihood():
    before, after = train(persistent=True)
    # the best any model can do on four equally frequent patterns is log(1/4) = -1.39 nats
    assert before < -4.5 and after > -2.6, (before, after)


def test_cd1_learns_too():
    before, after = train(persistent=False)
    assert after > before + 2.0, (before, after)


def test_weight_decay_adds_exactly_minus_lr_lambda_w_to_the_step():
    """Against a decay-0 run with the same generator: the CD statistics alone shrink W too (the
    negative phase of an all-zero data set), so only the difference isolates the decay term. The
    first step starts from zero velocity, so with momentum m the difference is -lr lambda W_0 and
    the velocity carries it: after the step v_decay - v_0 = -lr lambda W_0 as well."""
    data = Visible(torch.zeros(20, 5, dtype=torch.uint8))

    def step(weight_decay):
        g = torch.Generator().manual_seed(0)
        model = R.RBM(5, 3)
        model.weight.data.fill_(1.0)
        cfg = RBMConfig(n_hidden=3, epochs=1, batch_size=20, lr=0.1, momentum=0.9)
        object.__setattr__(cfg, "weight_decay", weight_decay)  # the arithmetic, with a sign the config refuses
        tr = RBMTrainer(model, cfg, g)
        tr.train_epoch(data, 0)
        return model.weight.detach().clone(), tr.vel[0].clone()

    (w0, v0), (w1, v1), (wn, _) = step(0.0), step(0.5), step(-0.5)
    W_start = torch.ones(3, 5)
    assert torch.allclose(w1 - w0, -0.1 * 0.5 * W_start) and torch.allclose(v1 - v0, -0.1 * 0.5 * W_start)
    assert torch.allclose(wn - w0, 0.1 * 0.5 * W_start)
    assert torch.all(w0 < W_start)  # why "the weights shrank" alone proved nothing


def test_schedules_of_the_rbm_config():
    cfg = RBMConfig(lr=0.1, lr_decay=0.5)
    assert [cfg.lr_at(e) for e in range(3)] == [0.1, 0.05, 0.025]
    assert [cfg.momentum_at(e) for e in (0, 4, 5, 9)] == [0.5, 0.5, 0.9, 0.9]
    assert RBMConfig(momentum=0.7).momentum_at(8) == 0.7
