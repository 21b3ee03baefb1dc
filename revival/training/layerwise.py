"""Layer-wise RBM training shared by the pretraining and the comparison experiments: one loop,
:func:`fit_rbm`, trains a single RBM or one layer of a stack (every epoch monitored, logged to
TensorBoard, checkpointed, resumable), and :func:`fit_stack` trains a deep belief net greedily,
layer k+1 on layer k's hidden activities (Hinton, Osindero & Teh 2006), one sub-folder a layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from revival import data as D
from revival import runs
from revival.config import RBMConfig
from revival.models import dbn as DBN
from revival.models import partition as P
from revival.models import rbm as R
from revival.training.train import GracefulStop, NoBar, RBMTrainer, checked_floats, epoch_loop, rbm_monitor

DISPLAY_STEPS = 20  # Gibbs sweeps per epoch of the display chains behind rbm/samples
AIS_MONITOR_BETAS = 1000  # the cheap schedule used by --ais-every during training
N_SHOWN = 100  # tiles in the filter, sample and reconstruction grids
DEAD = 1e-3  # mean hidden activity below this (or above 1 - this): a collapsed RBM


@dataclass
class LayerData:
    """What one RBM trains and is monitored on. ``to_image`` maps the layer's visible vectors to
    pixels for the image grids (identity for layer 1, a down pass for higher layers), ``filters``
    gives its units' weights in pixel space."""

    train: D.Visible
    valid: D.Visible
    train_subset: torch.Tensor
    valid_subset: torch.Tensor
    binary: bool  # the data are 0/1 (the pseudo-log-likelihood is defined only then)
    to_image: Callable[[torch.Tensor], torch.Tensor] | None  # None: the data are not images (no grids)
    filters: Callable[[R.RBM], torch.Tensor] | None
    test: D.Visible | None = None  # for the log-probability (--ais-every / final AIS)


@dataclass
class RBMJob:
    """One RBM to train: its options, data, folder and seed; ``extra`` goes into its checkpoint."""

    folder: Path
    opts: dict
    data: LayerData
    seed: int
    extra: dict = field(default_factory=dict)
    label: str = ""  # prefix of the console lines ("layer 2: ")
    resume: bool = False


def monitor_subsets(train: D.Visible, valid: D.Visible, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed monitoring sets: ``n`` seeded training rows and the first ``n`` validation rows."""
    n = min(n, len(train), len(valid))
    pick = torch.from_numpy(np.random.default_rng(seed).permutation(len(train))[:n]).to(train.data.device)
    return train.batch(pick), valid.batch(slice(0, n))


def new_rbm(train: D.Visible, cfg: RBMConfig, seed: int, device) -> tuple[R.RBM, RBMTrainer]:
    """A fresh RBM for ``train``'s width and its trainer, drawn from one generator seeded with
    ``seed``: the initial weights (N(0, init_std^2)), the visible biases from the data's means
    (``log-odds``), then PCD's chains. The CLI's runs and the library's in-memory fits both start
    here, so the same seed gives the same parameters either way."""
    gen = torch.Generator(device=device).manual_seed(seed)
    model = R.RBM(train.data.shape[1], cfg.n_hidden, cfg.visible_type).to(device)
    model.init_(gen, train.all().mean(0) if cfg.visible_bias_init == "log-odds" else None, std=cfg.init_std)
    return model, RBMTrainer(model, cfg, gen)


MONITOR_TENSORS = ("hidden_probs", "samples", "recon", "originals", "chain")  # a monitor's images, not scalars


class RBMFit:
    """One RBM's training: the loop every RBM fit runs. Without a sink it is :func:`revival.fit_rbm`
    in memory, measuring the free energies of fixed ``subsets`` (train, valid) when given; with an
    :class:`RBMRunSink` it is ``pretrain-rbm``, a layer of ``pretrain-dbn``'s stack or of
    compare-dropout's pretraining: the sink monitors, logs, saves and resumes. The parameters do not
    depend on the sink: its monitors draw from their own generators."""

    def __init__(self, train: D.Visible, cfg: RBMConfig, seed: int, device, subsets=None, sink=None):
        self.data, self.cfg, self.seed, self.device = train, cfg, seed, device
        self.model, self.trainer = new_rbm(train, cfg, seed, device)
        self.subsets, self.sink = subsets, sink
        self.start, self.last = 0, {}
        self.history: list[dict] = []  # each epoch's metrics (of this process: a resumed run's start here)
        if sink is not None:
            sink.attach(self)

    def train(self, epoch: int, check, on_batch=None) -> dict:
        return self.trainer.train_epoch(self.data, epoch, check, on_batch)

    def end_epoch(self, epoch: int, m: dict, seconds: float = 0.0):
        """The epoch's monitors (the sink's, or the free energies of the subsets), a divergence check,
        the history, then the sink's logging and checkpoint."""
        if self.sink is not None:
            m.update(self.sink.monitor(self, epoch))
        elif self.subsets is not None:
            W, b, c = self.model.params()
            fe_t, fe_v = (R.free_energy(x, W, b, c, self.model.visible_type).mean() for x in self.subsets)
            m.update(free_energy_train=fe_t, free_energy_valid=fe_v, free_energy_gap=fe_v - fe_t)
        scalars = {k: v for k, v in m.items() if k not in MONITOR_TENSORS}
        try:
            self.last = checked_floats(scalars, dict(self.model.named_parameters()), epoch + 1)
        except runs.Diverged as e:
            if self.sink is not None:
                self.sink.diverged(epoch, e)
            raise
        self.history.append({"epoch": epoch + 1, **self.last})
        if self.sink is not None:
            self.sink.record(self, epoch, m)

    def run(self, stop: GracefulStop, after_epoch: Callable[[dict], None] | None = None):
        """Epochs ``start .. cfg.epochs - 1`` (a bar over each epoch's batches where the sink shows one);
        ``after_epoch(last)`` after each (the library's bar over the epochs)."""

        def end(epoch, m, seconds):
            self.end_epoch(epoch, m, seconds)
            if after_epoch is not None:
                after_epoch(self.last)

        bar = self.sink.bar if self.sink is not None else lambda epoch: NoBar()
        epoch_loop(self.start, self.cfg.epochs, stop, bar, self.train, end)
        return self.model


