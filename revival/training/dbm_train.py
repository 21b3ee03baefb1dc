"""Training a deep Boltzmann machine end to end, one epoch at a time: the greedy pretraining of its
modified RBMs, then PCD with a mean-field positive phase (Salakhutdinov & Hinton 2009; the math is in
:mod:`revival.models.dbm`). One loop serves :func:`revival.fit_dbm` (in memory) and ``revival pretrain-dbm``
(the same loop with a :class:`RunSink` that writes the run folder), so both give the same numbers.

A DBM with L hidden layers trains in L + 1 phases: one per pretraining RBM (:func:`phases`: ``bottom``,
the RBM with doubled input; ``middle2`` .. for L > 2, weights doubled both ways; ``top``, doubled hidden
units; each on the posterior of the one below), then ``joint`` (PCD on the composed DBM). After every
epoch of any phase the whole state (parameters, velocities, persistent chains, the generator) can be
saved, and a run resumed from it continues bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import torch

from revival import runs
from revival.models import dbm as M
from revival.models import dbm_learn as L
from revival.models import partition as P
from revival.models import rbm as R
from revival.tables import AIS_BETAS, AIS_RUNS, AIS_SCHEDULE
from revival.training.train import GracefulStop, checked_floats, restore_generator

MONITOR_ROWS = 1000  # fixed subsets for the per-epoch bound and reconstruction monitors


def phases(depth: int) -> tuple[str, ...]:
    """The phases of a DBM with ``depth`` hidden layers: its pretraining RBMs bottom first, then ``joint``."""
    return ("bottom", *(f"middle{l}" for l in range(2, depth)), "top", "joint")


def _monitor(x, model: M.DBM, steps: int) -> dict:
    """One mean-field pass over the monitored rows ``x`` and what it shows: the mean bound without log Z
    (:func:`revival.models.dbm.mean_bound`), how far the means still move in the last of the ``steps`` rounds
    (max over units, mean over rows: small means mean-field reached its fixed point), each layer's mean
    activity (``mean_h1`` ..), and each layer's share of units whose posterior differs from image to image
    (``varying_h1`` ..; near 0: mean-field has collapsed onto one state for every image, the top-down
    input won; see DBMConfig)."""
    ws, bs = model.params()
    before = M.mean_field(x, ws, bs, steps=steps - 1)
    mus = M.mean_field(x, ws, bs, steps=1, init=before)  # the same means as steps rounds at once
    moved = torch.stack([(m - b).abs().amax(1) for m, b in zip(mus, before)]).amax(0)
    out = {"bound": M.variational_bound(x, mus, ws, bs).mean(), "mf_change": moved.mean()}
    out.update({f"mean_h{l}": m.mean() for l, m in enumerate(mus, 1)})
    out.update({f"varying_h{l}": (m.std(0) > 0.1).float().mean() for l, m in enumerate(mus, 1)})
    return out


COLLAPSED = 0.02  # a layer with fewer units whose posterior varies across images has collapsed
DRIFTING = 0.5  # under half its units varying, and half as many as at the first joint epoch: drifting


def collapsed_layers(row: dict) -> list[str]:
    """The hidden layers (``h1`` ..) of a joint epoch's ``row`` whose mean-field posterior no longer
    depends on the image: under 2% of their units vary across the monitored images (``varying_hK``)."""
    return [k[8:] for k, v in row.items() if k.startswith("varying_") and v < COLLAPSED]


def drifting_layers(first: dict, row: dict) -> list[tuple[str, float, float]]:
    """The hidden layers on their way to collapse: fewer than half their units vary across images in
    the joint epoch's ``row`` and at most half as many as in the ``first`` joint epoch's (on MNIST a
    small DBM pretrained 3 epochs fell from 0.34 to 0.03 in its top layer within 2 epochs, where one
    pretrained 20 epochs kept 1.00). ``(layer, first share, share now)`` each; collapsed ones too."""
    out = []
    for k, v in row.items():
        if k.startswith("varying_") and k in first and v < DRIFTING and v <= first[k] / 2:
            out.append((k[8:], first[k], v))
    return out


def collapse_warnings(rows: list[dict]) -> list[str]:
    """One line per hidden layer whose share of informative units (``varying_hK``) collapsed or drifted
    over the joint epochs of ``rows`` (:func:`drifting_layers` between the first joint epoch and the
    last), saying what to change; [] when none did."""
    joint = [r for r in rows if r.get("phase", "joint") == "joint"]
    if not joint:
        return []
    return [
        f"warning: the joint training is collapsing in {layer}: the share of its units whose posterior varies "
        f"across images fell from {a:.2f} to {b:.2f}, so mean-field says less and less about the image there. "
        "Longer pretraining (--pretrain-epochs; the authors ran 100 and 200), chains started from data "
        "(--chain-start data) or a smaller --lr keep it (docs/dbm.md)"
        for layer, a, b in drifting_layers(joint[0], joint[-1])
    ]


def joint_trainer(model: M.DBM, cfg, generator, data) -> L.DBMTrainer:
    """The PCD trainer of a DBM's joint phase as ``cfg`` (a :class:`revival.config.DBMConfig`) sets it:
    chains started as ``chain_start`` (from ``data``'s rows where that says data), the rate annealed
    per update to its floor, minibatches resampled (``binarize`` resample), the model's statistics from
    the chains' probabilities, the sparsity terms where targets are given."""
    sparsity = None
    if cfg.sparsity_targets is not None:
        sparsity = (cfg.sparsity_targets, cfg.sparsity_cost, cfg.sparsity_damping)
    return L.DBMTrainer(
        model,
        cfg.chains,
        generator,
        cfg.lr,
        cfg.weight_decay,
        cfg.mf_steps,
        cfg.gibbs_steps,
        chain_start=cfg.chain_start,
        data=data if cfg.chain_start == "data" else None,
        anneal=cfg.lr_anneal,
        floor=cfg.lr_floor,
        sample_data=cfg.binarize == "resample",
        probabilities=cfg.chain_probabilities,
        sparsity=sparsity,
    )


class DBMFit:
    """The state of one DBM training run (``cfg`` a :class:`revival.config.DBMConfig`), advanced by
    :meth:`run`. ``rows`` is the history: one dict per epoch with ``phase``, ``epoch`` (within the
    phase) and its monitors as floats."""

    def __init__(self, data, valid, cfg, device, y=None):
        self.data, self.valid, self.cfg, self.device = data, valid, cfg, device
        if cfg.labels and y is None:
            raise ValueError("DBMConfig.labels: a DBM with label units trains on labelled rows; give their labels")
        self.y = y if cfg.labels else None  # one-hot labels of the rows of ``data``
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        # binarize resample: ``data`` holds grey levels, sampled afresh for every minibatch; the monitors
        # read one fixed sample of their rows (a generator of their own, so the training draws stay put)
        self.resample = cfg.binarize == "resample"
        fixed = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        watch = (lambda x: R.sample_bernoulli(x, fixed)) if self.resample else (lambda x: x)  # noqa: E731
        self.monitor = watch(data[:MONITOR_ROWS])
        self.valid_monitor = None if valid is None else watch(valid[:MONITOR_ROWS])
        self.phases = phases(len(cfg.layers))
        self.rbms = {}  # pretraining phase -> PretrainLayer, made when its phase starts
        self.model = self.trainer = None
        self.rbm_data = self.rbm_monitor = None  # the current pretraining RBM's input, computed once
        self.rbm_level = None  # which RBM that input is for
        self.phase, self.epoch, self.rows = self.phases[0], 0, []

    # --- the phases, each made when it starts (its random draws come from the one generator)
    def _inputs(self, k: int):
        """The training rows and monitored rows of pretraining RBM ``k``: the data passed up through the
        posteriors P(h = 1 | v) = sigmoid(up (c + W v)) of the finished RBMs below it (from the grey
        levels where the data are resampled, as the authors' rbm_l2.m l.88), starting from the input of
        the RBM before it where that is at hand (each layer's pass is made once). RBM ``k`` > 0 samples
        its minibatches from these probabilities (rbm_l2.m l.89)."""
        level = self.rbm_level if self.rbm_level is not None and self.rbm_level <= k else 0
        x, m = (self.rbm_data, self.rbm_monitor) if level else (self.data, self.monitor)
        for name in self.phases[level:k]:
            x, m = (self.rbms[name].posterior(t) for t in (x, m))
        return x, m

    def _make(self, phase):
        cfg = self.cfg
        if phase == "joint":
            self.rbm_data = self.rbm_monitor = self.rbm_level = None
            self.model = L.compose([self.rbms[p].params for p in self.phases[:-1]], self.rbms["top"].lab)
            self.trainer = joint_trainer(self.model, cfg, self.gen, self.data)
            return
        k = self.phases.index(phase)
        self.rbm_data, self.rbm_monitor = self._inputs(k)
        self.rbm_level = k
        up, down = L.pretraining_factors(len(cfg.layers))[k]
        sizes = [self.data.shape[1], *cfg.layers]
        self.rbms[phase] = L.PretrainLayer(
            sizes[k],
            sizes[k + 1],
            self.gen,
            self.device,
            up=up,
            down=down,
            weight_decay=cfg.pretrain_weight_decay,
            momentum=(cfg.initial_momentum, cfg.final_momentum),
            momentum_epochs=cfg.momentum_epochs,
            init_std=cfg.pretrain_init_std[0 if k == 0 else 1],
            # the CD-k ramp of the authors' second-layer RBM, for every RBM above the bottom one
            cd_ramp=cfg.pretrain_cd_ramp if k > 0 else 0,
            sample_input=k > 0 or self.resample,
            n_labels=self.y.shape[1] if self.y is not None and phase == "top" else 0,  # rbm_l2.m: labels on top
        )

    def epochs_of(self, phase) -> int:
        if phase == "joint":
            return self.cfg.epochs
        return self.cfg.top_epochs() if phase == "top" else self.cfg.pretrain_epochs

    def _step(self, phase, epoch, check) -> dict:
        cfg = self.cfg
        if phase != "joint":
            rbm = self.rbms[phase]
            rbm.train_epoch(self.rbm_data, epoch, cfg.pretrain_lr, cfg.batch_size, check, y=self.y)
            m = {"recon_error": rbm.recon_error(self.rbm_monitor)}
            params = dict(zip("wbc", rbm.params))
        else:
            momentum = cfg.initial_momentum if epoch < cfg.momentum_epochs else cfg.final_momentum
            self.trainer.train_epoch(self.data, cfg.batch_size, cfg.lr * cfg.lr_decay**epoch, momentum, check, self.y)
            watch = _monitor(self.monitor, self.model, cfg.mf_steps)
            m = {"bound_train": watch.pop("bound"), **watch}
            if self.valid_monitor is not None:
                m["bound_valid"] = M.mean_bound(self.valid_monitor, self.model, cfg.mf_steps)
                m["bound_gap"] = m["bound_train"] - m["bound_valid"]
            params = dict(self.model.named_parameters())
        done = sum(self.epochs_of(p) for p in self.phases[: self.phases.index(phase)]) + epoch + 1
        return checked_floats(m, params, done)

    def _started(self, phase) -> bool:
        return self.model is not None if phase == "joint" else phase in self.rbms

    def run(self, sink=None) -> tuple[M.DBM, list[dict]]:
        """Train from where the state stands to the end; ``sink.phase(self)`` as each phase starts or
        resumes, ``sink.epoch(self, row)`` after every epoch."""
        with GracefulStop() as stop:
            for phase in self.phases[self.phases.index(self.phase) :]:
                if self.phase != phase:
                    self.phase, self.epoch = phase, 0
                if self.epoch == 0 and not self._started(phase):
                    self._make(phase)
                if sink is not None:
                    sink.phase(self)
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
            "pretrain": {name: rbm.state() for name, rbm in self.rbms.items()},
            "model": None if self.model is None else dict(self.model.state_dict()),
            "trainer": None if self.trainer is None else self.trainer.state(),
            "rows": self.rows,
        }

    def load(self, st: dict):
        """Restore :meth:`state`: the finished and current RBMs, the DBM and its chains, the generator (its
        state last: remaking the phases draws initial weights, which the loaded values then replace)."""
        self.phase, self.epoch, self.rows = st["phase"], st["phase_epoch"], list(st["rows"])
        for name in self.phases[:-1]:
            if name in st["pretrain"]:
                self._make(name)
                self.rbms[name].load(st["pretrain"][name])
        if st["model"] is not None:
            self._make("joint")
            self.model.load_state_dict(st["model"])
            self.trainer.load(st["trainer"])
        restore_generator(self.gen, st["generator"])


