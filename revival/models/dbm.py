"""Deep Boltzmann machines (Salakhutdinov & Hinton 2009; any number L >= 2 of hidden layers): the math.

Binary layers x_0 = v (n_0 visible units), x_1 .. x_L (hidden); weights W_l [n_l, n_(l-1)] between
layers l - 1 and l; biases b (visible) and c_1 .. c_L. Every layer is undirected:

    E(v, h_1, .., h_L) = -b.v - sum_l c_l.h_l - sum_l h_l.W_l h_(l-1)

so a layer hears both neighbours: P(h_l = 1 | rest) = sigmoid(c_l + W_l h_(l-1) + W_(l+1)^T h_(l+1)),
the top layer only the one below, v only h_1: P(v = 1 | h_1) = sigmoid(b + W_1^T h_1). Given the odd
layers (h_1, h_3, ..) the even ones (v, h_2, ..) are independent of each other, and vice versa.

- **Mean-field inference** approximates the posterior p(h | v) by a factorised q with means
  mu_l satisfying the fixed-point equations mu_l = sigmoid(c_l + W_l mu_(l-1) + W_(l+1)^T mu_(l+1))
  (:func:`mean_field`). It gives the variational lower bound
  log p(v) >= -E_q[E(v, h)] + H(q) - log Z (:func:`variational_bound`).
- **Gibbs sampling** alternates the odd layers and the even ones, v among them (:func:`gibbs_sweep`).
- **Training** is :mod:`revival.models.dbm_learn`: the data-dependent statistics from mean-field, the
  model's from persistent Markov chains (Tieleman 2008), as Salakhutdinov & Hinton 2009, section 3,
  after a greedy pretraining of modified RBMs.
- **Exact** log Z and log p(v) for tiny models (:func:`exact_log_z`): the even layers are summed out
  analytically given the odd ones, which leaves a sum over the states of the odd layers.

Parameters travel as ``(ws, bs)``: the weights ``[W_1 .. W_L]`` and the biases ``[b, c_1 .. c_L]``
(``DBM.params()``); states and means as lists, layer by layer. Nothing here logs, prints or touches
files; randomness only from the generator passed in.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from revival.models import rbm as R
from revival.models.partition import _summarise, all_states, default_betas

FORMAT = "revival.dbm.v1"
MAX_EXACT_UNITS = 20  # 2^20 states of the odd layers still enumerate in seconds


class DBM(nn.Module):
    """Parameters of a DBM with layer sizes ``sizes`` (visible first, at least two hidden layers):
    ``w1`` .. ``wL`` ([n_l, n_(l-1)]), ``b``, ``c1`` .. ``cL``, all without gradients. With
    ``n_labels`` > 0, a softmax group of label units y (one of them on) joined to the top layer:
    ``u`` [n_labels, n_L] and their bias ``by``, E gains -by.y - y.U h_L (the authors' released code
    trains its MNIST DBM so, 10 label units on h2; :meth:`label_params`)."""

    def __init__(self, *sizes: int, n_labels: int = 0):
        super().__init__()
        if len(sizes) < 3:
            raise ValueError(f"a DBM has a visible layer and at least two hidden layers, got sizes {list(sizes)}")
        self.depth = len(sizes) - 1
        for l in range(1, len(sizes)):
            self.register_parameter(f"w{l}", nn.Parameter(torch.zeros(sizes[l], sizes[l - 1]), requires_grad=False))
        self.b = nn.Parameter(torch.zeros(sizes[0]), requires_grad=False)
        for l in range(1, len(sizes)):
            self.register_parameter(f"c{l}", nn.Parameter(torch.zeros(sizes[l]), requires_grad=False))
        self.n_labels = int(n_labels)
        if self.n_labels:
            self.u = nn.Parameter(torch.zeros(self.n_labels, sizes[-1]), requires_grad=False)
            self.by = nn.Parameter(torch.zeros(self.n_labels), requires_grad=False)

    def label_params(self):
        """``(U, by)`` of the label units, or None for a DBM without them."""
        return (self.u.data, self.by.data) if self.n_labels else None

    @property
    def ws(self) -> list:
        return [getattr(self, f"w{l}").data for l in range(1, self.depth + 1)]

    @property
    def bs(self) -> list:
        return [self.b.data, *(getattr(self, f"c{l}").data for l in range(1, self.depth + 1))]

    def params(self):
        """``(ws, bs)``: what every function of this module takes as its ``ws, bs``."""
        return self.ws, self.bs

    @property
    def layers(self) -> list[int]:
        return [self.w1.shape[1], *(w.shape[0] for w in self.ws)]

    @property
    def odd_units(self) -> int:
        """Units in the odd layers: exact log Z enumerates 2^odd_units states."""
        return odd_units(self.ws)

    @torch.no_grad()
    def transform(self, v, steps: int = 10):
        """The mean-field means of the top layer for each row of ``v`` (the DBM's features)."""
        return R._like(v, mean_field(R._tensor(v, self.w1), *self.params(), steps=steps)[-1])

    @torch.no_grad()
    def sample(self, n: int = 100, gibbs_steps: int = 1000, seed: int = 0, start=None):
        """``n`` fantasies P(v = 1 | h1) after ``gibbs_steps`` sweeps, as a numpy array: from noise (each
        layer's biases), or with ``start`` (rows of pixel values in [0, 1], binarised here; ``n`` of
        them are used, repeated if fewer) from those images passed up (:func:`passed_up_chains`)."""
        R.sampling_args(n, gibbs_steps, seed)
        g = torch.Generator(device=self.w1.device).manual_seed(seed)
        if start is None:
            chain = noise_chains(n, *self.params(), generator=g)
        else:
            v = torch.as_tensor(start, dtype=self.w1.dtype, device=self.w1.device).reshape(-1, self.w1.shape[1])
            if len(v) == 0:
                raise ValueError("sample: start holds no rows")
            v = R.sample_bernoulli(v[torch.arange(n, device=v.device) % len(v)].clamp(0, 1), g)
            chain = passed_up_chains(v, *self.params(), generator=g)
        lab = self.label_params()
        if lab is not None:  # the labels too, uniform to start
            chain = (*chain, uniform_labels(n, self.n_labels, g, self.w1))
        for _ in range(gibbs_steps):
            chain = gibbs_sweep(chain, *self.params(), generator=g, lab=lab)
        return visible_probs(chain[1], *self.params()).cpu().numpy()

    def checkpoint(self, config: dict | None = None, preprocessing: dict | None = None) -> dict:
        """The public format ``revival.dbm.v1``: the state dict (``w1`` .. ``wL``, ``b``, ``c1`` .. ``cL``;
        ``u``, ``by`` with label units), the layer sizes, ``labels`` (how many label units, 0 for
        none), the training config and what was done to the data (``preprocessing``: dataset,
        binarize, seed)."""
        return {
            "format": FORMAT,
            "layers": self.layers,
            "labels": self.n_labels,
            "config": dict(config or {}),
            "preprocessing": dict(preprocessing or {}),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
        }


def from_checkpoint(ck, where: str = "checkpoint") -> DBM:
    """A :class:`DBM` from a ``revival.dbm.v1`` dict; ValueError naming ``where`` when it is not one."""
    if not isinstance(ck, dict) or ck.get("format") != FORMAT or not isinstance(ck.get("state_dict"), dict):
        raise ValueError(f"{where}: not a revival DBM checkpoint (expected a dict with format {FORMAT!r})")
    sizes = R.declared_sizes(ck.get("layers"), where, least=3)
    n_labels = ck.get("labels", 0)
    if not isinstance(n_labels, int) or isinstance(n_labels, bool) or not 0 <= n_labels <= 100_000:
        raise ValueError(f"{where}: 'labels' must be a whole number of label units, got {n_labels!r}")
    shapes = {f"w{l}": (sizes[l], sizes[l - 1]) for l in range(1, len(sizes))}
    shapes.update({"b": (sizes[0],), **{f"c{l}": (sizes[l],) for l in range(1, len(sizes))}})
    if n_labels:
        shapes.update({"u": (n_labels, sizes[-1]), "by": (n_labels,)})
    sd = R.checked_state(ck["state_dict"], shapes, where)  # before any allocation
    model = DBM(*sizes, n_labels=n_labels)
    model.load_state_dict(sd)
    return model


def from_params(ws, bs, lab=None) -> DBM:
    """A :class:`DBM` holding (copies of) the tensors ``ws``, ``bs`` (and the label units' ``lab`` =
    (U, by)), on their device and in their dtype."""
    n_labels = 0 if lab is None else lab[0].shape[0]
    model = DBM(ws[0].shape[1], *(w.shape[0] for w in ws), n_labels=n_labels).to(device=ws[0].device, dtype=ws[0].dtype)
    for t, src in zip([*model.ws, *model.bs], [*ws, *bs]):
        t.copy_(src)
    if lab is not None:
        model.u.data.copy_(lab[0])
        model.by.data.copy_(lab[1])
    return model


def as_double(model: DBM) -> DBM:
    """A float64 copy of ``model`` (exact sums over many states)."""
    return copy.deepcopy(model).double()


def odd_units(ws) -> int:
    return sum(w.shape[0] for w in ws[0::2])


# ------------------------------------------------------------------------- energies and conditionals


def energy(xs, ws, bs):
    """E(x) = -sum_l b_l.x_l - sum_l x_l.W_l x_(l-1) for the layers' states ``xs`` = [v, h_1, .., h_L]
    (b_0 = b, b_l = c_l), one value per row."""
    e = -sum(x @ b for x, b in zip(xs, bs))
    return e - sum(((xs[l + 1] @ w) * xs[l]).sum(-1) for l, w in enumerate(ws))


def layer_input(l: int, xs, ws, bs, beta: float = 1.0):
    """The total input of layer ``l`` (0 = v) from its neighbours' states in ``xs`` (entries of other
    layers are not read): b_l + W_l x_(l-1) + W_(l+1)^T x_(l+1), the missing terms absent at the ends;
    times ``beta`` (AIS's intermediate models)."""
    top = len(ws)
    if l == 0:
        z = torch.addmm(bs[0], xs[1], ws[0])
    else:
        z = torch.addmm(bs[l], xs[l - 1], ws[l - 1].t())
        if l < top:
            z = z + xs[l + 1] @ ws[l]
    return z if isinstance(beta, float) and beta == 1.0 else beta * z


def visible_probs(h1, ws, bs):
    """P(v = 1 | h_1) = sigmoid(b + W_1^T h_1)."""
    return torch.sigmoid(torch.addmm(bs[0], h1, ws[0]))


def label_probs(h_top, lab):
    """P(y | h_L) = softmax(by + U h_L) of the label units ``lab`` = (U, by), one row per row of ``h_top``."""
    u, by = lab
    return torch.softmax(torch.addmm(by, h_top, u.t()), -1)


def mean_field(v, ws, bs, steps: int = 10, tol: float = 0.0, init=None, top_input=None) -> list:
    """Mean-field means [mu_1 .. mu_L] of q(h_1) .. q(h_L) ~ p(h | v), by sweeping the layers bottom to
    top, mu_l <- sigmoid(c_l + W_l mu_(l-1) + W_(l+1)^T mu_(l+1)) (mu_0 = v), for ``steps`` rounds or until
    no mean moves by more than ``tol``. Each update maximises the variational bound in that layer with the
    others fixed, so the bound never falls. Started from ``init`` or from the bottom-up pass with doubled
    input to every layer but the top (mu_l = sigmoid(c_l + 2 W_l mu_(l-1)), mu_L = sigmoid(c_L + W_L mu_(L-1))),
    which stands in for the missing top-down signal (Salakhutdinov & Hinton 2009, section 3.1).
    ``top_input``: a fixed extra input of the top layer, U^T y for clamped labels y (mf.m l.29-40)."""
    top = len(ws)
    x1 = torch.addmm(bs[1], v, ws[0].t())  # c1 + W1 v, fixed while the means move
    extra = (lambda l, z: z + top_input if l == top else z) if top_input is not None else (lambda l, z: z)  # noqa: E731
    if init is None:
        mu = [torch.sigmoid(2 * x1 - bs[1])]
        for l in range(2, top + 1):
            z = torch.addmm(bs[l], mu[-1], ws[l - 1].t(), alpha=2.0 if l < top else 1.0)
            mu.append(torch.sigmoid(extra(l, z)))
    else:
        mu = list(init)
    for _ in range(steps):
        new = []
        for l in range(1, top + 1):
            z = x1 if l == 1 else torch.addmm(bs[l], new[-1], ws[l - 1].t())
            if l < top:
                z = z + mu[l] @ ws[l]
            new.append(torch.sigmoid(extra(l, z)))
        moved = max((a - b).abs().max() for a, b in zip(new, mu)) if tol > 0 else None
        mu = new
        if moved is not None and moved <= tol:
            break
    return mu


def _entropy(p):
    """sum_j H(Bernoulli(p_j)) per row, with 0 log 0 = 0."""
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)).sum(-1)


