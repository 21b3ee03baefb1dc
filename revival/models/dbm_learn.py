"""How a deep Boltzmann machine learns (Salakhutdinov & Hinton 2009; the authors' released MATLAB code,
rbm.m, rbm_l2.m, dbm_mf.m and mf.m, file and line cited where a rule comes from it): the greedy
pretraining of modified RBMs and their composition into a DBM, the persistent chains and their start,
the PCD statistics with a mean-field positive phase, the sparsity terms, and the two trainers. The
model's math (energy, mean-field, Gibbs sweeps, bounds, AIS) is :mod:`revival.models.dbm`.
Nothing here logs, prints or touches files; randomness only from the generator passed in.
"""

from __future__ import annotations

import math

import torch

from revival.models import rbm as R
from revival.models.dbm import (
    DBM,
    from_params,
    gibbs_sweep,
    label_probs,
    layer_input,
    mean_field,
    noise_chains,
    passed_up_chains,
    sample_one_hot,
    uniform_labels,
)


def chains_from(start: str, n: int, ws, bs, generator, data=None, n_labels: int = 0) -> tuple:
    """``n`` persistent chains started as ``start`` says (:data:`revival.tables.DBM_CHAIN_STARTS`):
    ``uniform`` (uniform random binary images passed up: the authors' dbm_mf.m), ``data`` (the first
    ``n`` rows of ``data``, binary, passed up) or ``biases`` (every layer from its biases alone). With
    ``n_labels``, each chain carries a uniformly drawn one-hot label last (dbm_mf.m l.84 starts them
    at 1/10 each)."""
    chains = _chains_from(start, n, ws, bs, generator, data)
    return (*chains, uniform_labels(n, n_labels, generator, ws[0])) if n_labels else chains


def _chains_from(start: str, n: int, ws, bs, generator, data=None) -> tuple:
    if start == "biases":
        return noise_chains(n, ws, bs, generator)
    if start == "uniform":
        v = R.sample_bernoulli(torch.full((n, ws[0].shape[1]), 0.5, device=ws[0].device, dtype=ws[0].dtype), generator)
    elif start == "data":
        if data is None or len(data) < 1:
            raise ValueError("chains started from data need training rows")
        v = data[torch.arange(n, device=data.device) % len(data)].to(ws[0].dtype)
    else:
        raise ValueError(f"unknown chain start {start!r}")
    return passed_up_chains(v, ws, bs, generator)


def chain_probabilities(chain, ws, bs, lab=None) -> list:
    """What the authors' dbm_mf.m takes the model's statistics from after its Gibbs sweeps: the odd layers'
    probabilities given the chains' even states, then the even hidden layers' probabilities given those
    (for two hidden layers: P(h_1 | v, h_2), then sigmoid(c_2 + W_2 P(h_1 | v, h_2))); v stays a state.
    With label units ``lab`` the chains end with their labels y (kept as states), and the top layer's
    probabilities hear U^T P(y | h_L) (dbm_mf.m l.179: ``neglabprobs*labpen``)."""
    xs = list(chain)
    y = xs.pop() if lab is not None else None
    top = len(xs) - 1
    soft = None if y is None else label_probs(xs[top], lab) @ lab[0]
    out = list(xs)

    def probs(l, given):
        z = layer_input(l, given, ws, bs)
        return torch.sigmoid(z + soft if soft is not None and l == top else z)

    for l in range(1, len(xs), 2):  # the odd layers given the chains' even states
        out[l] = probs(l, xs)
    for l in range(2, len(xs), 2):  # the even hidden layers given those probabilities
        out[l] = probs(l, out)
    return out if y is None else [*out, y]


