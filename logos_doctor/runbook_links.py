"""Where a finding's runbook section lives: a file in the installed package, or a URL.

Runbooks ship inside the package (``logos_doctor.runbooks``) so the link works on a laptop
with no network; teams that publish them set ``runbookBaseUrl`` in the config instead.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def runbook_path(runbook_id: str) -> Path:
    """The markdown file of a runbook inside the installed package."""
    return Path(str(files("logos_doctor.runbooks").joinpath(f"{runbook_id}.md")))


def runbook_url(runbook_id: str, cause: str | None = None, base: str | None = None) -> str:
    """A link to a runbook, at the section of ``cause`` when given."""
    anchor = f"#{cause}" if cause else ""
    if base:
        return f"{base.rstrip('/')}/{runbook_id}.md{anchor}"
    return runbook_path(runbook_id).as_uri() + anchor
