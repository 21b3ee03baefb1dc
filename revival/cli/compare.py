"""``revival compare-dropout``: its options (generated from :class:`revival.config.CompareConfig`, plus
the command's own :data:`COMMAND_OPTIONS`), options -> a resolved run ->
:func:`revival.experiments.compare.compare_dropout` (or its plan, or the preset's ``--explain`` table)."""

from __future__ import annotations

import click

from revival import presets
from revival.cli.common import CONTEXT, check_fits, common_options, draw_figures, given_options, prepare, run_or_exit
from revival.cli.options import _per_variant, config_options
from revival.config import CompareConfig, defaults, resolve_compare

# the command's own options, (names, click.option keywords); every setting is generated from CompareConfig
COMMAND_OPTIONS = [
    (
        ("--plan", "plan_only"),
        dict(
            is_flag=True,
            default=False,
            help="Print the run's points with their epochs, weight updates and estimated time on this machine "
            "(a few updates of each net timed now; the share its evaluations take), and exit; runs of 100,000 updates "
            "or more print it at the start.",
        ),
    ),
    (
        ("--explain",),
        dict(
            is_flag=True,
            default=False,
            help="Print the preset's settings, each with its source (paper section or revival's choice), and exit.",
        ),
    ),
    # CompareConfig.variant_options on the command line, a setting at a time
    (
        ("--variant-lr",),
        dict(
            callback=_per_variant,
            default=None,
            help="A learning rate of a variant's own, e.g. baseline=0.1,dropout-maxnorm=10 (recorded per point; "
            "tune it on the validation error, never on test).",
        ),
    ),
    (
        ("--variant-momentum",),
        dict(callback=_per_variant, default=None, help="A final momentum of a variant's own, e.g. baseline=0.9."),
    ),
]


def compare_options(f):
    """CompareConfig's settings (defaults None: the preset decides) and :data:`COMMAND_OPTIONS`."""
    for names, kwargs in reversed(COMMAND_OPTIONS):
        f = click.option(*names, **kwargs)(f)
    return config_options(CompareConfig, unset=True, keep=("preset",))(f)


@click.command("compare-dropout", context_settings=CONTEXT)
@compare_options
@common_options
def compare_dropout_cmd(**o):
    """Train one network with and without regularization, from random or pretrained weights, on the
    same data and compare them.

    Defaults shown as "in preset quick" are that preset's values; another --preset sets its own
    (--preset NAME --explain lists every value a run uses, and where it comes from).

    Every variant logs error/train|valid|test and loss/... per epoch into its own sub-folder (one
    custom-scalars chart overlays them); summary.md tables train/test error, the generalization gap,
    Monte-Carlo vs weight-scaling inference, and the paper's figure where the preset has one.
    """
    if "dataset" not in given_options(click.get_current_context()):
        o["dataset"] = None  # the preset's (larochelle2007: mnist-basic), else mnist
    own = {}
    for key, opt in (("lr", "variant_lr"), ("final_momentum", "variant_momentum")):
        for v, x in (o.pop(opt, None) or {}).items():
            own.setdefault(v, {})[key] = x
    o["variant_options"] = own or None
    if o.pop("explain"):
        from revival.reporting.summaries import explain_markdown  # here: the CLI starts without torch

        try:
            opts = resolve_compare(dict(o))
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        click.echo(explain_markdown(opts, presets.PRESETS[opts["preset"]]))
        return
    from revival.experiments import compare as C  # here: the CLI starts without torch

    def resolve(opts):
        try:
            opts = resolve_compare(opts)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        if opts.get("width") is not None and not opts.get("depths"):
            raise click.BadParameter(
                "--width sets the units of every layer of a --depths sweep; without --depths "
                "give the net with --layers",
                param_hint="--width",
            )
        deepest = max((presets.hidden_layers(opts, d) for d in (opts.get("depths") or [None])), key=sum)
        sizes = [784, *deepest, 10]
        shape = "-".join(map(str, sizes)) if len(sizes) <= 8 else f"784-({len(deepest)} x {deepest[0]})-10"
        check_fits(
            "--layers" if not opts.get("depths") else "--depths",
            sum(6 * a * b for a, b in zip(sizes, sizes[1:])) + 5_000 * sum(sizes),
            f"a {shape} net",
        )
        return opts

    plan_only = o.pop("plan_only")
    opts, make_run, device, progress, _ = prepare("compare-dropout", o, resolve)
    if plan_only:
        run_or_exit(lambda: C.print_plan(opts, device, click.echo))
        return
    run_or_exit(lambda: C.compare_dropout(opts, device, make_run, click.echo, progress))
    draw_figures(make_run)


def _show_preset_defaults(command):
    """``-h`` shows what an option left unset becomes: the quick preset's value (or revival's
    default under it); another --preset may set its own (``--explain`` lists them)."""
    quick = resolve_compare({"preset": "quick"})
    for p in command.params:
        if isinstance(p, click.Option) and p.default is None and p.name in defaults(CompareConfig) and not p.is_flag:
            v = quick.get(p.name)
            if v is None or p.name in ("preset",):
                continue
            text = ",".join(map(str, v)) if isinstance(v, list) else f"{v:g}" if isinstance(v, float) else str(v)
            if isinstance(v, bool):
                text = "yes" if v else "no"
            p.show_default = f"{text} in preset quick"


_show_preset_defaults(compare_dropout_cmd)
