"""Signs that a trained generative model is degenerate, each one line that a run prints at its end and
writes into summary.md, with what to change. Pure functions on numbers and arrays (numpy; no files).

- **Worse than the base-rate model.** The base-rate model (independent pixels, each on with its training
  frequency: an RBM with no hidden units; Salakhutdinov & Murray 2008 start AIS from it) scores
  log p(v) = sum_i v_i log p_i + (1 - v_i) log(1 - p_i). A model whose estimated test log-probability is
  lower has learned less than pixel counts (about -206 nats on MNIST's test digits): a collapse, a
  learning rate too large, or a log Z estimate that failed.
- **AIS did not settle.** The effective sample size of the importance weights,
  (sum w)^2 / sum w^2, under 10% of the runs means a few runs carry the estimate: log Z is unreliable
  (more betas or runs).
- **All samples alike.** Fantasies that barely differ from each other (mean over pixels of the
  standard deviation across samples under 0.02) are the sign of chains stuck in one mode, as in a
  collapsed DBM, whatever the other monitors say. pretrain-dbm starts these chains from different
  training images, so that slow mixing alone (chains from the biases all falling into one mode before
  they mix, as a healthy small DBM's do) does not read as a collapse.
"""

from __future__ import annotations

import numpy as np

ESS_SHARE = 0.10  # below this share of the AIS runs, the estimate is carried by a few runs
ALIKE_STD = 0.02  # mean per-pixel standard deviation across samples under this: all samples alike
EPS = 1e-3  # the base-rate model's pixel probabilities are clipped to [EPS, 1 - EPS]


def base_rate_log_prob(train, test) -> float:
    """The average log-probability (nats) of the rows of ``test`` under independent pixels with the
    mean of ``train``'s rows as their probabilities (clipped to [EPS, 1 - EPS]); grey levels in [0, 1]
    give the expectation over their stochastic binarisation."""
    p = np.clip(np.asarray(train, dtype=np.float64).mean(0), EPS, 1 - EPS)
    v = np.asarray(test, dtype=np.float64)
    return float(np.mean(v @ np.log(p) + (1 - v) @ np.log1p(-p)))


def samples_alike(samples) -> bool:
    """Whether the rows of ``samples`` are all about the same image (module docstring)."""
    s = np.asarray(samples, dtype=np.float64)
    return len(s) > 1 and float(s.std(0).mean()) < ALIKE_STD


def degenerate_warnings(
    log_prob: float | None = None,
    base_rate: float | None = None,
    ess: float | None = None,
    ais_runs: int | None = None,
    samples=None,
    what: str = "model",
) -> list[str]:
    """The warning lines that apply (empty when none does); each says what was seen and what to change."""
    out = []
    if log_prob is not None and base_rate is not None and log_prob < base_rate:
        out.append(
            f"warning: the {what}'s test log-probability ({log_prob:.2f} nats) is below the base-rate model's "
            f"({base_rate:.2f}: independent pixels at their training frequencies): it has learned less than pixel "
            "counts (collapsed, a learning rate too large, or log Z misestimated); train longer or at a smaller "
            "rate, and check the samples"
        )
    if ess is not None and ais_runs and ess < ESS_SHARE * ais_runs:
        out.append(
            f"warning: AIS's effective sample size is {ess:.1f} of {ais_runs} runs (under {ESS_SHARE:.0%}): a few "
            "runs carry log Z, so the log-probability is unreliable; use more betas (--ais-betas) or runs (--ais-runs)"
        )
    if samples is not None and samples_alike(samples):
        out.append(
            f"warning: the {what}'s {len(samples)} samples are all alike (the chains sit in one mode): the model has "
            "collapsed or mixes too slowly; see the samples image, and train with a smaller learning rate"
        )
    return out
