"""storage-class and pvc-pending on states recorded from the real test cluster.

Each scenario was built by ``tests/k8scluster/scenarios/storage.py`` and recorded with
``python -m k8scluster.record``: the events and phases are the ones the real PV controller,
scheduler and StatefulSet controller wrote.
"""

from dataclasses import replace

import pytest

from logos_doctor.checks.pvc_pending import CHECK as PVC_PENDING
from logos_doctor.checks.storage_class import CHECK as STORAGE_CLASS
from logos_doctor.finding import Finding, Severity
from logos_doctor.runner import run_checks
from recorded import recorded


def findings(name: str, **config_changes: object) -> list[Finding]:
    state, config = recorded(name)
    config = replace(config, **config_changes)
    report = run_checks(state, [STORAGE_CLASS, PVC_PENDING], config)
    assert all(r.status in ("ok", "findings") for r in report.results), report.results
    return list(report.findings)


def only(items: list[Finding], check: str, cause: str) -> list[Finding]:
    return [f for f in items if (f.check, f.cause) == (check, cause)]


def test_healthy_stack_has_no_storage_findings() -> None:
    assert findings("healthy_logos") == []


def test_missing_class_is_the_root_cause_of_both_pending_claims() -> None:
    items = findings("storage_class_missing")
    (missing,) = only(items, "storage-class", "missing")
    assert missing.severity == Severity.CRITICAL
    assert missing.resource.kind == "StorageClass"
    assert missing.fix == "logos-doctor fix storageclass"
    assert {r.name for r in missing.affected} == {"logos-postgresql", "logos-redis-master"}

    claims = {f.resource.name: f for f in only(items, "pvc-pending", "storage-class-missing")}
    assert set(claims) == {"data-logos-postgresql-0", "redis-data-logos-redis-master-0"}
    pg = claims["data-logos-postgresql-0"]
    assert pg.severity == Severity.CRITICAL
    assert pg.parent is not None and (pg.parent.kind, pg.parent.name) == (
        "StatefulSet", "logos-postgresql")
    assert [p.name for p in pg.affected] == ["logos-postgresql-0"]
    assert missing.key in pg.caused_by
    # The PV controller's own words, quoted as evidence.
    assert any("ProvisioningFailed" in e and f'"{missing.resource.name}" not found' in e
               for e in pg.evidence)
    assert any(e.startswith("pod logos-postgresql-0: FailedScheduling") for e in pg.evidence)
    assert pg.fix is not None and pg.fix.startswith("logos-doctor fix pvc -n ")


def test_waiting_for_consumer_is_info_only() -> None:
    (f,) = findings("waiting_for_consumer")
    assert (f.cause, f.severity, f.resource.name) == ("waiting-for-consumer", Severity.INFO,
                                                      "scratch")


def test_provisioner_wait_is_info_until_the_threshold_then_blocks() -> None:
    (early,) = findings("waiting_for_provisioner")
    assert (early.cause, early.severity) == ("waiting-for-provisioner", Severity.INFO)
    (late,) = findings("waiting_for_provisioner", provisioner_wait_seconds=0)
    assert (late.cause, late.severity) == ("waiting-for-provisioner", Severity.CRITICAL)
    assert "example.com/absent" in late.message
    assert [p.name for p in late.affected] == ["uploader"]


def test_explicit_empty_class_without_volume() -> None:
    (f,) = findings("no_storage_class")
    assert (f.cause, f.resource.name) == ("no-storage-class", "static-data")
    assert any("FailedBinding" in e for e in f.evidence)


def test_selected_node_gone() -> None:
    (f,) = findings("selected_node_gone")
    assert f.cause == "selected-node-gone" and f.severity == Severity.CRITICAL
    assert "node-rec-selected-node-gone" in f.message
    assert f.fix is not None


def test_lost_claim() -> None:
    (f,) = findings("claim_lost")
    assert (f.cause, f.severity, f.resource.name) == ("lost", Severity.CRITICAL, "archive")
    assert any("ClaimLost" in e for e in f.evidence)


