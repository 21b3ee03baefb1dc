"""Fine-tuning by conjugate gradients on large batches, as the authors of the deep Boltzmann machine
fine-tuned their nets (Salakhutdinov & Hinton 2009; their released code, goodfeli/galatea
dbm/code_DBM/backprop.m, l.125-149: each epoch the 60,000 digits in a fresh order, cut into batches of
10,000; on each batch Rasmussen's minimize.m runs three line searches of Polak-Ribiere conjugate
gradients on the batch's summed cross-entropy; for the first 5 epochs only the new softmax layer
moves, CG_MNIST_INIT.m).

Here the line searches are scipy.optimize's nonlinear CG (Polak-Ribiere with Wolfe line searches,
Nocedal & Wright 2006, ch. 5.2: one line search an iteration, so ``maxiter`` = the line searches), over
the net's parameters flattened to one float64 vector, with the objective and its gradient computed by
torch in float64 (as the authors' MATLAB computed them) on a copy of the net, whose result the float32
net takes after each batch. Each batch starts the conjugate directions afresh, as each call of minimize.m does. The
objective is deterministic: no dropout, no max-norm projection, no weight decay (the authors' has none).
Like minimize.m, which allows at most 20 evaluations in one line search (its ``MAX``), a batch stops
after 20 evaluations per line search it was given and keeps the best point it evaluated: scipy's line
searches may otherwise spend a hundred evaluations each once the training loss is near zero (a
fine-tuning run slowed from 35 s to 3 min an epoch by its 60th epoch that way).
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from revival.data import Visible, batches
from revival.models.mlp import loss_fn
from revival.training.train import SeededTrainer

EVALS_PER_SEARCH = 20  # minimize.m's MAX: function evaluations allowed in one line search


class _Spent(Exception):
    """A batch's evaluations are used up."""


class CGTrainer(SeededTrainer):
    """The trainer behind ``NetConfig(optimizer="cg")``, with :class:`~revival.training.train.ClassifierTrainer`'s
    interface: ``train_epoch`` makes one pass in the order ``generator`` draws, one call of the line
    searches per batch of ``cfg.cg_batch_size`` (``cfg.cg_line_searches`` each). ``noise`` is kept for the
    interface (the objective draws nothing)."""

    def __init__(self, model, cfg, generator: torch.Generator, noise: torch.Generator):
        if cfg.input_dropout or cfg.hidden_dropout or cfg.max_norm is not None or cfg.weight_decay:
            raise ValueError("conjugate gradients need a fixed objective: no dropout, max-norm or weight decay")
        super().__init__(model, cfg, generator, noise)

    def train_epoch(
        self,
        x: Visible,
        y: torch.Tensor,
        epoch: int,
        check: Callable[[], None] = lambda: None,
        on_batch: Callable[[], None] | None = None,
    ) -> dict:
        """One pass; returns device scalars ``loss`` and ``error``, each batch's before its line searches
        (weighted by the batch's rows), and with ``monitor_layers`` ``grad_norm``: each layer's
        ||dL/dW_k|| of the mean loss at the start of each batch, averaged over the batches."""
        from scipy.optimize import minimize  # here: only CG fine-tuning needs scipy

        cfg = self.cfg
        dev = y.device
        # the objective in float64, as the authors' MATLAB: once the training loss nears zero its float32
        # sum is rounding noise and the line searches stall (60 evaluations a batch instead of about 10)
        model = copy.deepcopy(self.model).double()
        layers = model.layers if epoch >= cfg.freeze_pretrained_epochs else model.layers[-1:]
        params = [p for lin in layers for p in lin.parameters()]
        weights = model.weights()
        loss_sum, err_sum = torch.zeros((), device=dev), torch.zeros((), device=dev)
        grad_sum = torch.zeros(len(weights), device=dev) if cfg.monitor_layers else None
        model.train()
        for idx in batches(len(x), cfg.cg_batch_size, self.gen, dev):
            check()
            xb, yb = x.batch(idx).double(), y[idx]
            first, best = {}, {"f": np.inf, "theta": None}
            budget = [EVALS_PER_SEARCH * cfg.cg_line_searches + 1]  # the start, then the searches

            def objective(theta: np.ndarray):
                check()
                if budget[0] <= 0:
                    raise _Spent
                budget[0] -= 1
                set_flat_(params, theta)
                model.zero_grad(set_to_none=True)
                logits = model(xb, self.noise, stochastic=True)
                total = loss_fn(logits, yb, cfg.loss, reduction="sum")  # the authors' summed cross-entropy
                total.backward()
                if not first:  # the batch as it came: its loss and errors before the line searches
                    first["loss"] = total.detach().float() / len(idx)
                    first["error"] = (logits.detach().argmax(1) != yb).float().mean()
                    if grad_sum is not None:
                        first["grad"] = torch.stack(
                            [w.grad.norm() / len(idx) if w.grad is not None else w.new_zeros(()) for w in weights]
                        ).float()
                f = float(total.detach())
                if f < best["f"]:
                    best["f"], best["theta"] = f, np.array(theta, copy=True)
                return f, flat_grad(params)

            try:
                res = minimize(
                    objective,
                    flat(params),
                    jac=True,
                    method="CG",
                    options={"maxiter": cfg.cg_line_searches, "gtol": 0.0},  # stop on the count alone
                )
                end = res.x  # the searches' last accepted point, not their last trial
            except _Spent:
                end = best["theta"]  # out of evaluations: the lowest point seen
            set_flat_(params, end)
            model.zero_grad(set_to_none=True)
            with torch.no_grad():  # the float32 net takes the batch's result
                for mine, theirs in zip(self.model.parameters(), model.parameters()):
                    mine.copy_(theirs)
            loss_sum += first["loss"] * len(idx)
            err_sum += first["error"] * len(idx)
            if grad_sum is not None:
                grad_sum += first["grad"]
            if on_batch is not None:
                on_batch()
        out = {"loss": loss_sum / len(x), "error": err_sum / len(x)}
        if grad_sum is not None:
            out["grad_norm"] = grad_sum / -(-len(x) // cfg.cg_batch_size)  # mean over the batches
        return out


def flat(params: list) -> np.ndarray:
    """The parameters as one float64 vector (scipy's working precision)."""
    return torch.cat([p.detach().reshape(-1) for p in params]).double().cpu().numpy()


def flat_grad(params: list) -> np.ndarray:
    """The parameters' gradients as one float64 vector (zeros where a parameter has none)."""
    return (
        torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        .double()
        .cpu()
        .numpy()
    )


@torch.no_grad()
def set_flat_(params: list, theta: np.ndarray):
    """Write the vector ``theta`` back into ``params`` (in their dtype and device), in order."""
    t = torch.from_numpy(np.asarray(theta))
    k = 0
    for p in params:
        p.copy_(t[k : k + p.numel()].view_as(p))
        k += p.numel()
