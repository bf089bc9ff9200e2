"""``-o json``: the stable contract for scripts (documented in the README).

Fields are only ever added, never renamed or removed; ``version`` changes if that promise
is ever broken.
"""

from __future__ import annotations

import json
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from logos_doctor.config import Config
from logos_doctor.finding import Finding
from logos_doctor.runbook_links import runbook_url
from logos_doctor.runner import Report, root_causes

VERSION = 1


def finding_json(
    finding: Finding, report: Report, config: Config, explains: int | None = None
) -> dict[str, Any]:
    """One finding as a JSON object (``explains`` is set for root causes)."""
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
        "affected": [ref.to_json() for ref in finding.affected],
        "depends_on": [ref.to_json() for ref in finding.depends_on],
        "root_cause": explains is not None,
        "explains": explains or 0,
        "caused_by": [
            {"check": k.check, "cause": k.cause, "resource": k.resource.to_json()}
            for k in finding.caused_by
        ],
    }


def report_json(report: Report, config: Config) -> dict[str, Any]:
    """The whole report as the documented JSON object."""
    state = report.state
    roots = {f.key: len(keys) for f, keys in root_causes(report.findings)}
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
        "findings": [finding_json(f, report, config, roots.get(f.key)) for f in report.findings],
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


def dumps(doc: Any) -> str:
    """``json.dumps(doc, indent=2)``, the same text, with less of it encoded in Python.

    With ``indent``, the standard library encodes in pure Python, a generator per container.
    Here every mapping or list that holds no container (a resource reference, the evidence
    lines, a runbook link) is encoded by the C encoder in one call, with the newline and
    indentation of its depth as the item separator; only the levels above those are walked
    in Python.  On 5,700 findings (12 MB of text) that is 0.22 s instead of 0.27 s: the
    walk above the flat containers is most of what is left.  orjson, with the non-ASCII
    escaped afterwards, gives the same text in 0.06 s (docs/performance.md), but it is not
    a dependency.
    """
    if c_make_encoder is None:  # a Python without the json C accelerator
        return json.dumps(doc, indent=2)
    return _encode(doc, 0)


_FLAT: dict[int, Any] = {}  # depth -> the C encoder of a flat container at that depth
_CONTAINERS = (dict, list, tuple)


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _flat(value: Any, depth: int) -> str:
    encode = _FLAT.get(depth)
    if encode is None:
        encode = _FLAT[depth] = c_make_encoder(  # json.encoder's own, as json.dumps builds it
            None, _refuse, encode_basestring_ascii, None, ": ", ",\n" + "  " * (depth + 1),
            False, False, True,
        )  # fmt: skip
    return "".join(encode(value, 0))


def _encode(value: Any, depth: int) -> str:
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = "\n" + "  " * (depth + 1)
        for item in value.values():
            if isinstance(item, _CONTAINERS):
                break
        else:
            return "{" + inner + _flat(value, depth)[1:-1] + "\n" + "  " * depth + "}"
        parts = [f"{_key(k)}: {_encode(v, depth + 1)}" for k, v in value.items()]
        return "{" + inner + ("," + inner).join(parts) + "\n" + "  " * depth + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = "\n" + "  " * (depth + 1)
        for item in value:
            if isinstance(item, _CONTAINERS):
                break
        else:
            return "[" + inner + _flat(value, depth)[1:-1] + "\n" + "  " * depth + "]"
        parts = [_encode(v, depth + 1) for v in value]
        return "[" + inner + ("," + inner).join(parts) + "\n" + "  " * depth + "]"
    if value is None:  # the common scalars without a json.dumps call each (an encoder
        return "null"  # object is built per call: 0.2 s at 19,000 findings)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)  # what json.dumps writes for an int
    scalar: str = json.dumps(value)  # other numbers: the C encoder's own text
    return scalar


def _key(key: Any) -> str:
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    text: str = json.dumps({key: 0})  # the standard library's rules for non-string keys
    return text[1 : text.rindex(":")]
