"""compare-dropout's grid: the points an experiment trains (variant x train size x dropout rate x
depth x activation x loss x init scheme x seed), their folder names, each variant's regularizer
settings and how many epochs a point trains. Pure bookkeeping over the option dict: no torch, no
data, no run folder."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

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

    def name(self, opts: dict) -> str:
        """The point's folder name: the variant, then one part per swept axis (``n<size>``,
        ``p<rate>``, ``d<depth>``, the activation, loss and init scheme by name, ``s<seed>``)."""
        parts = [self.variant]
        if opts.get("train_sizes"):
            parts.append(f"n{self.size}")
        if opts.get("dropout_rates") and self.rate is not None:
            parts.append(f"p{self.rate:g}")
        if opts.get("depths") and self.depth is not None:
            parts.append(f"d{self.depth}")
        parts += [v for v in (self.activation, self.loss, self.init_scheme) if v is not None]
        if opts["seeds"] > 1:
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


def grid(opts: dict) -> list[Point]:
    """Every variant x train size x dropout rate x depth x activation x loss x init scheme x seed,
    variants innermost (so the variants of one setting finish together). A classical variant
    appears once per train size and seed, where it first comes up."""
    sizes = opts.get("train_sizes") or [opts.get("train_size")]
    rates = opts.get("dropout_rates") or [None]
    depths = opts.get("depths") or [None]
    acts, losses, inits = (opts.get(k) or [None] for k in NET_AXES)
    seeds = range(opts["seed"], opts["seed"] + opts["seeds"])
    points = {}  # a dict keeps the order and drops repeats (a classical point recurs across the net's axes)
    for n, r, dp, a, lo, i, s, v in itertools.product(
        sizes, rates, depths, acts, losses, inits, seeds, opts["variants"]
    ):
        p = Point(v, n, None, None, s) if VARIANTS[v].get("classic") else Point(v, n, r, dp, s, a, lo, i)
        points.setdefault(p, None)
    return list(points)


def variant_settings(opts: dict, variant: str, rate: float | None) -> dict:
    """The model and optimizer settings one variant trains with: its regularizers (strengths from
    the options, or from ``variant_options`` where the variant has its own), and any optimiser
    setting ``variant_options`` gives it (``lr``, momentum schedule, ...)."""
    v = VARIANTS[variant]
    own = (opts.get("variant_options") or {}).get(variant, {})
    drop = v.get("dropout")
    out = {
        "input_dropout": opts["input_dropout"] if drop else 0.0,
        "hidden_dropout": (rate if rate is not None else opts["hidden_dropout"]) if drop else 0.0,
        "dropout_type": drop or "bernoulli",
        "weight_decay": own.get("weight_decay", opts["weight_decay"]) if v.get("weight_decay") else 0.0,
        "max_norm": own.get("max_norm", opts["max_norm"]) if v.get("max_norm") else None,
    }
    out.update({k: x for k, x in own.items() if k not in ("weight_decay", "max_norm")})
    return out


def differing_hparams(opts: dict) -> set[str]:
    """The hparams whose values vary across the experiment's grid (what a reader compares)."""
    out = {"train_size"} if opts.get("train_sizes") else set()
    if opts.get("depths") or any(VARIANTS[v].get("classic") == "logistic-regression" for v in opts["variants"]):
        out |= {"depth", "layers"}
    out |= {field for axis, field in NET_AXES.items() if opts.get(axis)}
    if opts["seeds"] > 1:
        out.add("seed")
    settings = [
        {**variant_settings(opts, v, r), "variant": v, "pretrained": bool(VARIANTS[v].get("pretrained"))}
        for v in opts["variants"]
        for r in (opts.get("dropout_rates") or [None])
    ]
    keys = dict.fromkeys(k for st in settings for k in st)
    differ = {k for k in keys if len({str(st.get(k)) for st in settings}) > 1}
    return out | {k for k in differ if k in settings[0]} | ({"lr"} if "lr" in differ else set())


def point_epochs(opts: dict, n: int) -> int:
    """The epochs a net point trains on ``n`` examples: ``--epochs``, raised so it makes at least
    ``--min-updates`` weight updates."""
    per_epoch = -(-n // opts["batch_size"])
    return max(opts["epochs"], -(-opts.get("min_updates", 0) // per_epoch))


def eval_interval(opts: dict, epochs: int) -> int:
    """Every how many epochs a net point evaluates (the last epoch always does): ``--eval-every``,
    raised so that a point stretched by ``--min-updates`` over many short epochs still evaluates
    about ``--epochs`` times rather than after each of them."""
    asked = opts["epochs"]
    stretched = -(-epochs // asked) if epochs > asked else 1
    return max(stretched, opts.get("eval_every") or 1)
