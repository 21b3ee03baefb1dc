"""``compare-dropout``: one network trained with and without regularization on the same data, every
variant's curves in one experiment, and a table of how much each closed the generalization gap,
with the published figure beside ours where a preset reproduces a paper's row."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import data as D
from . import runs
from .experiments import MODEL_FILE, STATE_FILE, Progress, guarded
from .mlp import MLP, init_from_rbms
from .train import (ClassifierTrainer, Diverged, GracefulStop, MLPTrainConfig, evaluate_classifier, first_non_finite,
                    host_floats)

# which regularizers each variant switches on; the strengths come from the options
VARIANTS = {
    "baseline": {},
    "weight-decay": {"weight_decay": True},
    "max-norm": {"max_norm": True},
    "dropout": {"dropout": "bernoulli"},
    "dropout-weight-decay": {"dropout": "bernoulli", "weight_decay": True},
    "dropout-maxnorm": {"dropout": "bernoulli", "max_norm": True},
    "gaussian-dropout": {"dropout": "gaussian"},
}

DEFAULTS = {
    "dataset": "mnist", "train_size": None, "layers": [1024, 1024], "activation": "relu", "loss": "cross-entropy",
    "variants": ["baseline", "dropout"], "epochs": 50, "batch_size": 100, "lr": 0.05, "lr_decay": 1.0,
    "initial_momentum": 0.5, "final_momentum": 0.9, "momentum_epochs": 10, "dampen": False,
    "weight_decay": 1e-4, "max_norm": 3.0, "input_dropout": 0.2, "hidden_dropout": 0.5, "mc_samples": 50,
    "seeds": 1, "train_sizes": None, "dropout_rates": None, "eval_train_size": 10_000,
}


@dataclass
class Preset:
    description: str
    options: dict
    citation: str = ""
    paper: dict = field(default_factory=dict)  # variant -> published test error in %
    trust: str = ""


PRESETS = {
    "quick": Preset(
        "2,000 training digits, 784-800-800-10 ReLU: the unregularized net reaches zero training error and "
        "its test loss climbs, within a few minutes on a laptop CPU.",
        {"train_size": 2000, "layers": [800, 800], "activation": "relu", "epochs": 80, "lr": 0.02,
         "variants": ["baseline", "weight-decay", "dropout"], "mc_samples": 20, "eval_train_size": 2000}),
    "srivastava2014-3x1024-relu": Preset(
        "Srivastava et al. 2014, Table 2: 3 x 1024 ReLU on permutation-invariant MNIST.",
        {"layers": [1024, 1024, 1024], "activation": "relu", "variants": ["dropout", "dropout-maxnorm"],
         "input_dropout": 0.2, "hidden_dropout": 0.5, "max_norm": 2.0, "final_momentum": 0.95,
         "momentum_epochs": 100, "lr": 0.1, "lr_decay": 0.998, "epochs": 500},
        "N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov (2014). Dropout. JMLR 15, Table 2",
        {"dropout": 1.25, "dropout-maxnorm": 1.06}, "S (several secondary sources)"),
    "srivastava2014-table9": Preset(
        "Srivastava et al. 2014, Table 9: regularizers compared on 784-1024-1024-2048-10 ReLU.",
        {"layers": [1024, 1024, 2048], "activation": "relu",
         "variants": ["weight-decay", "max-norm", "dropout-weight-decay", "dropout-maxnorm"],
         "input_dropout": 0.2, "hidden_dropout": 0.5, "max_norm": 2.0, "final_momentum": 0.95,
         "momentum_epochs": 100, "lr": 0.1, "lr_decay": 0.998, "epochs": 500},
        "N. Srivastava et al. (2014). Dropout. JMLR 15, Table 9",
        {"weight-decay": 1.62, "max-norm": 1.35, "dropout-weight-decay": 1.25, "dropout-maxnorm": 1.05},
        "S (several secondary sources)"),
    "hinton2012-800": Preset(
        "Hinton et al. 2012: 784-800-800-10 logistic, standard vs 20% input / 50% hidden dropout with a "
        "bound on each unit's squared weight length (15).",
        {"layers": [800, 800], "activation": "logistic", "variants": ["baseline", "dropout-maxnorm"],
         "input_dropout": 0.2, "hidden_dropout": 0.5, "max_norm": math.sqrt(15.0), "lr": 10.0, "lr_decay": 0.998,
         "dampen": True, "initial_momentum": 0.5, "final_momentum": 0.99, "momentum_epochs": 500, "epochs": 3000},
        "G. Hinton, N. Srivastava, A. Krizhevsky, I. Sutskever, R. Salakhutdinov (2012). arXiv:1207.0580",
        {"baseline": 1.60, "dropout-maxnorm": 1.10}, "V (160 and ~110 test errors out of 10,000)"),
}


def resolve(cli: dict) -> dict:
    """Defaults < preset < options given on the command line (those that are not None)."""
    preset = PRESETS[cli.get("preset") or "quick"]
    out = {**cli, **DEFAULTS, **preset.options}
    out.update({k: v for k, v in cli.items() if v is not None})
    out["preset"] = cli.get("preset") or "quick"
    unknown = [v for v in out["variants"] if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    return out


def variant_settings(opts: dict, variant: str, rate: float | None) -> dict:
    """The model and optimizer settings one variant trains with."""
    v = VARIANTS[variant]
    drop = v.get("dropout")
    return {"input_dropout": opts["input_dropout"] if drop else 0.0,
            "hidden_dropout": (rate if rate is not None else opts["hidden_dropout"]) if drop else 0.0,
            "dropout_type": drop or "bernoulli",
            "weight_decay": opts["weight_decay"] if v.get("weight_decay") else 0.0,
            "max_norm": opts["max_norm"] if v.get("max_norm") else None}


def init_mlp(sizes, activation, seed: int) -> MLP:
    """Initial weights drawn on the CPU from ``seed`` (identical for every variant and device):
    N(0, 2/fan_in) for ReLU, N(0, 1/fan_in) otherwise; biases 0."""
    g = torch.Generator().manual_seed(seed)
    model = MLP(sizes, activation)
    gain = 2.0 if activation == "relu" else 1.0
    with torch.no_grad():
        for lin in model.layers:
            lin.weight.normal_(0.0, math.sqrt(gain / lin.weight.shape[1]), generator=g)
            lin.bias.zero_()
    return model


def load_init(path) -> list[dict]:
    """Layers of an RBM (``revival.rbm.v1``) or DBN (a list of them) checkpoint, for ``--init``:
    a run folder or a file. ValueError when it is neither."""
    from pathlib import Path
    from .rbm import from_checkpoint
    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise ValueError(f"{p}: cannot be read as a checkpoint ({type(e).__name__})") from None
    cks = ck if isinstance(ck, list) else [ck]
    return [dict(from_checkpoint(c, f"{p} layer {i + 1}").state_dict()) for i, c in enumerate(cks)]


def point_name(variant, size, rate, seed, opts) -> str:
    parts = [variant]
    if opts.get("train_sizes"):
        parts.append(f"n{size}")
    if opts.get("dropout_rates"):
        parts.append(f"p{rate:g}")
    if opts["seeds"] > 1:
        parts.append(f"s{seed}")
    return "-".join(parts)


def layout() -> dict:
    """Custom-scalars layout: every variant's train and test error on one chart (tags matched by regex)."""
    return {"compare-dropout": {
        "error: train and test, all variants": ["Multiline", [r"error/(train|test)"]],
        "error: validation": ["Multiline", [r"error/valid"]],
        "loss: train and test": ["Multiline", [r"loss/(train|test)"]]}}


