"""The tables every room may read: the choices settings offer, the limits of the evaluations, and
the defaults of the commands whose options are not yet a config (evaluate-rbm, compare-dropout); the
RBM, DBN, DBM and net settings are declared in :mod:`revival.config`. No torch here and no revival
imports, so the CLI starts fast.
"""

from __future__ import annotations

DATASETS = ("mnist", "fashion-mnist", "kmnist", "mnist-sample", "mnist-basic")
DEVICE_HELP = "auto, cpu, cuda or cuda:N."

# ------------------------------------------------------------------------- RBM training
# lr None in an RBMConfig: the Practical Guide's (Hinton 2010) 0.1 for Bernoulli visibles, 0.01 for Gaussian ones
PRECISIONS = ("fp32", "bf16")
VISIBLE_BIAS_INITS = ("log-odds", "zero")
LR_BY_VISIBLE = {"bernoulli": 0.1, "gaussian": 0.01}

FEEDS = ("probs", "samples")

MAX_AIS_RUNS, MAX_AIS_BETAS = 100_000, 10_000_000  # beyond these AIS would not fit in memory or finish
EVALUATE_DEFAULTS = {
    "split": "test",
    "method": "auto",
    "ais_runs": 100,
    "ais_betas": 14_501,
    "layer": None,
    "raise_examples": 300,
    "raise_chains": 1,
    "base_rate": "clip",
    "tolerance": 1.0,
}
BASE_RATES = ("clip", "pseudo-counts")
DROPOUT_SCALINGS = ("inverted", "paper")
MAX_NORM_LAYERS = ("hidden", "all")
INIT_SCHEMES = ("auto", "he", "fan-in", "small-gaussian", "standard-uniform", "glorot")
ACTIVATIONS = ("relu", "logistic", "tanh", "linear")
LOSSES = ("cross-entropy", "mse")
# classical baselines: k tried for kNN (chosen on the validation split), C tried for the RBF SVM
# (chosen likewise; gamma = 1 / (n_pixels * pixel variance), scikit-learn's "scale")
KNN_KS = (1, 3, 5, 7, 9, 15)
MAX_SEEDS = 1000  # --seeds: more repeats than any comparison here needs (a typo of 10^9 would exhaust memory)
SVM_CS = (1.0, 10.0, 100.0)
# the RBF kernel's width, searched with C on validation as Larochelle et al. 2007 tuned theirs: these
# multiples of scikit-learn's "scale" (1 / (D * Var(x)): about 0.013 for MNIST's grey levels)
SVM_GAMMA_FACTORS = (1 / 3, 1.0, 3.0)
CLASSIC_EXTRA = "classic"  # pip install 'revival[classic]' brings scikit-learn for svm-rbf
RAY_EXTRA = "ray"  # pip install 'revival[ray]' brings Ray for compare-dropout --executor ray
EXECUTORS = ("local", "ray")

# ------------------------------------------------------------------------- compare-dropout

COMPARE_DEFAULTS = {
    "dataset": "mnist",
    "train_size": None,
    "layers": [1024, 1024],
    "activation": "relu",
    "loss": "cross-entropy",
    "variants": ["baseline", "dropout"],
    "epochs": 50,
    "batch_size": 100,
    "lr": 0.05,
    "lr_decay": 1.0,
    "initial_momentum": 0.5,
    "final_momentum": 0.9,
    "momentum_epochs": 10,
    "dampen": False,
    "weight_decay": 1e-4,
    "max_norm": 3.0,
    "input_dropout": 0.2,
    "hidden_dropout": 0.5,
    "mc_samples": 50,
    "seeds": 1,
    "train_sizes": None,
    "dropout_rates": None,
    "depths": None,
    "width": None,
    "eval_train_size": 10_000,
    "init": None,
    "dropout_scaling": "inverted",
    "max_norm_layers": "hidden",
    "init_scheme": "auto",
    "retrain_on_full": False,
    # train once on training + validation images (60,000 for MNIST): protocols whose length is fixed
    # in advance (no validation phase to choose it), e.g. Hinton & Salakhutdinov's 200 epochs
    "train_on_all": False,
    # more sweep axes (None: the single option above), the per-layer monitors, and a floor on the
    # weight updates of small training sets (0: off; epochs are raised, evaluation thinned to ~epochs points)
    "activations": None,
    "losses": None,
    "init_schemes": None,
    "monitor_layers": True,
    "min_updates": 0,
    "precision": "fp32",
    # where the points run: one after another here, or as Ray tasks (revival.experiments.executor)
    "executor": "local",
    "ray_address": None,
    "point_cpus": 1.0,
    "point_gpus": 0.0,
    "max_retries": 1,
    # pretraining inside the experiment (pretrained variants without --init): Hinton & Salakhutdinov's
    # code (CD-1, lr 0.1, momentum 0.5 -> 0.9 from epoch 6, weight cost 2e-4, batch 100, grey levels)
    "pretrain_epochs": 10,
    "pretrain_lr": 0.1,
    "pretrain_cd_k": 1,
    "pretrain_batch_size": 100,
    "pretrain_init_std": 0.01,
    "pretrain_visible_bias_init": "log-odds",
    # epochs at the start of fine-tuning in which a pretrained net trains its new output layer alone
    # (the hidden layers keep the DBN's weights), as backpropclassify.m does for 5 epochs
    "freeze_pretrained_epochs": 0,
    # the dbm-pretrained variants: the DBM's two RBMs pretrain with the pretrain_* settings above, then
    # dbm_epochs of joint PCD training at dbm_lr (revival.config.DBMConfig's other defaults)
    "dbm_epochs": 10,
    "dbm_lr": 0.0003,
    # per-variant optimiser settings, {variant: {setting: value}} (a preset's, then --variant-lr etc.),
    # so each variant of a comparison can train at a setting that works for it
    "variant_options": {},
    # evaluate, log and save every this many epochs (and after the last); 1: every epoch
    "eval_every": 1,
    # model selection on the validation split (Keras' EarlyStopping): keep the weights of the epoch of
    # lowest validation error, and stop when that many epochs have passed since it (None: never); off by
    # default, so runs keep the papers' fixed length
    "restore_best": False,
    "patience": None,
}