def variational_bound(v, mus, ws, bs, log_z: float = 0.0):
    """The lower bound on log p(v) given by the factorised q with means ``mus`` = [mu_1 .. mu_L]:
    E_q[-E(v, h)] + H(q) - log Z = b.v + sum_l c_l.mu_l + sum_l mu_l.W_l mu_(l-1) + sum_l H(mu_l) - log Z
    (Salakhutdinov & Hinton 2009, eq. 6). Equal to log p(v) exactly when p(h | v) factorises as q."""
    return -energy([v, *mus], ws, bs) + sum(_entropy(m) for m in mus) - log_z


# ------------------------------------------------------------------------- sampling


def noise_chains(n: int, ws, bs, generator) -> tuple:
    """``n`` Gibbs chains (v, h_1, .., h_L) started from each layer's biases alone."""
    return tuple(R.sample_bernoulli(torch.sigmoid(b).expand(n, -1).contiguous(), generator) for b in bs)


def passed_up_chains(v, ws, bs, generator) -> tuple:
    """Gibbs chains (v, h_1, .., h_L) started from the binary rows ``v``, each hidden layer sampled from
    the bottom-up pass that :func:`mean_field` starts from (doubled input below the top layer,
    sigmoid(c_l + 2 W_l x_(l-1)); the top one sigmoid(c_L + W_L x_(L-1))). With ``v`` uniform random
    pixels this is how the authors' dbm_mf.m starts its 100 chains (``data = round(rand(100, numdims))``
    passed up with ``2*vishid``); with training images, chains that start from the data."""
    xs = [v]
    top = len(ws)
    for l in range(1, top + 1):
        z = torch.addmm(bs[l], xs[-1], ws[l - 1].t(), alpha=2.0 if l < top else 1.0)
        xs.append(R.sample_bernoulli(torch.sigmoid(z), generator))
    return tuple(xs)


