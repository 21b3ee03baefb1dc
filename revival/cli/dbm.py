"""``revival pretrain-dbm``: a thin client of the library. Options -> :class:`revival.config.DBMConfig`
-> :func:`revival.fit_dbm` with a :class:`revival.RunLogger` on the command's run folder, then the
test log-probability bound by :func:`revival.log_prob` (AIS for log Z). Registered on the ``revival``
group by :mod:`revival.cli`."""

from __future__ import annotations

from pathlib import Path

import click

from revival import tables as T
from revival.cli.common import CONTEXT, check_fits, common_options, draw_figures, prepare, run_or_exit
from revival.cli.options import click_type, config_options
from revival.config import DBMConfig, RBMMonitorConfig, rule
from revival.runs.folder import markdown_table


def dbm_options(f):
    """DBMConfig's settings (:func:`revival.cli.common.config_options`), then the command's own:
    the final evaluation and the training split."""
    opts = [
        click.option(
            "--ais-runs",
            type=click_type(rule(RBMMonitorConfig, "ais_runs")),
            default=RBMMonitorConfig.ais_runs,
            help="AIS runs for log Z after training; 0 skips the test log-probability.",
        ),
        click.option(
            "--ais-betas",
            type=click_type(rule(RBMMonitorConfig, "ais_betas")),
            default=RBMMonitorConfig.ais_betas,
            help="Intermediate distributions of AIS (the paper used 20,000 for its DBMs).",
        ),
        click.option(
            "--ais-schedule",
            type=click.Choice(T.AIS_SCHEDULES),
            default=T.AIS_SCHEDULE,
            help="Spacing of AIS's inverse temperatures: Salakhutdinov & Murray's piecewise one (denser near 1), "
            "or uniform from 0 to 1 as Salakhutdinov & Hinton 2009 evaluated their DBMs (with 20,000).",
        ),
        click.option(
            "--train-on-all/--no-train-on-all",
            default=False,
            help="Train on the training and validation images together (all 60,000 for MNIST, as the paper); "
            "the validation monitors are then on training images. Off: 50,000 (10,000 held out).",
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return config_options(DBMConfig, sources=True)(f)


@click.command("pretrain-dbm", context_settings=CONTEXT)
@dbm_options
@common_options
def pretrain_dbm_cmd(**o):
    """Train a deep Boltzmann machine (Salakhutdinov & Hinton 2009) with two or more hidden layers: greedy
    pretraining of one modified RBM per layer, then PCD with a mean-field positive phase.

    Logs each pretraining RBM's reconstruction error, the mean variational bound of training and
    validation subsets and their gap, mean-field convergence, persistent-chain samples and first-layer
    filters; writes model.pt (revival.dbm.v1) after every epoch and, with --ais-runs > 0, the test
    log-probability bound (AIS log Z, mean-field bound per image) in summary.json.
    """

    def resolve(opts):
        sizes = [784, *opts["layers"]]
        if len(sizes) < 3:
            raise click.BadParameter(
                f"a DBM has at least two hidden layers, got {len(opts['layers'])}", param_hint="--layers"
            )
        if opts.get("train_on_all") and opts.get("train_size"):
            raise click.BadParameter(
                "--train-on-all trains on every training and validation image; leave out --train-size",
                param_hint="--train-on-all",
            )
        weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
        check_fits("--layers", 6 * weights + 4 * opts["chains"] * sum(sizes), f"a {'-'.join(map(str, sizes))} DBM")
        return opts

    opts, make_run, device, progress, resume = prepare("pretrain-dbm", o, resolve)
    summary = run_or_exit(lambda: run_pretrain_dbm(opts, device, make_run, resume))
    draw_figures(make_run)
    click.echo(f"done: {Path(summary['model']).parent}")


def run_pretrain_dbm(opts: dict, device, make_run, resume: bool) -> dict:
    """Load the data (checked before any folder is made), fit, estimate the test log-probability, summarise."""
    import revival  # here: the CLI starts without torch
    from revival import data as D  # here: the CLI starts without torch
    from revival import runs

    cfg = DBMConfig.from_options(opts).replace(device=str(device))
    dl = opts.get("download") or None
    data = revival.load_dataset(opts["dataset"], opts.get("train_size"), opts["seed"], opts.get("data_dir"), dl)
    x_train, y_train = data.x_train, data.y_train
    if opts.get("train_on_all"):
        import numpy as np  # here, not at the top: the CLI starts without numpy until a command runs

        # all 60,000 MNIST digits, as the paper trained; validation is then seen
        x_train = np.concatenate([data.x_train, data.x_valid])
        y_train = np.concatenate([data.y_train, data.y_valid])
        click.echo(f"training on the training and validation images together: {len(x_train)} images")

    def finish(run, model, rows):
        summary = {
            "status": runs.STATUS_FINISHED,
            "final": rows[-1] if rows else {},
            "model": str(run.path / runs.MODEL_FILE),
        }
        if opts["ais_runs"] > 0 and cfg.labels:
            summary["log_prob_skipped"] = (
                "a DBM with label units: its log p(v) sums over the labels as well, which revival's AIS does not "
                "yet; train without --labels for the test log-probability"
            )
            click.echo(f"no test log-probability: {summary['log_prob_skipped']}")
        elif opts["ais_runs"] > 0:
            click.echo(
                f"estimating log Z ({opts['ais_runs']} AIS runs x {opts['ais_betas']} betas, or exact if small) ..."
            )
            lp = revival.log_prob(
                model,
                data.x_test,
                train=x_train,
                ais_runs=opts["ais_runs"],
                ais_betas=opts["ais_betas"],
                seed=opts["seed"],
                binarize=D.evaluated_as(cfg.binarize),
                ais_schedule=opts.get("ais_schedule", T.AIS_SCHEDULE),  # a run from before the option
            )
            summary["log_prob"] = lp
            click.echo(log_prob_line(lp))
            runs.log_final_scalars(run.path, cfg.epochs, {"dbm/log_prob/final_test_bound": lp.get("avg_log_prob")})
        final = rows[-1] if rows else {}
        hp = {
            k: opts.get(k)
            for k in (
                "layers",
                "pretrain_epochs",
                "epochs",
                "lr",
                "batch_size",
                "chains",
                "gibbs_steps",
                "dataset",
                "seed",
            )
        }
        runs.log_final_scalars(
            run.path,
            cfg.epochs,
            {
                "dbm/final/bound_gap": final.get("bound_gap"),
                "dbm/final/varying_top": final.get(f"varying_h{len(cfg.layers)}"),
                "dbm/final/test_log_prob_bound": (summary.get("log_prob") or {}).get("avg_log_prob"),
            },
            hp,
        )
        from revival.training.dbm_train import collapse_warnings  # here: the CLI starts without torch

        summary["warnings"] = collapse_warnings(rows) + dbm_warnings(
            model, x_train, data.x_test, summary.get("log_prob"), opts["seed"]
        )
        for line in summary["warnings"]:
            click.echo(line)
        run.write_summary(summary, summary_md(run, summary))
        return summary

    pre = {"dataset": opts["dataset"], "binarize": cfg.binarize, "seed": cfg.seed}
    logger = revival.RunLogger.for_command(make_run, resume, click.echo, finish, preprocessing=pre)
    revival.fit_dbm(x_train, cfg, y=y_train if cfg.labels else None, x_valid=data.x_valid, logger=logger)
    return logger.run.summary()


def dbm_warnings(model, x_train, x_test, lp: dict | None, seed: int) -> list[str]:
    """The end-of-run checks of :mod:`revival.training.health`: the bound against the base-rate model's on the same
    test images, AIS's effective sample size, and 100 chains started from training images after 200 Gibbs
    sweeps (from data a healthy DBM's chains stay apart, where chains from its biases may all fall into
    one mode before they mix; a collapsed one's gather in one mode either way)."""
    from revival.training.health import base_rate_log_prob, degenerate_warnings  # here: the CLI starts without torch

    value = base = None
    if lp and "avg_log_prob" in lp:
        value, base = lp["avg_log_prob"], base_rate_log_prob(x_train, x_test)
    samples = model.sample(100, gibbs_steps=200, seed=seed, start=x_train[:100])
    return degenerate_warnings(value, base, (lp or {}).get("ess"), (lp or {}).get("ais_runs"), samples, "DBM")


def log_prob_line(lp: dict) -> str:
    iv = f" [{lp['avg_log_prob_lower']:.2f}, {lp['avg_log_prob_upper']:.2f}]" if lp["method"] == "ais" else ""
    exact = f"; exact log p(v) {lp['avg_log_prob_exact']:.2f}" if "avg_log_prob_exact" in lp else ""
    return (
        f"test log-probability >= {lp['avg_log_prob']:.2f} nats{iv} (mean-field bound per image, log Z "
        f"{lp['log_Z']:.2f} by {lp['method']}{exact})"
    )


def summary_md(run, summary: dict) -> str:

    lines = [f"# pretrain-dbm: {run.path.name}", "", f"status: **{summary['status']}**", ""]
    if summary.get("final"):
        lines += ["## last epoch", "", markdown_table(summary["final"]), ""]
    if "log_prob" in summary:
        lines += [
            "## test log-probability",
            "",
            log_prob_line(summary["log_prob"]),
            "",
            "The bound uses the mean-field posterior of each test image, so it lies below the true average "
            "log-probability (by the mean-field gap); AIS tends to underestimate log Z, which moves the "
            "estimate up by that error.",
            "",
            markdown_table(summary["log_prob"]),
            "",
        ]
    if "log_prob_skipped" in summary:
        lines += ["## test log-probability", "", f"not computed: {summary['log_prob_skipped']}.", ""]
    if summary.get("warnings"):
        lines += ["## warnings", "", *summary["warnings"], ""]
    lines += ["## configuration", "", markdown_table(run.config)]
    return "\n".join(lines) + "\n"
