"""A feed-forward classifier's settings (Hinton et al. 2012; Srivastava et al. 2014)."""

from __future__ import annotations

from dataclasses import dataclass

from revival import tables as T
from revival.config.base import (
    COUNT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY_BELOW_1,
    ConfigError,
    Range,
    _Config,
    _positive_ints,
    setting,
)
from revival.config.rbm import PRECISION_HELP


@dataclass(frozen=True)
class NetConfig(_Config):
    """A feed-forward classifier trained by minibatch SGD with momentum, with dropout (Hinton et al. 2012;
    Srivastava et al. 2014), weight decay and max-norm when set. Defaults: compare-dropout's shared
    settings (:class:`~revival.config.compare.CompareConfig` copies these declarations), regularisers
    off (``input_dropout``, ``hidden_dropout`` and ``weight_decay`` 0, ``max_norm`` None).
    ``dropout_scaling``: ``inverted`` (scale kept units by 1/q in training) or ``paper`` (no rescaling
    in training, weights times q at test time). ``freeze_pretrained_epochs``: with ``init=`` a DBN, the
    first epochs train the output layer alone. ``eval_every``: evaluate the validation and test sets
    every that many epochs (and after the last). Model selection on the validation split (``valid=``),
    as Keras' EarlyStopping: ``restore_best`` returns the weights of the epoch of lowest validation
    error (off: the schedule's last epoch, as the papers ran it); ``patience``: stop when that many
    epochs have passed since the lowest validation error (None: never). The momentum ramps linearly from
    ``initial_momentum`` to ``final_momentum`` over ``momentum_epochs`` (Srivastava et al. 2014,
    appendix A/B); with ``dampen`` each step is scaled by (1 - momentum) (Hinton et al. 2012); the
    learning rate of epoch e is ``lr * lr_decay ** e``. ``monitor_layers``: per-layer gradient norms and
    activation statistics each epoch. ``optimizer`` "cg": conjugate gradients instead of SGD
    (:mod:`revival.training.cg`; the learning rate and momentum then do nothing)."""

    layers: tuple = setting((1024, 1024), help="Hidden layer sizes, e.g. 1024,1024.")
    activation: str = setting("relu", T.ACTIVATIONS, "Hidden units.")
    loss: str = setting(
        "cross-entropy",
        T.LOSSES,
        "Cross-entropy of the softmax, or squared error between the softmax and the one-hot target.",
    )
    input_dropout: float = setting(0.0, PROBABILITY_BELOW_1, "Drop probability of input pixels.")
    hidden_dropout: float = setting(0.0, PROBABILITY_BELOW_1, "Drop probability of hidden units.")
    dropout_type: str = setting("bernoulli", ("bernoulli", "gaussian"))
    dropout_scaling: str = setting(
        "inverted",
        T.DROPOUT_SCALINGS,
        "Bernoulli dropout as the papers (no rescaling in training, weights x retain probability at test "
        "time) or inverted (kept units / retain probability in training).",
    )
    epochs: int = setting(50, POSITIVE_INT, "Passes over the training data.")
    batch_size: int = setting(100, POSITIVE_INT, "Examples per update.")
    lr: float = setting(0.05, POSITIVE, "Learning rate.")
    lr_decay: float = setting(1.0, Range(0, 1, lo_open=True), "Learning rate multiplied by this every epoch.")
    initial_momentum: float = setting(0.5, PROBABILITY_BELOW_1, "Momentum at the start of the ramp.")
    final_momentum: float = setting(0.9, PROBABILITY_BELOW_1, "Momentum at the end of the ramp and after it.")
    momentum_epochs: int = setting(10, COUNT, "Epochs of the linear momentum ramp.")
    dampen: bool = setting(False, help="Scale each step by (1 - momentum) (Hinton et al. 2012).")
    weight_decay: float = setting(0.0, Range(0), "L2 strength on the weights.")
    max_norm: float | None = setting(None, POSITIVE, "Bound c on each hidden unit's incoming weight norm.")
    max_norm_layers: str = setting(
        "hidden", T.MAX_NORM_LAYERS, "Max-norm on hidden units only, or on every layer's units (output too)."
    )
    init_scheme: str = setting(
        "auto",
        T.INIT_SCHEMES,
        "Initial weights: he N(0,2/fan_in), fan-in N(0,1/fan_in), small-gaussian N(0,0.01^2), "
        "standard-uniform U(+-1/sqrt(fan_in)), glorot U(+-sqrt(6/(fan_in+fan_out))); auto = he for ReLU, "
        "fan-in otherwise.",
    )
    freeze_pretrained_epochs: int = setting(
        0,
        COUNT,
        "Epochs at the start of fine-tuning in which a pretrained net trains only its new output "
        "layer (Hinton & Salakhutdinov's backpropclassify.m: 5).",
    )
    optimizer: str = setting(
        "sgd",
        T.OPTIMIZERS,
        "sgd: minibatch SGD with momentum; cg: conjugate gradients, a few line searches on batches of "
        "--cg-batch-size, as Salakhutdinov & Hinton fine-tuned their DBMs (no dropout, max-norm or weight decay).",
    )
    cg_batch_size: int = setting(10_000, POSITIVE_INT, "Examples per conjugate-gradient batch (--optimizer cg).")
    cg_line_searches: int = setting(3, POSITIVE_INT, "Line searches on each batch (--optimizer cg).")
    eval_every: int = setting(
        1,
        POSITIVE_INT,
        "Evaluate (train subset, validation, test), log and save every K epochs and after the last, "
        "instead of every epoch: long runs stop paying for what nobody reads.",
    )
    eval_train_size: int = setting(10_000, POSITIVE_INT, "Training examples used for the per-epoch train error.")
    precision: str = setting("fp32", T.PRECISIONS, PRECISION_HELP + " Evaluation stays float32.")
    restore_best: bool = setting(
        False,
        help="Keep the weights of the epoch of lowest validation error (Keras' restore_best_weights); "
        "the errors are then that epoch's. Off: the schedule's last epoch, as the papers ran it.",
    )
    patience: int | None = setting(
        None,
        POSITIVE_INT,
        "Early stopping: end the training when this many epochs have passed since the lowest "
        "validation error (Keras' EarlyStopping patience).",
    )
    monitor_layers: bool = setting(
        False,
        help="Log each layer's gradient norm, each hidden layer's mean and saturated share, and activation "
        "histograms every epoch.",
    )
    seed: int = 0
    device: str = "auto"

    # what a compare-dropout variant switches on or off (revival.config.CompareConfig.variant_settings)
    REGULARISERS = ("input_dropout", "hidden_dropout", "dropout_type", "weight_decay", "max_norm")

    def __post_init__(self):
        object.__setattr__(self, "layers", _positive_ints("NetConfig", "layers", self.layers))
        self._check()
        if self.optimizer == "cg":
            on = [n for n in ("input_dropout", "hidden_dropout", "weight_decay") if getattr(self, n)]
            on += ["max_norm"] if self.max_norm is not None else []
            on += ["precision bf16"] if self.precision != "fp32" else []
            if on:
                raise ConfigError(
                    "NetConfig.optimizer",
                    f"cg minimises a fixed objective (in float64); it takes no {', '.join(on)} (use sgd)",
                )

    def momentum_at(self, epoch: int) -> float:
        if self.momentum_epochs <= 0 or epoch >= self.momentum_epochs:
            return self.final_momentum
        t = epoch / self.momentum_epochs
        return (1 - t) * self.initial_momentum + t * self.final_momentum

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.lr_decay**epoch