def sample_one_hot(p, generator) -> torch.Tensor:
    """One draw per row of the categorical probabilities ``p`` [n, k], as one-hot rows in ``p``'s dtype."""
    return torch.nn.functional.one_hot(torch.multinomial(p, 1, generator=generator)[:, 0], p.shape[1]).to(p.dtype)


def uniform_labels(n: int, n_labels: int, generator, like) -> torch.Tensor:
    """``n`` one-hot label rows drawn uniformly (the dtype and device of ``like``)."""
    idx = torch.randint(n_labels, (n,), generator=generator, device=like.device)
    return torch.nn.functional.one_hot(idx, n_labels).to(like.dtype)


def gibbs_sweep(xs, ws, bs, generator, lab=None) -> tuple:
    """One sweep of the chains ``xs`` = (v, h_1, .., h_L): the odd layers given the even ones, then the
    even layers (v first) given the odd ones; within each half the layers are independent. With label
    units ``lab`` = (U, by) the chains carry their labels last, ``xs`` = (v, h_1, .., h_L, y): the top
    layer hears U^T y, and after the sweep y is drawn from P(y | h_L) (one-hot)."""
    xs = list(xs)
    y = xs.pop() if lab is not None else None
    top = len(xs) - 1
    for start in (1, 0):
        for l in range(start, len(xs), 2):
            z = layer_input(l, xs, ws, bs)
            if y is not None and l == top:
                z = z + y @ lab[0]
            xs[l] = R.sample_bernoulli(torch.sigmoid(z), generator)
    if y is not None:
        xs.append(sample_one_hot(label_probs(xs[top], lab), generator))
    return tuple(xs)


