"""Is a difference between two classifiers real? Pure functions on their predictions for the same
test images (numpy in, floats out; no torch, no files).

Two models A and B scored on the same n test images disagree on ``b`` images that A gets wrong and B
right, and ``c`` that A gets right and B wrong; the images both get right or both wrong say nothing
about which is better.

- The difference of their error rates is (b - c) / n. Its standard error over the sampling of test
  images, paired (the same images for both), is sqrt((b + c) / n - ((b - c) / n)^2) / sqrt(n): the
  standard deviation of the per-image difference d_i in {-1, 0, 1}, over sqrt(n). Unpaired (two
  independent test sets) it is sqrt(p_A (1 - p_A) / n_A + p_B (1 - p_B) / n_B).
- McNemar's test (McNemar 1947; Dietterich 1998, "Approximate statistical tests for comparing
  supervised classification learning algorithms", Neural Computation 10, recommends it for one test
  set): under "A and B are equally accurate" each discordant image goes either way with probability
  1/2, so b ~ Binomial(b + c, 1/2). The exact two-sided p-value is
  min(1, 2 * P(X <= min(b, c))), X ~ Binomial(b + c, 1/2).
"""

from __future__ import annotations

import math

import numpy as np


def discordant(pred_a, pred_b, label) -> tuple[int, int]:
    """``(b, c)``: images A gets wrong and B right, and A right and B wrong."""
    pred_a, pred_b, label = (np.asarray(v).astype(np.int64) for v in (pred_a, pred_b, label))
    if not (pred_a.shape == pred_b.shape == label.shape):
        raise ValueError(f"predictions of different test sets: {pred_a.shape}, {pred_b.shape}, labels {label.shape}")
    wrong_a, wrong_b = pred_a != label, pred_b != label
    return int(np.sum(wrong_a & ~wrong_b)), int(np.sum(~wrong_a & wrong_b))


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: min(1, 2 P(X <= min(b, c))), X ~ Binomial(b + c, 1/2)
    (1.0 when the models never disagree). Summed in log space, exact for any count."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    log_terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)
    ]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2.0 * tail)


def paired_difference(pred_a, pred_b, label) -> dict:
    """A's error minus B's on the same images, its paired standard error, the discordant counts and
    McNemar's p (module docstring)."""
    b, c = discordant(pred_a, pred_b, label)
    n = len(np.asarray(label))
    d = (b - c) / n
    return {
        "difference": d,
        "se": math.sqrt(max(0.0, (b + c) / n - d * d) / n),
        "a_only_wrong": b,
        "b_only_wrong": c,
        "mcnemar_p": mcnemar_p(b, c),
        "n": n,
    }


def unpaired_se(p_a: float, n_a: int, p_b: float, n_b: int) -> float:
    """Standard error of p_A - p_B for error rates measured on two independent test sets."""
    return math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)


def seeds_se(diffs) -> float | None:
    """Standard error of the mean of per-seed differences (s.d. with ddof 1 over sqrt(k)); None under 2 seeds."""
    diffs = np.asarray(diffs, dtype=float)
    return float(np.std(diffs, ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else None
