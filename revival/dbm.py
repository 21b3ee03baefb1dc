"""Deep Boltzmann machines with two hidden layers (Salakhutdinov & Hinton 2009): the math.

Binary units v (n_visible), h1 (n_hidden1), h2 (n_hidden2); weights W1 [n1, nv], W2 [n2, n1]; biases
b, c1, c2. Every layer is undirected:

    E(v, h1, h2) = -b.v - c1.h1 - c2.h2 - h1.W1 v - h2.W2 h1

so the middle layer hears both neighbours: P(h1_j = 1 | v, h2) = sigmoid(c1 + W1 v + W2^T h2)_j,
while P(v_i = 1 | h1) = sigmoid(b + W1^T h1)_i and P(h2_k = 1 | h1) = sigmoid(c2 + W2 h1)_k.

- **Mean-field inference** approximates the posterior p(h1, h2 | v) by a factorised q with means
  mu1, mu2 satisfying the fixed-point equations mu1 = sigmoid(c1 + W1 v + W2^T mu2),
  mu2 = sigmoid(c2 + W2 mu1) (:func:`mean_field`). It gives the variational lower bound
  log p(v) >= -E_q[E(v, h)] + H(q) - log Z (:func:`variational_bound`).
- **Gibbs sampling** alternates the even layers (v and h2, independent given h1) and the odd one (h1).
- **Training** (:func:`pcd_statistics`): the data-dependent statistics from mean-field, the model's
  from persistent Markov chains (Tieleman 2008), as Salakhutdinov & Hinton 2009, section 3.
- **Exact** log Z and log p(v) for tiny models (:func:`exact_log_z`): v and h2 are independent given
  h1, so summing them out analytically leaves a sum over the 2^n1 states of h1.

Nothing here logs, prints or touches files; randomness only from the generator passed in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import rbm as R
from .partition import all_states

FORMAT = "revival.dbm.v1"
MAX_EXACT_UNITS = 20  # 2^20 states of h1 still enumerate in seconds


class DBM(nn.Module):
    """Parameters of a two-hidden-layer DBM: ``w1`` [n1, nv], ``w2`` [n2, n1], ``b``, ``c1``, ``c2``."""

    def __init__(self, n_visible: int, n_hidden1: int, n_hidden2: int):
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(n_hidden1, n_visible), requires_grad=False)
        self.w2 = nn.Parameter(torch.zeros(n_hidden2, n_hidden1), requires_grad=False)
        self.b = nn.Parameter(torch.zeros(n_visible), requires_grad=False)
        self.c1 = nn.Parameter(torch.zeros(n_hidden1), requires_grad=False)
        self.c2 = nn.Parameter(torch.zeros(n_hidden2), requires_grad=False)

    def params(self):
        return self.w1.data, self.w2.data, self.b.data, self.c1.data, self.c2.data

    @property
    def layers(self) -> list[int]:
        return [self.w1.shape[1], self.w1.shape[0], self.w2.shape[0]]

    @torch.no_grad()
    def transform(self, v, steps: int = 10):
        """The mean-field means of the top layer for each row of ``v`` (the DBM's features)."""
        return R._like(v, mean_field(R._tensor(v, self.w1), *self.params(), steps=steps)[1])

    @torch.no_grad()
    def sample(self, n: int = 100, gibbs_steps: int = 1000, seed: int = 0):
        """``n`` fantasies P(v = 1 | h1) after ``gibbs_steps`` sweeps from noise, as a numpy array."""
        g = torch.Generator(device=self.w1.device).manual_seed(seed)
        chain = noise_chains(n, *self.params(), generator=g)
        for _ in range(gibbs_steps):
            chain = gibbs_sweep(*chain, *self.params(), generator=g)
        return torch.sigmoid(torch.addmm(self.b, chain[1], self.w1)).cpu().numpy()

    def checkpoint(self, config: dict | None = None, preprocessing: dict | None = None) -> dict:
        """The public format ``revival.dbm.v1``: the state dict, the layer sizes, the training config
        and what was done to the data (``preprocessing``: dataset, binarize, seed)."""
        return {
            "format": FORMAT,
            "layers": self.layers,
            "config": dict(config or {}),
            "preprocessing": dict(preprocessing or {}),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
        }

    def save(self, path):
        """Write :meth:`checkpoint` to ``path`` atomically (``revival.load(path)`` reads it back)."""
        from .runs import save_torch

        save_torch(path, self.checkpoint())


def from_checkpoint(ck, where: str = "checkpoint") -> DBM:
    """A :class:`DBM` from a ``revival.dbm.v1`` dict; ValueError naming ``where`` when it is not one."""
    if not isinstance(ck, dict) or ck.get("format") != FORMAT or not isinstance(ck.get("state_dict"), dict):
        raise ValueError(f"{where}: not a revival DBM checkpoint (expected a dict with format {FORMAT!r})")
    try:
        model = DBM(*ck["layers"])
        model.load_state_dict(ck["state_dict"])
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise ValueError(f"{where}: a {FORMAT} checkpoint that does not fit its sizes ({type(e).__name__})") from None
    return model


# ------------------------------------------------------------------------- energies and conditionals


def energy(v, h1, h2, w1, w2, b, c1, c2):
    """E(v, h1, h2) = -b.v - c1.h1 - c2.h2 - h1.W1 v - h2.W2 h1, one value per row."""
    return -(v @ b) - (h1 @ c1) - (h2 @ c2) - ((h1 @ w1) * v).sum(-1) - ((h2 @ w2) * h1).sum(-1)


def h1_given(v, h2, w1, w2, c1):
    """P(h1 = 1 | v, h2) = sigmoid(c1 + W1 v + W2^T h2): the middle layer hears both neighbours."""
    return torch.sigmoid(torch.addmm(c1, v, w1.t()) + h2 @ w2)


def mean_field(v, w1, w2, b, c1, c2, steps: int = 10, tol: float = 0.0, init=None):
    """Mean-field means (mu1, mu2) of q(h1) q(h2) ~ p(h1, h2 | v), by iterating
    mu1 <- sigmoid(c1 + W1 v + W2^T mu2), mu2 <- sigmoid(c2 + W2 mu1) for ``steps`` rounds or until
    no mean moves by more than ``tol``. Started from ``init`` or from the bottom-up pass with
    doubled input to h1 (mu1 = sigmoid(c1 + 2 W1 v), mu2 = sigmoid(c2 + W2 mu1)), which stands in
    for the missing top-down signal (Salakhutdinov & Hinton 2009, section 3.1)."""
    x1 = torch.addmm(c1, v, w1.t())  # c1 + W1 v, fixed while the means move
    if init is None:
        mu1 = torch.sigmoid(2 * x1 - c1)
        mu2 = torch.sigmoid(torch.addmm(c2, mu1, w2.t()))
    else:
        mu1, mu2 = init
    for _ in range(steps):
        new1 = torch.sigmoid(x1 + mu2 @ w2)
        new2 = torch.sigmoid(torch.addmm(c2, new1, w2.t()))
        moved = torch.maximum((new1 - mu1).abs().max(), (new2 - mu2).abs().max()) if tol > 0 else None
        mu1, mu2 = new1, new2
        if moved is not None and moved <= tol:
            break
    return mu1, mu2


def _entropy(p):
    """sum_j H(Bernoulli(p_j)) per row, with 0 log 0 = 0."""
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)).sum(-1)


