"""Every command has help text and is mentioned in the README."""

import re

from click.testing import CliRunner

from driftloop.cli.main import cli
from tests.conftest import REPO


def _commands(group, prefix=""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")


def test_every_command_has_help_and_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    for path, command in _commands(cli):
        assert (command.help or "").strip(), f"driftloop {path} has no help text"
        result = CliRunner().invoke(cli, [*path.split(), "--help"])
        assert result.exit_code == 0, result.output
        top = path.split()[0]
        assert re.search(rf"driftloop {re.escape(top)}\b", readme), f"README does not mention driftloop {top}"
