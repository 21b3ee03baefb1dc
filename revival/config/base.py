"""The machinery every config shares: :func:`setting` (a field declared once with its default, rule,
help and source), :class:`Range`, the checks, and ``to_dict`` / ``from_dict`` / ``from_options``."""

from __future__ import annotations

import math
import numbers
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from revival.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """A number's allowed interval (``lo_open``/``hi_open``: the end itself excluded); ``kind`` int or
    float. Floats must also be finite."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    kind: type = float

    def text(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}{')' if self.hi_open or self.hi is None else ']'}"

    def problem(self, x) -> str | None:
        """Why ``x`` is not allowed, or None."""
        if isinstance(x, bool) or not isinstance(x, numbers.Integral if self.kind is int else numbers.Real):
            return f"expected {'a whole number' if self.kind is int else 'a number'}, got {x!r}"
        if not math.isfinite(x):
            return f"{x!r} is not a finite number"
        if (self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo)) or (
            self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi)
        ):
            return f"{x!r} is outside {self.text()}"
        return None


POSITIVE_INT, COUNT = Range(1, kind=int), Range(0, kind=int)
POSITIVE = Range(0, lo_open=True)
PROBABILITY_BELOW_1 = Range(0, 1, hi_open=True)  # dropout rates and momenta: 1 would stop learning
SEED = Range(0, 2**63 - 1, kind=int)
FLAG = (False, True)


def setting(
    default,
    rule=None,
    help: str = "",
    source: str = "",
    *,
    option: str | None = None,
    per_layer=False,
    many=False,
    path=False,
):
    """A config field declared once: ``default``; ``rule``, a :class:`Range` or a tuple of choices
    (None: text, or a flag when the default is a bool); ``help``, the text of its command-line option
    (empty: the commands do not offer it); ``source``, where the default comes from; ``option``, the
    option's name where it differs from the field's (``n_hidden`` is ``--hidden``); ``per_layer``:
    one value, or a tuple with one per layer; ``many``: a list of values (None: unset), each checked
    by ``rule``, given on the command line as a comma-separated list; ``path``: a file or folder that
    must exist."""
    meta = {"rule": rule, "help": help, "source": source, "option": option, "per_layer": per_layer, "many": many}
    meta["path"] = path
    if isinstance(default, (dict, list)):  # a fresh copy for every config
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def default_of(f):
    """Field ``f``'s default (a dict or list default is made by its factory)."""
    return f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default


def rule_of(f) -> object:
    """The rule of field ``f`` (a bool field's is :data:`FLAG`)."""
    rule = f.metadata.get("rule")
    return FLAG if rule is None and isinstance(f.default, bool) else rule


def rule(cls, name: str):
    """The rule of setting ``name`` of config class ``cls``."""
    return rule_of(cls.__dataclass_fields__[name])


def option_name(f) -> str:
    """The name of field ``f`` on the command line and in a command's options dict."""
    return f.metadata.get("option") or f.name


def check_value(owner: str, name: str, value, rule) -> None:
    """ConfigError unless ``value`` satisfies ``rule`` (a :class:`Range` or a tuple of choices)."""
    if isinstance(rule, Range):
        why = rule.problem(value)
    elif rule is FLAG:
        why = None if isinstance(value, bool) else f"expected True or False, got {value!r}"
    else:
        why = None if value in rule else f"{value!r} is not one of {', '.join(map(str, rule))}"
    if why:
        raise ConfigError(f"{owner}.{name}", why)


def defaults(cls) -> dict:
    """``{option name: default}`` of a config class's settings (not its ``seed`` and ``device``)."""
    out = {option_name(f): default_of(f) for f in fields(cls) if "rule" in f.metadata}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}  # as the commands' lists


