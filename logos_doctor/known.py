"""Known findings: an ignore file that silences findings the team already knows about.

``.logos-doctor-ignore.yaml`` (in the current directory, or ``--ignore-file PATH``)::

    ignore:
      - check: gpu-nodes            # globs; an entry needs at least one of these five
        cause: no-gpu-nodes
        kind: Node
        namespace: "*"
        name: "gpu-*"
        reason: GPU pool retired until Q3 (INC-1234)    # required
        expires: 2026-12-31          # optional; from the next day on, the entry is ignored

Silencing applies AFTER linking, on the linked findings, so the chains stay those the checks
drew: a finding an entry matches is silenced, and so is every finding whose causes are all
silenced (a symptom follows its cause: silencing "GPU node pool missing" also silences the
Deployment it leaves unavailable, instead of promoting that Deployment to a new root cause).
A symptom that still has one live cause stays, linked to it.  An expired entry silences
nothing and is reported as a warning.  Pure over findings: no cluster, no clock (``today`` is
given).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from logos_doctor.errors import ConfigError
from logos_doctor.finding import Finding, FindingKey

IGNORE_FILE = ".logos-doctor-ignore.yaml"
PATTERNS = ("check", "cause", "kind", "namespace", "name")
KEYS = (*PATTERNS, "reason", "expires")


@dataclass(frozen=True)
class IgnoreEntry:
    """One entry of the ignore file: globs (None matches anything), why, until when."""

    number: int  # 1-based position in the file, for messages
    reason: str
    check: str | None = None
    cause: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    expires: date | None = None

    def describe(self) -> str:
        """``check=image-pull name=logos-chat-*``: the entry's patterns."""
        return " ".join(f"{k}={getattr(self, k)}" for k in PATTERNS if getattr(self, k))

    def expired(self, today: date) -> bool:
        """True from the day after ``expires``."""
        return self.expires is not None and today > self.expires

    def matches(self, finding: Finding) -> bool:
        """Every pattern given matches; a cluster-scoped object matches ``namespace`` only
        when the pattern is ``*``."""
        r = finding.resource
        values = {
            "check": finding.check,
            "cause": finding.cause,
            "kind": r.kind,
            "namespace": r.namespace,
            "name": r.name,
        }
        for key in PATTERNS:
            pattern = getattr(self, key)
            if pattern is None:
                continue
            value = values[key]
            if value is None:
                if pattern != "*":
                    return False
            elif not fnmatch.fnmatchcase(value, pattern):
                return False
        return True

    def to_json(self) -> dict[str, Any]:
        """The entry as in the file, plus its number."""
        out: dict[str, Any] = {"entry": self.number}
        out.update({k: getattr(self, k) for k in PATTERNS if getattr(self, k) is not None})
        out["reason"] = self.reason
        out["expires"] = self.expires.isoformat() if self.expires else None
        return out


@dataclass(frozen=True)
class IgnoreFile:
    """The parsed file and where it came from."""

    path: Path
    entries: tuple[IgnoreEntry, ...]


@dataclass(frozen=True)
class Silenced:
    """A finding taken out of the report: by which entry, and, for a symptom silenced with
    its cause, which silenced finding it follows."""

    finding: Finding
    entry: IgnoreEntry
    follows: FindingKey | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding's identity and message, and why it is silenced."""
        f = self.finding
        out: dict[str, Any] = {
            "check": f.check,
            "cause": f.cause,
            "severity": f.severity.label,
            "resource": f.resource.to_json(),
            "message": f.message,
            "reason": self.entry.reason,
            "entry": self.entry.number,
            "expires": self.entry.expires.isoformat() if self.entry.expires else None,
            "follows": None,
        }
        if self.follows is not None:
            k = self.follows
            out["follows"] = {"check": k.check, "cause": k.cause, "resource": k.resource.to_json()}
        return out


