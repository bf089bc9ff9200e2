"""nodes on states recorded from the test cluster (k8scluster/scenarios/node_states.py).

The node-lifecycle controller, the scheduler and the EndpointSlice controller in these
recordings are real; the kubelets are the stand-in of ``kubelet_states`` (node conditions in
pkg/kubelet/nodestatus/setters.go's words).  Names mislead on purpose: ``ready-node-*`` is
the one that stopped reporting, ``disk-pressure-node-*`` is healthy, ``healthy-node-*`` is
under memory pressure, ``memory-pressure-node-*`` under disk pressure.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from logos_doctor.checks.nodes import CHECK
from logos_doctor.finding import Finding, Severity
from logos_doctor.registry import default_registry
from logos_doctor.runner import root_causes, run_checks
from logos_doctor.state import ClusterState
from recorded import recorded


def run(state: ClusterState, config: Any) -> dict[str, Finding]:
    report = run_checks(state, [CHECK], config)
    assert [r.status for r in report.results] in (["ok"], ["findings"]), report.results
    out = {f.resource.name.split("-rec-")[0]: f for f in report.findings}
    assert len(out) == len(report.findings), "one finding per node"
    return out


@pytest.fixture(scope="module")
def found() -> dict[str, Finding]:
    return run(*recorded("node_states"))


def test_each_node_gets_its_worst_problem_and_the_healthy_one_none(
    found: dict[str, Finding],
) -> None:
    assert {n: (f.cause, f.severity) for n, f in found.items()} == {
        "ready-node": ("unknown", Severity.CRITICAL),
        # critical: its eviction left logos-render with nothing serving
        "healthy-node": ("memory-pressure", Severity.CRITICAL),
        "drain-me": ("cordoned", Severity.INFO),
        "flapping": ("not-ready", Severity.INFO),
        # their pods still run ready: a warning each
        "memory-pressure-node": ("disk-pressure", Severity.WARNING),
        "pid-ok": ("pid-pressure", Severity.WARNING),
    }, "disk-pressure-node is healthy whatever its name says"


def test_a_node_that_stopped_reporting_names_how_long_and_the_controllers_taints(
    found: dict[str, Finding],
) -> None:
    gone = found["ready-node"]
    assert "stopped reporting: Ready=Unknown for" in gone.message
    assert "Kubelet stopped posting node status." in gone.message
    assert "2 pod(s) in scope there" in gone.message
    taints = [e for e in gone.evidence if e.startswith("taint node.kubernetes.io/unreachable")]
    assert len(taints) == 2 and any(":NoExecute" in t and "tolerationSeconds" in t for t in taints)
    kinds = sorted({a.kind for a in gone.affected})
    assert kinds == ["Deployment", "Pod", "ReplicaSet"], "its pods and their owners"


def test_the_service_whose_pods_sit_on_that_node_is_explained_by_the_node() -> None:
    state, config = recorded("node_states")
    wanted = ("nodes", "containers", "service-endpoints", "workloads")
    report = run_checks(state, [c for c in default_registry() if c.id in wanted], config)
    service = next(
        f
        for f in report.findings
        if f.check == "service-endpoints" and f.resource.name == "logos-web"
    )
    assert [(k.check, k.cause) for k in service.caused_by] == [("nodes", "unknown")]
    assert not any(
        f.check == "containers" and f.cause == "readiness-failing" for f in report.findings
    ), "the pods are unready because the node is: no probe is blamed"
    roots = [f for f, _ in root_causes(report.findings) if f.severity == Severity.CRITICAL]
    assert sorted((f.check, f.cause) for f in roots) == [
        ("nodes", "memory-pressure"),
        ("nodes", "unknown"),
    ]


def test_memory_pressure_explains_the_eviction_and_the_eviction_the_deployment() -> None:
    state, config = recorded("node_states")
    wanted = ("nodes", "containers", "workloads")
    report = run_checks(state, [c for c in default_registry() if c.id in wanted], config)
    by = {(f.check, f.cause): f for f in report.findings}
    evicted = by[("containers", "evicted")]
    assert evicted.severity == Severity.CRITICAL, "its replacement cannot run anywhere"
    assert [(k.check, k.cause) for k in evicted.caused_by] == [("nodes", "memory-pressure")]
    deployment = by[("workloads", "unavailable-replicas")]
    assert ("containers", "evicted") in {(k.check, k.cause) for k in deployment.caused_by}
    pressure = by[("nodes", "memory-pressure")]
    assert "MemoryPressure=True (KubeletHasInsufficientMemory)" in pressure.evidence[0]
    assert any("node.kubernetes.io/memory-pressure:NoSchedule" in e for e in pressure.evidence)
    assert any(e.startswith("1 pod(s) in scope evicted from it") for e in pressure.evidence)


def test_a_kubelet_notready_past_the_grace_period_is_critical() -> None:
    state, config = recorded("node_states")
    later = replace(state, now=state.now + timedelta(minutes=2))
    flapping = run(later, config)["flapping"]
    assert (flapping.cause, flapping.severity) == ("not-ready", Severity.CRITICAL)
    assert "cni plugin not initialized" in flapping.message


def test_healthy_nodes_are_quiet() -> None:
    for scenario in (
        "healthy_logos",
        "kubelet_states",
        "crashloop_oom",
        "gpu_healthy",
        "real_healthy",
    ):
        state, config = recorded(scenario)
        report = run_checks(state, [CHECK], config)
        assert report.findings == (), scenario


def test_nodes_no_pod_in_scope_uses_are_left_out() -> None:
    # gpu_node_not_ready has a cordoned and a never-reporting GPU node, but no pod of the
    # namespace runs on them (they cannot be scheduled): that is gpu-nodes' finding to make.
    state, config = recorded("gpu_node_not_ready")
    assert run(state, config) == {}
    everywhere = replace(state, scope=replace(state.scope, namespaces=None))
    report = run_checks(everywhere, [CHECK], config)
    assert {f.cause for f in report.findings} == {"unknown", "cordoned"}


def test_a_gpu_node_down_has_one_root_cause_the_gpu_nodes_finding() -> None:
    # gpu-nodes also reports a GPU node that is not Ready: this finding (with the pods it
    # lists) hangs under that one rather than standing beside it as a second root.
    state, config = recorded("gpu_healthy")
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    hosting = {p["spec"].get("nodeName") for p in doc["pods"]}
    for node in doc["nodes"]:
        if node["metadata"]["name"] in hosting:
            conds = [
                dict(c, status="Unknown", reason="NodeStatusUnknown") if c["type"] == "Ready" else c
                for c in node["status"]["conditions"]
            ]
            node["status"] = {**node["status"], "conditions": conds}
    down = ClusterState.build(doc, now=state.now, scope=state.scope)
    checks = [c for c in default_registry() if c.id in ("nodes", "gpu-nodes")]
    report = run_checks(down, checks, config)
    ours = [f for f in report.findings if f.check == "nodes"]
    assert ours and all(f.cause == "unknown" for f in ours)
    assert all([k.check for k in f.caused_by] == ["gpu-nodes"] for f in ours)
    assert {f.check for f, _ in root_causes(report.findings)} == {"gpu-nodes"}