def pcd_statistics(
    v,
    chain,
    ws,
    bs,
    generator,
    mf_steps: int = 10,
    gibbs_steps: int = 1,
    probabilities: bool = False,
    means=None,
    y=None,
    lab=None,
):
    """Gradient of the mean log-likelihood bound over the batch ``v`` (Salakhutdinov & Hinton 2009,
    section 3): data-dependent expectations from mean-field (mu_1 .. mu_L, mu_0 = v), model expectations
    from the persistent ``chain`` (x'_0 .. x'_L) after ``gibbs_steps`` sweeps:

        dW_l = <mu_l mu_(l-1)^T>_data - <x'_l x'_(l-1)^T>_model,   db_l = <mu_l>_data - <x'_l>_model

    With ``probabilities`` the model's side reads :func:`chain_probabilities` in place of the states
    (dbm_mf.m: ``negprods = negdata' * neghidprobs``, ``negprodspen = neghidprobs' * negpenprobs``).
    Returns ``(grads, chain)``: the gradients in the order of ``[*ws, *bs]`` and the chains moved on; with
    a list ``means``, the data-dependent means [mu_0 .. mu_L] are appended to it (for sparsity).

    With label units ``lab`` = (U, by) and the batch's one-hot labels ``y``: mean-field runs with the
    labels clamped (the top layer hears U^T y), the chains end with their labels, and the gradients
    go on with dU = <y mu_L^T>_data - <y' x'_L^T>_model and dby = <y>_data - <y'>_model (dbm_mf.m l.128-130,
    l.187, l.211-212)."""
    labelled = lab is not None
    data = [v, *mean_field(v, ws, bs, steps=mf_steps, top_input=None if not labelled else y @ lab[0])]
    for _ in range(gibbs_steps):
        chain = gibbs_sweep(chain, ws, bs, generator, lab)
    neg = chain_probabilities(chain, ws, bs, lab) if probabilities else list(chain)
    n, m = v.shape[0], chain[0].shape[0]
    gw = [data[l + 1].t() @ data[l] / n - neg[l + 1].t() @ neg[l] / m for l in range(len(ws))]
    gb = [d.mean(0) - c.mean(0) for d, c in zip(data, neg)]
    if means is not None:
        means.extend(d.mean(0) for d in data)
    if labelled:
        top, yc = len(ws), neg[-1]
        gw_lab = [y.t() @ data[top] / n - yc.t() @ neg[top] / m, y.mean(0) - yc.mean(0)]
        return (*gw, *gb, *gw_lab), chain
    return (*gw, *gb), chain


def sparsity_penalty(running, batch_means, targets, cost: float, damping: float):
    """The sparsity terms of the authors' dbm_mf.m (l. 205-223), for every hidden layer l with a target t_l:
    a running mean q_l <- damping q_l + (1 - damping) <mu_l>_batch (``running`` is updated in place), the
    per-unit pressure s_l = cost (q_l - t_l), subtracted from the gradient of c_l and, through the inputs
    that feed layer l, from W_l as s_l <mu_(l-1)>^T and from W_(l+1) as <mu_(l+1)> s_l^T. ``batch_means``:
    [<v>, <mu_1> .., <mu_L>] of the batch. Returns ``(dW [..L], dc [..L])``, the terms to subtract."""
    top = len(batch_means) - 1
    s = [None] * (top + 1)
    for l in range(1, top + 1):
        if targets[l - 1] is not None:
            running[l - 1].mul_(damping).add_(batch_means[l], alpha=1 - damping)
            s[l] = cost * (running[l - 1] - targets[l - 1])
    dw, dc = [], []
    for l in range(1, top + 1):
        w = torch.zeros(
            len(batch_means[l]), len(batch_means[l - 1]), dtype=batch_means[l].dtype, device=batch_means[l].device
        )
        if s[l] is not None:
            w += torch.outer(s[l], batch_means[l - 1])
        if l - 1 >= 1 and s[l - 1] is not None:
            w += torch.outer(batch_means[l], s[l - 1])
        dw.append(w)
        dc.append(torch.zeros_like(batch_means[l]) if s[l] is None else s[l])
    return dw, dc


# ------------------------------------------------------------------------- greedy pretraining


