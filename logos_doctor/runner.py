"""Run checks over one ``ClusterState`` and gather a ``Report``.

The runner is where a failing check becomes an ``error`` entry instead of a crash, where a
check whose kinds could not be listed is ``skipped`` with the reason, where user severity
overrides apply, and where symptoms are linked to the findings that explain them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from logos_doctor.baseline import Comparison
from logos_doctor.config import Config
from logos_doctor.finding import Finding, FindingKey, Severity
from logos_doctor.known import Known
from logos_doctor.objects import ObjectRef, per_object
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

Status = Literal["ok", "findings", "skipped", "error"]


@dataclass(frozen=True)
class CheckResult:
    """How one check went."""

    id: str
    status: Status
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Report:
    """Everything one run found, ready for any renderer."""

    state: ClusterState
    results: tuple[CheckResult, ...]
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...]
    # Set after the run (annotate.py): what an ignore file silenced (known.py) and how the
    # findings compare with a baseline or the previous refresh (baseline.py).
    known: Known | None = None
    baseline: Comparison | None = None

    def counts(self) -> dict[str, int]:
        """Findings per severity label."""
        out = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in self.findings:
            out[f.severity.label] += 1
        return out

    def worst(self) -> Severity | None:
        """The highest severity found, or None."""
        return max((f.severity for f in self.findings), default=None)

    def check(self, check_id: str) -> Check | None:
        """The check object behind an id in this report."""
        return self._checks_by_id.get(check_id)

    @cached_property
    def _checks_by_id(self) -> dict[str, Check]:
        # Asked once per finding by the JSON report; the first of an id wins, as in a scan.
        return {c.id: c for c in reversed(self.checks)}


def run_checks(state: ClusterState, checks: Sequence[Check], config: Config) -> Report:
    """Run ``checks`` on ``state``; never raises for a check's own failure."""
    results: list[CheckResult] = []
    findings: list[Finding] = []
    # Reviewing checks read the others' findings, so they go last.
    for check in sorted(checks, key=lambda c: c.review is not None):
        missing = [k for k in check.kinds if not state.has(k)]
        if missing:
            reasons = "; ".join(state.unavailable.get(k) or f"{k} not fetched" for k in missing)
            results.append(CheckResult(check.id, "skipped", reasons))
            continue
        start = time.perf_counter()
        try:
            produced = (
                check.review(state, config, tuple(findings))
                if check.review is not None
                else check.run(state, config)
            )
            found = [_override(f, config) for f in produced]
        except Exception as exc:  # a check that raises is reported, not fatal
            detail = f"check failed: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            results.append(CheckResult(check.id, "error", detail, time.perf_counter() - start))
            continue
        seconds = time.perf_counter() - start
        declared = [f for f in found if f.check == check.id and f.cause in check.causes]
        findings.extend(declared)
        strays = sorted(
            {f"{f.check}/{f.cause}" for f in found} - {f"{f.check}/{f.cause}" for f in declared}
        )
        if strays:
            # A cause the check never declared has no runbook section, no severity a user can
            # override, no entry in `checks`: a bug in the check, reported as its error.
            detail = f"check reported undeclared cause(s): {', '.join(strays)}"
            results.append(CheckResult(check.id, "error", detail, seconds))
            continue
        status: Status = "findings" if found else "ok"
        results.append(CheckResult(check.id, status, f"{len(found)} finding(s)", seconds))
    linked = correlate(findings)
    ordered = sorted(linked, key=finding_order)
    return Report(state, tuple(results), tuple(ordered), tuple(checks))


def _override(finding: Finding, config: Config) -> Finding:
    overrides = config.severity_overrides
    label = overrides.get(f"{finding.check}/{finding.cause}") or overrides.get(finding.check)
    return finding.with_severity(Severity.parse(label)) if label else finding


