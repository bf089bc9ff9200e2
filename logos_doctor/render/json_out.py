"""``-o json``: the stable contract for scripts (documented in the README).

Fields are only ever added, never renamed or removed; ``version`` changes if that promise
is ever broken.
"""

from __future__ import annotations

import codecs
import gc
import json
from functools import lru_cache
from itertools import compress
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

import orjson

from logos_doctor.config import Config
from logos_doctor.finding import Finding
from logos_doctor.objects import ObjectRef, per_object
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


def dumps(doc: Any) -> str:
    """``json.dumps(doc, indent=2)``, the same text, mostly written by orjson.

    With ``indent``, the standard library encodes in pure Python, a generator per container
    (0.8 s for 19,000 findings).  orjson writes the same layout in one native pass, and
    its text is the standard library's for dicts with string keys, lists, tuples, strings,
    ints, booleans and None, once what it writes as it is (DEL and everything beyond ASCII)
    is escaped as ``json`` escapes it (``_ascii``).  Whatever else the document holds (a
    float, whose text orjson writes its own way; a non-string key; a subclass, which may
    change what json reads of it) is handed to orjson as the standard library's text, an
    ``orjson.Fragment`` written in place (``_ready``).  What orjson refuses (an int beyond
    64 bits, a lone surrogate, nesting beyond 255 levels) is encoded as before (``_encode``:
    the levels above the flat containers in Python, each flat one by json's C encoder).
    A report's only floats are the checks' timings: its findings go to orjson whole.
    """
    if c_make_encoder is None:  # a Python without the json C accelerator
        return json.dumps(doc, indent=2)
    try:
        return _ascii(orjson.dumps(_ready(doc, 0), option=orjson.OPT_INDENT_2))
    except orjson.JSONEncodeError:
        return _encode(doc, 0)


# The types whose text orjson writes as json.dumps does (exact types: a subclass may
# change what json reads of it).
_PLAIN = frozenset((dict, list, tuple, str, int, bool, type(None)))
_CONTAINERS = (dict, list, tuple)
_NESTED = frozenset(_CONTAINERS)


def _ready(value: Any, depth: int) -> Any:
    """``value`` as orjson writes it as json.dumps does at ``depth``: itself when it is
    plain throughout, else a copy of each container above what is not, with that as a
    Fragment of json's own text (indented for its depth, as the fragment is written as it is)."""
    kind = type(value)
    if kind in _NESTED and _plain(value):
        return value
    if kind is dict and all(type(key) is str for key in value):
        return {key: _ready(item, depth + 1) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_ready(item, depth + 1) for item in value]
    if kind in _PLAIN:  # a plain scalar
        return value
    return orjson.Fragment(_encode(value, depth))


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only ``_PLAIN`` types, at every depth.

    Level by level, all in C: ``gc.get_referents`` gives every item of a list or tuple and
    every value of a dict (and every key, unless all of them are exact strings), the type
    test is a set's, and the next level is picked by ``compress``.  A shared container is
    walked (and written) each time it is met, as json writes it; a document that holds
    itself ends the walk at orjson's depth limit, or at ``_MOST`` values in one level
    when it holds itself more than once, and goes the standard library's way.
    """
    level = [value]
    for _ in range(_DEEPEST):
        found = gc.get_referents(*level)
        kinds = list(map(type, found))
        if len(found) > _MOST or not _PLAIN.issuperset(kinds):
            return False
        level = list(compress(found, map(_NESTED.__contains__, kinds)))
        if not level:
            return True
    return False


_DEEPEST = 256  # orjson refuses a document nested deeper than 255 levels
_MOST = 1 << 24  # values in one level (128 MiB of references); beyond, json's way


def _ascii(text: bytes) -> str:
    """orjson's UTF-8 as ``json.dumps``' ASCII: DEL and each character beyond ASCII as
    ``\\uXXXX`` (lower-case hex; a surrogate pair beyond the BMP).

    Decoded as ASCII in one pass, each run of bytes beyond it escaped by ``_beyond_ascii``
    on the way: no copy of the text but the result (a report's text is tens of MB).  Such
    bytes can only be inside strings, as can DEL, which ASCII decodes as it is.
    """
    decoded = text.decode("ascii", _BEYOND_ASCII)
    return decoded.replace("\x7f", "\\u007f") if "\x7f" in decoded else decoded


def _beyond_ascii(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler of ``_ascii``: the run of non-ASCII bytes from where the
    decoder stopped (whole UTF-8 characters: ASCII never continues one), escaped."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    data, end = error.object, error.start
    while end < len(data) and data[end] >= 0x80:
        end += 1
    return _escaped(data[error.start : end]).decode("ascii"), end


_BEYOND_ASCII = "logos_doctor.json_out.beyond_ascii"
codecs.register_error(_BEYOND_ASCII, _beyond_ascii)


@lru_cache(maxsize=4096)
def _escaped(run: bytes) -> bytes:
    out = []
    for char in run.decode("utf-8"):
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out).encode("ascii")


_FLAT: dict[int, Any] = {}  # depth -> the C encoder of a flat container at that depth


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