def doubled_cd_statistics(v, w, b, c, generator, up: float = 1.0, down: float = 1.0, k: int = 1, y=None, lab=None):
    """CD-k statistics of the modified RBMs that pretrain a DBM (Salakhutdinov & Hinton 2009, section 3.1,
    as the authors' rbm.m and rbm_l2.m compute them): a doubled side gets twice its total input, bias
    included, P(h = 1 | v) = sigmoid(up (c + W v)), P(v = 1 | h) = sigmoid(down (b + W^T h)); ``up = 2``
    for the bottom RBM (rbm.m: ``2*vishid``, ``2*hidbiases``), ``down = 2`` for the top one (rbm_l2.m:
    ``2*vishid'``, ``2*visbiases``). So composed, a middle layer hears W_1 v + c + W_2^T h_2 + b', each RBM
    alone having heard twice its own half. The negative phase runs ``k`` steps of h ~ P(h | v'),
    v' ~ P(v | h) (a sampled reconstruction, as both files), and takes <v' P(h | v')>.
    Returns (grad W, grad b, grad c) of the batch mean.

    With label units ``lab`` = (U, by) beside the visible side and the batch's one-hot labels ``y``
    (rbm_l2.m): the hidden side hears U^T y as well, each step draws y' ~ softmax(by + U h) from the
    sampled hidden states, and (grad U, grad by) follow, <y P(h | v, y)> - <y' P(h | v', y')>."""
    lin = (
        (lambda x, yy: up * torch.addmm(c, x, w.t()))
        if lab is None
        # noqa: E731
        else (lambda x, yy: up * torch.addmm(c, x, w.t()) + yy @ lab[0])
    )
    h0 = torch.sigmoid(lin(v, y))
    hk, vk, yk = h0, v, y
    for _ in range(k):
        hs = R.sample_bernoulli(hk, generator)
        if lab is not None:
            yk = sample_one_hot(label_probs(hs, lab), generator)
        vk = R.sample_bernoulli(torch.sigmoid(down * torch.addmm(b, hs, w)), generator)
        hk = torch.sigmoid(lin(vk, yk))
    n = v.shape[0]
    out = ((h0.t() @ v - hk.t() @ vk) / n, (v - vk).mean(0), (h0 - hk).mean(0))
    if lab is not None:
        out = (*out, (y.t() @ h0 - yk.t() @ hk) / n, (y - yk).mean(0))
    return out


def cd_steps(epoch: int, ramp: int) -> int:
    """k of CD-k in pretraining epoch ``epoch`` (0-based): ceil((epoch + 1) / ramp), 1 with ``ramp`` 0
    (the authors' rbm_l2.m: ``CD = ceil(epoch/20)``, and the rate divided by it)."""
    return 1 if ramp <= 0 else math.ceil((epoch + 1) / ramp)


def compose(rbms, lab=None) -> DBM:
    """A DBM from the pretrained RBMs' (W, b, c), bottom first: W_l from the l-th, b from the bottom one's
    visible bias, c_L from the top one's hidden bias; a layer between two RBMs takes the sum of the
    lower one's hidden and the upper one's visible bias (the authors' dbm_mf.m, l. 78-80:
    ``hidbiases = hidbiases + visbiases_l2``). Weights and biases are used as trained: each RBM saw
    twice its half of a middle layer's input (:func:`pretraining_factors`), which the composed DBM
    gives it from both sides."""
    ws = [w for w, _, _ in rbms]
    bs = [rbms[0][1]]
    for lower, upper in zip(rbms[:-1], rbms[1:]):
        bs.append(lower[2] + upper[1])
    bs.append(rbms[-1][2])
    return from_params(ws, bs, lab)  # the top RBM's label units, as trained (dbm_mf.m l.74)


def pretraining_factors(depth: int) -> list[tuple[float, float]]:
    """(up, down) of each of the ``depth`` pretraining RBMs (:func:`doubled_cd_statistics`), bottom first:
    the bottom one with doubled input (2, 1), the top one with doubled hidden units (1, 2) and every one
    between with its weights doubled both ways (2, 2), as Salakhutdinov & Hinton (2009, section 3.1; 2012,
    for more than two hidden layers) describe: in the DBM each middle layer hears the layers on both sides,
    so each RBM that models it alone gets twice its own half."""
    return [(2.0 if l < depth - 1 else 1.0, 2.0 if l > 0 else 1.0) for l in range(depth)]


# ------------------------------------------------------------------------- training


