"""Log-partition functions of RBMs: exact enumeration for small layers, and annealed importance
sampling (AIS) for the rest; the average log-probability of data follows from log Z.

References
----------
- R. Neal (2001). Annealed importance sampling. Statistics and Computing 11.
- R. Salakhutdinov & I. Murray (2008). On the quantitative analysis of deep belief networks. ICML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from revival.models import rbm as R
from revival.tables import AIS_BETAS, AIS_RUNS, AIS_SCHEDULE, BASE_RATES

MAX_EXACT_UNITS = 25
# AIS's Z_hat is unbiased, so by Markov's inequality P(Z_hat >= k Z) <= 1/k: with probability >= 99%,
# log Z > log Z_hat - log 100. Unlike log(mean - 3 s.e.), this stays finite when a few runs dominate
# (low effective sample size), so it bounds how *optimistic* an estimated log-probability can be.
MARKOV_LOG_K = math.log(100.0)


def all_states(n: int, start: int, stop: int, device, dtype=torch.float32) -> torch.Tensor:
    """Binary states with integer codes ``start`` .. ``stop - 1`` as rows of n bits."""
    codes = torch.arange(start, stop, device=device, dtype=torch.int64)
    bits = torch.arange(n, device=device, dtype=torch.int64)
    return ((codes[:, None] >> bits[None, :]) & 1).to(dtype)


def exact_log_z(weight, visible_bias, hidden_bias, visible_type="bernoulli", chunk: int = 2**14) -> torch.Tensor:
    """log Z by summing over every state of the smaller layer (at most ``MAX_EXACT_UNITS`` units),
    in chunks so memory stays bounded, in float64:

    over hidden states h:  Z = sum_h exp(c.h) prod_i (1 + exp(b_i + (W^T h)_i))              (Bernoulli)
                           Z = sum_h exp(c.h + b.a + |a|^2 / 2) (2 pi)^(D/2),  a = W^T h       (Gaussian)
    over visible states v: Z = sum_v exp(b.v) prod_j (1 + exp(c_j + (W v)_j))  = sum_v exp(-F(v)).
    """
    W, b, c = weight.double(), visible_bias.double(), hidden_bias.double()
    n_h, n_v = W.shape
    over_hidden = n_h <= n_v or visible_type == "gaussian"
    n = n_h if over_hidden else n_v
    if n > MAX_EXACT_UNITS:
        raise ValueError(f"exact log Z needs a layer of at most {MAX_EXACT_UNITS} units (smallest here: {n})")
    parts = []
    for start in range(0, 2**n, chunk):
        s = all_states(n, start, min(start + chunk, 2**n), W.device, torch.float64)
        if over_hidden:
            a = s @ W
            if visible_type == "bernoulli":
                parts.append(s @ c + F.softplus(a + b).sum(-1))
            else:
                parts.append(s @ c + a @ b + 0.5 * (a * a).sum(-1) + 0.5 * n_v * math.log(2 * math.pi))
        else:
            parts.append(-R.free_energy(s, W, b, c))
    return torch.logsumexp(torch.cat(parts), 0)


def base_rate_bias(train_mean: torch.Tensor, eps: float = 1e-3, kind: str = "clip") -> torch.Tensor:
    """Visible biases of the base-rate model (zero weights) fitted to training pixel means p:
    b_A = log(p / (1 - p)), with p clipped to [eps, 1 - eps] (``clip``), or, as Salakhutdinov's
    ``base_rate.m`` (Salakhutdinov & Murray 2008's code), with 5 pseudo-counts of "on" added per
    100-case batch to the counts and to the number of cases (``pseudo-counts``):
    p = (count + 5 n_batches) / (100 n_batches + 5 n_batches) = (100 p + 5) / 105, in [5/105, 1].
    A pixel on in every training image (p = 1) would get an infinite log-odds there; here p is
    capped at 1 - eps so the base-rate model stays a proper distribution."""
    if kind == "pseudo-counts":
        p = ((100.0 * train_mean + 5.0) / 105.0).clamp(max=1 - eps)
    elif kind == "clip":
        p = train_mean.clamp(eps, 1 - eps)
    else:
        raise ValueError(f"base rate must be one of {BASE_RATES}")
    return torch.log(p / (1 - p))


def default_betas(device=None) -> torch.Tensor:
    """Salakhutdinov & Murray's schedule: 500 steps in [0, 0.5), 4,000 in [0.5, 0.9), 10,000 in [0.9, 1]."""
    return torch.cat(
        [torch.linspace(0, 0.5, 501)[:-1], torch.linspace(0.5, 0.9, 4001)[:-1], torch.linspace(0.9, 1.0, 10001)]
    ).to(device)


def betas_of_size(n: int, device=None, schedule: str = AIS_SCHEDULE) -> torch.Tensor:
    """A schedule of ``n`` intermediate distributions: with the default's shape (1:8:20 in the three
    ranges), or with ``schedule`` "uniform" evenly spaced from 0 to 1."""
    if schedule == "uniform":
        return torch.linspace(0.0, 1.0, max(2, n)).to(device)
    if schedule != "piecewise":
        raise ValueError(f"unknown AIS schedule {schedule!r}")
    if n == AIS_BETAS:
        return default_betas(device)
    n1, n2 = max(1, round(n * 500 / 14_500)), max(1, round(n * 4000 / 14_500))
    n3 = max(2, n - n1 - n2)
    return torch.cat(
        [torch.linspace(0, 0.5, n1 + 1)[:-1], torch.linspace(0.5, 0.9, n2 + 1)[:-1], torch.linspace(0.9, 1.0, n3)]
    ).to(device)


@dataclass
class AISResult:
    log_z: float
    log_z_lower: float  # log(mean - 3 standard errors); -inf when that is <= 0
    log_z_upper: float  # log(mean + 3 standard errors)
    log_z_base: float
    ess: float  # effective sample size of the importance weights
    n_runs: int
    n_betas: int
    log_z_lower_markov: float = -math.inf  # log Z_hat - log(100): Z_hat is unbiased, so P(Z_hat >= 100 Z) <= 1%


def ais_log_z(
    weight,
    visible_bias,
    hidden_bias,
    base_bias,
    n_runs: int = 100,
    betas: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    check=None,
    progress=None,
) -> AISResult:
    """AIS estimate of log Z for a Bernoulli-Bernoulli RBM (Salakhutdinov & Murray 2008, section 4).

    Intermediate distributions interpolate from the base-rate model A (biases ``base_bias``, no
    weights) to the RBM B by the inverse temperature beta_k (after summing out the hidden units):

        log p*_k(v) = (1 - beta_k) b_A.v + beta_k b.v + sum_j softplus(beta_k (W v + c)_j)

    so log Z_0 = sum_i softplus(b_A,i) + n_hidden log 2. Runs start from exact samples of A; at each
    beta_k the importance weight gains log p*_k(v) - log p*_{k-1}(v), then one Gibbs sweep that
    leaves p_k invariant moves v. All runs advance together as one batch. The estimate is
    log Z_0 + log mean(w), computed in log space; bounds are log(mean(w) +- 3 std. errors), and
    ``log_z_lower_markov`` = estimate - log 100 (see ``MARKOV_LOG_K``). ``check()`` (stop on a
    signal) and ``progress(done, total)`` are called about every 1% of the betas.
    """
    W, b, c = weight, visible_bias, hidden_bias
    dev = W.device
    betas = default_betas(dev) if betas is None else betas.to(dev)
    if betas.numel() < 2 or float(betas[0]) != 0.0 or float(betas[-1]) != 1.0:
        raise ValueError("an AIS schedule needs at least 2 betas, from 0 to 1")
    b_a = base_bias.to(dev, W.dtype)
    log_z_base = F.softplus(b_a).sum() + W.shape[0] * math.log(2.0)
    v = torch.bernoulli(torch.sigmoid(b_a).expand(n_runs, -1).contiguous(), generator=generator)
    logw = torch.zeros(n_runs, device=dev, dtype=torch.float64)
    stride = max(1, betas.numel() // 100)
    for k in range(1, betas.numel()):
        if k % stride == 0:
            if check is not None:
                check()
            if progress is not None:
                progress(k, betas.numel() - 1)
        bk, bprev = betas[k], betas[k - 1]
        x = torch.addmm(c, v, W.t())  # W v + c, shared by both log p* terms and the hidden sample
        base_term = v @ b_a
        vis_term = v @ b
        lp_k = (1 - bk) * base_term + bk * vis_term + F.softplus(bk * x).sum(-1)
        lp_prev = (1 - bprev) * base_term + bprev * vis_term + F.softplus(bprev * x).sum(-1)
        logw += (lp_k - lp_prev).double()
        if k < betas.numel() - 1:  # transition T_k leaves p_k invariant
            h = torch.bernoulli(torch.sigmoid(bk * x), generator=generator)
            v = torch.bernoulli(torch.sigmoid((1 - bk) * b_a + bk * torch.addmm(b, h, W)), generator=generator)
    if progress is not None:
        progress(betas.numel() - 1, betas.numel() - 1)
    return _summarise(logw, float(log_z_base), betas.numel())


def _log_f(v, x, b_a, b, beta):
    """log p*_beta(v) of the annealing path (hidden units summed out), given x = W v + c. The sweep
    h ~ p_beta(h | v), v ~ p_beta(v | h) leaves p_beta(v) invariant and is reversible with respect to it."""
    return (1 - beta) * (v @ b_a) + beta * (v @ b) + F.softplus(beta * x).sum(-1)


@dataclass
class RAISEResult:
    log_p: torch.Tensor  # [n_examples] log of the mean importance weight: a stochastic lower bound on log p_fwd(v)
    n_chains: int
    n_betas: int

    @property
    def avg_log_prob(self) -> float:
        return float(self.log_p.mean())


def raise_log_prob(
    v_data,
    weight,
    visible_bias,
    hidden_bias,
    base_bias,
    n_chains: int = 1,
    betas: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    check=None,
    progress=None,
) -> RAISEResult:
    """RAISE (Burda, Grosse & Salakhutdinov 2015): a conservative estimate of each example's
    log-probability under the *forward-annealed* model of AIS, by annealing in reverse from the
    example to the base-rate model.

    AIS as run by :func:`ais_log_z` starts x_0 ~ p_0 (base rate) and moves x_k ~ T_k(. | x_{k-1})
    for k = 1 .. K-1 (T_k a Gibbs sweep at beta_k); the final state x_{K-1} has a proper
    distribution p_fwd, which tends to the RBM's p(v) as the schedule gets finer. Given v = x_{K-1},
    the reverse chain draws x_{k-1} ~ T~_k(. | x_k) for k = K-1 .. 1, where T~_k, the reversal of
    T_k with respect to p_k, is T_k itself (the sweep is reversible). The importance weight of the
    forward path against the reverse one is

        w = p_0(x_0) prod_{k=1}^{K-1} f_k(x_k) / f_k(x_{k-1}),       f_k = p*_k unnormalised,

    with E[w] = p_fwd(v) exactly (no partition function appears: p_0 is normalised). By Jensen,
    E[log mean(w)] <= log p_fwd(v): averaged over examples a stochastic lower bound, the other side
    of AIS's optimistic estimate. ``n_chains`` reverse chains per example; every example and chain
    advance together as one batch. Returns each example's log mean weight."""
    W, b, c = weight, visible_bias, hidden_bias
    dev = W.device
    betas = default_betas(dev) if betas is None else betas.to(dev)
    if betas.numel() < 2 or float(betas[0]) != 0.0 or float(betas[-1]) != 1.0:
        raise ValueError("a RAISE schedule needs at least 2 betas, from 0 to 1")
    if n_chains < 1:
        raise ValueError("RAISE needs at least one chain per example")
    b_a = base_bias.to(dev, W.dtype)
    n = v_data.shape[0]
    v = v_data.to(dev, W.dtype).repeat(n_chains, 1)  # chain j of example i is row j * n + i
    logw = torch.zeros(v.shape[0], device=dev, dtype=torch.float64)
    K = betas.numel() - 1
    stride = max(1, K // 100)
    x = torch.addmm(c, v, W.t())  # W v + c of the current state: both log f and the sweep's hidden step use it
    for k in range(K - 1, 0, -1):  # x_k -> x_{k-1} by T_k; w gains log f_k(x_k) - log f_k(x_{k-1})
        if (K - k) % stride == 0:
            if check is not None:
                check()
            if progress is not None:
                progress(K - k, K - 1)
        bk = betas[k]
        before = _log_f(v, x, b_a, b, bk)
        h = torch.bernoulli(torch.sigmoid(bk * x), generator=generator)
        v = torch.bernoulli(torch.sigmoid((1 - bk) * b_a + bk * torch.addmm(b, h, W)), generator=generator)
        x = torch.addmm(c, v, W.t())
        logw += (before - _log_f(v, x, b_a, b, bk)).double()
    logw += (v @ b_a - F.softplus(b_a).sum()).double()  # log p_0(x_0), the base-rate model normalised
    if progress is not None:
        progress(K - 1, K - 1)
    logw = logw.reshape(n_chains, n)
    return RAISEResult(torch.logsumexp(logw, 0) - math.log(n_chains), n_chains, betas.numel())


def _summarise(logw: torch.Tensor, log_z_base: float, n_betas: int) -> AISResult:
    n = logw.numel()
    m = logw.max()
    w = torch.exp(logw - m)  # weights scaled by exp(-m)
    mean = w.mean()
    log_mean = float(torch.log(mean) + m)
    if n > 1:
        se = w.std(unbiased=True) / math.sqrt(n)
        upper = float(torch.log(mean + 3 * se) + m)
        lo = mean - 3 * se
        lower = float(torch.log(lo) + m) if lo > 0 else -math.inf
    else:  # one run has no standard error: no interval, rather than one of zero width
        lower, upper = -math.inf, math.inf
    ess = float(w.sum() ** 2 / (w * w).sum())
    return AISResult(
        log_mean + log_z_base,
        lower + log_z_base,
        upper + log_z_base,
        log_z_base,
        ess,
        n,
        n_betas,
        log_mean + log_z_base - MARKOV_LOG_K,
    )


def avg_log_prob(data_batches, weight, visible_bias, hidden_bias, log_z: float, visible_type="bernoulli") -> float:
    """Mean over examples of log p(v) = -F(v) - log Z (in nats), in float64; ``data_batches`` is an
    iterable of [n, D] tensors."""
    total, count = 0.0, 0
    for v in data_batches:
        total += float(
            (
                -R.free_energy(v.double(), weight.double(), visible_bias.double(), hidden_bias.double(), visible_type)
            ).sum()
        )
        count += v.shape[0]
    return total / count - log_z


def can_enumerate(weight, visible_type="bernoulli") -> bool:
    n_h, n_v = weight.shape
    return n_h <= MAX_EXACT_UNITS or (visible_type == "bernoulli" and n_v <= MAX_EXACT_UNITS)


SANDWICH_TOLERANCE = 1.0  # nats: AIS and RAISE closer than this on the same examples read as "tight"


@dataclass(frozen=True)
class Estimate:
    """How :func:`log_prob` estimates: ``method`` auto (exact when a layer is small enough, else
    AIS), exact, ais or sandwich (AIS, then RAISE on the first ``raise_examples`` examples with
    ``raise_chains`` chains each); ``ais_runs`` x ``ais_betas`` for AIS (RAISE uses the same
    schedule), the base-rate model (``base_rate``: clip or pseudo-counts), the ``seed``, the
    ``tolerance`` in nats under which AIS and RAISE count as agreeing, the ``batch`` of
    examples whose free energies are computed at once, and the spacing of the inverse temperatures
    (``ais_schedule``, :func:`betas_of_size`)."""

    method: str = "auto"
    ais_runs: int = AIS_RUNS
    ais_betas: int = AIS_BETAS
    seed: int = 0
    base_rate: str = "clip"
    raise_examples: int = 300
    raise_chains: int = 1
    tolerance: float = SANDWICH_TOLERANCE
    batch: int = 10_000
    ais_schedule: str = AIS_SCHEDULE  # betas_of_size's spacing: piecewise, or uniform


def log_prob(
    model: R.RBM, data, train, how: Estimate | None = None, check=None, progress=None, raise_progress=None
) -> dict:
    """Average log-probability of ``data`` under ``model`` (nats per example) with its log Z,
    estimated as ``how`` says (:class:`Estimate`): exact when a layer is small enough, else AIS
    from a base-rate model fitted to the pixel means of ``train``. ``data`` and ``train`` are
    visible data sets (``len``, ``batch``, ``all``). Bounds on log Z give the opposite bounds on
    the log-probability: log p(v) = -F(v) - log Z. ``check`` and ``progress`` go to
    :func:`ais_log_z`, ``raise_progress`` to :func:`raise_log_prob`.

    ``sandwich``: AIS as above (optimistic in expectation: log Z is underestimated on average),
    then RAISE (:func:`raise_log_prob`, conservative) on the first ``raise_examples`` examples with
    the same schedule and base rate; both are reported on those examples, with the gap between
    them and ``tight`` when it is within ``tolerance`` nats."""
    how = how or Estimate()
    method, ais_runs, ais_betas, seed, batch = how.method, how.ais_runs, how.ais_betas, how.seed, how.batch
    base_rate, raise_examples, raise_chains, tolerance = (
        how.base_rate,
        how.raise_examples,
        how.raise_chains,
        how.tolerance,
    )
    W, b, c = model.params()
    vt = model.visible_type
    if method == "auto":
        method = "exact" if can_enumerate(W, vt) else "ais"
    if method == "exact":
        if not can_enumerate(W, vt):
            raise ValueError(
                f"--method exact needs a layer of at most {MAX_EXACT_UNITS} units "
                f"(this RBM is {W.shape[1]}x{W.shape[0]}); use --method ais"
            )
        lz = float(exact_log_z(W, b, c, vt))
        res = {"method": "exact", "log_Z": lz, "log_Z_lower": lz, "log_Z_upper": lz}
    elif method in ("ais", "sandwich"):
        if vt != "bernoulli":
            raise ValueError(
                "AIS supports Bernoulli visible units only; this RBM has Gaussian visibles "
                f"(--method exact works when the hidden layer has at most {MAX_EXACT_UNITS} units)"
            )
        if ais_runs < 1:
            raise ValueError("AIS needs --ais-runs >= 1")
        base = base_rate_bias(train.all().mean(0), kind=base_rate)
        gen = torch.Generator(device=W.device).manual_seed(seed)
        r = ais_log_z(
            W, b, c, base, ais_runs, betas_of_size(ais_betas, W.device, how.ais_schedule), gen, check, progress
        )
        res = {
            "method": method,
            "base_rate": base_rate,
            "log_Z": r.log_z,
            "log_Z_lower": r.log_z_lower,
            "log_Z_upper": r.log_z_upper,
            "log_Z_base": r.log_z_base,
            "ais_runs": r.n_runs,
            "ais_betas": r.n_betas,
            "ais_schedule": how.ais_schedule,
            "ess": r.ess,
            "log_Z_lower_markov": r.log_z_lower_markov,
        }
    else:
        raise ValueError(f"unknown method {method!r}")
    chunks = (data.batch(slice(i, i + batch)) for i in range(0, len(data), batch))
    mean_neg_f = avg_log_prob(chunks, W, b, c, 0.0, vt)
    res.update(
        avg_log_prob=mean_neg_f - res["log_Z"],
        avg_log_prob_lower=mean_neg_f - res["log_Z_upper"],
        avg_log_prob_upper=mean_neg_f - res["log_Z_lower"],
        n_examples=len(data),
    )
    if "log_Z_lower_markov" in res:  # 99% one-sided: the estimate is at most log 100 nats too pessimistic
        res["avg_log_prob_upper_markov"] = mean_neg_f - res["log_Z_lower_markov"]
    if method == "sandwich":
        n = min(raise_examples, len(data))
        if n < 1:
            raise ValueError("--method sandwich needs --raise-examples >= 1")
        subset = data.batch(slice(0, n))
        gen = torch.Generator(device=W.device).manual_seed(seed + 1)
        rr = raise_log_prob(
            subset,
            W,
            b,
            c,
            base,
            raise_chains,
            betas_of_size(ais_betas, W.device, how.ais_schedule),
            gen,
            check,
            raise_progress,
        )
        ais_subset = avg_log_prob([subset], W, b, c, res["log_Z"], vt)
        gap = ais_subset - rr.avg_log_prob
        res.update(
            raise_avg_log_prob=rr.avg_log_prob,
            raise_examples=n,
            raise_chains=raise_chains,
            ais_avg_log_prob_subset=ais_subset,
            ais_avg_log_prob_subset_upper_markov=ais_subset + MARKOV_LOG_K,
            sandwich_gap=gap,
            tolerance=tolerance,
            tight=bool(abs(gap) <= tolerance),
        )
    return res


__all__ = [
    "log_prob",
    "Estimate",
    "raise_log_prob",
    "RAISEResult",
    "exact_log_z",
    "ais_log_z",
    "AISResult",
    "default_betas",
    "betas_of_size",
    "base_rate_bias",
    "avg_log_prob",
    "can_enumerate",
    "all_states",
]
