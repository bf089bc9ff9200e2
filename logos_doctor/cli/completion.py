"""``completion``: print the shell completion script, from click's own completion machinery.

The script calls ``logos-doctor`` back with ``_LOGOS_DOCTOR_COMPLETE=<shell>_complete`` at
every TAB, so completions always match the installed commands, options and checks.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from logos_doctor.cli.app import cli
from logos_doctor.cli.options import examples

PROG_NAME = "logos-doctor"
COMPLETE_VAR = "_LOGOS_DOCTOR_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The completion script click generates for ``shell``."""
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click ships all three
        raise click.BadParameter(f"unsupported shell {shell!r}")
    return cls(cli, {}, PROG_NAME, COMPLETE_VAR).source()


@cli.command(
    "completion",
    epilog=examples(
        'eval "$(logos-doctor completion bash)"     (add to ~/.bashrc)',
        'eval "$(logos-doctor completion zsh)"      (add to ~/.zshrc)',
        "logos-doctor completion fish > ~/.config/fish/completions/logos-doctor.fish",
    ),
)
@click.argument("shell", type=click.Choice(SHELLS))
def completion_cmd(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish."""
    click.echo(completion_script(shell), nl=False)
