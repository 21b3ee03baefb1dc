"""pretrain-rbm, pretrain-dbn and evaluate-rbm: the RBM options (generated from the tables and the
configs' ranges) and the commands that hand over to :mod:`revival.experiments.pretrain`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from revival import tables as T
from revival.cli.common import (
    CONTEXT,
    PRECISION_HELP,
    THREADS_HELP,
    Finite,
    Threads,
    _flag,
    _list,
    _list_of,
    _run_kind,
    apply_threads,
    check_fits,
    click_type,
    common_options,
    device_or_exit,
    draw_figures,
    given_options,
    prepare,
    run_or_exit,
)
from revival.config import RBM_CHECKS

# the RBM training options: name and help; the allowed values come from revival.config.RBM_CHECKS
RBM_OPTIONS = [
    ("visible_type", "Binary visibles, or unit-variance Gaussian visibles on standardised pixels (first layer)."),
    ("epochs", "Passes over the training data."),
    ("batch_size", "Examples per update."),
    ("lr", "Learning rate [default: 0.1 for Bernoulli, 0.01 for Gaussian visibles]."),
    ("lr_decay", "Learning rate multiplied by this every epoch."),
    ("momentum", "Fixed momentum [default: 0.5 for 5 epochs, then 0.9]."),
    ("weight_decay", "L2 cost on weights only."),
    ("cd_k", "Gibbs steps per update (CD-k)."),
    ("sparsity_target", "Target mean activation of hidden units (off unless given)."),
    ("sparsity_cost", "Weight of the sparsity penalty."),
    ("dropout", "Probability of dropping each hidden unit, per example and update (dropout RBM)."),
    ("monitor_size", "Examples in the fixed train/valid subsets used for free energies and PLL."),
    ("init_std", "Initial weights N(0, s^2) (the Guide: 0.01; the 2006 code: 0.1)."),
    ("visible_bias_init", "Initial visible biases: log(p/(1-p)) of the data (the Guide) or zero (the 2006 code)."),
    ("precision", PRECISION_HELP),
]


def rbm_options(per_layer: bool):
    """The RBM training options; with ``per_layer`` the options of T.DBN_PER_LAYER take lists."""
    defaults = T.DBN_DEFAULTS if per_layer else T.RBM_DEFAULTS

    def deco(f):
        opts = []
        for name, help_ in RBM_OPTIONS:
            t, d = click_type(RBM_CHECKS[name]), defaults[name]
            if per_layer and name in T.DBN_PER_LAYER:
                opts.append(
                    click.option(
                        _flag(name),
                        callback=_list_of(t),
                        default=None if d is None else str(d),
                        help=help_ + " One value, or one per layer (comma-separated).",
                    )
                )
            else:
                opts.append(click.option(_flag(name), type=t, default=d, help=help_))
        opts.append(
            click.option(
                "--persistent/--no-persistent", default=defaults["persistent"], help="Persistent CD (Tieleman 2008)."
            )
        )
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def _check_sparsity(o: dict):
    cost, target = o.get("sparsity_cost"), o.get("sparsity_target")
    costs = cost if isinstance(cost, list) else [cost]
    if any(c and c > 0 for c in costs) and target is None:
        raise click.BadParameter("needs --sparsity-target as well", param_hint="--sparsity-cost")


@click.command("pretrain-rbm", context_settings=CONTEXT)
@click.option(
    "--hidden", type=click_type(RBM_CHECKS["hidden"]), default=T.RBM_DEFAULTS["hidden"], help="Number of hidden units."
)
@click.option(
    "--binarize",
    type=click_type(RBM_CHECKS["binarize"]),
    default=T.RBM_DEFAULTS["binarize"],
    help="Binary data: one fixed seeded Bernoulli sample per image, pixel >= 128, or grey levels.",
)
@rbm_options(per_layer=False)
@click.option(
    "--ais-every",
    type=click.IntRange(min=0),
    default=T.RBM_DEFAULTS["ais_every"],
    help="Estimate the test log-probability by AIS (1,000 betas) every N epochs; 0 = never.",
)
@click.option(
    "--ais-runs",
    type=click.IntRange(min=0, max=T.MAX_AIS_RUNS),
    default=T.RBM_DEFAULTS["ais_runs"],
    help="AIS runs for log Z; 0 switches AIS (and the final evaluation) off.",
)
@click.option(
    "--ais-betas",
    type=click.IntRange(min=2, max=T.MAX_AIS_BETAS),
    default=T.RBM_DEFAULTS["ais_betas"],
    help="Intermediate distributions of the final AIS evaluation (Salakhutdinov & Murray 2008).",
)
@click.option(
    "--raise-examples",
    type=click.IntRange(min=0),
    default=T.RBM_DEFAULTS["raise_examples"],
    help="With N > 0 the final evaluation is a sandwich: RAISE's conservative estimate on N test examples "
    "beside AIS (see evaluate-rbm --method sandwich).",
)
@click.option(
    "--base-rate",
    type=click.Choice(T.BASE_RATES),
    default=T.RBM_DEFAULTS["base_rate"],
    help="Base-rate model of AIS/RAISE: clipped pixel means, or Salakhutdinov's pseudo-counts.",
)
@common_options
def pretrain_rbm_cmd(**o):
    """Train an RBM on images by contrastive divergence (CD-k) or persistent CD.

    Logs reconstruction error, free energies of training and validation data and their gap,
    pseudo-log-likelihood, weight histograms and filter/sample/reconstruction images every epoch,
    and writes model.pt (public checkpoint format), config.json and summary.json.
    """
    from revival.experiments import pretrain

    def resolve(opts):
        if opts["lr"] is None:
            opts["lr"] = T.LR_BY_VISIBLE[opts["visible_type"]]
        if opts["momentum"] is None:  # the schedule used, recorded beside the null that selects it
            m = {k: opts.get(k, T.RBM_DEFAULTS[k]) for k in ("initial_momentum", "momentum_epochs", "final_momentum")}
            opts["momentum_schedule"] = (
                f"{m['initial_momentum']:g} for {m['momentum_epochs']} epochs, then {m['final_momentum']:g}"
            )
        _check_sparsity(opts)
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
@click.option(
    "--layers",
    callback=_list(int, lo=1),
    default=",".join(map(str, T.DBN_DEFAULTS["layers"])),
    help="Hidden units of each layer, bottom first (Hinton & Salakhutdinov 2006: 500,500,2000).",
)
@click.option(
    "--binarize",
    type=click.Choice(["none", "stochastic", "threshold"]),
    default=T.DBN_DEFAULTS["binarize"],
    help="First layer's data: grey levels in [0, 1] (none, as the 2006 code), one fixed seeded Bernoulli "
    "sample per image, or pixel >= 128.",
)
@click.option(
    "--feed",
    type=click.Choice(T.FEEDS),
    default=T.DBN_DEFAULTS["feed"],
    help="Layer k+1 trains on layer k's hidden probabilities (as the 2006 code) or one fixed sample of them.",
)
@click.option(
    "--sample-steps",
    type=click.IntRange(min=0),
    default=T.DBN_DEFAULTS["sample_steps"],
    help="Gibbs sweeps in the top RBM behind each dbn/samples grid.",
)
@rbm_options(per_layer=True)
@common_options
def pretrain_dbn_cmd(**o):
    """Train a deep belief net greedily: a stack of RBMs, one layer at a time, each on the hidden
    activities of the layer below (Hinton, Osindero & Teh 2006).

    Each layer's curves, filters and samples go to layer-K/ in the run folder (as pretrain-rbm logs
    them; higher layers' filters and samples are shown through the layers below), model.pt is the
    stack (format revival.dbn.v1) and dbn/samples the stack's fantasies after each layer. Use it to
    start a net in compare-dropout: --init RUN_DIR --variants pretrained,...
    """
    from revival.experiments import pretrain

    def resolve(opts):
        _check_sparsity(opts)
        try:
            layers = T.per_layer(opts, len(opts["layers"]))
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        # config.json records the values used, not "use the default": each layer's learning rate,
        # and the momentum schedule where no fixed momentum was given
        opts["lr"] = [lo["lr"] for lo in layers]
        if all(lo["momentum"] is None for lo in layers):
            d = T.RBM_DEFAULTS
            opts["momentum_schedule"] = [
                f"{lo.get('initial_momentum', d['initial_momentum']):g} for "
                f"{lo.get('momentum_epochs', d['momentum_epochs'])} epochs, then "
                f"{lo.get('final_momentum', d['final_momentum']):g}"
                for lo in layers
            ]
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
    "--dataset",
    type=click.Choice(T.DATASETS),
    default=None,
    help="[default: the one the checkpoint was trained on, else mnist]",
)
@click.option(
    "--binarize",
    type=click_type(RBM_CHECKS["binarize"]),
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
    import json

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
    from revival.experiments import pretrain
    from revival.runs import jsonable

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
