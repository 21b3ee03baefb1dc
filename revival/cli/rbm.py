"""pretrain-rbm, pretrain-dbn and evaluate-rbm: the RBM options (generated from the tables and the
configs' ranges) and the commands that hand over to :mod:`revival.pretrain`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from revival import tables as T
from revival.cli.common import (
    CONTEXT,
    THREADS_HELP,
    _run_kind,
    apply_threads,
    check_fits,
    common_options,
    device_or_exit,
    draw_figures,
    given_options,
    prepare,
    run_or_exit,
)
from revival.cli.options import Finite, Threads, checked, click_type, config_options
from revival.config import DBNConfig, DBNMonitorConfig, RBMConfig, RBMMonitorConfig, per_layer, rule_of
from revival.runs.folder import jsonable


@click.command("pretrain-rbm", context_settings=CONTEXT)
@config_options(RBMConfig)
@config_options(RBMMonitorConfig)
@common_options
def pretrain_rbm_cmd(**o):
    """Train an RBM on images by contrastive divergence (CD-k) or persistent CD.

    Logs reconstruction error, free energies of training and validation data and their gap,
    pseudo-log-likelihood, weight histograms and filter/sample/reconstruction images every epoch,
    and writes model.pt (public checkpoint format), config.json and summary.json.
    """
    from revival import pretrain  # here: the CLI starts without torch

    def resolve(opts):
        cfg = checked(RBMConfig, opts)
        opts["lr"] = cfg.learning_rate  # config.json records the rate used, and the schedule
        if cfg.momentum_schedule() is not None:  # beside the null that selects it
            opts["momentum_schedule"] = cfg.momentum_schedule()
        # weights, velocity, workspace and monitoring: about 6 copies of W plus batch-sized buffers
        check_fits(
            "--hidden",
            opts["hidden"] * (6 * 784 + 4 * opts["batch_size"] + opts["monitor_size"]),
            f"a 784-{opts['hidden']} RBM",
        )
        return opts

    opts, make_run, device, progress, resume = prepare("pretrain-rbm", o, resolve)
    summary = run_or_exit(lambda: pretrain.pretrain_rbm(opts, device, make_run, click.echo, progress, resume))
    draw_figures(make_run)
    click.echo(f"done: {Path(summary['model']).parent}")


@click.command("pretrain-dbn", context_settings=CONTEXT)
@config_options(DBNConfig)
@config_options(DBNMonitorConfig)
@common_options
def pretrain_dbn_cmd(**o):
    """Train a deep belief net greedily: a stack of RBMs, one layer at a time, each on the hidden
    activities of the layer below (Hinton, Osindero & Teh 2006).

    Each layer's curves, filters and samples go to layer-K/ in the run folder (as pretrain-rbm logs
    them; higher layers' filters and samples are shown through the layers below), model.pt is the
    stack (format revival.dbn.v1) and dbn/samples the stack's fantasies after each layer. Use it to
    start a net in compare-dropout: --init RUN_DIR --variants pretrained,...
    """
    from revival import pretrain  # here: the CLI starts without torch

    def resolve(opts):
        try:
            per_layer(opts, len(opts["layers"]))  # a list of the wrong length, named as its option
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        layers = checked(DBNConfig, opts).layer_configs()
        # config.json records the values used, not "use the default": each layer's learning rate,
        # and the momentum schedule where no fixed momentum was given
        opts["lr"] = [c.learning_rate for c in layers]
        if all(c.momentum is None for c in layers):
            opts["momentum_schedule"] = [c.momentum_schedule() for c in layers]
        sizes = [784, *opts["layers"]]
        check_fits(
            "--layers",
            sum(6 * a * b for a, b in zip(sizes, sizes[1:])) + 60_000 * max(sizes),
            f"a {'-'.join(map(str, sizes))} DBN",
        )
        return opts

    def on_resume(run, opts, changed):
        if "epochs" in changed:
            changed["epochs"], line = pretrain.extend_dbn_epochs(run.path, opts, changed["epochs"])
            click.echo(line)
        return changed

    opts, make_run, device, progress, resume = prepare("pretrain-dbn", o, resolve, on_resume)
    summary = run_or_exit(lambda: pretrain.pretrain_dbn(opts, device, make_run, click.echo, progress, resume))
    draw_figures(make_run)
    click.echo(f"done: {Path(summary['model']).parent}")


@click.command("evaluate-rbm", context_settings=CONTEXT)
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "--layer",
    type=click.IntRange(min=1),
    default=None,
    help="Layer K of a DBN checkpoint (its data: the up-pass probabilities through layers 1..K-1).",
)
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default=T.EVALUATE_DEFAULTS["split"])
@click.option(
    "--method",
    type=click.Choice(["auto", "ais", "exact", "sandwich"]),
    default=T.EVALUATE_DEFAULTS["method"],
    help="auto: exact enumeration when a layer has at most 25 units, else AIS; sandwich: AIS (optimistic) "
    "and RAISE (conservative, Burda et al. 2015) side by side, with a verdict.",
)
@click.option(
    "--raise-examples",
    type=click.IntRange(min=1),
    default=T.EVALUATE_DEFAULTS["raise_examples"],
    help="Examples RAISE anneals back from (its cost grows with them), with --method sandwich.",
)
@click.option(
    "--raise-chains",
    type=click.IntRange(min=1, max=1000),
    default=T.EVALUATE_DEFAULTS["raise_chains"],
    help="Reverse chains per example for RAISE.",
)
@click.option(
    "--base-rate",
    type=click.Choice(T.BASE_RATES),
    default=T.EVALUATE_DEFAULTS["base_rate"],
    help="AIS/RAISE base-rate model: pixel means clipped to [0.001, 0.999], or Salakhutdinov's 5 "
    "pseudo-counts per 100-case batch.",
)
@click.option(
    "--tolerance",
    type=Finite(min=0),
    default=T.EVALUATE_DEFAULTS["tolerance"],
    help="Nats within which AIS and RAISE read as a tight sandwich.",
)
@click.option("--ais-runs", type=click.IntRange(min=1, max=T.MAX_AIS_RUNS), default=T.EVALUATE_DEFAULTS["ais_runs"])
@click.option(
    "--ais-betas",
    type=click.IntRange(min=2, max=T.MAX_AIS_BETAS),
    default=T.EVALUATE_DEFAULTS["ais_betas"],
    help="Intermediate distributions (default: 500 + 4,000 + 10,000 as Salakhutdinov & Murray).",
)
@click.option(
    "--ais-schedule",
    type=click.Choice(T.AIS_SCHEDULES),
    default=T.EVALUATE_DEFAULTS["ais_schedule"],
    help="Spacing of the inverse temperatures: Salakhutdinov & Murray's piecewise one (denser near 1), or "
    "uniform from 0 to 1 (Salakhutdinov & Hinton 2009 evaluated their DBMs with 20,000 uniform ones).",
)
@click.option(
    "--dataset",
    type=click.Choice(T.DATASETS),
    default=None,
    help="[default: the one the checkpoint was trained on, else mnist]",
)
@click.option(
    "--binarize",
    type=click_type(rule_of(RBMConfig.__dataclass_fields__["binarize"])),
    default=None,
    help="[default: as in training, else stochastic]",
)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=None,
    help="Seed of the binarization and of AIS [default: the training seed, else 0].",
)
@click.option("--download", is_flag=True, default=False, help="Download missing data files into --data-dir.")
@click.option("--device", default="auto", help=T.DEVICE_HELP)
@click.option("--threads", type=Threads(), default="auto", help=THREADS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def evaluate_rbm_cmd(path, as_json, **o):
    """Average log-probability of a data split under an RBM checkpoint (run folder or model.pt),
    under layer K of a DBN checkpoint (--layer K), or, as a mean-field lower bound, under a deep
    Boltzmann machine (a pretrain-dbm run).

    Needs log Z: exact for small layers, else annealed importance sampling with bounds of
    +-3 standard errors. Accepts any checkpoint in the documented revival.rbm.v1 format.
    """

    ctx = click.get_current_context()
    if o["method"] != "sandwich":  # options that only the sandwich reads: refused, not silently ignored
        for name in ("raise_examples", "raise_chains", "tolerance"):
            if name in given_options(ctx):
                raise click.BadParameter(
                    f"applies only with --method sandwich (this is --method {o['method']})",
                    param_hint="--" + name.replace("_", "-"),
                )
    kind = _run_kind(Path(path))
    if kind is not None and kind not in ("pretrain-rbm", "pretrain-dbn", "pretrain-dbm"):
        raise click.BadParameter(
            f"{path} is a {kind} run: it holds classifiers, not an RBM; give a pretrain-rbm "
            "or pretrain-dbn run (or its model.pt), or a compare-dropout run's "
            "pretrain-n*-s*/ folder",
            param_hint="PATH",
        )
    from revival import pretrain  # here: the CLI starts without torch

    device = device_or_exit(o.pop("device"))
    apply_threads(o.pop("threads"))
    progress = sys.stderr.isatty() and not as_json  # --json is for scripts: no progress lines
    echo = None if as_json else (lambda m: click.echo(m, err=True))
    res = run_or_exit(lambda: pretrain.evaluate_rbm(path, o, device, echo, progress))
    if as_json:
        click.echo(json.dumps(jsonable(res)))  # strict JSON: an infinite bound is the string "-inf"
        return
    for k in (
        "checkpoint",
        "layer",
        "input",
        "dataset",
        "split",
        "n_examples",
        "method",
        "base_rate",
        "log_Z",
        "log_Z_lower",
        "log_Z_upper",
        "avg_log_prob",
        "avg_log_prob_lower",
        "avg_log_prob_upper",
        "avg_log_prob_upper_markov",
        "avg_log_prob_exact",
        "is_lower_bound",
        "mf_steps",
        "ess",
        "ais_runs",
        "ais_betas",
        "ais_schedule",
        "raise_examples",
        "raise_chains",
        "ais_avg_log_prob_subset",
        "raise_avg_log_prob",
        "sandwich_gap",
        "seconds",
    ):
        if k in res:
            v = res[k]
            click.echo(f"{k:>26}  {v:.4f}" if isinstance(v, float) else f"{k:>26}  {v}")
    if "raise_avg_log_prob" in res:
        click.echo(f"{'verdict':>26}  {pretrain.sandwich_line(res)}")
    if res.get("ais_runs") == 1:
        click.echo(
            f"{'note':>26}  one AIS run has no standard error: the bounds are not an interval; use --ais-runs >= 2"
        )
