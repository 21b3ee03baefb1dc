"""RBM and DBN settings (Hinton 2002, 2010; Hinton, Osindero & Teh 2006; Tieleman 2008) and what their
commands monitor."""

from __future__ import annotations

from dataclasses import dataclass, fields

from revival import tables as T
from revival.config.base import (
    COUNT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY_BELOW_1,
    Range,
    _Config,
    _copy,
    _positive_ints,
    option_name,
    setting,
)
from revival.errors import ConfigError

GUIDE = "Hinton 2010, A Practical Guide to Training RBMs"
PRECISION_HELP = (
    "Matrix products in float32, or in bfloat16 with float32 weights, velocities and statistics; bf16 "
    "is used only where a start-up probe measures it >= 1.5x faster (else fp32, with a warning)."
)


@dataclass(frozen=True)
class RBMConfig(_Config):
    """One RBM trained by CD-k or PCD (Hinton 2002, 2010; Tieleman 2008). Defaults: the Practical
    Guide's, as ``revival pretrain-rbm``. ``lr`` None: 0.1 for Bernoulli, 0.01 for Gaussian visibles;
    ``momentum`` None: ``initial_momentum`` for ``momentum_epochs`` epochs, then ``final_momentum``.
    ``binarize`` says what :func:`revival.fit_rbm` does to the data first: one fixed seeded Bernoulli
    sample per value (``stochastic``), ``x >= 0.5`` (``threshold``), or nothing (``none``).
    ``pcd_chain``: what PCD's persistent chain holds, visible states (revival's) or hidden states
    started at 0, as scikit-learn's BernoulliRBM keeps them (:class:`revival.sklearn.RBMTransformer`).
    ``device``: auto, cpu, cuda or cuda:N. The learning rate of epoch e is ``lr * lr_decay ** e``."""

    n_hidden: int = setting(500, POSITIVE_INT, "Number of hidden units.", "revival's choice", option="hidden")
    visible_type: str = setting(
        "bernoulli",
        ("bernoulli", "gaussian"),
        "Binary visibles, or unit-variance Gaussian visibles on standardised pixels (first layer).",
    )
    epochs: int = setting(10, POSITIVE_INT, "Passes over the training data.")
    batch_size: int = setting(100, POSITIVE_INT, "Examples per update.", GUIDE)
    lr: float | None = setting(
        None, POSITIVE, "Learning rate [default: 0.1 for Bernoulli, 0.01 for Gaussian visibles].", GUIDE
    )
    lr_decay: float = setting(1.0, Range(0, 1, lo_open=True), "Learning rate multiplied by this every epoch.")
    momentum: float | None = setting(
        None, PROBABILITY_BELOW_1, "Fixed momentum [default: 0.5 for 5 epochs, then 0.9].", GUIDE
    )
    initial_momentum: float = setting(0.5, PROBABILITY_BELOW_1, source=GUIDE)
    final_momentum: float = setting(0.9, PROBABILITY_BELOW_1, source=GUIDE)
    momentum_epochs: int = setting(5, COUNT, source=GUIDE)
    weight_decay: float = setting(2e-4, Range(0), "L2 cost on weights only.", GUIDE)
    cd_k: int = setting(1, POSITIVE_INT, "Gibbs steps per update (CD-k).", GUIDE)
    persistent: bool = setting(False, help="Persistent CD (Tieleman 2008).")
    sparsity_target: float | None = setting(
        None, Range(0, 1, lo_open=True, hi_open=True), "Target mean activation of hidden units (off unless given)."
    )
    sparsity_cost: float = setting(0.0, Range(0), "Weight of the sparsity penalty.")
    sparsity_decay: float = setting(0.95, Range(0, 1, hi_open=True), source=GUIDE)
    dropout: float = setting(
        0.0, PROBABILITY_BELOW_1, "Probability of dropping each hidden unit, per example and update (dropout RBM)."
    )
    init_std: float = setting(0.01, POSITIVE, "Initial weights N(0, s^2) (the Guide: 0.01; the 2006 code: 0.1).", GUIDE)
    visible_bias_init: str = setting(
        "log-odds",
        T.VISIBLE_BIAS_INITS,
        "Initial visible biases: log(p/(1-p)) of the data (the Guide) or zero (the 2006 code).",
        GUIDE,
    )
    precision: str = setting("fp32", T.PRECISIONS, PRECISION_HELP)
    pcd_chain: str = setting("visible", ("visible", "hidden"))
    binarize: str = setting(
        "stochastic",
        T.BINARIZE,
        "Binary data: one fixed seeded Bernoulli sample per image, pixel >= 128, or grey levels.",
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        self._check()
        if self.sparsity_cost > 0 and self.sparsity_target is None:
            raise ConfigError("RBMConfig.sparsity_cost", "needs sparsity_target as well")

    @property
    def learning_rate(self) -> float:
        """``lr``, or where it is None the Guide's rate for the visible type."""
        return T.LR_BY_VISIBLE[self.visible_type] if self.lr is None else self.lr

    def lr_at(self, epoch: int) -> float:
        return self.learning_rate * self.lr_decay**epoch

    def momentum_at(self, epoch: int) -> float:
        if self.momentum is not None:
            return self.momentum
        return self.initial_momentum if epoch < self.momentum_epochs else self.final_momentum

    def momentum_schedule(self) -> str | None:
        """The schedule in words (None with a fixed ``momentum``), as config.json records it."""
        if self.momentum is not None:
            return None
        return f"{self.initial_momentum:g} for {self.momentum_epochs} epochs, then {self.final_momentum:g}"

    def train_options(self) -> dict:
        """The settings as the commands name them (``hidden``; ``lr`` resolved)."""
        d = {option_name(f): getattr(self, f.name) for f in fields(self)}
        d["lr"] = self.learning_rate
        return d

    def checkpoint_config(self) -> dict:
        """The training settings as a checkpoint's ``config`` records them: :meth:`train_options`
        without the data's ``binarize``, the seed and the device."""
        return {k: v for k, v in self.train_options().items() if k not in _NOT_TRAINING}


_NOT_TRAINING = ("binarize", "seed", "device")


@dataclass(frozen=True)
class RBMMonitorConfig(_Config):
    """What ``revival pretrain-rbm`` watches while it trains and measures at the end: free energies and
    pseudo-likelihood on fixed subsets, the test log-probability by AIS (Salakhutdinov & Murray 2008),
    and with ``raise_examples`` RAISE beside it (Burda et al. 2015)."""

    monitor_size: int = setting(
        2000, Range(10, kind=int), "Examples in the fixed train/valid subsets used for free energies and PLL."
    )
    ais_every: int = setting(
        0, COUNT, "Estimate the test log-probability by AIS (1,000 betas) every N epochs; 0 = never."
    )
    ais_runs: int = setting(
        T.AIS_RUNS,
        Range(0, T.MAX_AIS_RUNS, kind=int),
        "AIS runs for log Z; 0 switches AIS (and the final evaluation) off.",
    )
    ais_betas: int = setting(
        T.AIS_BETAS,
        Range(2, T.MAX_AIS_BETAS, kind=int),
        "Intermediate distributions of the final AIS evaluation (Salakhutdinov & Murray 2008).",
        "Salakhutdinov & Murray 2008",
    )
    raise_examples: int = setting(
        0,
        COUNT,
        "With N > 0 the final evaluation is a sandwich: RAISE's conservative estimate on N test examples "
        "beside AIS (see evaluate-rbm --method sandwich).",
    )
    base_rate: str = setting(
        "clip", T.BASE_RATES, "Base-rate model of AIS/RAISE: clipped pixel means, or Salakhutdinov's pseudo-counts."
    )

    def __post_init__(self):
        self._check()


def _layered(name: str):
    return _copy(RBMConfig, name, per_layer=True)


@dataclass(frozen=True)
class DBNConfig(_Config):
    """A deep belief net trained greedily, one RBM a layer (Hinton, Osindero & Teh 2006), as
    ``revival pretrain-dbn``: layer 1 on the data (grey levels unless ``binarize``), layer k+1 on
    layer k's hidden probabilities (``feed="probs"``, the 2006 code) or one fixed sample of them.
    The training settings are :class:`RBMConfig`'s; each of them takes one value for every layer or
    a tuple with one value per layer."""

    layers: tuple = setting(
        (500, 500, 2000), help="Hidden units of each layer, bottom first (Hinton & Salakhutdinov 2006: 500,500,2000)."
    )
    epochs: int | tuple = _layered("epochs")
    batch_size: int | tuple = _layered("batch_size")
    lr: float | tuple | None = _layered("lr")
    lr_decay: float | tuple = _layered("lr_decay")
    momentum: float | tuple | None = _layered("momentum")
    initial_momentum: float | tuple = _layered("initial_momentum")
    final_momentum: float | tuple = _layered("final_momentum")
    momentum_epochs: int | tuple = _layered("momentum_epochs")
    weight_decay: float | tuple = _layered("weight_decay")
    cd_k: int | tuple = _layered("cd_k")
    persistent: bool | tuple = _layered("persistent")
    sparsity_target: float | tuple | None = _layered("sparsity_target")
    sparsity_cost: float | tuple = _layered("sparsity_cost")
    sparsity_decay: float | tuple = _layered("sparsity_decay")
    dropout: float | tuple = _layered("dropout")
    init_std: float = _copy(RBMConfig, "init_std")
    visible_bias_init: str = _copy(RBMConfig, "visible_bias_init")
    visible_type: str = _copy(RBMConfig, "visible_type")
    binarize: str = _copy(
        RBMConfig,
        "binarize",
        "none",
        help="First layer's data: grey levels in [0, 1] (none, as the 2006 code), one fixed seeded Bernoulli "
        "sample per image, or pixel >= 128.",
    )
    feed: str = setting(
        "probs",
        T.FEEDS,
        "Layer k+1 trains on layer k's hidden probabilities (as the 2006 code) or one fixed sample of them.",
    )
    precision: str = _copy(RBMConfig, "precision")
    seed: int = 0
    device: str = "auto"

    @staticmethod
    def _option_value(name: str, value):
        """pretrain-dbn's per-layer options: a one-value list means that value for every layer."""
        return value[0] if name != "layers" and isinstance(value, list) and len(value) == 1 else value

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("DBNConfig", "layers", self.layers))
        if not self.layers:
            raise ConfigError("DBNConfig.layers", "needs at least one layer")
        for name in per_layer_names(DBNConfig):
            v = getattr(self, name)
            if isinstance(v, list):
                object.__setattr__(self, name, tuple(v))
                v = tuple(v)
            if isinstance(v, tuple) and len(v) != len(self.layers):
                raise ConfigError(
                    f"DBNConfig.{name}",
                    f"{len(v)} values for {len(self.layers)} layers; give one value, or one per layer",
                )
        self._check()
        self.layer_configs()  # builds, and so checks, each layer's RBMConfig (a sparsity cost needs a target, ...)

    def layer_configs(self) -> list[RBMConfig]:
        """One :class:`RBMConfig` per layer (per-layer values picked out; the data options apply to
        layer 1, whose visible type and binarization they describe; layers above are Bernoulli)."""
        out = []
        for k, n in enumerate(self.layers):
            own = {
                name: (v[k] if isinstance(v, tuple) else v)
                for name in per_layer_names(DBNConfig)
                for v in [getattr(self, name)]
            }
            out.append(
                RBMConfig(
                    n_hidden=n,
                    init_std=self.init_std,
                    visible_bias_init=self.visible_bias_init,
                    visible_type=self.visible_type if k == 0 else "bernoulli",
                    binarize=self.binarize if k == 0 else "none",
                    precision=self.precision,
                    seed=self.seed,
                    device=self.device,
                    **own,
                )
            )
        return out


