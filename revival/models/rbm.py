"""Restricted Boltzmann machines: energies, conditionals, Gibbs sampling and CD-k / PCD statistics.

Notation: visible v (n_visible), hidden h (n_hidden), weight W (n_hidden x n_visible), visible
bias b, hidden bias c.

References
----------
- G. Hinton (2002). Training products of experts by minimizing contrastive divergence. Neural Comp.
- G. Hinton (2010). A practical guide to training restricted Boltzmann machines. UTML TR 2010-003.
- T. Tieleman (2008). Training RBMs using approximations to the likelihood gradient. ICML.
- N. Srivastava et al. (2014). Dropout. JMLR 15, section 8 (dropout RBMs).

Every function here is pure (inputs in, tensors out); randomness comes only from the
``torch.Generator`` passed in. Nothing here logs, prints or touches files.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VISIBLE_TYPES = ("bernoulli", "gaussian")
FORMAT = "revival.rbm.v1"


class RBM(nn.Module):
    """Parameters of an RBM: ``weight`` [n_hidden, n_visible], ``visible_bias``, ``hidden_bias``."""

    def __init__(self, n_visible: int, n_hidden: int, visible_type: str = "bernoulli"):
        super().__init__()
        if visible_type not in VISIBLE_TYPES:
            raise ValueError(f"visible_type must be one of {VISIBLE_TYPES}")
        self.visible_type = visible_type
        self.weight = nn.Parameter(torch.zeros(n_hidden, n_visible), requires_grad=False)
        self.visible_bias = nn.Parameter(torch.zeros(n_visible), requires_grad=False)
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden), requires_grad=False)

    @property
    def n_visible(self) -> int:
        return self.weight.shape[1]

    @property
    def n_hidden(self) -> int:
        return self.weight.shape[0]

    def params(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.weight.data, self.visible_bias.data, self.hidden_bias.data

    # -- the public methods of the library API: numpy (or tensors) in, the same kind out

    @torch.no_grad()
    def transform(self, v):
        """P(h = 1 | v) for each row of ``v`` (the features an RBM passes on), [n, n_hidden]."""
        return _like(v, hidden_probs(_tensor(v, self.weight), self.weight, self.hidden_bias))

    @torch.no_grad()
    def free_energy(self, v):
        """F(v) of each row (:func:`free_energy`); p(v) = exp(-F(v)) / Z."""
        return _like(v, free_energy(_tensor(v, self.weight), *self.params(), self.visible_type))

    @torch.no_grad()
    def sample(self, n: int = 100, gibbs_steps: int = 1000, seed: int = 0):
        """``n`` fantasies E[v | h] after ``gibbs_steps`` alternating Gibbs sweeps from noise
        (Bernoulli(sigmoid(b)), or N(b, 1) for Gaussian visibles), as a numpy array [n, n_visible]."""
        sampling_args(n, gibbs_steps, seed)
        W, b, c = self.params()
        g = torch.Generator(device=W.device).manual_seed(seed)
        v = noise_chains(n, b, self.visible_type, g)
        for _ in range(gibbs_steps):
            v = sample_visible(
                visible_mean(sample_bernoulli(hidden_probs(v, W, c), g), W, b, self.visible_type), self.visible_type, g
            )
        return visible_mean(sample_bernoulli(hidden_probs(v, W, c), g), W, b, self.visible_type).cpu().numpy()

    def checkpoint(self, config: dict | None = None) -> dict:
        """This RBM in the public format ``revival.rbm.v1`` (:func:`checkpoint_dict`)."""
        return checkpoint_dict(self, config or {}, {"preprocessing": getattr(self, "preprocessing", None) or {}})

    @torch.no_grad()
    def init_(self, generator: torch.Generator, visible_mean: torch.Tensor | None = None, std: float = 0.01):
        """Hinton (2010) section 8: W ~ N(0, std^2), c = 0, b_i = log(p_i / (1 - p_i)) where p_i is the
        fraction of training vectors with unit i on (clipped to [1e-3, 1 - 1e-3]); b = 0 if not given.
        For Gaussian visibles b is the data mean (zero for standardised data)."""
        self.weight.normal_(0.0, std, generator=generator)
        self.hidden_bias.zero_()
        if visible_mean is None:
            self.visible_bias.zero_()
        elif self.visible_type == "bernoulli":
            p = visible_mean.clamp(1e-3, 1 - 1e-3)
            self.visible_bias.copy_(torch.log(p / (1 - p)))
        else:
            self.visible_bias.copy_(visible_mean)
        return self


def _tensor(x, like: torch.Tensor, width: int | None = None, what: str = "x") -> torch.Tensor:
    """``x`` (numpy or tensor, one row [d] or rows [n, d]) as a float tensor [n, d] on ``like``'s device
    and dtype. ValueError naming both widths when ``d`` is not ``width`` (``like``'s columns by
    default: a reshape would silently change the number of rows), and when ``x`` holds NaN or inf."""
    t = torch.as_tensor(x)
    width = like.shape[-1] if width is None else width
    if t.dim() == 0 or t.dim() > 2:
        raise ValueError(f"{what}: expected rows [n, {width}], got an array of shape {tuple(t.shape)}")
    if t.shape[-1] != width:
        raise ValueError(f"{what}: rows of {t.shape[-1]} values, the model takes {width}")
    t = t.to(device=like.device, dtype=like.dtype).reshape(-1, width)
    if t.numel() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{what}: holds NaN or inf")
    return t


def sampling_args(n, gibbs_steps, seed) -> None:
    """What every model's ``sample`` takes: ``n`` >= 1 samples, ``gibbs_steps`` >= 0 sweeps, a seed
    torch accepts; ValueError naming the argument otherwise."""
    for name, v, lo, hi in (("n", n, 1, 10**7), ("gibbs_steps", gibbs_steps, 0, 10**8), ("seed", seed, 0, 2**63 - 1)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"{name}: expected a whole number in {lo}..{hi:,}, got {v!r}")


def _like(x, t: torch.Tensor):
    """``t`` as numpy when ``x`` was not a tensor (the library API's convention), else as it is."""
    return t if isinstance(x, torch.Tensor) else t.cpu().numpy()


# ------------------------------------------------------------------------- conditionals


def hidden_probs(v, weight, hidden_bias):
    """P(h_j = 1 | v) = sigmoid(c_j + sum_i W_ji v_i)  (same for Bernoulli and Gaussian visibles)."""
    return torch.sigmoid(torch.addmm(hidden_bias, v, weight.t()))


def visible_mean(h, weight, visible_bias, visible_type="bernoulli"):
    """E[v | h]: Bernoulli: P(v_i = 1 | h) = sigmoid(b_i + sum_j h_j W_ji);
    Gaussian (unit variance): b_i + sum_j h_j W_ji."""
    a = _affine(visible_bias, h, weight)
    return torch.sigmoid(a) if visible_type == "bernoulli" else a


def sample_bernoulli(p, generator):
    """Binary states s with P(s = 1) = p, as u < p with u ~ U(0, 1). (Unlike ``torch.bernoulli`` this
    does not raise on NaN, so a diverging run reaches the end-of-epoch check that reports it.)"""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return torch.lt(u, p, out=u)  # 1.0 where u < p, written over u (no bool tensor, no extra pass)


def sample_visible(mean, visible_type, generator):
    """A draw from p(v | h) given its mean: Bernoulli, or N(mean, 1) for Gaussian units."""
    if visible_type == "bernoulli":
        return sample_bernoulli(mean, generator)
    return mean + torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)


