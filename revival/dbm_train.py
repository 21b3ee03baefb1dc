"""Training a deep Boltzmann machine end to end, one epoch at a time: the greedy pretraining of its two
modified RBMs, then PCD with a mean-field positive phase (Salakhutdinov & Hinton 2009; the math is in
:mod:`revival.dbm`). One loop serves :func:`revival.fit_dbm` (in memory) and ``revival pretrain-dbm``
(the same loop with a :class:`RunSink` that writes the run folder), so both give the same numbers.

The run has three phases, ``bottom`` (the RBM with doubled input), ``top`` (the RBM with doubled
hidden units, on the bottom one's posterior) and ``joint`` (PCD on the composed DBM). After every
epoch of any phase the whole state (parameters, velocities, persistent chains, the generator) can be
saved, and a run resumed from it continues bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import dbm as M
from .train import GracefulStop, checked_floats

PHASES = ("bottom", "top", "joint")
MONITOR_ROWS = 1000  # fixed subsets for the per-epoch bound and reconstruction monitors


def _monitor(x, model: M.DBM, steps: int) -> dict:
    """One mean-field pass over the monitored rows ``x`` and what it shows: the mean bound without log Z
    (:func:`revival.dbm.mean_bound`), how far the means still move in the last of the ``steps`` rounds
    (max over units, mean over rows: small means mean-field reached its fixed point), the mean activities,
    and the share of units whose posterior differs from image to image (near 0: mean-field has collapsed
    onto one state for every image, the top-down input won; see DBMConfig)."""
    p = model.params()
    before = M.mean_field(x, *p, steps=steps - 1)
    mu1, mu2 = M.mean_field(x, *p, steps=1, init=before)  # the same means as steps rounds at once
    return {
        "bound": M.variational_bound(x, mu1, mu2, *p).mean(),
        "mf_change": torch.maximum((mu1 - before[0]).abs().amax(1), (mu2 - before[1]).abs().amax(1)).mean(),
        "mean_h1": mu1.mean(),
        "mean_h2": mu2.mean(),
        "varying_h1": (mu1.std(0) > 0.1).float().mean(),
        "varying_h2": (mu2.std(0) > 0.1).float().mean(),
    }


class DBMFit:
    """The state of one DBM training run (``cfg`` a :class:`revival.config.DBMConfig`), advanced by
    :meth:`run`. ``rows`` is the history: one dict per epoch with ``phase``, ``epoch`` (within the
    phase) and its monitors as floats."""

    def __init__(self, data, valid, cfg, device):
        self.data, self.valid, self.cfg, self.device = data, valid, cfg, device
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        self.monitor = data[:MONITOR_ROWS]
        self.valid_monitor = None if valid is None else valid[:MONITOR_ROWS]
        self.bottom = self.top = self.model = self.trainer = None
        self.top_data = self.top_monitor = None
        self.phase, self.epoch, self.rows = "bottom", 0, []

    # --- the three phases, each made when it starts (its random draws come from the one generator)
    def _hidden(self, x):
        w, _, c = self.bottom.params
        return torch.sigmoid(torch.addmm(c, x, w.t(), alpha=2.0))  # the bottom RBM's own posterior

    def _make(self, phase):
        cfg, n1, n2 = self.cfg, *self.cfg.layers
        kw = {
            "weight_decay": cfg.weight_decay,
            "momentum": (cfg.initial_momentum, cfg.final_momentum),
            "momentum_epochs": cfg.momentum_epochs,
        }
        if phase == "bottom":
            self.bottom = M.PretrainLayer(self.data.shape[1], n1, self.gen, self.device, up=2.0, **kw)
        elif phase == "top":  # its data: the finished bottom RBM's posterior, computed once
            self.top_data, self.top_monitor = self._hidden(self.data), self._hidden(self.monitor)
            self.top = M.PretrainLayer(n1, n2, self.gen, self.device, down=2.0, **kw)
        else:
            self.model = M.compose(self.bottom.params, self.top.params)
            self.trainer = M.DBMTrainer(
                self.model, cfg.chains, self.gen, cfg.lr, cfg.weight_decay, cfg.mf_steps, cfg.gibbs_steps
            )

    def epochs_of(self, phase) -> int:
        return self.cfg.epochs if phase == "joint" else self.cfg.pretrain_epochs

    def _step(self, phase, epoch, check) -> dict:
        cfg = self.cfg
        if phase == "bottom":
            self.bottom.train_epoch(self.data, epoch, cfg.pretrain_lr, cfg.batch_size, check)
            m = {"recon_error": self.bottom.recon_error(self.monitor)}
            params = dict(zip("wbc", self.bottom.params))
        elif phase == "top":
            self.top.train_epoch(self.top_data, epoch, cfg.pretrain_lr, cfg.batch_size, check)
            m = {"recon_error": self.top.recon_error(self.top_monitor)}
            params = dict(zip("wbc", self.top.params))
        else:
            momentum = cfg.initial_momentum if epoch < cfg.momentum_epochs else cfg.final_momentum
            self.trainer.train_epoch(self.data, cfg.batch_size, cfg.lr * cfg.lr_decay**epoch, momentum, check)
            watch = _monitor(self.monitor, self.model, cfg.mf_steps)
            m = {"bound_train": watch.pop("bound"), **watch}
            if self.valid_monitor is not None:
                m["bound_valid"] = M.mean_bound(self.valid_monitor, self.model, cfg.mf_steps)
                m["bound_gap"] = m["bound_train"] - m["bound_valid"]
            params = dict(self.model.named_parameters())
        done = sum(self.epochs_of(p) for p in PHASES[: PHASES.index(phase)]) + epoch + 1
        return checked_floats(m, params, done)

    def run(self, sink=None) -> tuple[M.DBM, list[dict]]:
        """Train from where the state stands to the end; ``sink.epoch(self, row)`` after every epoch."""
        if sink is not None:
            sink.start(self)
        with GracefulStop() as stop:
            for phase in PHASES[PHASES.index(self.phase) :]:
                if self.phase != phase:
                    self.phase, self.epoch = phase, 0
                if self.epoch == 0 and {"bottom": self.bottom, "top": self.top, "joint": self.model}[phase] is None:
                    self._make(phase)
                while self.epoch < self.epochs_of(phase):
                    row = {"phase": phase, "epoch": self.epoch + 1, **self._step(phase, self.epoch, stop.check)}
                    self.rows.append(row)
                    self.epoch += 1
                    if sink is not None:
                        sink.epoch(self, row)
        return self.model, self.rows

    # --- resume
    def state(self) -> dict:
        """Everything a resumed run needs to continue bit for bit (``torch.load(weights_only=True)``-safe)."""
        return {
            "epoch": len(self.rows),
            "phase": self.phase,
            "phase_epoch": self.epoch,
            "generator": self.gen.get_state(),
            "bottom": None if self.bottom is None else self.bottom.state(),
            "top": None if self.top is None else self.top.state(),
            "model": None if self.model is None else dict(self.model.state_dict()),
            "trainer": None if self.trainer is None else self.trainer.state(),
            "rows": self.rows,
        }

    def load(self, st: dict):
        self.phase, self.epoch, self.rows = st["phase"], st["phase_epoch"], list(st["rows"])
        if st["bottom"] is not None:
            self._make("bottom")
            self.bottom.load(st["bottom"])
        if st["top"] is not None:
            self._make("top")
            self.top.load(st["top"])
        if st["model"] is not None:
            self._make("joint")
            self.model.load_state_dict(st["model"])
            self.trainer.load(st["trainer"])
        self.gen.set_state(st["generator"].cpu() if self.gen.device.type == "cpu" else st["generator"])


class RunSink:
    """Writes a DBM run into its folder after every epoch: TensorBoard scalars (``pretrain/<phase>/...``,
    ``dbm/...``), images (``dbm/samples``: P(v | h1) of the persistent chains; ``dbm/filters``: rows of
    W1), ``state.pt`` for resume and, once the DBM exists, ``model.pt`` (``revival.dbm.v1``), and one
    console line."""

    def __init__(self, path, config: dict, echo=print, writer=None, preprocessing: dict | None = None):
        self.path, self.config, self.echo, self.w = Path(path), config, echo, writer
        self.preprocessing = preprocessing or {"binarize": config.get("binarize"), "seed": config.get("seed")}
        self.clock = None

    def start(self, fit: DBMFit):
        from . import runs

        self.clock = runs.EpochClock(len(fit.rows), sum(fit.epochs_of(p) for p in PHASES))

    def epoch(self, fit: DBMFit, row: dict):
        from . import runs

        phase, k = row["phase"], row["epoch"]
        metrics = {m: v for m, v in row.items() if m not in ("phase", "epoch")}
        if self.w is not None:
            for m, v in metrics.items():
                self.w.add_scalar(f"dbm/{m}" if phase == "joint" else f"pretrain/{phase}/{m}", v, k)
            if phase == "joint" and (k % 5 == 0 or k == fit.cfg.epochs):
                self._images(fit, k)
            self.w.flush()
        model = None if fit.model is None else fit.model.checkpoint(self.config, self.preprocessing)
        runs.save_epoch(self.path, model, fit.state())
        done = len(fit.rows)
        shown = "  ".join(f"{m} {v:.4f}" for m, v in metrics.items())
        label = "dbm" if phase == "joint" else f"pretrain {phase}"
        self.echo(f"[{label}] epoch {k}/{fit.epochs_of(phase)}  {shown}  {self.clock.lap(done)}")

    def _images(self, fit: DBMFit, k: int):
        from . import runs

        if fit.model.w1.shape[1] != 784:
            return
        w1, _, b = fit.model.w1, fit.model.w2, fit.model.b
        probs = torch.sigmoid(torch.addmm(b, fit.trainer.chain[1][:100], w1))
        runs.add_gray_image(self.w, "dbm/samples", runs.image_grid(probs, 10), k)
        runs.add_gray_image(self.w, "dbm/filters", runs.image_grid(w1[:100], 10, scale_each=True), k)


@torch.no_grad()
def log_prob(model: M.DBM, data, base, ais_runs: int = 100, ais_betas: int = 14_501, seed: int = 0, mf_steps: int = 10):
    """The DBM's average test log-probability, in nats, as Salakhutdinov & Hinton 2009 report it: log Z
    by AIS (:func:`revival.dbm.ais_log_z`, base model fitted to the rows of ``base``) and, per row of
    ``data``, the mean-field variational lower bound (:func:`revival.dbm.bound_per_row`). The result,
    ``avg_log_prob``, estimates a *lower bound* on the average log p(v) (and, as AIS tends to underestimate
    log Z, leans optimistic by that error); ``avg_log_prob_lower`` / ``_upper`` follow log Z's +- 3 s.e.
    interval. Where the middle layer can be enumerated (at most 20 units), log Z and log p(v) are
    exact and ``avg_log_prob_exact`` is given beside the bound."""
    from . import partition as P

    p = model.params()
    out = {"method": "ais", "mf_steps": mf_steps, "n_examples": len(data), "is_lower_bound": True}
    if model.w1.shape[0] <= M.MAX_EXACT_UNITS:  # small enough to enumerate: all of it in float64
        model, data = M.DBM(*model.layers).to(model.w1.device).double(), data.double()
        model.load_state_dict({k: v.double() for k, v in zip(("w1", "w2", "b", "c1", "c2"), p)})
        p = model.params()
        lz = float(M.exact_log_z(*p))
        out.update(method="exact", log_Z=lz, log_Z_lower=lz, log_Z_upper=lz)
        exact = torch.cat(
            [M.exact_log_prob(xb, *p, log_z=torch.tensor(lz, dtype=torch.float64)) for xb in data.split(1000)]
        )
        out["avg_log_prob_exact"] = float(exact.double().mean())
    else:
        g = torch.Generator(device=model.w1.device).manual_seed(seed)
        base_bias = P.base_rate_bias(base.float().mean(0))
        betas = P.betas_of_size(ais_betas, model.w1.device)
        est = M.ais_log_z(*p, base_bias=base_bias, n_runs=ais_runs, betas=betas, generator=g)
        out.update(log_Z=est.log_z, log_Z_lower=est.log_z_lower, log_Z_upper=est.log_z_upper, ais_runs=ais_runs)
        out.update(ais_betas=ais_betas, ess=est.ess)
    bound = float(M.bound_per_row(data, model, 0.0, mf_steps).mean())
    out["avg_log_prob"] = bound - out["log_Z"]
    out["avg_log_prob_lower"] = bound - out["log_Z_upper"]
    out["avg_log_prob_upper"] = bound - out["log_Z_lower"]
    return out
