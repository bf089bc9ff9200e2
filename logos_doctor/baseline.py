"""Baseline: compare this run's findings with a previous ``check -o json`` (or the previous
refresh of ``check --watch``) and mark each finding new or still there, and list the gone.

A finding is matched on what it is about (check, cause, resource kind/namespace/name), never
on its message, which carries counts and ages ("3 of 5 pods", "for 12m").  A finding the
previous run had silenced (its ``silenced`` list) is not new when it comes back unsilenced;
one silenced now is not gone.  ``--fail-on new`` fails on new findings of warning or worse:
info findings are healthy states worth seeing, never a reason to fail.  Pure over findings
and parsed JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from logos_doctor.errors import ConfigError
from logos_doctor.finding import Finding
from logos_doctor.objects import ObjectRef

Ident = tuple[str, str, str, str | None, str]  # check, cause, kind, namespace, name
Mark = Literal["new", "still"]


def ident(f: Finding) -> Ident:
    """What a finding is matched on across runs."""
    r = f.resource
    return (f.check, f.cause, r.kind, r.namespace, r.name)


@dataclass(frozen=True)
class Previous:
    """A finding of the previous run, as much as its JSON says."""

    check: str
    cause: str
    severity: str
    resource: ObjectRef
    message: str

    @property
    def ident(self) -> Ident:
        """See ``ident``."""
        r = self.resource
        return (self.check, self.cause, r.kind, r.namespace, r.name)

    @classmethod
    def of(cls, f: Finding) -> Previous:
        """A finding of this process's previous refresh."""
        return cls(f.check, f.cause, f.severity.label, f.resource, f.message)

    def line(self) -> str:
        """``gone: warning admission/quota-exceeded ResourceQuota/ns/q``."""
        return f"gone: {self.severity} {self.check}/{self.cause} {self.resource}"

    def to_json(self) -> dict[str, Any]:
        """Identity, severity and the message it had."""
        return {
            "check": self.check,
            "cause": self.cause,
            "severity": self.severity,
            "resource": self.resource.to_json(),
            "message": self.message,
        }


@dataclass(frozen=True)
class Baseline:
    """A previous run: its findings, and those it had silenced."""

    source: str
    findings: tuple[Previous, ...]
    silenced: frozenset[Ident] = frozenset()


@dataclass(frozen=True)
class Comparison:
    """How a run compares with a baseline."""

    source: str
    new: frozenset[Ident]
    still: int
    gone: tuple[Previous, ...]

    def mark(self, f: Finding) -> Mark:
        """``new`` or ``still``."""
        return "new" if ident(f) in self.new else "still"

    def summary(self) -> str:
        """``baseline previous.json: 2 new, 5 still there, 1 gone``."""
        what = f"since {self.source}" if self.source.startswith("refresh") else "baseline"
        if what == "baseline":
            what += f" {self.source}"
        return f"{what}: {len(self.new)} new, {self.still} still there, {len(self.gone)} gone"

    def to_json(self) -> dict[str, Any]:
        """The ``baseline`` object of ``-o json``."""
        return {
            "source": self.source,
            "new": len(self.new),
            "still": self.still,
            "gone": [g.to_json() for g in self.gone],
        }


def compare(
    findings: Sequence[Finding], baseline: Baseline, silenced_now: Iterable[Ident] = ()
) -> Comparison:
    """Mark ``findings`` against ``baseline``; list what the baseline had and this run has
    not (neither as a finding nor silenced)."""
    before = {p.ident for p in baseline.findings} | baseline.silenced
    now = {ident(f) for f in findings}
    quiet = set(silenced_now)
    new = frozenset(i for i in now if i not in before)
    gone: list[Previous] = []
    seen: set[Ident] = set()
    for p in baseline.findings:
        if p.ident not in now and p.ident not in quiet and p.ident not in seen:
            seen.add(p.ident)
            gone.append(p)
    return Comparison(baseline.source, new, len(now) - len(new), tuple(gone))


def load_baseline(path: Path, context: str | None = None) -> Baseline:
    """Read a ``check -o json`` file; a multi-cluster one gives the entry for ``context``
    (or its only cluster).  Anything wrong is one ``ConfigError`` line."""
    where = f"baseline {path}"
    try:
        doc = json.loads(path.expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: not JSON ({exc}); give a 'check -o json' output") from None
    return parse_baseline(doc, path.name, context)


def parse_baseline(doc: object, source: str, context: str | None = None) -> Baseline:
    """A parsed ``check -o json`` document as a baseline."""
    where = f"baseline {source}"
    if isinstance(doc, dict) and isinstance(doc.get("clusters"), list):
        clusters = [c for c in doc["clusters"] if isinstance(c, dict)]
        picked = [c for c in clusters if (c.get("cluster") or {}).get("context") == context]
        if not picked and len(clusters) == 1:
            picked = clusters
        if not picked:
            raise ConfigError(f"{where}: no cluster {context!r} in it; give one cluster's JSON")
        doc = picked[0]
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise ConfigError(f"{where}: no 'findings' list; give a 'check -o json' output")
    try:
        findings = tuple(_previous(item) for item in doc["findings"])
        silenced = frozenset(_previous(item).ident for item in doc.get("silenced") or [])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{where}: a finding lacks {exc}; give a 'check -o json' output"
        ) from None
    return Baseline(source, findings, silenced)


def _previous(item: dict[str, Any]) -> Previous:
    r = item["resource"]
    ref = ObjectRef(str(r["kind"]), r.get("namespace"), str(r["name"]))
    return Previous(
        str(item["check"]),
        str(item["cause"]),
        str(item.get("severity", "")),
        ref,
        str(item.get("message", "")),
    )
