"""A compare-dropout run's shared state (:class:`Experiment`): the data, checked before any run
folder exists, the pretrained stacks (``--init`` or pretrained here, once per training set) and the
DBMs the points start from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from revival import data as D
from revival import features, runs
from revival.config import CompareConfig, DBMConfig, RBMConfig, defaults
from revival.experiments import dbm_finetune
from revival.experiments.sweep import Point
from revival.models import dbn as DBN
from revival.training.layerwise import first_layer_data, fit_stack

INPUT = "grey levels in [0, 1] (pixel / 255)"  # the input of every net and of in-experiment pretraining
MONITOR_EXAMPLES = 1000  # the first validation images: what the per-layer activation monitors look at


def load_init(path, cfg: CompareConfig) -> tuple[list, dict]:
    """The stack behind ``--init`` (an RBM or DBN checkpoint, a run folder or a file) and its
    preprocessing; ValueError when it is not one or when its layers do not fit the nets of the
    grid (each net's first hidden layers must have the stack's sizes, from 784 inputs)."""
    try:
        ck, p = runs.load_checkpoint(path)
        rbms = DBN.from_checkpoint(ck, str(p))
    except ValueError as e:  # an option the user gave: refused as one (exit 2), before any folder or plan
        raise runs.OptionError("--init", str(e)) from None
    pre = ck.get("preprocessing") if isinstance(ck, dict) else None
    for depth in cfg.depths or [None]:
        sizes = [784, *cfg.hidden(depth)]
        for i, rbm in enumerate(rbms[: len(sizes) - 1]):
            if (rbm.n_visible, rbm.n_hidden) != (sizes[i], sizes[i + 1]):
                raise runs.OptionError(
                    "--init",
                    f"--init {path}: layer {i + 1} is {rbm.n_visible}->{rbm.n_hidden} but "
                    f"the net's layer {i + 1} is {sizes[i]}->{sizes[i + 1]} (set --layers "
                    "to match)",
                )
    return rbms, pre if isinstance(pre, dict) else {}


def load_dbm_init(path, cfg: CompareConfig, device):
    """The DBM behind ``--dbm-init`` (a ``pretrain-dbm`` run folder or checkpoint) on ``device``; an
    option error when it is not a DBM or its hidden layers are not ``--layers``."""
    from revival.models import dbm as M

    try:
        ck, p = runs.load_checkpoint(path)
        model = M.from_checkpoint(ck, str(p))
    except ValueError as e:
        raise runs.OptionError("--dbm-init", str(e)) from None
    if model.layers != [784, *cfg.layers]:
        raise runs.OptionError(
            "--dbm-init",
            f"--dbm-init {path}: a {'-'.join(map(str, model.layers))} DBM, but the nets are "
            f"{'-'.join(map(str, [784, *cfg.layers]))} (set --layers to match)",
        )
    return model.to(device)


def init_notes(path, rbms: list, cfg: CompareConfig) -> list[str]:
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
    for depth in cfg.depths or [None]:
        n = len(cfg.hidden(depth))
        if len(rbms) < n:
            notes.append(
                f"note: --init has {len(rbms)} layer(s) and the net {n}: hidden layers {len(rbms) + 1}..{n} "
                "start from random weights"
            )
            break
    return notes


def pretrain_options(cfg: CompareConfig, sizes: list[int]) -> list[dict]:
    """The RBM options of each layer pretrained inside the experiment (``--pretrain-*``, the rest
    from the 2006 code's settings as :class:`~revival.config.RBMConfig` has them)."""
    base = {
        **defaults(RBMConfig),
        "visible_type": "bernoulli",
        "binarize": "none",
        "epochs": cfg.pretrain_epochs,
        "lr": cfg.pretrain_lr,
        "cd_k": cfg.pretrain_cd_k,
        "batch_size": cfg.pretrain_batch_size,
        "init_std": cfg.pretrain_init_std,
        "visible_bias_init": cfg.pretrain_visible_bias_init,
        "precision": cfg.precision,
        "monitor_size": 1000,
    }
    return [{**base, "hidden": n} for n in sizes]


def load_data(cfg: CompareConfig, device, data_dir=None, download: bool | None = None) -> dict:
    """All three splits (from ``data_dir``, else ``$REVIVAL_DATA_DIR``), checked before any run folder
    exists; valid and test go to the device now, the training split per sweep point (its subset)."""
    tr, va, te = (D.load_split(cfg.dataset, split, data_dir, allow_download=download or None) for split in D.SPLITS)
    for n in cfg.train_sizes or [cfg.train_size]:
        if n is not None and n > len(tr[0]):
            opt = "--train-sizes" if cfg.train_sizes else "--train-size"
            raise runs.OptionError(
                opt, f"{opt} {n} is larger than the {cfg.dataset} training split ({len(tr[0])} images)"
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


@dataclass(frozen=True)
class Job:
    """What a point needs to rebuild its experiment in another process (``--executor ray``): the
    config and where the data lies."""

    cfg: CompareConfig
    data_dir: str | None = None
    download: bool | None = None


@dataclass
class Experiment:
    """What every point of one experiment shares: its config, data, run, device, console, and the
    pretrained stacks (``--init``, or pretrained here once per train size and seed)."""

    cfg: CompareConfig
    data: dict
    run: runs.Run
    device: torch.device
    echo: object
    progress: bool
    init_stack: list | None = None

    def __post_init__(self):
        self.stacks = {}

    def features(self, pipeline: str, split: str, xy: tuple) -> tuple:
        """The hand-made features (:func:`revival.features.transform`) of the ``split`` set ``xy``
        (grey levels, labels), computed once a run and kept for every point that uses them."""
        cache = self.__dict__.setdefault("_features", {})
        if (pipeline, split) not in cache:
            cache[(pipeline, split)] = (features.transform(pipeline, xy[0]), xy[1])
        return cache[(pipeline, split)]

    def training_set(self, point: Point) -> tuple[np.ndarray, np.ndarray]:
        x_np, y_np = self.data["train_np"]
        n = point.size
        if n is None and self.cfg.train_on_all:  # train + valid: a protocol of fixed length
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
            o = self.cfg
            sizes = o.deepest()
            folder = self.run.path / f"pretrain-n{point.size or 'all'}-s{point.seed}"
            x, _ = self.training_set(point)
            vis = {"train": _vis(x, self.device), "valid": self.data["valid"][0]}
            layer_opts = pretrain_options(o, sizes)
            first = first_layer_data(vis, {**layer_opts[0], "seed": point.seed})
            pre = {"dataset": o.dataset, "binarize": "none", "seed": point.seed, "train_size": len(x)}
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

        if self.cfg.dbm_init:  # one DBM trained elsewhere serves every point
            if "dbm-init" not in self.stacks:
                self.stacks["dbm-init"] = load_dbm_init(self.cfg.dbm_init, self.cfg, self.device)
                self.echo(f"starting the DBM variants from {self.cfg.dbm_init}")
            return self.stacks["dbm-init"]
        key = ("dbm", point.size, point.seed)
        if key not in self.stacks:
            o = self.cfg
            x, y = self.training_set(point)
            data = D.visible_data(x, self.device, "stochastic", D.split_seed(point.seed, "train")).all()
            cfg = DBMConfig(
                layers=o.layers,
                pretrain_epochs=o.pretrain_epochs,
                pretrain_lr=o.pretrain_lr,
                epochs=o.dbm_epochs,
                lr=o.dbm_lr,
                batch_size=o.pretrain_batch_size,
                labels=o.dbm_labels,
                binarize="stochastic",
                seed=point.seed,
                device=str(self.device),
            )
            folder = self.run.path / f"dbm-n{point.size or 'all'}-s{point.seed}"
            onehot = None
            if o.dbm_labels:
                onehot = torch.nn.functional.one_hot(torch.as_tensor(y, dtype=torch.long), 10).float().to(self.device)
            self.echo(
                f"training a {'-'.join(map(str, [784, *o.layers]))} DBM on {len(x)} training images "
                f"({'with 10 label units on its top layer' if o.dbm_labels else 'no labels'}) in {folder}"
            )
            self.stacks[key] = dbm_finetune.train_dbm(folder, data, cfg, self.device, self.echo, onehot)
        return self.stacks[key]
