"""``-o junit``: each check a test case, so a CI job fails and says which check found what.

The document is built with ``xml.etree.ElementTree``, which escapes markup and quotes, so a
pod name or an event message cannot close an element or forge one.  ElementTree does not
refuse the characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF, lone surrogates),
and one of them anywhere makes a CI server reject the whole report: ``_xml_safe`` writes
each as a visible ``\\xNN``/``\\uNNNN`` escape first, as ``clean`` does for terminals.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from logos_doctor.render.text import clean
from logos_doctor.runner import CheckResult, Report

# ElementTree can only declare the locale's encoding when it writes a str, so the (fixed)
# declaration is written here; the caller prints the text as UTF-8.
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
# What XML 1.0 allows (https://www.w3.org/TR/xml/#charsets); everything else is escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Indentation as text and tails, so the layout stays the one CI logs have always shown.
_SUITE_INDENT = "\n  "
_CASE_INDENT = "\n    "


def _xml_safe(text: object) -> str:
    """``text`` with every character XML 1.0 forbids written as an escape."""

    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return _NOT_XML.sub(escape, str(text))


def _element(tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    """An element whose attribute values and text are XML-safe."""
    element = ET.Element(tag, {k: _xml_safe(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_safe(text)
    return element


def _outcome(result: CheckResult, report: Report) -> ET.Element | None:
    """The case's child: an error or skip with its reason, the failure (the check's findings
    at warning or above), or None when the check passed."""
    if result.status == "error":
        return _element("error", message=clean(result.detail))
    if result.status == "skipped":
        return _element("skipped", message=clean(result.detail))
    bad = [f for f in report.findings if f.check == result.id and f.severity.label != "info"]
    if not bad:
        return None
    text = "\n".join(
        f"{f.severity.label} {f.cause} {clean(f.resource)}: {clean(f.message)}" for f in bad
    )
    return _element("failure", text, message=f"{bad[0].cause}: {clean(bad[0].message, 200)}")


def _silenced(report: Report) -> dict[str, list[str]]:
    """Per check, one line per finding an ignore file silenced (known.py): a silenced finding
    fails no case, but the CI log still says it is there and why it is let through."""
    out: dict[str, list[str]] = {}
    if report.known is None:
        return out
    for s, line in zip(report.known.silenced, report.known.lines(), strict=True):
        out.setdefault(s.finding.check, []).append(clean(line))
    return out


def _suite(report: Report) -> ET.Element:
    """One cluster's checks as a test suite named after its context."""
    name = report.state.cluster.context or "cluster"
    suite = _element("testsuite", name=f"logos-doctor {name}")
    silenced = _silenced(report)
    if report.known is not None:  # first child, where JUnit readers look for properties
        properties = _element("properties")
        properties.append(_element("property", name="silenced", value=len(report.known.silenced)))
        properties.text = _CASE_INDENT + "  "
        properties[-1].tail = _CASE_INDENT
        properties.tail = _CASE_INDENT
        suite.append(properties)
    counts = {"error": 0, "skipped": 0, "failure": 0}
    for result in report.results:
        case = _element(
            "testcase",
            classname=f"logos-doctor.{name}",
            name=result.id,
            time=f"{result.seconds:.4f}",
        )
        child = _outcome(result, report)
        if child is not None:
            counts[child.tag] += 1
            case.append(child)
        if result.id in silenced:
            case.append(_element("system-out", "\n".join(silenced[result.id])))
        case.tail = _CASE_INDENT
        suite.append(case)
    suite.set("tests", str(len(report.results)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.text = _CASE_INDENT if len(suite) else _SUITE_INDENT
    if len(suite):
        suite[-1].tail = _SUITE_INDENT
    return suite


def junit(reports: Sequence[Report]) -> str:
    """A ``<testsuites>`` document with one suite per cluster (no trailing newline)."""
    root = ET.Element("testsuites")
    root.text = _SUITE_INDENT if reports else "\n"
    for report in reports:
        suite = _suite(report)
        suite.tail = _SUITE_INDENT
        root.append(suite)
    if len(root):
        root[-1].tail = "\n"
    # Empty elements keep an end tag (``<testcase ...></testcase>``), as they always had.
    return DECLARATION + ET.tostring(root, encoding="unicode", short_empty_elements=False)
