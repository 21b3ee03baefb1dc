"""What the figures show, read back from a run folder's own files: scalars and images from its
TensorBoard event files, its config and summary, and the panels of each command (RBM, DBM,
compare-dropout, layer monitors, log-probabilities). No torch."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from revival.presets import Preset
from revival.reporting.figures import Panel, Series, dots
from revival.reporting.summaries import AXIS_COLUMNS, CLASSIC, _load_json, _without_parts, group_rows, point_rows


class NotARun(ValueError):
    """The folder is not a revival run folder."""


class UnsafeRun(NotARun):
    """A run folder whose figures/ or summary.md is not what revival writes there (a link, a file
    where a folder belongs, a folder where a file belongs): report writes nothing through it."""


_EVENTS: dict = {}  # folder -> loaded accumulator, for the duration of one report (run_figures clears it)


def _events(folder: Path):
    """The event files directly in ``folder``, read once per report (scalars and images, no histograms)."""
    key = str(folder)
    if key not in _EVENTS:
        # a resumed run's event files hold the steps it wrote again; TensorBoard drops the stale
        # ones itself and says so at WARNING ("Detected out of order event.step"), which is not news
        logging.getLogger("tensorboard").setLevel(logging.ERROR)
        ea = EventAccumulator(key, size_guidance={"scalars": 0, "images": 0, "histograms": 1, "tensors": 1})
        ea.Reload()
        _EVENTS[key] = ea
    return _EVENTS[key]


def read_scalars(folder: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Every scalar tag of the event files directly in ``folder``: tag -> (steps, values)."""
    ea = _events(folder)
    out = {}
    for tag in ea.Tags().get("scalars", []):
        events = ea.Scalars(tag)
        out[tag] = ([e.step for e in events], [e.value for e in events])
    return out


def last_image(folder: Path, tag: str) -> bytes | None:
    """The PNG of the last ``tag`` image in ``folder``'s event files, or None."""
    ea = _events(folder)
    if tag not in ea.Tags().get("images", []):
        return None
    return ea.Images(tag)[-1].encoded_image_string


def _config(run: Path) -> dict:

    p = run / "config.json"
    if not p.is_file():
        raise NotARun(f"{run}: not a revival run folder (no config.json)")
    try:
        cfg = json.loads(p.read_text())
    except (OSError, ValueError):
        raise NotARun(f"{run}/config.json: cannot be read as JSON") from None
    if not isinstance(cfg, dict) or cfg.get("command") not in (
        "pretrain-rbm",
        "pretrain-dbn",
        "pretrain-dbm",
        "compare-dropout",
    ):
        raise NotARun(f"{run}: config.json names no revival training command")
    return cfg


def _summary(run: Path) -> dict:

    try:
        s = json.loads((run / "summary.json").read_text())
        return s if isinstance(s, dict) else {}
    except (OSError, ValueError):
        return {}


def dbm_panels(scalars: dict) -> list:
    """A DBM run's monitors: each pretraining RBM's reconstruction error, the mean variational bound
    without log Z (training subset dashed, validation solid: their gap is the overfitting signal; the
    level moves with log Z), and each hidden layer's share of units whose posterior varies across images."""

    def s(tag, name, dashed=False, st=0):
        if tag not in scalars:
            return []
        x, y = scalars[tag]
        return [Series(name, x, y, style=st, line="--" if dashed else "-")]

    middles = [t for t in scalars if t.startswith("pretrain/middle") and t.endswith("/recon_error")]
    middles = sorted(middles, key=lambda t: int(t.split("/")[1][6:]))
    pretrain = [
        ("pretrain/bottom/recon_error", "bottom RBM (doubled input)"),
        *((t, f"RBM {t.split('/')[1][6:]} (doubled both ways)") for t in middles),
        ("pretrain/top/recon_error", "top RBM (doubled hidden)"),
    ]
    hidden = sorted((t[12:] for t in scalars if t.startswith("dbm/varying_")), key=lambda h: int(h[1:]))
    return [
        Panel(
            "pretraining: reconstruction error of each RBM",
            "epoch",
            "squared error per row",
            [x for i, (tag, name) in enumerate(pretrain) for x in s(tag, name, st=i)],
        ),
        Panel(
            "PCD: mean bound without log Z (its level moves with log Z:\na rise is not a better model; read the gap)",
            "epoch",
            "nats (compare train with valid only)",
            s("dbm/bound_train", "train subset", dashed=True) + s("dbm/bound_valid", "validation"),
        ),
        Panel(
            "bound gap (train - valid): growing = overfitting",
            "epoch",
            "nats (at least 2 nats shown: less is noise)",
            s("dbm/bound_gap", "gap"),
            min_span=2.0,
        ),
        Panel(
            "units whose posterior varies across images (near 0 = mean-field collapsed)",
            "epoch",
            "share of units",
            [x for i, layer in enumerate(hidden) for x in s(f"dbm/varying_{layer}", layer, st=i)],
            ylim=(0.0, 1.05),
        ),
    ]


