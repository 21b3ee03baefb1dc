"""The classifier trainer's hand-written backpropagation and SGD step against the brute-force reference:
autograd through ``MLP.forward`` and ``torch.optim.SGD`` (what the trainer ran before), bit for bit."""

import pytest
import torch

from revival.config import NetConfig
from revival.data import Visible, batches
from revival.models.mlp import loss_fn, max_norm_, seeded_mlp
from revival.training.train import ClassifierTrainer

SIZES = [20, 16, 12, 5]


def autograd_epoch(model, cfg, opt, gen, noise, x, y, epoch):
    """One epoch as autograd and torch.optim.SGD run it: the reference."""
    m = cfg.momentum_at(epoch)
    for g in opt.param_groups:
        g["lr"], g["momentum"], g["dampening"] = cfg.lr_at(epoch), m, (m if cfg.dampen else 0.0)
    frozen = [p for lin in model.layers[:-1] for p in lin.parameters()] if epoch < cfg.freeze_pretrained_epochs else []
    loss_sum = torch.zeros(())
    for idx in batches(len(x), cfg.batch_size, gen, "cpu"):
        with torch.autocast("cpu", torch.bfloat16, enabled=cfg.precision == "bf16"):
            logits = model(x.batch(idx), noise, stochastic=True)
        loss = loss_fn(logits.float(), y[idx], cfg.loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for p in frozen:
            p.grad = None
        opt.step()
        if cfg.max_norm is not None:
            for w in model.weights()[:-1]:
                if w.grad is not None:
                    max_norm_(w, cfg.max_norm)
        loss_sum += loss.detach() * len(idx)
    return loss_sum / len(x)


@pytest.mark.parametrize(
    "activation,dropout,kind,scaling,loss,precision,decay,cap,dampen,freeze",
    [
        ("logistic", True, "bernoulli", "inverted", "cross-entropy", "fp32", 1e-3, 2.0, False, 0),
        ("relu", True, "gaussian", "inverted", "mse", "fp32", 0.0, None, True, 0),
        ("tanh", True, "bernoulli", "paper", "cross-entropy", "bf16", 0.0, 2.0, False, 2),
        ("linear", False, "bernoulli", "inverted", "cross-entropy", "fp32", 1e-3, None, True, 2),
        ("logistic", False, "bernoulli", "inverted", "mse", "bf16", 1e-3, None, False, 0),
    ],
)
def test_the_trainer_equals_autograd_and_sgd_bit_for_bit(
    activation, dropout, kind, scaling, loss, precision, decay, cap, dampen, freeze
):
    torch.manual_seed(0)
    x = Visible((torch.rand(150, SIZES[0]) * 255).to(torch.uint8), scale=1 / 255)
    y = torch.randint(0, SIZES[-1], (150,))
    cfg = NetConfig(
        layers=tuple(SIZES[1:-1]),
        activation=activation,
        loss=loss,
        batch_size=32,
        lr=0.05,
        weight_decay=decay,
        max_norm=cap,
        dampen=dampen,
        freeze_pretrained_epochs=freeze,
        precision=precision,
        momentum_epochs=2,
    )
    nets = [seeded_mlp(SIZES, activation, 3) for _ in range(2)]
    for net in nets:
        net.dropout_type, net.dropout_scaling = kind, scaling
        if dropout:
            net.input_dropout, net.hidden_dropout = 0.2, 0.5
    mine = ClassifierTrainer(nets[0], cfg, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    ref = nets[1]
    opt = torch.optim.SGD(  # weight decay on the weights alone
        [{"params": ref.weights(), "weight_decay": decay}, {"params": ref.biases()}], lr=cfg.lr, momentum=0.5
    )
    gen, noise = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    for epoch in range(4):
        assert torch.equal(
            mine.train_epoch(x, y, epoch)["loss"], autograd_epoch(ref, cfg, opt, gen, noise, x, y, epoch)
        )
    for (name, a), b in zip(nets[0].state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), name
    # the saved state is SGD's: the reference optimizer takes it, and it holds the same buffers
    opt.load_state_dict(mine.state_dict()["opt"])
    for i, p in enumerate(ref.weights() + ref.biases()):
        assert torch.equal(opt.state[p]["momentum_buffer"], mine.vel[i])


def test_a_trainer_resumes_from_an_sgd_state():
    """A state.pt written while the trainer was torch.optim.SGD (before the hand-written step) resumes."""
    net = seeded_mlp(SIZES, "logistic", 0)
    cfg = NetConfig(layers=tuple(SIZES[1:-1]), activation="logistic", batch_size=32)
    opt = torch.optim.SGD([{"params": net.weights()}, {"params": net.biases()}], lr=0.1, momentum=0.5)
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    tr = ClassifierTrainer(net, cfg, torch.Generator(), torch.Generator())
    tr.load_state_dict({"opt": opt.state_dict(), "generator": tr.gen.get_state(), "noise": tr.noise.get_state()})
    assert all(torch.equal(v, torch.ones_like(v)) for v in tr.vel)


def test_the_training_forward_pass_draws_what_forward_draws():
    net = seeded_mlp(SIZES, "relu", 0)
    net.input_dropout, net.hidden_dropout = 0.2, 0.5
    x = torch.rand(7, SIZES[0])
    logits, _ = net.forward_tape(x, torch.Generator().manual_seed(5))
    assert torch.equal(logits, net(x, torch.Generator().manual_seed(5), stochastic=True))