class RunSink:
    """Writes a DBM run into its folder after every epoch: TensorBoard scalars (``pretrain/<phase>/...``,
    ``dbm/...``), images (``dbm/samples``: P(v | h1) of the persistent chains; ``dbm/filters``: rows of
    W1), ``state.pt`` for resume and, once the DBM exists, ``model.pt`` (``revival.dbm.v1``), and one
    console line; ``composed.pt`` (the same format) when joint training starts: the DBM its pretraining
    made, for the bound at 0 joint epochs."""

    def __init__(self, path, config: dict, echo=print, writer=None, preprocessing: dict | None = None):
        self.path, self.config, self.echo, self.w = Path(path), config, echo, writer
        self.preprocessing = preprocessing or {"binarize": config.get("binarize"), "seed": config.get("seed")}
        self.clock, self.warned = None, set()

    def phase(self, fit: DBMFit):
        """A phase starts (or resumes): a clock of its own, as a joint epoch costs several pretraining ones."""

        self.clock = runs.EpochClock(fit.epoch, fit.epochs_of(fit.phase))
        if fit.phase == "joint" and fit.epoch == 0 and fit.model is not None:  # the baseline of the joint training
            runs.save_torch(self.path / runs.COMPOSED_FILE, fit.model.checkpoint(self.config, self.preprocessing))

    def epoch(self, fit: DBMFit, row: dict):

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
        shown = "  ".join(f"{m} {v:.4f}" for m, v in metrics.items())
        label = "dbm" if phase == "joint" else f"pretrain {phase}"
        of = "" if phase == fit.phases[-1] else " in this phase"
        self.echo(f"[{label}] epoch {k}/{fit.epochs_of(phase)}  {shown}  {self.clock.lap(k, of)}")
        new = [h for h in collapsed_layers(row) if h not in self.warned]
        if new:
            self.warned.update(new)
            self.echo(
                f"warning: mean-field no longer depends on the image in {', '.join(new)} (under {COLLAPSED:.0%} of "
                "the units vary across images): the joint training has collapsed there; longer pretraining, "
                "--chain-start data or a smaller --lr avoid it (docs/dbm.md)"
            )
        if phase == "joint":
            for line in collapse_warnings([r for r in getattr(fit, "rows", [row]) if r["phase"] == "joint"]):
                layer = line.split(" in ", 1)[1].split(":", 1)[0]
                if f"drift-{layer}" not in self.warned and layer not in self.warned:
                    self.warned.add(f"drift-{layer}")
                    self.echo(line)

    def _images(self, fit: DBMFit, k: int):

        if fit.model.w1.shape[1] != 784:
            return
        probs = M.visible_probs(fit.trainer.chain[1][:100], *fit.model.params())
        runs.add_gray_image(self.w, "dbm/samples", runs.image_grid(probs, 10), k)
        runs.add_gray_image(self.w, "dbm/filters", runs.image_grid(fit.model.w1[:100], 10, scale_each=True), k)