class PretrainLayer:
    """One modified RBM of the greedy pretraining (:func:`doubled_cd_statistics`, ``up`` / ``down``),
    trained by CD-k with momentum (``momentum[0]`` for ``momentum_epochs`` epochs, then ``momentum[1]``)
    and weight decay on the weights, one epoch at a time (so a run can stop and resume between epochs).
    k = :func:`cd_steps` (epoch, ``cd_ramp``), the rate divided by k. With ``sample_input`` each
    minibatch is a fresh Bernoulli sample of its rows (probabilities in, binary states out: the authors'
    fresh binarisation of every minibatch, and the top RBM's sampled h_1). Weights start
    N(0, ``init_std``^2), biases 0, drawn from ``generator`` when the layer is made."""

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
        init_std: float = 0.01,
        cd_ramp: int = 0,
        sample_input: bool = False,
        n_labels: int = 0,
    ):
        self.gen, self.up, self.down, self.momentum, self.wd = generator, up, down, momentum, weight_decay
        self.momentum_epochs, self.cd_ramp, self.sample_input = momentum_epochs, cd_ramp, sample_input
        self.w = torch.randn(n_hidden, n_visible, generator=generator, device=device) * init_std
        self.b, self.c = torch.zeros(n_visible, device=device), torch.zeros(n_hidden, device=device)
        self.lab = None
        if n_labels:  # softmax label units beside the visible side (rbm_l2.m l.62: 0.01*randn, zero biases)
            u = torch.randn(n_labels, n_hidden, generator=generator, device=device) * 0.01
            self.lab = (u, torch.zeros(n_labels, device=device))
        self.vel = [torch.zeros_like(p) for p in self.all_params]

    @property
    def params(self):
        return self.w, self.b, self.c

    @property
    def all_params(self) -> list:
        """W, b, c, then the label units' U and by where there are any."""
        return [self.w, self.b, self.c, *(self.lab or ())]

    @torch.no_grad()
    def train_epoch(self, x, epoch: int, lr: float, batch_size: int, check=lambda: None, y=None):
        """One epoch over the rows of ``x`` (and their one-hot labels ``y``, for a layer with label units)."""
        m = self.momentum[0] if epoch < self.momentum_epochs else self.momentum[1]
        k = cd_steps(epoch, self.cd_ramp)
        for idx in torch.randperm(len(x), generator=self.gen, device=x.device).split(batch_size):
            check()
            xb = R.sample_bernoulli(x[idx], self.gen) if self.sample_input else x[idx]
            yb = None if self.lab is None else y[idx]
            grads = list(
                doubled_cd_statistics(xb, self.w, self.b, self.c, self.gen, self.up, self.down, k, yb, self.lab)
            )
            grads[0] = grads[0] - self.wd * self.w
            if self.lab is not None:  # rbm_l2.m l.149-150: the same weight cost on the label weights
                grads[3] = grads[3] - self.wd * self.lab[0]
            for p, vv, g in zip(self.all_params, self.vel, grads):
                vv.mul_(m).add_(g, alpha=lr / k)
                p.add_(vv)

    def posterior(self, x) -> torch.Tensor:
        """P(h = 1 | x) = sigmoid(up (c + W x)): what the next RBM up trains on (sampled there)."""
        return torch.sigmoid(self.up * torch.addmm(self.c, x, self.w.t()))

    @torch.no_grad()
    def recon_error(self, x) -> torch.Tensor:
        """Mean squared error per row of the mean-field reconstruction P(v | P(h | x)) (a monitor)."""
        v = torch.sigmoid(self.down * torch.addmm(self.b, self.posterior(x), self.w))
        return ((x - v) ** 2).sum(-1).mean()

    def state(self) -> dict:
        return {"params": [t.clone() for t in self.all_params], "vel": [t.clone() for t in self.vel]}

    def load(self, st: dict):
        for dst, src in zip([*self.all_params, *self.vel], [*st["params"], *st["vel"]]):
            dst.copy_(src)


