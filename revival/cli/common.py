"""What every command shares: Click types and option groups generated from the tables, reading
``--config`` TOML, the ``--resume`` and run-folder preparation (:func:`prepare`), and running a
command so that every failure is one line with its exit code (:func:`run_or_exit`)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from revival import tables as T
from revival.cli.options import Threads
from revival.memory import memory_problem
from revival.runs.folder import Diverged, Interrupted, OptionError, ResumeRefused, Run, name_problem, one_line
from revival.threads import auto_threads

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
        import tomllib  # by Python version
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # by Python version
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


def check_fits(option: str, n_floats: int, what: str):
    """Exit 2 naming ``option`` when ``n_floats`` 4-byte numbers would not fit in this machine's
    memory (:func:`revival.memory.memory_problem`, the library's rule too), so a huge size fails with one
    line instead of an allocation traceback."""

    why = memory_problem(n_floats, what)
    if why:
        raise click.BadParameter(why, param_hint=option)


def apply_threads(value) -> tuple[int, str]:
    """Give torch the threads of ``--threads auto|N`` and say why that many: ``auto`` is the cores
    free when the run starts, or $OMP_NUM_THREADS when set (:mod:`revival.threads`). Called once
    the options are known good, so a bad option is refused before torch is imported."""
    import torch  # here: the CLI starts without torch

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
            type=click.Choice(T.DATASETS),
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
        click.option("--device", default="auto", help=T.DEVICE_HELP),
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
    from revival.runs import resolve_device  # here: the CLI starts without torch

    try:
        return resolve_device(spec)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--device") from None


def run_or_exit(fn):
    """Run an experiment; turn its failures into one clear line and the documented exit code:
    1 for run-time failures (each with one line naming the file or option), 2 for options found
    bad only at run time, 130/143 for SIGINT/SIGTERM (saying whether there is anything to resume)."""

    from revival.data import DataError  # here: the CLI starts without numpy

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

    resume, progress = o.pop("resume"), o.pop("progress")
    o.pop("figures", None)
    if resume:
        given = [n for n in given_options(click.get_current_context()) if n not in RESUME_NEUTRAL]
        changed = {n: o[n] for n in given}
        try:
            run = Run.resume(resume, command, changed, RESUME_MAY_CHANGE[command])
        except ResumeRefused as e:
            flags = lambda names: ", ".join("--" + n.replace("_", "-") for n in names)  # noqa: E731
            raise click.BadParameter(
                f"{flags(e.names)} cannot change on resume (the run keeps the options in its config.json); "
                f"only {flags(e.may_change)} may",
                param_hint="--resume",
            ) from None
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
        from revival.training.precision import resolve as resolve_precision  # here: the CLI starts without torch

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

    path = make_run.run.path
    stop = _exit_at_once(
        f"interrupted while drawing the figures: the run itself finished ({path}); "
        f"draw them with: revival report {path}",
        _temp_figures(path),
    )
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        from revival.reporting.report import link_figures, run_figures  # here: the CLI starts without torch

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


def _run_kind(path: Path) -> str | None:
    """The command that made the run folder ``path`` (from its config.json), without torch; None
    for a file or a folder that is not a run."""

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
