"""What a compare-dropout run will cost on this machine, measured before it starts (``--plan``).

With ``--retrain-on-full`` a point's row counts both phases (the net on train, then a fresh one on
train + valid for the same number of updates).

A row's estimate names the share of it its evaluations take (the train subset, validation and test
sets every ``--eval-every`` epochs, and a dropout net's Monte-Carlo test passes at the end).

Each distinct net of the grid trains a few batches here (the median of a few timings) and its
evaluation pass is timed likewise; a point's estimate is its weight updates times the time of one
update, plus its evaluations, plus (for pretrained points) the CD-1 updates of its DBN, timed the
same way. The console, TensorBoard
and checkpoints add a little on top; the machine's load can change everything, so the estimate is
for now and here.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import torch

from revival import data as D
from revival.config import CompareConfig, DBMConfig, NetConfig, RBMConfig
from revival.experiments.sweep import grid
from revival.models import dbm as M
from revival.models.mlp import seeded_mlp
from revival.presets import VARIANTS
from revival.runs import duration
from revival.training.dbm_train import joint_trainer
from revival.training.layerwise import new_rbm
from revival.training.netfit import classifier_trainer, update_rows
from revival.training.train import evaluate_classifier

PROBE_BATCHES = 8  # a probe's batches: run once to warm up, then timed PROBE_REPEATS times
PROBE_REPEATS = 5  # the median of these is the estimate: one timing alone moved a long run's estimate by a quarter


def _timed(fn) -> float:
    """The median wall time of ``PROBE_REPEATS`` calls of ``fn`` after one warm-up call (allocations,
    kernels chosen): a busy machine's pauses and a quiet instant's bursts both fall outside it."""
    fn()
    times = []
    for _ in range(PROBE_REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def net_seconds(cfg: NetConfig, x: D.Visible, y: torch.Tensor, device) -> float:
    """Seconds of one weight update of the net ``cfg`` (with its dropout and precision), measured here;
    with conjugate gradients, of one batch's line searches (timed on the probe's rows as one batch and
    scaled to ``cg_batch_size`` rows, as its cost grows with them)."""
    cfg = cfg.replace(freeze_pretrained_epochs=0)  # every layer trains
    model = seeded_mlp([x.data.shape[1], *cfg.layers, 10], cfg.activation, 0).to(device)
    model.input_dropout, model.hidden_dropout, model.dropout_type = (
        cfg.input_dropout,
        cfg.hidden_dropout,
        cfg.dropout_type,
    )
    n = min(len(x), PROBE_BATCHES * cfg.batch_size)
    sub, ys = D.Visible(x.data[:n], x.scale), y[:n]
    probe = cfg.replace(cg_batch_size=n) if cfg.optimizer == "cg" else cfg
    trainer = classifier_trainer(
        model, probe, torch.Generator(device=device).manual_seed(0), torch.Generator(device=device).manual_seed(1)
    )
    seconds = _timed(lambda: trainer.train_epoch(sub, ys, 0)["loss"].item())
    return seconds * cfg.cg_batch_size / n if cfg.optimizer == "cg" else seconds / -(-n // cfg.batch_size)


def eval_seconds(sizes, activation, x: D.Visible, y: torch.Tensor, device) -> float:
    """Seconds of the deterministic net's pass over ``x`` (one split of an evaluation)."""
    model = seeded_mlp(sizes, activation, 0).to(device)
    return _timed(lambda: evaluate_classifier(model, x, y)["error"].item())


def rbm_seconds(n_visible: int, n_hidden: int, cfg: CompareConfig, device) -> float:
    """Seconds of one CD-k update of an ``n_visible``-``n_hidden`` RBM on random binary data."""
    cfg = RBMConfig(
        n_hidden=n_hidden,
        batch_size=cfg.pretrain_batch_size,
        cd_k=cfg.pretrain_cd_k,
        precision=cfg.precision,
    )
    g = torch.Generator().manual_seed(0)
    data = D.Visible((torch.rand(PROBE_BATCHES * cfg.batch_size, n_visible, generator=g) < 0.5).float().to(device))
    _, trainer = new_rbm(data, cfg, 0, device)
    return _timed(lambda: trainer.train_epoch(data, 0)["recon_error"].item()) / PROBE_BATCHES


def dbm_seconds(sizes, cfg: CompareConfig, device) -> float:
    """Seconds of one PCD update of a DBM of ``sizes`` (784, n1, n2, ..) with compare-dropout's DBM settings."""

    g = torch.Generator(device=device).manual_seed(0)
    model = M.DBM(*sizes).to(device)

    trainer = joint_trainer(model, DBMConfig(lr=cfg.dbm_lr, binarize="stochastic"), g, None)
    bs = cfg.pretrain_batch_size
    data = (torch.rand(PROBE_BATCHES * bs, sizes[0], generator=torch.Generator().manual_seed(0)) < 0.5).float()
    return _timed(lambda: trainer.train_epoch(data.to(device), bs, cfg.dbm_lr, 0.5)) / PROBE_BATCHES