def as_given(cls, options: dict) -> dict:
    """``options`` as a command line gives them, read the same way: a list setting may be
    comma-separated text (``variants="baseline,dropout"``, ``layers="500,500"``), one value a
    one-element list; everything else is left for the config's checks."""
    out = dict(options)
    for f in fields(cls):
        v = out.get(option_name(f))
        several = f.name == "layers" or f.metadata.get("many") or f.metadata.get("per_layer")
        if not several or v is None or isinstance(v, bool):
            continue
        items = [t.strip() for t in v.split(",")] if isinstance(v, str) else v if isinstance(v, (list, tuple)) else [v]
        rule = POSITIVE_INT if f.name == "layers" else rule_of(f)
        kind = rule.kind if isinstance(rule, Range) else None
        conv = []
        for t in items:
            if isinstance(t, str) and kind is not None:
                try:
                    t = kind(t)
                except ValueError:
                    raise ConfigError(f"{cls.__name__}.{f.name}", f"{t!r} is not a valid {kind.__name__}") from None
            conv.append(t)
        out[option_name(f)] = conv
    return out


class _Config:
    """What the configs share: checking, ``to_dict`` / ``from_dict``, ``from_options`` and ``replace``."""

    def _check(self):
        """Every value when the config is made: None only where the field's default is None ("unset"),
        a tuple only where the field takes one value per layer, each value its field's range or choices,
        the text fields text."""
        owner = type(self).__name__
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "layers" or isinstance(v, dict):
                continue  # layers: checked by _positive_ints; a dict (compare's variant_options): by its owner
            several = f.metadata.get("per_layer") or f.metadata.get("many")
            if isinstance(v, list) and several:
                v = tuple(v)
                object.__setattr__(self, f.name, v)
            if isinstance(v, tuple) and not several:
                raise ConfigError(f"{owner}.{f.name}", f"expected one value, got {v!r}")
            if f.metadata.get("many") and v is not None and not isinstance(v, tuple):
                raise ConfigError(f"{owner}.{f.name}", f"expected a list, got {v!r}")
            if f.metadata.get("path") and v is not None and not Path(v).exists():
                raise ConfigError(f"{owner}.{f.name}", f"{v}: no such file or folder")
            rule = rule_of(f)
            for x in v if isinstance(v, tuple) else (v,):
                if x is None:
                    if default_of(f) is not None:
                        raise ConfigError(f"{owner}.{f.name}", f"expected a value (default {f.default!r}), got None")
                elif f.name == "seed":
                    check_value(owner, "seed", x, SEED)
                elif rule is not None:
                    check_value(owner, f.name, x, rule)
                elif isinstance(f.default, str) and not isinstance(x, str):
                    raise ConfigError(f"{owner}.{f.name}", f"expected text such as {f.default!r}, got {x!r}")

    def to_dict(self) -> dict:
        """Plain JSON-able values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict):
        """The config of ``d``; ConfigError naming any key that is not one of its fields."""
        names = [f.name for f in fields(cls)]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise ConfigError(f"{cls.__name__}.{unknown[0]}", f"unknown setting; the settings are {', '.join(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @classmethod
    def from_options(cls, opts: dict):
        """The config of a command's options of the same names (``--hidden`` -> ``n_hidden``); the
        command's own keys (data set, run folder, ...) are left out, and so is ``device`` (the command
        resolves it)."""
        picked = {f.name: opts[option_name(f)] for f in fields(cls) if option_name(f) in opts and f.name != "device"}
        return cls.from_dict({k: cls._option_value(k, v) for k, v in picked.items()})

    @staticmethod
    def _option_value(name: str, value):
        return value

    def replace(self, **changes):
        """A copy with ``changes`` (checked like a new config)."""
        return type(self).from_dict({**self.to_dict(), **changes})


def _positive_ints(owner: str, name: str, v) -> tuple:
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v,)
    try:
        v = tuple(v)
    except TypeError:
        raise ConfigError(f"{owner}.{name}", f"expected a sequence of layer sizes, got {v!r}") from None
    for x in v:
        check_value(owner, name, x, POSITIVE_INT)
    return v


def _copy(cls, name: str, default=MISSING, **meta):
    """Field ``name`` of config ``cls`` for another config: the same declaration (default, rule, help,
    source), with ``default`` or metadata changed where given."""
    f = cls.__dataclass_fields__[name]
    d = default_of(f) if default is MISSING else default
    m = {**f.metadata, **meta}
    if isinstance(d, (dict, list)):
        return field(default_factory=lambda: type(d)(d), metadata=m)
    return field(default=d, metadata=m)
