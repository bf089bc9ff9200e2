"""The ``logos-doctor`` click group and the options several commands share."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

import click

from logos_doctor import __version__

F = TypeVar("F", bound=Callable[..., Any])

# Command name -> the module that registers it on ``cli`` when imported.  Importing only the
# module of the command being run keeps start-up short: ``check`` is run again and again
# during an incident, and the runbook renderer, the fix executor and the Prometheus exporter
# it does not need cost about a sixth of a second to import.
LAZY_COMMANDS: dict[str, str] = {
    "check": "logos_doctor.cli.check",
    "checks": "logos_doctor.cli.check",
    "snapshot": "logos_doctor.cli.check",
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
)
@click.version_option(__version__, prog_name="logos-doctor")
@click.option("--debug", is_flag=True, help="Show tracebacks and fetch statistics on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find why the Logos deployment is unhealthy, read the runbook, fix it safely.

    \b
    First steps:
      logos-doctor check --all                 diagnose the cluster in your kubeconfig
      logos-doctor check --all --snapshot F    diagnose a recorded snapshot offline
      logos-doctor runbook show pvc-pending    read a runbook
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def cluster_options(f: F) -> F:
    """--kubeconfig, --context, --timeout: how to reach the cluster."""
    f = click.option(
        "--timeout",
        type=click.FloatRange(1, 600),
        default=30.0,
        show_default=True,
        help="Seconds per API request; the whole fetch gets four times this.",
    )(f)
    f = click.option(
        "--context",
        "contexts",
        multiple=True,
        metavar="NAME",
        help="kubeconfig context (default: the current one; 'check' takes it repeatedly).",
    )(f)
    f = click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False),
        envvar="LOGOS_DOCTOR_KUBECONFIG",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
    )(f)
    return f


def scope_options(f: F) -> F:
    """-n/--namespace and -A/--all-namespaces."""
    f = click.option(
        "-A", "--all-namespaces", "all_namespaces", is_flag=True, help="Look at every namespace."
    )(f)
    f = click.option(
        "-n", "--namespace", metavar="NS", help="Namespace to check (default: from config, logos)."
    )(f)
    return f


def config_options(f: F) -> F:
    """--config and --values: where the expectations come from."""
    f = click.option(
        "--values",
        "values_path",
        type=click.Path(exists=True, dir_okay=False),
        help="Derive expectations from the Helm chart's values file.",
    )(f)
    f = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="logos-doctor.yaml (default: ./logos-doctor.yaml, then the user config dir).",
    )(f)
    return f
