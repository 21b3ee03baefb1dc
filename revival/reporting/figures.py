"""Figures as data in, PNG (and SVG) out, with matplotlib's non-interactive backend: line charts of
series with optional spread bands and reference lines. Readable in greyscale and by colour-blind
readers: the Okabe-Ito palette, and every series also differs by marker and line style."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import io
import os
import tempfile
import textwrap

import matplotlib.image
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
STYLES = ["-", "--", "-.", ":"]


@dataclass
class Series:
    """One line: ``x``, ``y``; optional ``lo``/``hi`` band (spread over seeds); ``style`` index picks
    colour, marker and line style together (so one variant keeps its look across panels);
    ``line`` overrides the line style ("--" for train curves beside solid "-" test curves)."""

    label: str
    x: list
    y: list
    lo: list | None = None
    hi: list | None = None
    style: int = 0
    line: str | None = None
    colour: int | None = None  # overrides the colour of ``style`` (an overlay: colour by variant, line by run)


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    logx: bool = False
    logy: bool = False
    hlines: list[tuple[float, str, int]] = field(default_factory=list)  # (y, label, style)
    # (x, y, style): points ringed with a large open circle in their series' colour, one legend entry
    # ``marks_label`` for all (e.g. each curve's epoch of lowest validation error)
    marks: list[tuple[float, float, int]] = field(default_factory=list)
    marks_label: str = ""
    # the y axis spans at least this much (noise of 0.05 nats must not fill a panel and read as a trend)
    min_span: float | None = None
    ylim: tuple[float, float] | None = None  # a fixed range (a share: 0 to 1)


def merged(series: list[Series]) -> list[Series]:
    """Series that are the same line (same x, y and line style) drawn once, their labels joined
    with " = ": identical curves would otherwise hide each other behind one visible line and
    leave legend entries for lines nobody can see."""
    out, seen = [], {}
    for s in series:
        key = (tuple(s.x), tuple(s.y), s.line)
        if key in seen:
            first = out[seen[key]]
            out[seen[key]] = Series(
                f"{first.label} = {s.label}",
                first.x,
                first.y,
                first.lo,
                first.hi,
                first.style,
                first.line,
                first.colour,
            )
        else:
            seen[key] = len(out)
            out.append(s)
    return out


def _minor_label(ax, v: float) -> str:
    """A log axis' label between powers of ten: every one within a decade (1.25, 1.5, ...), only 2 and 5
    over up to two decades, none beyond, so that the labels never run into each other (0.7 0.8 0.9)."""
    lo, hi = ax.get_ylim()
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else float("inf")
    mantissa = round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6) if v > 0 else 0
    if decades <= 1 or (decades <= 2 and mantissa in (2, 5)):
        return f"{v:g}"
    return ""


def _whole(values) -> bool:
    return len(values) > 0 and all(float(v).is_integer() for v in values)


def _beside(series: list[Series]) -> bool:
    """Whether a panel's legend goes beside its axes: more than four entries, or labels too long to sit
    over the lines."""
    return len(series) > 4 or any(len(s.label) > 40 for s in series)


def _underneath(series: list[Series], tol: float = 0.02, share: float = 0.8) -> set[int]:
    """Indices of series that a later series on the same x covers almost everywhere (``share`` of the
    points within ``tol`` of the panel's y range): drawn wider beneath it, so both stay visible."""
    ys = [y for s in series for y in s.y]
    span = (max(ys) - min(ys)) if ys else 0.0
    out = set()
    for i, a in enumerate(series):
        for b in series[i + 1 :]:
            if len(a.x) > 1 and list(a.x) == list(b.x) and (a.line or "-") == (b.line or "-"):
                if sum(abs(u - v) <= tol * span for u, v in zip(a.y, b.y)) >= share * len(a.y):
                    out.add(i)
    return out


def _entries(p: Panel) -> list[Series]:
    """A panel's legend entries: its series drawn once each, and the marks' one entry."""
    return merged(p.series) + ([Series(p.marks_label, [], [])] if p.marks and p.marks_label else [])


def draw(panels: list[Panel], suptitle: str = "", ncols: int = 1):
    """A figure of one or more panels; returns the matplotlib Figure (callers save it). Epochs,
    layers and sizes that are whole numbers get whole-number ticks; identical series are drawn
    once (:func:`merged`); a legend of more than four entries or of long labels goes beside the axes,
    not over the lines, and the figure widens to hold it."""
    nrows = -(-len(panels) // ncols)
    # room for the widest legend that goes beside its axes (about 0.062 inch a character at size 8)
    longest = max((max(len(s.label) for s in _entries(p)) for p in panels if _beside(_entries(p))), default=0)
    width = 6.4 + (min(9.0, 0.5 + 0.062 * max(longest, 34)) if longest else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 4.2 * nrows), squeeze=False)
    for ax, p in zip(axes.flat, panels):
        series = merged(p.series)
        hidden = _underneath(series)
        for i, s in enumerate(series):
            k = (s.colour if s.colour is not None else s.style) % len(COLOURS)
            many = len(s.x) > 30
            ax.plot(
                s.x,
                s.y,
                color=COLOURS[k],
                marker=MARKERS[s.style % len(MARKERS)],
                markevery=max(1, len(s.x) // 10) if many else 1,
                markersize=5 if len(s.x) > 1 else 8,
                linestyle=s.line or STYLES[s.style % len(STYLES)],
                label=s.label,
                # a line that a later, nearly equal one would cover is drawn wider and paler beneath it
                linewidth=4.0 if i in hidden else 1.6,
                alpha=0.45 if i in hidden else 1.0,
            )
            if s.lo is not None and s.hi is not None:
                ax.fill_between(s.x, s.lo, s.hi, color=COLOURS[k], alpha=0.18, linewidth=0)
        ring = dict(linestyle="none", marker="o", markersize=13, markerfacecolor="none", markeredgewidth=1.8, zorder=5)
        for x, y, style in p.marks:
            ax.plot([x], [y], color=COLOURS[style % len(COLOURS)], **ring)
        if p.marks and p.marks_label:  # one legend entry in black: the ring's colour is its curve's
            ax.plot([], [], color="black", label=p.marks_label, **ring)
        for y, label, style in p.hlines:
            ax.axhline(y, color=COLOURS[style % len(COLOURS)], linestyle=":", linewidth=1.2)
            ax.annotate(
                label,
                (0.01, y),
                xycoords=("axes fraction", "data"),
                fontsize=8,
                color=COLOURS[style % len(COLOURS)],
                va="bottom",
            )
        if p.logx:
            ax.set_xscale("log")
        elif _whole(xs := [x for s in series for x in s.x]):
            if max(xs) == min(xs):  # one epoch: whole-number ticks around it, not 4.74 ... 5.26
                ax.set_xticks(range(int(min(xs)) - 1, int(max(xs)) + 2))
                ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
            elif max(xs) - min(xs) < 2:  # two layers or epochs: a tick at each, no empty neighbours
                ax.set_xticks(range(int(min(xs)), int(max(xs)) + 1))
                ax.set_xlim(min(xs) - 0.4, max(xs) + 0.4)
            else:
                ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if p.logy:
            ax.set_yscale("log")
            plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")  # 3, 10, 30: not 3x10^0
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _, ax=ax: _minor_label(ax, v)))
        if p.ylim is not None:
            ax.set_ylim(*p.ylim)
        elif p.min_span is not None and not p.logy:
            lo, hi = ax.get_ylim()
            if hi - lo < p.min_span:
                mid = (lo + hi) / 2
                ax.set_ylim(mid - p.min_span / 2, mid + p.min_span / 2)
        ax.set_title(p.title, fontsize=11)
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        ax.grid(True, alpha=0.3)
        series = _entries(p)  # the marks' legend entry counts towards the placement
        if series and _beside(series):
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, handlelength=3.5)
        elif series:
            ax.legend(fontsize=8, loc="best", handlelength=3.5)  # long enough to show a dashed line as dashed
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    fig.tight_layout()
    return fig


