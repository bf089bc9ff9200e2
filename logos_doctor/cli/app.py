"""The ``logos-doctor`` click group (the options commands share are in ``cli/options.py``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

import click

from logos_doctor import __version__
from logos_doctor.cli.options import examples

F = TypeVar("F", bound=Callable[..., Any])

# Command name -> the module that registers it on ``cli`` when imported.  Importing only the
# module of the command being run keeps start-up short: ``check`` is run again and again
# during an incident, and the runbook renderer, the fix executor and the Prometheus exporter
# it does not need cost about a sixth of a second to import.
LAZY_COMMANDS: dict[str, str] = {
    "check": "logos_doctor.cli.check",
    "checks": "logos_doctor.cli.catalog",
    "snapshot": "logos_doctor.cli.snapshot",
    "completion": "logos_doctor.cli.completion",
    "fix": "logos_doctor.cli.fix",
    "rbac": "logos_doctor.cli.rbac",
    "runbook": "logos_doctor.cli.runbook",
    "serve": "logos_doctor.cli.serve",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (see ``LAZY_COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, imported or not (for --help and shell completion)."""
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing the module that defines it the first time."""
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            importlib.import_module(LAZY_COMMANDS[cmd_name])  # registers itself on ``cli``
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=examples(
        "logos-doctor check                       diagnose the cluster in your kubeconfig",
        "logos-doctor check --snapshot F          diagnose a recorded snapshot offline",
        "logos-doctor runbook show pvc-pending    read a runbook",
        "logos-doctor fix pvc --dry-run           what a fix would change",
    ),
)
@click.version_option(__version__, prog_name="logos-doctor")
@click.option("--debug", is_flag=True, help="Show tracebacks and fetch statistics on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find why the Logos deployment is unhealthy, read the runbook, fix it safely."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