# ------------------------------------------------------------------------- energies


def energy(v, h, weight, visible_bias, hidden_bias, visible_type="bernoulli"):
    """E(v, h) = -b.v - c.h - h W v  (Bernoulli);  ||v - b||^2 / 2 - c.h - h W v  (unit-variance Gaussian)."""
    inter = ((h @ weight) * v).sum(-1)
    vis = -(v @ visible_bias) if visible_type == "bernoulli" else 0.5 * ((v - visible_bias) ** 2).sum(-1)
    return vis - h @ hidden_bias - inter


def free_energy(v, weight, visible_bias, hidden_bias, visible_type="bernoulli"):
    """F(v) = -log sum_h exp(-E(v, h)) = -b.v - sum_j softplus(c_j + W_j v)   (Bernoulli visibles),
    ||v - b||^2 / 2 - sum_j softplus(c_j + W_j v)   (Gaussian). p(v) = exp(-F(v)) / Z (Hinton 2010, 16.1)."""
    return free_energy_given_input(v, torch.addmm(hidden_bias, v, weight.t()), visible_bias, visible_type)


def free_energy_given_input(v, x, visible_bias, visible_type="bernoulli"):
    """F(v) from the hidden units' total input x = c + W v when it is already at hand (the monitors
    and the pseudo-likelihood reuse it): the visible term minus sum_j softplus(x_j)."""
    vis = -(v @ visible_bias) if visible_type == "bernoulli" else 0.5 * ((v - visible_bias) ** 2).sum(-1)
    return vis - F.softplus(x).sum(-1)


