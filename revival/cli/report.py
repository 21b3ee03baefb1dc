"""report: figures and tables from finished run folders (:mod:`revival.reporting`)."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from revival.cli.common import CONTEXT, Failure, _exit_at_once, _os_line, _temp_figures


@click.command("report", context_settings=CONTEXT)
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

    from revival.reporting.panels import NotARun  # here: the CLI starts without torch
    from revival.reporting.report import (  # here: the CLI starts without torch
        check_runs,
        link_figures,
        overlay_figures,
        run_figures,
    )

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
