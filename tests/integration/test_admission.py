"""admission against the live test cluster, through the CLI, as the on-call runs it.

Each scenario is built in the test's own namespace by the real admission plugins and
controllers (tests/k8scluster/scenarios/admission.py); then ``logos-doctor check --all``
must put the blocker in the root-cause block, naming it, and hang the blocked Deployment's
finding from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from doctor_cli import check_all

from k8scluster.scenarios import admission as scenarios
from k8scluster.scenarios import cleanup_cluster_scoped

pytestmark = pytest.mark.integration



@pytest.fixture
def build(api: Any, namespace: str) -> Iterator[Any]:
    """Build a scenario in the test's namespace; stop its webhook server, delete its
    cluster-scoped objects afterwards."""
    try:
        yield lambda fn: fn(api, namespace)
    finally:
        scenarios.stop_deny_server(namespace)
        cleanup_cluster_scoped(api, namespace)


CASES = {
    "quota-exceeded": (scenarios.admission_quota_exceeded, "ResourceQuota", "webhook-quota",
                       "logos-chat", "ResourceQuota webhook-quota"),
    "quota-must-specify": (scenarios.admission_quota_must_specify, "ResourceQuota",
                           "limitrange-max", "logos-web", "limits.memory on quota-sidecar, web"),
    "limitrange-violation": (scenarios.admission_limitrange, "LimitRange", "exceeded-quota",
                             "logos-completion", "LimitRange exceeded-quota"),
    "pod-security": (scenarios.admission_pod_security, "Namespace", None, "logos-chat",
                     "PodSecurity restricted:latest"),
    "webhook-denied": (scenarios.admission_webhook_denied, "ValidatingWebhookConfiguration",
                       "-image-policy", "logos-web", "admission webhook quota.policy.example.com"),
    "webhook-unavailable": (scenarios.admission_webhook_unavailable,
                            "ValidatingWebhookConfiguration", "-policy", "logos-chat",
                            "admission webhook denied.quota.example.com"),
    "unrecognised": (scenarios.admission_unrecognised, "ReplicaSet", "", "logos-web",
                     'serviceaccount "quota-exceeded" not found'),
}  # fmt: skip


@pytest.mark.parametrize("cause", sorted(CASES))
def test_the_blocker_is_the_root_cause_and_the_deployment_hangs_from_it(
    cluster: Any, namespace: str, build: Any, cause: str
) -> None:
    fn, kind, blocker, deployment, words = CASES[cause]
    build(fn)
    doc = check_all(cluster, namespace, ran=("admission",))
    ours = [f for f in doc["findings"] if f["check"] == "admission"]
    assert [f["cause"] for f in ours] == [cause], ours
    (f,) = ours
    assert f["resource"]["kind"] == kind
    expected = namespace if blocker is None else blocker
    assert f["resource"]["name"].endswith(expected), f["resource"]
    assert words in f["message"]
    assert f["root_cause"] is True and not f["caused_by"]
    assert {"kind": "Deployment", "namespace": namespace, "name": deployment} in f["affected"]
    # The workloads check reports the Deployment short of replicas: because of the blocker.
    symptoms = [
        s
        for s in doc["findings"]
        if s["check"] == "workloads" and s["resource"]["kind"] == "Deployment"
        and s["resource"]["name"] == deployment
    ]  # fmt: skip
    assert symptoms, "the workloads check reports a Deployment refused its pods at once"
    for s in symptoms:
        assert {"check": "admission", "cause": cause, "resource": f["resource"]} in s[
            "caused_by"
        ], s


def test_a_quota_raised_in_time_leaves_nothing_to_report(
    cluster: Any, namespace: str, build: Any
) -> None:
    build(scenarios.admission_quota_recovered)
    doc = check_all(cluster, namespace, ran=("admission",))
    assert [f for f in doc["findings"] if f["check"] == "admission"] == []
    assert not [
        f for f in doc["findings"]
        if f["check"] == "workloads" and f["resource"]["name"] == "logos-chat"
    ]  # fmt: skip
