"""``revival compare-dropout``: its option table (:data:`COMPARE_OPTIONS`, values and ranges from
:mod:`revival.experiments` and :mod:`revival.config`), options -> a resolved run -> :func:`revival.experiments.compare.compare_dropout`
(or its plan, or the preset's ``--explain`` table). Registered on the ``revival`` group by :mod:`revival.cli`."""

from __future__ import annotations

import click

from revival import tables as T
from revival.cli.common import (
    CONTEXT,
    Finite,
    _list,
    _per_variant,
    check_fits,
    click_type,
    common_options,
    draw_figures,
    given_options,
    prepare,
    run_or_exit,
)
from revival.config import PRECISION_HELP, NetConfig, rule
from revival.experiments import presets

# compare-dropout's own options, in the order -h lists them: (names, click.option keywords)
COMPARE_OPTIONS = [
    (
        ("--preset",),
        dict(
            type=click.Choice(list(presets.PRESETS)),
            default="quick",
            help="Named settings (with the paper's numbers); options given here override it.",
        ),
    ),
    (
        ("--variants",),
        dict(
            callback=_list(str, choices=list(presets.VARIANTS)),
            help="Comma-separated variants [default: from --preset].",
        ),
    ),
    (
        ("--layers",),
        dict(callback=_list(int, lo=1), help="Hidden layer sizes, e.g. 1024,1024 [default: from --preset]."),
    ),
    (
        ("--activation",),
        dict(
            type=click_type(rule(NetConfig, "activation")),
            default=None,
            help="Hidden units (logistic whenever a pretrained variant runs).",
        ),
    ),
    (
        ("--loss",),
        dict(
            type=click_type(rule(NetConfig, "loss")),
            default=None,
            help="Cross-entropy of the softmax, or squared error between the softmax and the one-hot target.",
        ),
    ),
    (("--epochs",), dict(type=click_type(rule(NetConfig, "epochs")), default=None)),
    (("--batch-size",), dict(type=click_type(rule(NetConfig, "batch_size")), default=None)),
    (("--lr",), dict(type=click_type(rule(NetConfig, "lr")), default=None)),
    (
        ("--lr-decay",),
        dict(
            type=click_type(rule(NetConfig, "lr_decay")),
            default=None,
            help="Learning rate multiplied by this every epoch.",
        ),
    ),
    (("--initial-momentum",), dict(type=click_type(rule(NetConfig, "initial_momentum")), default=None)),
    (("--final-momentum",), dict(type=click_type(rule(NetConfig, "final_momentum")), default=None)),
    (
        ("--momentum-epochs",),
        dict(
            type=click_type(rule(NetConfig, "momentum_epochs")),
            default=None,
            help="Epochs of the linear momentum ramp.",
        ),
    ),
    (("--dampen/--no-dampen",), dict(default=None, help="Scale each step by (1 - momentum) (Hinton et al. 2012).")),
    (
        ("--weight-decay",),
        dict(
            type=click_type(rule(NetConfig, "weight_decay")),
            default=None,
            help="L2 strength of *-weight-decay variants.",
        ),
    ),
    (
        ("--max-norm",),
        dict(
            type=click_type(rule(NetConfig, "max_norm")),
            default=None,
            help="Bound c on each hidden unit's incoming weight norm (max-norm variants).",
        ),
    ),
    (
        ("--input-dropout",),
        dict(
            type=click_type(rule(NetConfig, "input_dropout")),
            default=None,
            help="Drop probability of input pixels (dropout variants).",
        ),
    ),
    (
        ("--hidden-dropout",),
        dict(
            type=click_type(rule(NetConfig, "hidden_dropout")),
            default=None,
            help="Drop probability of hidden units (dropout variants).",
        ),
    ),
    (
        ("--mc-samples",),
        dict(
            type=click.IntRange(min=0),
            default=None,
            help="Monte-Carlo masks for the final test error of dropout variants (0 = off).",
        ),
    ),
    (
        ("--seeds",),
        dict(
            type=click.IntRange(min=1, max=T.MAX_SEEDS),
            default=None,
            help="Repeat with seeds seed .. seed+N-1 (every point trains N times).",
        ),
    ),
    (("--train-sizes",), dict(callback=_list(int, lo=1), help="Sweep the training set size (Figure 10).")),
    (
        ("--dropout-rates",),
        dict(callback=_list(float, lo=0, hi=1, hi_open=True), help="Sweep the hidden drop probability (Figure 9)."),
    ),
    (
        ("--depths",),
        dict(
            callback=_list(int, lo=1),
            help="Sweep the number of hidden layers, each of --width units (Erhan et al. 2010).",
        ),
    ),
    (
        ("--width",),
        dict(
            type=click.IntRange(min=1),
            default=None,
            help="Units per hidden layer with --depths [default: the first of --layers].",
        ),
    ),
    (
        ("--activations",),
        dict(
            callback=_list(str, choices=T.ACTIVATIONS),
            help="Sweep the hidden units, e.g. logistic,tanh,relu (Glorot & Bengio 2010).",
        ),
    ),
    (("--losses",), dict(callback=_list(str, choices=T.LOSSES), help="Sweep the cost function: cross-entropy,mse.")),
    (
        ("--init-schemes",),
        dict(
            callback=_list(str, choices=T.INIT_SCHEMES), help="Sweep the initial weights, e.g. standard-uniform,glorot."
        ),
    ),
    (
        ("--min-updates",),
        dict(
            type=click.IntRange(min=0),
            default=None,
            help="Train each net for at least this many weight updates (small training sets get more epochs, "
            "evaluated about --epochs times); 0 = --epochs for every size.",
        ),
    ),
    (
        ("--monitor-layers/--no-monitor-layers",),
        dict(
            default=None,
            help="Log each layer's gradient norm, each hidden layer's mean and saturated share, and activation "
            "histograms every epoch.",
        ),
    ),
    (
        ("--eval-train-size",),
        dict(
            type=click_type(rule(NetConfig, "eval_train_size")),
            default=None,
            help="Training examples used for the per-epoch train error.",
        ),
    ),
    (
        ("--dropout-scaling",),
        dict(
            type=click_type(rule(NetConfig, "dropout_scaling")),
            default=None,
            help="Bernoulli dropout as the papers (no rescaling in training, weights x retain probability at test "
            "time) or inverted (kept units / retain probability in training).",
        ),
    ),
    (
        ("--max-norm-layers",),
        dict(
            type=click_type(rule(NetConfig, "max_norm_layers")),
            default=None,
            help="Max-norm on hidden units only, or on every layer's units (output too).",
        ),
    ),
    (
        ("--init-scheme",),
        dict(
            type=click_type(rule(NetConfig, "init_scheme")),
            default=None,
            help="Initial weights: he N(0,2/fan_in), fan-in N(0,1/fan_in), small-gaussian N(0,0.01^2), "
            "standard-uniform U(+-1/sqrt(fan_in)), glorot U(+-sqrt(6/(fan_in+fan_out))); auto = he for ReLU, "
            "fan-in otherwise.",
        ),
    ),
    (
        ("--retrain-on-full/--no-retrain-on-full",),
        dict(
            default=None,
            help="After training on 50,000 (valid held out), train a fresh net on all 60,000 for the same number "
            "of updates and report its test error too (the papers' protocol).",
        ),
    ),
    (
        ("--train-on-all/--no-train-on-all",),
        dict(
            default=None,
            help="Train once on the training and validation images together (60,000 for MNIST), for protocols "
            "whose length is fixed in advance; the validation error is then on training images.",
        ),
    ),
    (
        ("--restore-best/--no-restore-best",),
        dict(
            default=None,
            help="Keep each net's weights of its epoch of lowest validation error (Keras' restore_best_weights); "
            "its errors are then that epoch's. Off: the schedule's last epoch, as the papers ran it. Every row "
            "reports the best validation epoch and the test error at it either way.",
        ),
    ),
    (
        ("--patience",),
        dict(
            type=click_type(rule(NetConfig, "patience")),
            default=None,
            help="Early stopping: end a net's training when this many epochs have passed since its lowest "
            "validation error (Keras' EarlyStopping patience); with --retrain-on-full the second phase trains "
            "to the chosen epoch.",
        ),
    ),
    (
        (
            "--plan",
            "plan_only",
        ),
        dict(
            is_flag=True,
            default=False,
            help="Print the run's points with their epochs, weight updates and estimated time on this machine "
            "(a few updates of each net timed now), and exit; runs of 100,000 updates or more print it at the start.",
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
    (
        ("--init",),
        dict(
            type=click.Path(exists=True),
            default=None,
            help="RBM or DBN checkpoint (run folder or file) the pretrained variants start from; without it they "
            "pretrain a DBN here on each point's training images (no labels).",
        ),
    ),
    (
        ("--pretrain-epochs",),
        dict(
            type=click.IntRange(min=1),
            default=None,
            help="Epochs per layer of the in-experiment pretraining (CD, grey levels).",
        ),
    ),
    (
        ("--pretrain-lr",),
        dict(type=Finite(min=0, min_open=True), default=None, help="Learning rate of the in-experiment pretraining."),
    ),
    (
        ("--pretrain-cd-k",),
        dict(type=click.IntRange(min=1), default=None, help="CD-k of the in-experiment pretraining."),
    ),
    (
        ("--pretrain-batch-size",),
        dict(type=click.IntRange(min=1), default=None, help="Batch size of the in-experiment pretraining."),
    ),
    (
        ("--pretrain-init-std",),
        dict(
            type=Finite(min=0, min_open=True),
            default=None,
            help="Initial RBM weights N(0, s^2) of the in-experiment pretraining.",
        ),
    ),
    (
        ("--pretrain-visible-bias-init",),
        dict(
            type=click.Choice(T.VISIBLE_BIAS_INITS),
            default=None,
            help="Initial RBM visible biases of the in-experiment pretraining.",
        ),
    ),
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
    (
        ("--eval-every",),
        dict(
            type=click_type(rule(NetConfig, "eval_every")),
            default=None,
            help="Evaluate (train subset, validation, test), log and save every K epochs and after the last, "
            "instead of every epoch: long runs stop paying for what nobody reads.",
        ),
    ),
    (
        ("--dbm-epochs",),
        dict(
            type=click.IntRange(min=0),
            default=None,
            help="dbm-pretrained variants: epochs of joint PCD training of the DBM after its two pretraining "
            "RBMs (--pretrain-epochs each).",
        ),
    ),
    (
        ("--dbm-lr",),
        dict(
            type=Finite(min=0, min_open=True),
            default=None,
            help="dbm-pretrained variants: learning rate of the DBM's joint training.",
        ),
    ),
    (
        ("--freeze-pretrained-epochs",),
        dict(
            type=click_type(rule(NetConfig, "freeze_pretrained_epochs")),
            default=None,
            help="Epochs at the start of fine-tuning in which the pretrained variants train only the new output "
            "layer (Hinton & Salakhutdinov's backpropclassify.m: 5).",
        ),
    ),
    (
        ("--precision",),
        dict(
            type=click_type(rule(NetConfig, "precision")),
            default=None,
            help=PRECISION_HELP + " Evaluation stays float32.",
        ),
    ),
    (
        ("--executor",),
        dict(
            type=click.Choice(T.EXECUTORS),
            default=None,
            help="Run the grid's points one after another here, or as Ray tasks (needs revival[ray]; the run "
            "folder must be on storage every node sees).",
        ),
    ),
    (
        ("--ray-address",),
        dict(default=None, help="Ray cluster to join (auto, ray://host:port) [default: start a local Ray instance]."),
    ),
    (
        ("--point-cpus",),
        dict(
            type=Finite(min=0, min_open=True),
            default=None,
            help="CPUs per point with --executor ray (also its torch threads).",
        ),
    ),
    (
        ("--point-gpus",),
        dict(
            type=Finite(min=0),
            default=None,
            help="GPUs per point with --executor ray, fractional to share one (0.25: four points a GPU).",
        ),
    ),
    (
        ("--max-retries",),
        dict(
            type=click.IntRange(min=0, max=100),
            default=None,
            help="Retries of a point whose task fails or whose worker dies, before it is recorded as failed.",
        ),
    ),
]


def compare_options(f):
    """Declare :data:`COMPARE_OPTIONS` on the command ``f``."""
    for names, kwargs in reversed(COMPARE_OPTIONS):
        f = click.option(*names, **kwargs)(f)
    return f


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
        from revival.reporting.report import explain_markdown

        try:
            opts = presets.resolve_compare(dict(o))
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        click.echo(explain_markdown(opts, presets.PRESETS[opts["preset"]]))
        return
    from revival.experiments import compare as C

    def resolve(opts):
        try:
            opts = presets.resolve_compare(opts)
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
    quick = presets.resolve_compare({"preset": "quick"})
    for p in command.params:
        if isinstance(p, click.Option) and p.default is None and p.name in T.COMPARE_DEFAULTS and not p.is_flag:
            v = quick.get(p.name)
            if v is None or p.name in ("preset",):
                continue
            text = ",".join(map(str, v)) if isinstance(v, list) else f"{v:g}" if isinstance(v, float) else str(v)
            if isinstance(v, bool):
                text = "yes" if v else "no"
            p.show_default = f"{text} in preset quick"


_show_preset_defaults(compare_dropout_cmd)
