"""Typed configurations of the library API: frozen dataclasses that check themselves.

``RBMConfig``, ``DBNConfig`` and ``NetConfig`` take their defaults from the one table of each in
:mod:`revival.tables` (the values the CLI shows in ``-h``), check every value in
``__post_init__`` against the ranges declared here once (:data:`RBM_CHECKS`, :data:`NET_CHECKS`,
which the CLI's options are built from too), and round-trip through :meth:`to_dict` /
:meth:`from_dict`, where an unknown key is an error rather than silently dropped. A bad value
raises :class:`~revival.errors.ConfigError` naming the field and what it accepts. No torch here.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields

from revival import tables as T
from revival.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """A number's allowed interval (``lo_open``/``hi_open``: the end itself excluded); ``kind`` int or
    float. Floats must also be finite."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    kind: type = float

    def text(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}{')' if self.hi_open or self.hi is None else ']'}"

    def problem(self, x) -> str | None:
        """Why ``x`` is not allowed, or None."""
        if isinstance(x, bool) or not isinstance(x, numbers.Integral if self.kind is int else numbers.Real):
            return f"expected {'a whole number' if self.kind is int else 'a number'}, got {x!r}"
        if not math.isfinite(x):
            return f"{x!r} is not a finite number"
        if (self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo)) or (
            self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi)
        ):
            return f"{x!r} is outside {self.text()}"
        return None


POSITIVE_INT, COUNT = Range(1, kind=int), Range(0, kind=int)
PROBABILITY_BELOW_1 = Range(0, 1, hi_open=True)  # dropout rates and momenta: 1 would stop learning

# The RBM training settings: allowed values, shared by RBMConfig, DBNConfig and the CLI's options
RBM_CHECKS = {
    "hidden": POSITIVE_INT,
    "epochs": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "lr": Range(0, lo_open=True),
    "lr_decay": Range(0, 1, lo_open=True),
    "momentum": PROBABILITY_BELOW_1,
    "initial_momentum": PROBABILITY_BELOW_1,
    "final_momentum": PROBABILITY_BELOW_1,
    "momentum_epochs": COUNT,
    "weight_decay": Range(0),
    "cd_k": POSITIVE_INT,
    "sparsity_target": Range(0, 1, lo_open=True, hi_open=True),
    "sparsity_cost": Range(0),
    "sparsity_decay": Range(0, 1, hi_open=True),
    "dropout": PROBABILITY_BELOW_1,
    "monitor_size": Range(10, kind=int),
    "init_std": Range(0, lo_open=True),
    "visible_type": ("bernoulli", "gaussian"),
    "binarize": ("stochastic", "threshold", "none"),
    "visible_bias_init": T.VISIBLE_BIAS_INITS,
    "precision": T.PRECISIONS,
    "feed": T.FEEDS,
}

# The classifier's settings (compare-dropout's options of the same names)
NET_CHECKS = {
    "epochs": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "lr": Range(0, lo_open=True),
    "lr_decay": Range(0, 1, lo_open=True),
    "initial_momentum": PROBABILITY_BELOW_1,
    "final_momentum": PROBABILITY_BELOW_1,
    "momentum_epochs": COUNT,
    "weight_decay": Range(0),
    "max_norm": Range(0, lo_open=True),
    "input_dropout": PROBABILITY_BELOW_1,
    "hidden_dropout": PROBABILITY_BELOW_1,
    "freeze_pretrained_epochs": COUNT,
    "eval_every": POSITIVE_INT,
    "eval_train_size": POSITIVE_INT,
    "patience": POSITIVE_INT,
    "activation": T.ACTIVATIONS,
    "loss": T.LOSSES,
    "init_scheme": T.INIT_SCHEMES,
    "dropout_scaling": T.DROPOUT_SCALINGS,
    "dropout_type": ("bernoulli", "gaussian"),
    "max_norm_layers": T.MAX_NORM_LAYERS,
    "precision": T.PRECISIONS,
}

SEED = Range(0, 2**63 - 1, kind=int)