def rbm_panels(scalars: dict, log_prob: dict | None, label: str = "", style: int = 0) -> dict[str, object]:
    """The RBM monitors as panels (reconstruction, free energies and their gap, PLL, log-probability)."""

    def s(tag, name=None, dashed=False, st=style):
        if tag not in scalars:
            return []
        x, y = scalars[tag]
        # dashed means "training data" in every panel and nothing else; a layer or run is a colour
        return [Series((label + " " if label else "") + (name or tag), x, y, style=st, line="--" if dashed else "-")]

    panels = {
        "recon": Panel(
            "reconstruction error (a poor guide on its own)",
            "epoch",
            "squared error per image",
            s("rbm/recon_error", "recon"),
        ),
        "free_energy": Panel(
            "mean free energy: train subset (dashed) vs validation (solid)",
            "epoch",
            "F(v)",
            s("rbm/free_energy/train", "train", dashed=True) + s("rbm/free_energy/valid", "valid"),
        ),
        "gap": Panel(
            "free-energy gap, valid - train: rising from its start = overfitting",
            "epoch",
            "nats (its first value is the baseline, not 0)",
            s("rbm/free_energy/gap", "gap"),
        ),
    }
    if "rbm/pseudo_log_likelihood" in scalars:
        panels["pll"] = Panel(
            "pseudo-log-likelihood (validation)", "epoch", "nats", s("rbm/pseudo_log_likelihood", "PLL")
        )
    lp = s("rbm/log_prob/test", "log p(test), AIS 1,000 betas")
    if lp:  # a curve (--ais-every): the final estimates join it; without one they go in the title
        p = Panel("average test log-probability", "epoch", "nats", lp)
        if log_prob and isinstance(log_prob.get("avg_log_prob"), (int, float)):
            # the final estimates as points at the last epoch: a panel with only reference lines
            # and no x range reads as empty when AIS ran only at the end
            steps = scalars.get("rbm/recon_error", ([1], []))[0]
            last = [steps[-1] if steps else 1]
            what = log_prob.get("method", "ais")
            betas = f", {log_prob['ais_betas']:,} betas" if isinstance(log_prob.get("ais_betas"), int) else ""
            p.series.append(
                Series(
                    f"final, {what}{betas}: {log_prob['avg_log_prob']:.2f}",
                    last,
                    [log_prob["avg_log_prob"]],
                    style=1,
                    line="none",
                )
            )
            if isinstance(log_prob.get("raise_avg_log_prob"), (int, float)):
                p.series.append(
                    Series(
                        f"RAISE on {log_prob.get('raise_examples', '?')} images: {log_prob['raise_avg_log_prob']:.2f}",
                        last,
                        [log_prob["raise_avg_log_prob"]],
                        style=2,
                        line="none",
                    )
                )
        panels["log_prob"] = p
    return panels


def final_log_prob_text(lp: dict) -> str:
    """The final test log-probability for a figure's title (a whole panel for one point says less)."""
    if not isinstance(lp.get("avg_log_prob"), (int, float)):
        return ""
    betas = f", {lp['ais_betas']:,} betas" if isinstance(lp.get("ais_betas"), int) else ""
    raise_ = f"; RAISE {lp['raise_avg_log_prob']:.2f}" if isinstance(lp.get("raise_avg_log_prob"), (int, float)) else ""
    return f"\nfinal test log-probability {lp['avg_log_prob']:.2f} nats ({lp.get('method', 'ais')}{betas}){raise_}"