def image_figure(png: bytes, title: str, note: str = "", column_labels: list[str] | None = None):
    """A grid of image tiles (a PNG as TensorBoard shows it) drawn large enough to read, with a
    title and a line saying what the tiles are; ``column_labels`` names the grid's columns (e.g.
    data / reconstruction pairs). Returns the Figure."""

    img = matplotlib.image.imread(io.BytesIO(png), format="png")
    h, w = img.shape[:2]
    scale = max(1.0, 560 / max(h, w))  # a 291-pixel grid drawn at about 560 pixels a side
    fig, ax = plt.subplots(figsize=(w * scale / 100 + 0.4, h * scale / 100 + (1.5 if note else 0.8)), dpi=100)
    ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")

    chars = int(w * scale / 6.2)  # about what fits across the image at this font size
    ax.set_title(title, fontsize=11, loc="center")
    if note:
        ax.text(
            0.5,
            -0.02 if not column_labels else -0.07,
            "\n".join(textwrap.wrap(note, chars)),
            fontsize=8,
            transform=ax.transAxes,
            ha="center",
            va="top",
        )
    ax.set_yticks([])
    if column_labels:
        n = len(column_labels)
        ax.set_xticks([(i + 0.5) * w / n for i in range(n)], column_labels, fontsize=8)
        ax.tick_params(axis="x", length=0)
    else:
        ax.set_xticks([])
    fig.tight_layout()
    return fig


