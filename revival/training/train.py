"""Training loops: the RBM epoch (CD-k / PCD with momentum, weight decay, sparsity, dropout), its
per-epoch monitors, and what every loop shares: stopping on a signal and on divergence.

Metrics are accumulated on the device and read once per epoch; nothing here syncs inside a batch.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Callable

import torch

from revival.config import NetConfig, RBMConfig
from revival.data import Visible, batches
from revival.errors import Diverged, Interrupted  # noqa: F401 (raised here)
from revival.models import rbm as R
from revival.models.mlp import loss_fn, max_norm_, mc_predict, saturation
from revival.training.precision import lowp

# ------------------------------------------------------------------------- stopping


def restore_generator(gen: torch.Generator, state: torch.Tensor, warn="stderr") -> bool:
    """``gen.set_state(state)``, or, when ``state`` was saved by another kind of device (a CUDA
    generator's state is 16 bytes, a CPU one's 5,056: a run moved from a GPU to a CPU, or back), ``gen``
    seeded from those bytes instead: the run goes on reproducibly from that resume, but it is no longer
    the stream an uninterrupted run would have drawn. Returns True when the stream continued exactly;
    ``warn(line)`` hears about the other case (default: one line on stderr; None: silent)."""
    state = state.cpu() if gen.device.type == "cpu" else state
    if state.numel() == gen.get_state().numel():
        gen.set_state(state)
        return True
    seed = int.from_bytes(bytes(state.cpu().to(torch.uint8).tolist()[:8]).ljust(8, b"\0"), "little") % (2**63)
    gen.manual_seed(seed)
    if warn == "stderr":
        warn = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if warn is not None:
        warn(
            f"note: the saved random state is from another kind of device ({state.numel()} bytes, this "
            f"{gen.device.type} generator takes {gen.get_state().numel()}): the run continues, seeded from it, "
            "but not bit for bit as an uninterrupted run on one device"
        )
    return False


class GracefulStop:
    """Within ``with GracefulStop() as stop:``, SIGINT and SIGTERM only set a flag; loops call
    ``stop.check()`` at batch boundaries, which raises :class:`Interrupted`. The previous handlers
    come back on exit. A second signal while stopping falls back to the default behaviour.
    A signal that arrived after the last ``check()`` is never dropped: leaving the block raises
    :class:`Interrupted` then (unless another exception is already on its way)."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def _handle(self, signum, frame):
        if self.signum is not None:  # second signal: stop trying to be graceful
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        self.signum = signum

    def __enter__(self):
        try:
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._old = {}
        return self

    def check(self):
        if self.signum is not None:
            raise Interrupted(self.signum)

    def __exit__(self, exc_type, exc, tb):
        for s, h in self._old.items():
            signal.signal(s, h)
        if exc_type is None:
            self.check()
        return False


def host_floats(named: dict) -> dict:
    """Scalars (0-d tensors on one device, or numbers) as Python floats, in one host transfer."""
    tensors = {k: v for k, v in named.items() if isinstance(v, torch.Tensor)}
    out = {k: float(v) for k, v in named.items() if k not in tensors}
    if tensors:
        out.update(zip(tensors, torch.stack([t.detach().float().reshape(()) for t in tensors.values()]).tolist()))
    return {k: out[k] for k in named}


def first_non_finite(named: dict) -> str | None:
    """The name of the first tensor or number holding NaN/inf, or None; one host transfer for all
    (the flags are reduced on the tensors' device and stacked there)."""
    if not named:
        return None
    dev = next((v.device for v in named.values() if isinstance(v, torch.Tensor)), torch.device("cpu"))
    flags = torch.stack(
        [(~torch.isfinite(torch.as_tensor(v, dtype=torch.float32, device=dev))).any() for v in named.values()]
    )
    bad = flags.nonzero().flatten().tolist()
    return list(named)[bad[0]] if bad else None


def checked_floats(scalars: dict, params: dict, epoch: int, where: str = "") -> dict:
    """An epoch's metrics as Python floats, after checking them and the parameters for NaN/inf
    (one host transfer each); :class:`Diverged` names the first bad one (with ``where``)."""
    bad = first_non_finite({**scalars, **params})
    if bad is not None:
        raise Diverged(epoch, bad + where)
    return host_floats(scalars)


class NoBar:
    """The bar of a loop nobody watches batch by batch."""

    def step(self):
        pass

    def close(self):
        pass


