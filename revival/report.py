"""Reports from a run's own numbers: the compare-dropout summary tables (groups over seeds, the
published figures beside ours, the settings with their sources). No training here, no torch."""
from __future__ import annotations

import numpy as np

from .experiments import Preset, preset_settings


def group_rows(rows: list[dict], preset: Preset) -> list[dict]:
    """Mean and standard deviation over seeds for each variant x train size x dropout rate x depth."""
    groups = {}
    for r in rows:
        groups.setdefault((r["variant"], r["train_size"], r["hidden_dropout"], r.get("depth")), []).append(r)
    out = []
    for (v, n, p, depth), rs in groups.items():
        g = {"variant": v, "train_size": n, "hidden_dropout": p, "depth": depth, "seeds": len(rs)}
        for k in ("train_error", "test_error", "test_error_mc", "generalization_gap", "test_loss", "test_loss_min",
                  "test_error_full"):
            vals = [r[k] for r in rs if k in r]
            if vals:
                g[k] = float(np.mean(vals))
                g[k + "_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        if v in preset.paper:
            g["paper_test_error"] = preset.paper[v] / 100.0
            g["paper_trust"] = preset.trust_for(v)
        out.append(g)
    return out


def summary_markdown(run, summary: dict, preset: Preset) -> str:
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    o = run.config["options"]
    used = (f"{o['dataset']}, {o.get('train_size') or 'all'} training images, 784-{'-'.join(map(str, o['layers']))}-10 "
            f"{o['activation']}, {o['epochs']} epochs, batch {o['batch_size']}, lr {o['lr']:g}")
    if o.get("depths"):
        used += f", depths {','.join(map(str, o['depths']))} of width {o.get('width') or o['layers'][0]}"
    lines = [f"# compare-dropout: {run.path.name}", "", f"preset: **{summary['preset']}** ({preset.description})", "",
             f"settings used: {used}; every option in config.json.", ""]
    lines += ["| variant | train size | depth | hidden drop | seeds | train err % | test err % | test err % (MC) | "
              "gap (test - train) % | test loss final / min | paper test err % |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for g in summary["groups"]:
        spread = f" +- {pct(g['test_error_std'])}" if g["seeds"] > 1 else ""
        paper = f"{pct(g['paper_test_error'])} ({g['paper_trust']})" if "paper_test_error" in g else "-"
        lines.append(f"| {g['variant']} | {g['train_size']} | {g.get('depth', '-')} | {g['hidden_dropout']:g} | "
                     f"{g['seeds']} | {pct(g['train_error'])} | {pct(g['test_error'])}{spread} | "
                     f"{pct(g['test_error_mc']) if 'test_error_mc' in g else '-'} | {pct(g['generalization_gap'])} | "
                     f"{g['test_loss']:.3f} / {g['test_loss_min']:.3f} | {paper} |")
    if any("test_error_full" in g for g in summary["groups"]):
        lines += ["", "retrained on all 60,000 images for the same number of updates (`--retrain-on-full`), test error %: "
                  + ", ".join(f"{g['variant']} {pct(g['test_error_full'])}" for g in summary["groups"]
                              if "test_error_full" in g)]
    if preset.citation:
        lines += ["", f"paper: {preset.citation}; figures for {preset.architecture or 'the preset architecture'} "
                  "(trust in brackets: V verbatim, S several sources agree, U unconfirmed). Compare at the "
                  "paper's length and protocol (see the settings below)."]
        if preset.note:
            lines += ["", preset.note]
    if preset.options:
        lines += ["", settings_markdown(o, preset)]
    return "\n".join(lines) + "\n"


def explain_markdown(opts: dict, preset: Preset) -> str:
    """``--explain``: what a preset is, the published figures with their trust and the net they
    belong to, and its settings with their sources."""
    lines = [f"# preset {opts['preset']}", "", preset.description, ""]
    if preset.paper:
        lines += [f"Published ({preset.citation}), for {preset.architecture}:", "",
                  "| variant | test error % | trust |", "| --- | --- | --- |"]
        lines += [f"| {v} | {e:.2f} | {preset.trust_for(v)} |" for v, e in preset.paper.items()]
        lines.append("")
    if preset.note:
        lines += [preset.note, ""]
    return "\n".join(lines) + "\n" + settings_markdown(opts, preset) + "\n"


def settings_markdown(opts: dict, preset: Preset) -> str:
    """The preset's settings as used, each with its source (``--explain``, and summary.md)."""
    rows = ["## settings and where they come from", "", "| setting | value | source |", "| --- | --- | --- |"]
    for k, v, src in preset_settings(opts["preset"], opts):
        shown = ", ".join(map(str, v)) if isinstance(v, list) else f"{v:.6g}" if isinstance(v, float) else v
        rows.append(f"| {k} | {shown} | {src} |")
    return "\n".join(rows)