def variational_bound(v, mu1, mu2, w1, w2, b, c1, c2, log_z: float = 0.0):
    """The lower bound on log p(v) given by the factorised q with means mu1, mu2:
    E_q[-E(v, h)] + H(q) - log Z = b.v + c1.mu1 + c2.mu2 + mu1.W1 v + mu2.W2 mu1 + H(mu1) + H(mu2) - log Z
    (Salakhutdinov & Hinton 2009, eq. 6). Equal to log p(v) exactly when p(h1, h2 | v) factorises as q."""
    return -energy(v, mu1, mu2, w1, w2, b, c1, c2) + _entropy(mu1) + _entropy(mu2) - log_z


# ------------------------------------------------------------------------- sampling


def noise_chains(n: int, w1, w2, b, c1, c2, generator):
    """``n`` Gibbs chains (v, h1, h2) started from each layer's biases alone."""
    v = R.sample_bernoulli(torch.sigmoid(b).expand(n, -1).contiguous(), generator)
    h1 = R.sample_bernoulli(torch.sigmoid(c1).expand(n, -1).contiguous(), generator)
    h2 = R.sample_bernoulli(torch.sigmoid(c2).expand(n, -1).contiguous(), generator)
    return v, h1, h2


def gibbs_sweep(v, h1, h2, w1, w2, b, c1, c2, generator):
    """One sweep: h1 ~ P(h1 | v, h2), then v ~ P(v | h1) and h2 ~ P(h2 | h1) (independent given h1)."""
    h1 = R.sample_bernoulli(h1_given(v, h2, w1, w2, c1), generator)
    v = R.sample_bernoulli(torch.sigmoid(torch.addmm(b, h1, w1)), generator)
    h2 = R.sample_bernoulli(torch.sigmoid(torch.addmm(c2, h1, w2.t())), generator)
    return v, h1, h2