# ------------------------------------------------------------------------- exact, for tiny models


def _split(states, sizes) -> list:
    """Columns of ``states`` cut into consecutive blocks of ``sizes``."""
    return list(states.split(list(sizes), dim=1))


def _sum_out_even(odd, ws, bs, beta: float = 1.0, base_bias=None):
    """log sum over the even layers of exp(-beta E(x)) (times exp((1 - beta) bA.v) with ``base_bias``),
    for the odd layers' states ``odd`` = [h_1, h_3, ..]: beta sum_(l odd) c_l.h_l + sum_(l even) sum_i
    softplus(beta (input of layer l)_i), the visible layer's input (1 - beta) bA + beta (b + W_1^T h_1)
    (the even layers are independent given the odd ones)."""
    xs = [None] * (len(ws) + 1)
    xs[1::2] = odd
    out = beta * sum(h @ bs[l] for l, h in zip(range(1, len(xs), 2), odd))
    for l in range(0, len(xs), 2):
        z = layer_input(l, xs, ws, bs, beta)
        if l == 0 and base_bias is not None:
            z = z + (1 - beta) * base_bias
        out = out + F.softplus(z).sum(-1)
    return out


def _check_exact(ws, what: str):
    n = odd_units(ws)
    if n > MAX_EXACT_UNITS:
        raise ValueError(f"exact {what} enumerates 2^{n} states of the odd layers; at most {MAX_EXACT_UNITS} units")