def correlate(findings: Iterable[Finding]) -> list[Finding]:
    """Link each finding to the findings that explain it.

    Finding B explains finding A when B is about something A depends on, A is about
    something B affects, or the two meet at an object (A depends on a pod that B blocks);
    never both ways (a pair that would explain each other is left unlinked rather than
    drawn as a cycle).  This turns "Service logos-chat has no ready endpoints" and
    "Deployment logos-chat unavailable" into one chain ending at "image not found", and
    hangs the database StatefulSets and Services under "StorageClass missing".
    """
    items = list(findings)
    by_resource: dict[tuple[str, str | None, str], list[Finding]] = {}
    for f in items:
        by_resource.setdefault(_ident(f.resource), []).append(f)

    blockers: dict[tuple[str, str | None, str], list[Finding]] = {}
    for f in items:
        for ref in f.affected:
            blockers.setdefault(_ident(ref), []).append(f)

    # Per tuple of references, not per finding: the findings of one cause share theirs (every
    # pending GPU pod depends on the same hundreds of unlabelled nodes), and walking them
    # pair by pair made linking quadratic (9 of 17 s at 4,000 such pods and 334 nodes).
    named: dict[int, tuple[tuple[ObjectRef, ...], frozenset[tuple[str, str | None, str]]]] = {}
    upstream: dict[int, tuple[tuple[ObjectRef, ...], list[Finding]]] = {}

    def idents(refs: tuple[ObjectRef, ...]) -> frozenset[tuple[str, str | None, str]]:
        return per_object(named, refs, lambda r: frozenset(map(_ident, r)))

    def about_or_blocking(refs: tuple[ObjectRef, ...]) -> list[Finding]:
        """The findings about, then blocking, each object of ``refs``, in their order."""
        found: list[Finding] = []
        for ref in refs:
            found += by_resource.get(_ident(ref), ())
            found += blockers.get(_ident(ref), ())
        return found

    def explains(b: Finding, a: Finding) -> bool:
        depends, blocks = idents(a.depends_on), idents(b.affected)
        return (
            _ident(b.resource) in depends
            or _ident(a.resource) in blocks
            or not blocks.isdisjoint(depends)
        )

    out = []
    for a in items:
        candidates = [
            *per_object(upstream, a.depends_on, about_or_blocking),
            *blockers.get(_ident(a.resource), ()),
        ]
        causes: list[FindingKey] = []
        for b in candidates:
            if b is a:
                continue
            key = b.key
            if key in causes or explains(a, b):
                continue
            causes.append(key)
        out.append(a.with_causes(tuple(sorted(causes, key=_key_order))) if causes else a)
    return out


def _key_order(key: FindingKey) -> tuple[str, str, str, str, str]:
    r = key.resource
    return (key.check, key.cause, r.kind, r.namespace or "", r.name)


def finding_order(f: Finding) -> tuple[int, str, str, str, str, str]:
    """Worst first, then by check, cause and resource (None-safe)."""
    r = f.resource
    return (-f.severity, f.check, f.cause, r.kind, r.namespace or "", r.name)


def _ident(ref: ObjectRef) -> tuple[str, str | None, str]:
    return (ref.kind, ref.namespace, ref.name)


def root_causes(findings: Sequence[Finding]) -> list[tuple[Finding, frozenset[FindingKey]]]:
    """Findings nothing else explains, each with every finding it explains in turn.

    These are what an on-call engineer should fix first; the ones explaining the most
    findings come first, then by severity.
    """
    explained_by: dict[FindingKey, list[FindingKey]] = {}
    for f in findings:
        for cause in f.caused_by:
            explained_by.setdefault(cause, []).append(f.key)

    def reach(key: FindingKey) -> frozenset[FindingKey]:
        seen: set[FindingKey] = set()
        todo = list(explained_by.get(key, ()))
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo.extend(explained_by.get(nxt, ()))
        return frozenset(seen)

    roots = [(f, reach(f.key)) for f in findings if not f.caused_by]
    roots.sort(key=lambda pair: (-len(pair[1]), finding_order(pair[0])))
    return roots


def root_counts(findings: Sequence[Finding]) -> list[int | None]:
    """For each finding, how many findings ``root_causes`` says it explains when it is a
    root cause (nothing explains it, or another finding of its key is one), else None.

    The same numbers as ``len`` of ``root_causes``' sets, for ``-o json``, which needs no
    more: each finding's key is hashed once and the reach is walked over ints (hashing a
    key is three Python calls, and the sets held every explained key of every root).
    """
    number: dict[FindingKey, int] = {}
    own = [number.setdefault(f.key, len(number)) for f in findings]
    explained_by: dict[int, list[int]] = {}
    for f, mine in zip(findings, own, strict=True):
        for cause in f.caused_by:
            explained_by.setdefault(number.setdefault(cause, len(number)), []).append(mine)
    reached: dict[int, int] = {}  # a root's key number -> how many keys it reaches
    for f, mine in zip(findings, own, strict=True):
        if f.caused_by or mine in reached:
            continue
        seen: set[int] = set()
        todo = list(explained_by.get(mine, ()))
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo.extend(explained_by.get(nxt, ()))
        reached[mine] = len(seen)
    return [reached.get(mine) for mine in own]
