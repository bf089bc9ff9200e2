"""admission on states recorded from the test cluster (tests/k8scluster/scenarios/admission.py).

The refusals were made by the real kube-apiserver admission plugins (ResourceQuota,
LimitRanger, PodSecurity, the validating webhook dispatcher) and recorded by the real
ReplicaSet and StatefulSet controllers.  Names in the scenarios are chosen to mislead: a quota
named ``webhook-quota``, a LimitRange ``exceeded-quota``, a webhook ``quota.policy.example.com``.
"""

from __future__ import annotations

import copy

import pytest

from logos_doctor.admission import classify, split_top_level
from logos_doctor.checks.admission import CHECK
from logos_doctor.checks.workloads import CHECK as WORKLOADS
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef, name
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from recorded import recorded


def run(scenario: str) -> tuple[ClusterState, list[Finding]]:
    state, config = recorded(scenario)
    report = run_checks(state, [CHECK, WORKLOADS], config)
    assert all(r.status in ("ok", "findings") for r in report.results), report.results
    return state, list(report.findings)


def the_admission_finding(found: list[Finding]) -> Finding:
    ours = [f for f in found if f.check == "admission"]
    assert len(ours) == 1, ours
    return ours[0]


def rs_of(state: ClusterState, deployment: str) -> ObjectRef:
    (rs,) = [r for r in state.list_of("replicasets") if name(r).startswith(deployment + "-")]
    return ObjectRef.of("ReplicaSet", rs)


def assert_root_of_its_workloads(found: list[Finding], finding: Finding) -> None:
    """Nothing explains the admission finding; every workload finding it blocks hangs from it."""
    assert not finding.caused_by
    blocked = {(r.kind, r.name) for r in finding.affected}
    for f in found:
        if f.check == "workloads" and (f.resource.kind, f.resource.name) in blocked:
            assert finding.key in f.caused_by, f


def test_a_full_quota_names_the_quota_the_resource_and_its_usage() -> None:
    state, found = run("admission_quota_exceeded")
    f = the_admission_finding(found)
    assert f.cause == "quota-exceeded"
    assert (f.resource.kind, f.resource.name) == ("ResourceQuota", "webhook-quota")
    assert "ResourceQuota webhook-quota" in f.message and "limits.memory" in f.message
    assert "ResourceQuota webhook-quota now: limits.memory used 1Gi of hard 1Gi" in f.evidence
    assert any("exceeded quota: webhook-quota" in line for line in f.evidence)
    assert {(r.kind, r.name) for r in f.affected} == {
        ("ReplicaSet", rs_of(state, "logos-chat").name),
        ("Deployment", "logos-chat"),
    }
    # Two of three pods were admitted and serve: degraded, not down.
    assert f.severity == Severity.WARNING
    assert "kubectl edit resourcequota webhook-quota" in f.remediation
    assert_root_of_its_workloads(found, f)


def test_a_quota_that_demands_limits_names_the_containers_without_them() -> None:
    _, found = run("admission_quota_must_specify")
    f = the_admission_finding(found)
    assert (f.cause, f.severity) == ("quota-must-specify", Severity.CRITICAL)
    assert (f.resource.kind, f.resource.name) == ("ResourceQuota", "limitrange-max")
    assert "limits.cpu on quota-sidecar" in f.message
    assert "limits.memory on quota-sidecar, web" in f.message
    assert {r.name for r in f.affected if r.kind == "Deployment"} == {"logos-web"}
    assert_root_of_its_workloads(found, f)


def test_a_limitrange_bound_is_found_by_its_value_not_by_its_name() -> None:
    _, found = run("admission_limitrange")
    f = the_admission_finding(found)
    assert f.cause == "limitrange-violation"
    # The message names no LimitRange: the one whose Container max memory is 512Mi is it,
    # not "webhook-limits" (a Pod cpu bound).
    assert (f.resource.kind, f.resource.name) == ("LimitRange", "exceeded-quota")
    assert "maximum memory usage per Container is 512Mi, but limit is 1Gi" in f.message
    assert_root_of_its_workloads(found, f)


