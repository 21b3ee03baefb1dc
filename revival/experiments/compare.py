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

import torch

from revival import runs
from revival.config import CompareConfig
from revival.experiments import executor
from revival.experiments.experiment import INPUT, Experiment, Job, init_notes, load_data, load_dbm_init, load_init
from revival.experiments.plan import plan, plan_lines
from revival.experiments.points import point_done, point_on_worker, train_point
from revival.experiments.sweep import grid
from revival.presets import PRESETS, VARIANTS
from revival.reporting.summaries import group_rows, pair_differences, summary_markdown
from revival.training import precision
from revival.training.train import GracefulStop

LONG_RUN = 100_000  # weight updates in all: the run prints its plan (revival.experiments.plan) before it starts
FEW_UPDATES = 300  # fewer weight updates than this per net: the console suggests --min-updates


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


def bf16_hint(cfg: CompareConfig, device) -> str | None:
    """For a long float32 run on a device that multiplies bfloat16 fast (probed at the first layer's
    product shape), one line saying that ``--precision bf16`` exists and what it did on a full run."""
    if cfg.precision != "fp32" or cfg.optimizer == "cg" or all(VARIANTS[v].get("classic") for v in cfg.variants):
        return None  # bf16 changes the nets' products only, and conjugate gradients stay in float32
    first = cfg.deepest()
    p = precision.probe(torch.device(device), (cfg.batch_size, 784, first[0] if first else 10))
    if p["ratio"] < precision.FAST_ENOUGH:
        return None
    return (
        f"note: this {torch.device(device).type} multiplies in bfloat16 {p['ratio']:.1f}x faster than in float32 at "
        "these shapes: --precision bf16 runs the products in bf16 (weights and sums in float32); what it did "
        "to the time and the test error of hinton2006-dbn's full protocol: docs/benchmarks.md"
    )


def job_of(opts: dict) -> Job:
    """The experiment's typed config (and where its data lies) from the run's resolved options, as
    config.json records them (:func:`revival.config.resolve_compare`, then the command's device,
    precision and threads)."""
    cfg = CompareConfig.from_options(opts).replace(device=opts.get("device", "auto"))
    return Job(cfg, opts.get("data_dir"), opts.get("download"))


def print_plan(opts: dict, device, echo=print) -> list[dict]:
    """``--plan``: the grid's points with their epochs, updates and estimated time here; no run folder.
    ``--init`` is checked as the run would check it: a plan the run would refuse is refused too."""
    job = job_of(opts)
    cfg = job.cfg
    if cfg.init:
        load_init(cfg.init, cfg)
    if cfg.dbm_init:
        load_dbm_init(cfg.dbm_init, cfg, "cpu")
    rows = plan(cfg, load_data(cfg, device, job.data_dir, job.download), device)
    for line in plan_lines(rows, device, opts.get("threads")):
        echo(line)
    hint = bf16_hint(cfg, device)
    if hint:
        echo(hint)
    return rows


def compare_dropout(opts: dict, device, make_run, echo=print, progress=False) -> dict:
    """Run every grid point; write ``summary.json`` rows and ``summary.md``. With ``--executor ray``
    the whole run is one Ray session (``executor.session``): a local instance it starts is shut down
    when it ends, finished, failed or interrupted."""
    job = job_of(opts)
    with executor.session(job.cfg):
        return _compare_dropout(job, opts, device, make_run, echo, progress)


def _compare_dropout(job: Job, opts: dict, device, make_run, echo, progress) -> dict:
    """``job``: what the run trains; ``opts``: what its config.json records (the preprocessing of
    ``--init`` and the nets' input are added here)."""
    cfg = job.cfg
    d = load_data(cfg, device, job.data_dir, job.download)
    if cfg.dbm_init:  # refused here, before the run folder, when it is not a DBM of --layers
        load_dbm_init(cfg.dbm_init, cfg, "cpu")
    init_stack = None
    if cfg.init:
        init_stack, pre = load_init(cfg.init, cfg)
        for line in init_notes(cfg.init, init_stack, cfg):
            echo(line)
        init_stack = [r.to(device) for r in init_stack]
        opts["init_preprocessing"] = {k: v for k, v in pre.items() if not isinstance(v, torch.Tensor)}
        if pre.get("binarize", "none") != "none":
            echo(f"note: --init was pretrained on {pre.get('binarize')}-binarized pixels; fine-tuning sees {INPUT}")
    opts["input"] = INPUT
    if cfg.executor == "ray":  # join (or start) Ray and check the request before any folder
        try:
            executor.check_resources(executor.connect(cfg.ray_address), cfg)
        except ValueError as e:
            raise e if isinstance(e, runs.OptionError) else runs.OptionError("--ray-address", str(e)) from None
    run = make_run()
    with run.recording():  # from the folder on: a signal, an error or a MemoryError in the start-up is recorded
        echo(f"run folder: {run.path}")
        if opts.get("activation_forced_by"):
            echo(
                f"activation: logistic for every variant (the {', '.join(opts['activation_forced_by'])} variant(s) "
                f"start from RBMs, whose units are logistic); the other settings stay the preset's (lr {cfg.lr:g}): "
                "a rate tuned for another activation may not suit logistic units"
            )
        per_net = min(
            cfg.point_epochs(n) * -(-n // cfg.batch_size)
            for n in (cfg.train_sizes or [cfg.train_size or len(d["train_np"][1])])
        )
        if per_net < FEW_UPDATES:
            echo(
                f"note: a net here makes only {per_net} weight updates, too few for these nets to learn much "
                f"(a 1,000-image set at batch 100 needs a few thousand); --min-updates {10 * FEW_UPDATES} trains small "
                "sets for more epochs"
            )
        if sum(-(-(p.size or len(d["train_np"][1])) // cfg.batch_size) * cfg.epochs for p in grid(cfg)) >= LONG_RUN:
            for line in plan_lines(plan(cfg, d, device), device, opts.get("threads")):  # a long run: say what it costs
                echo(line)
            hint = bf16_hint(cfg, device)
            if hint:
                echo(hint)
            if runs.has_checkpoint(run.path):
                echo("(this run resumes: what is saved is not trained again)")
        preset = PRESETS[cfg.preset]
        ex = Experiment(cfg, d, run, device, echo, progress, init_stack)

        with runs.writer(run.path) as w:
            w.add_custom_scalars(layout())
            w.add_text("config", runs.markdown_table(run.config), 0)
        points = grid(cfg)
        done = {p: r for p in points if (r := point_done(ex, p)) is not None}

        def finished(point, row):
            done[point] = row
            run.set_status(runs.STATUS_RUNNING, rows=[done[p] for p in points if p in done])

        failed = []
        todo = [p for p in points if p not in done]
        elsewhere = cfg.executor != "local"
        if elsewhere:
            for p in todo:  # the pretrained stacks first, here (the points of one size and seed share one)
                if p.dbm:
                    ex.dbm(p)
                elif p.pretrained and ex.init_stack is None:
                    ex.stack(p)
        # while points run elsewhere a signal is caught here; a local point's own loop catches it
        with GracefulStop() if elsewhere else contextlib.nullcontext() as stop:
            failed = executor.run_points(
                todo, job, run, lambda p: train_point(ex, p), point_on_worker, stop, echo, finished, progress
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
            "preset": cfg.preset,
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