# ------------------------------------------------------------------------- learning statistics


def pcd_statistics(v, chain, w1, w2, b, c1, c2, generator, mf_steps: int = 10, gibbs_steps: int = 1):
    """Gradient of the mean log-likelihood bound over the batch ``v`` (Salakhutdinov & Hinton 2009,
    section 3): data-dependent expectations from mean-field (mu1, mu2), model expectations from the
    persistent ``chain`` (v', h1', h2') after ``gibbs_steps`` sweeps:

        dW1 = <mu1 v^T>_data - <h1' v'^T>_model,   dW2 = <mu2 mu1^T>_data - <h2' h1'^T>_model,
        db = <v> - <v'>,  dc1 = <mu1> - <h1'>,  dc2 = <mu2> - <h2'>

    Returns ``(grads, chain)``: the five gradients (W1, W2, b, c1, c2) and the chains moved on."""
    mu1, mu2 = mean_field(v, w1, w2, b, c1, c2, steps=mf_steps)
    for _ in range(gibbs_steps):
        chain = gibbs_sweep(*chain, w1, w2, b, c1, c2, generator)
    cv, ch1, ch2 = chain
    n, m = v.shape[0], cv.shape[0]
    grads = (
        mu1.t() @ v / n - ch1.t() @ cv / m,
        mu2.t() @ mu1 / n - ch2.t() @ ch1 / m,
        v.mean(0) - cv.mean(0),
        mu1.mean(0) - ch1.mean(0),
        mu2.mean(0) - ch2.mean(0),
    )
    return grads, chain


# ------------------------------------------------------------------------- exact, for tiny models


def _sum_out_even(h1, w1, w2, b, c1, c2):
    """log sum_{v, h2} exp(-E(v, h1, h2)) for each row of h1: c1.h1 + sum_i softplus(b + W1^T h1)_i
    + sum_k softplus(c2 + W2 h1)_k (v and h2 are independent given h1)."""
    return h1 @ c1 + F.softplus(torch.addmm(b, h1, w1)).sum(-1) + F.softplus(torch.addmm(c2, h1, w2.t())).sum(-1)


def exact_log_z(w1, w2, b, c1, c2, chunk: int = 2**14) -> torch.Tensor:
    """log Z by enumerating the 2^n1 states of h1 with v and h2 summed out (:func:`_sum_out_even`)."""
    n1 = w1.shape[0]
    if n1 > MAX_EXACT_UNITS:
        raise ValueError(f"exact log Z enumerates 2^{n1} states of the middle layer; at most {MAX_EXACT_UNITS} units")
    parts = [
        _sum_out_even(all_states(n1, s, min(s + chunk, 2**n1), w1.device, w1.dtype), w1, w2, b, c1, c2)
        for s in range(0, 2**n1, chunk)
    ]
    return torch.logsumexp(torch.cat(parts), 0)