def compare_panels(run: Path, summary: dict, preset: Preset | None, opts: dict) -> dict[str, object]:
    """The overfitting figure (train and test error per epoch of every point of the first seed),
    test loss per epoch, and the sweep plots (test error against each axis that varies)."""

    rows = summary.get("rows")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and "variant" in r for r in rows):
        rows = point_rows(run)  # a stopped run, or a summary.json lost or damaged: the points' own results
        summary = {**summary, "rows": rows, "groups": group_rows(rows, preset or Preset("", {}))}
    seeds = sorted({r["seed"] for r in rows if "seed" in r})
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    style = {v: i for i, v in enumerate(variants)}
    settings = {}  # sweep setting (the point name without variant and seed) -> [(variant, name)]
    for p in sorted(run.iterdir()):
        row = _load_json(p / "result.json") if p.is_dir() else {}
        if not row or (seeds and row.get("seed") != seeds[0]):
            continue
        if row.get("variant") not in style:
            continue
        key = _without_parts(p.name[len(row["variant"]) :].lstrip("-"), "s")
        settings.setdefault(key, []).append((row["variant"], p.name))
    panels = {}
    if len(variants) == 1 and len(settings) > 1:  # one variant, several settings (e.g. activations x inits):
        err = Panel("test error of every setting (first seed)", "epoch", "test error %")  # one chart
        for i, (key, points) in enumerate(list(settings.items())[:8]):
            sc = read_scalars(run / points[0][1])
            if "error/test" in sc:
                x, y = sc["error/test"]
                err.series.append(Series(key, x, [100 * v for v in y], style=i))
        panels["test_error_by_setting"] = err
    # a classical model's lone point is no curve: per-epoch figures only where a net trained (a run of
    # classical models alone has its error-against-size figure, not one at a made-up epoch)
    settings = {k: pts for k, pts in settings.items() if any(v not in CLASSIC for v, _ in pts)}
    for key, points in list(settings.items())[:4]:
        suffix = f" ({key})" if key else ""
        err = Panel("train (dashed) and test (solid) error" + suffix, "epoch", "error %")
        loss = Panel(
            "test loss (dropout nets tested without dropout)" + suffix, "epoch", "cross-entropy (log scale)", logy=True
        )
        for variant, name in points:
            sc = read_scalars(run / name)
            for tag, line in (("error/train", "--"), ("error/test", "-")):
                if tag in sc:
                    x, y = sc[tag]
                    err.series.append(
                        Series(
                            f"{variant} {tag.split('/')[1]}", x, [100 * v for v in y], style=style[variant], line=line
                        )
                    )
            best = _load_json(run / name / "result.json").get("best_valid_epoch")
            if isinstance(best, int) and "error/test" in sc and best in sc["error/test"][0]:
                x, y = sc["error/test"]  # the honest pick of an epoch: chosen on validation, read on test
                err.marks.append((best, 100 * y[list(x).index(best)], style[variant]))
                err.marks_label = "test error at the epoch of lowest validation error"
            if "loss/test" in sc:
                loss.series.append(Series(variant, *sc["loss/test"], style=style[variant], line="-"))
        panels["overfitting" + (f"-{key}" if key else "")] = err
        panels["test_loss" + (f"-{key}" if key else "")] = loss
    groups = summary.get("groups") or []
    axes = [
        (k, lbl, log)
        for k, lbl, log, opt in (
            ("train_size", "training examples", True, "train_sizes"),
            ("hidden_dropout", "hidden drop probability", False, "dropout_rates"),
            ("depth", "hidden layers", False, "depths"),
        )
        if opts.get(opt) and len({g.get(k) for g in groups}) > 1
    ]
    swept = [a for a in AXIS_COLUMNS if len({g.get(a) for g in groups if g["variant"] not in CLASSIC}) > 1]
    for k, lbl, log in axes:
        others = [o for o, _, _ in axes if o != k] + swept
        nets = [g for g in groups if g["variant"] not in CLASSIC] or groups
        for fixed in sorted({tuple(g.get(o) for o in others) for g in nets}, key=str):
            tag = "-".join(f"{o}{v:g}" if isinstance(v, float) else f"{o}{v}" for o, v in zip(others, fixed))
            p = Panel(
                f"test error vs {lbl}"
                + (f" ({', '.join(f'{o} {v}' for o, v in zip(others, fixed))})" if others else ""),
                lbl,
                "test error %",
                logx=log,
                logy=(k == "train_size"),
            )
            for v in variants:
                # a classical model does not depend on the net's settings: it shows in every panel
                # of the train-size sweep, and in no other sweep
                pts = sorted(
                    (g[k], g)
                    for g in groups
                    if g["variant"] == v
                    and g.get(k) is not None
                    and (
                        (v in CLASSIC and k == "train_size")
                        or (v not in CLASSIC and tuple(g.get(o) for o in others) == fixed)
                    )
                )
                if not pts:
                    continue
                xs = [x for x, _ in pts]
                ys = [100 * g["test_error"] for _, g in pts]
                sd = [100 * g.get("test_error_std", 0.0) for _, g in pts]
                band = any(sd)
                p.series.append(
                    Series(
                        v,
                        xs,
                        ys,
                        [y - d for y, d in zip(ys, sd)] if band else None,
                        [y + d for y, d in zip(ys, sd)] if band else None,
                        style=style[v],
                        line="-",
                    )
                )  # solid: dashed means "training data" in these figures
            if preset is not None:
                p.hlines += [
                    (
                        e,
                        (f"literature, another net: {e:.2f}%" if v in preset.other_net else f"paper: {v} {e:.2f}%"),
                        style.get(v, 0),
                    )
                    for v, e in preset.paper.items()
                    if v in style
                ]
                if k == "depth":  # published figures for one depth of a variant, as hollow markers there
                    for key, e in preset.paper.items():
                        v, _, d = key.rpartition("-d")
                        if v in style and d.isdigit():
                            p.series.append(
                                Series(
                                    f"paper: {v} at {d} layer{'s' if d != '1' else ''} {e:.2f}%",
                                    [int(d)],
                                    [e],
                                    style=style[v],
                                    line="none",
                                )
                            )
            if k == "depth":  # a classical model has no depth: ours as a reference line
                p.hlines += [
                    (
                        100 * g["test_error"],
                        f"ours: {g['variant']} {100 * g['test_error']:.2f}%",
                        style.get(g["variant"], 0),
                    )
                    for g in groups
                    if g["variant"] in CLASSIC
                ]
            panels[f"error_vs_{k}" + (f"-{tag}" if tag else "")] = p
    panels.update(layer_panels(groups))
    return panels