def epoch_loop(
    start: int,
    epochs: int,
    stop: GracefulStop,
    make_bar: Callable,
    train_epoch: Callable,
    end_epoch: Callable,
    done: Callable[[], bool] | None = None,
):
    """The loop every trainer shares: for epoch ``start .. epochs - 1``, ``make_bar(epoch)`` (an
    object with ``step()``/``close()``), ``train_epoch(epoch, check, on_batch)``, then
    ``end_epoch(epoch, result, seconds)`` (monitor, check, log, save, echo), then a signal check,
    so a signal during the monitors or the save still stops the run after that epoch is saved.
    ``done()``: True ends the loop early (early stopping)."""

    for epoch in range(start, epochs):
        if done is not None and done():  # also a resumed run that had already stopped
            break
        t0 = time.perf_counter()
        bar = make_bar(epoch)
        try:
            result = train_epoch(epoch, stop.check, bar.step)
        finally:
            bar.close()
        end_epoch(epoch, result, time.perf_counter() - t0)
        stop.check()


# ------------------------------------------------------------------------- RBM training


class RBMTrainer:
    """Owns the learning state of one RBM: velocities, persistent chains, the sparsity estimate.

    ``cfg`` is an :class:`~revival.config.RBMConfig`. The update is SGD with momentum on the CD/PCD
    gradient (Hinton 2010, sections 9-10):
        dW <- m dW + lr (grad_W - lambda W);  W <- W + dW      (biases: no decay)
    """

    def __init__(self, model: R.RBM, cfg: RBMConfig, generator: torch.Generator):
        self.model, self.cfg, self.gen = model, cfg, generator
        W, b, c = model.params()
        self.vel = [torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)]
        self.chain = None
        if cfg.persistent and cfg.pcd_chain == "hidden":  # scikit-learn's h_samples_: zeros at the start
            self.chain = torch.zeros(cfg.batch_size, W.shape[0], device=W.device, dtype=W.dtype)
        elif cfg.persistent:
            # one chain per batch row, started from Bernoulli(sigmoid(b)) noise (Gaussian: N(b, 1))
            self.chain = R.noise_chains(cfg.batch_size, b, model.visible_type, generator)
        self.q = torch.full_like(c, cfg.sparsity_target if cfg.sparsity_target is not None else 0.0)
        self.last_update_ratio = torch.zeros((), device=W.device)
        # workspace for the stacked statistics [h0; -h_neg], [v0; v_neg] (no allocation per batch)
        self.work = (W.new_empty(2 * cfg.batch_size, W.shape[0]), W.new_empty(2 * cfg.batch_size, W.shape[1]))
        self.lowp = lowp(cfg.precision)  # the dtype of the matrix products: mixed precision, or None

    def state_dict(self) -> dict:
        return {
            "vel": [v.clone() for v in self.vel],
            "chain": None if self.chain is None else self.chain.clone(),
            "q": self.q.clone(),
            "generator": self.gen.get_state(),
        }

    def load_state_dict(self, st: dict):
        for v, s in zip(self.vel, st["vel"]):
            v.copy_(s)
        if st["chain"] is not None:
            self.chain.copy_(st["chain"])
        self.q.copy_(st["q"])
        restore_generator(self.gen, st["generator"])

    @torch.no_grad()
    def train_epoch(
        self,
        data: Visible,
        epoch: int,
        check: Callable[[], None] = lambda: None,
        on_batch: Callable[[], None] | None = None,
    ) -> dict:
        """One pass over ``data`` in a seeded random order. Returns device scalars:
        ``recon_error`` (mean squared error per example) and ``update_ratio`` (|dW| / |W| at the last step)."""
        cfg, (W, b, c) = self.cfg, self.model.params()
        lr, m, vt = cfg.lr_at(epoch), cfg.momentum_at(epoch), self.model.visible_type
        recon_sum = torch.zeros((), device=W.device)
        for idx in batches(len(data), cfg.batch_size, self.gen, W.device):
            check()
            B = idx.shape[0]
            v0 = data.batch(idx, out=self.work[1][:B])
            keep = None
            if cfg.dropout > 0:
                keep = torch.bernoulli(
                    torch.full((B, W.shape[0]), 1.0 - cfg.dropout, device=W.device), generator=self.gen
                )
            chain = None if self.chain is None else self.chain[:B]
            hs, vs, gb, gc, recon, v_out = R.cd_statistics(
                v0, W, b, c, cfg.cd_k, self.gen, vt, chain, keep, self.work, self.lowp, cfg.pcd_chain == "hidden"
            )
            if self.chain is not None:
                self.chain[:B] = v_out
            recon_sum += R.reconstruction_error(v0, recon)
            vw, vb, vc = self.vel
            # dW <- m dW + (lr / B) [h0; -h_neg]^T [v0; v_neg] - lr lambda W: the gradient matmul is
            # fused into the velocity update (no gradient tensor, no extra pass over W)
            if self.lowp is None:
                vw.addmm_(hs.t(), vs, beta=m, alpha=lr / B)
            else:  # the product in low precision (accumulated in float32 inside, rounded once), velocity in float32
                vw.mul_(m).add_(torch.mm(hs.t().to(self.lowp), vs.to(self.lowp)), alpha=lr / B)
            if cfg.weight_decay:
                vw.add_(W, alpha=-lr * cfg.weight_decay)
            vb.mul_(m).add_(gb, alpha=lr)
            vc.mul_(m).add_(gc, alpha=lr)
            if cfg.sparsity_target is not None and cfg.sparsity_cost > 0:
                # running estimate q of each hidden unit's mean activation on data (Hinton 2010, 11.1)
                self.q.mul_(cfg.sparsity_decay).add_(
                    hs[:B].mean(0) if keep is None else R.hidden_probs(v0, W, c).mean(0), alpha=1 - cfg.sparsity_decay
                )
                sw, sc = R.sparsity_gradient(self.q, cfg.sparsity_target, v0.mean(0))
                vw.add_(sw, alpha=lr * cfg.sparsity_cost)
                vc.add_(sc, alpha=lr * cfg.sparsity_cost)
            W.add_(vw)
            b.add_(vb)
            c.add_(vc)
            if on_batch is not None:
                on_batch()
        self.last_update_ratio = self.vel[0].norm() / W.norm().clamp_min(1e-12)
        return {"recon_error": recon_sum / len(data), "update_ratio": self.last_update_ratio}


