"""Reports from a run's own files: the compare-dropout summary tables (groups over seeds, the
published figures beside ours, the settings with their sources) and the figures of every command
(``revival report``), read back from event files, ``summary.json`` and ``result.json``. No
training here, no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from revival.config import CompareConfig, defaults
from revival.experiments.sweep import NET_AXES
from revival.presets import PRESETS, VARIANTS, Preset, preset_settings
from revival.runs import load_predictions

AXIS_COLUMNS = tuple(NET_AXES.values())  # the row fields of the optional sweep axes
CLASSIC = tuple(v for v, d in VARIANTS.items() if d.get("classic"))  # the variants without hidden layers


def group_rows(rows: list[dict], preset: Preset) -> list[dict]:
    """Mean and standard deviation over seeds for each variant x train size x dropout rate x depth x
    activation x loss x init scheme; per-layer lists (saturated share, gradient norms) averaged
    layer by layer."""
    groups = {}
    for r in rows:
        key = (r["variant"], r["train_size"], r["hidden_dropout"], r.get("depth"), *(r.get(a) for a in AXIS_COLUMNS))
        groups.setdefault(key, []).append(r)
    out = []
    for (v, n, p, depth, *axes), rs in groups.items():
        g = {
            "variant": v,
            "train_size": n,
            "hidden_dropout": p,
            "depth": depth,
            **dict(zip(AXIS_COLUMNS, axes)),
            "seeds": len(rs),
        }
        for k in (
            "train_error",
            "valid_error",
            "test_error",
            "test_error_mc",
            "generalization_gap",
            "test_loss",
            "test_loss_min",
            "test_error_full",
            "test_error_at_best_valid",
            "best_valid_epoch",
        ):
            vals = [r[k] for r in rs if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
            if vals:
                g[k] = float(np.mean(vals))
                g[k + "_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        if any(isinstance(r.get("best_valid_epoch"), str) for r in rs):  # trained on its validation images
            g["best_valid_epoch"] = g["test_error_at_best_valid"] = next(
                r["best_valid_epoch"] for r in rs if isinstance(r.get("best_valid_epoch"), str)
            )
        for k in ("activation_mean", "saturated", "grad_norm"):
            vals = [r[k] for r in rs if isinstance(r.get(k), list)]
            if vals and len({len(x) for x in vals}) == 1:
                g[k] = [float(x) for x in np.mean(vals, axis=0)]
        pk = f"{v}-d{depth}" if f"{v}-d{depth}" in preset.paper else v  # a figure for one depth of a variant
        if pk in preset.paper:
            g["paper_test_error"] = preset.paper[pk] / 100.0
            g["paper_trust"] = preset.trust_for(pk)
            if pk in preset.other_net:
                g["paper_other_net"] = preset.other_net[pk]
        out.append(g)
    return out


def summary_markdown(run, summary: dict, preset: Preset) -> str:
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    o = run.config["options"]
    sizes = ",".join(map(str, o["train_sizes"])) if o.get("train_sizes") else o.get("train_size") or "all"
    used = (
        f"{o['dataset']}, {sizes} training images, 784-{'-'.join(map(str, o['layers']))}-10"
        f"{'' if o.get('activations') else ' ' + o['activation']}, {o['epochs']} epochs, batch {o['batch_size']}, "
        f"lr {o['lr']:g}"
    )
    own = o.get("variant_options") or {}
    if own:  # a variant's own settings, not the shared ones above (e.g. --variant-lr baseline=1)
        mine = [f"{v} " + " ".join(f"{k.replace('_', ' ')} {x:g}" for k, x in kw.items()) for v, kw in own.items()]
        used += f" ({'; '.join(mine)})"
    if o.get("depths"):
        used += f", depths {','.join(map(str, o['depths']))} of width {o.get('width') or o['layers'][0]}"
    for opt in NET_AXES:
        if o.get(opt):
            used += f", {opt.replace('_', ' ')} {','.join(o[opt])}"
    if o.get("min_updates"):
        used += f", at least {o['min_updates']} updates per net"
    axes = [field for opt, field in NET_AXES.items() if o.get(opt)]
    lines = [
        f"# compare-dropout: {run.path.name}",
        "",
        f"preset: **{summary['preset']}** ({preset.description})",
        "",
        f"settings used: {used}; every option in config.json.",
        "",
    ]
    lines += [
        _head(axes) + "hidden drop | seeds | train err % | test err % | test err % (MC) | "
        "test err % at best valid epoch | gap (test - train) % | test loss final / min | paper test err % |",
        "| --- " * (12 + len(axes)) + "|",
    ]
    for g in summary["groups"]:
        spread = f" +- {pct(g['test_error_std'])}" if g["seeds"] > 1 else ""
        paper = f"{pct(g['paper_test_error'])} ({g['paper_trust']})" if "paper_test_error" in g else "-"
        if "paper_other_net" in g:
            paper += " literature, another net"
        loss = f"{g['test_loss']:.3f} / {g['test_loss_min']:.3f}" if "test_loss" in g else "-"
        lines.append(
            _cells(g, axes) + f"{g['hidden_dropout']:g} | "
            f"{g['seeds']} | {pct(g['train_error'])} | {pct(g['test_error'])}{spread} | "
            f"{pct(g['test_error_mc']) if 'test_error_mc' in g else '-'} | {at_best_valid(g)} | "
            f"{pct(g['generalization_gap'])} | {loss} | {paper} |"
        )
    lines += difference_markdown(summary.get("differences") or [])
    lines += layer_markdown(summary["groups"], axes) + classic_markdown(summary)
    if any("test_error_full" in g for g in summary["groups"]):
        lines += [
            "",
            "retrained on all 60,000 images for the same number of updates (`--retrain-on-full`), test error %: "
            + ", ".join(
                f"{g['variant']} {pct(g['test_error_full'])}" for g in summary["groups"] if "test_error_full" in g
            ),
        ]
    if preset.citation:
        lines += [
            "",
            f"paper: {preset.citation}; figures for {preset.architecture or 'the preset architecture'} "
            "(trust in brackets: V verbatim, S several sources agree, U unconfirmed). Compare at the "
            "paper's length and protocol (see the settings below).",
        ]
        if preset.note:
            lines += ["", preset.note]
    if preset.options:
        lines += ["", settings_markdown(o, preset)]
    return "\n".join(lines) + "\n"


def at_best_valid(g: dict) -> str:
    """The cell 'test error at the epoch of lowest validation error (that epoch)': the honest pick of
    an epoch, beside the last epoch's; a run that trained on its validation images says so."""
    v = g.get("test_error_at_best_valid")
    if isinstance(v, str):
        return v
    if v is None:
        return "-"
    epoch = g.get("best_valid_epoch")
    at = (
        ""
        if epoch is None
        else f" (epoch {epoch:.0f})"
        if g.get("seeds", 1) == 1
        else f" (epoch {epoch:.0f} on average)"
    )
    return f"{100 * v:.2f}{at}"