def test_pod_security_is_one_finding_on_the_namespace_for_every_workload_it_blocks() -> None:
    state, found = run("admission_pod_security")
    f = the_admission_finding(found)
    ns = state.scope.namespaces[0]  # type: ignore[index]
    assert f.cause == "pod-security"
    assert f.resource == ObjectRef.of("Namespace", state.get("Namespace", None, ns) or {})
    assert "PodSecurity restricted:latest" in f.message
    assert 'privileged (container "chat"' in f.message
    assert f"namespace {ns} labels: pod-security.kubernetes.io/enforce=restricted" in f.evidence
    kinds = sorted((r.kind, r.name) for r in f.affected)
    assert kinds == [
        ("DaemonSet", "logos-log-shipper"),
        ("Deployment", "logos-chat"),
        ("Job", "logos-db-migrate"),
        ("ReplicaSet", rs_of(state, "logos-chat").name),
        ("StatefulSet", "logos-redis-master"),
    ]
    assert any(
        line.startswith("StatefulSet logos-redis-master: FailedCreate") for line in f.evidence
    )
    assert_root_of_its_workloads(found, f)


def test_a_denying_webhook_names_its_configuration_and_its_reason() -> None:
    _, found = run("admission_webhook_denied")
    f = the_admission_finding(found)
    assert f.cause == "webhook-denied"
    assert f.resource.kind == "ValidatingWebhookConfiguration"
    assert f.resource.name.endswith("-image-policy")
    assert "admission webhook quota.policy.example.com" in f.message
    assert "is not signed by the release key" in f.message
    assert_root_of_its_workloads(found, f)


def test_a_webhook_whose_service_is_gone_fails_closed_and_says_so() -> None:
    _, found = run("admission_webhook_unavailable")
    f = the_admission_finding(found)
    assert f.cause == "webhook-unavailable"
    assert f.resource.kind == "ValidatingWebhookConfiguration"
    assert "denied.quota.example.com" in f.message and "failurePolicy Fail" in f.message
    assert "logos-policy does not exist" in f.message
    assert "reinstall the webhook" in f.remediation and "failurePolicy: Ignore" in f.remediation
    assert_root_of_its_workloads(found, f)


def test_a_webhook_service_without_ready_endpoints_is_told_apart_from_a_missing_one() -> None:
    # Derived from the recording: the Service exists, and its EndpointSlice (as the
    # endpointslice controller writes it for a selector that matches no pod) lists nothing.
    state, config = recorded("admission_webhook_unavailable")
    ns = state.scope.namespaces[0]  # type: ignore[index]
    objects = {k: list(v) for k, v in copy.deepcopy(dict(state.objects)).items()}
    objects["services"].append({
        "metadata": {"name": "logos-policy", "namespace": ns, "uid": "s1"},
        "spec": {"selector": {"app": "logos-policy-webhook"},
                 "ports": [{"port": 443, "targetPort": 9443}]}})  # fmt: skip
    objects["endpointslices"].append({
        "metadata": {"name": "logos-policy-x7k2p", "namespace": ns,
                     "labels": {"kubernetes.io/service-name": "logos-policy"}},
        "addressType": "IPv4", "endpoints": None, "ports": None})  # fmt: skip
    derived = ClusterState.build(objects, now=state.now, scope=state.scope)
    (f,) = [f for f in run_checks(derived, [CHECK], config).findings]
    assert "logos-policy has no ready endpoints" in f.message
    assert "pods behind Service" in f.remediation


def test_a_refusal_not_classified_is_quoted_on_the_replicaset() -> None:
    # The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount/admission.go):
    # "error looking up service account %s/%s: %w"; the account is named "quota-exceeded".
    state, found = run("admission_unrecognised")
    f = the_admission_finding(found)
    assert (f.cause, f.severity) == ("unrecognised", Severity.CRITICAL)
    assert f.resource == rs_of(state, "logos-web")
    assert f.parent is not None and f.parent.name == "logos-web"
    assert 'serviceaccount "quota-exceeded" not found' in f.message
    assert_root_of_its_workloads(found, f)


def test_events_from_before_the_quota_was_raised_are_history() -> None:
    state, found = run("admission_quota_recovered")
    assert any(e["reason"] == "FailedCreate" for e in state.list_of("events"))
    assert [f for f in found if f.check == "admission"] == []


@pytest.mark.parametrize(
    "scenario", ["healthy_logos", "rollout_in_progress", "image_pull_faults", "crashloop_oom"]
)
def test_nothing_refused_means_no_finding(scenario: str) -> None:
    state, config = recorded(scenario)
    report = run_checks(state, [CHECK], config)
    assert report.results[0].status == "ok"


# -- the parser on the API server's words --------------------------------------------------
# Shapes: "Error creating: %v" (kubernetes pkg/controller/controller_utils.go), "Create Pod %s
# in StatefulSet %s failed error: %s" (pkg/controller/statefulset/stateful_pod_control.go);
# the errors: plugin/resourcequota/controller.go, pkg/quota/v1/evaluator/core/pods.go,
# plugin/pkg/admission/limitranger/admission.go, pod-security-admission admission/admission.go,
# apiserver webhook/errors/statuserror.go and util/webhook/error.go (all v1.37.2).

