"""What one run of ``check`` yields per cluster: the target it reached, and its report or error.

Kept apart from the CLI so that the renderers, which lay out outcomes, never import a command
module (that once made ``cli/check.py`` and ``render/formats.py`` import each other).
"""

from __future__ import annotations

from dataclasses import dataclass

from logos_doctor.errors import DoctorError
from logos_doctor.runner import Report


@dataclass(frozen=True)
class Target:
    """One cluster to reach: a kubeconfig file (None: the default) and a context."""

    kubeconfig: str | None
    context: str | None


@dataclass(frozen=True)
class Outcome:
    """One cluster's report, or why there is none."""

    target: Target
    report: Report | None
    error: DoctorError | None = None