def _head(axes: list[str]) -> str:
    """The first columns of a group table: variant, train size, depth and the swept axes."""
    return "| variant | train size | depth | " + "".join(f"{a.replace('_', ' ')} | " for a in axes)


def _cells(g: dict, axes: list[str]) -> str:
    return f"| {g['variant']} | {g['train_size']} | {g.get('depth', '-')} | " + "".join(
        f"{g.get(a) or '-'} | " for a in axes
    )


def layer_markdown(groups: list[dict], axes: list[str]) -> list[str]:
    """The per-layer monitors at the end of training, one row per net: each hidden layer's saturated
    share (dead units for ReLU) and each layer's mean weight-gradient norm, input side first."""
    nets = [g for g in groups if g.get("saturated") is not None and len(g.get("grad_norm") or []) > 1]
    if not nets:
        return []
    lines = [
        "",
        "per layer at the last evaluation (layer 1 next to the input): each hidden layer's mean activation "
        "and saturated share % (logistic/tanh within 1% of a bound, ReLU: dead units) on 1,000 validation "
        "images, and the mean norm of each weight layer's gradient during the last epoch (the last entry is "
        "the output layer)",
        "",
        _head(axes) + "mean activation by layer | saturated % by layer | gradient norm by layer |",
        "| --- " * (6 + len(axes)) + "|",
    ]
    for g in nets:
        lines.append(
            _cells(g, axes)
            + (" / ".join(f"{x:.3f}" for x in g["activation_mean"]) if g.get("activation_mean") else "-")
            + " | "
            + " / ".join(f"{100 * x:.1f}" for x in g["saturated"])
            + " | "
            + " / ".join(f"{x:.3g}" for x in g["grad_norm"])
            + " |"
        )
    return lines


