"""The ``revival`` command line: parse, validate, resolve device/seed/config, then hand over to
the experiment rooms (``pretrain``, ``compare``); defaults come from ``experiments``' tables.
Exit codes: 0 done, 1 runtime failure (bad data, divergence, ...), 2 bad options,
130 / 143 interrupted by SIGINT / SIGTERM (resume with ``--resume RUN_DIR``)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from . import __version__
from . import experiments as E
from .config import RBM_CHECKS
from .threads import MAX_THREADS, auto_threads, omp_threads

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
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise click.BadParameter(f"cannot read {value}: {' '.join(str(e).split())}", ctx, param) from None
    params = {p.name: p for p in ctx.command.params}
    defaults = {}
    for k, v in table.items():
        key = k.replace("-", "_")
        if key not in params or key in ("config", "resume"):
            raise click.BadParameter(f"{value}: unknown option {k!r}", ctx, param)
        if key in defaults:  # train-size and train_size both: which one was meant?
            raise click.BadParameter(f"{value}: {k!r} is given twice (kebab- and snake-case); keep one", ctx, param)
        is_flag = isinstance(params[key].type, click.types.BoolParamType)
        if isinstance(v, bool) and not is_flag:  # epochs = true would be read as 1
            raise click.BadParameter(f"{value}: {k} = {str(v).lower()}: expected a value, not true/false", ctx, param)
        if is_flag and not isinstance(v, bool):
            raise click.BadParameter(f"{value}: {k} = {v!r}: expected true or false", ctx, param)
        # a TOML array (layers = [1024, 1024]) becomes the comma-separated text the option parses
        if isinstance(v, list) and all(isinstance(x, (int, float, str)) and not isinstance(x, bool) for x in v):
            v = ",".join(map(str, v))
        elif not isinstance(v, (int, float, str, bool)):
            raise click.BadParameter(
                f"{value}: {k} = {v!r}: expected a number, text, true/false or a list of them", ctx, param
            )
        elif isinstance(v, float) and isinstance(params[key].type, click.types.IntParamType):
            if not v.is_integer():
                raise click.BadParameter(f"{value}: {k} = {v}: expected a whole number", ctx, param)
            v = int(v)
        defaults[key] = v
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


class Finite(click.FloatRange):
    """A float range that also refuses NaN and infinities (which pass every comparison check)."""

    def convert(self, value, param, ctx):
        x = super().convert(value, param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return x


def _list(kind, lo=None, hi=None, hi_open=False, lo_open=False, choices=None):
    """A Click callback parsing a comma-separated list of ``kind`` with range or choice checks
    (floats must be finite)."""

    def parse(ctx, param, value):
        if value is None:
            return None
        if isinstance(value, (list, tuple)):  # a default given as a list
            value = ",".join(map(str, value))
        items = [t.strip() for t in str(value).split(",")]
        if not str(value).strip() or any(not t for t in items):
            raise click.BadParameter(f"expected a comma-separated list, got {value!r}")
        out = []
        for t in items:
            try:
                x = kind(t)
            except ValueError:
                raise click.BadParameter(f"{t!r} is not a valid {kind.__name__}") from None
            if kind is float and not math.isfinite(x):
                raise click.BadParameter(f"{t!r} is not a finite number")
            if choices is not None and x not in choices:
                raise click.BadParameter(f"unknown {t!r}; choose from {', '.join(choices)}")
            if (lo is not None and (x <= lo if lo_open else x < lo)) or (
                hi is not None and (x >= hi if hi_open else x > hi)
            ):
                raise click.BadParameter(f"{t} is outside {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}")
            out.append(x)
        return out

    return parse


def _per_variant(ctx, param, value):
    """``VARIANT=VALUE[,VARIANT=VALUE]`` -> {variant: value} (a finite number > 0, or >= 0 for the
    momentum); the variants are checked against --variants once those are known."""
    if value is None:
        return None
    out = {}
    for item in str(value).split(","):
        name, sep, num = item.partition("=")
        name, num = name.strip(), num.strip()
        if not sep or not name or not num:
            raise click.BadParameter(f"expected VARIANT=VALUE[,VARIANT=VALUE], got {item!r}")
        if name not in E.VARIANTS:
            raise click.BadParameter(f"unknown variant {name!r}; choose from {', '.join(E.VARIANTS)}")
        try:
            x = float(num)
        except ValueError:
            raise click.BadParameter(f"{num!r} is not a number") from None
        low_ok = param.name == "variant_momentum"
        if not math.isfinite(x) or x < 0 or (x == 0 and not low_ok) or (low_ok and x >= 1):
            raise click.BadParameter(f"{name}={num}: give a finite number {'in [0, 1)' if low_ok else '> 0'}")
        out[name] = x
    return out


def check_fits(option: str, n_floats: int, what: str):
    """Exit 2 naming ``option`` when ``n_floats`` 4-byte numbers would not fit in this machine's
    memory (:func:`revival.memory.memory_problem`, the library's rule too), so a huge size fails with one
    line instead of an allocation traceback."""
    from .memory import memory_problem

    why = memory_problem(n_floats, what)
    if why:
        raise click.BadParameter(why, param_hint=option)


class Threads(click.ParamType):
    """``auto`` or a whole number of threads, 1-1024 (:data:`revival.threads.MAX_THREADS`)."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        # the same checks whatever the source: command line, a --config TOML (an int), the environment
        if isinstance(value, bool) or isinstance(value, float):
            self.fail(f"{value!r} is neither 'auto' nor a whole number", param, ctx)
        if str(value).strip().lower() == "auto":
            try:
                omp_threads()  # auto defers to $OMP_NUM_THREADS: it must be a count torch can take
            except ValueError as e:
                self.fail(str(e), param, ctx)
            return "auto"
        try:
            n = int(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is neither 'auto' nor a whole number", param, ctx)
        if not 1 <= n <= MAX_THREADS:
            self.fail(f"{n} is not in 1..{MAX_THREADS}", param, ctx)
        return n


def apply_threads(value) -> tuple[int, str]:
    """Give torch the threads of ``--threads auto|N`` and say why that many: ``auto`` is the cores
    free when the run starts, or $OMP_NUM_THREADS when set (:mod:`revival.threads`). Called once
    the options are known good, so a bad option is refused before torch is imported."""
    import torch

    if value in (None, "auto"):
        n, why = auto_threads()
    else:
        n, why = int(value), "--threads"
    torch.set_num_threads(n)
    return n, why


THREADS_HELP = (
    "CPU threads for torch: auto = the cores free when the run starts ($OMP_NUM_THREADS wins when set). "
    "torch's own one-per-core collapses when other work shares the cores (5-10x slower than one thread "
    "here)."
)


def _check_name(ctx, param, value):
    """``--name``: checked before any folder exists (:func:`revival.runs.name_problem`)."""
    from .runs import name_problem

    if value is None:
        return None
    why = name_problem(value)
    if why:
        raise click.BadParameter(why)
    return value


def common_options(f):
    """Options every training command shares (design.md, CLI conventions)."""
    opts = [
        click.option(
            "--config",
            type=click.Path(exists=True, dir_okay=False),
            is_eager=True,
            expose_value=False,
            callback=_load_config,
            help="TOML file of option defaults (keys are option names).",
        ),
        click.option(
            "--dataset",
            type=click.Choice(E.DATASETS),
            default="mnist",
            help="Data set; mnist-sample ships with the package (works offline).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False),
            default=None,
            help="Root holding <dataset>/ IDX files [default: $REVIVAL_DATA_DIR or ~/.cache/revival].",
        ),
        click.option(
            "--train-size",
            type=click.IntRange(min=1),
            default=None,
            help="Class-stratified, seeded subset of the training split.",
        ),
        click.option(
            "--seed", type=click.IntRange(min=0, max=2**63 - 1), default=0, help="Seed of the run's random generator."
        ),
        click.option("--device", default="auto", help=E.DEVICE_HELP),
        click.option("--logdir", type=click.Path(file_okay=False), default="runs", help="Parent of run folders."),
        click.option("--name", default=None, callback=_check_name, help="Suffix of the run folder name."),
        click.option(
            "--download",
            is_flag=True,
            default=False,
            help="Download missing data files into --data-dir (always done into the default cache).",
        ),
        click.option(
            "--resume",
            type=click.Path(exists=True, file_okay=False),
            default=None,
            help="Continue an interrupted run of this command in its folder (other options come from it).",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Progress bar [default: on a terminal]; otherwise one line per epoch.",
        ),
        click.option(
            "--figures/--no-figures",
            default=True,
            envvar="REVIVAL_FIGURES",
            show_envvar=True,
            help="Draw the run's figures into RUN_DIR/figures/ when it finishes (see `revival report`).",
        ),
        click.option("--threads", type=Threads(), default="auto", help=THREADS_HELP),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def device_or_exit(spec: str):
    from .runs import resolve_device

    try:
        return resolve_device(spec)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--device") from None


def run_or_exit(fn):
    """Run an experiment; turn its failures into one clear line and the documented exit code:
    1 for run-time failures (each with one line naming the file or option), 2 for options found
    bad only at run time, 130/143 for SIGINT/SIGTERM (saying whether there is anything to resume)."""
    import signal

    from .data import DataError
    from .runs import Diverged, Interrupted, OptionError, one_line

    def terminate(signum, frame):  # SIGTERM outside a training loop: stop like Ctrl-C does
        raise Interrupted(signum)

    old_term = signal.signal(signal.SIGTERM, terminate)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C: KeyboardInterrupt from here on
    try:
        return fn()
    except (Interrupted, KeyboardInterrupt) as e:
        e = e if isinstance(e, Interrupted) else Interrupted(signal.SIGINT)
        path = getattr(e, "run_path", None)
        if path is None:
            msg = f"interrupted ({e}) before a run folder was made; nothing to resume."
        elif e.saved:
            msg = f"interrupted ({e}); the last completed epoch is saved. Continue with --resume {path}"
        else:
            msg = (
                f"interrupted ({e}) before the first epoch ended; nothing was saved yet "
                f"(--resume {path} starts it from epoch 0)."
            )
        click.echo(msg, err=True)
        sys.exit(e.exit_code)
    except Diverged as e:
        kept = (
            "Logged epochs and the last good checkpoint are kept."
            if getattr(e, "saved", False)
            else "No epoch finished, so there is no checkpoint to keep."
        )
        click.echo(f"error: training diverged ({e}); lower --lr. {kept}", err=True)
        sys.exit(1)
    except OptionError as e:
        raise click.BadParameter(str(e), param_hint=e.param_hint) from None
    except DataError as e:
        raise Failure(str(e)) from None
    except (ValueError, OSError) as e:
        raise Failure(one_line(e)) from None
    except Exception as e:  # noqa: BLE001 - whatever else: one line, the traceback in the run folder
        raise Failure(f"unexpected {one_line(e)} (a run folder, if one was made, keeps traceback.txt)") from None
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def _exit_at_once(message: str, cleanup=None):
    """A signal handler that writes ``message`` and ends the process with 128 + the signal number,
    without unwinding: for the start-up (imports, option checks) and the end (figures), where
    there is nothing to save and an exception raised inside a half-done import can surface as
    an unrelated error (numpy's "cannot load module more than once per process")."""
    import os

    def handler(signum, frame):
        try:
            if cleanup is not None:
                cleanup()
            os.write(2, (message + "\n").encode())
        finally:
            os._exit(128 + signum)

    return handler


def _temp_figures(run: Path):
    """Remove the temporary files of figures being written (``figures/.NAME.png.XXXX``)."""

    def cleanup():
        for p in (run / "figures").glob(".*"):
            p.unlink(missing_ok=True)
        for p in run.glob(".summary.md.*"):
            p.unlink(missing_ok=True)

    return cleanup


STARTING = "interrupted before anything started; nothing to resume."


class Group(click.Group):
    """The command group: SIGINT or SIGTERM from the first instant of a command (while it imports
    torch and checks its options) ends it with one line and 130 / 143, not a traceback or Click's
    "Aborted!" with 1; :func:`run_or_exit` then takes over the signals for the run itself."""

    def main(self, *args, **kwargs):
        import signal

        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for s in old:
                signal.signal(s, _exit_at_once(STARTING))
        except ValueError:  # not the main thread (an embedding program): leave its signals alone
            old = {}
        try:
            return super().main(*args, **kwargs)
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo(STARTING, err=True)
            sys.exit(130)


@click.group(cls=Group, context_settings=CONTEXT, no_args_is_help=True)
@click.version_option(__version__, "-V", "--version")
def main():
    """revival: RBM pretraining by contrastive divergence, and dropout, reproduced and measured.

    Every command writes a run folder under --logdir (default runs/); open the curves with
    `tensorboard --logdir runs`.
    """


# options that may change on --resume: more epochs (a run that finished can be extended), another device
RESUME_MAY_CHANGE = {
    "pretrain-rbm": ("epochs", "device"),
    "pretrain-dbn": ("epochs", "device"),
    "pretrain-dbm": ("epochs", "device"),
    "compare-dropout": ("device", "executor", "ray_address", "point_cpus", "point_gpus", "max_retries"),
}
RESUME_NEUTRAL = ("resume", "progress", "config", "figures", "download", "threads", "plan_only")


def given_options(ctx) -> list[str]:
    """Options the user set (command line or --config), not left at their defaults."""
    from click.core import ParameterSource

    return [
        name
        for name in ctx.params
        if ctx.get_parameter_source(name)
        in (ParameterSource.COMMANDLINE, ParameterSource.DEFAULT_MAP, ParameterSource.ENVIRONMENT)
    ]


def prepare(command: str, o: dict, resolve, on_resume=None):
    """What every training command does first: reopen the ``--resume`` folder (its options come from
    its config.json; only --epochs and --device may change, and are recorded) or resolve the
    options of a fresh run, then the device and the progress mode. Returns ``(opts, make_run,
    device, progress, resumed)``; the run folder is made by ``make_run`` only once the data has loaded."""
    from .runs import Run

    resume, progress = o.pop("resume"), o.pop("progress")
    o.pop("figures", None)
    if resume:
        given = [n for n in given_options(click.get_current_context()) if n not in RESUME_NEUTRAL]
        refused = [n for n in given if n not in RESUME_MAY_CHANGE[command]]
        if refused:
            names = ", ".join("--" + n.replace("_", "-") for n in refused)
            raise click.BadParameter(
                f"{names} cannot change on resume (the run keeps the options in its config.json); "
                f"only {', '.join('--' + n.replace('_', '-') for n in RESUME_MAY_CHANGE[command])} may",
                param_hint="--resume",
            )
        changed = {n: o[n] for n in given}
        try:
            run = Run.reopen(resume, command, epochs=changed.get("epochs"))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--resume") from None
        opts = dict(run.config["options"])
        if opts.get("api"):  # made by revival.fit_*: no data set, data folder or split on record to reload
            run.lock.release()
            raise click.BadParameter(
                f"{resume}: a run of the library (revival.fit_*), whose data the run folder does not record; "
                "resume it from Python with logger=revival.RunLogger(resume=RUN) and the same data",
                param_hint="--resume",
            )
        if on_resume is not None:  # the command's own rule for what a changed option means here
            try:
                changed = on_resume(run, opts, changed)
            except ValueError as e:
                run.lock.release()
                raise click.BadParameter(str(e), param_hint="--resume") from None
        if changed:
            run.record_resume(changed)
            opts.update(changed)
        if getattr(run, "was_killed", False):
            click.echo(
                f"{resume}: its last process died without recording how it ended; resuming from the last saved epoch",
                err=True,
            )
        make_run = remembered(run.mark_resumed)
        reopened = run
    else:
        opts = resolve(dict(o))
        make_run = remembered(lambda: Run.create(opts["logdir"], command, opts["name"], {"options": opts}))
    device = device_or_exit(o["device"] if not resume or o["device"] != "auto" else opts["device"])
    if not resume:  # config.json: the device that --device auto (or cuda) resolved to, beside what was asked
        opts["device_used"] = str(device)
    elif opts.get("device_used", str(device)) != str(device):
        reopened.record_resume({"device_used": str(device)})
        opts["device_used"] = str(device)
    if "precision" in opts:  # bf16 only where this device runs it fast (probed; a warning line otherwise)
        from .precision import resolve as resolve_precision

        asked = (opts.get("precision_info") or {}).get("requested", opts["precision"])
        first = lambda v: v[0] if isinstance(v, list) else v  # noqa: E731 (pretrain-dbn: per-layer lists)
        width = first(opts.get("hidden") or opts.get("width") or opts.get("layers") or [500])
        shape = (first(opts.get("batch_size")) or 100, 784, width)  # the run's first product
        opts["precision"], opts["precision_info"] = resolve_precision(
            asked, device, lambda m: click.echo(m, err=True), shape
        )
    n, why = apply_threads(o.get("threads"))
    if not resume:  # the count used, and why
        opts["threads"], opts["threads_chosen_by"] = n, why
    elif opts.get("threads") != n:  # results repeat only at one thread count: a change is on record
        reopened.record_resume({"threads": n, "threads_chosen_by": why})
        opts["threads"], opts["threads_chosen_by"] = n, why
    return opts, make_run, device, sys.stderr.isatty() if progress is None else progress, bool(resume)


def remembered(make):
    """``make`` that keeps the run it made as ``.run`` (for the figures drawn once it finished)."""

    def f():
        f.run = make()
        return f.run

    f.run = None
    return f


def draw_figures(make_run):
    """The finished run's figures (``revival report``) unless ``--no-figures``; a failure here never
    fails the run."""
    if not click.get_current_context().params.get("figures", True) or make_run.run is None:
        return
    import signal

    path = make_run.run.path
    stop = _exit_at_once(
        f"interrupted while drawing the figures: the run itself finished ({path}); "
        f"draw them with: revival report {path}",
        _temp_figures(path),
    )
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        from .report import link_figures, run_figures

        files, missing = run_figures(path)
        link_figures(path, files, missing)
        click.echo(
            f"figures: {len(files)} in {path / 'figures'}"
            + (f" ({len(missing)} not drawn: see summary.md)" if missing else "")
        )
    except Exception as e:  # noqa: BLE001 - the run itself finished; say what went wrong in one line
        click.echo(
            f"figures: not drawn ({type(e).__name__}: {' '.join(str(e).split())}); retry with revival report {path}",
            err=True,
        )
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# ------------------------------------------------------------------------- RBM options
# (name, Click type of one value, help); defaults from experiments.RBM_DEFAULTS / DBN_DEFAULTS.
# pretrain-rbm takes one value each; pretrain-dbn takes the options of E.DBN_PER_LAYER as a comma
# list (one value for all layers, or one per layer).
PRECISION_HELP = (
    "Matrix products in float32, or in bfloat16 with float32 weights, velocities and statistics; bf16 "
    "is used only where a start-up probe measures it >= 1.5x faster (else fp32, with a warning)."
)


def click_type(rule):
    """The Click type of a setting's rule in :mod:`revival.config` (a Range or a tuple of choices),
    so the command line refuses what the library's configs refuse, with the same bounds."""
    from .config import Range

    if not isinstance(rule, Range):
        return click.Choice(list(rule))
    if rule.kind is int:
        return click.IntRange(rule.lo, rule.hi, min_open=rule.lo_open, max_open=rule.hi_open)
    return Finite(rule.lo, rule.hi, min_open=rule.lo_open, max_open=rule.hi_open)


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


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _list_of(t):
    """The list parser matching a one-value Click type (same ranges)."""
    if isinstance(t, click.Choice):
        return _list(str, choices=list(t.choices))
    kind = int if isinstance(t, click.IntRange) else float
    return _list(kind, lo=t.min, hi=t.max, lo_open=t.min_open, hi_open=t.max_open)


def rbm_options(per_layer: bool):
    """The RBM training options; with ``per_layer`` the options of E.DBN_PER_LAYER take lists."""
    defaults = E.DBN_DEFAULTS if per_layer else E.RBM_DEFAULTS

    def deco(f):
        opts = []
        for name, help_ in RBM_OPTIONS:
            t, d = click_type(RBM_CHECKS[name]), defaults[name]
            if per_layer and name in E.DBN_PER_LAYER:
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


# ------------------------------------------------------------------------- commands


@main.command("pretrain-rbm", context_settings=CONTEXT)
@click.option(
    "--hidden", type=click_type(RBM_CHECKS["hidden"]), default=E.RBM_DEFAULTS["hidden"], help="Number of hidden units."
)
@click.option(
    "--binarize",
    type=click_type(RBM_CHECKS["binarize"]),
    default=E.RBM_DEFAULTS["binarize"],
    help="Binary data: one fixed seeded Bernoulli sample per image, pixel >= 128, or grey levels.",
)
@rbm_options(per_layer=False)
@click.option(
    "--ais-every",
    type=click.IntRange(min=0),
    default=E.RBM_DEFAULTS["ais_every"],
    help="Estimate the test log-probability by AIS (1,000 betas) every N epochs; 0 = never.",
)
@click.option(
    "--ais-runs",
    type=click.IntRange(min=0, max=E.MAX_AIS_RUNS),
    default=E.RBM_DEFAULTS["ais_runs"],
    help="AIS runs for log Z; 0 switches AIS (and the final evaluation) off.",
)
@click.option(
    "--ais-betas",
    type=click.IntRange(min=2, max=E.MAX_AIS_BETAS),
    default=E.RBM_DEFAULTS["ais_betas"],
    help="Intermediate distributions of the final AIS evaluation (Salakhutdinov & Murray 2008).",
)
@click.option(
    "--raise-examples",
    type=click.IntRange(min=0),
    default=E.RBM_DEFAULTS["raise_examples"],
    help="With N > 0 the final evaluation is a sandwich: RAISE's conservative estimate on N test examples "
    "beside AIS (see evaluate-rbm --method sandwich).",
)
@click.option(
    "--base-rate",
    type=click.Choice(E.BASE_RATES),
    default=E.RBM_DEFAULTS["base_rate"],
    help="Base-rate model of AIS/RAISE: clipped pixel means, or Salakhutdinov's pseudo-counts.",
)
@common_options
def pretrain_rbm_cmd(**o):
    """Train an RBM on images by contrastive divergence (CD-k) or persistent CD.

    Logs reconstruction error, free energies of training and validation data and their gap,
    pseudo-log-likelihood, weight histograms and filter/sample/reconstruction images every epoch,
    and writes model.pt (public checkpoint format), config.json and summary.json.
    """
    from . import pretrain

    def resolve(opts):
        if opts["lr"] is None:
            opts["lr"] = E.LR_BY_VISIBLE[opts["visible_type"]]
        if opts["momentum"] is None:  # the schedule used, recorded beside the null that selects it
            m = {k: opts.get(k, E.RBM_DEFAULTS[k]) for k in ("initial_momentum", "momentum_epochs", "final_momentum")}
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


@main.command("pretrain-dbn", context_settings=CONTEXT)
@click.option(
    "--layers",
    callback=_list(int, lo=1),
    default=",".join(map(str, E.DBN_DEFAULTS["layers"])),
    help="Hidden units of each layer, bottom first (Hinton & Salakhutdinov 2006: 500,500,2000).",
)
@click.option(
    "--binarize",
    type=click.Choice(["none", "stochastic", "threshold"]),
    default=E.DBN_DEFAULTS["binarize"],
    help="First layer's data: grey levels in [0, 1] (none, as the 2006 code), one fixed seeded Bernoulli "
    "sample per image, or pixel >= 128.",
)
@click.option(
    "--feed",
    type=click.Choice(E.FEEDS),
    default=E.DBN_DEFAULTS["feed"],
    help="Layer k+1 trains on layer k's hidden probabilities (as the 2006 code) or one fixed sample of them.",
)
@click.option(
    "--sample-steps",
    type=click.IntRange(min=0),
    default=E.DBN_DEFAULTS["sample_steps"],
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
    from . import pretrain

    def resolve(opts):
        _check_sparsity(opts)
        try:
            layers = E.per_layer(opts, len(opts["layers"]))
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        # config.json records the values used, not "use the default": each layer's learning rate,
        # and the momentum schedule where no fixed momentum was given
        opts["lr"] = [lo["lr"] for lo in layers]
        if all(lo["momentum"] is None for lo in layers):
            d = E.RBM_DEFAULTS
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


@main.command("evaluate-rbm", context_settings=CONTEXT)
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "--layer",
    type=click.IntRange(min=1),
    default=None,
    help="Layer K of a DBN checkpoint (its data: the up-pass probabilities through layers 1..K-1).",
)
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default=E.EVALUATE_DEFAULTS["split"])
@click.option(
    "--method",
    type=click.Choice(["auto", "ais", "exact", "sandwich"]),
    default=E.EVALUATE_DEFAULTS["method"],
    help="auto: exact enumeration when a layer has at most 25 units, else AIS; sandwich: AIS (optimistic) "
    "and RAISE (conservative, Burda et al. 2015) side by side, with a verdict.",
)
@click.option(
    "--raise-examples",
    type=click.IntRange(min=1),
    default=E.EVALUATE_DEFAULTS["raise_examples"],
    help="Examples RAISE anneals back from (its cost grows with them), with --method sandwich.",
)
@click.option(
    "--raise-chains",
    type=click.IntRange(min=1, max=1000),
    default=E.EVALUATE_DEFAULTS["raise_chains"],
    help="Reverse chains per example for RAISE.",
)
@click.option(
    "--base-rate",
    type=click.Choice(E.BASE_RATES),
    default=E.EVALUATE_DEFAULTS["base_rate"],
    help="AIS/RAISE base-rate model: pixel means clipped to [0.001, 0.999], or Salakhutdinov's 5 "
    "pseudo-counts per 100-case batch.",
)
@click.option(
    "--tolerance",
    type=Finite(min=0),
    default=E.EVALUATE_DEFAULTS["tolerance"],
    help="Nats within which AIS and RAISE read as a tight sandwich.",
)
@click.option("--ais-runs", type=click.IntRange(min=1, max=E.MAX_AIS_RUNS), default=E.EVALUATE_DEFAULTS["ais_runs"])
@click.option(
    "--ais-betas",
    type=click.IntRange(min=2, max=E.MAX_AIS_BETAS),
    default=E.EVALUATE_DEFAULTS["ais_betas"],
    help="Intermediate distributions (default: 500 + 4,000 + 10,000 as Salakhutdinov & Murray).",
)
@click.option(
    "--dataset",
    type=click.Choice(E.DATASETS),
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
@click.option("--device", default="auto", help=E.DEVICE_HELP)
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
    from . import pretrain
    from .runs import jsonable

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


@main.command("report", context_settings=CONTEXT)
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--svg", is_flag=True, help="Also write each figure as SVG.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the overlay of several runs [default: the first run's figures/overlay/].",
)
def report_cmd(runs, svg, out):
    """Draw the figures of finished (or stopped) runs from their own files into RUN_DIR/figures/
    and link them from summary.md: pretrain-rbm / pretrain-dbn monitors, filters and samples;
    compare-dropout's train vs test error per epoch (overfitting), test loss and the sweep plots
    (test error against training-set size, drop rate or depth, with the paper's figure). Given
    several runs of one command it also overlays them, labelled by run name.
    """
    import signal

    from .report import NotARun, check_runs, link_figures, overlay_figures, run_figures

    try:
        check_runs([Path(r) for r in runs])
    except NotARun as e:
        raise click.BadParameter(str(e), param_hint="RUNS") from None
    if out and len(runs) == 1:
        click.echo("--out is the folder of the overlay of several runs; with one run it is not used", err=True)
    overlay = Path(out) if out else Path(runs[0]) / "figures" / "overlay"
    if len(runs) > 1 and out:  # checked before any drawing; the default is checked with runs[0]'s figures/
        try:
            if overlay.is_symlink():
                raise OSError(f"{overlay}: is a link; give a real folder")
            overlay.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise click.BadParameter(f"cannot make the folder {overlay} ({_os_line(e)})", param_hint="--out") from None
    for r in runs:  # a signal here: one line, what to run again, 130 / 143 (no run is changed but figures/)
        stop = _exit_at_once(
            f"interrupted while drawing the figures of {r}; run revival report again", _temp_figures(Path(r))
        )
        old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            files, missing = run_figures(Path(r), svg)
            link_figures(Path(r), files, missing)
        except NotARun as e:
            raise click.BadParameter(str(e), param_hint="RUNS") from None
        except OSError as e:
            raise Failure(f"{r}: figures not drawn: {_os_line(e)}") from None
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        click.echo(f"{r}: {len(files)} figure file(s) in {Path(r) / 'figures'}")
        for m in missing:
            click.echo(f"{r}: not drawn: {m}")
    if len(runs) > 1:
        try:
            files, _ = overlay_figures([Path(r) for r in runs], overlay, svg)
        except NotARun as e:
            raise click.BadParameter(str(e), param_hint="RUNS") from None
        except OSError as e:
            raise Failure(f"overlay not drawn: {_os_line(e)}") from None
        click.echo(f"overlay: {', '.join(str(f) for f in files)}")


def _run_kind(path: Path) -> str | None:
    """The command that made the run folder ``path`` (from its config.json), without torch; None
    for a file or a folder that is not a run."""
    import json

    try:
        cfg = json.loads((path / "config.json").read_text()) if path.is_dir() else None
    except (OSError, ValueError):
        return None
    return cfg.get("command") if isinstance(cfg, dict) else None


def _os_line(e: OSError) -> str:
    """An OSError as ``file: reason`` in one line (no torch needed, unlike runs.one_line)."""
    if e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return " ".join(str(e).split())


from . import cli_compare, cli_dbm  # noqa: E402, F401 (register compare-dropout and pretrain-dbm on the group)

if __name__ == "__main__":
    main()
