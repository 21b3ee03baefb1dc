"""Typed configurations: frozen dataclasses that check themselves, each setting declared once.

Every field is a :func:`setting`: its default, the values it accepts (a :class:`Range` or a tuple of
choices), the help its command-line option shows and where its default comes from, all in the
field's metadata. The commands' options are generated from these fields
(:func:`revival.cli.common.config_options`), so ``-h`` shows the default the library uses and
refuses what the config refuses, with the same bounds. ``RBMConfig`` is one RBM; ``DBNConfig`` takes
RBMConfig's training settings, each one value for every layer or one per layer; ``RBMMonitorConfig``
and ``DBNMonitorConfig`` are what the commands watch and evaluate; ``NetConfig`` a classifier;
``DBMConfig`` a deep Boltzmann machine. Configs round-trip through :meth:`to_dict` /
:meth:`from_dict`, where an unknown key is an error rather than silently dropped. A bad value raises
:class:`~revival.errors.ConfigError` naming the field and what it accepts. No torch here, and no
revival imports but the leaves (tables, errors): every room may read a config.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import MISSING, asdict, dataclass, field, fields

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
POSITIVE = Range(0, lo_open=True)
PROBABILITY_BELOW_1 = Range(0, 1, hi_open=True)  # dropout rates and momenta: 1 would stop learning
SEED = Range(0, 2**63 - 1, kind=int)
FLAG = (False, True)


def setting(default, rule=None, help: str = "", source: str = "", *, option: str | None = None, per_layer=False):
    """A config field declared once: ``default``; ``rule``, a :class:`Range` or a tuple of choices
    (None: text, or a flag when the default is a bool); ``help``, the text of its command-line option
    (empty: the commands do not offer it); ``source``, where the default comes from; ``option``, the
    option's name where it differs from the field's (``n_hidden`` is ``--hidden``); ``per_layer``:
    one value, or a tuple with one per layer."""
    meta = {"rule": rule, "help": help, "source": source, "option": option, "per_layer": per_layer}
    return field(default=default, metadata=meta)


def rule_of(f) -> object:
    """The rule of field ``f`` (a bool field's is :data:`FLAG`)."""
    rule = f.metadata.get("rule")
    return FLAG if rule is None and isinstance(f.default, bool) else rule


def rule(cls, name: str):
    """The rule of setting ``name`` of config class ``cls``."""
    return rule_of(cls.__dataclass_fields__[name])


def option_name(f) -> str:
    """The name of field ``f`` on the command line and in a command's options dict."""
    return f.metadata.get("option") or f.name


def check_value(owner: str, name: str, value, rule) -> None:
    """ConfigError unless ``value`` satisfies ``rule`` (a :class:`Range` or a tuple of choices)."""
    if isinstance(rule, Range):
        why = rule.problem(value)
    elif rule is FLAG:
        why = None if isinstance(value, bool) else f"expected True or False, got {value!r}"
    else:
        why = None if value in rule else f"{value!r} is not one of {', '.join(map(str, rule))}"
    if why:
        raise ConfigError(f"{owner}.{name}", why)


def defaults(cls) -> dict:
    """``{option name: default}`` of a config class's settings (not its ``seed`` and ``device``)."""
    return {option_name(f): f.default for f in fields(cls) if "rule" in f.metadata}


class _Config:
    """What the configs share: checking, ``to_dict`` / ``from_dict``, ``from_options`` and ``replace``."""

    def _check(self):
        """Every value when the config is made: None only where the field's default is None ("unset"),
        a tuple only where the field takes one value per layer, each value its field's range or choices,
        the text fields text."""
        owner = type(self).__name__
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "layers":
                continue  # checked by _positive_ints
            if isinstance(v, list) and f.metadata.get("per_layer"):
                v = tuple(v)
                object.__setattr__(self, f.name, v)
            if isinstance(v, tuple) and not f.metadata.get("per_layer"):
                raise ConfigError(f"{owner}.{f.name}", f"expected one value, got {v!r}")
            rule = rule_of(f)
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
        """The config of a command's options of the same names (``--hidden`` -> ``n_hidden``); the
        command's own keys (data set, run folder, ...) are left out, and so is ``device`` (the command
        resolves it)."""
        picked = {f.name: opts[option_name(f)] for f in fields(cls) if option_name(f) in opts and f.name != "device"}
        return cls.from_dict({k: cls._option_value(k, v) for k, v in picked.items()})

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


def _copy(cls, name: str, default=MISSING, **meta):
    """Field ``name`` of config ``cls`` for another config: the same declaration (default, rule, help,
    source), with ``default`` or metadata changed where given."""
    f = cls.__dataclass_fields__[name]
    return field(default=f.default if default is MISSING else default, metadata={**f.metadata, **meta})


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
        ("stochastic", "threshold", "none"),
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
        100, Range(0, T.MAX_AIS_RUNS, kind=int), "AIS runs for log Z; 0 switches AIS (and the final evaluation) off."
    )
    ais_betas: int = setting(
        14_501,
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
    ``patience``: stop when that many epochs have passed since the lowest validation error (None: never).
    The momentum ramps linearly from ``initial_momentum`` to ``final_momentum`` over ``momentum_epochs``
    (Srivastava et al. 2014, appendix A/B); with ``dampen`` each step is scaled by (1 - momentum)
    (Hinton et al. 2012); the learning rate of epoch e is ``lr * lr_decay ** e``. ``monitor_layers``:
    per-layer gradient norms and activation statistics each epoch."""

    layers: tuple = tuple(_C["layers"])
    activation: str = setting(_C["activation"], T.ACTIVATIONS)
    loss: str = setting(_C["loss"], T.LOSSES)
    input_dropout: float = setting(0.0, PROBABILITY_BELOW_1)
    hidden_dropout: float = setting(0.0, PROBABILITY_BELOW_1)
    dropout_type: str = setting("bernoulli", ("bernoulli", "gaussian"))
    dropout_scaling: str = setting(_C["dropout_scaling"], T.DROPOUT_SCALINGS)
    epochs: int = setting(_C["epochs"], POSITIVE_INT)
    batch_size: int = setting(_C["batch_size"], POSITIVE_INT)
    lr: float = setting(_C["lr"], POSITIVE)
    lr_decay: float = setting(_C["lr_decay"], Range(0, 1, lo_open=True))
    initial_momentum: float = setting(_C["initial_momentum"], PROBABILITY_BELOW_1)
    final_momentum: float = setting(_C["final_momentum"], PROBABILITY_BELOW_1)
    momentum_epochs: int = setting(_C["momentum_epochs"], COUNT)
    dampen: bool = setting(_C["dampen"])
    weight_decay: float = setting(0.0, Range(0))
    max_norm: float | None = setting(None, POSITIVE)
    max_norm_layers: str = setting(_C["max_norm_layers"], T.MAX_NORM_LAYERS)
    init_scheme: str = setting(_C["init_scheme"], T.INIT_SCHEMES)
    freeze_pretrained_epochs: int = setting(_C["freeze_pretrained_epochs"], COUNT)
    eval_every: int = setting(_C["eval_every"], POSITIVE_INT)
    eval_train_size: int = setting(_C["eval_train_size"], POSITIVE_INT)
    precision: str = setting(_C["precision"], T.PRECISIONS)
    restore_best: bool = setting(_C["restore_best"])
    patience: int | None = setting(_C["patience"], POSITIVE_INT)
    monitor_layers: bool = setting(False)  # compare-dropout: on (its --monitor-layers)
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("NetConfig", "layers", self.layers))
        self._check()

    def momentum_at(self, epoch: int) -> float:
        if self.momentum_epochs <= 0 or epoch >= self.momentum_epochs:
            return self.final_momentum
        t = epoch / self.momentum_epochs
        return (1 - t) * self.initial_momentum + t * self.final_momentum

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.lr_decay**epoch


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