@dataclass(frozen=True)
class Known:
    """What an ignore file did to one report."""

    path: Path
    silenced: tuple[Silenced, ...]
    expired: tuple[IgnoreEntry, ...]
    unknown: tuple[str, ...] = ()  # entries naming no installed check or cause

    def warnings(self) -> list[str]:
        """One line per expired entry (they no longer silence anything) and per entry whose
        check or cause matches nothing installed."""
        return [
            f"warning: {self.path} entry {e.number} ({e.describe()}) expired on "
            f"{e.expires}; it no longer silences (reason was: {e.reason})"
            for e in self.expired
        ] + [f"warning: {line}" for line in self.unknown]

    def lines(self) -> list[str]:
        """One line per silenced finding, for ``-v``."""
        out = []
        for s in self.silenced:
            f = s.finding
            why = f"follows {s.follows.check}/{s.follows.cause}" if s.follows else s.entry.reason
            until = f", until {s.entry.expires}" if s.entry.expires else ""
            out.append(
                f"silenced: {f.severity.label} {f.check}/{f.cause} {f.resource}"
                f" · entry {s.entry.number}: {why}{until}"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``ignore`` object of ``-o json``."""
        return {
            "file": str(self.path),
            "silenced": len(self.silenced),
            "expired": [e.to_json() for e in self.expired],
            "unknown": list(self.unknown),
        }


def find_ignore_file(explicit: str | None, cwd: Path | None = None) -> Path | None:
    """``--ignore-file`` (must exist), else ``./.logos-doctor-ignore.yaml`` if present."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"ignore file {path}: not found")
        return path
    default = (cwd or Path.cwd()) / IGNORE_FILE
    return default if default.is_file() else None


def load_ignore(path: Path) -> IgnoreFile:
    """Parse the ignore file; anything wrong is one ``ConfigError`` line naming the entry."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"ignore file {path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"ignore file {path}: not valid YAML{where}: {problem}") from None
    return IgnoreFile(path, parse_entries(doc, str(path)))


def parse_entries(doc: object, source: str) -> tuple[IgnoreEntry, ...]:
    """The entries of a parsed document: ``{ignore: [...]}``, a bare list, or empty."""
    if doc is None:
        return ()
    if isinstance(doc, dict):
        extra = sorted(str(k) for k in doc if k != "ignore")
        if extra:
            raise ConfigError(
                f"ignore file {source}: unknown key {extra[0]!r}; the file holds 'ignore:' "
                "and a list of entries"
            )
        doc = doc.get("ignore") or []
    if not isinstance(doc, list):
        raise ConfigError(f"ignore file {source}: 'ignore' must be a list of entries")
    return tuple(_entry(item, n, source) for n, item in enumerate(doc, start=1))


def _entry(item: object, number: int, source: str) -> IgnoreEntry:
    where = f"ignore file {source}: entry {number}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a mapping with check/cause/kind/namespace/name")
    unknown = sorted(str(k) for k in item if k not in KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; keys: {', '.join(KEYS)}")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}: 'reason' is required (say why it is known)")
    patterns: dict[str, str] = {}
    for key in PATTERNS:
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            raise ConfigError(f"{where}: {key!r} must be a non-empty string (a glob)")
        patterns[key] = str(value)
    if not patterns:
        raise ConfigError(
            f"{where}: would silence every finding; give at least one of {', '.join(PATTERNS)}"
        )
    return IgnoreEntry(
        number, reason.strip(), expires=_date(item.get("expires"), where), **patterns
    )


def _date(value: object, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: 'expires' must be a date like 2026-12-31, not {value!r}")


def silence(
    findings: Sequence[Finding], entries: Iterable[IgnoreEntry], today: date
) -> tuple[list[Finding], list[Silenced], list[IgnoreEntry]]:
    """Split linked findings into (kept, silenced, expired entries).

    A finding matching a live entry is silenced by the first such entry; then, until nothing
    changes, a finding whose causes (``caused_by``) are all silenced follows them.
    """
    entries = list(entries)
    live = [e for e in entries if not e.expired(today)]
    expired = [e for e in entries if e.expired(today)]
    out: dict[FindingKey, Silenced] = {}
    for f in findings:
        entry = next((e for e in live if e.matches(f)), None)
        if entry is not None:
            out[f.key] = Silenced(f, entry)
    changed = bool(out)
    while changed:
        changed = False
        for f in findings:
            if f.key in out or not f.caused_by:
                continue
            if all(k in out for k in f.caused_by):
                cause = out[f.caused_by[0]]
                root = cause.follows or cause.finding.key
                out[f.key] = Silenced(f, cause.entry, root)
                changed = True
    kept = [f for f in findings if f.key not in out]
    silenced = [out[f.key] for f in findings if f.key in out]
    return kept, silenced, expired


def load_known(explicit: str | None, cwd: Path | None = None) -> IgnoreFile | None:
    """The ignore file ``check`` uses: ``--ignore-file``, else the default one, else None."""
    path = find_ignore_file(explicit, cwd)
    return load_ignore(path) if path is not None else None


def unknown_patterns(ignore: IgnoreFile, causes: Mapping[str, Iterable[str]]) -> list[str]:
    """Warnings for entries whose ``check`` or ``cause`` matches no installed check or cause
    (``causes``: check id -> its cause ids): a typo would silently silence nothing."""
    out = []
    for e in ignore.entries:
        checks = [c for c in causes if e.check is None or fnmatch.fnmatchcase(c, e.check)]
        if not checks:
            out.append(f"{ignore.path} entry {e.number}: check {e.check!r} matches no check")
            continue
        ids = [c for check in checks for c in causes[check]]
        if e.cause is not None and not any(fnmatch.fnmatchcase(c, e.cause) for c in ids):
            where = f"check {e.check!r}" if e.check else "any check"
            out.append(f"{ignore.path} entry {e.number}: cause {e.cause!r} is no cause of {where}")
    return out