@torch.no_grad()
def rbm_monitor(
    model: R.RBM,
    train_subset: torch.Tensor,
    valid_subset: torch.Tensor,
    generator: torch.Generator,
    chain: torch.Tensor,
    n_samples: int = 100,
    sample_steps: int = 0,
    pll: bool = True,
) -> dict:
    """Per-epoch monitors (Hinton 2010, sections 5-6), all on fixed example sets:

    - mean free energy on a training subset and on validation data, and their gap
      (valid - train): a gap that keeps growing means the RBM is overfitting;
    - stochastic pseudo-log-likelihood per example (binary data only: ``pll``, Bernoulli visibles);
    - hidden activation probabilities on the validation subset (for histograms);
    - ``samples``: E[v | h] one step on from the first ``n_samples`` rows of ``chain``, after
      ``sample_steps`` Gibbs sweeps of it (``chain`` is PCD's own chains, which need no extra sweeps,
      or display chains that the caller keeps across epochs: returned as ``chain``);
    - ``recon``: E[v_1 | h_0] for the first validation examples (``originals``).
    """
    W, b, c = model.params()
    vt = model.visible_type
    x_valid = torch.addmm(c, valid_subset, W.t())  # shared by F(v), P(h|v) and the PLL
    fe_train = R.free_energy(train_subset, W, b, c, vt).mean()
    fe_valid = R.free_energy_given_input(valid_subset, x_valid, b, vt).mean()
    out = {"free_energy_train": fe_train, "free_energy_valid": fe_valid, "free_energy_gap": fe_valid - fe_train}
    if vt == "bernoulli" and pll:
        flip = torch.randint(0, W.shape[1], (valid_subset.shape[0],), generator=generator, device=W.device)
        out["pseudo_log_likelihood"] = R.pseudo_log_likelihood(valid_subset, W, b, c, flip, x_valid).mean()
    h_valid = torch.sigmoid(x_valid)
    out["hidden_probs"] = h_valid
    out["hidden_mean"] = h_valid.mean()
    shown = valid_subset[:n_samples]
    out["recon"] = R.visible_mean(R.sample_bernoulli(h_valid[:n_samples], generator), W, b, vt)
    out["originals"] = shown
    v = chain[:n_samples]
    for _ in range(sample_steps):
        v = R.sample_visible(
            R.visible_mean(R.sample_bernoulli(R.hidden_probs(v, W, c), generator), W, b, vt), vt, generator
        )
    out["chain"] = v
    out["samples"] = R.visible_mean(R.sample_bernoulli(R.hidden_probs(v, W, c), generator), W, b, vt)
    return out


# ------------------------------------------------------------------------- classifier training