def classic_markdown(summary: dict) -> list[str]:
    """Which k and C the classical baselines chose on the validation split, and at which train size
    the best net first beats the best classical model."""
    rows = summary.get("rows") or []
    fixed = [r for r in rows if "k" in r or "C" in r]
    lines = []
    if fixed:
        lines += [
            "",
            "classical baselines chose on the validation split: "
            + ", ".join(
                f"{r['variant']} n={r['train_size']} s{r['seed']}: "
                + (f"k = {r['k']}" if "k" in r else f"C = {r['C']:g}")
                for r in fixed
            ),
        ]
    classic = CLASSIC
    groups = summary.get("groups") or []
    sizes = sorted({g["train_size"] for g in groups})
    if (
        len(sizes) > 1
        and any(g["variant"] in classic for g in groups)
        and any(g["variant"] not in classic for g in groups)
    ):
        lines += [
            "",
            "| train size | best net (test err %) | best classical model (test err %) | net ahead by (points) |",
            "| --- | --- | --- | --- |",
        ]
        for n in sizes:
            nets = [g for g in groups if g["train_size"] == n and g["variant"] not in classic]
            cls = [g for g in groups if g["train_size"] == n and g["variant"] in classic]
            if not nets or not cls:
                continue
            bn, bc = min(nets, key=lambda g: g["test_error"]), min(cls, key=lambda g: g["test_error"])
            lines.append(
                f"| {n} | {bn['variant']} {100 * bn['test_error']:.2f} | {bc['variant']} "
                f"{100 * bc['test_error']:.2f} | {100 * (bc['test_error'] - bn['test_error']):+.2f} |"
            )
    return lines


def explain_markdown(opts: dict, preset: Preset) -> str:
    """``--explain``: what a preset is, the published figures with their trust and the net they
    belong to, and its settings with their sources."""
    lines = [f"# preset {opts['preset']}", "", preset.description, ""]
    if preset.paper:
        lines += [
            f"Published ({preset.citation}), for {preset.architecture}:",
            "",
            "| variant | test error % | trust |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {v} | {e:.2f} | {preset.trust_for(v)} |" for v, e in preset.paper.items()]
        lines += ["", *(f"- {v}: {what}." for v, what in preset.other_net.items())]
        lines.append("")
    if preset.note:
        lines += [preset.note, ""]
    return "\n".join(lines) + "\n" + settings_markdown(opts, preset) + "\n"


def settings_markdown(opts: dict, preset: Preset) -> str:
    """The preset's settings as used, each with its source (``--explain``, and summary.md)."""
    rows = ["## settings and where they come from", "", "| setting | value | source |", "| --- | --- | --- |"]

    def shown(v):
        if isinstance(v, dict):  # variant_options: "baseline: lr 1"
            return (
                "; ".join(
                    f"{k}: " + ", ".join(f"{a.replace('_', ' ')} {shown(b)}" for a, b in o.items())
                    for k, o in v.items()
                )
                or "{}"
            )
        return ", ".join(map(str, v)) if isinstance(v, list) else f"{v:.6g}" if isinstance(v, float) else v

    for k, v, src in preset_settings(opts["preset"], opts):
        rows.append(f"| {k} | {shown(v)} | {src} |")
    # every other value the run resolves, so nothing it trains with is left unsaid
    own = set(PRESETS[opts["preset"]].options)
    rest = [
        f"{k} {shown(opts.get(k, v))}" + (" (command line)" if opts.get(k, v) != v else "")
        for k, v in defaults(CompareConfig).items()
        if k not in own and k not in NOT_SETTINGS
    ]
    rows += [
        "",
        "Every other setting (revival's defaults, the same for every preset, unless marked): " + "; ".join(rest) + ".",
    ]
    return "\n".join(rows)


# options that say where or how to run, not what is trained
NOT_SETTINGS = ("dataset", "executor", "ray_address", "point_cpus", "point_gpus", "max_retries", "init")


# ------------------------------------------------------------------------- figures from run folders

FIGURES_DIR = "figures"
FIGURE_SECTION = "## figures"


class NotARun(ValueError):
    """The folder is not a revival run folder."""


class UnsafeRun(NotARun):
    """A run folder whose figures/ or summary.md is not what revival writes there (a link, a file
    where a folder belongs, a folder where a file belongs): report writes nothing through it."""