@torch.no_grad()
def log_prob(
    model: M.DBM,
    data,
    base,
    ais_runs: int = AIS_RUNS,
    ais_betas: int = AIS_BETAS,
    seed: int = 0,
    mf_steps: int = 10,
    exact=True,
    schedule: str = AIS_SCHEDULE,
):
    """The DBM's average test log-probability, in nats, as Salakhutdinov & Hinton 2009 report it: log Z
    by AIS (:func:`revival.models.dbm.ais_log_z`, base model fitted to the rows of ``base``) and, per row of
    ``data``, the mean-field variational lower bound (:func:`revival.models.dbm.bound_per_row`). The result,
    ``avg_log_prob``, estimates a *lower bound* on the average log p(v) (and, as AIS tends to underestimate
    log Z, leans optimistic by that error); ``avg_log_prob_lower`` / ``_upper`` follow log Z's +- 3 s.e.
    interval; ``schedule``: the inverse temperatures' spacing (:func:`revival.models.partition.betas_of_size`).
    Where the odd layers can be enumerated (at most 20 units) and ``exact``, log Z and log p(v)
    are exact and ``avg_log_prob_exact`` is given beside the bound; ``exact=False`` always runs AIS."""

    if model.n_labels:
        raise ValueError(
            "a DBM with label units: its log p(v) sums over the labels as well, which revival's AIS and bound do "
            "not yet; the test log-probability is the unsupervised DBM's (trained without labels)"
        )
    out = {"method": "ais", "mf_steps": mf_steps, "n_examples": len(data), "is_lower_bound": True}
    if exact and model.odd_units <= M.MAX_EXACT_UNITS:  # small enough to enumerate: all of it in float64
        model, data = M.as_double(model), data.double()
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
        betas = P.betas_of_size(ais_betas, model.w1.device, schedule)
        est = M.ais_log_z(*model.params(), base_bias=base_bias, n_runs=ais_runs, betas=betas, generator=g)
        out.update(log_Z=est.log_z, log_Z_lower=est.log_z_lower, log_Z_upper=est.log_z_upper, ais_runs=ais_runs)
        out.update(ais_betas=ais_betas, ais_schedule=schedule, ess=est.ess)
    bound = float(M.bound_per_row(data, model, 0.0, mf_steps).mean())
    out["avg_log_prob"] = bound - out["log_Z"]
    out["avg_log_prob_lower"] = bound - out["log_Z_upper"]
    out["avg_log_prob_upper"] = bound - out["log_Z_lower"]
    return out