def noise_chains(n: int, visible_bias, visible_type, generator):
    """``n`` Gibbs chains started from the visible biases alone: Bernoulli(sigmoid(b)) states, or
    N(b, 1) for Gaussian units (the start of PCD's chains, the display chains and the samplers)."""
    mean = torch.sigmoid(visible_bias) if visible_type == "bernoulli" else visible_bias
    return sample_visible(mean.detach().expand(n, -1).contiguous(), visible_type, generator)


def pseudo_log_likelihood(v, weight, visible_bias, hidden_bias, flip_index, hidden_input=None):
    """Stochastic pseudo-log-likelihood of binary v, one flipped unit per example (Besag 1975):
    PL(v) ~= D * log sigmoid(F(v~) - F(v)), where v~ is v with unit i = ``flip_index[n]`` flipped and
    D the number of visible units; log P(v_i | v_-i) = log sigmoid(F(v~) - F(v)).

    Flipping v_i changes the hidden input c + W v by (1 - 2 v_i) W[:, i] and b.v by (1 - 2 v_i) b_i,
    so F(v~) needs no second matmul; ``hidden_input`` (c + W v, if already computed) saves the first."""
    x = torch.addmm(hidden_bias, v, weight.t()) if hidden_input is None else hidden_input
    rows = torch.arange(v.shape[0], device=v.device)
    sign = 1.0 - 2.0 * v[rows, flip_index]  # +1 where the bit turns on, -1 where it turns off
    fe = free_energy_given_input(v, x, visible_bias)
    fe_flip = (
        fe
        - sign * visible_bias[flip_index]
        + F.softplus(x).sum(-1)
        - F.softplus(x + sign[:, None] * weight.t()[flip_index]).sum(-1)
    )
    return v.shape[1] * F.logsigmoid(fe_flip - fe)


# ------------------------------------------------------------------------- learning statistics


def cd_statistics(
    v0,
    weight,
    visible_bias,
    hidden_bias,
    k,
    generator,
    visible_type="bernoulli",
    chain=None,
    hidden_keep=None,
    out=None,
    lowp=None,
    hidden_chain: bool = False,
):
    """Gradient statistics of CD-k (Hinton 2002) or, given a persistent ``chain``, PCD (Tieleman 2008).

    The log-likelihood gradient is  dlogp/dW = <h v>_data - <h v>_model,  estimated as

        pos = P(h|v0) v0^T                         (data phase, hidden probabilities)
        neg = P(h|v_k) v_k^T                       (after k Gibbs steps from v0, or from the chain)

    Following the Practical Guide (section 3): hidden states are *sampled* to drive each
    reconstruction, and the statistics use probabilities, never hidden samples. For CD the last
    visible step enters as probabilities (means) v_k, as the Guide advises; for PCD it enters as the
    *sampled* fantasy particles v_k that the persistent chain carries (Tieleman 2008), which keeps
    the negative statistics an unbiased estimate of the model's <h v> once the chains have mixed.
    ``hidden_keep`` (0/1, shape [B, n_hidden]) is the dropout-RBM mask (Srivastava et al. 2014,
    sec. 8): P(h_j = 1 | v, r) = r_j sigmoid(...), one mask per example kept through the whole chain.

    Returns ``(h_stack, v_stack, grad_visible_bias, grad_hidden_bias, recon, chain_out)``. The weight
    gradient of the *mean* log-likelihood over the batch is one matmul of the stacked factors,
    ``h_stack^T v_stack / B`` with h_stack = [h0; -h_neg] and v_stack = [v0; v_neg]; callers fuse it
    into their update (see :func:`weight_gradient`). ``recon`` is the mean reconstruction
    E[v_1 | h_0] of v0 with h_0 sampled from the data (for the reconstruction error); ``chain_out``
    the last sampled visible state v_k (the new persistent chain; None for CD, which needs no
    final visible sample). ``out=(h_buf, v_buf)``, buffers of at least 2B rows, receives the stacks
    without allocating (a trainer's workspace); ``v0`` may already be ``v_buf[:B]``.
    ``lowp`` (e.g. torch.bfloat16): the matrix products run in that dtype on copies of the
    parameters (mixed precision); their results, the sampling and the statistics stay float32.

    ``hidden_chain``: the persistent chain holds *hidden* states [B, n_hidden], as scikit-learn's
    ``BernoulliRBM`` keeps them (``h_samples_``): v_k is drawn from them, and the new chain is a sample
    of P(h | v_k) taken with the parameters of this update (revival's own PCD keeps the visible state
    v_k and draws the next hidden sample after the update). Both are Gibbs sweeps; on 400 MNIST digits
    scikit-learn's order gave features that a logistic regression classified 6-9 points better.
    """
    if k < 1:
        raise ValueError("CD-k needs k >= 1")
    if lowp is not None:  # the products' copies of the parameters, made once per batch
        weight, visible_bias, hidden_bias = weight.to(lowp), visible_bias.to(lowp), hidden_bias.to(lowp)
    B = v0.shape[0]
    if out is None:
        out = (v0.new_empty(2 * B, weight.shape[0]), v0.new_empty(2 * B, weight.shape[1]))
    hs, vs = out[0][: 2 * B], out[1][: 2 * B]
    h0, h_neg, v_data, v_neg = hs[:B], hs[B:], vs[:B], vs[B:]
    if v_data.data_ptr() != v0.data_ptr():
        v_data.copy_(v0)
    _hidden_probs_into(h0, v_data, weight, hidden_bias, hidden_keep)
    if chain is None:
        h_drive = h0
    elif hidden_chain:  # binary hidden states already: sampling them again returns them unchanged
        h_drive = chain
    else:
        h_drive = _hidden_probs_into(h_neg, chain, weight, hidden_bias, hidden_keep)
    recon = v = None
    for step in range(k):
        last_cd = step == k - 1 and chain is None
        vm = _affine(visible_bias, sample_bernoulli(h_drive, generator), weight, out=v_neg if last_cd else None)
        if visible_type == "bernoulli":
            vm.sigmoid_()
        if recon is None and chain is None:
            recon = vm
        if not last_cd:
            v = sample_visible(vm, visible_type, generator)
        if step < k - 1:
            h_drive = _hidden_probs_into(h_neg, v, weight, hidden_bias, hidden_keep)
    if chain is not None:
        recon = visible_mean(sample_bernoulli(h0, generator), weight, visible_bias, visible_type)
        v_neg.copy_(v)
    _hidden_probs_into(h_neg, v_neg, weight, hidden_bias, hidden_keep)
    if hidden_chain and chain is not None:  # the next hidden state, from this update's P(h | v_k)
        v = sample_bernoulli(h_neg, generator)
    h_neg.neg_()
    gb = (v_data.sum(0) - v_neg.sum(0)) / B
    gc = hs.sum(0) / B  # = (sum h0 - sum h_neg) / B, as the second half is negated
    return hs, vs, gb, gc, recon, v