def writable_figures(run: Path) -> Path:
    """``run/figures``, after checking that writing there cannot land outside the run folder."""
    folder = run / FIGURES_DIR
    if folder.is_symlink():
        raise UnsafeRun(
            f"{folder}: is a link; report writes figures only into a real folder of the run "
            "(remove the link and run revival report again)"
        )
    if folder.exists() and not folder.is_dir():
        raise UnsafeRun(f"{folder}: is a file, not a folder; move it away and run revival report again")
    return folder


_EVENTS: dict = {}  # folder -> loaded accumulator, for the duration of one report (run_figures clears it)


def _events(folder: Path):
    """The event files directly in ``folder``, read once per report (scalars and images, no histograms)."""
    key = str(folder)
    if key not in _EVENTS:
        import logging

        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

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
    import json

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
    import json

    try:
        s = json.loads((run / "summary.json").read_text())
        return s if isinstance(s, dict) else {}
    except (OSError, ValueError):
        return {}


def dbm_panels(scalars: dict) -> list:
    """A DBM run's monitors: each pretraining RBM's reconstruction error, the mean variational bound
    without log Z (training subset dashed, validation solid: their gap is the overfitting signal; the
    level moves with log Z), and each hidden layer's share of units whose posterior varies across images."""
    from revival.reporting.figures import Panel, Series

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
    from revival.reporting.figures import Panel, Series

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
    from revival.reporting.figures import Panel, Series

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
    if any(v not in CLASSIC for pts in settings.values() for v, _ in pts):  # a classical model's lone point
        settings = {k: pts for k, pts in settings.items() if any(v not in CLASSIC for v, _ in pts)}  # is no curve
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
    from revival.reporting.figures import Panel, Series

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


def point_rows(run: Path) -> list[dict]:
    """The rows of a compare-dropout run's finished points, read from each ``<point>/result.json``
    (what summary.json's ``rows`` holds once the run finishes)."""
    rows = []
    for p in sorted(q for q in run.iterdir() if q.is_dir()):
        row = _load_json(p / "result.json")
        if isinstance(row, dict) and isinstance(row.get("variant"), str) and row["variant"] in VARIANTS:
            rows.append(row)
    return rows


def pair_differences(run: Path, max_pairs: int = 30) -> list[dict]:
    """For each pair of points (a variant at a setting: dropout rate, depth, swept axes) trained on as
    many images, tested on the same images: A's test error minus B's, per seed and averaged, with the standard
    error of the difference over the test images (paired) and over the seeds, and McNemar's exact p
    from the points' saved predictions (:mod:`revival.reporting.significance`). Points without saved predictions
    (runs from before they were saved) are left out; at most ``max_pairs`` rows."""
    from revival.reporting.significance import paired_difference, seeds_se

    points = {}
    for p in sorted(q for q in run.iterdir() if q.is_dir()):
        row = _load_json(p / "result.json")
        if not isinstance(row, dict) or row.get("variant") not in VARIANTS:
            continue
        try:
            pred = load_predictions(p)
        except ValueError:
            pred = None
        if pred is not None:  # named by its folder less the seed: the variant and any swept setting
            name = _without_parts(p.name, "sn")
            points.setdefault((row.get("train_size"),), {}).setdefault(name, {})[row.get("seed")] = pred
    out = []
    for setting, by_variant in points.items():
        names = list(by_variant)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                seeds = sorted(set(by_variant[a]) & set(by_variant[b]))
                per = []
                for sd in seeds:
                    (pa, la), (pb, lb) = by_variant[a][sd], by_variant[b][sd]
                    if len(la) == len(lb) and np.array_equal(la, lb):
                        per.append((sd, paired_difference(pa, pb, la)))
                if not per:
                    continue
                diffs = [d["difference"] for _, d in per]
                out.append(
                    {
                        "a": a,
                        "b": b,
                        "train_size": setting[0],
                        "seeds": [sd for sd, _ in per],
                        "difference": float(np.mean(diffs)),
                        "se_test_images": float(np.sqrt(np.mean([d["se"] ** 2 for _, d in per]) / len(per))),
                        "se_seeds": seeds_se(diffs),
                        "mcnemar_p": [d["mcnemar_p"] for _, d in per],
                        "discordant": [[d["a_only_wrong"], d["b_only_wrong"]] for _, d in per],
                    }
                )
    return out[:max_pairs]


