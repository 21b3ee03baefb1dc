"""The options' Click types, generated from the configs' settings: ranges and choices as the
configs declare them (:func:`click_type`, :func:`config_options`), comma-separated lists, per-variant
values, thread counts; and a config built from a command's options with Click's error on a bad one
(:func:`checked`)."""

from __future__ import annotations

import math
import re
from dataclasses import fields

import click

from revival import presets
from revival.config import FLAG, Range, option_name, rule_of
from revival.config.base import default_of
from revival.errors import ConfigError
from revival.threads import MAX_THREADS, omp_threads


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
        if name not in presets.VARIANTS:
            raise click.BadParameter(f"unknown variant {name!r}; choose from {', '.join(presets.VARIANTS)}")
        try:
            x = float(num)
        except ValueError:
            raise click.BadParameter(f"{num!r} is not a number") from None
        low_ok = param.name == "variant_momentum"
        if not math.isfinite(x) or x < 0 or (x == 0 and not low_ok) or (low_ok and x >= 1):
            raise click.BadParameter(f"{name}={num}: give a finite number {'in [0, 1)' if low_ok else '> 0'}")
        out[name] = x
    return out


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


def click_type(rule):
    """The Click type of a setting's rule in :mod:`revival.config` (a Range or a tuple of choices),
    so the command line refuses what the library's configs refuse, with the same bounds."""
    if not isinstance(rule, Range):
        return click.Choice(list(rule))
    if rule.kind is int:
        return click.IntRange(rule.lo, rule.hi, min_open=rule.lo_open, max_open=rule.hi_open)
    return Finite(rule.lo, rule.hi, min_open=rule.lo_open, max_open=rule.hi_open)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _list_of(t):
    """The list parser matching a one-value Click type (same ranges)."""
    if isinstance(t, click.Choice):
        return _list(str, choices=list(t.choices))
    kind = int if isinstance(t, click.IntRange) else float
    return _list(kind, lo=t.min, hi=t.max, lo_open=t.min_open, hi_open=t.max_open)


def config_options(cls, only: tuple | None = None, unset: bool = False, keep: tuple = (), sources: bool = False):
    """The Click options of a config class's settings that have a help text (:func:`revival.config.setting`),
    in field order (``only``: just these): the type, range or choices, default and help come from the
    field, so ``-h`` shows the library's default and the option refuses what the config refuses. A
    per-layer setting takes one value or a comma-separated list (one per layer), a ``many`` one a
    comma-separated list; a bool one is a flag. ``unset``: every default None (a preset decides what
    an option left out becomes), except the fields in ``keep``. ``sources``: each help ends with where
    its default comes from (the field's ``source``)."""

    def deco(f):
        opts = []
        for fl in fields(cls):
            help_, name = fl.metadata.get("help"), option_name(fl)
            if not help_ or (only is not None and name not in only):
                continue
            rule, d = rule_of(fl), default_of(fl)
            if sources and fl.metadata.get("source"):
                help_ += f" Source: {fl.metadata['source']}."
            if unset and name not in keep:
                d = None
            elif isinstance(d, tuple):
                d = ",".join(map(str, d))
            if rule is FLAG:
                opts.append(click.option(f"{_flag(name)}/--no-{name.replace('_', '-')}", default=d, help=help_))
            elif fl.name == "layers":
                opts.append(click.option(_flag(name), callback=_list(int, lo=1), default=d, help=help_))
            elif fl.metadata.get("many"):
                opts.append(click.option(_flag(name), callback=_list_of(click_type(rule)), default=d, help=help_))
            elif fl.metadata.get("per_layer"):
                d = None if d is None else str(d)
                help_ += " One value, or one per layer (comma-separated)."
                opts.append(click.option(_flag(name), callback=_list_of(click_type(rule)), default=d, help=help_))
            elif fl.metadata.get("path"):
                opts.append(click.option(_flag(name), type=click.Path(exists=True), default=d, help=help_))
            elif rule is None:
                opts.append(click.option(_flag(name), default=d, help=help_))
            else:
                opts.append(click.option(_flag(name), type=click_type(rule), default=d, help=help_))
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def checked(cls, opts: dict):
    """``cls.from_options(opts)``; a ConfigError becomes Click's bad-option error (exit 2), the
    settings it names written as their options (``sparsity_target`` -> ``--sparsity-target``)."""
    try:
        return cls.from_options(opts)
    except ConfigError as e:
        name = e.field.split(".")[-1]
        msg = str(e).split(": ", 1)[-1]
        for fl in fields(cls):
            msg = re.sub(rf"\b{fl.name}\b", _flag(option_name(fl)), msg)
        hint = next((_flag(option_name(fl)) for fl in fields(cls) if fl.name == name), None)
        raise click.BadParameter(msg, param_hint=hint) from None
