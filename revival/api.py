"""The library API: train RBMs, deep belief nets and dropout nets in a few lines, in memory.

    import revival
    data = revival.load_dataset("mnist-sample")
    rbm, hist = revival.fit_rbm(data.x_train, revival.RBMConfig(n_hidden=100, epochs=5))
    dbn, _ = revival.fit_dbn(data.x_train, revival.DBNConfig(layers=(200, 200), epochs=5))
    net, hist = revival.fit_net(data.x_train, data.y_train, revival.NetConfig(layers=(200, 200)), init=dbn,
                                test=(data.x_test, data.y_test))
    net.predict(data.x_test); hist["test_error"]

Each ``fit_*`` uses the trainers the CLI uses (:mod:`revival.training.train`), started the same way from the
same seed, so a library fit and the matching command give the same parameters. Nothing is written
unless a :class:`RunLogger` is given: then the run folder is the one the command would make
(config.json, TensorBoard events, checkpoints, summary), readable by ``revival report``. Data are
numpy arrays (or tensors) with one example per row; grey-level images as floats k/255 (what
:func:`load_dataset` returns) are kept on the device as bytes, as the CLI keeps them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np
import torch

from revival import data as D
from revival import runs
from revival.config import (
    CompareConfig,
    DBMConfig,
    DBNConfig,
    DBNMonitorConfig,
    NetConfig,
    RBMConfig,
    as_given,
    defaults,
    per_layer,
    resolve_compare,
)
from revival.errors import OptionError
from revival.experiments import compare as C
from revival.inputs import Dataset, device_of, fingerprint, fits, labels, load_dataset, visible
from revival.logger import RunLogger
from revival.memory import layered_floats
from revival.models import dbm as M_DBM
from revival.models import dbn as DBN
from revival.models import partition as P
from revival.models import rbm as R
from revival.models.dbm import DBM
from revival.models.mlp import seeded_mlp
from revival.runs.progress import EpochBar, set_threads, wanted
from revival.saved import load, save
from revival.tables import AIS_BETAS, AIS_RUNS, AIS_SCHEDULE, AIS_SCHEDULES
from revival.training.dbm_train import DBMFit, RunSink
from revival.training.dbm_train import log_prob as dbm_log_prob
from revival.training.layerwise import (
    RBMFit,
    RBMJob,
    first_layer_data,
    fit_stack,
    greedy,
    layer_seed,
    log_dbn_samples,
    monitor_subsets,
)
from revival.training.layerwise import fit_rbm as _logged_rbm
from revival.training.netfit import NetFit, Selection
from revival.training.precision import resolve as resolve_precision
from revival.training.train import GracefulStop

__all__ = [
    "Dataset",
    "load_dataset",
    "fit_rbm",
    "fit_dbn",
    "fit_net",
    "log_prob",
    "load",
    "RunLogger",
    "compare_dropout",
]


# ------------------------------------------------------------------------- RBMs


def fit_rbm(
    x, config: RBMConfig | None = None, *, x_valid=None, logger: RunLogger | None = None, progress=None, threads=None
):
    """Train one RBM on the rows of ``x`` by CD-k or PCD (:class:`RBMConfig`); returns ``(rbm, history)``,
    history a dict of per-epoch lists of floats: ``epoch``, ``recon_error``, ``update_ratio`` and,
    with ``x_valid``, ``free_energy_train`` / ``free_energy_valid`` / ``free_energy_gap`` on fixed
    subsets (Hinton 2010, section 6). ``logger``: also write the run folder ``revival pretrain-rbm``
    writes, with every monitor (then ``x_valid`` defaults to ``x``). Raises Diverged on NaN and
    Interrupted on SIGINT/SIGTERM (Ctrl-C, a notebook's stop button) at a batch boundary. ``progress``:
    a bar over the epochs (None: where a person watches, a terminal or a notebook; ``REVIVAL_PROGRESS=0``
    switches it off); ``threads``: ``"auto"`` as the commands' ``--threads auto``, a count, or None
    (torch's setting as it is); the same two arguments on every ``fit_*``."""
    set_threads(threads)
    cfg = config or RBMConfig()
    device = device_of(cfg.device, "RBMConfig")
    seed, opts = cfg.seed, cfg.train_options()
    train = visible(x, device, cfg.binarize, D.split_seed(seed, "train"), "x")
    valid = None if x_valid is None else visible(x_valid, device, cfg.binarize, D.split_seed(seed, "valid"), "x_valid")
    if valid is not None and valid.data.shape[1] != train.data.shape[1]:
        raise ValueError(f"x_valid: {valid.data.shape[1]} columns, x has {train.data.shape[1]}")
    fits(
        "RBMConfig.n_hidden",
        cfg.n_hidden * (6 * train.data.shape[1] + 4 * cfg.batch_size + 2000),
        f"a {train.data.shape[1]}-{cfg.n_hidden} RBM",
    )
    if logger is None:
        return rbm_in_memory(train, valid, cfg, seed, device, progress)
    if logger._make is None:  # a library run: a bar where a person watches (a command passes its own)
        logger.progress = wanted(progress)
    # the command's monitors, on subsets of 2,000 rows; a library run records its data's fingerprint
    logged = logger.options or {**opts, "monitor_size": 2000, "data": fingerprint(train)}
    run = logger.start("pretrain-rbm", logged)
    pre = logger.preprocessing or {"binarize": cfg.binarize, "seed": seed}
    d = layer_data(train, valid, logged)
    if logger.test is not None:  # the command's per-epoch AIS on the test split
        d = dataclasses.replace(d, test=logger.test)
    job = RBMJob(run.path, logged, d, seed, {"preprocessing": pre}, resume=logger.resumed)
    hist: list = []
    with run.recording():
        model, last = _logged_rbm(job, device, logger.echo, logger.progress, hist)
        logger.finished(run, model, last, "fit_rbm", {"epochs": cfg.epochs, "final": last})
    return model, columns(hist)


def layer_data(train: D.Visible, valid: D.Visible | None, opts: dict):
    """What the logged loop monitors (revival.training.layerwise.LayerData); images and filter grids only when
    the rows are 28 x 28 images."""

    d = first_layer_data({"train": train, "valid": valid or train}, opts)
    return d if train.data.shape[1] == 784 else dataclasses.replace(d, to_image=None, filters=None)


def columns(rows: list[dict]) -> dict:
    """Per-epoch dicts -> a dict of lists (the history's shape)."""
    keys = [k for k in (rows[0] if rows else {})]
    return {k: [r.get(k) for r in rows] for k in keys}


class NetHistory(dict):
    """fit_net's history: per-epoch lists by name (a dict, so ``pandas.DataFrame(history)`` works), and
    the model selection on the validation split as attributes: ``best_valid_epoch`` (the epoch of lowest
    validation error; None without ``valid=``), ``test_error_at_best_valid`` (the test error then; None
    without ``test=``), ``stopped_epoch`` (early stopping; None when the schedule ran out) and
    ``restored_best`` (the returned weights are that epoch's)."""

    best_valid_epoch = test_error_at_best_valid = stopped_epoch = None
    restored_best = False


def rbm_in_memory(
    train: D.Visible, valid: D.Visible | None, cfg: RBMConfig, seed: int, device, progress=None, desc="fit_rbm"
):
    """:func:`fit_rbm` without a run folder: the loop every RBM fit runs (:class:`revival.training.layerwise.RBMFit`)
    with no sink, so nothing is written; the free energies of 1,000-row subsets are its monitors."""
    subsets = None if valid is None else monitor_subsets(train, valid, 1000, seed)
    fit = RBMFit(train, cfg, seed, device, subsets)
    with GracefulStop() as stop, EpochBar(cfg.epochs, desc, progress) as bar:
        model = fit.run(stop, lambda last: bar.step(recon_error=last["recon_error"]))
    return model, columns(fit.history)


def fit_dbn(
    x, config: DBNConfig | None = None, *, x_valid=None, logger: RunLogger | None = None, progress=None, threads=None
):
    """Train a deep belief net greedily (:class:`DBNConfig`), one RBM a layer, each on the hidden
    probabilities of the one below (Hinton, Osindero & Teh 2006); returns ``(dbn, history)``, history
    ``{"layers": [one fit_rbm history per layer]}``. ``logger``: the run folder of ``revival pretrain-dbn``.
    ``progress``, ``threads``: as :func:`fit_rbm`'s (a bar per layer)."""
    set_threads(threads)
    cfg = config or DBNConfig()
    device = device_of(cfg.device, "DBNConfig")
    layer_cfgs = cfg.layer_configs()
    train = visible(x, device, cfg.binarize, D.split_seed(cfg.seed, "train"), "x")
    valid = (
        None if x_valid is None else visible(x_valid, device, cfg.binarize, D.split_seed(cfg.seed, "valid"), "x_valid")
    )
    pre = {"binarize": cfg.binarize, "seed": cfg.seed}
    sizes = [train.data.shape[1], *cfg.layers]
    fits("DBNConfig.layers", layered_floats(sizes, len(train)), f"a {'-'.join(map(str, sizes))} DBN")
    configs = [{**c.checkpoint_config(), "layer": k} for k, c in enumerate(layer_cfgs, 1)]
    if logger is not None:
        if logger._make is None:
            logger.progress = wanted(progress)
        return _logged_dbn(train, valid, cfg, layer_cfgs, pre, device, logger)
    hists = []

    def fit_layer(k, x_train, x_valid, below):
        rbm, h = rbm_in_memory(
            x_train, x_valid, layer_cfgs[k - 1], layer_seed(cfg.seed, k), device, progress, f"fit_dbn layer {k}"
        )
        hists.append(h)
        return rbm

    rbms = greedy(len(layer_cfgs), train, valid, cfg.seed, cfg.feed, fit_layer)
    return DBN.DBN(rbms, configs, pre), {"layers": hists}


def _logged_dbn(train, valid, cfg: DBNConfig, layer_cfgs, pre: dict, device, logger: RunLogger):
    """:func:`fit_dbn` with a run folder: each layer a logged RBM run in ``layer-K/``, the stack so far
    in ``model.pt`` and its fantasies in ``dbn/samples`` after each layer (the command's options,
    preprocessing and summary where the logger carries them)."""

    opts = logger.options
    layer_opts = (
        per_layer(opts, len(cfg.layers)) if opts else [{**c.train_options(), "monitor_size": 1000} for c in layer_cfgs]
    )
    run = logger.start("pretrain-dbn", opts or {**cfg.to_dict(), "data": fingerprint(train)})
    pre = logger.preprocessing or pre
    configs = [{**RBMConfig.from_options(lo).checkpoint_config(), "layer": k} for k, lo in enumerate(layer_opts, 1)]
    first = layer_data(train, valid, layer_opts[0])
    steps = (opts or {}).get("sample_steps", DBNMonitorConfig.sample_steps)
    # the root's event file holds dbn/samples; on resume every finished layer logs it again
    with run.recording(), runs.writer(run.path, purge_step=1 if logger.resumed else None) as w:

        def on_layer(rbms: list[R.RBM], finals: list[dict]):
            runs.save_torch(run.path / runs.MODEL_FILE, DBN.checkpoint_dict(rbms, configs[: len(rbms)], pre))
            if first.to_image is not None:
                log_dbn_samples(w, rbms, cfg.seed, steps, first, len(rbms))

        rbms, finals = fit_stack(
            run.path,
            layer_opts,
            first,
            cfg.seed,
            cfg.feed,
            {"preprocessing": pre},
            device,
            logger.echo,
            logger.progress,
            logger.resumed,
            on_layer,
        )
        model = DBN.DBN(rbms, configs, pre)
        logger.finished(run, model, finals, "fit_dbn", {"layers": finals})
    return model, {"layers": [columns([f]) for f in finals]}


def fit_dbm(x, config=None, *, y=None, x_valid=None, logger: RunLogger | None = None, progress=None, threads=None):
    """Train a deep Boltzmann machine on the rows of ``x`` (:class:`revival.config.DBMConfig`, two or more
    hidden layers): the greedy pretraining of one modified RBM per layer, composed, then PCD with a mean-field positive phase
    (Salakhutdinov & Hinton 2009; :mod:`revival.models.dbm`, :mod:`revival.training.dbm_train`). Returns ``(dbm, history)``,
    history per joint epoch: ``epoch``, ``bound_train`` (and ``bound_valid``, ``bound_gap`` with
    ``x_valid``), the mean variational bound without log Z on fixed subsets of up to 1,000 rows (its
    difference train - valid at one epoch is meaningful; from epoch to epoch log Z moves with the model,
    so its level is not a log-probability: :func:`log_prob` adds log Z),
    ``mf_change`` (how far mean-field still moves in its last step), ``mean_h1`` .. and ``varying_h1`` ..
    per hidden layer; and ``pretrain``: ``{"bottom": ..., "top": ...}`` (``middle2`` .. between them in a
    deeper DBM) with each epoch's ``recon_error``. ``logger``: also
    write the run folder ``revival pretrain-dbm`` writes (a logger made with ``resume=`` continues
    that run from its last saved epoch). ``y``: the rows' class indices, for a DBM with label units
    (``config.labels``; one unit per class, 0 .. max(y)). Raises Diverged on NaN, Interrupted on SIGINT/SIGTERM.
    ``progress``, ``threads``: as :func:`fit_rbm`'s (one bar over every phase's epochs)."""

    set_threads(threads)
    cfg = config or DBMConfig()
    device = device_of(cfg.device, "DBMConfig")
    load = "none" if cfg.binarize == "resample" else cfg.binarize  # resample: grey levels, sampled per minibatch
    data = visible(x, device, load, D.split_seed(cfg.seed, "train"), "x").all()
    valid = None
    if x_valid is not None:
        valid = visible(x_valid, device, load, D.split_seed(cfg.seed, "valid"), "x_valid").all()
    if load != cfg.binarize and (data.min() < 0 or data.max() > 1):
        raise ValueError("x: binarize='resample' samples each value as a probability and needs values in [0, 1]")
    onehot = None
    if cfg.labels:
        if y is None:
            raise ValueError("y: DBMConfig(labels=True) trains label units: give the rows' class indices")
        idx = labels(y, len(data), device)
        onehot = torch.nn.functional.one_hot(idx, max(2, int(idx.max()) + 1)).float()
    elif y is not None:
        raise ValueError("y: labels train only a DBM with label units (DBMConfig(labels=True))")
    if valid is not None and valid.shape[1] != data.shape[1]:
        raise ValueError(f"x_valid: {valid.shape[1]} columns, x has {data.shape[1]}")
    sizes = [data.shape[1], *cfg.layers]
    fits("DBMConfig.layers", layered_floats(sizes, 4 * cfg.chains), f"a {'-'.join(map(str, sizes))} DBM")
    fit = DBMFit(data, valid, cfg, device, onehot)
    total = sum(fit.epochs_of(p) for p in fit.phases)
    if logger is None:
        with EpochBar(total, "fit_dbm", progress) as bar:
            model, rows = fit.run(BarSink(bar))
    else:
        run = logger.start(
            "pretrain-dbm", {**cfg.to_dict(), **({"data": fingerprint(data)} if logger._make is None else {})}
        )
        pre = logger.preprocessing or {"binarize": cfg.binarize, "seed": cfg.seed}
        with run.recording(), runs.writer(run.path) as w:  # a state that does not fit is recorded as the failure
            st = runs.load_state(run.path, device) if logger.resumed else None
            if st is not None:
                resume_state(run.path, lambda: fit.load(st))
                logger.echo(f"resuming {run.path} after epoch {st['epoch']} ({st['phase']} epoch {st['phase_epoch']})")
            with EpochBar(total, "fit_dbm", progress if logger._make is None else False, len(fit.rows)) as bar:
                model, rows = fit.run(BarSink(bar, RunSink(run.path, cfg.to_dict(), logger.echo, w, pre)))
            runs.save_torch(run.path / runs.MODEL_FILE, model.checkpoint(cfg.to_dict(), pre))
            logger.finished(run, model, rows, "fit_dbm", {"final": rows[-1] if rows else {}})
    return model, dbm_history(rows, fit.phases[:-1])


class BarSink:
    """A :class:`revival.training.dbm_train.DBMFit` sink that steps a progress bar and passes every call on to
    ``inner`` (the run folder's sink) when there is one."""

    def __init__(self, bar, inner=None):
        self.bar, self.inner = bar, inner

    def phase(self, fit):
        if self.inner is not None:
            self.inner.phase(fit)

    def epoch(self, fit, row):
        if self.inner is not None:
            self.inner.epoch(fit, row)
        self.bar.step()


def resume_state(path, apply) -> None:
    """``apply()`` (a fit taking its saved state), with a state of another fit or config named in one
    line instead of a KeyError or a size mismatch deep in torch."""
    try:
        apply()
    except (KeyError, RuntimeError, TypeError, IndexError) as e:
        raise ValueError(
            f"{Path(path) / runs.STATE_FILE}: does not fit this run's model and settings ({type(e).__name__}: "
            f"{str(e)[:120]}); resume with the run's own config, or delete state.pt to restart from epoch 0"
        ) from None


def dbm_history(rows: list[dict], pretraining: tuple) -> dict:
    """:class:`revival.training.dbm_train.DBMFit` rows -> fit_dbm's history (joint epochs at the top, pretraining apart)."""
    pick = lambda phase: columns([{k: v for k, v in r.items() if k != "phase"} for r in rows if r["phase"] == phase])  # noqa: E731
    return {**pick("joint"), "pretrain": {p: pick(p) for p in pretraining}}


def stack_of(init) -> list[R.RBM]:
    """The RBMs of ``init``: a DBN, an RBM, a list of RBMs, or a checkpoint path."""
    if isinstance(init, DBN.DBN):
        return list(init.rbms)
    if isinstance(init, R.RBM):
        return [init]
    if isinstance(init, (list, tuple)) and all(isinstance(r, R.RBM) for r in init):
        return list(init)
    if isinstance(init, (str, bytes)) or hasattr(init, "__fspath__"):
        return DBN.from_checkpoint(runs.load_checkpoint(init)[0], str(init))
    raise ValueError(f"init: expected a DBN, an RBM, a list of RBMs or a checkpoint path, got {type(init).__name__}")


# ------------------------------------------------------------------------- classifiers


def fit_net(
    x,
    y,
    config: NetConfig | None = None,
    *,
    init=None,
    valid=None,
    test=None,
    logger: RunLogger | None = None,
    progress=None,
    threads=None,
):
    """Train a feed-forward classifier (:class:`NetConfig`) on rows ``x`` with class indices ``y``;
    ``init`` (a DBN, RBM, list of RBMs or checkpoint path) starts the first hidden layers from a
    pretrained stack (Hinton & Salakhutdinov 2006), scaled for the papers' dropout. ``valid`` and
    ``test``: ``(x, y)`` pairs evaluated every ``eval_every`` epochs. Returns ``(net, history)``, history
    per evaluated epoch: ``epoch``, ``batch_loss`` (training loss with dropout on), ``train_error`` /
    ``train_loss`` (the deterministic net on the first ``eval_train_size`` rows), and
    ``valid_*`` / ``test_*`` when given; errors are fractions; a :class:`NetHistory`, whose attributes
    give the epoch of lowest validation error and the test error at it (choose on ``valid``, never on
    ``test``). ``logger``: also write the run folder (TensorBoard ``error/<split>``, ``loss/<split>``,
    ``model.pt``, summary). ``progress``, ``threads``: as :func:`fit_rbm`'s."""
    set_threads(threads)
    cfg = config or NetConfig()
    device = device_of(cfg.device, "NetConfig")
    xs = visible(x, device, what="x")
    ys = labels(y, len(xs), device)
    evals = {}
    for split, pair in (("valid", valid), ("test", test)):
        if pair is not None:
            vx = visible(pair[0], device, what=f"{split}[0]")
            evals[split] = (vx, labels(pair[1], len(vx), device, f"{split}[1]"))
    for split, (vx, _) in evals.items():  # before any training: torch would fail only after the first epoch
        if vx.data.shape[1] != xs.data.shape[1]:
            raise ValueError(f"{split}: rows of {vx.data.shape[1]} values, x has {xs.data.shape[1]}")
    n_classes = int(max([int(ys.max())] + [int(e[1].max()) for e in evals.values()])) + 1
    seen = len(torch.unique(torch.cat([ys, *(e[1] for e in evals.values())])))
    if n_classes > 10 and seen < n_classes / 2:  # a label of 10^6 among 100 rows would build a 10^6-unit layer
        raise ValueError(
            f"y: labels run to {n_classes - 1} but only {seen} of the {n_classes} classes 0..{n_classes - 1} occur; "
            "fit_net takes class indices 0..K-1 (map labels first, e.g. np.unique(y, return_inverse=True)); "
            "revival.sklearn's estimators take any labels"
        )
    hidden = list(cfg.layers)
    sizes = [xs.data.shape[1], *hidden, max(2, n_classes)]
    fits("NetConfig.layers", layered_floats(sizes, 5_000), f"a {'-'.join(map(str, sizes))} net")
    model = seeded_mlp([xs.data.shape[1], *hidden, max(2, n_classes)], cfg.activation, cfg.seed, cfg.init_scheme)
    stack = None if init is None else stack_of(init)
    scale = None
    if stack:
        scale = DBN.init_from_stack(
            model,
            [r.to("cpu") for r in stack],
            len(hidden),
            cfg.input_dropout,
            cfg.hidden_dropout,
            cfg.dropout_type,
            cfg.dropout_scaling,
        )
    model.input_dropout, model.hidden_dropout = cfg.input_dropout, cfg.hidden_dropout
    model.dropout_type, model.dropout_scaling = cfg.dropout_type, cfg.dropout_scaling
    model = model.to(device)
    # a random start has nothing to freeze
    tcfg = cfg.replace(freeze_pretrained_epochs=min(cfg.freeze_pretrained_epochs, cfg.epochs) if stack else 0)
    n_eval = min(len(xs), cfg.eval_train_size)
    evals = {"train": (D.Visible(xs.data[:n_eval], xs.scale, xs.offset), ys[:n_eval]), **evals}
    if (cfg.restore_best or cfg.patience is not None) and valid is None:
        raise ValueError("NetConfig.restore_best and .patience choose on the validation error: pass valid=(x, y)")
    run = None
    if logger is not None:
        run = logger.start(
            "fit-net",
            {**cfg.to_dict(), "pretrained": bool(stack), "pretrained_weight_scale": scale, "data": fingerprint(xs, ys)},
        )
    # the loop compare-dropout's points run (revival.training.netfit), so a fit and a point give the same numbers
    with (
        run.recording() if run else contextlib.nullcontext(),  # a state that does not fit is recorded as the failure
        runs.writer(run.path) if run else contextlib.nullcontext() as w,
        GracefulStop() as stop,
    ):
        fit = resume_net(model, tcfg, cfg, xs, ys, evals, None if run is None else run.path)
        with EpochBar(tcfg.epochs, "fit_net", progress, fit.start) as bar:  # closed however the loop ends
            evaluated = [len(fit.history)]

            def after_epoch(epoch: int):
                if run is not None and len(fit.history) > evaluated[0]:  # an evaluated epoch: its model.pt
                    save(model, run.path / runs.MODEL_FILE)
                evaluated[0] = len(fit.history)
                valid = {"valid_error": fit.history[-1]["error/valid"]} if "valid" in evals and fit.history else {}
                bar.step(**valid)

            # a resumed fit continues after its last saved epoch; early stopping (patience) ends it
            fit.run(w, stop, after_epoch=after_epoch)
        rows = [net_history_row(h) for h in fit.history]
        fit.finish()  # restore_best: the best validation epoch's weights
        chosen = {**fit.selection.fields(fit.validated), "epochs_trained": fit.last_epoch}
        if run is not None:  # state.pt stays: a later resume with more epochs extends the run bit for bit
            if cfg.restore_best:
                save(model, run.path / runs.MODEL_FILE)
            run.write_summary(
                {"status": runs.STATUS_FINISHED, "final": rows[-1], **chosen, "model": str(run.path / runs.MODEL_FILE)},
                f"# fit_net: {run.path.name}\n\nfinished\n\n" + runs.markdown_table({**rows[-1], **chosen}) + "\n",
            )
    model.eval()
    history = NetHistory(columns(rows))
    history.best_valid_epoch = chosen["best_valid_epoch"] if fit.validated else None
    history.test_error_at_best_valid = chosen["test_error_at_best_valid"] if fit.validated else None
    history.stopped_epoch = chosen.get("stopped_epoch")
    history.restored_best = bool(chosen.get("restored_best"))
    return model, history


def resume_net(model, tcfg, cfg: NetConfig, xs, ys, evals: dict, folder) -> NetFit:
    """fit_net's loop (:class:`revival.training.netfit.NetFit`), continuing from ``folder``'s state.pt when there is one."""
    made = {}

    def make():
        made["fit"] = NetFit(
            model,
            tcfg,
            cfg.seed,
            xs,
            ys,
            evals,
            cfg.eval_every,
            folder,
            selection=Selection(cfg.restore_best, cfg.patience),
        )

    resume_state(folder or ".", make)
    return made["fit"]


def net_history_row(h: dict) -> dict:
    """A :class:`revival.training.netfit.NetFit` history entry as fit_net's history names it (``train_error``,
    ``test_loss``, ``batch_loss``, ...)."""
    out = {"epoch": h["epoch"], "batch_loss": h["train/batch_loss"]}
    for k, v in h.items():
        kind, _, split = k.partition("/")
        if kind in ("error", "loss"):
            out[f"{split}_{kind}"] = v
    return out


# ------------------------------------------------------------------------- likelihood, loading


def log_prob(
    rbm: R.RBM,
    x,
    method: str = "auto",
    train=None,
    ais_runs: int = AIS_RUNS,
    ais_betas: int = AIS_BETAS,
    seed: int = 0,
    binarize: str = "none",
    raise_examples: int = 300,
    ais_schedule: str = AIS_SCHEDULE,
) -> dict:
    """The average log-probability of the rows of ``x`` under ``rbm``, in nats: exact when the RBM is
    small enough to enumerate (``method="auto"``), else AIS (Salakhutdinov & Murray 2008) with the
    base-rate model fitted to ``train`` (default ``x``); ``method="sandwich"`` adds RAISE's
    conservative estimate on the first ``raise_examples`` rows (Burda et al. 2015). Returns
    :func:`revival.models.partition.log_prob`'s dict: ``avg_log_prob`` and ``log_Z``, and for AIS the
    interval ``log_Z_lower`` / ``log_Z_upper`` (+- 3 standard errors) with the matching
    ``avg_log_prob_lower`` / ``_upper``. AIS tends to underestimate log Z, so its log-probability
    leans optimistic: the interval is not a bound.

    A deep Boltzmann machine (:class:`revival.models.dbm.DBM`) gets :func:`revival.training.dbm_train.log_prob`: AIS for
    log Z and the mean-field variational bound per row, so its ``avg_log_prob`` estimates a lower bound
    (``is_lower_bound``); ``method`` "auto" enumerates log Z when the odd layers hold at most 20 units
    (exact, but minutes near that size), "ais" always runs AIS, "exact" insists on enumeration;
    ``raise_examples`` does not apply; ``ais_schedule`` "uniform" spaces its ``ais_betas`` evenly
    (Salakhutdinov & Hinton 2009: 20,000), "piecewise" as Salakhutdinov & Murray (for an RBM as well)."""

    for name, value, least in (("ais_runs", ais_runs, 1), ("ais_betas", ais_betas, 2)):  # one rule for every model
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name}: AIS needs a whole number >= {least}, got {value!r}")

    if not isinstance(rbm, (R.RBM, DBM)):  # a DBN's or a net's likelihood is not what AIS here estimates
        what = type(rbm).__name__
        hint = (
            " (for a DBN: log_prob(dbn.rbms[k], ...) gives one layer's RBM on its own input)" if what == "DBN" else ""
        )
        raise TypeError(f"log_prob: takes an RBM or a DBM, got a {what}{hint}")
    if ais_schedule not in AIS_SCHEDULES:
        raise ValueError(f"ais_schedule: one of {', '.join(AIS_SCHEDULES)}, got {ais_schedule!r}")
    if isinstance(rbm, DBM):
        dev = rbm.w1.device
        data = visible(x, dev, binarize, D.split_seed(seed, "test"), "x").all()
        base = data if train is None else visible(train, dev, binarize, D.split_seed(seed, "train"), "train").all()
        if method not in ("auto", "exact", "ais"):
            raise ValueError(
                f"method: a DBM takes 'auto' (exact when small, else AIS), 'exact' or 'ais', got {method!r}"
            )
        if method == "exact" and rbm.odd_units > M_DBM.MAX_EXACT_UNITS:
            raise ValueError(
                f"method='exact': a DBM's odd layers must hold at most {M_DBM.MAX_EXACT_UNITS} units to enumerate, "
                f"this one has {rbm.odd_units}; use 'auto' or 'ais'"
            )
        return dbm_log_prob(rbm, data, base, ais_runs, ais_betas, seed, exact=method != "ais", schedule=ais_schedule)
    dev = rbm.weight.device
    data = visible(x, dev, binarize, D.split_seed(seed, "test"), "x")
    base = data if train is None else visible(train, dev, binarize, D.split_seed(seed, "train"), "train")
    return P.log_prob(
        rbm,
        data,
        base,
        P.Estimate(method, ais_runs, ais_betas, seed, raise_examples=raise_examples, ais_schedule=ais_schedule),
    )


# ------------------------------------------------------------------------- experiments


def compare_dropout(logdir="runs", name: str | None = None, echo=print, **options) -> dict:
    """The ``revival compare-dropout`` experiment from Python, in this process: ``options`` are the
    command's, snake_case (``preset="pretraining-quick"``, ``variants=["baseline", "pretrained"]``,
    ``train_size=1000``, ``depths=[1, 2]``, ``seed=0``, ``device="auto"``, ...), with the same
    defaults and checks; it writes the same run folder under ``logdir``. Returns the run's summary
    (``summary.json``'s dict: ``rows``, ``groups``, the paper's figures) with ``run``, the folder.
    ValueError for an option the command would refuse."""

    unknown = [
        k for k in options if k not in defaults(CompareConfig) and k not in ("preset", "seed", "device", "data_dir")
    ]
    if unknown:
        raise ValueError(f"compare_dropout: unknown option {unknown[0]!r}")
    options = as_given(CompareConfig, options)  # lists as comma-separated text too, as the command reads them
    opts = resolve_compare({"dataset": None, **options})
    opts.update(
        seed=options.get("seed", 0),
        device=options.get("device", "auto"),
        data_dir=options.get("data_dir"),
        download=False,
        logdir=str(logdir),
        name=name,
        threads=torch.get_num_threads(),
        threads_chosen_by="the calling process",
    )
    device = device_of(opts["device"], "compare_dropout")
    opts["device_used"] = str(device)
    opts["precision"], opts["precision_info"] = resolve_precision(opts["precision"], device, echo)
    made = {}

    def make_run():
        made["run"] = runs.Run.create(logdir, "compare-dropout", name, {"options": opts})
        return made["run"]

    try:
        summary = C.compare_dropout(opts, device, make_run, echo)
    except OptionError as e:
        raise ValueError(f"{e.param_hint}: {e}") from None
    return {**summary, "run": str(made["run"].path)}
