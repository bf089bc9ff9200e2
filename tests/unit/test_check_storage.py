"""storage-class and pvc-pending on states recorded from the real test cluster.

Each scenario was built by ``tests/k8scluster/scenarios/storage.py`` and recorded with
``python -m k8scluster.record``: the events and phases are the ones the real PV controller,
scheduler and StatefulSet controller wrote.
"""

import copy
from dataclasses import replace
from datetime import timedelta

import pytest

from logos_doctor.checks.pvc_pending import CHECK as PVC_PENDING
from logos_doctor.checks.storage_class import CHECK as STORAGE_CLASS
from logos_doctor.finding import Finding, Severity
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from recorded import recorded


def findings(
    name: str, state: ClusterState | None = None, **config_changes: object
) -> list[Finding]:
    recorded_state, config = recorded(name)
    config = replace(config, **config_changes)
    report = run_checks(state or recorded_state, [STORAGE_CLASS, PVC_PENDING], config)
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


def test_selected_node_gone_waits_for_the_provisioner_to_hand_it_back() -> None:
    # The class's provisioner (example.com/absent) has not acted yet: when a provisioner
    # built on the external-provisioner lib does, it removes the annotation itself.
    (f,) = findings("selected_node_gone")
    assert f.cause == "selected-node-gone" and f.severity == Severity.WARNING
    assert "node-rec-selected-node-gone" in f.message and "no longer exists" in f.message
    assert f.fix is None, "self-healing: nothing to recreate"
    assert "scheduler picks another node" in f.remediation
    assert [p.name for p in f.affected] == ["cacher"]
    # Long past the provisioner's expected time, the remediation says it has not acted.
    (late,) = findings("selected_node_gone", provisioner_wait_seconds=0)
    assert "example.com/absent has not acted" in late.remediation


def test_the_provisioner_hands_a_vanished_node_back_and_the_claim_binds_elsewhere() -> None:
    # A restored claim named a node that is gone.  The provisioner answered `node "X" not
    # found`, removed the annotation; the scheduler chose again and the volume was made.
    state, _ = recorded("selected_node_rescheduled")
    (pvc,) = state.list_of("persistentvolumeclaims")
    assert pvc["status"]["phase"] == "Bound"
    told = [e for e in state.events_for("PersistentVolumeClaim", pvc)
            if e.reason == "ProvisioningFailed"]
    # The lib's NotFound through the node lister (provisionClaimOperation).
    assert told and told[0].message.startswith('node "ip-10-0-9-9.gone-')
    assert told[0].message.endswith('" not found')
    assert findings("selected_node_rescheduled") == []


def test_a_handed_back_claim_is_diagnosed_by_what_it_waits_for_now() -> None:
    # Claim "provisioning-failed", pod "node-gone": names that would mislead a name matcher.
    (f,) = findings("selected_node_gone_unplaceable")
    assert (f.cause, f.resource.name) == ("consumer-unschedulable", "provisioning-failed")
    # The claim waits for its pod: the pod's scheduling finding explains the claim's.
    assert f.severity == Severity.CRITICAL and [p.name for p in f.depends_on] == ["node-gone"]
    assert any("didn't match Pod's node affinity/selector" in e for e in f.evidence)
    # The old "node not found" is kept as history in the evidence, never as the cause.
    assert any('ProvisioningFailed' in e and 'not found' in e for e in f.evidence)
    (late,) = findings("selected_node_gone_unplaceable", provisioner_wait_seconds=0)
    assert late.cause == "consumer-unschedulable", "the ExternalProvisioning wait is over"


def _stuck(minutes: int) -> ClusterState:
    """selected_node_gone_unplaceable as it would be had the annotation's removal failed: the
    claim still names the vanished node, ``minutes`` after the provisioner's real event."""
    state, _ = recorded("selected_node_gone_unplaceable")
    objects = copy.deepcopy(state.objects)
    (pvc,) = objects["persistentvolumeclaims"]
    (told,) = [e for e in objects["events"] if e["reason"] == "ProvisioningFailed"]
    node = told["message"].split('"')[1]
    pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] = node
    return ClusterState.build(objects, now=state.now + timedelta(minutes=minutes),
                              scope=state.scope)


def test_a_claim_that_keeps_naming_a_vanished_node_past_the_hand_back_is_stuck() -> None:
    (fresh,) = findings("selected_node_gone_unplaceable", state=_stuck(0))
    assert fresh.cause == "selected-node-gone" and fresh.fix is None
    assert "has handed it back" in fresh.message
    (stuck,) = findings("selected_node_gone_unplaceable", state=_stuck(10))
    assert (stuck.cause, stuck.severity) == ("selected-node-stuck", Severity.CRITICAL)
    assert stuck.fix is not None and stuck.fix.startswith("logos-doctor fix pvc -n ")
    assert "annotation could not be removed" in stuck.remediation