RECORDED = {
    "admission_quota_exceeded": "quota-exceeded",
    "admission_quota_must_specify": "quota-must-specify",
    "admission_limitrange": "limitrange-violation",
    "admission_pod_security": "pod-security",
    "admission_webhook_denied": "webhook-denied",
    "admission_webhook_unavailable": "webhook-unavailable",
}


@pytest.mark.parametrize(("scenario", "cause"), sorted(RECORDED.items()))
def test_every_recorded_failed_create_and_condition_classifies(scenario: str, cause: str) -> None:
    state, _ = recorded(scenario)
    messages = [e["message"] for e in state.list_of("events") if e["reason"] == "FailedCreate"]
    messages += [
        c["message"]
        for rs in state.list_of("replicasets")
        for c in rs.get("status", {}).get("conditions", [])
        if c["type"] == "ReplicaFailure"
    ]
    assert messages
    assert {classify(m).cause for m in messages} == {cause}


@pytest.mark.parametrize(
    ("message", "cause", "blocker"),
    [
        # A pod whose generated name reads like another cause changes nothing.
        ('Error creating: pods "admission-webhook-denied-7f9c-x2x" is forbidden: exceeded '
         "quota: pod-security, requested: pods=1, used: pods=10, limited: pods=10",
         "quota-exceeded", "pod-security"),
        ('Create Pod violates-podsecurity-0 in StatefulSet violates-podsecurity failed error: '
         'pods "violates-podsecurity-0" is forbidden: failed quota: exceeded-quota: must '
         "specify requests.memory for: app",
         "quota-must-specify", "exceeded-quota"),
        ('Error creating: admission webhook "exceeded.quota.example.com" denied the request: '
         'violates PodSecurity "restricted:latest": nope',
         "webhook-denied", "exceeded.quota.example.com"),
        ('Error creating: admission webhook "a.example.com" denied the request without '
         "explanation",
         "webhook-denied", "a.example.com"),
        ('Error creating: Internal error occurred: failed calling webhook "v.denied.example.com": '
         'failed to call webhook: Post "https://quota.ns.svc:443/v?timeout=10s": context '
         "deadline exceeded",
         "webhook-unavailable", "v.denied.example.com"),
        ('Error creating: pods "x-1" is forbidden: error looking up service account ns/quota: '
         'serviceaccount "quota" not found',
         "unrecognised", ""),
        ('Create Claim data-db-0 for Pod db-0 in StatefulSet db failed error: '
         'persistentvolumeclaims "data-db-0" is forbidden: exceeded quota: storage, requested: '
         "requests.storage=200Gi, used: requests.storage=0, limited: requests.storage=100Gi",
         "quota-exceeded", "storage"),
    ],
)  # fmt: skip
def test_structure_decides_never_the_words_in_names(message: str, cause: str, blocker: str) -> None:
    refusal = classify(message)
    assert refusal.cause == cause
    assert blocker == (refusal.quota or refusal.webhook)


def test_limitrange_aggregates_and_ratio_bounds_parse() -> None:
    r = classify(
        'Error creating: pods "x" is forbidden: [maximum memory usage per Container is 512Mi, '
        "but limit is 1Gi, cpu max limit to request ratio per Container is 2, but provided "
        "ratio is 4.000000]"
    )
    assert r.cause == "limitrange-violation"
    assert [(v.bound, v.resource, v.enforced) for v in r.limits] == [
        ("maximum", "memory", "512Mi"),
        ("maxLimitRequestRatio", "cpu", "2"),
    ]


def test_pod_security_violations_split_outside_parentheses() -> None:
    assert split_top_level('a (containers "x", "y" must), b (z), c') == [
        'a (containers "x", "y" must)',
        "b (z)",
        "c",
    ]


def test_the_severity_of_a_blocked_controller_with_no_ready_pod_is_critical() -> None:
    state, config = recorded("admission_quota_exceeded")
    objects = {k: list(v) for k, v in copy.deepcopy(dict(state.objects)).items()}
    for rs in objects["replicasets"]:
        rs["status"] = {**rs["status"], "readyReplicas": 0}
    derived = ClusterState.build(objects, now=state.now, scope=state.scope)
    (f,) = run_checks(derived, [CHECK], config).findings
    assert f.severity == Severity.CRITICAL