def plan(cfg: CompareConfig, d: dict, device) -> list[dict]:
    """One row per grid point of the run ``cfg`` over the data ``d`` (:func:`revival.experiments.compare.load_data`):
    its images, epochs, weight updates, evaluations and estimated seconds here (None for the
    classical models, which are fitted once and not timed)."""
    n_train, n_valid = len(d["train_np"][1]), len(d["valid_np"][1])
    x_test, y_test = d["test"]
    probe = D.Visible(
        torch.from_numpy(np.ascontiguousarray(d["train_np"][0][: PROBE_BATCHES * cfg.batch_size])).to(device),
        1.0 / 255.0,
    )
    probe_y = torch.from_numpy(d["train_np"][1][: len(probe)].astype(np.int64)).to(device)
    cache, stacks, rows = {}, set(), []
    timed = {}  # one timing per model shape: every (size, seed) pair pretrains the same RBMs and DBMs

    def once(key, measure):
        if key not in timed:
            timed[key] = measure()
        return timed[key]

    for p in grid(cfg):
        n = p.size or (n_train + n_valid if cfg.train_on_all else n_train)
        name = p.name(cfg)
        if VARIANTS[p.variant].get("classic") in ("knn", "svm-rbf", "linear-svm"):
            rows.append({"point": name, "images": n, "epochs": 0, "updates": 0, "evaluations": 0, "seconds": None})
            continue
        epochs = cfg.point_epochs(n)
        net = cfg.net_config(p, epochs)
        sizes = [784, *net.layers, 10]
        dropout = net.input_dropout > 0 or net.hidden_dropout > 0
        key = (tuple(sizes), net.activation, dropout, net.dropout_type, net.optimizer)
        if key not in cache:
            cache[key] = (
                net_seconds(net, probe, probe_y, device),
                eval_seconds(sizes, net.activation, x_test, y_test, device) / len(y_test),
            )
        per_update, per_image_eval = cache[key]
        updates = epochs * -(-n // update_rows(net))
        every = net.eval_every
        evaluations = math.ceil(epochs / every)
        eval_images = min(n, cfg.eval_train_size) + n_valid + len(y_test)
        evaluating = evaluations * eval_images * per_image_eval
        mc = cfg.mc_samples if dropout else 0  # the Monte-Carlo test error at the end: one pass per mask
        evaluating += mc * len(y_test) * per_image_eval * (2 if cfg.retrain_on_full else 1)
        seconds = updates * per_update
        if cfg.retrain_on_full:  # a second phase: a fresh net on train + valid, the same number of updates
            retrain_epochs = max(1, round(updates / -(-(n + n_valid) // update_rows(net))))
            every = cfg.eval_interval(retrain_epochs)
            seconds += updates * per_update
            evaluating += math.ceil(retrain_epochs / every) * eval_images * per_image_eval
            epochs, updates, evaluations = (
                epochs + retrain_epochs,
                2 * updates,
                evaluations + math.ceil(retrain_epochs / every),
            )
        seconds += evaluating
        pre = 0.0
        if p.dbm and not cfg.dbm_init and ("dbm", p.size, p.seed) not in stacks:  # two RBMs, then joint PCD
            stacks.add(("dbm", p.size, p.seed))
            per_epoch = -(-n // cfg.pretrain_batch_size)
            sizes = [784, *cfg.layers]
            dbm_cfg = DBMConfig(layers=cfg.layers, pretrain_epochs=cfg.pretrain_epochs)  # its top RBM's length
            rbms = sum(
                once(("rbm", a, b), lambda a=a, b=b: rbm_seconds(a, b, cfg, device))
                * (dbm_cfg.top_epochs() if k == len(sizes) - 2 else cfg.pretrain_epochs)
                for k, (a, b) in enumerate(zip(sizes, sizes[1:]))
            )
            pre = per_epoch * (rbms + once(("dbm", *sizes), lambda: dbm_seconds(sizes, cfg, device)) * cfg.dbm_epochs)
        elif p.pretrained and not p.dbm and not cfg.init and (p.size, p.seed) not in stacks:
            stacks.add((p.size, p.seed))
            deepest = cfg.deepest()
            per_epoch = -(-n // cfg.pretrain_batch_size)
            pre = sum(
                once(("rbm", a, b), lambda a=a, b=b: rbm_seconds(a, b, cfg, device)) * per_epoch * cfg.pretrain_epochs
                for a, b in zip([784, *deepest], deepest)
            )
        rows.append(
            {
                "point": name,
                "images": n,
                "epochs": epochs,
                "updates": updates,
                "evaluations": evaluations,
                "pretraining_seconds": pre or None,
                "evaluation_seconds": evaluating,
                "seconds": seconds + pre,
            }
        )
    return rows


def plan_lines(rows: list[dict], device, threads: int | None) -> list[str]:
    """The plan as a markdown table with its total, for the console."""

    known = [r["seconds"] for r in rows if r["seconds"] is not None]
    lines = [
        f"plan: {len(rows)} point(s); times measured now on {device} with {threads or torch.get_num_threads()} "
        f"thread(s) (the median of {PROBE_REPEATS} timings of {PROBE_BATCHES} updates of each net and of its "
        "evaluation pass; pretraining likewise)",
        "",
        "| point | images | epochs | weight updates | evaluations | estimated time |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        t = "not estimated (fitted once)" if r["seconds"] is None else duration(r["seconds"])
        parts = [f"pretraining {duration(r['pretraining_seconds'])}"] if r.get("pretraining_seconds") else []
        if r.get("evaluation_seconds"):  # the share the evaluations take: --eval-every sets their cadence
            parts.append(f"evaluations {100 * r['evaluation_seconds'] / r['seconds']:.0f}%")
        if parts:
            t += f" ({', '.join(parts)})"
        lines.append(
            f"| {r['point']} | {r['images']:,} | {r['epochs']} | {r['updates']:,} | {r['evaluations']} | {t} |"
        )
    lines += [
        "",
        f"total: about {duration(sum(known))}" + (" plus the classical models" if len(known) < len(rows) else ""),
    ]
    return lines