def test_volumes_are_pinned_to_a_zone_never_to_a_hostname() -> None:
    # What the EBS driver's CreateVolume answers (AccessibleTopology: the zone), which the
    # external-provisioner writes as the PV's node affinity.
    state, _ = recorded("healthy_logos")
    ours = [pv for pv in state.list_of("persistentvolumes")
            if (pv["spec"].get("claimRef") or {}).get("namespace") == state.scope.namespaces[0]]
    assert len(ours) == 2
    for pv in ours:
        (term,) = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        keys = {e["key"] for e in term["matchExpressions"]}
        assert keys == {"topology.kubernetes.io/zone"}


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
    # The EBS driver refuses the type itself (cloud.go CreateDisk), before any EC2 call.
    assert 'invalid AWS VolumeType "gp9"' in f.message
    assert 'failed to provision volume with StorageClass "gp9-rec-provisioning-failed"' in f.message
    assert "InvalidParameterValue" not in f.message
    assert f.evidence[0].startswith("ProvisioningFailed")  # warnings rank before the Normal ones
    assert "volume type 'gp9'" in f.remediation and "recreate the class" in f.remediation


def test_claims_failing_for_one_class_are_one_finding_on_the_class() -> None:
    # Claims named "quota-exceeded-data", "default-reports", "lost-uploads": none of those.
    (f,) = findings("bad_volume_type_shared")
    assert (f.check, f.cause) == ("pvc-pending", "provisioning-failed")
    assert (f.resource.kind, f.resource.name) == ("StorageClass", "gp9-rec-bad-volume-type-shared")
    assert f.severity == Severity.CRITICAL
    assert {(r.kind, r.name) for r in f.affected} == {
        ("PersistentVolumeClaim", "quota-exceeded-data"),
        ("PersistentVolumeClaim", "default-reports"),
        ("PersistentVolumeClaim", "lost-uploads"),
        ("Pod", "reader-0"), ("Pod", "reader-1"), ("Pod", "reader-2")}
    assert "3 claim(s)" in f.message and 'invalid AWS VolumeType "gp9"' in f.message
    assert "quota" not in f.remediation.lower()


def test_claims_a_provisioner_never_answers_are_one_finding_once_late() -> None:
    # Claims named after causes they do not have: "provisioning-failed-a", "lost-c"...
    early = findings("provisioner_absent_many")
    assert {(f.cause, f.severity) for f in early} == {("waiting-for-provisioner", Severity.INFO)}
    assert len(early) == 3, "within the expected time each claim is just waiting"
    (late,) = findings("provisioner_absent_many", provisioner_wait_seconds=0)
    assert (late.cause, late.severity) == ("waiting-for-provisioner", Severity.CRITICAL)
    assert (late.resource.kind, late.resource.name) == (
        "StorageClass", "absent-rec-provisioner-absent-many")
    assert "provisioner example.com/absent has not answered 3 claim(s)" in late.message
    assert {(r.kind, r.name) for r in late.affected} == {
        ("PersistentVolumeClaim", "provisioning-failed-a"),
        ("PersistentVolumeClaim", "selected-node-gone-b"),
        ("PersistentVolumeClaim", "lost-c"),
        ("Pod", "writer-0"), ("Pod", "writer-1"), ("Pod", "writer-2")}


def test_claim_without_class_and_no_default() -> None:
    items = findings("no_default_class")
    (root,) = only(items, "storage-class", "no-default")
    (claim,) = only(items, "pvc-pending", "no-storage-class")
    assert claim.resource.name == "legacy-data"
    assert [r.name for r in root.affected] == ["legacy-data"]
    assert root.key in claim.caused_by


def test_no_default_class_is_one_finding_however_many_claims() -> None:
    items = findings("no_default_class_many")
    (root,) = only(items, "storage-class", "no-default")
    names = [f"ssd-premium-{i}" for i in range(7)]
    assert sorted(r.name for r in root.affected) == names
    assert "7 claim(s)" in root.message and "+2 more" in root.message
    assert "+2 more claim(s)" in root.evidence
    claims = only(items, "pvc-pending", "no-storage-class")
    assert sorted(c.resource.name for c in claims) == names
    assert all(c.caused_by == (root.key,) for c in claims)


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
    assert [p.name for p in f.depends_on] == ["loader"] and not f.affected
    assert any("Insufficient cpu" in e for e in f.evidence)


def test_failures_from_before_the_class_existed_are_history() -> None:
    (f,) = findings("class_created_late", provisioner_wait_seconds=0)
    assert any("not found" in e for e in f.evidence)  # still shown as history
    assert (f.cause, f.resource.name) == ("waiting-for-provisioner", "exports")
