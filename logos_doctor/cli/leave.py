"""Leaving the process as soon as a one-shot command's output is written.

A run's objects are freed one by one when the command returns: the cluster state, the
findings and the report, millions of small dicts, lists and strings.  At 93,000 objects that
took 0.27 s of CPU after a ``check --snapshot``'s output was complete, and 2.5 s at the
scalability envelope, while the shell waited (docs/performance.md).  The operating system
takes the whole heap back at once, so the installed commands (``script``) end a one-shot
``check`` or ``snapshot`` with ``os._exit`` once their output is flushed, as mypy does for
the same reason.

Only there: a program that calls ``cli.main`` in-process (tests, an embedding tool) goes on
after the command, and gets the ordinary ``click`` exit.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

_AT_ONCE = False


def at_once() -> None:
    """Let one-shot commands leave the process at once (the installed commands' entry)."""
    global _AT_ONCE
    _AT_ONCE = True


def done(code: int) -> NoReturn:
    """End a one-shot command with exit status ``code``.

    Standard output and error are flushed first: ``os._exit`` skips Python's own flush.  If
    they cannot be (a reader that went away), the ordinary exit reports it as it always has.
    Nothing else is left to run at exit: files are closed where they are written, and the
    fetch's threads have finished.
    """
    if _AT_ONCE:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe or a closed stream
            pass
        else:
            os._exit(code)
    raise click.exceptions.Exit(code)
