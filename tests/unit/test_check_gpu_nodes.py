"""gpu-nodes on states recorded from the test cluster: its own GPU nodes per scenario, found
through the scenario's config (`gpu: {labels: [logos-test/gpu-<ns>=true]}`), and the real
scheduler's verdict on the completion pods."""

from __future__ import annotations

from dataclasses import replace

from logos_doctor.checks.gpu_nodes import CHECK
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import labels_of, name
from logos_doctor.pods import condition, is_ready
from logos_doctor.runner import run_checks
from logos_doctor.scheduling import fit_reasons
from logos_doctor.state import ClusterState
from recorded import recorded


def run(scenario: str, config: Config | None = None) -> tuple[ClusterState, list[Finding]]:
    state, recorded_config = recorded(scenario)
    report = run_checks(state, [CHECK], config or recorded_config)
    assert report.results[0].status != "error", report.results
    return state, list(report.findings)


def gpu_nodes(state: ClusterState, config: Config) -> list[dict]:
    key, value = config.gpu.labels[0]
    return [n for n in state.list_of("nodes") if labels_of(n).get(key) == value]


def unscheduled(state: ClusterState) -> set[str]:
    return {
        name(p)
        for p in state.list_of("pods")
        if (condition(p, "PodScheduled") or {}).get("reason") == "Unschedulable"
    }


def test_enough_ready_gpu_nodes_is_quiet() -> None:
    state, found = run("gpu_healthy")
    assert len(gpu_nodes(state, recorded("gpu_healthy")[1])) == 2
    assert all(is_ready(p) for p in state.list_of("pods"))
    assert found == []


def test_gpu_nodes_without_the_label_are_named_with_the_label_command() -> None:
    """Issue 14 item 5: nodes with allocatable GPUs but not the label the pods select are
    the cause, not a missing node group.  The scenario's two nodes (32 GPUs each) carry only
    `logos-test/pool-<ns>=a100`; the shared pool lacks the namespace's label too."""
    state, found = run("gpu_label_missing")
    _, config = recorded("gpu_label_missing")
    key, value = config.gpu.labels[0]
    ours = sorted(
        name(n)
        for n in state.list_of("nodes")
        if labels_of(n).get(f"logos-test/pool-{state.scope.namespaces[0]}"[:63]) == "a100"
    )
    assert len(ours) == 2 and not gpu_nodes(state, config)
    assert {f.cause for f in found} == {"gpu-label-missing"}
    assert {f.resource.name for f in found} == unscheduled(state) and len(found) == 4
    for f in found:
        assert f.severity == Severity.CRITICAL
        named = {d.name for d in f.depends_on}
        assert set(ours) <= named
        command = f"kubectl label node {' '.join(sorted(named))} {key}={value}"
        assert command in f.remediation and command in f.message
        assert "node group" not in f.message
        assert "32 nvidia.com/gpu allocatable" in " ".join(f.evidence)


def test_no_gpu_anywhere_is_a_missing_node_group() -> None:
    """The same pods when the GPU pool is scaled to zero: the recorded state without its
    GPU nodes.  Only then is 'add a node group' the advice."""
    state, config = recorded("gpu_no_nodes")
    objects = dict(state.objects)
    objects["nodes"] = [
        n for n in objects["nodes"] if "nvidia.com/gpu" not in n["status"]["allocatable"]
    ]
    gone = ClusterState.build(objects, now=state.now, scope=state.scope, cluster=state.cluster)
    found = list(run_checks(gone, [CHECK], config).findings)
    assert {f.cause for f in found} == {"no-gpu-nodes"}
    assert {f.resource.name for f in found} == unscheduled(state)
    assert len(found) == 4
    for f in found:
        assert (f.resource.kind, f.severity) == ("Pod", Severity.CRITICAL)
        assert f.parent is not None and (f.parent.kind, f.parent.name) == (
            "Deployment",
            "logos-completion",
        )
        assert "didn't match Pod's node affinity/selector" in " ".join(f.evidence)
        assert "add a GPU node group" in f.remediation


