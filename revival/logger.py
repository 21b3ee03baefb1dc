"""Where a library fit writes, when it should: :class:`RunLogger`."""

from __future__ import annotations

import os
from pathlib import Path

from revival import runs


class RunLogger:
    """Where a library fit writes, when it should: a run folder ``<logdir>/<command>/<time>[-name]/``
    like the CLI's (config.json, TensorBoard events, ``model.pt`` after every epoch, summary.json and
    summary.md, the lock), so ``tensorboard --logdir runs`` and ``revival report`` read it. ``path``
    is the folder once the fit has started. ``resume=RUN_DIR``: continue that run (of the same fit,
    with the same config: ``fit_dbm`` supports it) from its last saved epoch instead of making a new one."""

    def __init__(self, logdir="runs", name: str | None = None, echo=print, resume=None, figures: bool | None = None):
        if name is not None and (why := runs.name_problem(name)):
            raise ValueError(f"RunLogger name {name!r}: {why}")
        self.logdir, self.name, self.echo, self.resume = logdir, name, echo, resume
        # the finished run's figures, as the commands draw them (None: unless REVIVAL_FIGURES=0)
        self.figures = figures if figures is not None else os.environ.get("REVIVAL_FIGURES", "1") not in ("0", "false")
        self.run: runs.Run | None = None
        self.resumed = False
        self.finish = None  # a command's own summary writer (run, model, rows), else the fit's short one
        self._make = None
        self.options = self.preprocessing = self.test = None
        self.progress = False  # a command's per-batch bar; a library fit sets it from its progress argument

    @classmethod
    def for_command(
        cls,
        make_run,
        resumed: bool,
        echo=print,
        finish=None,
        options=None,
        preprocessing=None,
        progress=False,
        test=None,
    ) -> "RunLogger":
        """The logger of a CLI command, whose run folder (new, or reopened by ``--resume``) ``make_run``
        makes with the command's own options in config.json; ``options`` (what the fit logs and monitors
        with), ``preprocessing`` (recorded in the checkpoint) and ``progress`` (a bar on a terminal) are
        the command's, ``test`` its prepared test split (monitored each epoch); ``finish(run, model, last)``
        writes its summary."""
        logger = cls(echo=echo)
        logger._make, logger.resumed, logger.finish = make_run, resumed, finish
        logger.options, logger.preprocessing, logger.progress, logger.test = options, preprocessing, progress, test
        return logger

    @property
    def path(self):
        return None if self.run is None else self.run.path

    def finished(self, run: runs.Run, model, last, fit: str, summary: dict):
        """The end of a logged fit: the command's own ``finish(run, model, last)`` where it gave one, else
        a short summary (``summary``'s fields, the status and the model's path)."""
        if self.finish is not None:
            self.finish(run, model, last)
            return
        run.write_summary(
            {"status": runs.STATUS_FINISHED, **summary, "model": str(run.path / runs.MODEL_FILE)},
            f"# {fit}: {run.path.name}\n\nfinished\n",
        )
        if self.figures and run.config.get("command") in ("pretrain-rbm", "pretrain-dbn", "pretrain-dbm"):
            from revival.reporting.report import link_figures, run_figures  # here: matplotlib only when a run draws

            try:
                files, missing = run_figures(run.path)
                link_figures(run.path, files, missing)
                self.echo(f"figures: {len(files)} in {run.path / 'figures'}")
            except Exception as e:  # noqa: BLE001 - a figure never fails a finished fit
                self.echo(f"figures not drawn ({runs.one_line(e)}); draw them with: revival report {run.path}")

    def start(self, command: str, options: dict) -> runs.Run:
        """Create (or reopen) the run folder (once per logger: a second fit needs a new logger)."""
        if self.run is not None:
            raise ValueError(f"this RunLogger already holds the run {self.run.path}; give each fit its own")
        if self._make is not None:
            self.run = self._make()
        elif self.resume is not None:
            # the same resume as the commands' (runs.Run.resume): more epochs than a finished run had extend it
            try:  # what the run keeps; a folder that is not a readable run is refused by Run.resume below
                stored = runs.read_json(Path(self.resume) / "config.json")["options"]
            except (OSError, ValueError, TypeError, KeyError):
                stored = {}
            stored = stored if isinstance(stored, dict) else {}
            changes = {k: v for k, v in options.items() if stored.get(k, v) != v or k == "epochs"}
            try:
                self.run = runs.Run.resume(self.resume, command, changes, ("epochs", "device"))
            except runs.ResumeRefused as e:
                first, stored = e.names[0], e.stored
                if first == "data":
                    raise ValueError(
                        f"{self.resume}: resumed with other training data than the run's ({stored['data']['rows']} rows "
                        f"of {stored['data']['columns']}, fingerprint {stored['data']['sha1'][:12]}); pass the same rows"
                    ) from None
                raise ValueError(
                    f"{self.resume}: resumed with another {first} than the run's ({stored[first]!r})"
                ) from None
            for state in sorted(self.run.path.rglob(runs.STATE_FILE)):  # readable, before the run is marked resumed
                try:
                    runs.load_state(state.parent, "cpu")
                except ValueError:
                    self.run.lock.release()  # the refusal changes nothing: the next try is not "in use"
                    raise
            if options.get("epochs") != stored.get("epochs"):
                self.run.record_resume({"epochs": options.get("epochs")})
            self.run.mark_resumed()
            self.resumed = True
        else:
            self.run = runs.Run.create(self.logdir, command, self.name, {"options": {**options, "api": True}})
        self.echo(f"run folder: {self.run.path}")
        return self.run
