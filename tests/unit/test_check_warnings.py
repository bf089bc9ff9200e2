"""warnings: nothing real is silent, and nothing explained is said twice.

Scenario: a cause logos-doctor has no check for.  The tests play it by running the recorded
state of a known incident *without* the check that knows it (a ResourceQuota without the
admission check, a missing StorageClass without the storage checks): the on-call engineer must
still see the component's own words, linked under the Deployment it stalls.  With every check
on, the same states give no ``warnings`` finding at all.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from logos_doctor.finding import Finding
from logos_doctor.registry import default_registry
from logos_doctor.runner import root_causes, run_checks
from logos_doctor.state import ClusterState
from recorded import SNAPSHOTS, recorded

REGISTRY = default_registry()
ALL = list(REGISTRY)
RECORDED = sorted(p.name[: -len(".json.gz")] for p in SNAPSHOTS.glob("*.json.gz"))


def only(*ids: str) -> list:  # type: ignore[type-arg]
    return [c for c in ALL if c.id in ids]


def unrecognised(findings: tuple[Finding, ...]) -> list[Finding]:
    return [f for f in findings if (f.check, f.cause) == ("warnings", "unrecognised")]


@pytest.mark.parametrize("name", RECORDED)
def test_with_every_check_on_nothing_is_reported_twice(name: str) -> None:
    state, config = recorded(name)
    report = run_checks(state, ALL, config)
    assert not [r for r in report.results if r.id == "warnings" and r.status == "error"]
    stray = unrecognised(report.findings)
    assert not stray, [f"{f.resource}: {f.message}" for f in stray]


def test_a_quota_no_check_knows_is_quoted_on_its_replicaset_and_roots_the_deployment() -> None:
    state, config = recorded("replicas_refused_by_quota")
    report = run_checks(state, only("workloads", "warnings"), config)
    (found,) = unrecognised(report.findings)
    assert found.resource.kind == "ReplicaSet"
    assert found.parent is not None and found.parent.kind == "Deployment"
    # The replicaset-controller's own words (pkg/controller/replicaset: "Error creating: ...",
    # wrapping the quota admission plugin's "exceeded quota: NAME, requested: ...").
    assert "replicaset-controller" in found.message and "exceeded quota" in found.message
    assert any(ref.kind == "Deployment" for ref in found.affected)
    deployment = [f for f in report.findings if f.check == "workloads"]
    assert deployment and all(found.key in f.caused_by for f in deployment)
    assert found.key in {root.key for root, _ in root_causes(report.findings)}


def test_a_missing_class_without_storage_checks_is_quoted_on_the_claims() -> None:
    state, config = recorded("storage_class_missing")
    report = run_checks(state, only("warnings"), config)
    found = unrecognised(report.findings)
    claims = [f for f in found if f.resource.kind == "PersistentVolumeClaim"]
    assert {f.resource.name for f in claims} >= {"data-logos-postgresql-0"}
    for f in claims:  # the PV controller's ProvisioningFailed, quoted as written
        assert "persistentvolume-controller" in f.message and "not found" in f.message


def test_events_from_before_the_last_hour_are_history_but_the_status_still_speaks() -> None:
    # Two hours on, the claims' ProvisioningFailed events have expired (--event-ttl 1h): with
    # nothing else saying why, the claims are no longer quoted.  The ReplicaSet's
    # ReplicaFailure condition outlives its events, and is quoted instead.
    state, config = recorded("storage_class_missing")
    later = replace(state, now=state.now + timedelta(hours=2))
    kinds = {
        f.resource.kind for f in unrecognised(run_checks(later, only("warnings"), config).findings)
    }
    assert "PersistentVolumeClaim" not in kinds
    state, config = recorded("replicas_refused_by_quota")
    later = replace(state, now=state.now + timedelta(hours=2))
    (found,) = unrecognised(run_checks(later, only("warnings"), config).findings)
    assert not any("replicaset-controller:" in line for line in found.evidence)
    assert any(line.startswith("condition ReplicaFailure=True") for line in found.evidence)


def test_a_healthy_stack_with_a_real_autoscaler_warning_says_only_that() -> None:
    # No metrics-server on the test cluster: the HPA controller's FailedGetResourceMetric is
    # real and unexplained without the hpa check; the healthy pods and claims stay quiet.
    state, config = recorded("healthy_logos")
    found = unrecognised(run_checks(state, only("warnings"), config).findings)
    assert [f.resource.kind for f in found] == ["HorizontalPodAutoscaler"]
    assert "FailedGetResourceMetric" in found[0].message


def test_pods_of_one_controller_saying_the_same_are_one_finding() -> None:
    state, config = recorded("image_pull_faults")
    found = unrecognised(run_checks(state, only("warnings"), config).findings)
    pods = [f for f in found if f.resource.kind == "Pod"]
    seen = [r for f in pods for r in (f.resource, *f.affected) if r.kind == "Pod"]
    assert len(seen) == len(set(seen))  # no pod in two findings
    assert any("more pods of Deployment" in f.message for f in pods)


def test_pods_whose_same_warning_differs_only_in_age_stay_one_finding() -> None:
    # The grouping is by what the first warning says, not by its "(x2, 3m ago)": as minutes
    # pass, events of one controller's pods fall into different minutes, and the same pods
    # must not split into several findings (nor serve's series flap) on a cluster nobody
    # touches.  Read three minutes after the recording, one pod's warnings are moved two
    # minutes later (their order kept): "1m ago" on it, "3m ago" on the others.
    state, config = recorded("image_pull_faults")
    grouped = next(
        f
        for f in unrecognised(run_checks(state, only("warnings"), config).findings)
        if "more pods of Deployment" in f.message
    )
    moved = next(r for r in grouped.affected if r.kind == "Pod")
    objects = json.loads(json.dumps(state.objects))  # the state's objects are never changed
    for event in objects["events"]:
        involved = event.get("involvedObject") or {}
        if (involved.get("name"), event.get("type")) == (moved.name, "Warning"):
            later = _when(event["lastTimestamp"]) + timedelta(minutes=2)
            event["lastTimestamp"] = later.strftime(STAMP)
    now = state.now + timedelta(minutes=3)
    aged = ClusterState.build(objects, now=now, scope=state.scope, cluster=state.cluster)
    found = unrecognised(run_checks(aged, only("warnings"), config).findings)
    together = [f for f in found if moved in (f.resource, *f.affected)]
    assert len(together) == 1 and grouped.resource in (together[0].resource, *together[0].affected)


STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _when(text: str) -> datetime:
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


def test_a_controller_is_explained_by_what_explains_its_replicaset() -> None:
    # The admission finding about the exceeded quota, with only the ReplicaSet among what it
    # blocks: the Deployment's own ReplicaFailure condition is then explained only as the
    # ReplicaSet's controller (a controller's ReplicaSets and pods are its descendants).
    state, config = recorded("replicas_refused_by_quota")
    (quota,) = run_checks(state, only("admission"), config).findings
    blocks_rs = replace(quota, affected=tuple(r for r in quota.affected if r.kind == "ReplicaSet"))
    assert blocks_rs.affected and len(blocks_rs.affected) < len(quota.affected)
    review = next(c for c in ALL if c.id == "warnings").review
    assert review is not None
    assert not list(review(state, config, (blocks_rs,)))
    # Unexplained, the ReplicaSet is quoted, with the Deployment above it among its affected.
    (alone,) = [f for f in review(state, config, ()) if f.resource.kind == "ReplicaSet"]
    assert any(r.kind == "Deployment" for r in alone.affected)
