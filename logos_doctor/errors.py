"""The errors logos-doctor reports to a user, and the exit status each one means.

Every error a user can cause or meet (bad input, an unreachable or refusing cluster, a bad
snapshot) is a ``DoctorError``: the CLI prints its message as one line, with the ``hint`` that
says what to do, and exits with ``exit_code``. Anything else is a bug and shows a traceback
only with ``--debug``.

- ``UsageError`` (exit 2): the command line itself is wrong, e.g. an unknown check id.
- ``ConfigError`` (exit 3): a config file or Helm values file is malformed.
- ``SnapshotError`` (exit 3): a snapshot file is unreadable, truncated or of a foreign version.
- ``ClusterError`` (exit 3): the cluster could not be reached or refused our credentials for
  the whole run.  ``KindUnavailable`` is its per-kind sibling: one resource kind could not be
  listed (forbidden, not served, failed after retries); the checks that need it are skipped and
  the others still run, so it is recorded, not raised to the user.
- ``FixError`` (exit 3): a fix refused or stopped to keep the cluster safe.
"""

from __future__ import annotations


class DoctorError(Exception):
    """An error meant for the user: one line, a hint, an exit status."""

    exit_code = 3

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(DoctorError):
    """The command line is wrong (unknown check id, conflicting options)."""

    exit_code = 2


class ConfigError(DoctorError):
    """A configuration or Helm values file is malformed."""


class SnapshotError(DoctorError):
    """A snapshot file cannot be read."""


class ClusterError(DoctorError):
    """The cluster cannot be used at all for this run."""


class KindUnavailable(DoctorError):
    """One resource kind could not be listed; checks needing it are skipped."""

    def __init__(self, kind: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.kind = kind


class FixError(DoctorError):
    """A fix refused to run or stopped, leaving the cluster safe."""