def difference_markdown(diffs: list[dict]) -> list[str]:
    """The table of :func:`pair_differences`, with how to read it."""
    if not diffs:
        return []
    lines = [
        "",
        "is a difference real? test error of A minus B on the same test images, mean over seeds; its standard "
        "error over the test images (paired) and over the seeds; McNemar's exact p per seed (images only A "
        "gets wrong / only B gets wrong). A difference within two standard errors, or p above 0.05, is not "
        "shown to be real.",
        "",
        "| A | B | train size | A - B (points) | s.e. (test images) | s.e. (seeds) | McNemar p by seed (A only / B only wrong) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in diffs:
        se_seeds = "-" if d["se_seeds"] is None else f"{100 * d['se_seeds']:.2f}"
        ps = ", ".join(f"{p:.2g} ({x} / {y})" for p, (x, y) in zip(d["mcnemar_p"], d["discordant"]))
        lines.append(
            f"| {d['a']} | {d['b']} | {d['train_size']} | {100 * d['difference']:+.2f} | "
            f"{100 * d['se_test_images']:.2f} | {se_seeds} | {ps} |"
        )
    return lines


def _without_parts(name: str, letters: str) -> str:
    """A point folder's name less its ``s<seed>`` / ``n<size>`` parts (``letters`` says which): what
    stays names the variant and any swept setting."""
    return "-".join(part for part in name.split("-") if not (part[:1] in letters and part[1:].isdigit()))


def _dict(x) -> dict:
    """A summary field that should be an object, or {} when a damaged summary.json holds anything else."""
    return x if isinstance(x, dict) else {}


def _load_json(p: Path) -> dict:
    import json

    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


# what the image grids show: a line under the title, and column labels where columns differ
IMAGE_NOTES = {
    "filters": (
        "each tile one hidden unit's incoming weights as an image (higher layers: projected through "
        "the layers below), each scaled to its own range: black its most negative weight, white its most positive",
        None,
    ),
    "samples": ("fantasies: each tile the model's mean image after a run of alternating Gibbs sampling", None),
    "dbm/samples": (
        "the persistent chains of PCD training: each tile P(v | h1) of one chain's current state (not "
        "independent samples: consecutive fantasies of the chains the gradient used)",
        None,
    ),
    "dbm/filters": (
        "each tile one first-layer unit's weights W1 from the pixels, scaled to its own range: black its "
        "most negative weight, white its most positive",
        None,
    ),
    "dbn/samples": (
        "fantasies of the whole stack: alternating Gibbs sampling in the top RBM, then one down pass "
        "through the layers below to pixel means",
        None,
    ),
    "reconstructions": (
        "pairs side by side: a validation image, then its one-step reconstruction "
        "(up to the hidden probabilities and back down)",
        ["data", "recon"] * 5,
    ),
}


def run_figures(run: Path, svg: bool = False) -> tuple[list[Path], list[str]]:
    """Draw a run folder's figures into ``run/figures/`` from its own files; returns the files and
    one line for each figure that could not be drawn (what is missing). NotARun for a folder that
    is not a run."""
    run = Path(run)
    cfg = _config(run)
    _EVENTS.clear()
    try:
        return _run_figures(run, cfg, svg)
    finally:
        _EVENTS.clear()


def _run_figures(run: Path, cfg: dict, svg: bool) -> tuple[list[Path], list[str]]:
    from revival.presets import PRESETS
    from revival.reporting.figures import draw, image_figure, save

    cmd, summary, out, missing = cfg["command"], _summary(run), [], []
    folder = writable_figures(run)

    def put(name, panels, title, ncols=1):
        if any(p.series or p.hlines for p in panels):
            out.extend(save(draw(panels, title, ncols), folder, name, svg))
        else:
            missing.append(f"{name}: no data in {run} (no event files with its tags yet)")

    def image(name, folder_, tag, title):
        png = last_image(folder_, tag)
        if png is None:
            missing.append(f"{name}: no {tag} image in {folder_}")
            return
        note, cols = IMAGE_NOTES.get(tag) or IMAGE_NOTES[tag.split("/")[-1]]
        out.extend(save(image_figure(png, title, note, cols), folder, name, svg))

    if cmd == "pretrain-rbm":
        lp = _dict(summary.get("log_prob"))
        panels = rbm_panels(read_scalars(run), lp)
        put("curves", list(panels.values()), f"pretrain-rbm {run.resolve().name}" + final_log_prob_text(lp), 2)
        for name in ("filters", "samples", "reconstructions"):
            image(name, run, f"rbm/{name}", f"pretrain-rbm {run.resolve().name}: {name}")
    elif cmd == "pretrain-dbn":
        layers = sorted((p for p in run.glob("layer-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))
        merged = {}
        for i, layer in enumerate(layers):
            for key, p in rbm_panels(read_scalars(layer), None, layer.name, i).items():
                merged.setdefault(key, p).series.extend([] if merged[key] is p else p.series)
        put("curves", list(merged.values()), f"pretrain-dbn {run.resolve().name}: every layer (colour = layer)", 2)
        image("dbn_samples", run, "dbn/samples", f"pretrain-dbn {run.resolve().name}: samples of the whole stack")
        for layer in layers:
            image(
                f"{layer.name}_filters",
                layer,
                "rbm/filters",
                f"pretrain-dbn {run.resolve().name}: {layer.name} filters",
            )
    elif cmd == "pretrain-dbm":
        lp, title = _dict(summary.get("log_prob")), f"pretrain-dbm {run.resolve().name}"
        if isinstance(lp.get("avg_log_prob"), (int, float)):
            title += f": test log p(v) >= {lp['avg_log_prob']:.2f} nats (mean-field bound, {lp.get('method')} log Z)"
        warned = [w for w in summary.get("warnings") or [] if isinstance(w, str)]
        if warned:  # a collapsed model says so on its pictures, not only in summary.md
            signs = [
                short
                for key, short in (
                    ("base-rate", "worse than independent pixels"),
                    ("effective sample size", "AIS unsettled"),
                    ("all alike", "samples all alike"),
                )
                if any(key in w for w in warned)
            ]
            title += f"\nWARNING, degenerate run: {', '.join(signs)} (summary.md)"
        put("curves", dbm_panels(read_scalars(run)), title, 2)
        for name in ("samples", "filters"):
            image(
                name,
                run,
                f"dbm/{name}",
                f"pretrain-dbm {run.resolve().name}: {name}"
                + (
                    "\nWARNING: all alike, the model has collapsed (summary.md)"
                    if name == "samples" and any("all alike" in w for w in warned)
                    else ""
                ),
            )
    else:
        preset = PRESETS.get(cfg.get("options", {}).get("preset"))
        for name, panel in compare_panels(run, summary, preset, cfg.get("options", {})).items():
            put(name, [panel], f"compare-dropout {run.resolve().name}")
    return out, missing


def check_runs(runs_: list[Path]):
    """NotARun unless every folder is a run, and (for an overlay) all are runs of one command."""
    cmds = {_config(Path(r))["command"] for r in runs_}
    if len(cmds) > 1:
        raise NotARun(
            f"runs of different commands ({', '.join(sorted(cmds))}) cannot share axes; "
            "report them one command at a time"
        )


def short_name(run: Path) -> str:
    """A run folder's name without its time stamp where it has a ``--name`` (``20261130-194531-lr1`` -> ``lr1``)."""
    parts = run.name.split("-", 2)
    stamped = len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit()
    return parts[2] if stamped else run.name


def overlay_figures(runs_: list[Path], out_dir: Path, svg: bool = False) -> tuple[list[Path], list[str]]:
    """Several runs of the same command on the same axes, labelled by run name (a pretrain-rbm's or
    pretrain-dbm's monitors, or every compare-dropout point's validation and test error: choose a setting on the
    first, read the second), into ``out_dir``."""
    from revival.reporting.figures import Panel, Series, draw, save

    check_runs(runs_)
    _EVENTS.clear()
    cmd, out = _config(Path(runs_[0]))["command"], []
    if cmd in ("pretrain-rbm", "pretrain-dbn"):
        merged = {}
        for i, r in enumerate(runs_):
            folder = Path(r) if cmd == "pretrain-rbm" else Path(r) / "layer-1"
            for key, p in rbm_panels(read_scalars(folder), None, Path(r).name, i).items():
                merged.setdefault(key, p).series.extend([] if merged[key] is p else p.series)
        out += save(
            draw(list(merged.values()), "runs overlaid" + (" (layer 1)" if cmd == "pretrain-dbn" else ""), 2),
            out_dir,
            "overlay",
            svg,
        )
        lps = [_dict(_summary(Path(r)).get("log_prob")) for r in runs_]
        if cmd == "pretrain-rbm" and any(isinstance(lp.get("avg_log_prob"), (int, float)) for lp in lps):
            out += save(log_prob_figure([Path(r).name for r in runs_], lps), out_dir, "log_prob", svg)
    elif cmd == "pretrain-dbm":  # each monitor panel with every run: colour = run, marker = layer or split
        merged = []
        for i, r in enumerate(runs_):
            for k, p in enumerate(dbm_panels(read_scalars(Path(r)))):
                for s in p.series:
                    s.label, s.colour = f"{short_name(Path(r))}: {s.label}", i
                if k == len(merged):
                    merged.append(p)
                else:
                    merged[k].series.extend(p.series)
        out += save(draw(merged, "runs overlaid (colour = run)", 1), out_dir, "overlay", svg)
    else:
        panels = {
            split: Panel(
                f"{name} error of every point: colour = point, line style = run",
                "epoch",
                f"{name} error % (log scale)",
                logy=True,
            )
            for split, name in (("valid", "validation"), ("test", "test"))
        }
        colour = {}  # the same point (variant and setting) keeps its colour across runs
        for i, r in enumerate(runs_):
            # --train-on-all trains on the validation images too: their error is not a validation error
            trained_on_valid = bool(_config(Path(r)).get("options", {}).get("train_on_all"))
            for point in sorted(q for q in Path(r).iterdir() if q.is_dir() and (q / "result.json").is_file()):
                sc = read_scalars(point)
                for split, p in panels.items():
                    if f"error/{split}" not in sc or (split == "valid" and trained_on_valid):
                        continue
                    x, y = sc[f"error/{split}"]
                    c = colour.setdefault(point.name, len(colour))
                    line = ("-", "--", "-.", ":")[i % 4]
                    p.series.append(
                        Series(f"{Path(r).name}/{point.name}", x, [100 * v for v in y], style=c, line=line, colour=c)
                    )
        # the validation panel only where some run has a held-out validation split (not --train-on-all)
        p = [panels["valid"]] if panels["valid"].series else []
        p.append(panels["test"])
        out += save(draw(p, "runs overlaid", len(p)), out_dir, "overlay", svg)
    return out, []


def _num(x):
    return x if isinstance(x, (int, float)) else float(x) if isinstance(x, str) and x.lstrip("-") == "inf" else None


def log_prob_figure(names: list[str], lps: list[dict], references=()):
    """The average test log-probability of each run: AIS's estimate on all test images with its
    +-3 s.e. interval (the finite part), and, where the sandwich ran, AIS and RAISE on the same
    subset of images (comparing RAISE with the all-images AIS would mix two different means)."""
    from revival.reporting.figures import dots

    points = {
        "AIS, all test images": [_num(lp.get("avg_log_prob")) for lp in lps],
        "AIS, RAISE's images": [_num(lp.get("ais_avg_log_prob_subset")) for lp in lps],
        "RAISE (conservative), same images": [_num(lp.get("raise_avg_log_prob")) for lp in lps],
    }
    iv = {
        "AIS, all test images": [(_num(lp.get("avg_log_prob_lower")), _num(lp.get("avg_log_prob_upper"))) for lp in lps]
    }
    return dots("average test log-probability", "nats per image", names, points, iv, references)


def link_figures(run: Path, files: list[Path], missing: list[str]):
    """Add (or replace) the figures section of ``run/summary.md``: each figure linked, and what is missing."""
    from revival.reporting.figures import write_atomic

    md = run / "summary.md"
    if md.is_symlink() or (md.exists() and not md.is_file()):
        raise UnsafeRun(
            f"{md}: is {'a link' if md.is_symlink() else 'not a file'}; report rewrites only the "
            "summary.md revival wrote (move it away and run revival report again)"
        )
    text = md.read_text() if md.is_file() else ""
    text = text.split("\n" + FIGURE_SECTION)[0].rstrip() + "\n"
    lines = ["", FIGURE_SECTION, ""]
    lines += [f"![{f.stem}]({FIGURES_DIR}/{f.name})" for f in files if f.suffix == ".png"]
    lines += [f"- not drawn: {m}" for m in missing]
    body = (text + "\n".join(lines) + "\n").encode()
    write_atomic(md, lambda f: f.write(body))