class DBMTrainer:
    """PCD training of a DBM (Salakhutdinov & Hinton 2009, section 3): :func:`pcd_statistics` on each
    batch, SGD with momentum, weight decay on the weights, persistent chains kept across updates
    (started as ``chain_start`` says, :func:`chains_from`). The rate of update t (counted over the whole
    run, 1-based) is max(lr / ``anneal``^t, ``floor``) (dbm_mf.m: ``epsilonw = max(epsilonw/1.000015,
    0.00010)`` before every update). ``sample_data``: each minibatch a fresh Bernoulli sample of its rows
    (dbm_mf.m l. 118). ``probabilities``: the model's statistics from :func:`chain_probabilities`.
    ``sparsity``: (targets per hidden layer, None for none; cost; damping) of :func:`sparsity_penalty`."""

    def __init__(
        self,
        model: DBM,
        n_chains: int,
        generator,
        lr: float,
        weight_decay: float,
        mf_steps: int,
        gibbs_steps: int,
        chain_start: str = "biases",
        data=None,
        anneal: float = 1.0,
        floor: float = 0.0,
        sample_data: bool = False,
        probabilities: bool = False,
        sparsity=None,
    ):
        self.model, self.gen, self.lr, self.wd = model, generator, lr, weight_decay
        self.mf_steps, self.gibbs_steps = mf_steps, gibbs_steps
        self.anneal, self.floor, self.sample_data, self.probabilities = anneal, floor, sample_data, probabilities
        self.sparsity = sparsity
        ws, bs = model.params()
        start = None if data is None else (R.sample_bernoulli(data[:n_chains], generator) if sample_data else data)
        self.chain = chains_from(chain_start, n_chains, ws, bs, generator, start, model.n_labels)
        self.vel = [torch.zeros_like(p) for p in self._params()]
        self.updates = 0
        self.running = None
        if sparsity is not None:  # dbm_mf.m starts the running means at their targets
            self.running = [torch.full_like(c, t if t is not None else 0.0) for c, t in zip(bs[1:], sparsity[0])]

    def rate(self, lr: float) -> float:
        """The rate of the next update from the epoch's ``lr`` (see the class)."""
        return max(lr / self.anneal ** (self.updates + 1), min(self.floor, lr))

    def _params(self) -> list:
        """[*ws, *bs], then the label units' U and by where there are any."""
        ws, bs = self.model.params()
        return [*ws, *bs, *(self.model.label_params() or ())]

    @torch.no_grad()
    def train_epoch(self, x, batch_size: int, lr: float, momentum: float, check=lambda: None, y=None):
        """One epoch over the rows of ``x`` (and their one-hot labels ``y``, for a DBM with label units)."""
        ws, bs = self.model.params()
        lab = self.model.label_params()
        if lab is not None and y is None:
            raise ValueError("a DBM with label units trains on labelled rows: pass y")
        top = len(ws)
        params = self._params()
        for idx in torch.randperm(len(x), generator=self.gen, device=x.device).split(batch_size):
            check()
            xb = R.sample_bernoulli(x[idx], self.gen) if self.sample_data else x[idx]
            means = [] if self.sparsity is not None else None
            grads, self.chain = pcd_statistics(
                xb,
                self.chain,
                ws,
                bs,
                self.gen,
                self.mf_steps,
                self.gibbs_steps,
                self.probabilities,
                means,
                None if lab is None else y[idx],
                lab,
            )
            grads = list(grads)
            if self.sparsity is not None:
                dw, dc = sparsity_penalty(self.running, means, *self.sparsity)
                for l in range(top):
                    grads[l] = grads[l] - dw[l]
                    grads[top + 1 + l] = grads[top + 1 + l] - dc[l]
            step = self.rate(lr)
            self.updates += 1
            for k, (p, vv, g) in enumerate(zip(params, self.vel, grads)):
                if (k < top or k == 2 * top + 1) and self.wd:  # the weights and U (dbm_mf.m l.212), not biases
                    g = g - self.wd * p
                vv.mul_(momentum).add_(g, alpha=step)
                p.add_(vv)

    def state(self) -> dict:
        """What resume needs besides the parameters and the generator: the chains, the velocities, the
        update count (the rate's schedule) and the sparsity's running means."""
        return {
            "chain": [t.clone() for t in self.chain],
            "vel": [t.clone() for t in self.vel],
            "updates": self.updates,
            "running": None if self.running is None else [t.clone() for t in self.running],
        }

    def load(self, st: dict):
        self.chain = tuple(t.clone() for t in st["chain"])
        for dst, src in zip(self.vel, st["vel"]):
            dst.copy_(src)
        self.updates = int(st.get("updates", 0))
        if self.running is not None and st.get("running") is not None:
            for dst, src in zip(self.running, st["running"]):
                dst.copy_(src)