def load_data(opts: dict, device) -> dict:
    """All three splits, checked before any run folder exists; valid and test go to the device now,
    the training split per sweep point (its subset)."""
    tr, va, te = (D.load_split(opts["dataset"], split, opts.get("data_dir")) for split in D.SPLITS)
    for n in (opts.get("train_sizes") or [opts.get("train_size")]):
        if n is not None and n > len(tr[0]):
            raise D.DataError(f"--train-size {n} is larger than the {opts['dataset']} training split ({len(tr[0])})")
    vis = lambda x: D.Visible(torch.from_numpy(np.ascontiguousarray(x)).to(device), 1.0 / 255.0)  # noqa: E731
    lab = lambda y: torch.from_numpy(y.astype(np.int64)).to(device)  # noqa: E731
    return {"train_np": tr, "valid": (vis(va[0]), lab(va[1])), "test": (vis(te[0]), lab(te[1])), "vis": vis, "lab": lab}


def train_point(opts, d, run, name, variant, size, rate, seed, device, echo, progress, init_layers) -> dict:
    """Train one variant at one sweep point and seed in ``run.path / name``; returns its summary row."""
    folder = run.path / name
    folder.mkdir(exist_ok=True)
    x_np, y_np = d["train_np"]
    idx = D.stratified_subset(y_np, size, seed) if size is not None and size < len(y_np) else np.arange(len(y_np))
    x, y = d["vis"](x_np[idx]), d["lab"](y_np[idx])
    n_eval = min(len(idx), opts["eval_train_size"])
    ex, ey = D.Visible(x.data[:n_eval], x.scale), y[:n_eval]
    s = variant_settings(opts, variant, rate)
    model = init_mlp([784, *opts["layers"], 10], opts["activation"], seed)
    if init_layers:
        init_from_rbms(model, init_layers)
    model.input_dropout, model.hidden_dropout, model.dropout_type = s["input_dropout"], s["hidden_dropout"], s["dropout_type"]
    model.to(device)
    cfg = MLPTrainConfig.from_dict({**opts, "weight_decay": s["weight_decay"], "max_norm": s["max_norm"]})
    trainer = ClassifierTrainer(model, cfg, torch.Generator(device=device).manual_seed(seed),
                                torch.Generator(device=device).manual_seed(seed + 7_777_777))
    start, best_test_loss, last = 0, math.inf, {}
    if (folder / STATE_FILE).is_file():
        st = torch.load(folder / STATE_FILE, map_location=device, weights_only=True)
        model.load_state_dict(st["model"])
        trainer.load_state_dict(st["trainer"])
        start, best_test_loss, last = st["epoch"], st["best_test_loss"], st["metrics"]
        echo(f"[{name}] resuming after epoch {start}")
    hp = {"variant": variant, "train_size": len(idx), "seed": seed, "layers": ",".join(map(str, opts["layers"])),
          "activation": opts["activation"], **{k: (v if v is not None else 0.0) for k, v in s.items()},
          "lr": opts["lr"], "epochs": opts["epochs"], "batch_size": opts["batch_size"]}
    with runs.writer(folder, purge_step=start + 1 if start else None) as w, GracefulStop() as stop:
        for epoch in range(start, cfg.epochs):
            t0 = time.perf_counter()
            bar = Progress(-(-len(x) // cfg.batch_size), f"{name} {epoch + 1}", progress)
            try:
                tr = trainer.train_epoch(x, y, epoch, stop.check, bar.step)
            finally:
                bar.close()
            scalars = {**evaluate_splits(model, (ex, ey), d["valid"], d["test"], cfg.loss),
                       "loss/train_dropout": tr["loss"]}
            bad = first_non_finite({**scalars, **dict(model.named_parameters())})
            if bad is not None:
                raise Diverged(epoch + 1, f"{bad} ({name})")
            vals = host_floats(scalars)
            best_test_loss = min(best_test_loss, vals["loss/test"])
            for k, v in vals.items():
                w.add_scalar(k, v, epoch + 1)
            w.add_scalar("train/lr", cfg.lr_at(epoch), epoch + 1)
            w.add_scalar("train/momentum", cfg.momentum_at(epoch), epoch + 1)
            w.flush()
            runs.save_torch(folder / STATE_FILE, {"epoch": epoch + 1, "model": model.state_dict(),
                                                  "trainer": trainer.state_dict(),
                                                  "best_test_loss": best_test_loss, "metrics": vals})
            last = vals
            echo(f"[{name}] epoch {epoch + 1}/{cfg.epochs}  train err {vals['error/train']:.4f}  valid err "
                 f"{vals['error/valid']:.4f}  test err {vals['error/test']:.4f}  test loss {vals['loss/test']:.4f}  "
                 f"{time.perf_counter() - t0:.1f}s")
            stop.check()
        row = {"variant": variant, "train_size": len(idx), "seed": seed, "hidden_dropout": s["hidden_dropout"],
               "input_dropout": s["input_dropout"], "train_error": last["error/train"],
               "valid_error": last["error/valid"], "test_error": last["error/test"],
               "generalization_gap": last["error/test"] - last["error/train"], "test_loss": last["loss/test"],
               "test_loss_min": best_test_loss, "epochs": cfg.epochs}
        if s["input_dropout"] > 0 or s["hidden_dropout"] > 0:
            if opts["mc_samples"] > 0:
                mc_gen = torch.Generator(device=device).manual_seed(seed + 99)
                row["test_error_mc"] = float(evaluate_classifier(model, *d["test"], cfg.loss, mc_samples=opts["mc_samples"],
                                                                 generator=mc_gen)["error_mc"])
                row["mc_samples"] = opts["mc_samples"]
        metrics = {f"hparam/{k}": row[k] for k in ("train_error", "valid_error", "test_error", "generalization_gap")}
        runs.log_hparams(w, hp, metrics)
    runs.save_torch(folder / MODEL_FILE, {"format": "revival.mlp.v1", "sizes": model.sizes,
                                          "activation": model.activation, "state_dict": model.state_dict()})
    runs.write_json(folder / "result.json", row)
    return row


def evaluate_splits(model, train, valid, test, loss) -> dict:
    """``error/<split>`` and ``loss/<split>`` of the weight-scaled net, as device scalars."""
    out = {}
    for split, (x, y) in (("train", train), ("valid", valid), ("test", test)):
        ev = evaluate_classifier(model, x, y, loss)
        out[f"error/{split}"], out[f"loss/{split}"] = ev["error"], ev["loss"]
    return out


def compare_dropout(opts: dict, device, make_run, echo=print, progress=False) -> dict:
    """Run every variant x sweep point x seed; write ``summary.json`` rows and ``summary.md``."""
    d = load_data(opts, device)
    init_layers = load_init(opts["init"]) if opts.get("init") else None
    if init_layers and tuple(init_layers[0]["weight"].shape) != (opts["layers"][0], 784):
        w = init_layers[0]["weight"]
        raise ValueError(f"--init {opts['init']}: first layer is {w.shape[1]}->{w.shape[0]} but the net's first "
                         f"layer is 784->{opts['layers'][0]} (set --layers to match)")
    run = make_run()
    echo(f"run folder: {run.path}")
    preset = PRESETS[opts["preset"]]
    sizes = opts.get("train_sizes") or [opts.get("train_size")]
    rates = opts.get("dropout_rates") or [None]
    points = [(v, n, r, s) for n in sizes for r in rates for s in range(opts["seed"], opts["seed"] + opts["seeds"])
              for v in opts["variants"]]

    def body():
        with runs.writer(run.path) as w:
            w.add_custom_scalars(layout())
            w.add_text("config", runs.markdown_table(run.config), 0)
        rows = []
        for v, n, r, s in points:
            name = point_name(v, n, r, s, opts)
            res = run.path / name / "result.json"
            rows.append(runs.read_json(res) if res.is_file() else
                        train_point(opts, d, run, name, v, n, r, s, device, echo, progress, init_layers))
            run.set_status(runs.STATUS_RUNNING, rows=rows)
        summary = {"status": runs.STATUS_FINISHED, "preset": opts["preset"], "rows": rows,
                   "groups": group_rows(rows, preset)}
        if preset.citation:
            summary["paper"] = {"citation": preset.citation, "test_error_percent": preset.paper, "trust": preset.trust}
        md = summary_markdown(run, summary, preset)
        run.write_summary(summary, md)
        echo(md)
        return summary

    return guarded(run, body)


def group_rows(rows: list[dict], preset: Preset) -> list[dict]:
    """Mean and standard deviation over seeds for each variant x train size x dropout rate."""
    groups = {}
    for r in rows:
        groups.setdefault((r["variant"], r["train_size"], r["hidden_dropout"]), []).append(r)
    out = []
    for (v, n, p), rs in groups.items():
        g = {"variant": v, "train_size": n, "hidden_dropout": p, "seeds": len(rs)}
        for k in ("train_error", "test_error", "test_error_mc", "generalization_gap", "test_loss", "test_loss_min"):
            vals = [r[k] for r in rs if k in r]
            if vals:
                g[k] = float(np.mean(vals))
                g[k + "_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        if v in preset.paper:
            g["paper_test_error"] = preset.paper[v] / 100.0
        out.append(g)
    return out


def summary_markdown(run, summary: dict, preset: Preset) -> str:
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    lines = [f"# compare-dropout: {run.path.name}", "", f"preset: **{summary['preset']}**: {preset.description}", ""]
    lines += ["| variant | train size | hidden drop | seeds | train err % | test err % | test err % (MC) | "
              "gap (test - train) % | test loss final / min | paper test err % |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for g in summary["groups"]:
        spread = f" +- {pct(g['test_error_std'])}" if g["seeds"] > 1 else ""
        lines.append(f"| {g['variant']} | {g['train_size']} | {g['hidden_dropout']:g} | {g['seeds']} | "
                     f"{pct(g['train_error'])} | {pct(g['test_error'])}{spread} | "
                     f"{pct(g['test_error_mc']) if 'test_error_mc' in g else '-'} | {pct(g['generalization_gap'])} | "
                     f"{g['test_loss']:.3f} / {g['test_loss_min']:.3f} | "
                     f"{pct(g['paper_test_error']) if 'paper_test_error' in g else '-'} |")
    if preset.citation:
        lines += ["", f"paper: {preset.citation} (trust: {preset.trust}). The paper trains far longer "
                  "(about 1M updates, on 60,000 images); compare at its length."]
    return "\n".join(lines) + "\n"