def layer_panels(groups: list[dict]) -> dict:
    """Glorot & Bengio's view of a deep net: the mean activation and saturated share of each hidden layer and the
    gradient norm of each weight layer at the end of training, against the layer's depth, one line
    per net (variant and swept settings)."""

    nets = [g for g in groups if g.get("saturated") and len(g["saturated"]) > 1]
    if not nets:
        return {}
    sat = Panel("saturated share by layer (ReLU: dead units), last evaluation", "hidden layer", "saturated %")
    mean = Panel("mean activation by layer, last evaluation", "hidden layer", "mean output")
    grad = Panel(
        "mean gradient norm of each layer's weights, last epoch", "weight layer (last: output)", "||dL/dW||", logy=True
    )
    keys = ("variant", *AXIS_COLUMNS, "train_size", "depth", "hidden_dropout")
    varying = [k for k in keys if len({g.get(k) for g in nets}) > 1] or ["variant"]  # label by what differs
    words = {  # a legend a reader can read: "hidden drop 0.5", not "p0.5"
        "train_size": lambda v: f"{v:,} images",
        "depth": lambda v: f"{v} hidden layer{'s' if v != 1 else ''}",
        "hidden_dropout": lambda v: f"hidden drop {v:g}",
    }
    for i, g in enumerate(nets):
        label = ", ".join(words[k](g.get(k)) if k in words else str(g.get(k)) for k in varying)
        # dotted: the layers are separate points, the line only guides the eye from one to the next
        sat.series.append(
            Series(label, list(range(1, len(g["saturated"]) + 1)), [100 * x for x in g["saturated"]], style=i, line=":")
        )
        if g.get("activation_mean"):
            mean.series.append(
                Series(label, list(range(1, len(g["activation_mean"]) + 1)), g["activation_mean"], style=i, line=":")
            )
        grad.series.append(Series(label, list(range(1, len(g["grad_norm"]) + 1)), g["grad_norm"], style=i, line=":"))
    return {"activation_mean_by_layer": mean, "saturation_by_layer": sat, "grad_norm_by_layer": grad}


def _num(x):
    return x if isinstance(x, (int, float)) else float(x) if isinstance(x, str) and x.lstrip("-") == "inf" else None


def log_prob_figure(names: list[str], lps: list[dict], references=()):
    """The average test log-probability of each run: AIS's estimate on all test images with its
    +-3 s.e. interval (the finite part), and, where the sandwich ran, AIS and RAISE on the same
    subset of images (comparing RAISE with the all-images AIS would mix two different means)."""

    points = {
        "AIS, all test images": [_num(lp.get("avg_log_prob")) for lp in lps],
        "AIS, RAISE's images": [_num(lp.get("ais_avg_log_prob_subset")) for lp in lps],
        "RAISE (conservative), same images": [_num(lp.get("raise_avg_log_prob")) for lp in lps],
    }
    iv = {
        "AIS, all test images": [(_num(lp.get("avg_log_prob_lower")), _num(lp.get("avg_log_prob_upper"))) for lp in lps]
    }
    return dots("average test log-probability", "nats per image", names, points, iv, references)