class RBMRunSink:
    """Where an :class:`RBMFit` of a run folder goes each epoch: the monitors of ``job.data``
    (free energies, pseudo-likelihood, display chains, AIS with ``--ais-every``), TensorBoard, the
    ``state.pt`` / ``model.pt`` pair, the console line; and, with ``job.resume``, the state it
    continues from. ``w``: the open TensorBoard writer (set once the start epoch is known)."""

    def __init__(self, job: RBMJob, echo, progress: bool):
        self.job, self.echo, self.progress = job, echo, progress
        self.w, self.display, self.warned = None, None, False

    def attach(self, fit: RBMFit):
        job, cfg = self.job, fit.cfg
        # display chains for the rbm/samples images: PCD shows its own chains; otherwise 100 chains
        # kept across epochs (DISPLAY_STEPS Gibbs sweeps each epoch), started from noise
        self.display_gen = torch.Generator(device=fit.device).manual_seed(job.seed + 12_345)
        if fit.trainer.chain is None:
            self.display = R.noise_chains(N_SHOWN, fit.model.visible_bias, cfg.visible_type, self.display_gen)
        st = runs.load_state(job.folder, fit.device) if job.resume else None
        if st is not None:
            fit.model.load_state_dict(st["model"])
            fit.trainer.load_state_dict(st["trainer"])
            fit.start, fit.last = st["epoch"], st.get("metrics", {})
            if self.display is not None:
                self.display = st["display"]
            self.echo(f"{job.label}resuming {job.folder} after epoch {fit.start}")
        self.clock = runs.EpochClock(fit.start, cfg.epochs)
        self.batches = -(-len(fit.data) // cfg.batch_size)

    def bar(self, epoch: int) -> runs.Progress:
        return runs.Progress(self.batches, f"{self.job.label}epoch {epoch + 1}", self.progress)

    def monitor(self, fit: RBMFit, epoch: int) -> dict:
        job, d, model = self.job, self.job.data, fit.model
        mon_gen = torch.Generator(device=fit.device).manual_seed(job.seed * 1_000_003 + epoch + 1)
        m = rbm_monitor(
            model,
            d.train_subset,
            d.valid_subset,
            mon_gen,
            fit.trainer.chain if self.display is None else self.display,
            N_SHOWN,
            0 if self.display is None else DISPLAY_STEPS,
            pll=d.binary,
        )
        if self.display is not None:
            self.display = m["chain"]
        o = job.opts
        if (
            d.test is not None
            and o.get("ais_runs", 0) > 0
            and o.get("ais_every", 0) > 0
            and (epoch + 1) % o["ais_every"] == 0
        ):
            est = P.log_prob(
                model, d.test, d.train, P.Estimate("ais", o["ais_runs"], AIS_MONITOR_BETAS, job.seed + epoch)
            )
            m["log_prob_test"], m["log_Z"] = est["avg_log_prob"], est["log_Z"]
        return m

    def diverged(self, epoch: int, e: Exception):
        self.w.add_text("status", f"diverged at epoch {epoch + 1}: {e}", epoch + 1)

    def record(self, fit: RBMFit, epoch: int, m: dict):
        """Log, save the pair (state first), echo."""
        job, cfg, model, last = self.job, fit.cfg, fit.model, fit.last
        log_rbm_epoch(self.w, epoch + 1, last, m, model, cfg.momentum_at(epoch), cfg.lr_at(epoch), job.data)
        self.w.flush()
        ck = R.checkpoint_dict(model, {**cfg.checkpoint_config(), "epochs_completed": epoch + 1}, job.extra)
        runs.save_epoch(
            job.folder,
            ck,
            {
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "trainer": fit.trainer.state_dict(),
                "display": self.display,
                "metrics": last,
            },
        )
        self.echo(job.label + epoch_line(epoch + 1, cfg.epochs, last, self.clock.lap(epoch + 1)))
        h = last.get("hidden_mean")
        if h is not None and not self.warned and (h < DEAD or h > 1 - DEAD):
            self.warned = True  # once a run: say it where the user looks
            self.echo(
                f"{job.label}warning: the hidden units are almost all {'off' if h < DEAD else 'on'} on validation "
                f"data (mean activity {h:.1e}): the RBM has collapsed and passes nothing on; lower --lr "
                "or start from larger weights (--init-std 0.1, --visible-bias-init zero, as the 2006 code)"
            )


def fit_rbm(job: RBMJob, device, echo=print, progress: bool = False, history: list | None = None) -> tuple[R.RBM, dict]:
    """Train one RBM by CD-k or PCD on ``job.data`` (a single RBM, or one layer of a stack), logging
    every epoch to ``job.folder`` and writing ``model.pt`` / ``state.pt`` after each; with
    ``job.resume`` it continues from ``state.pt`` when there is one. Returns the model and the last
    epoch's metrics (``history``, a list, receives every epoch's). Raises Interrupted on SIGINT/SIGTERM
    (after the epoch in progress is dropped)."""
    sink = RBMRunSink(job, echo, progress)
    fit = RBMFit(job.data.train, RBMConfig.from_options(job.opts), job.seed, device, sink=sink)
    with runs.writer(job.folder, purge_step=fit.start + 1 if fit.start else None) as w, GracefulStop() as stop:
        sink.w = w
        if fit.start == 0:
            w.add_text("config", runs.markdown_table(job.opts), 0)
        fit.run(stop)
    if history is not None:  # each epoch's metrics, for the library's history
        history.extend(fit.history)
    return fit.model, fit.last


def log_rbm_epoch(w, step: int, scalars: dict, metrics: dict, model: R.RBM, momentum: float, lr: float, d: LayerData):
    """``scalars``: the epoch's metrics as floats; ``metrics``: the tensors behind the images and histograms."""
    W, b, c = model.params()
    for key, tag in (
        ("recon_error", "rbm/recon_error"),
        ("free_energy_train", "rbm/free_energy/train"),
        ("free_energy_valid", "rbm/free_energy/valid"),
        ("free_energy_gap", "rbm/free_energy/gap"),
        ("pseudo_log_likelihood", "rbm/pseudo_log_likelihood"),
        ("update_ratio", "rbm/update_ratio"),
        ("hidden_mean", "rbm/hidden_mean"),
        ("log_prob_test", "rbm/log_prob/test"),
        ("log_Z", "rbm/log_Z"),
    ):
        if key in scalars:
            w.add_scalar(tag, scalars[key], step)
    w.add_scalar("rbm/momentum", momentum, step)
    w.add_scalar("rbm/lr", lr, step)
    w.add_histogram("weights/weight", W.cpu(), step)
    w.add_histogram("weights/visible_bias", b.cpu(), step)
    w.add_histogram("weights/hidden_bias", c.cpu(), step)
    w.add_histogram("rbm/hidden_activations", metrics["hidden_probs"][:256].cpu(), step)
    if d.to_image is None:
        return
    filters = d.filters(model)[:N_SHOWN]
    runs.add_gray_image(w, "rbm/filters", runs.image_grid(filters, _side(len(filters)), scale_each=True), step)
    samples = d.to_image(metrics["samples"])
    runs.add_gray_image(w, "rbm/samples", runs.image_grid(samples, _side(len(samples))), step)
    pairs = torch.stack([metrics["originals"][:50], metrics["recon"][:50]], 1).reshape(-1, W.shape[1])
    runs.add_gray_image(w, "rbm/reconstructions", runs.image_grid(d.to_image(pairs), 10), step)


def _side(n: int) -> int:
    return int(np.ceil(np.sqrt(n)))


def epoch_line(epoch: int, epochs: int, m: dict, pace: str) -> str:
    parts = [
        f"epoch {epoch}/{epochs}",
        f"recon {m['recon_error']:.3f}",
        f"F(train) {m['free_energy_train']:.2f}",
        f"F(valid) {m['free_energy_valid']:.2f}",
        f"gap {m['free_energy_gap']:+.2f}",
    ]
    if "pseudo_log_likelihood" in m:
        parts.append(f"PLL {m['pseudo_log_likelihood']:.2f}")
    if "log_prob_test" in m:
        parts.append(f"logp(test) {m['log_prob_test']:.2f}")
    parts += [f"|dW|/|W| {m['update_ratio']:.2e}", pace]
    return "  ".join(parts)


def first_layer_data(vis: dict, opts: dict) -> LayerData:
    gaussian = opts["visible_type"] == "gaussian"
    shown = torch.sigmoid if gaussian else (lambda x: x)  # Gaussian: squash for display
    tr_sub, va_sub = monitor_subsets(vis["train"], vis["valid"], opts["monitor_size"], opts["seed"])
    return LayerData(
        vis["train"],
        vis["valid"],
        tr_sub,
        va_sub,
        binary=not gaussian and opts["binarize"] != "none",
        to_image=shown,
        filters=lambda m: m.params()[0],
        test=vis.get("test"),
    )


def layer_seed(seed: int, k: int) -> int:
    """Layer k's training seed: the run seed for layer 1 (so a one-layer stack is ``pretrain-rbm``),
    a seed derived from it above."""
    return seed if k == 1 else (seed * 1_000_003 + 7_919 * k) % 2**62


def next_layer_data(rbm: R.RBM, x: D.Visible, feed: str, seed: int) -> D.Visible:
    """Layer k+1's training data: layer k's hidden probabilities of ``x`` (``probs``, as the 2006
    code), or one fixed seeded Bernoulli sample of them (``samples``, stored as 0/1 bytes)."""
    W, _, c = rbm.params()
    out = torch.empty(len(x), W.shape[0], device=W.device, dtype=torch.float32 if feed == "probs" else torch.uint8)
    g = torch.Generator(device=W.device).manual_seed(seed)
    with torch.no_grad():
        for i in range(0, len(x), 10_000):
            p = R.hidden_probs(x.batch(slice(i, i + 10_000)), W, c)
            out[i : i + len(p)] = p if feed == "probs" else R.sample_bernoulli(p, g).to(torch.uint8)
    return D.Visible(out)


def stack_layer_data(
    rbms: list[R.RBM], x_train: D.Visible, x_valid: D.Visible, monitor_size: int, seed: int, feed: str, first: LayerData
) -> LayerData:
    """LayerData for the layer above ``rbms`` (the trained layers below), whose data are their outputs."""
    tr_sub, va_sub = monitor_subsets(x_train, x_valid, monitor_size, seed)
    below = list(rbms)
    return LayerData(
        x_train,
        x_valid,
        tr_sub,
        va_sub,
        binary=feed == "samples",
        to_image=None if first.to_image is None else lambda v: first.to_image(DBN.down_pass(v, below)),
        filters=None if first.filters is None else lambda m: DBN.project_filters([*below, m]),
    )


def finished_layer(folder: Path, k: int, n_visible: int, n_hidden: int) -> tuple[R.RBM, dict]:
    """Layer ``k`` of a stack that ``layer-k/result.json`` says finished: its RBM and final metrics.
    ValueError naming the file, and how to recover, when the result is unreadable or not a layer
    result, when the model is missing or unreadable, or when its shape is not this stack's layer
    (``n_visible`` x ``n_hidden``)."""
    res_path, model_path = folder / runs.RESULT_FILE, folder / runs.MODEL_FILE
    again = f"delete {folder} to train layer {k} again"
    try:
        res = runs.read_json(res_path)
    except (OSError, ValueError) as e:
        raise ValueError(f"{res_path}: cannot be read as JSON ({type(e).__name__}); {again}") from None
    if not isinstance(res, dict) or not isinstance(res.get("final"), dict):
        raise ValueError(f"{res_path}: not a layer result (expected an object with 'final'); {again}")
    if not model_path.is_file():
        raise ValueError(f"{model_path}: missing, although {res_path.name} says layer {k} finished; {again}")
    model = DBN.from_checkpoint(runs.load_checkpoint(model_path)[0], str(model_path))[0]
    if (model.n_visible, model.n_hidden) != (n_visible, n_hidden):
        raise ValueError(
            f"{model_path}: a {model.n_visible}-{model.n_hidden} RBM, but layer {k} of this stack is "
            f"{n_visible}-{n_hidden}; {again}"
        )
    return model, res["final"]


def greedy(n_layers: int, x_train: D.Visible, x_valid: D.Visible | None, seed: int, feed: str, fit_layer) -> list:
    """The greedy layer-wise loop every stack runs (Hinton, Osindero & Teh 2006): layer k is
    ``fit_layer(k, x_train, x_valid, layers_below)`` on the data of the layer below, whose hidden
    probabilities (``feed="probs"``) or one fixed seeded sample of them (``"samples"``) are the next
    layer's data. :func:`revival.fit_dbn` in memory and :func:`fit_stack` (a run folder) both run it."""
    rbms = []
    for k in range(1, n_layers + 1):
        rbms.append(fit_layer(k, x_train, x_valid, list(rbms)))
        if k < n_layers:
            s = layer_seed(seed, k) + 1
            x_train = next_layer_data(rbms[-1], x_train, feed, s)
            x_valid = None if x_valid is None else next_layer_data(rbms[-1], x_valid, feed, s + 1)
    return rbms


def fit_stack(
    root: Path,
    layer_opts: list[dict],
    first: LayerData,
    seed: int,
    feed: str,
    extra: dict,
    device,
    echo=print,
    progress: bool = False,
    resume: bool = False,
    on_layer: Callable[[list[R.RBM], list[dict]], None] | None = None,
) -> tuple[list[R.RBM], list[dict]]:
    """Greedy layer-wise training: layer k in ``root/layer-k/`` by :func:`fit_rbm` on ``first``'s data
    (k = 1) or on the hidden activities of layer k-1 (``feed``: ``probs`` or ``samples``). A layer
    whose ``result.json`` exists is loaded, not retrained (resume); ``on_layer(rbms, finals)`` runs
    after each layer. Returns the layers and each layer's final metrics."""
    finals = []

    def fit_layer(k: int, x_train: D.Visible, x_valid: D.Visible, below: list[R.RBM]) -> R.RBM:
        lo = layer_opts[k - 1]
        folder = Path(root) / f"layer-{k}"
        folder.mkdir(parents=True, exist_ok=True)
        label = f"layer {k}/{len(layer_opts)}: "
        if (folder / runs.RESULT_FILE).is_file():
            n_visible = below[-1].n_hidden if below else first.train.data.shape[1]
            model, last = finished_layer(folder, k, n_visible, lo["hidden"])
            model = model.to(device)
            echo(f"{label}finished earlier, loaded from {folder}")
        else:
            d = (
                first
                if k == 1
                else stack_layer_data(below, x_train, x_valid, layer_opts[k - 2]["monitor_size"], seed, feed, first)
            )
            job = RBMJob(folder, lo, d, layer_seed(seed, k), extra, label, resume=resume)
            model, last = fit_rbm(job, device, echo, progress)
            runs.write_json(folder / runs.RESULT_FILE, {"layer": k, "final": last, "epochs": lo["epochs"]})
        finals.append({"layer": k, "n_visible": model.n_visible, "n_hidden": model.n_hidden, **last})
        if on_layer is not None:
            on_layer([*below, model], finals)
        return model

    rbms = greedy(len(layer_opts), first.train, first.valid, seed, feed, fit_layer)
    return rbms, finals


def log_dbn_samples(w, rbms: list[R.RBM], seed: int, sample_steps: int, first: LayerData, k: int):
    """``dbn/samples`` at step k: 100 fantasies of the k-layer stack (Gibbs in the top RBM, then
    one down pass), as a 10x10 grid in the run's root event file."""
    g = torch.Generator(device=rbms[0].weight.device).manual_seed(seed + 31_337 * k)
    images = first.to_image(DBN.sample(rbms, N_SHOWN, sample_steps, g))
    runs.add_gray_image(w, "dbn/samples", runs.image_grid(images, 10), k)
    w.flush()