def check_value(owner: str, name: str, value, rule) -> None:
    """ConfigError unless ``value`` satisfies ``rule`` (a :class:`Range` or a tuple of choices)."""
    if isinstance(rule, Range):
        why = rule.problem(value)
    else:
        why = None if value in rule else f"{value!r} is not one of {', '.join(map(str, rule))}"
    if why:
        raise ConfigError(f"{owner}.{name}", why)


class _Config:
    """What the three configs share: checking, ``to_dict`` / ``from_dict`` and ``replace``."""

    _checks: dict = {}
    _aliases: dict = {}  # field name -> the key of its check (n_hidden -> hidden)
    _per_layer: tuple = ()  # the fields that take a tuple of one value per layer (besides ``layers``)

    def _check(self):
        """Every value when the config is made: None only where the field's default is None ("unset"),
        a tuple only where the field takes one value per layer, each value its field's range or choices,
        the text fields text."""
        owner = type(self).__name__
        for f in fields(self):
            v = getattr(self, f.name)
            rule = self._checks.get(self._aliases.get(f.name, f.name))
            if f.name == "layers":
                continue  # checked by _positive_ints
            if isinstance(v, tuple) and f.name not in self._per_layer:
                raise ConfigError(f"{owner}.{f.name}", f"expected one value, got {v!r}")
            for x in v if isinstance(v, tuple) else (v,):
                if x is None:
                    if f.default is not None:
                        raise ConfigError(f"{owner}.{f.name}", f"expected a value (default {f.default!r}), got None")
                elif f.name == "seed":
                    check_value(owner, "seed", x, SEED)
                elif rule is not None:
                    check_value(owner, f.name, x, rule)
                elif isinstance(f.default, str) and not isinstance(x, str):
                    raise ConfigError(f"{owner}.{f.name}", f"expected text such as {f.default!r}, got {x!r}")

    def to_dict(self) -> dict:
        """Plain JSON-able values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict):
        """The config of ``d``; ConfigError naming any key that is not one of its fields."""
        names = [f.name for f in fields(cls)]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise ConfigError(f"{cls.__name__}.{unknown[0]}", f"unknown setting; the settings are {', '.join(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @classmethod
    def from_options(cls, opts: dict):
        """The config of a command's options of the same names (``_aliases`` mapped back, as ``hidden``
        -> ``n_hidden``); the command's own keys (data set, run folder, device, ...) are left out."""
        names = {f.name for f in fields(cls)} - {"device"}
        back = {option: name for name, option in cls._aliases.items()}
        picked = {back.get(k, k): v for k, v in opts.items()}
        return cls.from_dict({k: cls._option_value(k, v) for k, v in picked.items() if k in names})

    @staticmethod
    def _option_value(name: str, value):
        return value

    def replace(self, **changes):
        """A copy with ``changes`` (checked like a new config)."""
        return type(self).from_dict({**self.to_dict(), **changes})


def _positive_ints(owner: str, name: str, v) -> tuple:
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v,)
    try:
        v = tuple(v)
    except TypeError:
        raise ConfigError(f"{owner}.{name}", f"expected a sequence of layer sizes, got {v!r}") from None
    for x in v:
        check_value(owner, name, x, POSITIVE_INT)
    return v


_R = T.RBM_DEFAULTS


