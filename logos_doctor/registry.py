"""The check registry: what checks exist, loaded through the ``logos_doctor.checks`` door.

Built-in checks register through the same entry-point group a third-party package uses
(see ``pyproject.toml``), so the plugin path is the tested path.  Loading is sorted and
deterministic; a plugin that fails to import, or whose entry point is not a ``Check``, is
recorded as a ``LoadError`` naming it, and every other check still runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from logos_doctor.cause import Causes
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.errors import ConfigError, UsageError
from logos_doctor.finding import Finding, Severity

if TYPE_CHECKING:
    from logos_doctor.config import Config
    from logos_doctor.state import ClusterState

GROUP = "logos_doctor.checks"
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

CheckFunc = Callable[["ClusterState", "Config"], Iterable[Finding]]
# A check that reads what the others found (the never-silent pass): it runs after them.
ReviewFunc = Callable[["ClusterState", "Config", Sequence[Finding]], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    """A check's metadata and the pure function that runs it.

    ``kinds`` are the resource kinds (plurals) it reads: the fetcher lists exactly their union,
    and the check is skipped when one of them could not be listed.  ``causes`` are every cause
    it can report, as a ``Causes`` table (a plugin may still give bare ids: they become
    causes at the check's severity); each has a section in the runbook named ``runbook``.
    The runner refuses a finding whose cause is not declared here.  A check with ``review``
    runs after every other check and is handed their findings (``run`` is then unused).
    """

    id: str
    title: str
    severity: Severity
    kinds: tuple[str, ...]
    causes: Causes | tuple[str, ...]
    run: CheckFunc = field(repr=False, compare=False)
    runbook: str = ""
    fix: str | None = None
    optional_kinds: tuple[str, ...] = ()
    review: ReviewFunc | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"check id {self.id!r} must be lower-case words joined by hyphens")
        unknown = [k for k in (*self.kinds, *self.optional_kinds) if k not in KINDS]
        if unknown:
            raise ValueError(f"check {self.id} reads unknown kinds: {', '.join(unknown)}")
        if not self.runbook:
            object.__setattr__(self, "runbook", self.id)
        if not isinstance(self.causes, Causes):
            object.__setattr__(self, "causes", Causes.of_ids(self.id, self.causes, self.severity))
        elif self.causes.check != self.id:
            raise ValueError(f"check {self.id} declares the causes of {self.causes.check}")

    @property
    def cause_table(self) -> Causes:
        """The declared causes (``causes`` typed as the table it always is after init)."""
        assert isinstance(self.causes, Causes)
        return self.causes


@dataclass(frozen=True)
class LoadError:
    """A plugin that could not be loaded, and why."""

    name: str
    value: str
    error: str


class Registry:
    """An ordered set of checks with unique ids."""

    def __init__(self, checks: Iterable[Check] = ()) -> None:
        self._checks: dict[str, Check] = {}
        self.load_errors: list[LoadError] = []
        for check in checks:
            self.add(check)

    def add(self, check: Check) -> None:
        """Register a check; ids must be unique."""
        if check.id in self._checks:
            raise ValueError(f"check id {check.id!r} is registered twice")
        self._checks[check.id] = check

    def __iter__(self) -> Iterator[Check]:
        return iter(sorted(self._checks.values(), key=lambda c: c.id))

    def __len__(self) -> int:
        return len(self._checks)

    def get(self, check_id: str) -> Check:
        """The check with this id, or a usage error listing the known ids."""
        try:
            return self._checks[check_id]
        except KeyError:
            known = ", ".join(sorted(self._checks))
            raise UsageError(
                f"unknown check {check_id!r}", f"known checks: {known} (see 'logos-doctor checks')"
            ) from None

    def select(self, ids: Iterable[str]) -> list[Check]:
        """The checks with these ids, in registry order, each validated."""
        wanted = {self.get(i).id for i in ids}
        return [c for c in self if c.id in wanted]

    def check_severity_keys(self, keys: Iterable[str]) -> None:
        """Refuse a ``severity:`` override that names no installed check or declared cause.

        A typo there would silently keep the default severity: the one mistake an override
        must not make.
        """
        for key in keys:
            check_id, _, cause = key.partition("/")
            check = self._checks.get(check_id)
            if check is None:
                known = ", ".join(sorted(self._checks))
                raise ConfigError(f"key severity.{key}: no check {check_id!r}", f"checks: {known}")
            if cause and cause not in check.causes:
                known = ", ".join(check.causes)
                raise ConfigError(
                    f"key severity.{key}: check {check_id} has no cause {cause!r}",
                    f"its causes: {known}",
                )

    @classmethod
    def from_entry_points(cls, group: str = GROUP) -> Registry:
        """Load every check registered under ``group``, sorted by entry-point name."""
        registry = cls()
        for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
            try:
                loaded = ep.load()
            except Exception as exc:  # a broken plugin must not stop the others
                registry.load_errors.append(LoadError(ep.name, ep.value, _short(exc)))
                continue
            if not isinstance(loaded, Check):
                registry.load_errors.append(
                    LoadError(ep.name, ep.value, f"is a {type(loaded).__name__}, not a Check")
                )
                continue
            if loaded.id != ep.name:
                registry.load_errors.append(
                    LoadError(ep.name, ep.value, f"declares id {loaded.id!r}, not {ep.name!r}")
                )
                continue
            try:
                registry.add(loaded)
            except ValueError as exc:
                registry.load_errors.append(LoadError(ep.name, ep.value, str(exc)))
        return registry


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


@functools.cache
def _installed() -> tuple[tuple[Check, ...], tuple[LoadError, ...]]:
    """The checks the entry points name, read once per process (checks are frozen values)."""
    loaded = Registry.from_entry_points()
    return tuple(loaded), tuple(loaded.load_errors)


def default_registry() -> Registry:
    """A registry of the installed checks, new at each call.

    The entry points are read once per process, but each caller gets a registry of its own
    (a value it passes down), so one that adds a check never changes what another runs.
    """
    checks, errors = _installed()
    registry = Registry(checks)
    registry.load_errors = list(errors)
    return registry