def cd_k_reference(v0, weight, visible_bias, hidden_bias, k, generator, visible_type="bernoulli"):
    """CD-k written to be read (the fused :func:`cd_statistics` is the one that trains; a test
    checks that both give the same numbers from the same random draws). Hinton (2002, 2010 sec. 3):

        h_0 = P(h|v_0);  for t = 1..k: v_t ~ p(v|h_{t-1} sampled) (v_k: its mean),  h_t = P(h|v_t)
        grad W = (h_0^T v_0 - h_k^T v_k) / B,  grad b = mean(v_0 - v_k),  grad c = mean(h_0 - h_k)
    """
    h0 = h = hidden_probs(v0, weight, hidden_bias)
    for step in range(k):
        mean = visible_mean(sample_bernoulli(h, generator), weight, visible_bias, visible_type)
        v = mean if step == k - 1 else sample_visible(mean, visible_type, generator)
        h = hidden_probs(v, weight, hidden_bias)
    B = v0.shape[0]
    return (h0.t() @ v0 - h.t() @ v) / B, (v0 - v).mean(0), (h0 - h).mean(0)


def _hidden_probs_into(out, v, weight, hidden_bias, keep):
    """``out`` <- P(h = 1 | v) (times the dropout mask), in place."""
    _affine(hidden_bias, v, weight.t(), out=out).sigmoid_()
    return out if keep is None else out.mul_(keep)


def _affine(bias, x, w, out=None):
    """bias + x w, computed in ``w``'s dtype (``x`` cast to it); a low-precision product comes back
    as float32 (into ``out`` when given)."""
    if w.dtype == x.dtype:
        return torch.addmm(bias, x, w, out=out)
    r = torch.addmm(bias, x.to(w.dtype), w)
    return r.float() if out is None else out.copy_(r)


