"""``-o json``: the stable contract for scripts (documented in the README).

Fields are only ever added, never renamed or removed; ``version`` changes if that promise
is ever broken.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from logos_doctor.config import Config
from logos_doctor.finding import Finding
from logos_doctor.objects import ObjectRef, per_object
from logos_doctor.render.json_text import dumps
from logos_doctor.runbook_links import runbook_url
from logos_doctor.runner import Report, root_counts

VERSION = 1


def finding_json(
    finding: Finding,
    report: Report,
    config: Config,
    explains: int | None = None,
    refs: dict[int, tuple[tuple[ObjectRef, ...], list[dict[str, str | None]]]] | None = None,
) -> dict[str, Any]:
    """One finding as a JSON object (``explains`` is set for root causes).

    ``refs`` keeps the JSON of each tuple of references already written, for a whole report:
    the findings of one cause often share theirs (every pending GPU pod names the same
    hundreds of unlabelled nodes), and the document then holds one list for all of them.
    """
    memo = {} if refs is None else refs
    check = report.check(finding.check)
    runbook_id = check.runbook if check else finding.check
    return {
        "check": finding.check,
        "severity": finding.severity.label,
        "cause": finding.cause,
        "resource": finding.resource.to_json(),
        "parent": finding.parent.to_json() if finding.parent else None,
        "message": finding.message,
        "evidence": list(finding.evidence),
        "remediation": finding.remediation,
        "runbook": {
            "id": runbook_id,
            "cause": finding.cause,
            "url": _runbook_url(runbook_id, finding.cause, config.runbook_base_url),
        },
        "fix": finding.fix,
        "affected": _refs_json(finding.affected, memo),
        "depends_on": _refs_json(finding.depends_on, memo),
        "root_cause": explains is not None,
        "explains": explains or 0,
        "caused_by": [
            {"check": k.check, "cause": k.cause, "resource": k.resource.to_json()}
            for k in finding.caused_by
        ],
    }


def _refs_json(
    refs: tuple[ObjectRef, ...],
    memo: dict[int, tuple[tuple[ObjectRef, ...], list[dict[str, str | None]]]],
) -> list[dict[str, str | None]]:
    return per_object(memo, refs, lambda r: [ref.to_json() for ref in r]) if refs else []


def report_json(report: Report, config: Config) -> dict[str, Any]:
    """The whole report as the documented JSON object."""
    refs: dict[int, tuple[tuple[ObjectRef, ...], list[dict[str, str | None]]]] = {}
    state = report.state
    roots = root_counts(report.findings)
    cluster = state.cluster.to_json()
    cluster["namespaces"] = list(state.scope.namespaces) if state.scope.namespaces else None
    cluster["time"] = state.now.isoformat().replace("+00:00", "Z")
    doc: dict[str, Any] = {
        "version": VERSION,
        "cluster": cluster,
        "checks": [
            {"id": r.id, "status": r.status, "detail": r.detail, "seconds": round(r.seconds, 4)}
            for r in report.results
        ],
        "findings": [
            finding_json(f, report, config, explains, refs)
            for f, explains in zip(report.findings, roots, strict=True)
        ],
        "summary": report.counts(),
        # Findings an ignore file silenced (known.py): never among "findings".
        "silenced": [s.to_json() for s in report.known.silenced] if report.known else [],
        "ignore": report.known.to_json() if report.known else None,
        "baseline": report.baseline.to_json() if report.baseline else None,
    }
    if report.baseline is not None:  # "new" or "still" per finding (baseline.py)
        for item, f in zip(doc["findings"], report.findings, strict=True):
            item["baseline"] = report.baseline.mark(f)
    return doc


def render_json(report: Report, config: Config) -> str:
    """``-o json`` text."""
    return dumps(report_json(report, config))


# A runbook's URL is the same for every finding of a cause (and resolving the installed
# package's path for each of 20,000 findings took a second).
_runbook_url = lru_cache(maxsize=4096)(runbook_url)
