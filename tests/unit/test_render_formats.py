"""The machine formats on recorded runs: JUnit a CI server can parse whatever the cluster
says, and Prometheus text that describes every metric exactly as the exporter does.

A pod name, a namespace or an event message is written by whoever can create a pod; the
hostile text below is what such a person could put there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from logos_doctor.config import Config
from logos_doctor.errors import ClusterError
from logos_doctor.outcome import Outcome, Target
from logos_doctor.registry import default_registry
from logos_doctor.render.formats import render_other
from logos_doctor.render.json_clusters import multi_json
from logos_doctor.render.junit import junit
from logos_doctor.render.prometheus import prometheus
from logos_doctor.runner import CheckResult, Report, run_checks
from logos_doctor.serve import Exporter, fetch_options, metrics_registry
from logos_doctor.state import ClusterState
from recorded import recorded

# Quotes, markup, an XML end-of-CDATA, a NUL, an ANSI escape, a vertical tab, a form feed,
# a non-character and a lone surrogate (JSON's "\ud800" decodes to one).
HOSTILE = "a\"b'c<d>&e]]>f\x00g\x1b[31mh\x0bi\x0cj\ufffek\ud800l"


def checked(name: str = "image_pull_faults") -> tuple[Report, Config]:
    state, config = recorded(name)
    checks = [c for c in default_registry() if all(state.has(k) for k in c.kinds)]
    return run_checks(state, checks, config), config


def hostile(report: Report) -> Report:
    """The same run as if every name and message the cluster controls were hostile, one
    check had raised and one had been skipped."""
    state = replace(report.state, cluster=replace(report.state.cluster, context=HOSTILE))
    findings = tuple(
        replace(
            f,
            message=HOSTILE + f.message,
            resource=replace(f.resource, name=HOSTILE, namespace=HOSTILE),
        )
        for f in report.findings
    )
    results = list(report.results)
    results[0] = replace(results[0], status="error", detail=f"check failed: {HOSTILE}")
    results[1] = replace(results[1], status="skipped", detail=f"forbidden: {HOSTILE}")
    return replace(report, state=state, findings=findings, results=tuple(results))


def test_junit_of_hostile_text_is_well_formed_and_keeps_the_structure() -> None:
    report = hostile(checked()[0])
    text = junit([report])
    root = ET.fromstring(text.encode("utf-8"))  # expat refuses any character XML forbids
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>')
    (suite,) = root
    cases = list(suite)
    assert [c.get("name") for c in cases] == [r.id for r in report.results]
    assert suite.get("tests") == str(len(report.results))
    assert suite.get("errors") == "1" and suite.get("skipped") == "1"
    assert cases[0][0].tag == "error" and cases[1][0].tag == "skipped"
    failing = {f.check for f in report.findings if f.severity.label != "info"} - {
        report.results[0].id,
        report.results[1].id,
    }
    assert failing, "the scenario has findings at warning or above"
    assert suite.get("failures") == str(len(failing))
    assert {c.get("name") for c in cases if c.find("failure") is not None} == failing
    # Markup and quotes survive as text; forbidden characters as visible escapes.
    failure = next(c.find("failure") for c in cases if c.find("failure") is not None)
    assert failure is not None and failure.text
    assert "a\"b'c<d>&e]]>f\\x00g\\x1b[31mh" in failure.text
    assert suite.get("name", "").endswith("\\x0bi\\x0cj\\ufffek\\ud800l")


def test_junit_of_several_clusters_and_of_none_is_well_formed() -> None:
    one, _ = checked("image_pull_faults")
    two, _ = checked("hpa_target_missing")
    assert len(ET.fromstring(junit([one, two]))) == 2
    assert len(ET.fromstring(junit([]))) == 0


def exporter_page(report: Report, config: Config) -> str:
    """What the exporter's /metrics shows after one run that found ``report``'s state."""

    class Once:
        options = fetch_options(1)

        def fetch(self, kinds: object, scope: object) -> ClusterState:
            return report.state

    exp = Exporter(Once(), report.checks, config, report.state.scope, 60)  # type: ignore[arg-type]
    exp.run_once()
    return generate_latest(metrics_registry(exp)).decode()


def described(text: str) -> dict[str, tuple[str, str, set[frozenset[str]]]]:
    """Each family's help, type and the label-name sets of its samples."""
    return {
        f.name: (f.documentation, f.type, {frozenset(s.labels) for s in f.samples})
        for f in text_string_to_metric_families(text)
    }