def weight_gradient(h_stack, v_stack):
    """dlogp/dW = (h0^T v0 - h_neg^T v_neg) / B = h_stack^T v_stack / B: both terms in one matmul."""
    return h_stack.t() @ v_stack / (h_stack.shape[0] // 2)


def sparsity_gradient(q, target, v_mean):
    """Sparsity penalty (Hinton 2010, section 11): cross-entropy between the target activation p
    and the running estimate q of each hidden unit's mean activation,
    -p log q - (1 - p) log(1 - q), whose derivative w.r.t. a unit's total input is q - p.
    Returns the ascent directions (grad_weight, grad_hidden_bias) = (p - q) x (v_mean, 1)."""
    d = target - q
    return d[:, None] * v_mean[None, :], d


def reconstruction_error(v0, recon):
    """Sum over the batch of the squared error ||v0 - E[v_1|h_0]||^2 (a poor but familiar monitor)."""
    return F.mse_loss(recon, v0, reduction="sum")


def checkpoint_dict(rbm: RBM, config: dict, extra: dict | None = None) -> dict:
    """The public checkpoint format ``revival.rbm.v1`` (see design.md)."""
    out = {
        "format": FORMAT,
        "visible_type": rbm.visible_type,
        "config": dict(config),
        "state_dict": {
            "weight": rbm.weight.detach().cpu().clone(),
            "visible_bias": rbm.visible_bias.detach().cpu().clone(),
            "hidden_bias": rbm.hidden_bias.detach().cpu().clone(),
        },
    }
    if extra:
        out.update(extra)
    return out


def checked_state(sd, shapes: dict, where: str) -> dict:
    """The one rule every checkpoint format passes before any model is built (so a file that declares
    784-20000-20000 allocates nothing when its tensors do not match): ``sd`` holds a tensor of exactly
    each shape in ``shapes`` (name -> shape, from the sizes the file declares), every value finite.
    Returns the tensors as float32; ValueError naming ``where`` and the first fault."""
    if not isinstance(sd, dict):
        raise ValueError(f"{where}: state_dict is not a dict of tensors")
    out = {}
    for name, shape in shapes.items():
        t = sd.get(name)
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{where}: state_dict lacks the tensor {name!r}")
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"{where}: {name} is {tuple(t.shape)}, the declared sizes need {tuple(shape)}")
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise ValueError(f"{where}: {name} holds NaN, inf or non-float values")
        out[name] = t.float()
    extra = [k for k in sd if k not in shapes]
    if extra:
        raise ValueError(f"{where}: state_dict has tensors the declared sizes do not: {', '.join(map(str, extra[:3]))}")
    return out


def declared_sizes(sizes, where: str, least: int = 2, most: int = 100_000) -> list[int]:
    """A checkpoint's declared layer sizes as a list of ints in 1..``most`` (at least ``least`` of them)."""
    if (
        not isinstance(sizes, (list, tuple))
        or len(sizes) < least
        or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= most for n in sizes)
    ):
        raise ValueError(f"{where}: declared sizes {sizes!r} are not {least} or more whole numbers in 1..{most:,}")
    return list(sizes)


def from_checkpoint(ck, where: str = "checkpoint") -> RBM:
    """Build an RBM from a ``revival.rbm.v1`` dict, checking the format and shapes; ValueError if wrong."""
    if not isinstance(ck, dict) or ck.get("format") != FORMAT or not isinstance(ck.get("state_dict"), dict):
        raise ValueError(f"{where}: not a revival RBM checkpoint (expected a dict with format {FORMAT!r})")
    sd = ck["state_dict"]
    try:
        w, b, c = sd["weight"], sd["visible_bias"], sd["hidden_bias"]
    except KeyError as e:
        raise ValueError(f"{where}: state_dict lacks {e.args[0]!r}") from None
    if not all(isinstance(t, torch.Tensor) for t in (w, b, c)) or w.dim() != 2 or b.dim() != 1 or c.dim() != 1:
        raise ValueError(f"{where}: weight must be 2-D and the biases 1-D tensors")
    if w.shape != (c.shape[0], b.shape[0]):
        raise ValueError(
            f"{where}: shapes disagree: weight {tuple(w.shape)}, visible_bias {tuple(b.shape)}, "
            f"hidden_bias {tuple(c.shape)} (weight must be n_hidden x n_visible)"
        )
    vt = ck.get("visible_type", "bernoulli")
    if vt not in VISIBLE_TYPES:
        raise ValueError(f"{where}: unknown visible_type {vt!r}")
    if not all(torch.isfinite(t).all() for t in (w, b, c)):
        raise ValueError(f"{where}: parameters contain NaN or inf")
    rbm = RBM(w.shape[1], w.shape[0], vt)
    rbm.load_state_dict({"weight": w.float(), "visible_bias": b.float(), "hidden_bias": c.float()})
    return rbm