def exact_log_z(ws, bs, chunk: int = 2**14) -> torch.Tensor:
    """log Z by enumerating the states of the odd layers with the even ones summed out (:func:`_sum_out_even`)."""
    _check_exact(ws, "log Z")
    sizes = [w.shape[0] for w in ws[0::2]]
    n, dev, dt = sum(sizes), ws[0].device, ws[0].dtype
    parts = [
        _sum_out_even(_split(all_states(n, s, min(s + chunk, 2**n), dev, dt), sizes), ws, bs)
        for s in range(0, 2**n, chunk)
    ]
    return torch.logsumexp(torch.cat(parts), 0)


def exact_log_prob(v, ws, bs, log_z=None) -> torch.Tensor:
    """log p(v) per row: with v fixed, enumerate the odd hidden layers and sum the even hidden ones out:
    log p(v) = b.v + log sum_(h_odd) exp(h_1.W_1 v + sum_(l odd) c_l.h_l + sum_(l even >= 2) sum softplus(input_l)) - log Z."""
    _check_exact(ws, "log p(v)")
    sizes = [w.shape[0] for w in ws[0::2]]
    odd = _split(all_states(sum(sizes), 0, 2 ** sum(sizes), ws[0].device, ws[0].dtype), sizes)
    xs = [None] * (len(ws) + 1)
    xs[1::2] = odd
    top = sum(h @ bs[l] for l, h in zip(range(1, len(xs), 2), odd))
    for l in range(2, len(xs), 2):
        top = top + F.softplus(layer_input(l, xs, ws, bs)).sum(-1)  # [S]
    inner = torch.logsumexp(top[None, :] + v @ ws[0].t() @ odd[0].t(), 1)  # [n]
    lz = exact_log_z(ws, bs) if log_z is None else log_z
    return v @ bs[0] + inner - lz


