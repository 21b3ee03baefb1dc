"""The exceptions every room may raise or catch, in a leaf module (no torch, no revival imports), so
that training, models and the library never import the run-folder code to say how a run ended."""

from __future__ import annotations

import signal


class Interrupted(Exception):
    """How a run can end early. SIGINT or SIGTERM arrived; ``exit_code`` is 128 + the signal number (130 or 143)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


class Diverged(Exception):
    """A metric or parameter became NaN or infinite."""

    def __init__(self, epoch: int, what: str):
        super().__init__(f"non-finite {what} at epoch {epoch}")
        self.epoch, self.what = epoch, what


class OptionError(ValueError):
    """A bad option found only at run time (e.g. a --logdir that cannot be written): the CLI shows it
    as Click shows option errors, exit 2."""

    def __init__(self, param_hint: str, message: str):
        super().__init__(message)
        self.param_hint = param_hint


class ConfigError(ValueError):
    """A configuration value out of its range or not among its choices; ``field`` names the setting
    (``RBMConfig.lr``), and the message says what is allowed. The CLI reports it as a bad option."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
