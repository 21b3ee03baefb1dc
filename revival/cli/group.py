"""The ``revival`` command line: the command group, with each room's commands registered on it.
Exit codes: 0 done, 1 runtime failure (bad data, divergence, ...), 2 bad options,
130 / 143 interrupted by SIGINT / SIGTERM (resume with ``--resume RUN_DIR``)."""

from __future__ import annotations

import signal
import sys

import click

from revival import __version__
from revival.cli import compare, dbm, rbm, report
from revival.cli.common import CONTEXT, STARTING, _exit_at_once


class Group(click.Group):
    """The command group: SIGINT or SIGTERM from the first instant of a command (while it imports
    torch and checks its options) ends it with one line and 130 / 143, not a traceback or Click's
    "Aborted!" with 1; :func:`run_or_exit` then takes over the signals for the run itself."""

    def main(self, *args, **kwargs):

        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for s in old:
                signal.signal(s, _exit_at_once(STARTING))
        except ValueError:  # not the main thread (an embedding program): leave its signals alone
            old = {}
        try:
            return super().main(*args, **kwargs)
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo(STARTING, err=True)
            sys.exit(130)


@click.group(cls=Group, context_settings=CONTEXT, no_args_is_help=True)
@click.version_option(__version__, "-V", "--version")
def main():
    """revival: RBM pretraining by contrastive divergence, and dropout, reproduced and measured.

    Every command writes a run folder under --logdir (default runs/); open the curves with
    `tensorboard --logdir runs`.
    """


for command in (
    rbm.pretrain_rbm_cmd,
    rbm.pretrain_dbn_cmd,
    dbm.pretrain_dbm_cmd,
    rbm.evaluate_rbm_cmd,
    compare.compare_dropout_cmd,
    report.report_cmd,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