@dataclass(frozen=True)
class RBMConfig(_Config):
    """One RBM trained by CD-k or PCD (Hinton 2002, 2010; Tieleman 2008). Defaults: the Practical
    Guide's, as ``revival pretrain-rbm``. ``lr`` None: 0.1 for Bernoulli, 0.01 for Gaussian visibles;
    ``momentum`` None: ``initial_momentum`` for ``momentum_epochs`` epochs, then ``final_momentum``.
    ``binarize`` says what :func:`revival.fit_rbm` does to the data first: one fixed seeded Bernoulli
    sample per value (``stochastic``), ``x >= 0.5`` (``threshold``), or nothing (``none``).
    ``device``: auto, cpu, cuda or cuda:N."""

    n_hidden: int = _R["hidden"]
    epochs: int = _R["epochs"]
    batch_size: int = _R["batch_size"]
    lr: float | None = _R["lr"]
    lr_decay: float = _R["lr_decay"]
    momentum: float | None = _R["momentum"]
    initial_momentum: float = _R["initial_momentum"]
    final_momentum: float = _R["final_momentum"]
    momentum_epochs: int = _R["momentum_epochs"]
    weight_decay: float = _R["weight_decay"]
    cd_k: int = _R["cd_k"]
    persistent: bool = _R["persistent"]
    sparsity_target: float | None = _R["sparsity_target"]
    sparsity_cost: float = _R["sparsity_cost"]
    sparsity_decay: float = _R["sparsity_decay"]
    dropout: float = _R["dropout"]
    init_std: float = _R["init_std"]
    visible_bias_init: str = _R["visible_bias_init"]
    visible_type: str = _R["visible_type"]
    binarize: str = _R["binarize"]
    precision: str = _R["precision"]
    seed: int = 0
    device: str = "auto"

    _checks = RBM_CHECKS
    _aliases = {"n_hidden": "hidden"}

    def __post_init__(self):
        self._check()
        if not isinstance(self.persistent, bool):
            raise ConfigError("RBMConfig.persistent", f"expected True or False, got {self.persistent!r}")
        if self.sparsity_cost > 0 and self.sparsity_target is None:
            raise ConfigError("RBMConfig.sparsity_cost", "needs sparsity_target as well")

    def train_options(self) -> dict:
        """The settings of one RBM as the trainers and the CLI name them (``hidden``, ``lr`` resolved)."""
        d = self.to_dict()
        d["hidden"] = d.pop("n_hidden")
        if d["lr"] is None:
            d["lr"] = T.LR_BY_VISIBLE[self.visible_type]
        return d


_D = T.DBN_DEFAULTS


@dataclass(frozen=True)
class DBNConfig(_Config):
    """A deep belief net trained greedily, one RBM a layer (Hinton, Osindero & Teh 2006), as
    ``revival pretrain-dbn``: layer 1 on the data (grey levels unless ``binarize``), layer k+1 on
    layer k's hidden probabilities (``feed="probs"``, the 2006 code) or one fixed sample of them.
    Each setting of :data:`revival.experiments.DBN_PER_LAYER` takes one value for every layer or a
    tuple with one value per layer."""

    layers: tuple = tuple(_D["layers"])
    epochs: int | tuple = _D["epochs"]
    batch_size: int | tuple = _D["batch_size"]
    lr: float | tuple | None = _D["lr"]
    lr_decay: float | tuple = _D["lr_decay"]
    momentum: float | tuple | None = _D["momentum"]
    initial_momentum: float | tuple = _D["initial_momentum"]
    final_momentum: float | tuple = _D["final_momentum"]
    momentum_epochs: int | tuple = _D["momentum_epochs"]
    weight_decay: float | tuple = _D["weight_decay"]
    cd_k: int | tuple = _D["cd_k"]
    persistent: bool | tuple = _D["persistent"]
    sparsity_target: float | tuple | None = _D["sparsity_target"]
    sparsity_cost: float | tuple = _D["sparsity_cost"]
    sparsity_decay: float | tuple = _D["sparsity_decay"]
    dropout: float | tuple = _D["dropout"]
    init_std: float = _D["init_std"]
    visible_bias_init: str = _D["visible_bias_init"]
    visible_type: str = _D["visible_type"]
    binarize: str = _D["binarize"]
    feed: str = _D["feed"]
    precision: str = _D["precision"]
    seed: int = 0
    device: str = "auto"

    _checks = RBM_CHECKS
    _per_layer = tuple(T.DBN_PER_LAYER)

    @staticmethod
    def _option_value(name: str, value):
        """pretrain-dbn's per-layer options: a one-value list means that value for every layer."""
        return value[0] if name != "layers" and isinstance(value, list) and len(value) == 1 else value

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("DBNConfig", "layers", self.layers))
        if not self.layers:
            raise ConfigError("DBNConfig.layers", "needs at least one layer")
        for name in T.DBN_PER_LAYER:
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
                name: (v[k] if isinstance(v, tuple) else v) for name in T.DBN_PER_LAYER for v in [getattr(self, name)]
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


