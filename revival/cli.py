"""The ``revival`` command line: parse, validate, resolve device/seed/config, then hand over to
``experiments``. Exit codes: 0 done, 1 runtime failure (bad data, divergence, ...), 2 bad options,
130 / 143 interrupted by SIGINT / SIGTERM (resume with ``--resume RUN_DIR``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}


class Failure(click.ClickException):
    """A runtime failure: one line on stderr, exit 1."""
    exit_code = 1

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


def _load_config(ctx, param, value):
    """``--config FILE.toml``: its keys (kebab- or snake-case option names) become the defaults;
    options given on the command line still win."""
    if not value:
        return value
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(value, "rb") as f:
            table = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise click.BadParameter(f"cannot read {value}: {e}", ctx, param) from None
    known = {p.name for p in ctx.command.params}
    defaults = {}
    for k, v in table.items():
        key = k.replace("-", "_")
        if key not in known or key in ("config", "resume"):
            raise click.BadParameter(f"{value}: unknown option {k!r}", ctx, param)
        # a TOML array (layers = [1024, 1024]) becomes the comma-separated text the option parses
        defaults[key] = ",".join(map(str, v)) if isinstance(v, list) else v
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def common_options(f):
    """Options every training command shares (design.md, CLI conventions)."""
    opts = [
        click.option("--config", type=click.Path(exists=True, dir_okay=False), is_eager=True, expose_value=False,
                     callback=_load_config, help="TOML file of option defaults (keys are option names)."),
        click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist", "kmnist", "mnist-sample"]),
                     default="mnist", help="Data set; mnist-sample ships with the package (works offline)."),
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Root holding <dataset>/ IDX files [default: $REVIVAL_DATA_DIR or ~/.cache/revival]."),
        click.option("--train-size", type=click.IntRange(min=1), default=None,
                     help="Class-stratified, seeded subset of the training split."),
        click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the run's random generator."),
        click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N."),
        click.option("--logdir", type=click.Path(file_okay=False), default="runs", help="Parent of run folders."),
        click.option("--name", default=None, help="Suffix of the run folder name."),
        click.option("--resume", type=click.Path(exists=True, file_okay=False), default=None,
                     help="Continue an interrupted run of this command in its folder (other options come from it)."),
        click.option("--progress/--no-progress", default=None,
                     help="Progress bar [default: on a terminal]; otherwise one line per epoch."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def device_or_exit(spec: str):
    from .experiments import resolve_device
    try:
        return resolve_device(spec)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--device") from None


def run_or_exit(fn):
    """Run an experiment; turn its failures into one clear line and the documented exit code."""
    import signal
    from .data import DataError
    from .train import Diverged, Interrupted

    def terminate(signum, frame):  # SIGTERM outside a training loop: stop like Ctrl-C does
        raise Interrupted(signum)

    old_term = signal.signal(signal.SIGTERM, terminate)
    try:
        return fn()
    except KeyboardInterrupt:
        click.echo("interrupted before any epoch was saved; nothing to resume.", err=True)
        sys.exit(130)
    except DataError as e:
        raise Failure(str(e)) from None
    except Diverged as e:
        click.echo(f"error: training diverged ({e}); lower --lr. Logged epochs and the last good checkpoint "
                   "are kept.", err=True)
        sys.exit(1)
    except Interrupted as e:
        click.echo(f"interrupted ({e}); the last completed epoch is saved. Continue with --resume.", err=True)
        sys.exit(e.exit_code)
    except ValueError as e:
        raise Failure(str(e)) from None
    finally:
        signal.signal(signal.SIGTERM, old_term)


@click.group(context_settings=CONTEXT, no_args_is_help=True)
@click.version_option(__version__, "-V", "--version")
def main():
    """revival: RBM pretraining by contrastive divergence, and dropout, reproduced and measured.

    Every command writes a run folder under --logdir (default runs/); open the curves with
    `tensorboard --logdir runs`.
    """


def prepare(command: str, o: dict, resolve):
    """What every training command does first: reopen the ``--resume`` folder (its options come from
    its config.json) or resolve the options of a fresh run, then the device and the progress mode.
    Returns ``(opts, make_run, device, progress, resumed)``; the run folder is made by ``make_run``
    only once the data has loaded."""
    from .runs import Run
    resume, progress = o.pop("resume"), o.pop("progress")
    if resume:
        try:
            run = Run.reopen(resume, command)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--resume") from None
        opts = dict(run.config["options"])
        make_run = lambda: run  # noqa: E731
    else:
        opts = resolve(dict(o))
        make_run = lambda: Run.create(opts["logdir"], command, opts["name"], {"options": opts})  # noqa: E731
    device = device_or_exit(o["device"] if not resume or o["device"] != "auto" else opts["device"])
    return opts, make_run, device, sys.stderr.isatty() if progress is None else progress, bool(resume)


@main.command("pretrain-rbm", context_settings=CONTEXT)
@click.option("--hidden", type=click.IntRange(min=1), default=500, help="Number of hidden units.")
@click.option("--visible-type", type=click.Choice(["bernoulli", "gaussian"]), default="bernoulli",
              help="Binary visibles, or unit-variance Gaussian visibles on standardised pixels.")
@click.option("--binarize", type=click.Choice(["stochastic", "threshold", "none"]), default="stochastic",
              help="Binary data: one fixed seeded Bernoulli sample per image, pixel >= 128, or grey levels.")
@click.option("--epochs", type=click.IntRange(min=1), default=10)
@click.option("--batch-size", type=click.IntRange(min=1), default=100)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate [default: 0.1 for Bernoulli, 0.01 for Gaussian visibles].")
@click.option("--lr-decay", type=click.FloatRange(0, 1, min_open=True), default=1.0,
              help="Learning rate multiplied by this every epoch.")
@click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Fixed momentum [default: 0.5 for 5 epochs, then 0.9].")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=2e-4, help="L2 cost on weights only.")
@click.option("--cd-k", type=click.IntRange(min=1), default=1, help="Gibbs steps per update (CD-k).")
@click.option("--persistent/--no-persistent", default=False, help="Persistent CD (Tieleman 2008).")
@click.option("--sparsity-target", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Target mean activation of hidden units (off unless given).")
@click.option("--sparsity-cost", type=click.FloatRange(min=0), default=0.0, help="Weight of the sparsity penalty.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              help="Probability of dropping each hidden unit, per example and update (dropout RBM).")
@click.option("--monitor-size", type=click.IntRange(min=10), default=2000,
              help="Examples in the fixed train/valid subsets used for free energies and PLL.")
@click.option("--ais-every", type=click.IntRange(min=0), default=0,
              help="Estimate the test log-probability by AIS (1,000 betas) every N epochs; 0 = never.")
@click.option("--ais-runs", type=click.IntRange(min=0), default=100,
              help="AIS runs for log Z; 0 switches AIS (and the final evaluation) off.")
@click.option("--ais-betas", type=click.IntRange(min=2), default=14_501,
              help="Intermediate distributions of the final AIS evaluation (Salakhutdinov & Murray 2008).")
@common_options
def pretrain_rbm_cmd(**o):
    """Train an RBM on images by contrastive divergence (CD-k) or persistent CD.

    Logs reconstruction error, free energies of training and validation data and their gap,
    pseudo-log-likelihood, weight histograms and filter/sample/reconstruction images every epoch,
    and writes model.pt (public checkpoint format), config.json and summary.json.
    """
    from . import experiments as E

    def resolve(opts):
        if opts["lr"] is None:
            opts["lr"] = 0.1 if opts["visible_type"] == "bernoulli" else 0.01
        if opts["sparsity_cost"] > 0 and opts["sparsity_target"] is None:
            raise click.BadParameter("needs --sparsity-target as well", param_hint="--sparsity-cost")
        return opts

    opts, make_run, device, progress, resume = prepare("pretrain-rbm", o, resolve)
    summary = run_or_exit(lambda: E.pretrain_rbm(opts, device, make_run, click.echo, progress, resume))
    click.echo(f"done: {Path(summary['model']).parent}")



@main.command("evaluate-rbm", context_settings=CONTEXT)
@click.argument("path", type=click.Path(exists=True))
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test")
@click.option("--method", type=click.Choice(["auto", "ais", "exact"]), default="auto",
              help="auto: exact enumeration when a layer has at most 25 units, else AIS.")
@click.option("--ais-runs", type=click.IntRange(min=1), default=100)
@click.option("--ais-betas", type=click.IntRange(min=2), default=14_501,
              help="Intermediate distributions (default: 500 + 4,000 + 10,000 as Salakhutdinov & Murray).")
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist", "kmnist", "mnist-sample"]), default=None,
              help="[default: the one the checkpoint was trained on, else mnist]")
@click.option("--binarize", type=click.Choice(["stochastic", "threshold", "none"]), default=None,
              help="[default: as in training, else stochastic]")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the binarization and of AIS [default: the training seed, else 0].")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def evaluate_rbm_cmd(path, as_json, **o):
    """Average log-probability of a data split under an RBM checkpoint (run folder or model.pt).

    Needs log Z: exact for small layers, else annealed importance sampling with bounds of
    +-3 standard errors. Accepts any checkpoint in the documented revival.rbm.v1 format.
    """
    import json
    from . import experiments as E
    from .runs import jsonable
    device = device_or_exit(o.pop("device"))
    res = run_or_exit(lambda: E.evaluate_rbm(path, o, device))
    if as_json:
        click.echo(json.dumps(jsonable(res)))  # strict JSON: an infinite bound is the string "-inf"
        return
    for k in ("checkpoint", "dataset", "split", "n_examples", "method", "log_Z", "log_Z_lower", "log_Z_upper",
              "avg_log_prob", "avg_log_prob_lower", "avg_log_prob_upper", "ess", "ais_runs", "ais_betas", "seconds"):
        if k in res:
            v = res[k]
            click.echo(f"{k:>20}  {v:.4f}" if isinstance(v, float) else f"{k:>20}  {v}")



def _list(kind, lo=None, hi=None, hi_open=False, choices=None):
    """A Click callback parsing a comma-separated list of ``kind`` with range or choice checks."""
    def parse(ctx, param, value):
        if value is None:
            return None
        items = [t.strip() for t in str(value).split(",")]
        if not value.strip() or any(not t for t in items):
            raise click.BadParameter(f"expected a comma-separated list, got {value!r}")
        out = []
        for t in items:
            try:
                x = kind(t)
            except ValueError:
                raise click.BadParameter(f"{t!r} is not a valid {kind.__name__}") from None
            if choices is not None and x not in choices:
                raise click.BadParameter(f"unknown {t!r}; choose from {', '.join(choices)}")
            if (lo is not None and x < lo) or (hi is not None and (x >= hi if hi_open else x > hi)):
                raise click.BadParameter(f"{t} is outside [{lo}, {hi}{')' if hi_open else ']'}")
            out.append(x)
        return out
    return parse


@main.command("compare-dropout", context_settings=CONTEXT)
@click.option("--preset", type=click.Choice(["quick", "srivastava2014-3x1024-relu", "srivastava2014-table9",
                                             "hinton2012-800"]), default="quick",
              help="Named settings (with the paper's numbers); options given here override it.")
@click.option("--variants", callback=_list(str, choices=["baseline", "weight-decay", "max-norm", "dropout",
                                                         "dropout-weight-decay", "dropout-maxnorm", "gaussian-dropout"]),
              help="Comma-separated variants [default: from --preset].")
@click.option("--layers", callback=_list(int, lo=1), help="Hidden layer sizes, e.g. 1024,1024 [default: from --preset].")
@click.option("--activation", type=click.Choice(["relu", "logistic", "tanh", "linear"]), default=None)
@click.option("--loss", type=click.Choice(["cross-entropy", "mse"]), default=None)
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--lr-decay", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Learning rate multiplied by this every epoch.")
@click.option("--initial-momentum", type=click.FloatRange(0, 1, max_open=True), default=None)
@click.option("--final-momentum", type=click.FloatRange(0, 1, max_open=True), default=None)
@click.option("--momentum-epochs", type=click.IntRange(min=0), default=None,
              help="Epochs of the linear momentum ramp.")
@click.option("--dampen/--no-dampen", default=None, help="Scale each step by (1 - momentum) (Hinton et al. 2012).")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=None, help="L2 strength of *-weight-decay variants.")
@click.option("--max-norm", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Bound c on each hidden unit's incoming weight norm (max-norm variants).")
@click.option("--input-dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Drop probability of input pixels (dropout variants).")
@click.option("--hidden-dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Drop probability of hidden units (dropout variants).")
@click.option("--mc-samples", type=click.IntRange(min=0), default=None,
              help="Monte-Carlo masks for the final test error of dropout variants (0 = off).")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Repeat with seeds seed .. seed+N-1.")
@click.option("--train-sizes", callback=_list(int, lo=1), help="Sweep the training set size (Figure 10).")
@click.option("--dropout-rates", callback=_list(float, lo=0, hi=1, hi_open=True),
              help="Sweep the hidden drop probability (Figure 9).")
@click.option("--eval-train-size", type=click.IntRange(min=1), default=None,
              help="Training examples used for the per-epoch train error.")
@click.option("--init", type=click.Path(exists=True), default=None,
              help="Start the first layer(s) from an RBM or DBN checkpoint (pretraining).")
@common_options
def compare_dropout_cmd(**o):
    """Train one network with and without regularization on the same data and compare them.

    Every variant logs error/train|valid|test and loss/... per epoch into its own sub-folder (one
    custom-scalars chart overlays them); summary.md tables train/test error, the generalization gap,
    Monte-Carlo vs weight-scaling inference, and the paper's figure where the preset has one.
    """
    from . import compare as C

    def resolve(opts):
        try:
            return C.resolve(opts)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None

    opts, make_run, device, progress, _ = prepare("compare-dropout", o, resolve)
    run_or_exit(lambda: C.compare_dropout(opts, device, make_run, click.echo, progress))


if __name__ == "__main__":
    main()
