"""Typed configurations: frozen dataclasses that check themselves, each setting declared once.

Every field is a :func:`setting`: its default, the values it accepts (a :class:`Range` or a tuple of
choices), the help its command-line option shows and where its default comes from, all in the
field's metadata. The commands' options are generated from these fields
(:func:`revival.cli.common.config_options`), so ``-h`` shows the default the library uses and
refuses what the config refuses, with the same bounds. ``RBMConfig`` is one RBM; ``DBNConfig`` takes
RBMConfig's training settings, each one value for every layer or one per layer; ``RBMMonitorConfig``
and ``DBNMonitorConfig`` are what the commands watch and evaluate; ``NetConfig`` a classifier;
``DBMConfig`` a deep Boltzmann machine. Configs round-trip through :meth:`to_dict` /
:meth:`from_dict`, where an unknown key is an error rather than silently dropped. A bad value raises
:class:`~revival.errors.ConfigError` naming the field and what it accepts. No torch here, and no
revival imports but the leaves (tables, errors): every room may read a config.
"""

from revival.config.base import (
    COUNT,
    FLAG,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY_BELOW_1,
    SEED,
    Range,
    as_given,
    check_value,
    defaults,
    option_name,
    rule,
    rule_of,
    setting,
)
from revival.config.compare import CompareConfig, resolve_compare
from revival.config.dbm import DBMConfig
from revival.config.net import NetConfig
from revival.config.rbm import (
    PRECISION_HELP,
    DBNConfig,
    DBNMonitorConfig,
    RBMConfig,
    RBMMonitorConfig,
    per_layer,
    per_layer_names,
)

__all__ = [
    "COUNT",
    "FLAG",
    "POSITIVE",
    "POSITIVE_INT",
    "PROBABILITY_BELOW_1",
    "SEED",
    "PRECISION_HELP",
    "CompareConfig",
    "DBMConfig",
    "DBNConfig",
    "DBNMonitorConfig",
    "NetConfig",
    "RBMConfig",
    "RBMMonitorConfig",
    "Range",
    "as_given",
    "check_value",
    "defaults",
    "option_name",
    "per_layer",
    "per_layer_names",
    "resolve_compare",
    "rule",
    "rule_of",
    "setting",
]
