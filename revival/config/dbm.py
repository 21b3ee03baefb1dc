"""A deep Boltzmann machine's settings (Salakhutdinov & Hinton 2009)."""

from __future__ import annotations

from dataclasses import dataclass

from revival.config.base import (
    COUNT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY_BELOW_1,
    Range,
    _Config,
    _copy,
    _positive_ints,
    setting,
)
from revival.config.rbm import RBMConfig
from revival.errors import ConfigError


@dataclass(frozen=True)
class DBMConfig(_Config):
    """A deep Boltzmann machine (Salakhutdinov & Hinton 2009) with the hidden layers ``layers`` (two or
    more): greedy pretraining of one modified RBM per layer (the bottom one with doubled input, the top
    one with doubled hidden units, any between with weights doubled both ways; ``pretrain_epochs`` of
    CD-1 each at ``pretrain_lr``), composed into a DBM, then ``epochs`` of PCD
    with a mean-field positive phase (``mf_steps``) and ``chains`` persistent chains moved
    ``gibbs_steps`` sweeps per update. The sizes 500-1000, the 100 chains and their 5 Gibbs sweeps per
    update are the paper's (as recalled: U); the learning rates and schedules are revival's choices,
    not checked against the authors' code. With one sweep per update the chains do not keep up with a
    784-500-1000 model on MNIST: within a few epochs mean-field stops depending on the image (the top
    layer's posterior is the same for every digit), which five sweeps avoided (docs/dbm.md). At lr 0.001
    a 784-500-500-1000 DBM collapsed the same way as soon as the momentum rose to 0.9, and the paper's
    784-500-1000 drifted towards it; at 0.0003 no layer collapsed in any run, hence the default."""

    layers: tuple = setting(
        (500, 1000),
        help="Hidden units of each layer, bottom first, two or more layers (Salakhutdinov & Hinton 2009: 500,1000).",
    )
    pretrain_epochs: int = setting(
        10,
        COUNT,
        "Epochs of CD-1 for each pretraining RBM (one per hidden layer, the bottom one with doubled input).",
    )
    pretrain_lr: float = setting(0.05, POSITIVE, "Learning rate of the pretraining RBMs.")
    epochs: int = setting(  # 0: the composed pretrained DBM, no joint training
        10, COUNT, "Epochs of joint PCD training of the composed DBM (0: keep the pretrained DBM)."
    )
    lr: float = setting(0.0003, POSITIVE, "Learning rate of the joint training.")
    lr_decay: float = setting(1.0, Range(0, 1, lo_open=True), "Joint learning rate multiplied by this every epoch.")
    weight_decay: float = setting(2e-4, Range(0), "L2 cost on the weights (pretraining and joint).")
    initial_momentum: float = setting(
        0.5, PROBABILITY_BELOW_1, "Momentum for the first --momentum-epochs epochs of each phase."
    )
    final_momentum: float = setting(0.9, PROBABILITY_BELOW_1, "Momentum after that.")
    momentum_epochs: int = setting(5, COUNT, "Epochs at the initial momentum.")
    batch_size: int = setting(100, POSITIVE_INT, "Examples per update.")
    chains: int = setting(100, POSITIVE_INT, "Persistent Markov chains (fantasy particles) of PCD.")
    mf_steps: int = setting(10, POSITIVE_INT, "Mean-field rounds for the data-dependent statistics and the bound.")
    gibbs_steps: int = setting(5, POSITIVE_INT, "Gibbs sweeps of the persistent chains per update.")
    binarize: str = _copy(
        RBMConfig,
        "binarize",
        help="The images: one fixed seeded Bernoulli sample per image (stochastic), pixel >= 128, or none.",
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("DBMConfig", "layers", self.layers))
        if len(self.layers) < 2:
            raise ConfigError("DBMConfig.layers", f"a DBM has at least two hidden layers, got {len(self.layers)}")
        self._check()