@torch.no_grad()
def mean_bound(x, model: DBM, mf_steps: int = 10) -> torch.Tensor:
    """The mean variational bound of the rows of ``x`` without log Z (:func:`variational_bound`): a
    monitor whose difference between two data sets at the same epoch (train against validation) is
    meaningful; from epoch to epoch log Z moves too, so the level alone says nothing."""
    ws, bs = model.params()
    return variational_bound(x, mean_field(x, ws, bs, steps=mf_steps), ws, bs).mean()


# ------------------------------------------------------------------------- likelihood


@torch.no_grad()
def ais_log_z(ws, bs, base_bias=None, n_runs: int = 100, betas=None, generator=None, check=None):
    """AIS estimate of log Z of a DBM (Salakhutdinov & Hinton 2009, section 4 and appendix; Salakhutdinov &
    Murray 2008). The chains run over the odd layers alone (h_1 in a two-hidden-layer DBM): the even
    layers, v among them, are independent given the odd ones and are summed out analytically
    (:func:`_sum_out_even`, the marginal over the odd layers of
    p_beta(x) ~ exp((1 - beta) bA.v - beta E(x))). The path goes from the base model at beta = 0 (visible
    biases ``base_bias``, e.g. the data's base rates, everything else zero: log Z_0 = sum_i softplus(bA_i)
    + (hidden units) log 2, with exact samples: the odd layers uniform) to the DBM at beta = 1. At each
    beta_k the log-weight gains log f_k(odd) - log f_(k-1)(odd); then one Gibbs sweep of p_k (the even
    layers given the odd ones, then the odd ones given the even) moves the odd layers and leaves f_k
    invariant. Returns a :class:`revival.models.partition.AISResult` (estimate, +- 3 standard-error interval,
    effective sample size)."""

    w0 = ws[0]
    dev = w0.device
    betas = (default_betas(dev) if betas is None else betas.to(dev)).to(w0.dtype)
    if betas.numel() < 2 or float(betas[0]) != 0.0 or float(betas[-1]) != 1.0:
        raise ValueError("an AIS schedule needs at least 2 betas, from 0 to 1")
    b_a = torch.zeros_like(bs[0]) if base_bias is None else base_bias.to(dev, bs[0].dtype)
    log_z_base = float(F.softplus(b_a).sum()) + sum(w.shape[0] for w in ws) * math.log(2.0)
    xs = [None] * (len(ws) + 1)
    for l in range(1, len(xs), 2):
        xs[l] = torch.bernoulli(
            torch.full((n_runs, ws[l - 1].shape[0]), 0.5, device=dev, dtype=w0.dtype), generator=generator
        )
    logw = torch.zeros(n_runs, device=dev, dtype=torch.float64)
    stride = max(1, betas.numel() // 100)
    log_f = lambda beta: _sum_out_even(xs[1::2], ws, bs, beta, b_a)  # noqa: E731
    for k in range(1, betas.numel()):
        if check is not None and k % stride == 0:
            check()
        bk, bprev = betas[k], betas[k - 1]
        logw += (log_f(bk) - log_f(bprev)).double()
        if k < betas.numel() - 1:
            for start in (0, 1):
                for l in range(start, len(xs), 2):
                    z = layer_input(l, xs, ws, bs, bk)
                    if l == 0:
                        z = z + (1 - bk) * b_a
                    xs[l] = torch.bernoulli(torch.sigmoid(z), generator=generator)
    return _summarise(logw, log_z_base, betas.numel())


@torch.no_grad()
def bound_per_row(x, model: DBM, log_z: float, mf_steps: int = 10, batch: int = 10_000) -> torch.Tensor:
    """The variational lower bound on log p(v) of each row of ``x`` given log Z (:func:`variational_bound`
    with mean-field means), in float64. With an AIS estimate of log Z it is an estimate of a lower bound."""
    ws, bs = model.params()
    out = [variational_bound(xb, mean_field(xb, ws, bs, steps=mf_steps), ws, bs) for xb in x.split(batch)]
    return torch.cat(out).double() - log_z
