"""One classifier training run, epoch by epoch: the loop that :func:`revival.fit_net` and every
compare-dropout point share (so a library fit and a point of the command give the same numbers).

:class:`NetFit` holds the net and its trainer, the data it trains on and the splits it is evaluated
on; after each epoch (every ``eval_every``, and the last) it evaluates every split, checks for
divergence, and, where it has them, logs to a TensorBoard writer, saves ``state.pt`` in its folder
(resume continues bit for bit) and echoes one line. The caller builds the net (initialised from a
pretrained stack or a DBM or not) and the :class:`revival.config.NetConfig`.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Callable

import torch

from revival import runs
from revival.training.train import (
    ClassifierTrainer,
    NoBar,
    checked_floats,
    epoch_loop,
    evaluate_classifier,
    layer_monitor,
)

NOISE_SEED_OFFSET = 7_777_777  # the dropout masks' generator: seed + this (the batches' generator: seed)
NO_VALIDATION = "no validation split"  # what a run that trains on its validation images reports instead


def classifier_trainer(model, cfg, generator: torch.Generator, noise: torch.Generator):
    """The trainer ``cfg.optimizer`` names: minibatch SGD (:class:`~revival.training.train.ClassifierTrainer`)
    or conjugate gradients (:class:`~revival.training.cg.CGTrainer`)."""
    if cfg.optimizer == "cg":
        from revival.training.cg import CGTrainer

        return CGTrainer(model, cfg, generator, noise)
    return ClassifierTrainer(model, cfg, generator, noise)


def update_rows(cfg) -> int:
    """The examples behind one weight update: a minibatch, or a conjugate-gradient batch."""
    return cfg.cg_batch_size if cfg.optimizer == "cg" else cfg.batch_size


class Selection:
    """Model selection on the validation error, as Keras' ``EarlyStopping(monitor="val_error",
    mode="min", min_delta=0)`` does it: an evaluation improves on the best only when strictly lower
    (a tie keeps the earlier epoch); ``patience`` (epochs; None: never stop) stops training at the first
    evaluated epoch that many epochs after the best; ``restore_best`` keeps a copy of the weights of the
    best epoch and puts them back when training ends, stopped early or not (Keras 3's behaviour).
    Whatever the options, :attr:`epoch` and :attr:`at_best` record the epoch of lowest validation error
    and every metric at it (so a run reports the test error at that epoch beside the last one)."""

    def __init__(self, restore_best: bool = False, patience: int | None = None):
        self.restore_best, self.patience = restore_best, patience
        self.best, self.epoch, self.at_best = math.inf, None, {}
        self.weights = None  # the best epoch's parameters (restore_best only), on the model's device
        self.stopped_epoch = None

    def update(self, epoch: int, vals: dict, model) -> None:
        """After evaluated epoch ``epoch`` (1-based) with metrics ``vals`` (``error/valid`` among them)."""
        if vals["error/valid"] < self.best:
            self.best, self.epoch, self.at_best = vals["error/valid"], epoch, dict(vals)
            if self.restore_best:
                self.weights = {k: t.detach().clone() for k, t in model.state_dict().items()}
        elif self.patience is not None and epoch - self.epoch >= self.patience:
            self.stopped_epoch = epoch

    def finish(self, model) -> None:
        """The end of training: the best epoch's weights back into ``model`` (restore_best)."""
        if self.restore_best and self.weights is not None:
            model.load_state_dict(self.weights)

    def state_dict(self) -> dict:
        return {
            "best": self.best,
            "epoch": self.epoch,
            "at_best": self.at_best,
            "weights": self.weights,
            "stopped_epoch": self.stopped_epoch,
        }

    def load_state_dict(self, st: dict) -> None:
        self.best, self.epoch, self.at_best = st["best"], st["epoch"], dict(st["at_best"])
        self.weights, self.stopped_epoch = st["weights"], st["stopped_epoch"]

    def fields(self, validated: bool = True) -> dict:
        """``best_valid_epoch`` and ``test_error_at_best_valid`` for a summary row; where the run has no
        validation split (it trains on those images) both say so instead of a number."""
        if not validated:
            return {"best_valid_epoch": NO_VALIDATION, "test_error_at_best_valid": NO_VALIDATION}
        out = {"best_valid_epoch": self.epoch, "test_error_at_best_valid": self.at_best.get("error/test")}
        if self.stopped_epoch is not None:
            out["stopped_epoch"] = self.stopped_epoch
        if self.restore_best:
            out["restored_best"] = self.weights is not None
        return out


class NetFit:
    """``model`` trained by :class:`~revival.training.train.ClassifierTrainer` on ``(x, y)`` with ``cfg``, its
    two generators seeded from ``seed``. ``evals``: ``{split: (x, y)}`` evaluated in that order
    (``train`` a fixed subset of the training rows); ``monitor_x``: rows for the per-layer activation
    monitors (None: off). ``folder``: where ``state.pt`` goes after each evaluated epoch and where a
    resume starts from (None: in memory). ``echo``: one line per evaluated epoch (None: silent).
    ``history``: the evaluated epochs' metrics, as floats. ``selection``: the epoch of lowest
    validation error (when ``evals`` has ``valid``), early stopping and restoring (:class:`Selection`).
    ``validated``: False where the ``valid`` split is part of the training rows (it is then evaluated
    but chooses nothing)."""

    def __init__(
        self,
        model,
        cfg,
        seed: int,
        x,
        y,
        evals: dict,
        eval_every: int,
        folder=None,
        monitor_x=None,
        echo=None,
        name="",
        selection: Selection | None = None,
        validated: bool = True,
    ):
        self.model, self.cfg, self.x, self.y, self.evals = model, cfg, x, y, evals
        self.eval_every, self.monitor_x, self.echo, self.name = eval_every, monitor_x, echo, name
        self.folder = None if folder is None else Path(folder)
        device = next(model.parameters()).device
        self.per_epoch = -(-len(x) // update_rows(cfg))  # weight updates an epoch
        self.trainer = classifier_trainer(
            model,
            cfg,
            torch.Generator(device=device).manual_seed(seed),
            torch.Generator(device=device).manual_seed(seed + NOISE_SEED_OFFSET),
        )
        self.start, self.best_test_loss, self.last = 0, math.inf, {}
        self.seconds = 0.0  # wall time of the epochs so far (training, evaluation, saving), resumes included
        self.history: list[dict] = []
        self.validated = validated and "valid" in evals
        self.selection = selection or Selection()
        if not self.validated and (self.selection.restore_best or self.selection.patience is not None):
            raise ValueError("restoring the best epoch and early stopping need a validation split to choose on")
        st = None if self.folder is None else runs.load_state(self.folder, device)
        if st is not None:
            model.load_state_dict(st["model"])
            self.trainer.load_state_dict(st["trainer"])
            self.start, self.best_test_loss, self.last = st["epoch"], st["best_test_loss"], st["metrics"]
            self.seconds = st.get("seconds", 0.0)
            self.history = list(st.get("history", []))  # the evaluated epochs before the resume
            if "selection" in st:
                self.selection.load_state_dict(st["selection"])
            if echo is not None:
                echo(f"[{name}] resuming after epoch {self.start}")
        self.clock = runs.EpochClock(self.start, cfg.epochs)
        self.snapshot = None  # the last completed epoch when it was not evaluated (and so not saved)
        self.mark = time.perf_counter()

    def tick(self) -> float:
        """Add the wall time since the last tick to ``seconds``; returns the new total."""
        now = time.perf_counter()
        self.seconds, self.mark = self.seconds + now - self.mark, now
        return self.seconds

    def train(self, epoch, check, on_batch=None) -> dict:
        return self.trainer.train_epoch(self.x, self.y, epoch, check, on_batch)

    def state(self, epoch: int, metrics: dict) -> dict:
        return {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "trainer": self.trainer.state_dict(),
            "best_test_loss": self.best_test_loss,
            "metrics": metrics,
            "seconds": self.tick(),
            "history": list(self.history),
            "selection": self.selection.state_dict(),
        }

    @property
    def stopped(self) -> bool:
        """Early stopping (``patience``) has ended the training."""
        return self.selection.stopped_epoch is not None

    @property
    def last_epoch(self) -> int:
        """The last epoch trained (fewer than the schedule's when stopped early)."""
        return self.selection.stopped_epoch or self.cfg.epochs

    def finish(self) -> dict:
        """The end of training: the best epoch's weights restored (``restore_best``); returns the metrics
        the returned model has (the best epoch's when restored, else the last evaluation's)."""
        self.selection.finish(self.model)
        return self.selection.at_best if self.selection.weights is not None else self.last

    def run(self, w, stop, make_bar: Callable | None = None, after_epoch: Callable[[int], None] | None = None):
        """Epochs ``start .. cfg.epochs - 1``, until early stopping ends them: the loop both
        :func:`revival.fit_net` and compare-dropout's points run. ``w``: a TensorBoard writer or None;
        ``make_bar(epoch)``: a bar over the epoch's batches (none: no bar); ``after_epoch(epoch)``
        after each (the library's bar over the epochs, its model.pt)."""

        def end(epoch, tr, seconds):
            self.end_epoch(w, epoch, tr, seconds)
            if after_epoch is not None:
                after_epoch(epoch)

        bar = make_bar or (lambda epoch: NoBar())
        epoch_loop(self.start, self.cfg.epochs, stop, bar, self.train, end, done=lambda: self.stopped)

    def end_epoch(self, w, epoch: int, tr: dict, seconds: float = 0.0):
        """Evaluate, check for divergence, log (with the per-layer monitors), save the resume state,
        echo one line in percent; with ``eval_every`` > 1 only every that many epochs and after the
        last. ``w``: a TensorBoard writer, or None."""
        if (epoch + 1) % self.eval_every and epoch + 1 != self.cfg.epochs:
            # not evaluated (--min-updates: many short epochs): keep this epoch in memory, so a stop
            # before the next evaluation saves it instead of losing the epochs since
            if self.folder is not None:
                self.snapshot = copy.deepcopy(self.state(epoch + 1, self.last))
            return
        self.snapshot = None
        cfg, model = self.cfg, self.model
        scalars = {}
        for split, (ex, ey) in self.evals.items():
            ev = evaluate_classifier(model, ex, ey, cfg.loss)
            scalars[f"error/{split}"], scalars[f"loss/{split}"] = ev["error"], ev["loss"]
        scalars["train/batch_loss"] = tr["loss"]
        acts = []
        if self.monitor_x is not None:
            layer_scalars, acts = layer_monitor(model, self.monitor_x)
            scalars.update(layer_scalars)
            scalars.update({f"grad_norm/layer_{k}": g for k, g in enumerate(tr["grad_norm"].unbind(), 1)})
        where = f" ({self.name})" if self.name else ""
        vals = checked_floats(scalars, dict(model.named_parameters()), epoch + 1, where)
        if "loss/test" in vals:
            self.best_test_loss = min(self.best_test_loss, vals["loss/test"])
        if self.validated:
            self.selection.update(epoch + 1, vals, model)
        self.history.append({"epoch": epoch + 1, **vals})
        if w is not None:
            for k, v in vals.items():
                w.add_scalar(k, v, epoch + 1)
            for k, a in enumerate(acts, 1):
                w.add_histogram(f"activation/layer_{k}", a, epoch + 1)
            if cfg.optimizer == "sgd":  # conjugate gradients have neither
                w.add_scalar("train/lr", cfg.lr_at(epoch), epoch + 1)
                w.add_scalar("train/momentum", cfg.momentum_at(epoch), epoch + 1)
            w.flush()
        if self.folder is not None:
            runs.save_epoch(self.folder, None, self.state(epoch + 1, vals))
        self.last = vals
        if self.echo is not None:
            said = {"valid": "valid" if self.validated else "valid (trained on)"}  # no held-out split then
            errs = "  ".join(f"{said.get(s, s)} err {100 * vals[f'error/{s}']:.2f}%" for s in self.evals)
            loss = f"  test loss {vals['loss/test']:.4f}" if "loss/test" in vals else ""
            self.echo(f"[{self.name}] epoch {epoch + 1}/{cfg.epochs}  {errs}{loss}  {self.clock.lap(epoch + 1)}")
            if self.stopped:
                sel = self.selection
                self.echo(
                    f"[{self.name}] early stop: no lower validation error in the {epoch + 1 - sel.epoch} epochs "
                    f"since epoch {sel.epoch} ({100 * sel.best:.2f}%; patience {sel.patience})"
                )
