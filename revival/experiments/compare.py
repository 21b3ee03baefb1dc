"""``compare-dropout``: one network trained with and without regularization, and from random or
pretrained (deep-belief-net) starting weights, on the same data; every variant's curves in one
experiment, and a table of how much each closed the generalization gap, with the published figure
beside ours where a preset reproduces a paper's row.

The experiment is a grid of points (variant x train size x dropout rate x depth x activation x
loss x init scheme x seed). A point is self-contained (:class:`Point`): it trains in its own
sub-folder and ends with ``result.json``, which resume uses to skip it. The classical baselines
(logistic regression, kNN, RBF SVM; :mod:`revival.classic`) are points too, one per train size and
seed, since the net's axes do not apply to them."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from revival import data as D
from revival import runs
from revival.config import NetConfig, RBMConfig, defaults
from revival.experiments import executor
from revival.experiments.plan import plan, plan_lines
from revival.experiments.sweep import (  # noqa: F401 (the grid)
    NET_AXES,
    Point,
    differing_hparams,
    eval_interval,
    grid,
    point_epochs,
    variant_settings,
)
from revival.models import dbn as DBN
from revival.models.baselines import fit_knn, fit_svm
from revival.models.mlp import MLP, seeded_mlp
from revival.presets import PRESETS, hidden_layers
from revival.reporting.summaries import group_rows, pair_differences, summary_markdown
from revival.tables import KNN_KS, SVM_CS, SVM_GAMMA_FACTORS
from revival.training.layerwise import first_layer_data, fit_stack
from revival.training.netfit import NetFit, Selection
from revival.training.train import GracefulStop, epoch_loop, evaluate_classifier, predicted_classes

LONG_RUN = 100_000  # weight updates in all: the run prints its plan (revival.experiments.plan) before it starts
FEW_UPDATES = 300  # fewer weight updates than this per net: the console suggests --min-updates
INPUT = "grey levels in [0, 1] (pixel / 255)"  # the input of every net and of in-experiment pretraining
MONITOR_EXAMPLES = 1000  # the first validation images: what the per-layer activation monitors look at
init_mlp = seeded_mlp  # (the name scripts/bench_mlp.py and older code use)


def load_init(path, opts: dict) -> tuple[list, dict]:
    """The stack behind ``--init`` (an RBM or DBN checkpoint, a run folder or a file) and its
    preprocessing; ValueError when it is not one or when its layers do not fit the nets of the
    grid (each net's first hidden layers must have the stack's sizes, from 784 inputs)."""
    try:
        ck, p = runs.load_checkpoint(path)
        rbms = DBN.from_checkpoint(ck, str(p))
    except ValueError as e:  # an option the user gave: refused as one (exit 2), before any folder or plan
        raise runs.OptionError("--init", str(e)) from None
    pre = ck.get("preprocessing") if isinstance(ck, dict) else None
    for depth in opts.get("depths") or [None]:
        sizes = [784, *hidden_layers(opts, depth)]
        for i, rbm in enumerate(rbms[: len(sizes) - 1]):
            if (rbm.n_visible, rbm.n_hidden) != (sizes[i], sizes[i + 1]):
                raise runs.OptionError(
                    "--init",
                    f"--init {path}: layer {i + 1} is {rbm.n_visible}->{rbm.n_hidden} but "
                    f"the net's layer {i + 1} is {sizes[i]}->{sizes[i + 1]} (set --layers "
                    "to match)",
                )
    return rbms, pre if isinstance(pre, dict) else {}


def init_notes(path, rbms: list, opts: dict) -> list[str]:
    """What a person should know about the ``--init`` stack before trusting the comparison: a run
    still being written, Gaussian visible units under grey-level inputs, fewer layers than the net."""
    notes = []
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    status = runs.read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {}
    status = status.get("status") if isinstance(status, dict) else None
    if status and status != runs.STATUS_FINISHED:
        notes.append(
            f"note: --init {path} is a run whose status is '{status}': its model.pt is the stack as it was "
            "last saved, not a finished one"
        )
    if rbms and rbms[0].visible_type != "bernoulli":
        notes.append(
            "note: --init's first layer has Gaussian visible units (standardised pixels) but the nets see "
            f"{INPUT}; its weights are used as they are"
        )
    for depth in opts.get("depths") or [None]:
        n = len(hidden_layers(opts, depth))
        if len(rbms) < n:
            notes.append(
                f"note: --init has {len(rbms)} layer(s) and the net {n}: hidden layers {len(rbms) + 1}..{n} "
                "start from random weights"
            )
            break
    return notes


def pretrain_options(opts: dict, sizes: list[int]) -> list[dict]:
    """The RBM options of each layer pretrained inside the experiment (``--pretrain-*``, the rest
    from the 2006 code's settings as :class:`~revival.config.RBMConfig` has them)."""
    base = {
        **defaults(RBMConfig),
        "visible_type": "bernoulli",
        "binarize": "none",
        "epochs": opts["pretrain_epochs"],
        "lr": opts["pretrain_lr"],
        "cd_k": opts["pretrain_cd_k"],
        "batch_size": opts["pretrain_batch_size"],
        "init_std": opts["pretrain_init_std"],
        "visible_bias_init": opts["pretrain_visible_bias_init"],
        "precision": opts.get("precision", "fp32"),
        "monitor_size": 1000,
    }
    return [{**base, "hidden": n} for n in sizes]


def load_data(opts: dict, device) -> dict:
    """All three splits, checked before any run folder exists; valid and test go to the device now,
    the training split per sweep point (its subset)."""
    tr, va, te = (
        D.load_split(opts["dataset"], split, opts.get("data_dir"), allow_download=opts.get("download") or None)
        for split in D.SPLITS
    )
    for n in opts.get("train_sizes") or [opts.get("train_size")]:
        if n is not None and n > len(tr[0]):
            opt = "--train-sizes" if opts.get("train_sizes") else "--train-size"
            raise runs.OptionError(
                opt, f"{opt} {n} is larger than the {opts['dataset']} training split ({len(tr[0])} images)"
            )
    return {
        "train_np": tr,
        "valid_np": va,
        "test_np": te,
        "valid": (_vis(va[0], device), _lab(va[1], device)),
        "test": (_vis(te[0], device), _lab(te[1], device)),
    }


def _vis(x: np.ndarray, device) -> D.Visible:
    return D.Visible(torch.from_numpy(np.ascontiguousarray(x)).to(device), 1.0 / 255.0)


def _lab(y: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(y.astype(np.int64)).to(device)


@dataclass
class Experiment:
    """What every point of one experiment shares: options, data, run, device, console, and the
    pretrained stacks (``--init``, or pretrained here once per train size and seed)."""

    opts: dict
    data: dict
    run: runs.Run
    device: torch.device
    echo: object
    progress: bool
    init_stack: list | None = None

    def __post_init__(self):
        self.stacks = {}

    def training_set(self, point: Point) -> tuple[np.ndarray, np.ndarray]:
        x_np, y_np = self.data["train_np"]
        n = point.size
        if n is None and self.opts.get("train_on_all"):  # train + valid: a protocol of fixed length
            return (np.concatenate([x_np, self.data["valid_np"][0]]), np.concatenate([y_np, self.data["valid_np"][1]]))
        idx = D.stratified_subset(y_np, n, point.seed) if n is not None and n < len(y_np) else np.arange(len(y_np))
        return x_np[idx], y_np[idx]

    def stack(self, point: Point) -> list:
        """The RBMs a pretrained point starts from: ``--init``'s, or a DBN pretrained here (without
        labels) on the point's own training examples, in ``pretrain-n<size>-s<seed>/``."""
        if self.init_stack is not None:
            return self.init_stack
        key = (point.size, point.seed)
        if key not in self.stacks:
            o = self.opts
            sizes = max((hidden_layers(o, dp) for dp in (o.get("depths") or [None])), key=len)
            folder = self.run.path / f"pretrain-n{point.size or 'all'}-s{point.seed}"
            x, _ = self.training_set(point)
            vis = {"train": _vis(x, self.device), "valid": self.data["valid"][0]}
            layer_opts = pretrain_options(o, sizes)
            first = first_layer_data(vis, {**layer_opts[0], "seed": point.seed})
            pre = {"dataset": o["dataset"], "binarize": "none", "seed": point.seed, "train_size": len(x)}
            self.echo(
                f"pretraining a {'-'.join(map(str, [784, *sizes]))} DBN on {len(x)} training images "
                f"(no labels) in {folder}"
            )
            rbms, _ = fit_stack(
                folder,
                layer_opts,
                first,
                point.seed,
                "probs",
                {"preprocessing": pre},
                self.device,
                self.echo,
                self.progress,
                resume=True,
            )
            configs = [{k: lo[k] for k in ("hidden", "epochs", "lr", "cd_k", "batch_size")} for lo in layer_opts]
            runs.save_torch(folder / runs.MODEL_FILE, DBN.checkpoint_dict(rbms, configs, pre))
            self.stacks[key] = rbms
        return self.stacks[key]

    def dbm(self, point: Point):
        """The DBM a dbm-pretrained point starts from: trained here once per train size and seed on the
        point's training images (one fixed Bernoulli sample of each), in ``dbm-n<size>-s<seed>/``."""
        from revival.config import DBMConfig
        from revival.experiments import dbm_finetune

        key = ("dbm", point.size, point.seed)
        if key not in self.stacks:
            o = self.opts
            x, _ = self.training_set(point)
            data = D.visible_data(x, self.device, "stochastic", D.split_seed(point.seed, "train")).all()
            cfg = DBMConfig(
                layers=tuple(o["layers"]),
                pretrain_epochs=o["pretrain_epochs"],
                pretrain_lr=o["pretrain_lr"],
                epochs=o["dbm_epochs"],
                lr=o["dbm_lr"],
                batch_size=o["pretrain_batch_size"],
                binarize="stochastic",
                seed=point.seed,
                device=str(self.device),
            )
            folder = self.run.path / f"dbm-n{point.size or 'all'}-s{point.seed}"
            self.echo(
                f"training a {'-'.join(map(str, [784, *o['layers']]))} DBM on {len(x)} training images (no labels) in {folder}"
            )
            self.stacks[key] = dbm_finetune.train_dbm(folder, data, cfg, self.device, self.echo)
        return self.stacks[key]


class PointFit:
    """One grid point while it trains: its data, net, trainer and the metrics so far (resumed from
    its ``state.pt`` when there is one). ``full``: the second phase of ``--retrain-on-full``, a
    fresh net on train + valid (60,000 images) for the same number of weight updates, in ``full/``."""

    def __init__(self, ex: Experiment, point: Point, full: bool = False, chosen_epochs: int | None = None):
        opts, device = ex.opts, ex.device
        self.ex, self.point = ex, point
        self.name = point.name(opts) + ("/full" if full else "")
        self.folder = ex.run.path / self.name
        lr_only = point.classic == "logistic-regression"  # softmax on the pixels: no hidden layer
        hidden = [] if lr_only else hidden_layers(opts, point.depth)
        self.activation = point.activation or opts["activation"]
        self.loss = point.loss or opts["loss"]
        self.init_scheme = "fan-in" if lr_only else point.init_scheme or opts["init_scheme"]
        stack = ex.stack(point) if point.pretrained and not point.dbm else None
        dbm = ex.dbm(point) if point.dbm else None
        self.folder.mkdir(parents=True, exist_ok=True)
        x_np, y_np = ex.training_set(point)
        bs = opts["batch_size"]
        if full:  # the first phase's length, or the epoch it chose on validation (--restore-best, --patience)
            updates = (chosen_epochs or point_epochs(opts, len(x_np))) * -(-len(x_np) // bs)
            x_np, y_np = np.concatenate([x_np, ex.data["valid_np"][0]]), np.concatenate([y_np, ex.data["valid_np"][1]])
            epochs = max(1, round(updates / -(-len(x_np) // bs)))
        else:
            epochs = point_epochs(opts, len(x_np))
        self.eval_every = eval_interval(opts, epochs)
        self.x, self.y = _vis(x_np, device), _lab(y_np, device)
        self.valid_set, self.test_set = ex.data["valid"], ex.data["test"]
        if dbm is not None:  # every image with its mean-field q(h2 | v) from the DBM (revival.experiments.dbm_finetune)
            from revival.experiments.dbm_finetune import augment

            aug = lambda v: D.Visible(augment(dbm, v.all()))  # noqa: E731
            self.x = aug(self.x)
            self.valid_set = (aug(ex.data["valid"][0]), ex.data["valid"][1])
            self.test_set = (aug(ex.data["test"][0]), ex.data["test"][1])
        n_eval = min(len(self.x), opts["eval_train_size"])
        self.train_eval = (D.Visible(self.x.data[:n_eval], self.x.scale), self.y[:n_eval])
        self.monitor_x = self.valid_set[0].batch(slice(0, MONITOR_EXAMPLES)) if opts["monitor_layers"] else None
        self.s = s = variant_settings(opts, point.variant, point.rate)
        model = init_mlp([self.x.data.shape[1], *hidden, 10], self.activation, point.seed, self.init_scheme)
        self.weight_scale = None
        if dbm is not None:
            from revival.experiments.dbm_finetune import init_net_

            self.weight_scale = DBN.papers_dropout_scales(
                2, s["input_dropout"], s["hidden_dropout"], s["dropout_type"], opts["dropout_scaling"]
            )
            init_net_(model, dbm, *(self.weight_scale or (1.0, 1.0)))
        if stack is not None:  # the papers' dropout feeds each layer q times its RBM's input: scaled by 1/q
            self.weight_scale = DBN.init_from_stack(
                model,
                stack,
                len(hidden),
                s["input_dropout"],
                s["hidden_dropout"],
                s["dropout_type"],
                opts["dropout_scaling"],
            )
        model.input_dropout, model.hidden_dropout, model.dropout_type = (
            s["input_dropout"],
            s["hidden_dropout"],
            s["dropout_type"],
        )
        model.dropout_scaling = opts["dropout_scaling"]
        self.model = model.to(device)
        own = {
            k: v
            for k, v in s.items()
            if k not in ("input_dropout", "hidden_dropout", "dropout_type", "weight_decay", "max_norm")
        }  # --variant-lr etc.
        # the point's net: the shared options, the variant's own (--variant-lr ...), and what the
        # variant and the grid point switch on
        self.cfg = NetConfig.from_options(
            {
                **opts,
                **own,
                "layers": hidden,
                "activation": self.activation,
                "loss": self.loss,
                "init_scheme": self.init_scheme,
                "input_dropout": s["input_dropout"],
                "hidden_dropout": s["hidden_dropout"],
                "dropout_type": s["dropout_type"],
                "weight_decay": s["weight_decay"],
                "max_norm": s["max_norm"],
                "epochs": epochs,
                "eval_every": self.eval_every,
                "freeze_pretrained_epochs": min(opts["freeze_pretrained_epochs"], epochs) if point.pretrained else 0,
                "seed": point.seed,
            }
        )
        self.hidden = hidden
        self.net = NetFit(
            model,
            self.cfg,
            point.seed,
            self.x,
            self.y,
            {"train": self.train_eval, "valid": self.valid_set, "test": self.test_set},
            self.eval_every,
            self.folder,
            self.monitor_x,
            ex.echo,
            self.name,
            # the full phase and --train-on-all train on the validation images: nothing to choose on
            selection=None if full else Selection(opts.get("restore_best", False), opts.get("patience")),
            validated=not (full or (point.size is None and opts.get("train_on_all"))),
        )

    # the training state lives in the NetFit (shared with revival.fit_net)
    per_epoch = property(lambda self: self.net.per_epoch)
    start = property(lambda self: self.net.start)
    snapshot = property(lambda self: self.net.snapshot)
    last = property(lambda self: self.net.last)
    best_test_loss = property(lambda self: self.net.best_test_loss)
    seconds = property(lambda self: self.net.seconds)

    def bar(self, epoch: int) -> runs.Progress:
        return runs.Progress(self.per_epoch, f"{self.name} {epoch + 1}", self.ex.progress)

    def train(self, epoch, check, on_batch) -> dict:
        return self.net.train(epoch, check, on_batch)

    def end_epoch(self, w, epoch: int, tr: dict, seconds: float):
        self.net.end_epoch(w, epoch, tr, seconds)

    def row(self, check) -> dict:
        """The point's summary row, with the Monte-Carlo test error of dropout variants and the model
        selection on validation (the epoch of lowest validation error and the test error at it; with
        --restore-best the errors are that epoch's, whose weights the net now has)."""
        p, s, opts = self.point, self.s, self.ex.opts
        last = self.net.finish()
        row = {
            "variant": p.variant,
            "train_size": len(self.x),
            "seed": p.seed,
            "depth": len(self.hidden),
            "layers": self.hidden,
            "pretrained": p.pretrained,
            # a classical model's row is off the net's axes (it trains with --loss, fan-in init)
            **(
                {a: None for a in NET_AXES.values()}
                if p.classic
                else {"activation": self.activation, "loss": self.loss, "init_scheme": self.init_scheme}
            ),
            "hidden_dropout": s["hidden_dropout"],
            "input_dropout": s["input_dropout"],
            "train_error": last["error/train"],
            "valid_error": last["error/valid"],
            "test_error": last["error/test"],
            "generalization_gap": last["error/test"] - last["error/train"],
            "test_loss": last["loss/test"],
            "test_loss_min": self.best_test_loss,
            "epochs": self.cfg.epochs,
            "updates": self.net.last_epoch * self.per_epoch,
            "seconds": self.seconds,  # wall time of the epochs (training, evaluation, saving), resumes included
            **self.net.selection.fields(self.net.validated),
        }
        own = (opts.get("variant_options") or {}).get(p.variant)
        if own:  # the settings this variant trains with instead of the shared ones
            row["variant_options"] = dict(own)
            row["lr"] = self.cfg.lr
        if p.pretrained:  # how the pretrained start was used: weights scaled by 1/q, epochs with it frozen
            row["pretrained_weight_scale"] = self.weight_scale
            row["freeze_pretrained_epochs"] = self.cfg.freeze_pretrained_epochs
        if self.monitor_x is not None:  # where the units ended up: the figure of Glorot & Bengio's Table/Figure 2
            row["activation_mean"] = [last[f"activation/layer_{k}/mean"] for k in range(1, len(self.hidden) + 1)]
            row["saturated"] = [last[f"activation/layer_{k}/saturated"] for k in range(1, len(self.hidden) + 1)]
            row["grad_norm"] = [last[f"grad_norm/layer_{k}"] for k in range(1, len(self.hidden) + 2)]
        if (s["input_dropout"] > 0 or s["hidden_dropout"] > 0) and opts["mc_samples"] > 0:
            mc_gen = torch.Generator(device=self.ex.device).manual_seed(p.seed + 99)
            row["test_error_mc"] = float(
                evaluate_classifier(
                    self.model,
                    *self.test_set,
                    self.cfg.loss,
                    mc_samples=opts["mc_samples"],
                    generator=mc_gen,
                    check=check,
                )["error_mc"]
            )
            row["mc_samples"] = opts["mc_samples"]
        return row

    def hparams(self) -> dict:
        p, opts = self.point, self.ex.opts
        return {
            "variant": p.variant,
            "train_size": len(self.x),
            "seed": p.seed,
            "layers": ",".join(map(str, self.hidden)),
            "depth": len(self.hidden),
            "pretrained": p.pretrained,
            "activation": self.activation if self.hidden else "none",
            "loss": self.loss,
            "init_scheme": self.init_scheme,
            **{
                k: (v if v is not None else 0.0)
                for k, v in self.s.items()
                if k in ("input_dropout", "hidden_dropout", "dropout_type", "weight_decay", "max_norm")
            },
            "lr": self.cfg.lr,
            "epochs": self.cfg.epochs,
            "batch_size": opts["batch_size"],
        }


def fit_phase(ex: Experiment, point: Point, full: bool = False, chosen_epochs: int | None = None) -> dict:
    """Train one phase of a grid point in its folder and write its row to ``result.json`` there
    (a phase whose ``result.json`` exists is not trained again). Interrupted, it leaves
    ``state.pt`` and the ``model.pt`` of its last completed epoch; finished, ``model.pt`` and the
    row (no resume state)."""
    folder = ex.run.path / point.name(ex.opts) / ("full" if full else "")
    if (folder / runs.RESULT_FILE).is_file():
        return runs.read_json(folder / runs.RESULT_FILE)
    fit = PointFit(ex, point, full, chosen_epochs)
    with runs.writer(fit.folder, purge_step=fit.start + 1 if fit.start else None) as w, GracefulStop() as stop:
        try:
            epoch_loop(
                fit.start,
                fit.cfg.epochs,
                stop,
                fit.bar,
                fit.train,
                lambda epoch, tr, seconds: fit.end_epoch(w, epoch, tr, seconds),
                done=lambda: fit.net.stopped,
            )
            row = fit.row(stop.check)
            stop.check()
        except runs.Interrupted:
            if fit.snapshot is not None:  # the last completed epoch, which no evaluation had saved yet
                runs.save_epoch(fit.folder, None, fit.snapshot)
            saved = runs.load_state(fit.folder, "cpu")
            if saved is not None:  # the public checkpoint of the last completed epoch, beside state.pt
                fit.model.load_state_dict(saved["model"])
                save_mlp(fit.folder, fit.model)
            raise
        metrics = {
            f"hparam/{k}": row[k]
            for k in ("train_error", "valid_error", "test_error", "generalization_gap", "test_loss", "test_error_mc")
            if k in row
        }
        runs.log_hparams(w, fit.hparams(), metrics, {"variant": list(ex.opts["variants"])}, differing_hparams(ex.opts))
    save_mlp(fit.folder, fit.model)
    runs.save_predictions(fit.folder, predicted_classes(fit.model, fit.test_set[0]).cpu(), fit.test_set[1].cpu())
    runs.write_json(fit.folder / runs.RESULT_FILE, row)
    (fit.folder / runs.STATE_FILE).unlink(missing_ok=True)  # a finished phase needs no resume state
    return row


def point_done(ex: Experiment, point: Point) -> dict | None:
    """The finished row of a point (every phase done), or None."""
    p = ex.run.path / point.name(ex.opts) / runs.RESULT_FILE
    if not p.is_file():
        return None
    row = runs.read_json(p)
    return row if not ex.opts.get("retrain_on_full") or "test_error_full" in row or _fixed(point) else None


def _fixed(point: Point) -> bool:
    """kNN and the SVM: fitted once, not trained for a number of updates (no retrain phase)."""
    return point.classic in ("knn", "svm-rbf")


def fit_classic(ex: Experiment, point: Point) -> dict:
    """kNN or the RBF SVM on the point's training examples (k or C chosen on the validation split),
    in its own folder like every point: ``result.json`` and one TensorBoard point per split at the
    nets' last epoch, so the model shows in the overlay beside the nets' final errors."""
    folder = ex.run.path / point.name(ex.opts)
    if (folder / runs.RESULT_FILE).is_file():
        return runs.read_json(folder / runs.RESULT_FILE)
    folder.mkdir(parents=True, exist_ok=True)
    opts, d = ex.opts, ex.data
    x_np, y_np = ex.training_set(point)
    n_eval = min(len(x_np), opts["eval_train_size"])
    ex.echo(f"[{point.name(opts)}] fitting {point.variant} on {len(x_np)} training images")
    t0 = time.perf_counter()
    with GracefulStop() as stop:
        if point.classic == "knn":
            train = (_vis(x_np, ex.device).all(), _lab(y_np, ex.device))
            res = fit_knn(
                train,
                (d["valid"][0].all(), d["valid"][1]),
                (d["test"][0].all(), d["test"][1]),
                (train[0][:n_eval], train[1][:n_eval]),
                KNN_KS,
                check=stop.check,
            )
            extra, setting = {"k": res["k"], "valid_error_by_k": res["valid_error_by_k"]}, f"k = {res['k']}"
        else:
            as_np = lambda a: (a[0].astype(np.float32) / 255.0, a[1])  # noqa: E731 (the nets' grey levels)
            tr = as_np((x_np, y_np))
            res = fit_svm(
                tr,
                as_np(d["valid_np"]),
                as_np(ex.data["test_np"]),
                (tr[0][:n_eval], tr[1][:n_eval]),
                SVM_CS,
                point.seed,
                check=stop.check,
                gamma_factors=SVM_GAMMA_FACTORS,
            )
            extra = {
                "C": res["C"],
                "gamma": res["gamma"],
                "gamma_factor": res["gamma_factor"],
                "valid_error_by_C_gamma": res["valid_error_by_C_gamma"],
                "support_vectors": res["support_vectors"],
            }
            setting = (
                f"C = {res['C']:g}, gamma = {res['gamma']:.3g} ({res['gamma_factor']:.3g} x scale) chosen on "
                f"validation, {res['support_vectors']} support vectors"
            )
    seconds = time.perf_counter() - t0
    row = {
        "variant": point.variant,
        "train_size": len(x_np),
        "seed": point.seed,
        "depth": 0,
        "layers": [],
        "pretrained": False,
        "activation": None,
        "loss": None,
        "init_scheme": None,
        "hidden_dropout": 0.0,
        "input_dropout": 0.0,
        "train_error": res["error/train"],
        "valid_error": res["error/valid"],
        "test_error": res["error/test"],
        "generalization_gap": res["error/test"] - res["error/train"],
        "epochs": 0,
        "updates": 0,
        "seconds": seconds,
        **extra,
    }
    with runs.writer(folder) as w:
        for split in ("train", "valid", "test"):
            w.add_scalar(f"error/{split}", res[f"error/{split}"], opts["epochs"])
        hp = {
            "variant": point.variant,
            "train_size": len(x_np),
            "seed": point.seed,
            "layers": "",
            "depth": 0,
            "pretrained": False,
            "activation": "none",
            "loss": "none",
            "init_scheme": "none",
            **{k: (v if isinstance(v, str) else 0.0) for k, v in variant_settings(opts, "baseline", None).items()},
            "lr": 0.0,
            "epochs": 0,
            "batch_size": 0,
        }
        metrics = {f"hparam/{k}": row[k] for k in ("train_error", "valid_error", "test_error", "generalization_gap")}
        runs.log_hparams(w, hp, metrics, {"variant": list(opts["variants"])}, differing_hparams(opts))
    runs.save_predictions(folder, res["test_pred"], d["test_np"][1])
    runs.write_json(folder / runs.RESULT_FILE, row)
    ex.echo(
        f"[{point.name(opts)}] {setting}  train err {100 * row['train_error']:.2f}%  valid err "
        f"{100 * row['valid_error']:.2f}%  test err {100 * row['test_error']:.2f}%  {seconds:.1f}s"
    )
    return row


def train_point(ex: Experiment, point: Point) -> dict:
    """Train one grid point in ``run.path / point.name``; returns its summary row (its
    ``result.json``). With ``--retrain-on-full`` the row also carries the retrained net's test
    error (``test_error_full``) and its epochs, from ``full/``."""
    if _fixed(point):
        return fit_classic(ex, point)
    row = fit_phase(ex, point)
    if ex.opts.get("retrain_on_full"):
        chosen = ex.opts.get("restore_best") or ex.opts.get("patience")  # the epoch chosen on validation
        full = fit_phase(ex, point, full=True, chosen_epochs=row["best_valid_epoch"] if chosen else None)
        row.update(
            test_error_full=full["test_error"],
            epochs_full=full["epochs"],
            **({"test_error_mc_full": full["test_error_mc"]} if "test_error_mc" in full else {}),
        )
        runs.write_json(ex.run.path / point.name(ex.opts) / runs.RESULT_FILE, row)
    return row


@dataclass
class _RunAt:
    """What a point needs of the run on another machine: its folder."""

    path: Path


def point_on_worker(opts: dict, run_path: str, point: Point, threads: int) -> dict:
    """One grid point in a worker process (``--executor ray``): its data, device and (with --init)
    the stack loaded there, then :func:`train_point` into its sub-folder of ``run_path``."""
    torch.set_num_threads(max(1, threads))
    device = runs.resolve_device(opts["device"])
    stack = [r.to(device) for r in load_init(opts["init"], opts)[0]] if opts.get("init") else None
    ex = Experiment(
        opts, load_data(opts, device), _RunAt(Path(run_path)), device, lambda m: print(m, flush=True), False, stack
    )
    return train_point(ex, point)


def save_mlp(folder: Path, model: MLP):
    runs.save_torch(folder / runs.MODEL_FILE, model.checkpoint())


def layout() -> dict:
    """Custom-scalars layout (tags matched by regex). Train and test error are separate charts side
    by side, each with every variant in its own colour (TensorBoard colours by run, and each variant
    is a run): on one chart a variant's train and test curves shared a colour and differed only by a
    small marker. Errors are fractions in the event files (0.05 = 5%), as the chart names say."""
    return {
        "compare-dropout": {
            "train error, every variant (fraction: 0.05 = 5%)": ["Multiline", [r"^error/train$"]],
            "test error, every variant (fraction: 0.05 = 5%)": ["Multiline", [r"^error/test$"]],
            "train loss, every variant": ["Multiline", [r"^loss/train$"]],
            "test loss, every variant (rising = overfitting)": ["Multiline", [r"^loss/test$"]],
            "validation error, every variant (fraction)": ["Multiline", [r"^error/valid$"]],
            "saturated share of each hidden layer (dead units for ReLU)": [
                "Multiline",
                [r"^activation/layer_\d+/saturated$"],
            ],
            "mean activation of each hidden layer": ["Multiline", [r"^activation/layer_\d+/mean$"]],
            "gradient norm of each layer's weights": ["Multiline", [r"^grad_norm/layer_\d+$"]],
        }
    }


def print_plan(opts: dict, device, echo=print) -> list[dict]:
    """``--plan``: the grid's points with their epochs, updates and estimated time here; no run folder.
    ``--init`` is checked as the run would check it: a plan the run would refuse is refused too."""
    if opts.get("init"):
        load_init(opts["init"], opts)
    rows = plan(opts, load_data(opts, device), device)
    for line in plan_lines(rows, device, opts.get("threads")):
        echo(line)
    return rows


def compare_dropout(opts: dict, device, make_run, echo=print, progress=False) -> dict:
    """Run every grid point; write ``summary.json`` rows and ``summary.md``. With ``--executor ray``
    the whole run is one Ray session (``executor.session``): a local instance it starts is shut down
    when it ends, finished, failed or interrupted."""
    with executor.session(opts):
        return _compare_dropout(opts, device, make_run, echo, progress)


def _compare_dropout(opts: dict, device, make_run, echo, progress) -> dict:
    d = load_data(opts, device)
    init_stack = None
    if opts.get("init"):
        init_stack, pre = load_init(opts["init"], opts)
        for line in init_notes(opts["init"], init_stack, opts):
            echo(line)
        init_stack = [r.to(device) for r in init_stack]
        opts["init_preprocessing"] = {k: v for k, v in pre.items() if not isinstance(v, torch.Tensor)}
        if pre.get("binarize", "none") != "none":
            echo(f"note: --init was pretrained on {pre.get('binarize')}-binarized pixels; fine-tuning sees {INPUT}")
    opts["input"] = INPUT
    if opts.get("executor", "local") == "ray":  # join (or start) Ray and check the request before any folder
        try:
            executor.check_resources(executor.connect(opts.get("ray_address")), opts)
        except ValueError as e:
            raise e if isinstance(e, runs.OptionError) else runs.OptionError("--ray-address", str(e)) from None
    run = make_run()
    with run.recording():  # from the folder on: a signal, an error or a MemoryError in the start-up is recorded
        echo(f"run folder: {run.path}")
        if opts.get("activation_forced_by"):
            echo(
                f"activation: logistic for every variant (the {', '.join(opts['activation_forced_by'])} variant(s) "
                f"start from RBMs, whose units are logistic); the other settings stay the preset's (lr {opts['lr']:g}): "
                "a rate tuned for another activation may not suit logistic units"
            )
        per_net = min(
            point_epochs(opts, n) * -(-n // opts["batch_size"])
            for n in (opts.get("train_sizes") or [opts.get("train_size") or len(d["train_np"][1])])
        )
        if per_net < FEW_UPDATES:
            echo(
                f"note: a net here makes only {per_net} weight updates, too few for these nets to learn much "
                f"(a 1,000-image set at batch 100 needs a few thousand); --min-updates {10 * FEW_UPDATES} trains small "
                "sets for more epochs"
            )
        if (
            sum(-(-(p.size or len(d["train_np"][1])) // opts["batch_size"]) * opts["epochs"] for p in grid(opts))
            >= LONG_RUN
        ):
            for line in plan_lines(plan(opts, d, device), device, opts.get("threads")):  # a long run: say what it costs
                echo(line)
            if runs.has_checkpoint(run.path):
                echo("(this run resumes: what is saved is not trained again)")
        preset = PRESETS[opts["preset"]]
        ex = Experiment(opts, d, run, device, echo, progress, init_stack)

        with runs.writer(run.path) as w:
            w.add_custom_scalars(layout())
            w.add_text("config", runs.markdown_table(run.config), 0)
        points = grid(opts)
        done = {p: r for p in points if (r := point_done(ex, p)) is not None}

        def finished(point, row):
            done[point] = row
            run.set_status(runs.STATUS_RUNNING, rows=[done[p] for p in points if p in done])

        failed = []
        todo = [p for p in points if p not in done]
        elsewhere = opts.get("executor", "local") != "local"
        if elsewhere:
            for p in todo:  # the pretrained stacks first, here (the points of one size and seed share one)
                if p.dbm:
                    ex.dbm(p)
                elif p.pretrained and ex.init_stack is None:
                    ex.stack(p)
        # while points run elsewhere a signal is caught here; a local point's own loop catches it
        with GracefulStop() if elsewhere else contextlib.nullcontext() as stop:
            failed = executor.run_points(
                todo, opts, run, lambda p: train_point(ex, p), point_on_worker, stop, echo, finished, progress
            )
        rows = [done[p] for p in points if p in done]
        if failed:
            run.set_status(runs.STATUS_RUNNING, rows=rows, failed=[{"point": n, "error": e} for n, e in failed])
            raise ValueError(
                f"{len(failed)} of {len(points)} points failed ({'; '.join(f'{n}: {e}' for n, e in failed[:3])}"
                f"{'; ...' if len(failed) > 3 else ''}); {len(rows)} finished; --resume {run.path} "
                "runs the failed ones again"
            )
        summary = {
            "status": runs.STATUS_FINISHED,
            "preset": opts["preset"],
            "rows": rows,
            "groups": group_rows(rows, preset),
            "differences": pair_differences(run.path),
        }
        if preset.citation:
            summary["paper"] = {
                "citation": preset.citation,
                "test_error_percent": preset.paper,
                "trust": preset.trust,
                "trust_of": {v: preset.trust_for(v) for v in preset.paper},
                "architecture": preset.architecture,
                "other_net": preset.other_net,
            }
        md = summary_markdown(run, summary, preset)
        run.write_summary(summary, md)
        echo(md.replace("**", ""))  # the terminal gets the table without markdown emphasis
        return summary