_C = T.COMPARE_DEFAULTS


@dataclass(frozen=True)
class NetConfig(_Config):
    """A feed-forward classifier trained by minibatch SGD with momentum, with dropout (Hinton et al.
    2012; Srivastava et al. 2014), weight decay and max-norm when set. Defaults: compare-dropout's
    shared settings, regularisers off (``input_dropout``, ``hidden_dropout`` and ``weight_decay``
    0, ``max_norm`` None). ``dropout_scaling``: ``inverted`` (scale kept units by 1/q in training)
    or ``paper`` (no rescaling in training, weights times q at test time). ``freeze_pretrained_epochs``:
    with ``init=`` a DBN, the first epochs train the output layer alone. ``eval_every``: evaluate the
    validation and test sets every that many epochs (and after the last). Model selection on the
    validation split (``valid=``), as Keras' EarlyStopping: ``restore_best`` returns the weights of the
    epoch of lowest validation error (off: the schedule's last epoch, as the papers ran it);
    ``patience``: stop when that many epochs have passed since the lowest validation error (None: never)."""

    layers: tuple = tuple(_C["layers"])
    activation: str = _C["activation"]
    loss: str = _C["loss"]
    input_dropout: float = 0.0
    hidden_dropout: float = 0.0
    dropout_type: str = "bernoulli"
    dropout_scaling: str = _C["dropout_scaling"]
    epochs: int = _C["epochs"]
    batch_size: int = _C["batch_size"]
    lr: float = _C["lr"]
    lr_decay: float = _C["lr_decay"]
    initial_momentum: float = _C["initial_momentum"]
    final_momentum: float = _C["final_momentum"]
    momentum_epochs: int = _C["momentum_epochs"]
    dampen: bool = _C["dampen"]
    weight_decay: float = 0.0
    max_norm: float | None = None
    max_norm_layers: str = _C["max_norm_layers"]
    init_scheme: str = _C["init_scheme"]
    freeze_pretrained_epochs: int = _C["freeze_pretrained_epochs"]
    eval_every: int = _C["eval_every"]
    eval_train_size: int = _C["eval_train_size"]
    precision: str = _C["precision"]
    restore_best: bool = _C["restore_best"]
    patience: int | None = _C["patience"]
    seed: int = 0
    device: str = "auto"

    _checks = NET_CHECKS

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("NetConfig", "layers", self.layers))
        self._check()
        for name in ("dampen", "restore_best"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"NetConfig.{name}", f"expected True or False, got {getattr(self, name)!r}")

    def train_options(self) -> dict:
        """The settings as :class:`revival.training.train.MLPTrainConfig` names them."""
        d = self.to_dict()
        d["freeze_epochs"] = d.pop("freeze_pretrained_epochs")
        return d


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

    layers: tuple = (500, 1000)
    pretrain_epochs: int = 10
    pretrain_lr: float = 0.05
    epochs: int = 10
    lr: float = 0.0003
    lr_decay: float = 1.0
    weight_decay: float = 2e-4
    initial_momentum: float = 0.5
    final_momentum: float = 0.9
    momentum_epochs: int = 5
    batch_size: int = 100
    chains: int = 100
    mf_steps: int = 10
    gibbs_steps: int = 5
    binarize: str = "stochastic"
    seed: int = 0
    device: str = "auto"

    _checks = {
        **RBM_CHECKS,
        "epochs": COUNT,  # 0: the composed pretrained DBM, no joint training
        "pretrain_epochs": COUNT,
        "pretrain_lr": Range(0, lo_open=True),
        "chains": POSITIVE_INT,
        "mf_steps": POSITIVE_INT,
        "gibbs_steps": POSITIVE_INT,
    }

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("DBMConfig", "layers", self.layers))
        if len(self.layers) < 2:
            raise ConfigError("DBMConfig.layers", f"a DBM has at least two hidden layers, got {len(self.layers)}")
        self._check()
