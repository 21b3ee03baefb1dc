"""The tables every room may read: the choices settings offer, the limits of the evaluations, and
evaluate-rbm's defaults (its options are not yet a config); every other command's settings are
declared once in :mod:`revival.config`. No torch here and no revival
imports, so the CLI starts fast.
"""

from __future__ import annotations

DATASETS = ("mnist", "fashion-mnist", "kmnist", "mnist-sample", "mnist-basic")
DEVICE_HELP = "auto, cpu, cuda or cuda:N."

# ------------------------------------------------------------------------- RBM training
# lr None in an RBMConfig: the Practical Guide's (Hinton 2010) 0.1 for Bernoulli visibles, 0.01 for Gaussian ones
PRECISIONS = ("fp32", "bf16")
BINARIZE = ("stochastic", "threshold", "none")  # revival.data.binarize's modes
# a DBM's too, and "resample": a fresh Bernoulli sample of every minibatch (the authors' dbm_mf.m)
DBM_BINARIZE = (*BINARIZE, "resample")
# where a DBM's persistent chains start (revival.models.dbm_learn.chains_from)
DBM_CHAIN_STARTS = ("uniform", "data", "biases")
VISIBLE_BIAS_INITS = ("log-odds", "zero")
LR_BY_VISIBLE = {"bernoulli": 0.1, "gaussian": 0.01}

FEEDS = ("probs", "samples")

MAX_AIS_RUNS, MAX_AIS_BETAS = 100_000, 10_000_000  # beyond these AIS would not fit in memory or finish
# AIS's defaults (Salakhutdinov & Murray 2008): 100 runs over 14,501 inverse temperatures (500 in
# [0, 0.5), 4,000 in [0.5, 0.9), 10,000 in [0.9, 1]: revival.models.partition.default_betas)
AIS_RUNS, AIS_BETAS = 100, 14_501
# AIS's inverse temperatures: Salakhutdinov & Murray 2008's piecewise spacing (denser near 1), or evenly
# spaced from 0 to 1 (Salakhutdinov & Hinton 2009 evaluate their DBMs with 20,000 of them)
AIS_SCHEDULES = ("piecewise", "uniform")
AIS_SCHEDULE = AIS_SCHEDULES[0]  # the default spacing: Salakhutdinov & Murray's piecewise one
EVALUATE_DEFAULTS = {
    "split": "test",
    "method": "auto",
    "ais_runs": AIS_RUNS,
    "ais_betas": AIS_BETAS,
    "ais_schedule": AIS_SCHEDULE,
    "layer": None,
    "raise_examples": 300,
    "raise_chains": 1,
    "base_rate": "clip",
    "tolerance": 1.0,
}
BASE_RATES = ("clip", "pseudo-counts")
OPTIMIZERS = ("sgd", "cg")
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
# C tried for the linear SVM (the intersection kernel's feature map: 2,925 features of deskewed digits'
# gradient histograms), chosen on validation likewise: on 50,000 digits its validation error was
# 1.21 / 1.20 / 1.32 / 1.49 / 1.60% at C = 0.01 / 0.03 / 0.1 / 0.3 / 1 (2026-12-06), so the RBF SVM's
# grid, which starts at 1, missed its best C
LINEAR_SVM_CS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# the RBF kernel's width, searched with C on validation as Larochelle et al. 2007 tuned theirs: these
# multiples of scikit-learn's "scale" (1 / (D * Var(x)): about 0.013 for MNIST's grey levels)
SVM_GAMMA_FACTORS = (1 / 3, 1.0, 3.0)
CLASSIC_EXTRA = "classic"  # pip install 'revival[classic]' brings scikit-learn for svm-rbf
# revival.features' pipelines that call scikit-image (its hog); the others are numpy (scipy for a sparse map)
SKIMAGE_PIPELINES = ("hog", "deskew-hog", "deskew-hog-intersection")
RAY_EXTRA = "ray"  # pip install 'revival[ray]' brings Ray for compare-dropout --executor ray
EXECUTORS = ("local", "ray")
