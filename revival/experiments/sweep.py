"""compare-dropout's grid: the points an experiment trains (variant x train size x dropout rate x
depth x activation x loss x init scheme x seed) of a :class:`~revival.config.CompareConfig`, and
their folder names (what each point trains: ``CompareConfig.net_config``). Pure bookkeeping: no
torch, no data, no run folder."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from revival.config import CompareConfig
from revival.presets import NET_AXES, VARIANTS

# the sweep axes a net point can take besides size, rate, depth and seed: option (list) -> Point field


@dataclass(frozen=True)
class Point:
    """One grid point: a variant at a train size (None: the whole split), a hidden drop rate (None:
    the option's), a depth (None: ``--layers``), an activation, loss and init scheme (None: the
    option's) and a seed. A classical variant's point has None for every net axis."""

    variant: str
    size: int | None
    rate: float | None
    depth: int | None
    seed: int
    activation: str | None = None
    loss: str | None = None
    init_scheme: str | None = None

    def name(self, cfg: CompareConfig) -> str:
        """The point's folder name: the variant, then one part per swept axis (``n<size>``,
        ``p<rate>``, ``d<depth>``, the activation, loss and init scheme by name, ``s<seed>``)."""
        parts = [self.variant]
        if cfg.train_sizes:
            parts.append(f"n{self.size}")
        if cfg.dropout_rates and self.rate is not None:
            parts.append(f"p{self.rate:g}")
        if cfg.depths and self.depth is not None:
            parts.append(f"d{self.depth}")
        parts += [v for v in (self.activation, self.loss, self.init_scheme) if v is not None]
        if cfg.seeds > 1:
            parts.append(f"s{self.seed}")
        return "-".join(parts)

    @property
    def pretrained(self) -> bool:
        return bool(VARIANTS[self.variant].get("pretrained"))

    @property
    def dbm(self) -> bool:
        return bool(VARIANTS[self.variant].get("dbm"))

    @property
    def classic(self) -> str | None:
        return VARIANTS[self.variant].get("classic")


def grid(cfg: CompareConfig) -> list[Point]:
    """Every variant x train size x dropout rate x depth x activation x loss x init scheme x seed,
    variants innermost (so the variants of one setting finish together). A classical variant
    appears once per train size and seed, where it first comes up."""
    sizes = cfg.train_sizes or [cfg.train_size]
    rates = cfg.dropout_rates or [None]
    depths = cfg.depths or [None]
    acts, losses, inits = (getattr(cfg, k) or [None] for k in NET_AXES)
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    points = {}  # a dict keeps the order and drops repeats (a classical point recurs across the net's axes)
    for n, r, dp, a, lo, i, s, v in itertools.product(sizes, rates, depths, acts, losses, inits, seeds, cfg.variants):
        p = Point(v, n, None, None, s) if VARIANTS[v].get("classic") else Point(v, n, r, dp, s, a, lo, i)
        points.setdefault(p, None)
    return list(points)


def differing_hparams(cfg: CompareConfig) -> set[str]:
    """The hparams whose values vary across the experiment's grid (what a reader compares)."""
    out = {"train_size"} if cfg.train_sizes else set()
    if cfg.depths or any(VARIANTS[v].get("classic") == "logistic-regression" for v in cfg.variants):
        out |= {"depth", "layers"}
    out |= {field for axis, field in NET_AXES.items() if getattr(cfg, axis)}
    if cfg.seeds > 1:
        out.add("seed")
    settings = [
        {**cfg.variant_settings(v, r), "variant": v, "pretrained": bool(VARIANTS[v].get("pretrained"))}
        for v in cfg.variants
        for r in (cfg.dropout_rates or [None])
    ]
    keys = dict.fromkeys(k for st in settings for k in st)
    differ = {k for k in keys if len({str(st.get(k)) for st in settings}) > 1}
    return out | {k for k in differ if k in settings[0]} | ({"lr"} if "lr" in differ else set())