def test_prometheus_describes_every_family_as_the_exporter_does() -> None:
    report, config = checked()
    ours = described(prometheus([report]))
    theirs = described(exporter_page(report, config))
    assert set(ours) == {
        "logos_doctor_findings",
        "logos_doctor_check_up",
        "logos_doctor_last_run_timestamp_seconds",
    }
    for name, description in ours.items():
        assert description == theirs[name], name


def test_prometheus_shows_the_same_findings_and_check_states_as_the_exporter() -> None:
    report, config = checked()

    def values(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {
            frozenset(s.labels.items()): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == name
        }

    page = exporter_page(report, config)
    for name in ("logos_doctor_findings", "logos_doctor_check_up"):
        ours = values(prometheus([report]), name)
        assert ours and ours == values(page, name), name
    (stamp,) = values(prometheus([report]), "logos_doctor_last_run_timestamp_seconds").values()
    assert stamp == report.state.now.timestamp()


def test_prometheus_label_values_survive_hostile_text() -> None:
    report = hostile(checked()[0])
    families = {f.name: f for f in text_string_to_metric_families(prometheus([report]))}
    namespaces = {s.labels["namespace"] for s in families["logos_doctor_findings"].samples}
    assert namespaces == {HOSTILE.replace("\ud800", "\\ud800")}
    up = {s.labels["check"]: s.value for s in families["logos_doctor_check_up"].samples}
    assert up[report.results[0].id] == 0 and up[report.results[1].id] == 0


def test_prometheus_of_several_clusters_keeps_their_series_apart() -> None:
    one, _ = checked("image_pull_faults")
    two, _ = checked("hpa_target_missing")
    two = replace(two, state=replace(two.state, cluster=replace(two.state.cluster, context="b")))
    text = prometheus([one, two])
    seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    clusters = set()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in seen, key
            seen.add(key)
            clusters.add(s.labels["cluster"])
    assert clusters == {one.state.cluster.context, "b"}
    single = described(prometheus([one]))
    for name, (doc, kind, labels) in described(text).items():
        assert (doc, kind) == single[name][:2]
        assert labels == {frozenset({"cluster", *names}) for names in single[name][2]}


def test_render_other_dispatches_and_skips_clusters_that_failed() -> None:
    report, config = checked()
    failed = Outcome(Target(None, "gone"), None, ClusterError("cannot reach"))
    outcomes = [Outcome(Target(None, None), report), failed]
    assert render_other("junit", outcomes, config) == junit([report])
    assert render_other("prometheus", outcomes, config) == prometheus([report])
    assert render_other("markdown", outcomes, config).startswith("## logos-doctor report")
    with pytest.raises(ValueError):
        render_other("yaml", outcomes, config)
    doc = multi_json(outcomes, config)
    assert [c["error"] for c in doc["clusters"]] == [None, "cannot reach"]
    assert doc["summary"] == report.counts()


def imported_by(modules: str) -> list[str]:
    """The logos_doctor and prometheus_client modules a fresh interpreter has after
    importing ``modules``."""
    code = (
        f"import json, sys, {modules};"
        "print(json.dumps([m for m in sys.modules if m.startswith(('logos_doctor', 'prom'))]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def test_renderers_never_import_a_command_module_and_check_pays_only_for_its_format() -> None:
    loaded = imported_by("logos_doctor.render.formats, logos_doctor.render.json_clusters")
    assert not [m for m in loaded if m.startswith(("logos_doctor.cli", "prometheus_client"))]
    loaded = imported_by("logos_doctor.render.prometheus, logos_doctor.serve")
    assert "logos_doctor.render.metrics" in loaded
    assert not [m for m in loaded if m.startswith("logos_doctor.cli")]


def test_a_check_that_errors_shows_its_declared_findings_but_is_down() -> None:
    # A check that also yielded an undeclared cause keeps its declared findings in the report
    # but is an error: a one-shot run shows both, as it did before the families were shared.
    report, _ = checked()
    first = report.findings[0].check
    results = tuple(
        CheckResult(r.id, "error", "undeclared", r.seconds) if r.id == first else r
        for r in report.results
    )
    text = prometheus([replace(report, results=results)])
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert any(s.labels["check"] == first for s in families["logos_doctor_findings"].samples)
    up = {s.labels["check"]: s.value for s in families["logos_doctor_check_up"].samples}
    assert up[first] == 0