def write_atomic(path: Path, write) -> Path:
    """``write(file)`` into a temporary file beside ``path``, then renamed over it: a reader never
    sees half a file, and a link at ``path`` is replaced, never followed (a run folder may come
    from someone else: its ``figures/curves.png`` could point at any file of the reader's)."""

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(fig, folder: Path, name: str, svg: bool = False) -> list[Path]:
    """Write ``name``.png (and .svg) into ``folder``, each atomically (:func:`write_atomic`);
    closes the figure."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        out = [write_atomic(folder / f"{name}.png", lambda f: fig.savefig(f, format="png", dpi=110))]
        if svg:
            out.append(write_atomic(folder / f"{name}.svg", lambda f: fig.savefig(f, format="svg")))
    finally:
        plt.close(fig)
    return out


def dots(
    title: str,
    ylabel: str,
    labels: list[str],
    points: dict[str, list],
    intervals: dict[str, list] | None = None,
    references: list[tuple[float, str]] = (),
):
    """A dot plot: for each category (``labels``) one marker per named estimate in ``points``
    (None where missing), with an error bar from ``intervals[name]`` ((lo, hi) or None), and
    horizontal reference lines (a paper's value). Returns the Figure."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    n = len(points)
    for j, (name, ys) in enumerate(points.items()):
        xs = [i + (j - (n - 1) / 2) * 0.15 for i in range(len(labels))]
        keep = [
            (x, y, (intervals or {}).get(name, [None] * len(ys))[i])
            for i, (x, y) in enumerate(zip(xs, ys))
            if y is not None
        ]
        if not keep:
            continue
        for x, y, iv in keep:
            if iv is not None and all(v is not None and abs(v) != float("inf") for v in iv):
                ax.plot([x, x], iv, color=COLOURS[j % len(COLOURS)], linewidth=2, alpha=0.6)
        ax.plot(
            [k[0] for k in keep],
            [k[1] for k in keep],
            linestyle="none",
            marker=MARKERS[j % len(MARKERS)],
            color=COLOURS[j % len(COLOURS)],
            markersize=8,
            label=name,
        )
    for y, label in references:
        ax.axhline(y, color="#555555", linestyle=":", linewidth=1)
        ax.annotate(label, (0.01, y), xycoords=("axes fraction", "data"), fontsize=8, va="bottom")
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
