"""One point of a compare-dropout grid, trained in its own sub-folder: a net (:class:`PointFit`,
its phases by :func:`fit_phase`) or a classical baseline (:func:`fit_classic`), ending with
``result.json``, which resume uses to skip it; :func:`point_on_worker` runs one on a Ray worker."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from revival import data as D
from revival import features, runs
from revival.config import NetConfig
from revival.experiments.dbm_finetune import augment, init_net_
from revival.experiments.experiment import MONITOR_EXAMPLES, Experiment, Job, _lab, _vis, load_data, load_init
from revival.experiments.sweep import NET_AXES, Point, differing_hparams
from revival.models import dbn as DBN
from revival.models.baselines import fit_knn, fit_linear_svm, fit_svm
from revival.models.mlp import MLP, seeded_mlp
from revival.presets import VARIANTS
from revival.tables import KNN_KS, LINEAR_SVM_CS, SVM_CS, SVM_GAMMA_FACTORS
from revival.training.netfit import NetFit, Selection
from revival.training.train import GracefulStop, evaluate_classifier, predicted_classes


class PointFit:
    """One grid point while it trains: its data, net, trainer and the metrics so far (resumed from
    its ``state.pt`` when there is one). ``full``: the second phase of ``--retrain-on-full``, a
    fresh net on train + valid (60,000 images) for the same number of weight updates, in ``full/``."""

    def __init__(self, ex: Experiment, point: Point, full: bool = False, chosen_epochs: int | None = None):
        cfg, device = ex.cfg, ex.device
        self.ex, self.point = ex, point
        self.name = point.name(cfg) + ("/full" if full else "")
        self.folder = ex.run.path / self.name
        stack = ex.stack(point) if point.pretrained and not point.dbm else None
        dbm = ex.dbm(point) if point.dbm else None
        self.folder.mkdir(parents=True, exist_ok=True)
        x_np, y_np = ex.training_set(point)
        bs = cfg.batch_size
        if full:  # the first phase's length, or the epoch it chose on validation (--restore-best, --patience)
            updates = (chosen_epochs or cfg.point_epochs(len(x_np))) * -(-len(x_np) // bs)
            x_np, y_np = np.concatenate([x_np, ex.data["valid_np"][0]]), np.concatenate([y_np, ex.data["valid_np"][1]])
            epochs = max(1, round(updates / -(-len(x_np) // bs)))
        else:
            epochs = cfg.point_epochs(len(x_np))
        # the point's net: the shared settings, the variant's own (--variant-lr ...), and what the
        # variant and the grid point switch on
        self.cfg = net = cfg.net_config(point, epochs)
        self.hidden, self.activation, self.loss, self.init_scheme = (
            list(net.layers),
            net.activation,
            net.loss,
            net.init_scheme,
        )
        self.eval_every = net.eval_every
        self.s = s = cfg.variant_settings(point.variant, point.rate)
        self.x, self.y = _vis(x_np, device), _lab(y_np, device)
        self.valid_set, self.test_set = ex.data["valid"], ex.data["test"]
        if dbm is not None:  # every image with its mean-field q(h2 | v) from the DBM (revival.experiments.dbm_finetune)
            aug = lambda v: D.Visible(augment(dbm, v.all()))  # noqa: E731
            self.x = aug(self.x)
            self.valid_set = (aug(ex.data["valid"][0]), ex.data["valid"][1])
            self.test_set = (aug(ex.data["test"][0]), ex.data["test"][1])
        n_eval = min(len(self.x), cfg.eval_train_size)
        self.train_eval = (D.Visible(self.x.data[:n_eval], self.x.scale), self.y[:n_eval])
        self.monitor_x = self.valid_set[0].batch(slice(0, MONITOR_EXAMPLES)) if cfg.monitor_layers else None
        model = seeded_mlp([self.x.data.shape[1], *self.hidden, 10], self.activation, point.seed, self.init_scheme)
        self.weight_scale = None
        if dbm is not None:
            self.weight_scale = DBN.papers_dropout_scales(
                2, s["input_dropout"], s["hidden_dropout"], s["dropout_type"], cfg.dropout_scaling
            )
            init_net_(model, dbm, *(self.weight_scale or (1.0, 1.0)))
        if stack is not None:  # the papers' dropout feeds each layer q times its RBM's input: scaled by 1/q
            self.weight_scale = DBN.init_from_stack(
                model,
                stack,
                len(self.hidden),
                s["input_dropout"],
                s["hidden_dropout"],
                s["dropout_type"],
                cfg.dropout_scaling,
            )
        model.input_dropout, model.hidden_dropout, model.dropout_type = (
            s["input_dropout"],
            s["hidden_dropout"],
            s["dropout_type"],
        )
        model.dropout_scaling = cfg.dropout_scaling
        self.model = model.to(device)
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
            selection=None if full else Selection(cfg.restore_best, cfg.patience),
            validated=not (full or (point.size is None and cfg.train_on_all)),
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
        p, s, cfg = self.point, self.s, self.ex.cfg
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
        own = (cfg.variant_options or {}).get(p.variant)
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
        if (s["input_dropout"] > 0 or s["hidden_dropout"] > 0) and cfg.mc_samples > 0:
            mc_gen = torch.Generator(device=self.ex.device).manual_seed(p.seed + 99)
            row["test_error_mc"] = float(
                evaluate_classifier(
                    self.model,
                    *self.test_set,
                    self.cfg.loss,
                    mc_samples=cfg.mc_samples,
                    generator=mc_gen,
                    check=check,
                )["error_mc"]
            )
            row["mc_samples"] = cfg.mc_samples
        return row

    def hparams(self) -> dict:
        p = self.point
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
            **{k: (v if v is not None else 0.0) for k, v in self.s.items() if k in NetConfig.REGULARISERS},
            "lr": self.cfg.lr,
            "epochs": self.cfg.epochs,
            "batch_size": self.cfg.batch_size,
        }


def fit_phase(ex: Experiment, point: Point, full: bool = False, chosen_epochs: int | None = None) -> dict:
    """Train one phase of a grid point in its folder and write its row to ``result.json`` there
    (a phase whose ``result.json`` exists is not trained again). Interrupted, it leaves
    ``state.pt`` and the ``model.pt`` of its last completed epoch; finished, ``model.pt`` and the
    row (no resume state)."""
    folder = ex.run.path / point.name(ex.cfg) / ("full" if full else "")
    if (folder / runs.RESULT_FILE).is_file():
        return runs.read_json(folder / runs.RESULT_FILE)
    fit = PointFit(ex, point, full, chosen_epochs)
    with runs.writer(fit.folder, purge_step=fit.start + 1 if fit.start else None) as w, GracefulStop() as stop:
        try:
            fit.net.run(w, stop, fit.bar)
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
        runs.log_hparams(w, fit.hparams(), metrics, {"variant": list(ex.cfg.variants)}, differing_hparams(ex.cfg))
    save_mlp(fit.folder, fit.model)
    runs.save_predictions(fit.folder, predicted_classes(fit.model, fit.test_set[0]).cpu(), fit.test_set[1].cpu())
    runs.write_json(fit.folder / runs.RESULT_FILE, row)
    (fit.folder / runs.STATE_FILE).unlink(missing_ok=True)  # a finished phase needs no resume state
    return row


def point_done(ex: Experiment, point: Point) -> dict | None:
    """The finished row of a point (every phase done), or None."""
    p = ex.run.path / point.name(ex.cfg) / runs.RESULT_FILE
    if not p.is_file():
        return None
    row = runs.read_json(p)
    return row if not ex.cfg.retrain_on_full or "test_error_full" in row or _fixed(point) else None


def _fixed(point: Point) -> bool:
    """kNN and the SVM: fitted once, not trained for a number of updates (no retrain phase)."""
    return point.classic in ("knn", "svm-rbf", "linear-svm")


def fit_classic(ex: Experiment, point: Point) -> dict:
    """kNN or the RBF SVM on the point's training examples (k or C chosen on the validation split),
    in its own folder like every point: ``result.json`` and one TensorBoard point per split at the
    nets' last epoch, so the model shows in the overlay beside the nets' final errors."""
    folder = ex.run.path / point.name(ex.cfg)
    if (folder / runs.RESULT_FILE).is_file():
        return runs.read_json(folder / runs.RESULT_FILE)
    folder.mkdir(parents=True, exist_ok=True)
    cfg, d = ex.cfg, ex.data
    x_np, y_np = ex.training_set(point)
    n_eval = min(len(x_np), cfg.eval_train_size)
    ex.echo(f"[{point.name(cfg)}] fitting {point.variant} on {len(x_np)} training images")
    t0 = time.perf_counter()
    with GracefulStop() as stop:
        pipeline, full = VARIANTS[point.variant].get("features"), None
        if point.classic == "knn":
            train = (_vis(x_np, ex.device).all(), _lab(y_np, ex.device))
            valid, test = (d["valid"][0].all(), d["valid"][1]), (d["test"][0].all(), d["test"][1])
            if pipeline is not None:  # hand-made features (dense), as tensors on the run's device
                on = lambda f: torch.from_numpy(np.asarray(f)).to(ex.device)  # noqa: E731
                grey = lambda a: (a[0].astype(np.float32) / 255.0, a[1])  # noqa: E731 (the nets' grey levels)
                train = (on(features.transform(pipeline, grey((x_np, y_np))[0])), train[1])
                valid = (on(ex.features(pipeline, "valid", grey(d["valid_np"]))[0]), valid[1])
                test = (on(ex.features(pipeline, "test", grey(d["test_np"]))[0]), test[1])
            if cfg.retrain_on_full:
                full = (torch.cat([train[0], valid[0]]), torch.cat([train[1], valid[1]]))
            res = fit_knn(
                train, valid, test, (train[0][:n_eval], train[1][:n_eval]), KNN_KS, check=stop.check, full=full
            )
            extra, setting = {"k": res["k"], "valid_error_by_k": res["valid_error_by_k"]}, f"k = {res['k']}"
        else:
            as_np = lambda a: (a[0].astype(np.float32) / 255.0, a[1])  # noqa: E731 (the nets' grey levels)
            tr, va, te = as_np((x_np, y_np)), as_np(d["valid_np"]), as_np(ex.data["test_np"])
            if pipeline is not None:  # hand-made features: the training set's each point, the others once a run
                tr = (features.transform(pipeline, tr[0]), tr[1])
                va, te = ex.features(pipeline, "valid", va), ex.features(pipeline, "test", te)
            # --retrain-on-full: the chosen C (and gamma) fitted again on training + validation
            full = (features.stack_rows(tr[0], va[0]), np.concatenate([tr[1], va[1]])) if cfg.retrain_on_full else None
            if point.classic == "linear-svm":
                res = fit_linear_svm(
                    tr, va, te, (tr[0][:n_eval], tr[1][:n_eval]), LINEAR_SVM_CS, point.seed, check=stop.check, full=full
                )
                extra = {"C": res["C"], "valid_error_by_C": res["valid_error_by_C"]}
                setting = f"C = {res['C']:g} chosen on validation, {tr[0].shape[1]:,} features"
            else:
                res = fit_svm(
                    tr,
                    va,
                    te,
                    (tr[0][:n_eval], tr[1][:n_eval]),
                    SVM_CS,
                    point.seed,
                    check=stop.check,
                    gamma_factors=SVM_GAMMA_FACTORS,
                    full=full,
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
        **(
            {"test_error_full": res["error/test_full"], "train_size_full": len(full[1])}
            if "error/test_full" in res
            else {}
        ),
    }
    with runs.writer(folder) as w:
        for split in ("train", "valid", "test"):
            w.add_scalar(f"error/{split}", res[f"error/{split}"], cfg.epochs)
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
            **{k: (v if isinstance(v, str) else 0.0) for k, v in cfg.variant_settings("baseline", None).items()},
            "lr": 0.0,
            "epochs": 0,
            "batch_size": 0,
        }
        metrics = {f"hparam/{k}": row[k] for k in ("train_error", "valid_error", "test_error", "generalization_gap")}
        runs.log_hparams(w, hp, metrics, {"variant": list(cfg.variants)}, differing_hparams(cfg))
    runs.save_predictions(folder, res["test_pred"], d["test_np"][1])
    if "test_pred_full" in res:  # where a retrained net keeps its predictions: full/
        (folder / "full").mkdir(exist_ok=True)
        runs.save_predictions(folder / "full", res["test_pred_full"], d["test_np"][1])
    runs.write_json(folder / runs.RESULT_FILE, row)
    ex.echo(
        f"[{point.name(cfg)}] {setting}  train err {100 * row['train_error']:.2f}%  valid err "
        f"{100 * row['valid_error']:.2f}%  test err {100 * row['test_error']:.2f}%"
        + (f"  retrained on {row['train_size_full']:,}: test err {100 * row['test_error_full']:.2f}%" if full else "")
        + f"  {seconds:.1f}s"
    )
    return row


def train_point(ex: Experiment, point: Point) -> dict:
    """Train one grid point in ``run.path / point.name``; returns its summary row (its
    ``result.json``). With ``--retrain-on-full`` the row also carries the retrained net's test
    error (``test_error_full``) and its epochs, from ``full/``."""
    if _fixed(point):
        return fit_classic(ex, point)
    row = fit_phase(ex, point)
    if ex.cfg.retrain_on_full:
        chosen = ex.cfg.restore_best or ex.cfg.patience  # the epoch chosen on validation
        full = fit_phase(ex, point, full=True, chosen_epochs=row["best_valid_epoch"] if chosen else None)
        row.update(
            test_error_full=full["test_error"],
            epochs_full=full["epochs"],
            **({"test_error_mc_full": full["test_error_mc"]} if "test_error_mc" in full else {}),
        )
        runs.write_json(ex.run.path / point.name(ex.cfg) / runs.RESULT_FILE, row)
    return row


@dataclass
class _RunAt:
    """What a point needs of the run on another machine: its folder."""

    path: Path


def point_on_worker(job: Job, run_path: str, point: Point, threads: int) -> dict:
    """One grid point in a worker process (``--executor ray``): its data, device and (with --init)
    the stack loaded there, then :func:`train_point` into its sub-folder of ``run_path``."""
    torch.set_num_threads(max(1, threads))
    cfg = job.cfg
    device = runs.resolve_device(cfg.device)
    stack = [r.to(device) for r in load_init(cfg.init, cfg)[0]] if cfg.init else None
    data = load_data(cfg, device, job.data_dir, job.download)
    ex = Experiment(cfg, data, _RunAt(Path(run_path)), device, lambda m: print(m, flush=True), False, stack)
    return train_point(ex, point)


def save_mlp(folder: Path, model: MLP):
    runs.save_torch(folder / runs.MODEL_FILE, model.checkpoint())