def test_the_shared_pool_without_the_namespaces_label_is_label_missing() -> None:
    _, found = run("gpu_no_nodes")
    assert {f.cause for f in found} == {"gpu-label-missing"}
    assert all("kwok-gpu-0" in f.remediation for f in found)


def test_the_gpu_label_comes_from_the_config() -> None:
    """With the default labels the shared pool (nvidia.com/gpu=true) counts as GPU nodes, and
    the same pods, which select the scenario's own label, are a selector mismatch instead."""
    state, _ = recorded("gpu_no_nodes")
    assert gpu_nodes(state, Config()), "the shared GPU pool was in the recorded cluster"
    _, found = run("gpu_no_nodes", replace(Config(), namespace=state.scope.namespaces[0]))
    pods = [f for f in found if f.resource.kind == "Pod"]
    assert len(pods) == 4 and {f.cause for f in pods} == {"selector-mismatch"}


def test_insufficient_gpus_reports_demand_against_free_on_the_ready_nodes() -> None:
    state, found = run("gpu_insufficient")
    node = gpu_nodes(state, recorded("gpu_insufficient")[1])[0]
    assert {f.resource.name for f in found} == unscheduled(state) and len(found) == 2
    for f in found:
        assert f.cause == "insufficient-gpu"
        # Two of the four replicas run, so the Deployment is degraded, not down.
        assert f.severity == Severity.WARNING
        assert "2 pending GPU pod(s) need 2 nvidia.com/gpu" in f.message
        assert "1 ready GPU node(s) have 0 free of 2 allocatable" in f.message
        assert [d.name for d in f.depends_on] == [name(node)]
        # Two GPUs short; the two running replicas are what fits.
        assert f.remediation.startswith("2 more nvidia.com/gpu needed")
        assert "at most 2 replica(s)" in f.remediation


def test_labelled_node_without_allocatable_gpus_is_the_cause_of_the_pending_pods() -> None:
    state, found = run("gpu_not_allocatable")
    node = gpu_nodes(state, recorded("gpu_not_allocatable")[1])[0]
    assert "nvidia.com/gpu" not in node["status"]["allocatable"]
    by_kind = {
        f.resource.kind: [g for g in found if g.resource.kind == f.resource.kind] for f in found
    }
    assert [(f.cause, f.resource.name, f.severity) for f in by_kind["Node"]] == [
        ("gpu-not-allocatable", name(node), Severity.CRITICAL)
    ]
    assert {f.resource.name for f in by_kind["Pod"]} == unscheduled(state)
    for f in by_kind["Pod"]:
        assert f.cause == "gpu-not-allocatable"
        # The scheduler says only "Insufficient nvidia.com/gpu"; the node says why.
        assert "Insufficient nvidia.com/gpu" in " ".join(f.evidence)
        assert [(k.check, k.cause, k.resource.name) for k in f.caused_by] == [
            ("gpu-nodes", "gpu-not-allocatable", name(node))
        ]
        assert f"device plugin is not running (or found no GPU) on {name(node)}" in f.remediation
        assert f"spec.nodeName={name(node)}" in f.remediation


def test_selector_asking_for_another_label_value() -> None:
    state, found = run("gpu_selector_mismatch")
    assert {f.resource.name for f in found} == unscheduled(state)
    for f in found:
        assert (f.cause, f.severity) == ("selector-mismatch", Severity.CRITICAL)
        assert "=yes" in f.message and "matches none of the 1 GPU node(s)" in f.message
        # Both ways out, with what the pods ask and what the nodes carry.
        assert "=yes;" in f.remediation and "the GPU nodes carry logos-test/gpu-" in f.remediation
        assert "=true" in f.remediation and "--overwrite" in f.remediation