def test_drift_names_each_field() -> None:
    (f,) = findings("storage_class_drift")
    assert f.cause == "parameters-drift" and f.severity == Severity.WARNING
    text = " ".join(f.evidence)
    for expected in ("volumeBindingMode: expected WaitForFirstConsumer, found Immediate",
                     "allowVolumeExpansion: expected True, found False",
                     "parameters.type: expected 'gp3', found 'gp2'",
                     "parameters.iops: expected '3000', found '(unset)'"):
        assert expected in text
    assert "encrypted" not in text  # same on both sides: not drift


def test_typo_in_claim_template_points_at_the_statefulsets() -> None:
    items = findings("claim_template_typo")
    refs = only(items, "storage-class", "referenced-missing")
    assert {(f.resource.kind, f.resource.name) for f in refs} == {
        ("StatefulSet", "logos-postgresql"), ("StatefulSet", "logos-redis-master")}
    assert all(f.fix == "logos-doctor fix pvc" for f in refs)
    claims = only(items, "pvc-pending", "storage-class-missing")
    assert len(claims) == 2 and all("production uses" in c.remediation for c in claims)
    assert not only(items, "storage-class", "missing")


def test_multiple_defaults() -> None:
    (f,) = findings("multiple_default_classes")
    assert f.cause == "multiple-defaults"
    assert "gp2-rec-multiple-default-classes" in f.message
    assert "standard-rec-multiple-default-classes" in f.message


@pytest.mark.parametrize("name", ["storage_class_missing", "claim_template_typo"])
def test_severity_override_from_config(name: str) -> None:
    items = findings(name, severity_overrides={"pvc-pending/storage-class-missing": "warning"})
    assert {f.severity for f in only(items, "pvc-pending", "storage-class-missing")} == {
        Severity.WARNING}


def test_provisioning_failure_quotes_the_provisioner() -> None:
    (f,) = findings("provisioning_failed")
    assert (f.cause, f.resource.name) == ("provisioning-failed", "reports")
    assert "Value (gp9) for parameter volumeType is invalid" in f.message
    assert f.evidence[0].startswith("ProvisioningFailed")  # warnings rank before the Normal ones


def test_claim_without_class_and_no_default() -> None:
    items = findings("no_default_class")
    assert {(f.check, f.cause) for f in items} == {
        ("storage-class", "no-default"), ("pvc-pending", "no-storage-class")}
    assert all(f.resource.name == "legacy-data" for f in items)


def test_workloads_hang_under_the_missing_class_not_the_other_way_round() -> None:
    from logos_doctor.registry import default_registry

    state, config = recorded("storage_class_missing")
    checks = [STORAGE_CLASS, PVC_PENDING, default_registry().get("workloads")]
    report = run_checks(state, checks, config)
    (missing,) = only(list(report.findings), "storage-class", "missing")
    assert missing.caused_by == ()  # the root of the chain
    down = [f for f in report.findings if f.check == "workloads"
            and f.resource.name in ("logos-postgresql", "logos-redis-master")]
    assert len(down) == 2
    for f in down:
        assert missing.key in f.caused_by


def test_the_missing_class_is_the_first_root_cause_and_explains_the_rest() -> None:
    from logos_doctor.registry import default_registry
    from logos_doctor.runner import root_causes

    state, config = recorded("storage_class_missing")
    report = run_checks(state, list(default_registry()), config)
    roots = root_causes(report.findings)
    first, explained = roots[0]
    assert (first.check, first.cause) == ("storage-class", "missing")
    # Both claims, both StatefulSets and the Services in front of the databases.
    assert len(explained) >= 6
    linked = {(f.check, f.resource.name) for f in report.findings if f.caused_by}
    assert ("service-endpoints", "logos-postgresql") in linked
    assert ("workloads", "logos-redis-master") in linked


def test_claim_waiting_on_a_pod_the_scheduler_rejects() -> None:
    (f,) = findings("consumer_unschedulable")
    assert (f.cause, f.severity, f.resource.name) == ("consumer-unschedulable", Severity.CRITICAL,
                                                      "warehouse")
    assert [p.name for p in f.affected] == ["loader"]
    assert any("Insufficient cpu" in e for e in f.evidence)


def test_failures_from_before_the_class_existed_are_history() -> None:
    (f,) = findings("class_created_late", provisioner_wait_seconds=0)
    assert any("not found" in e for e in f.evidence)  # still shown as history
    assert (f.cause, f.resource.name) == ("waiting-for-provisioner", "exports")
