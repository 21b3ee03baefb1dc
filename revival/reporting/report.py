"""``revival report``: the figures of finished (or stopped) runs, written into each run's
``figures/`` and linked from its ``summary.md``, and the overlays of several runs. No training here,
no torch."""

from __future__ import annotations

from pathlib import Path

from revival.presets import PRESETS
from revival.reporting import panels as run_panels
from revival.reporting.figures import Panel, Series, draw, image_figure, save, write_atomic
from revival.reporting.panels import (
    NotARun,
    UnsafeRun,
    _config,
    _summary,
    compare_panels,
    dbm_panels,
    final_log_prob_text,
    last_image,
    log_prob_figure,
    rbm_panels,
    read_scalars,
)
from revival.reporting.summaries import _dict

FIGURES_DIR = "figures"

FIGURE_SECTION = "## figures"


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
    run_panels._EVENTS.clear()
    try:
        return _run_figures(run, cfg, svg)
    finally:
        run_panels._EVENTS.clear()


def _run_figures(run: Path, cfg: dict, svg: bool) -> tuple[list[Path], list[str]]:

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

    check_runs(runs_)
    run_panels._EVENTS.clear()
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


def link_figures(run: Path, files: list[Path], missing: list[str]):
    """Add (or replace) the figures section of ``run/summary.md``: each figure linked, and what is missing."""

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