def per_layer_names(cls) -> tuple:
    """The fields of ``cls`` that take one value per layer."""
    return tuple(f.name for f in fields(cls) if f.metadata.get("per_layer"))


@dataclass(frozen=True)
class DBNMonitorConfig(_Config):
    """What ``revival pretrain-dbn`` watches: each layer's monitors on fixed subsets, and the stack's
    fantasies after each layer."""

    monitor_size: int = _copy(RBMMonitorConfig, "monitor_size")
    sample_steps: int = setting(200, COUNT, "Gibbs sweeps in the top RBM behind each dbn/samples grid.")

    def __post_init__(self):
        self._check()


def per_layer(opts: dict, n_layers: int) -> list[dict]:
    """pretrain-dbn's options for each layer: an option given as a list has one value per layer, a
    single value applies to every layer. ValueError naming the option when a list has the wrong length."""
    out = [dict(opts) for _ in range(n_layers)]
    for k in per_layer_names(DBNConfig):
        v = opts.get(k)
        if isinstance(v, list):
            if len(v) == 1:
                v = v * n_layers
            if len(v) != n_layers:
                raise ValueError(
                    f"--{k.replace('_', '-')}: {len(v)} values for {n_layers} layers (give one value, or one per layer)"
                )
            for o, x in zip(out, v):
                o[k] = x
    for i, o in enumerate(out):
        o["hidden"] = opts["layers"][i]
        if o.get("lr") is None:
            o["lr"] = T.LR_BY_VISIBLE[o["visible_type"] if i == 0 else "bernoulli"]
        if i > 0:
            o["visible_type"] = "bernoulli"  # upper layers model the (binary) hidden units below
    return out
