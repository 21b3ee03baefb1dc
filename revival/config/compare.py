"""compare-dropout's settings, each declared once (:class:`CompareConfig`; the net's own are
:class:`~revival.config.net.NetConfig`'s declarations, copied), and :func:`resolve_compare`, which
merges defaults, a preset and the command line and checks the result. ``revival compare-dropout``
generates its options from these fields."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

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
    defaults,
    setting,
)
from revival.config.dbm import DBMConfig
from revival.config.net import NetConfig
from revival.presets import PRESETS, PRETRAINED_ACTIVATION, VARIANT_OPTION_KEYS, VARIANTS, hidden_layers

HS2006 = "Hinton & Salakhutdinov 2006, their code"


def _net(name: str, default=None, **meta):
    """NetConfig's declaration of ``name``, with compare-dropout's default where given."""
    return _copy(NetConfig, name, **({} if default is None else {"default": default}), **meta)


@dataclass(frozen=True)
class CompareConfig(_Config):
    """One compare-dropout run: the variants (which regularisers and which start each switches on,
    :data:`revival.presets.VARIANTS`), the net they share, the sweep axes, the in-experiment
    pretraining, and where the points run. A preset (:data:`revival.presets.PRESETS`) sets some of
    these; the command line overrides it (:func:`resolve_compare`)."""

    preset: str = setting(
        "quick", tuple(PRESETS), "Named settings (with the paper's numbers); options given here override it."
    )
    variants: tuple = setting(("baseline", "dropout"), tuple(VARIANTS), "Comma-separated variants.", many=True)
    layers: tuple = _net("layers")
    activation: str = _net("activation", help="Hidden units (logistic whenever a pretrained variant runs).")
    loss: str = _net("loss")
    epochs: int = _net("epochs")
    batch_size: int = _net("batch_size")
    lr: float = _net("lr")
    lr_decay: float = _net("lr_decay")
    initial_momentum: float = _net("initial_momentum")
    final_momentum: float = _net("final_momentum")
    momentum_epochs: int = _net("momentum_epochs")
    dampen: bool = _net("dampen")
    weight_decay: float = _net("weight_decay", 1e-4, help="L2 strength of *-weight-decay variants.")
    max_norm: float | None = _net(
        "max_norm", 3.0, help="Bound c on each hidden unit's incoming weight norm (max-norm variants)."
    )
    input_dropout: float = _net("input_dropout", 0.2, help="Drop probability of input pixels (dropout variants).")
    hidden_dropout: float = _net("hidden_dropout", 0.5, help="Drop probability of hidden units (dropout variants).")
    mc_samples: int = setting(50, COUNT, "Monte-Carlo masks for the final test error of dropout variants (0 = off).")
    seeds: int = setting(
        1, Range(1, T.MAX_SEEDS, kind=int), "Repeat with seeds seed .. seed+N-1 (every point trains N times)."
    )
    train_sizes: tuple | None = setting(None, POSITIVE_INT, "Sweep the training set size (Figure 10).", many=True)
    dropout_rates: tuple | None = setting(
        None, PROBABILITY_BELOW_1, "Sweep the hidden drop probability (Figure 9).", many=True
    )
    depths: tuple | None = setting(
        None, POSITIVE_INT, "Sweep the number of hidden layers, each of --width units (Erhan et al. 2010).", many=True
    )
    width: int | None = setting(
        None, POSITIVE_INT, "Units per hidden layer with --depths [default: the first of --layers]."
    )
    activations: tuple | None = setting(
        None, T.ACTIVATIONS, "Sweep the hidden units, e.g. logistic,tanh,relu (Glorot & Bengio 2010).", many=True
    )
    losses: tuple | None = setting(None, T.LOSSES, "Sweep the cost function: cross-entropy,mse.", many=True)
    init_schemes: tuple | None = setting(
        None, T.INIT_SCHEMES, "Sweep the initial weights, e.g. standard-uniform,glorot.", many=True
    )
    min_updates: int = setting(
        0,
        COUNT,
        "Train each net for at least this many weight updates (small training sets get more epochs, "
        "evaluated about --epochs times); 0 = --epochs for every size.",
    )
    monitor_layers: bool = _net("monitor_layers", True)
    eval_train_size: int = _net("eval_train_size")
    dropout_scaling: str = _net("dropout_scaling")
    max_norm_layers: str = _net("max_norm_layers")
    init_scheme: str = _net("init_scheme")
    retrain_on_full: bool = setting(
        False,
        help="After training on 50,000 (valid held out), train a fresh net on all 60,000 for the same number "
        "of updates and report its test error too (the papers' protocol).",
    )
    # train once on training + validation images (60,000 for MNIST): protocols whose length is fixed
    # in advance (no validation phase to choose it), e.g. Hinton & Salakhutdinov's 200 epochs
    train_on_all: bool = setting(
        False,
        help="Train once on the training and validation images together (60,000 for MNIST), for protocols "
        "whose length is fixed in advance; the validation error is then on training images.",
    )
    restore_best: bool = _net(
        "restore_best",
        help="Keep each net's weights of its epoch of lowest validation error (Keras' restore_best_weights); "
        "its errors are then that epoch's. Off: the schedule's last epoch, as the papers ran it. Every row "
        "reports the best validation epoch and the test error at it either way.",
    )
    patience: int | None = _net(
        "patience",
        help="Early stopping: end a net's training when this many epochs have passed since its lowest "
        "validation error (Keras' EarlyStopping patience); with --retrain-on-full the second phase trains "
        "to the chosen epoch.",
    )
    init: str | None = setting(
        None,
        help="RBM or DBN checkpoint (run folder or file) the pretrained variants start from; without it they "
        "pretrain a DBN here on each point's training images (no labels).",
        path=True,
    )
    # pretraining inside the experiment (pretrained variants without --init): Hinton & Salakhutdinov's
    # code (CD-1, lr 0.1, momentum 0.5 -> 0.9 from epoch 6, weight cost 2e-4, batch 100, grey levels)
    pretrain_epochs: int = setting(
        10, POSITIVE_INT, "Epochs per layer of the in-experiment pretraining (CD, grey levels).", HS2006
    )
    pretrain_lr: float = setting(0.1, POSITIVE, "Learning rate of the in-experiment pretraining.", HS2006)
    pretrain_cd_k: int = setting(1, POSITIVE_INT, "CD-k of the in-experiment pretraining.", HS2006)
    pretrain_batch_size: int = setting(100, POSITIVE_INT, "Batch size of the in-experiment pretraining.", HS2006)
    pretrain_init_std: float = setting(
        0.01, POSITIVE, "Initial RBM weights N(0, s^2) of the in-experiment pretraining."
    )
    pretrain_visible_bias_init: str = setting(
        "log-odds", T.VISIBLE_BIAS_INITS, "Initial RBM visible biases of the in-experiment pretraining."
    )
    eval_every: int = _net("eval_every")
    # the dbm-pretrained variants: the DBM's two RBMs pretrain with the pretrain_* settings above, then
    # dbm_epochs of joint PCD training at dbm_lr (DBMConfig's other defaults)
    dbm_epochs: int = setting(
        10,
        COUNT,
        "dbm-pretrained variants: epochs of joint PCD training of the DBM after its two pretraining "
        "RBMs (--pretrain-epochs for the bottom one, twice that for the top one).",
    )
    dbm_lr: float = setting(
        DBMConfig.lr,  # one default with pretrain-dbm: the authors' rate, annealed as DBMConfig says
        POSITIVE,
        "dbm-pretrained variants: learning rate of the DBM's joint training (annealed per update as pretrain-dbm's).",
    )
    dbm_init: str | None = setting(
        None,
        help="dbm-pretrained variants: start from this DBM (a pretrain-dbm run folder or its model.pt, e.g. one "
        "trained at full length) instead of training one here; its hidden layers must be --layers.",
        path=True,
    )
    dbm_labels: bool = setting(
        False,
        help="dbm-pretrained variants: train the DBM with label units on its top layer (the authors' released "
        "code, whose DBM gave the published 0.95%); off: an unsupervised DBM.",
    )
    freeze_pretrained_epochs: int = _net(
        "freeze_pretrained_epochs",
        help="Epochs at the start of fine-tuning in which the pretrained variants train only the new output "
        "layer (Hinton & Salakhutdinov's backpropclassify.m: 5).",
    )
    precision: str = _net("precision")
    optimizer: str = _net("optimizer")
    cg_batch_size: int = _net("cg_batch_size")
    cg_line_searches: int = _net("cg_line_searches")
    # where the points run: one after another here, or as Ray tasks (revival.experiments.executor)
    executor: str = setting(
        "local",
        T.EXECUTORS,
        "Run the grid's points one after another here, or as Ray tasks (needs revival[ray]; the run "
        "folder must be on storage every node sees).",
    )
    ray_address: str | None = setting(
        None, help="Ray cluster to join (auto, ray://host:port) [default: start a local Ray instance]."
    )
    point_cpus: float = setting(1.0, POSITIVE, "CPUs per point with --executor ray (also its torch threads).")
    point_gpus: float = setting(
        0.0, Range(0), "GPUs per point with --executor ray, fractional to share one (0.25: four points a GPU)."
    )
    max_retries: int = setting(
        1,
        Range(0, 100, kind=int),
        "Retries of a point whose task fails or whose worker dies, before it is recorded as failed.",
    )
    # the common options of every command (their declarations are the CLI's)
    dataset: str = setting("mnist", T.DATASETS)
    train_size: int | None = setting(None, POSITIVE_INT)
    # per-variant optimiser settings, {variant: {setting: value}} (a preset's, then --variant-lr etc.),
    # so each variant of a comparison can train at a setting that works for it
    variant_options: dict = setting({})
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("CompareConfig", "layers", self.layers))
        self._check()
        self._check_together()

    def _check_together(self):
        """The rules that tie settings together (ValueError): what the variants need of the net and of
        the installed extras, and the protocol options that exclude each other."""
        variants = [v for v in self.variants if v in VARIANTS]
        pretrained = [v for v in variants if VARIANTS[v].get("pretrained")]
        dbm_variants = [v for v in variants if VARIANTS[v].get("dbm")]
        if dbm_variants and len(self.layers) != 2:
            raise ValueError(
                f"--layers {','.join(map(str, self.layers))}: the {', '.join(dbm_variants)} variant(s) unroll a "
                "two-hidden-layer DBM; give two layers (Salakhutdinov & Hinton 2009: 500,1000)"
            )
        if dbm_variants and (self.depths or self.init):
            raise ValueError(f"the {', '.join(dbm_variants)} variant(s) take neither --depths nor --init")
        if self.dbm_init and not dbm_variants:
            raise ValueError("--dbm-init only applies to the dbm-pretrained variants; add one to --variants")
        if pretrained and any(a != PRETRAINED_ACTIVATION for a in self.activations or []):
            raise ValueError(
                f"--activations {','.join(self.activations)}: the {', '.join(pretrained)} variant(s) start "
                "from RBMs, whose hidden units are logistic; sweep activations without them"
            )
        if self.executor == "ray" and importlib.util.find_spec("ray") is None:
            raise ValueError(
                f"--executor ray needs Ray: pip install 'revival[{T.RAY_EXTRA}]' (or use --executor local)"
            )
        hog = [v for v in variants if VARIANTS[v].get("features") in T.SKIMAGE_PIPELINES]
        if hog and importlib.util.find_spec("skimage") is None:
            raise ValueError(
                f"the {', '.join(hog)} variant(s) need scikit-image: pip install 'revival[{T.CLASSIC_EXTRA}]' "
                "(or leave them out of --variants)"
            )
        if any(VARIANTS[v].get("classic") in ("svm-rbf", "linear-svm") for v in variants):
            if importlib.util.find_spec("sklearn") is None:
                raise ValueError(
                    f"the SVM variants need scikit-learn: pip install 'revival[{T.CLASSIC_EXTRA}]' "
                    "(or leave them out of --variants)"
                )
        if self.train_on_all and (self.restore_best or self.patience):
            raise ValueError(
                "--restore-best and --patience choose on the validation images, which --train-on-all trains on; "
                "leave one out (the choice on validation is a run without --train-on-all)"
            )
        if self.optimizer == "cg":
            fixed = [v for v in variants if any(VARIANTS[v].get(k) for k in ("dropout", "max_norm", "weight_decay"))]
            if fixed or self.precision != "fp32":
                what = f"the {', '.join(fixed)} variant(s)" if fixed else f"--precision {self.precision}"
                raise ValueError(
                    f"--optimizer cg minimises a fixed objective (in float64): {what} cannot train that way "
                    "(leave them out of --variants, or use --optimizer sgd)"
                )
        if not pretrained and self.init:
            raise ValueError(
                "--init only applies to the pretrained variants (pretrained, pretrained-dropout); add one to --variants"
            )

    # -- what one grid point trains (pure bookkeeping: no torch, no data) --

    def hidden(self, depth: int | None = None) -> list[int]:
        """The hidden layer sizes of a grid point: ``--layers``, or with ``--depths`` ``depth``
        layers of ``--width`` (default: the first of ``--layers``)."""
        return hidden_layers({"layers": self.layers, "width": self.width}, depth)

    def deepest(self) -> list[int]:
        """The hidden layers of the grid's deepest net (what a pretrained stack must cover)."""
        return max((self.hidden(d) for d in (self.depths or [None])), key=len)

    def variant_settings(self, variant: str, rate: float | None) -> dict:
        """The model and optimizer settings one variant trains with: its regularizers (strengths from
        the options, or from ``variant_options`` where the variant has its own), and any optimiser
        setting ``variant_options`` gives it (``lr``, momentum schedule, ...)."""
        v = VARIANTS[variant]
        own = (self.variant_options or {}).get(variant, {})
        drop = v.get("dropout")
        out = {
            "input_dropout": self.input_dropout if drop else 0.0,
            "hidden_dropout": (rate if rate is not None else self.hidden_dropout) if drop else 0.0,
            "dropout_type": drop or "bernoulli",
            "weight_decay": own.get("weight_decay", self.weight_decay) if v.get("weight_decay") else 0.0,
            "max_norm": own.get("max_norm", self.max_norm) if v.get("max_norm") else None,
        }
        out.update({k: x for k, x in own.items() if k not in ("weight_decay", "max_norm")})
        return out

    def point_epochs(self, n: int) -> int:
        """The epochs a net point trains on ``n`` examples: ``--epochs``, raised so it makes at least
        ``--min-updates`` weight updates."""
        per_epoch = -(-n // self.batch_size)
        return max(self.epochs, -(-self.min_updates // per_epoch))

    def eval_interval(self, epochs: int) -> int:
        """Every how many epochs a net point evaluates (the last epoch always does): ``--eval-every``,
        raised so that a point stretched by ``--min-updates`` over many short epochs still evaluates
        about ``--epochs`` times rather than after each of them."""
        stretched = -(-epochs // self.epochs) if epochs > self.epochs else 1
        return max(stretched, self.eval_every or 1)

    def net_config(self, point, epochs: int) -> NetConfig:
        """The net of grid point ``point`` (a :class:`revival.experiments.sweep.Point`) trained for
        ``epochs``: the shared settings, the variant's own (``--variant-lr`` ...) and what the variant
        and the point switch on (regularisers, depth, activation, loss, initial weights, seed)."""
        lr_only = point.classic == "logistic-regression"  # softmax on the pixels: no hidden layer
        s = self.variant_settings(point.variant, point.rate)
        own = {k: v for k, v in s.items() if k not in NetConfig.REGULARISERS}
        return NetConfig.from_options(
            {
                **self.to_dict(),
                **own,
                **{k: s[k] for k in NetConfig.REGULARISERS},
                "layers": [] if lr_only else self.hidden(point.depth),
                "activation": point.activation or self.activation,
                "loss": point.loss or self.loss,
                "init_scheme": "fan-in" if lr_only else point.init_scheme or self.init_scheme,
                "epochs": epochs,
                "eval_every": self.eval_interval(epochs),
                "freeze_pretrained_epochs": min(self.freeze_pretrained_epochs, epochs) if point.pretrained else 0,
                "seed": point.seed,
            }
        )


# compare-dropout's list options: the variants and the sweep axes
SWEEP_LISTS = ("variants", "train_sizes", "dropout_rates", "depths", "activations", "losses", "init_schemes")


def resolve_compare(cli: dict) -> dict:
    """Defaults < preset < options given on the command line (those that are not None).
    ValueError for an unknown variant or a pretrained variant with a non-logistic activation."""
    preset = PRESETS[cli.get("preset") or "quick"]
    out = {**cli, **defaults(CompareConfig), **preset.options}
    out.update({k: v for k, v in cli.items() if v is not None})
    out["preset"] = cli.get("preset") or "quick"
    # a value given twice is one point (config.json records the list once); values that differ but
    # print alike would share a folder, and the second point would never train: refused
    for k in SWEEP_LISTS:
        if isinstance(out.get(k), list):
            out[k] = list(dict.fromkeys(out[k]))
    if out.get("dropout_rates"):
        seen = {}
        for r in out["dropout_rates"]:
            other = seen.setdefault(f"{r:g}", r)
            if other != r:
                raise ValueError(
                    f"--dropout-rates: {other!r} and {r!r} would share the folder p{r:g}; give rates "
                    "that differ within 6 significant digits"
                )
    unknown = [v for v in out["variants"] if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    merged = {v: dict(o) for v, o in (preset.options.get("variant_options") or {}).items()}
    for v, o in (cli.get("variant_options") or {}).items():  # the command line's win, setting by setting
        merged.setdefault(v, {}).update(o)
    for v, o in merged.items():
        if v not in out["variants"] and v in (cli.get("variant_options") or {}):  # a preset's may go unused
            raise ValueError(
                f"--variant-{next(iter(o)).replace('_', '-')} {v}=...: {v} is not among the variants "
                f"({', '.join(out['variants'])})"
            )
        bad = [k for k in o if k not in VARIANT_OPTION_KEYS]
        if bad:
            raise ValueError(
                f"variant_options: {', '.join(bad)} cannot be set per variant; choose from "
                f"{', '.join(VARIANT_OPTION_KEYS)}"
            )
    out["variant_options"] = {v: merged[v] for v in out["variants"] if v in merged}
    pretrained = [v for v in out["variants"] if VARIANTS[v].get("pretrained")]
    if pretrained and out["activation"] != PRETRAINED_ACTIVATION:
        if cli.get("activation") is not None:
            raise ValueError(
                f"--activation {out['activation']}: the {', '.join(pretrained)} variant(s) start from "
                f"RBMs, whose hidden units are logistic; use --activation logistic"
            )
        out["activation"] = PRETRAINED_ACTIVATION  # every variant, so random and pretrained starts compare
        out["activation_forced_by"] = pretrained
    if cli.get("train_on_all") and not (cli.get("train_size") or cli.get("train_sizes") or cli.get("retrain_on_full")):
        out["train_size"], out["train_sizes"], out["retrain_on_full"] = None, None, False  # the preset's subset yields
    if out.get("train_on_all") and (out.get("train_size") or out.get("train_sizes") or out.get("retrain_on_full")):
        if cli.get("train_on_all"):
            raise ValueError(
                "--train-on-all trains on every training and validation image; it cannot be combined "
                "with --train-size, --train-sizes or --retrain-on-full"
            )
        out["train_on_all"] = False  # the preset's protocol needs the whole split: a reduced run skips it
    if out.get("retrain_on_full") and (out.get("train_size") or out.get("train_sizes")):
        if cli.get("retrain_on_full"):
            raise ValueError(
                "--retrain-on-full trains on all 60,000 images after the 50,000/10,000 phase; "
                "it cannot be combined with --train-size or --train-sizes"
            )
        out["retrain_on_full"] = False  # the preset's protocol needs the whole split: a reduced run skips it
    CompareConfig.from_options(out)  # every value against its rule, and the rules that tie them together
    return out
