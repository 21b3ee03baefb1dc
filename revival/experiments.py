"""The named experiments as data: every option's default (declared here once and read by the CLI,
the experiments and the trainers' config dataclasses), the variant tables, and the presets with
their citations and published figures. No torch here and no revival imports, so the CLI starts
fast and any room may read these tables.

Trust marks on published figures follow ``shared/papers.md``: V quoted verbatim from the paper or
its authors' code, S several secondary sources agree, U unconfirmed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

DATASETS = ("mnist", "fashion-mnist", "kmnist", "mnist-sample")
DEVICE_HELP = "auto, cpu, cuda or cuda:N."

# ------------------------------------------------------------------------- RBM training
# Hinton's Practical Guide (2010): batch 100, lr 0.1, momentum 0.5 for 5 epochs then 0.9, weight
# decay 2e-4 on weights, CD-1; lr None = 0.1 for Bernoulli visibles, 0.01 for Gaussian ones.
RBM_DEFAULTS = {
    "hidden": 500, "visible_type": "bernoulli", "binarize": "stochastic", "epochs": 10, "batch_size": 100,
    "lr": None, "lr_decay": 1.0, "momentum": None, "initial_momentum": 0.5, "final_momentum": 0.9,
    "momentum_epochs": 5, "weight_decay": 2e-4, "cd_k": 1, "persistent": False, "sparsity_target": None,
    "sparsity_cost": 0.0, "sparsity_decay": 0.95, "dropout": 0.0, "monitor_size": 2000,
    "ais_every": 0, "ais_runs": 100, "ais_betas": 14_501,
}
LR_BY_VISIBLE = {"bernoulli": 0.1, "gaussian": 0.01}

# pretrain-dbn: the same RBM options, one value for all layers or one per layer; grey levels in
# [0, 1] as the 2006 code trains its first layer, the next layer on the hidden probabilities
DBN_DEFAULTS = {**{k: v for k, v in RBM_DEFAULTS.items() if not k.startswith("ais_") and k != "hidden"},
                "layers": [500, 500, 2000], "binarize": "none", "feed": "probs", "sample_steps": 200}
# the options of pretrain-dbn that take a comma list, one value per layer
DBN_PER_LAYER = ("epochs", "batch_size", "lr", "lr_decay", "momentum", "initial_momentum", "final_momentum",
                 "momentum_epochs", "weight_decay", "cd_k", "persistent", "sparsity_target", "sparsity_cost",
                 "sparsity_decay", "dropout")
FEEDS = ("probs", "samples")

MAX_AIS_RUNS, MAX_AIS_BETAS = 100_000, 10_000_000  # beyond these AIS would not fit in memory or finish
EVALUATE_DEFAULTS = {"split": "test", "method": "auto", "ais_runs": 100, "ais_betas": 14_501, "layer": None}

# ------------------------------------------------------------------------- compare-dropout

# which regularizers (and which start) each variant switches on; the strengths come from the options
VARIANTS = {
    "baseline": {},
    "weight-decay": {"weight_decay": True},
    "max-norm": {"max_norm": True},
    "dropout": {"dropout": "bernoulli"},
    "dropout-weight-decay": {"dropout": "bernoulli", "weight_decay": True},
    "dropout-maxnorm": {"dropout": "bernoulli", "max_norm": True},
    "gaussian-dropout": {"dropout": "gaussian"},
    "pretrained": {"pretrained": True},
    "pretrained-dropout": {"pretrained": True, "dropout": "bernoulli"},
}
PRETRAINED_ACTIVATION = "logistic"  # an RBM's hidden units are logistic

COMPARE_DEFAULTS = {
    "dataset": "mnist", "train_size": None, "layers": [1024, 1024], "activation": "relu", "loss": "cross-entropy",
    "variants": ["baseline", "dropout"], "epochs": 50, "batch_size": 100, "lr": 0.05, "lr_decay": 1.0,
    "initial_momentum": 0.5, "final_momentum": 0.9, "momentum_epochs": 10, "dampen": False,
    "weight_decay": 1e-4, "max_norm": 3.0, "input_dropout": 0.2, "hidden_dropout": 0.5, "mc_samples": 50,
    "seeds": 1, "train_sizes": None, "dropout_rates": None, "depths": None, "width": None,
    "eval_train_size": 10_000, "init": None,
    # pretraining inside the experiment (pretrained variants without --init): Hinton & Salakhutdinov's
    # code (CD-1, lr 0.1, momentum 0.5 -> 0.9 from epoch 6, weight cost 2e-4, batch 100, grey levels)
    "pretrain_epochs": 10, "pretrain_lr": 0.1, "pretrain_cd_k": 1, "pretrain_batch_size": 100,
}


@dataclass
class Preset:
    description: str
    options: dict
    citation: str = ""
    paper: dict = field(default_factory=dict)  # variant -> published test error in %
    trust: str = ""  # trust of the published figures (one mark for all, unless trust_of says otherwise)
    trust_of: dict = field(default_factory=dict)  # variant -> trust mark, where figures differ
    architecture: str = ""  # the net the published figures belong to

    def trust_for(self, variant: str) -> str:
        return self.trust_of.get(variant, self.trust)


PRESETS = {
    "quick": Preset(
        "2,000 training digits, 784-800-800-10 ReLU: the unregularized net reaches zero training error and "
        "its test loss climbs, within a few minutes on a laptop CPU.",
        {"train_size": 2000, "layers": [800, 800], "activation": "relu", "epochs": 80, "lr": 0.02,
         "variants": ["baseline", "weight-decay", "dropout"], "mc_samples": 20, "eval_train_size": 2000}),
    "srivastava2014-3x1024-relu": Preset(
        "Srivastava et al. 2014, Table 2: 3 x 1024 ReLU on permutation-invariant MNIST.",
        {"layers": [1024, 1024, 1024], "activation": "relu", "variants": ["dropout", "dropout-maxnorm"],
         "input_dropout": 0.2, "hidden_dropout": 0.5, "max_norm": 2.0, "final_momentum": 0.95,
         "momentum_epochs": 100, "lr": 0.1, "lr_decay": 0.998, "epochs": 500},
        "N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov (2014). Dropout. JMLR 15, Table 2",
        {"dropout": 1.25, "dropout-maxnorm": 1.06}, "S", architecture="784-1024-1024-1024-10 ReLU"),
    "srivastava2014-table9": Preset(
        "Srivastava et al. 2014, Table 9: regularizers compared on 784-1024-1024-2048-10 ReLU.",
        {"layers": [1024, 1024, 2048], "activation": "relu",
         "variants": ["weight-decay", "max-norm", "dropout-weight-decay", "dropout-maxnorm"],
         "input_dropout": 0.2, "hidden_dropout": 0.5, "max_norm": 2.0, "final_momentum": 0.95,
         "momentum_epochs": 100, "lr": 0.1, "lr_decay": 0.998, "epochs": 500},
        "N. Srivastava et al. (2014). Dropout. JMLR 15, Table 9",
        {"weight-decay": 1.62, "max-norm": 1.35, "dropout-weight-decay": 1.25, "dropout-maxnorm": 1.05},
        "S", architecture="784-1024-1024-2048-10 ReLU"),
    "hinton2012-800": Preset(
        "Hinton et al. 2012: 784-800-800-10 logistic, standard vs 20% input / 50% hidden dropout with a "
        "bound on each unit's squared weight length (15).",
        {"layers": [800, 800], "activation": "logistic", "variants": ["baseline", "dropout-maxnorm"],
         "input_dropout": 0.2, "hidden_dropout": 0.5, "max_norm": math.sqrt(15.0), "lr": 10.0, "lr_decay": 0.998,
         "dampen": True, "initial_momentum": 0.5, "final_momentum": 0.99, "momentum_epochs": 500, "epochs": 3000},
        "G. Hinton, N. Srivastava, A. Krizhevsky, I. Sutskever, R. Salakhutdinov (2012). arXiv:1207.0580",
        {"baseline": 1.60, "dropout-maxnorm": 1.10}, "V (160 and ~110 test errors out of 10,000)"),
    # ---- pretraining (deep belief nets)
    "pretraining-quick": Preset(
        "1,000 labelled digits, 784-500-500-10 logistic: random init vs a DBN pretrained on the same digits "
        "(without their labels), each with and without dropout fine-tuning; minutes on a laptop CPU.",
        {"train_size": 1000, "layers": [500, 500], "activation": "logistic", "epochs": 60, "lr": 0.1,
         "variants": ["baseline", "dropout", "pretrained", "pretrained-dropout"], "mc_samples": 0,
         "eval_train_size": 1000, "pretrain_epochs": 30, "momentum_epochs": 10}),
    "hinton2006-dbn": Preset(
        "Hinton & Salakhutdinov 2006: 784-500-500-2000-10 logistic; each layer pretrained 50 epochs by CD-1 "
        "(lr 0.1, momentum 0.5 -> 0.9, weight cost 2e-4, batch 100, grey levels), then fine-tuned by "
        "backpropagation, against the same net from random initialisation.",
        {"layers": [500, 500, 2000], "activation": "logistic", "variants": ["baseline", "pretrained"],
         "pretrain_epochs": 50, "pretrain_lr": 0.1, "epochs": 200, "lr": 0.1, "mc_samples": 0},
        "G. Hinton & R. Salakhutdinov (2006). Reducing the dimensionality of data with neural networks. Science 313",
        {"baseline": 1.6, "pretrained": 1.2}, "S", architecture="784-500-500-2000-10 logistic (trained on 60,000; "
        "fine-tuned by conjugate gradient in the authors' code, SGD here)"),
    "srivastava2014-dbn": Preset(
        "Srivastava et al. 2014, Table 2: a 784-500-500-2000 DBN fine-tuned by backpropagation, with and "
        "without dropout (20% inputs, 50% hidden).",
        {"layers": [500, 500, 2000], "activation": "logistic", "variants": ["pretrained", "pretrained-dropout"],
         "pretrain_epochs": 50, "pretrain_lr": 0.1, "epochs": 200, "lr": 0.05, "final_momentum": 0.95,
         "momentum_epochs": 100, "mc_samples": 0},
        "N. Srivastava et al. (2014). Dropout. JMLR 15, Table 2",
        {"pretrained": 1.18, "pretrained-dropout": 0.92}, "S", trust_of={"pretrained": "U"},
        architecture="784-500-500-2000-10 logistic DBN"),
}


def resolve_compare(cli: dict) -> dict:
    """Defaults < preset < options given on the command line (those that are not None).
    ValueError for an unknown variant or a pretrained variant with a non-logistic activation."""
    preset = PRESETS[cli.get("preset") or "quick"]
    out = {**cli, **COMPARE_DEFAULTS, **preset.options}
    out.update({k: v for k, v in cli.items() if v is not None})
    out["preset"] = cli.get("preset") or "quick"
    unknown = [v for v in out["variants"] if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    pretrained = [v for v in out["variants"] if VARIANTS[v].get("pretrained")]
    if pretrained and out["activation"] != PRETRAINED_ACTIVATION:
        if cli.get("activation") is not None:
            raise ValueError(f"--activation {out['activation']}: the {', '.join(pretrained)} variant(s) start from "
                             f"RBMs, whose hidden units are logistic; use --activation logistic")
        out["activation"] = PRETRAINED_ACTIVATION  # every variant, so random and pretrained starts compare
        out["activation_forced_by"] = pretrained
    if not pretrained and out.get("init"):
        raise ValueError("--init only applies to the pretrained variants (pretrained, pretrained-dropout); "
                         "add one to --variants")
    return out


def hidden_layers(opts: dict, depth: int | None) -> list[int]:
    """The hidden layer sizes of one grid point: ``--layers``, or with ``--depths`` ``depth`` layers
    of ``--width`` (default: the first of ``--layers``)."""
    if depth is None:
        return list(opts["layers"])
    return [opts.get("width") or opts["layers"][0]] * depth


def per_layer(opts: dict, n_layers: int) -> list[dict]:
    """pretrain-dbn's options for each layer: an option given as a list has one value per layer, a
    single value applies to every layer. ValueError naming the option when a list has the wrong length."""
    out = [dict(opts) for _ in range(n_layers)]
    for k in DBN_PER_LAYER:
        v = opts.get(k)
        if isinstance(v, list):
            if len(v) == 1:
                v = v * n_layers
            if len(v) != n_layers:
                raise ValueError(f"--{k.replace('_', '-')}: {len(v)} values for {n_layers} layers "
                                 "(give one value, or one per layer)")
            for o, x in zip(out, v):
                o[k] = x
    for i, o in enumerate(out):
        o["hidden"] = opts["layers"][i]
        if o.get("lr") is None:
            o["lr"] = LR_BY_VISIBLE[o["visible_type"] if i == 0 else "bernoulli"]
        if i > 0:
            o["visible_type"] = "bernoulli"  # upper layers model the (binary) hidden units below
    return out