def exact_log_prob(v, w1, w2, b, c1, c2, log_z=None) -> torch.Tensor:
    """log p(v) per row: b.v + log sum_{h1} exp(c1.h1 + h1.W1 v + sum_k softplus(c2 + W2 h1)_k) - log Z."""
    n1 = w1.shape[0]
    if n1 > MAX_EXACT_UNITS:
        raise ValueError(f"exact log p(v) enumerates 2^{n1} states of the middle layer; at most {MAX_EXACT_UNITS}")
    h1 = all_states(n1, 0, 2**n1, w1.device, w1.dtype)  # [S, n1]
    top = h1 @ c1 + F.softplus(torch.addmm(c2, h1, w2.t())).sum(-1)  # [S]
    inner = torch.logsumexp(top[None, :] + v @ w1.t() @ h1.t(), 1)  # [n]
    lz = exact_log_z(w1, w2, b, c1, c2) if log_z is None else log_z
    return v @ b + inner - lz


# ------------------------------------------------------------------------- greedy pretraining


def doubled_cd_statistics(v, w, b, c, generator, up: float = 1.0, down: float = 1.0):
    """CD-1 statistics of the modified RBMs that pretrain a DBM (Salakhutdinov & Hinton 2009,
    section 3.1): ``up = 2`` for the bottom RBM, whose input is doubled with tied weights,
    P(h = 1 | v) = sigmoid(c + 2 W v), P(v = 1 | h) = sigmoid(b + W^T h); ``down = 2`` for the top RBM,
    whose hidden layer is doubled, P(h = 1 | v) = sigmoid(c + W v), P(v = 1 | h) = sigmoid(b + 2 W^T h).
    So composed, the middle layer hears W1 v + W2^T h2 where each RBM alone heard twice its own half.
    With up = down = 1 this is the ordinary CD-1 of :func:`revival.rbm.cd_k_reference`.
    Returns (grad W, grad b, grad c) of the batch mean."""
    h0 = torch.sigmoid(torch.addmm(c, v, w.t(), alpha=up))
    v1 = torch.sigmoid(torch.addmm(b, R.sample_bernoulli(h0, generator), w, alpha=down))
    h1 = torch.sigmoid(torch.addmm(c, v1, w.t(), alpha=up))
    n = v.shape[0]
    return (h0.t() @ v - h1.t() @ v1) / n, (v - v1).mean(0), (h0 - h1).mean(0)


def compose(bottom, top) -> DBM:
    """A DBM from the two pretrained RBMs' (W, b, c): W1, b from the bottom one, W2, c2 from the top
    one; the middle layer's bias is the mean of the bottom RBM's hidden and the top RBM's visible
    bias (revival's choice: each RBM alone modelled that layer with its own bias)."""
    (w1, b, c_bottom), (w2, b_top, c2) = bottom, top
    model = DBM(w1.shape[1], w1.shape[0], w2.shape[0]).to(w1.device)
    model.load_state_dict({"w1": w1, "w2": w2, "b": b, "c1": (c_bottom + b_top) / 2, "c2": c2})
    return model


# ------------------------------------------------------------------------- training


