"""Causes as data: each cause is declared once, by its check, and everything else reads it.

The check's table is the single source: the runner refuses a cause that is not in it, the
runbooks hold one section per declared cause and no other, ``checks -o json`` lists them with
their severities, and a user's severity override must name a real cause.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from logos_doctor import runbook as rb
from logos_doctor.cause import Cause, Causes
from logos_doctor.cli import cli, main
from logos_doctor.config import load_config
from logos_doctor.errors import ConfigError
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef
from logos_doctor.registry import Check, default_registry
from logos_doctor.runner import run_checks
from recorded import recorded

CHECKS = list(default_registry())
POD = ObjectRef("Pod", "logos", "logos-web-0")


def test_a_finding_is_made_from_its_cause_with_the_templates_filled() -> None:
    causes = Causes(
        "demo",
        Cause("broken", Severity.WARNING, "B", remediation="Restart {what}.", fix="fix {what}"),
    )
    finding = causes["broken"].finding(resource=POD, message="m", what="it")
    assert (finding.check, finding.cause, finding.severity) == ("demo", "broken", Severity.WARNING)
    assert finding.remediation == "Restart it." and finding.fix == "fix it"
    milder = causes["broken"].finding(resource=POD, message="m", severity=Severity.INFO, what="x")
    assert milder.severity is Severity.INFO


def test_a_template_fact_the_check_forgot_fails_loudly() -> None:
    causes = Causes("demo", Cause("broken", Severity.WARNING, "B", remediation="Restart {what}."))
    with pytest.raises(KeyError, match="what"):
        causes["broken"].finding(resource=POD, message="m")


def test_a_cause_is_declared_once_and_named_right() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Causes("demo", Cause("a", Severity.INFO, "A"), Cause("a", Severity.INFO, "A"))
    with pytest.raises(ValueError, match="lower-case"):
        Cause("Broken_Thing", Severity.INFO, "B")
    with pytest.raises(KeyError, match="declares no cause 'nope'"):
        Causes("demo", Cause("a", Severity.INFO, "A"))["nope"]


def test_a_check_cannot_carry_another_checks_causes() -> None:
    other = Causes("other", Cause("a", Severity.INFO, "A"))
    with pytest.raises(ValueError, match="declares the causes of other"):
        Check(id="demo", title="t", severity=Severity.INFO, kinds=("pods",), causes=other,
              run=lambda s, c: [])


def _stray(state, config):  # type: ignore[no-untyped-def]
    yield Finding("stray", "declared", Severity.WARNING, POD, "fine")
    yield Finding("stray", "made-up", Severity.CRITICAL, POD, "not declared")


def test_the_runner_refuses_an_undeclared_cause_as_the_checks_error() -> None:
    check = Check(id="stray", title="t", severity=Severity.WARNING, kinds=("pods",),
                  causes=("declared",), run=_stray)
    state, config = recorded("healthy_logos")
    report = run_checks(state, [check], config)
    (result,) = report.results
    assert result.status == "error"
    assert "undeclared cause(s): stray/made-up" in result.detail
    assert [f.cause for f in report.findings] == ["declared"]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_runbook_cause_section_is_a_declared_cause(check: Check) -> None:
    book = rb.load(check.runbook)
    declared = {c for chk in CHECKS if chk.id in book.checks for c in chk.causes}
    extra = sorted(set(book.causes) - declared)
    assert not extra, f"{book.source} has sections for causes no check declares: {extra}"


def test_checks_json_lists_every_cause_with_its_severity_and_runbook() -> None:
    result = CliRunner().invoke(cli, ["checks", "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    for check in CHECKS:
        listed = {c["id"]: c for c in rows[check.id]["causes"]}
        assert list(listed) == list(check.causes)
        for cause in check.cause_table.values():
            assert listed[cause.id]["severity"] == cause.severity.label
            assert listed[cause.id]["runbook"]["url"].endswith(f"{check.runbook}.md#{cause.anchor}")
    missing = {c["id"]: c for c in rows["storage-class"]["causes"]}["missing"]
    assert missing["severity"] == "critical" and missing["fix"] == "logos-doctor fix storageclass"


def test_a_config_override_of_one_cause_changes_that_cause_only(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('severity: {"storage-class/missing": info}\n')
    overrides = load_config(cfg).severity_overrides
    default_registry().check_severity_keys(overrides)
    state, config = recorded("storage_class_missing")
    chosen = [c for c in CHECKS if c.id in ("storage-class", "pvc-pending")]
    before = {(f.check, f.cause): f.severity for f in run_checks(state, chosen, config).findings}
    changed = replace(config, severity_overrides=overrides)
    after = {(f.check, f.cause): f.severity for f in run_checks(state, chosen, changed).findings}
    assert before[("storage-class", "missing")] is Severity.CRITICAL
    assert after[("storage-class", "missing")] is Severity.INFO
    assert after[("pvc-pending", "storage-class-missing")] == before[
        ("pvc-pending", "storage-class-missing")
    ]


@pytest.mark.parametrize(
    ("key", "message"),
    [("storage-clas", "no check 'storage-clas'"), ("storage-class/mising", "no cause 'mising'")],
)
def test_an_override_naming_no_cause_is_a_config_error(key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        default_registry().check_severity_keys([key])


def test_the_cli_refuses_a_misspelt_override_before_reading_the_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('severity: {"pvc-pending/storage-class-mising": info}\n')
    # A kubeconfig that points nowhere: reaching for the cluster would fail differently.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--all", "--kubeconfig", str(kubeconfig), "--config", str(cfg)])
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    assert "severity.pvc-pending/storage-class-mising" in err and "its causes:" in err
    assert "Traceback" not in err
