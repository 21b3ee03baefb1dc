"""A deep Boltzmann machine's settings (Salakhutdinov & Hinton 2009)."""

from __future__ import annotations

from dataclasses import dataclass

from revival import tables as T
from revival.config.base import (
    COUNT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY_BELOW_1,
    Range,
    _Config,
    _positive_ints,
    setting,
)
from revival.errors import ConfigError

# the authors' released code, as the sources below cite it: Salakhutdinov's MATLAB DBM code, copied in the
# GitHub repository goodfeli/galatea, folder dbm/code_DBM (first commit 682ddd58; file and line)
CODE = "authors' code (goodfeli/galatea dbm/code_DBM, "


@dataclass(frozen=True)
class DBMConfig(_Config):
    """A deep Boltzmann machine (Salakhutdinov & Hinton 2009) with the hidden layers ``layers`` (two or
    more), trained as the authors' released MATLAB code trains one (every default below cites its file
    and line): greedy pretraining of one modified RBM per layer (the bottom one with doubled input, the
    top one with doubled hidden units, any between doubled both ways; bias doubled with its weights;
    ``pretrain_epochs`` of CD-1 for all but the top one, ``pretrain_top_epochs`` for the top one by CD-k
    with k = ceil(epoch / ``pretrain_cd_ramp``) at the rate divided by k, on sampled states of the
    layer below), composed into a DBM (a middle layer's bias the sum of its two RBMs'), then
    ``epochs`` of PCD with a mean-field positive phase (``mf_steps``) and ``chains`` persistent chains
    (started as ``chain_start``) moved ``gibbs_steps`` sweeps per update, the model's statistics from
    the chains' probabilities, the rate divided by ``lr_anneal`` after every update down to
    ``lr_floor``, each minibatch a fresh binary sample (``binarize`` resample). The lengths (100 and
    200 pretraining epochs, 300 joint) take hours on a laptop CPU: shorten them for a first look
    (docs/dbm.md says what collapses and what does not)."""

    layers: tuple = setting(
        (500, 1000),
        help="Hidden units of each layer, bottom first, two or more layers (Salakhutdinov & Hinton 2009: 500,1000).",
        source=CODE + "demo.m l.16, l.23)",
    )
    pretrain_epochs: int = setting(
        100,
        COUNT,
        "Epochs of each pretraining RBM below the top one (the bottom one has doubled input).",
        CODE + "demo.m l.16: maxepoch=100)",
    )
    pretrain_top_epochs: int | None = setting(
        None,
        COUNT,
        "Epochs of the top pretraining RBM (default: twice --pretrain-epochs, as the authors' 100 and 200).",
        CODE + "demo.m l.24: maxepoch=200)",
    )
    pretrain_lr: float = setting(
        0.05, POSITIVE, "Learning rate of the pretraining RBMs.", CODE + "rbm.m l.28-30; rbm_l2.m l.27-29)"
    )
    pretrain_cd_ramp: int = setting(
        20,
        COUNT,
        "The top pretraining RBM runs CD-k with k = ceil(epoch / this), its rate divided by k (0: CD-1 throughout).",
        CODE + "rbm_l2.m l.75-79: CD = ceil(epoch/20), epsilon = 0.05/CD)",
    )
    pretrain_weight_decay: float = setting(
        1e-3, Range(0), "L2 cost on the pretraining RBMs' weights.", CODE + "rbm.m l.33; rbm_l2.m l.31)"
    )
    pretrain_init_std: tuple = setting(
        (0.001, 0.01),
        POSITIVE,
        "Standard deviation of the pretraining RBMs' initial weights: the bottom one, then the others.",
        CODE + "rbm.m l.41: 0.001*randn; rbm_l2.m l.49: 0.01*randn)",
        many=True,
    )
    epochs: int = setting(  # 0: the composed pretrained DBM, no joint training
        300,
        COUNT,
        "Epochs of joint PCD training of the composed DBM (0: keep the pretrained DBM).",
        CODE + "demo.m l.35: maxepoch=300; 500 for the paper's figures, the comment there says)",
    )
    lr: float = setting(
        0.001, POSITIVE, "Learning rate of the joint training at its start.", CODE + "dbm_mf.m l.17-19)"
    )
    lr_anneal: float = setting(
        1.000015,
        Range(1),
        "The joint rate is divided by this after every update (1: constant).",
        CODE + "dbm_mf.m l.110-112: epsilonw = max(epsilonw/1.000015, 0.00010))",
    )
    lr_floor: float = setting(1e-4, Range(0), "The joint rate's floor under --lr-anneal.", CODE + "dbm_mf.m l.110-112)")
    lr_decay: float = setting(
        1.0, Range(0, 1, lo_open=True), "Joint learning rate multiplied by this every epoch (revival's option)."
    )
    weight_decay: float = setting(
        2e-4, Range(0), "L2 cost on the weights in the joint training.", CODE + "dbm_mf.m l.20)"
    )
    initial_momentum: float = setting(
        0.5,
        PROBABILITY_BELOW_1,
        "Momentum for the first --momentum-epochs epochs of each phase.",
        CODE + "rbm.m l.34, l.90-94; dbm_mf.m l.21, l.194-198)",
    )
    final_momentum: float = setting(
        0.9, PROBABILITY_BELOW_1, "Momentum after that.", CODE + "rbm.m l.35; dbm_mf.m l.22)"
    )
    momentum_epochs: int = setting(
        5, COUNT, "Epochs at the initial momentum.", CODE + "rbm.m l.90: if epoch>5; dbm_mf.m l.194)"
    )
    batch_size: int = setting(100, POSITIVE_INT, "Examples per update.", CODE + "makebatches.m l.37)")
    chains: int = setting(
        100,
        POSITIVE_INT,
        "Persistent Markov chains (fantasy particles) of PCD.",
        CODE + "dbm_mf.m l.85: as many as a minibatch, 100)",
    )
    chain_start: str = setting(
        "uniform",
        T.DBM_CHAIN_STARTS,
        "Where the persistent chains start: uniform random binary images passed up with doubled weights, "
        "training images passed up, or each layer's biases.",
        CODE + "dbm_mf.m l.85-86: data = round(rand(100,numdims)), passed up with 2*vishid)",
    )
    mf_steps: int = setting(
        10,
        POSITIVE_INT,
        "Mean-field rounds for the data-dependent statistics and the bound.",
        CODE + "mf.m l.34: 10 (30 also used, its comment says))",
    )
    gibbs_steps: int = setting(
        5, POSITIVE_INT, "Gibbs sweeps of the persistent chains per update.", CODE + "dbm_mf.m l.153: for iter=1:5)"
    )
    chain_probabilities: bool = setting(
        True,
        help="The model's statistics from the chains' probabilities (P(h1 | v, h2), then h2's given those) "
        "rather than their sampled states.",
        source=CODE + "dbm_mf.m l.176-187)",
    )
    sparsity_targets: tuple | None = setting(
        None,
        Range(0, 1, lo_open=True, hi_open=True),
        "Target mean activity of each hidden layer for a sparsity penalty (e.g. 0.2,0.1; default: none).",
        CODE + "dbm_mf.m l.60-61: 0.2 and 0.1, on in the released code; off here unless given)",
        many=True,
    )
    sparsity_cost: float = setting(1e-3, Range(0), "Strength of the sparsity penalty.", CODE + "dbm_mf.m l.62)")
    sparsity_damping: float = setting(
        0.9, PROBABILITY_BELOW_1, "Damping of the running activity means.", CODE + "dbm_mf.m l.63)"
    )
    labels: bool = setting(
        False,
        help="Label units on the top layer (a softmax over the classes): clamped to each image's label in the "
        "positive phase, sampled in the chains, trained with the top RBM too. A supervised model; off: "
        "unsupervised.",
        source=CODE + "rbm_l2.m l.62, l.106-134; dbm_mf.m l.36, l.128-187: 10 label units on h2, on in the released "
        "code; off here unless asked)",
    )
    binarize: str = setting(
        "resample",
        T.DBM_BINARIZE,
        "The images: a fresh Bernoulli sample of every minibatch (resample), one fixed seeded sample per "
        "image (stochastic), pixel >= 128, or none.",
        CODE + "rbm.m l.66; dbm_mf.m l.118: data = data > rand)",
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("DBMConfig", "layers", self.layers))
        if len(self.layers) < 2:
            raise ConfigError("DBMConfig.layers", f"a DBM has at least two hidden layers, got {len(self.layers)}")
        self._check()
        if len(self.pretrain_init_std) != 2:
            raise ConfigError(
                "DBMConfig.pretrain_init_std", f"two values (the bottom RBM, the others), got {self.pretrain_init_std}"
            )
        if self.sparsity_targets is not None and len(self.sparsity_targets) != len(self.layers):
            raise ConfigError(
                "DBMConfig.sparsity_targets",
                f"one target per hidden layer ({len(self.layers)}), got {len(self.sparsity_targets)}",
            )

    def top_epochs(self) -> int:
        """Epochs of the top pretraining RBM: ``pretrain_top_epochs``, or twice ``pretrain_epochs``."""
        return 2 * self.pretrain_epochs if self.pretrain_top_epochs is None else self.pretrain_top_epochs