class PretrainLayer:
    """One modified RBM of the greedy pretraining (:func:`doubled_cd_statistics`, ``up`` / ``down``),
    trained by CD-1 with momentum (``momentum[0]`` for ``momentum_epochs`` epochs, then ``momentum[1]``)
    and weight decay on the weights, one epoch at a time (so a run can stop and resume between epochs). Weights start
    N(0, 0.01^2), biases 0, drawn from ``generator`` when the layer is made."""

    def __init__(
        self,
        n_visible,
        n_hidden,
        generator,
        device,
        up=1.0,
        down=1.0,
        momentum=(0.5, 0.9),
        weight_decay=2e-4,
        momentum_epochs: int = 5,
    ):
        self.gen, self.up, self.down, self.momentum, self.wd = generator, up, down, momentum, weight_decay
        self.momentum_epochs = momentum_epochs
        self.w = torch.randn(n_hidden, n_visible, generator=generator, device=device) * 0.01
        self.b, self.c = torch.zeros(n_visible, device=device), torch.zeros(n_hidden, device=device)
        self.vel = [torch.zeros_like(self.w), torch.zeros_like(self.b), torch.zeros_like(self.c)]

    @property
    def params(self):
        return self.w, self.b, self.c

    @torch.no_grad()
    def train_epoch(self, x, epoch: int, lr: float, batch_size: int, check=lambda: None):
        m = self.momentum[0] if epoch < self.momentum_epochs else self.momentum[1]
        for idx in torch.randperm(len(x), generator=self.gen, device=x.device).split(batch_size):
            check()
            gw, gb, gc = doubled_cd_statistics(x[idx], self.w, self.b, self.c, self.gen, self.up, self.down)
            for p, vv, g in zip(self.params, self.vel, (gw - self.wd * self.w, gb, gc)):
                vv.mul_(m).add_(g, alpha=lr)
                p.add_(vv)

    @torch.no_grad()
    def recon_error(self, x) -> torch.Tensor:
        """Mean squared error per row of the mean-field reconstruction P(v | P(h | x)) (a monitor)."""
        h = torch.sigmoid(torch.addmm(self.c, x, self.w.t(), alpha=self.up))
        v = torch.sigmoid(torch.addmm(self.b, h, self.w, alpha=self.down))
        return ((x - v) ** 2).sum(-1).mean()

    def state(self) -> dict:
        return {"params": [t.clone() for t in self.params], "vel": [t.clone() for t in self.vel]}

    def load(self, st: dict):
        for dst, src in zip([*self.params, *self.vel], [*st["params"], *st["vel"]]):
            dst.copy_(src)


def pretrain_layer(x, n_hidden: int, epochs: int, lr: float, batch_size: int, generator, up=1.0, down=1.0, **kw):
    """:class:`PretrainLayer` trained ``epochs`` epochs on the rows of ``x``; returns its (W, b, c)."""
    layer = PretrainLayer(x.shape[1], n_hidden, generator, x.device, up, down, **kw)
    for epoch in range(epochs):
        layer.train_epoch(x, epoch, lr, batch_size)
    return layer.params


class DBMTrainer:
    """PCD training of a DBM (Salakhutdinov & Hinton 2009, section 3): :func:`pcd_statistics` on each
    batch, SGD with momentum, weight decay on the weights, persistent chains kept across updates."""

    def __init__(
        self, model: DBM, n_chains: int, generator, lr: float, weight_decay: float, mf_steps: int, gibbs_steps: int
    ):
        self.model, self.gen, self.lr, self.wd = model, generator, lr, weight_decay
        self.mf_steps, self.gibbs_steps = mf_steps, gibbs_steps
        self.chain = noise_chains(n_chains, *model.params(), generator=generator)
        self.vel = [torch.zeros_like(p) for p in model.params()]

    @torch.no_grad()
    def train_epoch(self, x, batch_size: int, lr: float, momentum: float, check=lambda: None):
        params = self.model.params()
        for idx in torch.randperm(len(x), generator=self.gen, device=x.device).split(batch_size):
            check()
            grads, self.chain = pcd_statistics(x[idx], self.chain, *params, self.gen, self.mf_steps, self.gibbs_steps)
            for k, (p, vv, g) in enumerate(zip(params, self.vel, grads)):
                if k < 2 and self.wd:
                    g = g - self.wd * p
                vv.mul_(momentum).add_(g, alpha=lr)
                p.add_(vv)

    def state(self) -> dict:
        """What resume needs besides the parameters and the generator: the chains and the velocities."""
        return {"chain": [t.clone() for t in self.chain], "vel": [t.clone() for t in self.vel]}

    def load(self, st: dict):
        self.chain = tuple(t.clone() for t in st["chain"])
        for dst, src in zip(self.vel, st["vel"]):
            dst.copy_(src)


@torch.no_grad()
def mean_bound(x, model: DBM, mf_steps: int = 10) -> torch.Tensor:
    """The mean variational bound of the rows of ``x`` without log Z (:func:`variational_bound`): a
    monitor whose difference between two data sets at the same epoch (train against validation) is
    meaningful; from epoch to epoch log Z moves too, so the level alone says nothing."""
    p = model.params()
    return variational_bound(x, *mean_field(x, *p, steps=mf_steps), *p).mean()


