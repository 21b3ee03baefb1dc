"""What `-h` shows: one default per option, for every command."""

import click
import pytest

from revival.cli import main


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_option_of_every_command_shows_one_default_at_most(name):
    command = main.commands[name]
    ctx = click.Context(command, info_name=name, show_default=True)
    for param in command.params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        assert record[1].count("[default:") <= 1, f"{name} {record[0]}: {record[1]}"