class SeededTrainer:
    """What every classifier trainer keeps besides its step rule: the net, its config and the run's two
    random streams (``generator`` orders the examples, the same for every variant of one seed; ``noise``
    draws the dropout masks), saved and restored with the resume state."""

    def __init__(self, model, cfg: NetConfig, generator: torch.Generator, noise: torch.Generator):
        self.model, self.cfg, self.gen, self.noise = model, cfg, generator, noise

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state(), "noise": self.noise.get_state()}

    def load_state_dict(self, st: dict):
        restore_generator(self.gen, st["generator"])
        restore_generator(self.noise, st["noise"], None)


class ClassifierTrainer(SeededTrainer):
    """Minibatch SGD on an :class:`~revival.models.mlp.MLP` with the schedules of a
    :class:`~revival.config.NetConfig`: weight decay on weights only, max-norm projection after every
    step, dropout masks from the run's generator; the first ``freeze_pretrained_epochs`` epochs update
    the output layer alone (Hinton & Salakhutdinov's backpropclassify.m trains only the new softmax
    layer on top of the pretrained stack for its first 5 epochs), and backpropagate no further.

    The step is ``torch.optim.SGD``'s, written out: with g the gradient (plus lambda W for weights),
        v <- g (the first step), then v <- m v + (1 - dampening) g;   theta <- theta - lr v
    (momentum 0: theta <- theta - lr g). The gradients come from :meth:`~revival.models.mlp.MLP.backward_tape`,
    not autograd: the same numbers bit for bit (tests/test_backprop.py holds them to an autograd
    reference), without autograd's graph and the optimizer's bookkeeping every batch. The state keeps
    ``torch.optim.SGD``'s ``state_dict`` format, so a run saved by either resumes with the other."""

    def __init__(self, model, cfg: NetConfig, generator: torch.Generator, noise: torch.Generator):
        super().__init__(model, cfg, generator, noise)
        self.params = [p.detach() for p in model.weights() + model.biases()]  # SGD's order: weights, biases
        self.vel: list[torch.Tensor | None] = [None] * len(self.params)  # SGD's momentum buffers
        self.hyper = {"lr": cfg.lr, "momentum": cfg.momentum_at(0), "dampening": 0.0}  # of the last epoch

    def state_dict(self) -> dict:
        n = len(self.params) // 2
        group = {
            "weight_decay": 0.0,
            "nesterov": False,
            "maximize": False,
            "foreach": None,
            "differentiable": False,
            "fused": None,
            **self.hyper,
        }
        opt = {
            "state": {i: {"momentum_buffer": v.clone()} for i, v in enumerate(self.vel) if v is not None},
            "param_groups": [{**group, "params": list(range(n))}, {**group, "params": list(range(n, 2 * n))}],
        }
        return {"opt": opt, **super().state_dict()}

    def load_state_dict(self, st: dict):
        state = st["opt"]["state"]
        self.vel = [None] * len(self.params)
        for i, p in enumerate(self.params):
            buf = (state.get(i) or state.get(str(i)) or {}).get("momentum_buffer")
            if buf is not None:
                self.vel[i] = buf.to(device=p.device, dtype=p.dtype).clone()
        super().load_state_dict(st)

    @torch.no_grad()
    def train_epoch(
        self,
        x: Visible,
        y: torch.Tensor,
        epoch: int,
        check: Callable[[], None] = lambda: None,
        on_batch: Callable[[], None] | None = None,
    ) -> dict:
        """One pass in a seeded order; returns device scalars ``loss`` and ``error`` (with dropout on)
        and, with ``monitor_layers``, ``grad_norm``: each layer's ||dL/dW_k||_2 (Frobenius; the loss
        gradient alone, before weight decay and momentum) averaged over the epoch's batches."""

        cfg, model = self.cfg, self.model
        m = cfg.momentum_at(epoch)
        lr, damp = cfg.lr_at(epoch), (m if cfg.dampen else 0.0)
        self.hyper = {"lr": lr, "momentum": m, "dampening": damp}
        dev = y.device
        loss_sum, err_sum = torch.zeros((), device=dev), torch.zeros((), device=dev)
        L = len(model.layers)
        grad_sum = torch.zeros(L, device=dev) if cfg.monitor_layers else None
        first = L - 1 if epoch < cfg.freeze_pretrained_epochs else 0  # the lowest layer trained this epoch
        dtype = lowp(cfg.precision)  # the products' dtype (None: the weights' own)
        capped = set(range(first, L if cfg.max_norm_layers == "all" else L - 1)) if cfg.max_norm is not None else ()
        model.train()
        buf = torch.empty(cfg.batch_size, x.data.shape[1], device=dev)
        for idx in batches(len(x), cfg.batch_size, self.gen, dev):
            check()
            xb, yb = x.batch(idx, out=buf[: len(idx)]), y[idx]  # the uint8 rows as floats, in one reused buffer
            z, tape = model.forward_tape(xb, self.noise, dtype)
            logits = z.float()  # the loss, its gradient seed and the weights' updates in float32
            with torch.enable_grad():
                leaf = logits.detach().requires_grad_()
                loss = loss_fn(leaf, yb, cfg.loss)
                (d,) = torch.autograd.grad(loss, leaf)
            grads = model.backward_tape(tape, d, first)
            if grad_sum is not None:
                grad_sum += torch.stack(
                    [torch.dot(g[0].view(-1), g[0].view(-1)) if g is not None else d.new_zeros(()) for g in grads]
                ).sqrt_()
            self._step(grads, lr, m, damp)
            for i in capped:  # each unit's incoming weights: hidden units, or every layer (trained ones)
                max_norm_(self.params[i], cfg.max_norm)
            loss_sum += loss.detach() * len(idx)
            err_sum += (logits.argmax(1) != yb).sum()
            if on_batch is not None:
                on_batch()
        out = {"loss": loss_sum / len(x), "error": err_sum / len(x)}
        if grad_sum is not None:
            out["grad_norm"] = grad_sum / -(-len(x) // cfg.batch_size)  # mean over the epoch's batches
        return out

    def _step(self, grads: list, lr: float, m: float, damp: float):
        """The SGD step (class docstring) on the layers with a gradient; the others, their biases and
        their velocities stay as they are."""
        L, wd = len(grads), self.cfg.weight_decay
        for i, g in enumerate(grads):
            if g is None:
                continue
            gw, gb = g
            if wd:
                gw.add_(self.params[i], alpha=wd)  # weights only, as SGD's weight_decay adds it
            for j, grad in ((i, gw), (L + i, gb)):
                if m != 0:
                    if self.vel[j] is None:
                        self.vel[j] = grad.clone()
                    else:
                        self.vel[j].mul_(m).add_(grad, alpha=1 - damp)
                    grad = self.vel[j]
                self.params[j].add_(grad, alpha=-lr)


@torch.no_grad()
def layer_monitor(model, x: torch.Tensor) -> tuple[dict, list]:
    """What each hidden layer emits on the fixed examples ``x`` (deterministic net): device scalars
    ``activation/layer_k/mean`` and ``activation/layer_k/saturated`` (:func:`revival.models.mlp.saturation`),
    and the activations themselves (for histograms). Layers count from 1 at the input."""

    acts = model.hidden_activations(x)
    scalars = {}
    for k, a in enumerate(acts, 1):
        scalars[f"activation/layer_{k}/mean"] = a.mean()
        scalars[f"activation/layer_{k}/saturated"] = saturation(a, model.activation)
    return scalars, acts


@torch.no_grad()
def evaluate_classifier(
    model,
    x: Visible,
    y: torch.Tensor,
    loss: str = "cross-entropy",
    batch: int = 5000,
    mc_samples: int = 0,
    generator: torch.Generator | None = None,
    check: Callable[[], None] | None = None,
) -> dict:
    """Mean loss and error fraction of the deterministic (weight-scaled) net on all of ``x``, as
    device scalars; with ``mc_samples`` > 0 also ``error_mc`` from Monte-Carlo averaging (``check``
    is called between masks, so a signal stops a long evaluation)."""

    model.eval()
    dev = y.device
    loss_sum, err_sum, mc_err = (torch.zeros((), device=dev) for _ in range(3))
    for i in range(0, len(x), batch):
        xb, yb = x.batch(slice(i, i + batch)), y[i : i + batch]
        logits = model(xb)
        loss_sum += loss_fn(logits, yb, loss, reduction="sum")
        err_sum += (logits.argmax(1) != yb).sum()
        if mc_samples > 0:
            mc_err += (mc_predict(model, xb, mc_samples, generator, check).argmax(1) != yb).sum()
    out = {"loss": loss_sum / len(x), "error": err_sum / len(x)}
    if mc_samples > 0:
        out["error_mc"] = mc_err / len(x)
    return out


@torch.no_grad()
def predicted_classes(model, x: Visible, batch: int = 5000) -> torch.Tensor:
    """The deterministic (weight-scaled) net's class for every row of ``x`` (argmax of the logits)."""
    model.eval()
    return torch.cat([model(x.batch(slice(i, i + batch))).argmax(1) for i in range(0, len(x), batch)])
