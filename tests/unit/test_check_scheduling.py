"""scheduling on states recorded from the test cluster: the real kube-scheduler (v1.37) refused
each pod, and the check must name the resource, taint, label, claim or volume from its verdict
and the nodes.  Workload names are chosen to mislead a check that matched on names (the
Deployment blocked by a taint is `insufficient-memory-report`, and so on)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from logos_doctor.checks.gpu_nodes import CHECK as GPU
from logos_doctor.checks.pvc_pending import CHECK as PVC
from logos_doctor.checks.scheduling import CHECK
from logos_doctor.checks.workloads import CHECK as WORKLOADS
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import name
from logos_doctor.pods import condition
from logos_doctor.runner import run_checks
from logos_doctor.scheduling import parse_verdict, reason_kind
from logos_doctor.state import ClusterState
from recorded import recorded


def run(scenario: str, *extra: object, state: ClusterState | None = None) -> list[Finding]:
    recorded_state, config = recorded(scenario)
    report = run_checks(state or recorded_state, [CHECK, *extra], config)  # type: ignore[list-item]
    assert all(r.status != "error" for r in report.results), report.results
    return list(report.findings)


def ours(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.check == "scheduling"]


def unscheduled(scenario: str) -> set[str]:
    state, _ = recorded(scenario)
    return {
        name(p)
        for p in state.list_of("pods")
        if (condition(p, "PodScheduled") or {}).get("reason") == "Unschedulable"
    }


def one(scenario: str, cause: str) -> Finding:
    (found,) = ours(run(scenario))
    assert found.cause == cause, found
    assert (found.resource.kind, found.parent and found.parent.kind) == ("ReplicaSet", "Deployment")
    assert {r.name for r in found.affected if r.kind == "Pod"} == unscheduled(scenario)
    return found


@pytest.mark.parametrize(
    ("scenario", "cause", "workload"),
    [
        ("sched_insufficient_memory", "insufficient-resources", "taint-tolerant-cache"),
        ("sched_untolerated_taint", "untolerated-taint", "insufficient-memory-report"),
        ("sched_selector_mismatch", "node-selector-mismatch", "untolerated-taint-exporter"),
        ("sched_anti_affinity", "pod-anti-affinity-unsatisfiable", "volume-conflict-worker"),
        ("sched_pv_other_zone", "volume-node-affinity-conflict", "insufficient-cpu-db"),
        ("sched_claim_missing", "claim-not-found", "pvc-pending-proxy"),
        ("sched_host_port", "host-port-conflict", "node-affinity-gateway"),
        ("sched_cordoned", "unschedulable-node", "host-port-sync"),
        ("sched_topology_spread", "topology-spread", "anti-affinity-api"),
        ("sched_pod_affinity", "pod-affinity-unsatisfiable", "topology-spread-sidecar"),
    ],
)
def test_the_deployment_is_caused_by_the_scheduling_finding(
    scenario: str, cause: str, workload: str
) -> None:
    found = run(scenario, WORKLOADS)
    (sched,) = ours(found)
    assert sched.cause == cause and sched.parent is not None
    assert sched.parent.name == workload
    assert not sched.caused_by, "the scheduling finding is the root cause"
    (deployment,) = [f for f in found if f.check == "workloads"]
    assert deployment.resource.name == workload
    assert sched.key in deployment.caused_by


def test_memory_request_bigger_than_any_node_names_request_and_largest_node() -> None:
    found = one("sched_insufficient_memory", "insufficient-resources")
    assert found.severity == Severity.CRITICAL  # no replica runs
    assert found.message.startswith("the pod requests 512Gi memory")
    assert found.message.endswith(
        "; 2 pod(s) of Deployment taint-tolerant-cache cannot be scheduled"
    )
    assert "requests 512Gi memory" in found.message
    assert "256Gi allocatable" in found.message
    assert "the largest has 256Gi" in found.remediation
    assert "Insufficient memory" in found.evidence[0]


def test_taint_on_dedicated_nodes_is_named_with_the_toleration_to_add() -> None:
    found = one("sched_untolerated_taint", "untolerated-taint")
    # Since 1.33 the scheduler no longer names the taint: the nodes do.
    assert "node(s) had untolerated taint(s)" in found.evidence[0]
    assert "logos-test/dedicated=search:NoSchedule" in found.message
    assert (
        "{key: logos-test/dedicated, operator: Equal, value: search, effect: NoSchedule}"
        in found.remediation
    )
    assert "logos-test/dedicated=search:NoSchedule-" in found.remediation
    nodes = {d.name for d in found.depends_on if d.kind == "Node"}
    assert len(nodes) == 2 and all("-dedicated-" in n for n in nodes)


def test_node_selector_no_node_matches_names_the_label_and_the_values_nodes_have() -> None:
    found = one("sched_selector_mismatch", "node-selector-mismatch")
    assert "=nvme matches none of the" in found.message
    assert "=ssd (1), not nvme" in found.message
    assert "kubectl label node NODE logos-test/sched-" in found.remediation


def test_anti_affinity_says_replicas_and_nodes() -> None:
    found = one("sched_anti_affinity", "pod-anti-affinity-unsatisfiable")
    # Two of three replicas run: capacity lost, not an outage.
    assert found.severity == Severity.WARNING
    assert "3 replica(s)" in found.message and "2 node(s) it may use" in found.message
    assert "run at most 2 replica(s)" in found.remediation


def test_volume_pinned_to_a_zone_without_nodes_names_the_pv_and_zone() -> None:
    found = one("sched_pv_other_zone", "volume-node-affinity-conflict")
    # 1.37's phrasing; before 1.31 it was "had volume node affinity conflict".
    assert "didn't match PersistentVolume's node affinity" in found.evidence[0]
    (pv,) = [d for d in found.depends_on if d.kind == "PersistentVolume"]
    assert pv.name in found.message and "topology.kubernetes.io/zone In [us-east-1d]" in (
        found.message
    )
    assert "no node in the cluster matches" in found.message


def test_missing_claim_is_named_and_depended_on() -> None:
    found = one("sched_claim_missing", "claim-not-found")
    assert 'PersistentVolumeClaim "unbound-immediate-data"' in found.message
    assert [(d.kind, d.name) for d in found.depends_on] == [
        ("PersistentVolumeClaim", "unbound-immediate-data")
    ]


def test_host_port_names_the_port_and_who_holds_it() -> None:
    found = one("sched_host_port", "host-port-conflict")
    assert "host port 18080/TCP" in found.message
    assert "held by " in found.message and "node-affinity-gateway-" in found.message


def test_cordoned_node_is_named_with_uncordon() -> None:
    found = one("sched_cordoned", "unschedulable-node")
    (node,) = found.depends_on
    assert "cordoned" in found.message and f"kubectl uncordon {node.name}" in found.remediation


def test_topology_spread_counts_pods_per_domain_and_names_the_unreachable_one() -> None:
    found = one("sched_topology_spread", "topology-spread")
    assert "maxSkew 1 over logos-test/rack-" in found.message
    assert "matching pods per value: a=1, b=0; no node it may use in b" in found.message
    assert "didn't match pod topology spread constraints" in found.evidence[0]


def test_pod_affinity_to_pods_that_do_not_exist() -> None:
    found = one("sched_pod_affinity", "pod-affinity-unsatisfiable")
    assert "app.kubernetes.io/name=logos-cache" in found.message
    assert "0 such pod(s)" in found.message and "kubernetes.io/hostname" in found.message


def test_statefulset_pods_are_one_finding_on_the_statefulset_its_symptom_links_to() -> None:
    found = run("sched_statefulset", WORKLOADS)
    (sched,) = ours(found)
    assert (sched.cause, sched.resource.kind, sched.parent) == (
        "untolerated-taint",
        "StatefulSet",
        None,
    )
    assert "logos-test/dedicated=batch:NoExecute" in sched.message
    assert "effect: NoExecute}" in sched.remediation
    (symptom,) = [f for f in found if f.check == "workloads"]
    assert symptom.resource == sched.resource and symptom.caused_by == (sched.key,)


def test_healthy_and_scaled_to_zero_are_quiet() -> None:
    assert run("sched_healthy") == []
    assert ours(run("healthy_logos")) == []


def test_gpu_pods_belong_to_gpu_nodes_and_claims_to_pvc_pending() -> None:
    for scenario in ("gpu_insufficient", "gpu_taint_not_tolerated", "gpu_no_nodes"):
        found = run(scenario, GPU)
        assert ours(found) == [] and any(f.check == "gpu-nodes" for f in found), scenario
    # "pod has unbound immediate PersistentVolumeClaims" is the claim's cause, not the pod's.
    assert ours(run("storage_class_missing")) == []


def test_a_claim_waiting_for_its_first_consumer_hangs_under_the_pods_cause() -> None:
    found = run("consumer_unschedulable", PVC)
    (sched,) = ours(found)
    assert sched.cause == "insufficient-resources" and "900 cpu" in sched.message
    (claim,) = [f for f in found if f.check == "pvc-pending"]
    assert claim.resource in sched.affected


def test_preemption_under_way_and_pods_not_yet_seen_are_quiet() -> None:
    state, _ = recorded("sched_insufficient_memory")
    objects = copy.deepcopy(dict(state.objects))
    first, second = [
        p for p in objects["pods"] if name(p) in unscheduled("sched_insufficient_memory")
    ]
    # The scheduler nominated a node and waits for preemption victims to leave.
    first["status"]["nominatedNodeName"] = "kwok-node-0"
    # A pod created a moment ago: no PodScheduled condition, no FailedScheduling event yet.
    second["status"]["conditions"] = []
    objects["events"] = [
        e for e in objects["events"] if (e.get("involvedObject") or {}).get("name") != name(second)
    ]
    quiet = ClusterState.build(objects, now=state.now, scope=state.scope, cluster=state.cluster)
    assert run("sched_insufficient_memory", state=quiet) == []


# The scheduler's phrasings across 1.30-1.37 (kubernetes/kubernetes pkg/scheduler: schedule_one.go
# FitError.Error; framework/plugins/{noderesources/fit.go, tainttoleration, nodeaffinity,
# nodeunschedulable, interpodaffinity/filtering.go, volumebinding/binder.go, nodeports,
# podtopologyspread}). Messages not produced by the test cluster's 1.37 are quoted from there.
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            # 1.25-1.32 TaintToleration names the taint.
            "0/7 nodes are available: 3 Insufficient cpu, 4 node(s) had untolerated taint "
            "{dedicated: search}. preemption: 0/7 nodes are available: 7 Preemption is not "
            "helpful for scheduling.",
            {"insufficient": 3, "taint": 4},
        ),
        (
            # DRA's PostFilter speaks before preemption (1.32+).
            "0/6 nodes are available: 3 node(s) didn't match pod affinity rules, 3 node(s) had "
            "untolerated taint(s). no new claims to deallocate, preemption: 0/6 nodes are "
            "available: 6 Preemption is not helpful for scheduling.",
            {"pod-affinity": 3, "taint": 3},
        ),
        (
            "0/3 nodes are available: 1 Too many pods, 2 node(s) had volume node affinity "
            "conflict.",
            {"too-many-pods": 1, "volume-node-affinity": 2},
        ),
        (
            "0/4 nodes are available: 2 node(s) didn't match pod topology spread constraints, "
            "1 node(s) didn't have free ports for the requested pod ports, 1 node(s) didn't "
            "satisfy existing pods anti-affinity rules.",
            {"topology-spread": 2, "host-port": 1, "existing-anti-affinity": 1},
        ),
        (
            "0/2 nodes are available: 2 node(s) had taint {node-role.kubernetes.io/master: }, "
            "that the pod didn't tolerate.",
            {"taint": 2},
        ),
        (
            "0/5 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found",
            {"claim-unbound": 5},
        ),
    ],
)
def test_verdicts_parse_into_counts_per_kind(message: str, expected: dict[str, int]) -> None:
    verdict = parse_verdict(message)
    kinds: dict[str, int] = {}
    for reason, count in verdict.reasons.items():
        kind = reason_kind(reason)[0]
        kinds[kind] = kinds.get(kind, 0) + count
    assert kinds == expected
    assert "Preemption" not in verdict.said()


def test_a_taint_named_by_an_older_scheduler_is_read() -> None:
    assert reason_kind("node(s) had untolerated taint {dedicated: search}") == (
        "taint",
        "dedicated: search",
    )
    assert parse_verdict('running PreBind plugin "VolumeBinding": binding volumes').total is None


def _edited(scenario: str, edit: Any) -> ClusterState:
    state, _ = recorded(scenario)
    objects = copy.deepcopy(dict(state.objects))
    edit(objects)
    return ClusterState.build(objects, now=state.now, scope=state.scope, cluster=state.cluster)


def test_a_verdict_the_nodes_no_longer_bear_out_is_unknown_and_quoted() -> None:
    """The node was relabelled after the scheduler's last try: its verdict (selector) no
    longer holds, and the check says so instead of inventing a cause."""

    def relabel(objects: dict[str, Any]) -> None:
        for node in objects["nodes"]:
            labels = node["metadata"]["labels"]
            for key in [k for k, v in labels.items() if k.startswith("logos-test/sched-")]:
                labels[key] = "nvme"

    (found,) = ours(
        run("sched_selector_mismatch", state=_edited("sched_selector_mismatch", relabel))
    )
    assert (found.cause, found.severity) == ("unknown", Severity.WARNING)
    assert "didn't match Pod's node affinity/selector" in found.message
    assert "the nodes changed since its last try" in found.message


def test_a_message_that_is_no_fit_verdict_is_unknown_and_quoted() -> None:
    def no_nodes(objects: dict[str, Any]) -> None:
        for pod in objects["pods"]:
            for cond in pod["status"].get("conditions") or []:
                if cond["type"] == "PodScheduled":
                    cond["message"] = "no nodes available to schedule pods"

    (found,) = ours(run("sched_claim_missing", state=_edited("sched_claim_missing", no_nodes)))
    assert found.cause == "unknown"
    assert "the scheduler says: no nodes available to schedule pods" in found.message