def test_untolerated_operator_taint_on_the_gpu_pool() -> None:
    state, found = run("gpu_taint_not_tolerated")
    assert {f.resource.name for f in found} == unscheduled(state)
    for f in found:
        assert f.cause == "taint-not-tolerated"
        assert "logos-test/dedicated=" in f.message and ":NoSchedule" in f.message
        assert "1 node(s) had untolerated taint(s)" in f.message
        assert "{key: logos-test/dedicated, operator: Equal, value: rec-gpu-taint" in f.remediation
        assert f.remediation.endswith(":NoSchedule-") and "kubectl taint node gpu-" in f.remediation


def test_cordoned_and_silent_gpu_nodes() -> None:
    state, found = run("gpu_node_not_ready")
    nodes = {f.resource.name: f for f in found if f.resource.kind == "Node"}
    assert {f.cause for f in nodes.values()} == {"gpu-node-not-ready"}
    messages = " | ".join(f.message for f in nodes.values())
    assert "cordoned" in messages and "Ready=Unknown (NodeStatusNeverUpdated)" in messages
    assert all(f.severity == Severity.CRITICAL for f in nodes.values()), "no usable GPU node"
    pods = [f for f in found if f.resource.kind == "Pod"]
    assert {f.resource.name for f in pods} == unscheduled(state)
    for f in pods:
        # The lifecycle taints (unreachable, unschedulable) are the nodes' state, not a
        # missing toleration.
        assert f.cause == "gpu-node-not-ready"
        assert {d.name for d in f.depends_on} == set(nodes)
        assert {k.resource.name for k in f.caused_by} == set(nodes)
    cordoned = next(n for n, f in nodes.items() if "cordoned" in f.message)
    assert f"kubectl uncordon {cordoned}" in nodes[cordoned].remediation
    silent = next(n for n in nodes if n != cordoned)
    assert "uncordon" not in nodes[silent].remediation and "kubelet" in nodes[silent].remediation


def test_the_schedulers_verdict_parses_into_reasons_per_node_count() -> None:
    state, _ = recorded("gpu_insufficient")
    verdicts = {
        (condition(p, "PodScheduled") or {}).get("message", "")
        for p in state.list_of("pods")
        if not is_ready(p)
    }
    assert verdicts
    for verdict in verdicts:
        total, reasons = fit_reasons(verdict)
        assert total is not None and sum(reasons.values()) == total
        assert reasons["Insufficient nvidia.com/gpu"] == 1
        assert not any("preemption" in r.lower() for r in reasons)
    assert fit_reasons("binding rejected: timeout") == (None, {})


def test_a_fleet_of_unlabelled_gpu_nodes_is_named_short_in_the_message() -> None:
    """A GPU labeller that died leaves every GPU node of a fleet without the label: the
    recorded scenario with its unlabelled GPU nodes cloned 40 times.  The message (the
    first screen) names four and counts the rest, the remediation's command names every
    node, and each pod still depends on all of them."""
    state, config = recorded("gpu_label_missing")
    key, value = config.gpu.labels[0]
    objects = dict(state.objects)
    with_gpus = [n for n in objects["nodes"] if n["status"]["allocatable"].get("nvidia.com/gpu")]
    assert with_gpus and not gpu_nodes(state, config)  # every GPU node lacks the label
    clones = [
        {**n, "metadata": {**n["metadata"], "name": f"{name(n)}-c{i:02d}", "uid": f"{i}{name(n)}"}}
        for i in range(40)
        for n in with_gpus
    ]
    objects["nodes"] = [*objects["nodes"], *clones]
    fleet = ClusterState.build(objects, now=state.now, scope=state.scope, cluster=state.cluster)
    found = list(run_checks(fleet, [CHECK], config).findings)
    assert {f.cause for f in found} == {"gpu-label-missing"} and len(found) == 4
    for f in found:
        named = sorted(d.name for d in f.depends_on)
        assert len(named) >= 40 + len(with_gpus)
        assert f"{', '.join(named[:4])} and {len(named) - 4} more have" in f.message
        assert "kubectl label node" not in f.message
        assert f"kubectl label node {' '.join(named)} {key}={value}" in f.remediation