# ------------------------------------------------------------------------- likelihood


def _log_f_h1(h1, beta, w1, w2, b, c1, c2, base_bias):
    """log f_beta(h1) of the annealing path with v and h2 summed out analytically:
    beta c1.h1 + sum_i softplus((1 - beta) bA_i + beta (b + W1^T h1)_i) + sum_k softplus(beta (c2 + W2 h1)_k),
    the marginal over h1 of p_beta(v, h1, h2) ~ exp((1 - beta) bA.v - beta E(v, h1, h2))."""
    vis = F.softplus((1 - beta) * base_bias + beta * torch.addmm(b, h1, w1)).sum(-1)
    return beta * (h1 @ c1) + vis + F.softplus(beta * torch.addmm(c2, h1, w2.t())).sum(-1)


@torch.no_grad()
def ais_log_z(w1, w2, b, c1, c2, base_bias=None, n_runs: int = 100, betas=None, generator=None, check=None):
    """AIS estimate of log Z of a two-hidden-layer DBM (Salakhutdinov & Hinton 2009, section 4 and
    appendix; Salakhutdinov & Murray 2008). The chains run over h1 alone: v and h2 are independent
    given h1 and are summed out analytically (:func:`_log_f_h1`). The path goes from the base model
    at beta = 0 (visible biases ``base_bias``, e.g. the data's base rates, everything else zero:
    log Z_0 = sum_i softplus(bA_i) + (n1 + n2) log 2, with exact samples h1 ~ uniform) to the DBM at
    beta = 1. At each beta_k the log-weight gains log f_k(h1) - log f_{k-1}(h1); then one Gibbs sweep of
    p_k (v and h2 given h1, then h1 given both) moves h1 and leaves f_k invariant. Returns a
    :class:`revival.partition.AISResult` (estimate, +- 3 standard-error interval, effective sample size)."""
    from .partition import _summarise, default_betas

    dev = w1.device
    betas = (default_betas(dev) if betas is None else betas.to(dev)).to(w1.dtype)
    if betas.numel() < 2 or float(betas[0]) != 0.0 or float(betas[-1]) != 1.0:
        raise ValueError("an AIS schedule needs at least 2 betas, from 0 to 1")
    n1, n2 = w1.shape[0], w2.shape[0]
    b_a = torch.zeros_like(b) if base_bias is None else base_bias.to(dev, b.dtype)
    log_z_base = float(F.softplus(b_a).sum()) + (n1 + n2) * math.log(2.0)
    h1 = torch.bernoulli(torch.full((n_runs, n1), 0.5, device=dev, dtype=w1.dtype), generator=generator)
    logw = torch.zeros(n_runs, device=dev, dtype=torch.float64)
    params = (w1, w2, b, c1, c2, b_a)
    stride = max(1, betas.numel() // 100)
    for k in range(1, betas.numel()):
        if check is not None and k % stride == 0:
            check()
        bk, bprev = betas[k], betas[k - 1]
        logw += (_log_f_h1(h1, bk, *params) - _log_f_h1(h1, bprev, *params)).double()
        if k < betas.numel() - 1:
            v = torch.bernoulli(torch.sigmoid((1 - bk) * b_a + bk * torch.addmm(b, h1, w1)), generator=generator)
            h2 = torch.bernoulli(torch.sigmoid(bk * torch.addmm(c2, h1, w2.t())), generator=generator)
            h1 = torch.bernoulli(torch.sigmoid(bk * (torch.addmm(c1, v, w1.t()) + h2 @ w2)), generator=generator)
    return _summarise(logw, log_z_base, betas.numel())


@torch.no_grad()
def bound_per_row(x, model: DBM, log_z: float, mf_steps: int = 10, batch: int = 10_000) -> torch.Tensor:
    """The variational lower bound on log p(v) of each row of ``x`` given log Z (:func:`variational_bound`
    with mean-field means), in float64. With an AIS estimate of log Z it is an estimate of a lower bound."""
    p = model.params()
    out = [variational_bound(xb, *mean_field(xb, *p, steps=mf_steps), *p) for xb in x.split(batch)]
    return torch.cat(out).double() - log_z
