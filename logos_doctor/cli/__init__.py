"""Command line entry point: runs the click group and turns errors into one clear line.

Every command module registers itself on ``app.cli`` when the group first needs it
(``app.LAZY_COMMANDS``), so running one command imports only its own module.  ``main`` owns the
exit status contract: 0 healthy, 1 findings at or above ``--fail-on``, 2 usage errors,
3 when the tool could not do its job; and no traceback unless ``--debug``.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from logos_doctor.cli import leave
from logos_doctor.cli.app import cli
from logos_doctor.errors import DoctorError

__all__ = ["cli", "main", "script"]


def _debug(argv: list[str]) -> bool:
    return "--debug" in argv or bool(os.environ.get("LOGOS_DOCTOR_DEBUG"))


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    prog = "kubectl doctor" if os.path.basename(sys.argv[0]).startswith("kubectl") else None
    try:
        code = cli.main(args=args, prog_name=prog or "logos-doctor", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("logos-doctor: aborted", err=True)
        code = 130
    except click.UsageError as exc:
        # One line, worded as every other error, with where to look: click's own three-line
        # usage block would push the actual mistake below the fold.
        where = exc.ctx.command_path if exc.ctx is not None else (prog or "logos-doctor")
        message = exc.format_message().rstrip(".")
        click.echo(f"logos-doctor: error: {message}; try '{where} --help'", err=True)
        code = exc.exit_code
    except click.ClickException as exc:
        click.echo(f"logos-doctor: error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except DoctorError as exc:
        if _debug(args):
            traceback.print_exc()
        click.echo(f"logos-doctor: error: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("logos-doctor: interrupted", err=True)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        if _debug(args):
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(
            f"logos-doctor: internal error: {type(exc).__name__}: {first[:300]} "
            "(run again with --debug for the traceback, and report it)",
            err=True,
        )
        code = 3
    sys.exit(code if isinstance(code, int) else 0)


def script() -> None:
    """The installed commands (``logos-doctor``, ``kubectl-doctor``, ``python -m``): ``main``,
    leaving the process once a one-shot command's output is written (``cli/leave.py``)."""
    leave.at_once()
    main()
