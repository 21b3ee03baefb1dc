"""compare-dropout's summary tables from its rows: groups over seeds (mean, standard error),
the published figures beside ours, the settings with their sources, the layer monitors, the classical
baselines, and the paired differences between variants from the points' saved predictions. No torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from revival.config import CompareConfig, defaults
from revival.presets import NET_AXES, PRESETS, VARIANTS, Preset, preset_settings
from revival.reporting.significance import paired_difference, seeds_se
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
    if all(VARIANTS[v].get("classic") for v in o["variants"]):  # no net: the nets' settings do not apply
        used = f"{o['dataset']}, {sizes} training images, classical models only (their choices on validation below)"
    else:
        used = (
            f"{o['dataset']}, {sizes} training images, 784-{'-'.join(map(str, o['layers']))}-10"
            f"{'' if o.get('activations') else ' ' + o['activation']}"
            + (
                f" (the DBM variants' input adds q(h2 | v): {784 + o['layers'][-1]:,} numbers)"
                if any(VARIANTS[v].get("dbm") for v in o["variants"])
                else ""
            )
            + f", {o['epochs']} epochs, "
            + (
                f"conjugate gradients ({o['cg_line_searches']} line searches on each batch of {o['cg_batch_size']:,})"
                if o.get("optimizer") == "cg"
                else f"batch {o['batch_size']}, lr {o['lr']:g}"
            )
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
            "retrained on the training and validation images together, 60,000 for MNIST (`--retrain-on-full`: a "
            "net for the same number of updates, a classical model with the C, gamma or k chosen on validation), "
            "test error %: "
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
        if k not in own and k not in NOT_SETTINGS and k != "preset"  # the preset is this table's subject
    ]
    rows += [
        "",
        "Every other setting (revival's defaults, the same for every preset, unless marked): " + "; ".join(rest) + ".",
    ]
    return "\n".join(rows)


# options that say where or how to run, not what is trained
NOT_SETTINGS = ("dataset", "executor", "ray_address", "point_cpus", "point_gpus", "max_retries", "init")


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

    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}
