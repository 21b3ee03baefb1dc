"""The command line (``revival ...``): the group in :mod:`.group`, the commands in :mod:`.rbm`,
:mod:`.dbm`, :mod:`.compare` and :mod:`.report`, what they share in :mod:`.common`."""

from revival.cli.group import main

__all__ = ["main"]
