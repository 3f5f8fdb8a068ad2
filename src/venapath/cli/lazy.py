"""Subcommands that are imported only when they run.

`venapath evaluate` must start at once, yet the registry commands pull in SQLAlchemy and
Alembic, `serve` pulls in FastAPI and uvicorn, and `screen` pulls in DuckDB and Ibis. The
root group below therefore names each such subcommand by "module:attribute" and imports the
module the first time click asks for that command: when it runs, or when `--help` lists
every command. `tests/cli/test_cli_start.py` asserts what `venapath evaluate` loads.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from venapath.cli.errors import VenaPathGroup

# name on the command line -> "module:attribute", where the attribute is a typer.Typer
# (a group of subcommands) or a plain command function.
LAZY_COMMANDS: dict[str, str] = {
    "kb": "venapath.cli.kb_commands:app",
    "score": "venapath.cli.score_commands:score",
    "serve": "venapath.cli.serve_commands:serve",
    "synth": "venapath.cli.synth_commands:synth",
    "screen": "venapath.cli.screen_commands:screen_command",
    "db": "venapath.cli.registry_commands:db_app",
    "followup": "venapath.cli.registry_commands:followup_app",
    "demo": "venapath.cli.registry_commands:demo_app",
    "audit": "venapath.cli.registry_commands:audit_app",
    "export": "venapath.cli.registry_commands:export_command",
    "import": "venapath.cli.registry_commands:import_command",
    "backup": "venapath.cli.registry_commands:backup_command",
    "restore": "venapath.cli.registry_commands:restore_command",
    "users": "venapath.cli.user_commands:users_app",
}


class LazyGroup(VenaPathGroup):
    """The root command group: eager commands as usual, plus `LAZY_COMMANDS` on demand; errors
    of the tree map to exit codes (`VenaPathGroup`)."""

    def list_commands(self, ctx: Any) -> list[str]:
        eager = super().list_commands(ctx)
        return eager + [name for name in LAZY_COMMANDS if name not in eager]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        command = load_command(cmd_name)
        self.add_command(command, cmd_name)
        return command


def load_command(name: str) -> Any:
    """Import the module behind `name` and build its click command, named `name`."""
    module_name, attribute = LAZY_COMMANDS[name].split(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name=name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command
