"""containers/readiness-gate-not-ready on what a real kubelet wrote (scenarios
``real_readiness_gate_*`` in k8scluster/scenarios/kubelet.py).

The pod's server answers its readiness probe, so every container is ready; its one readiness
gate is the AWS Load Balancer Controller's condition type.  No such controller runs on the
test cluster: in ``absent`` nothing writes the gate, in ``false`` and ``true`` the condition
is written the way that controller writes it, and the kubelet (v1.37.2) reacts by itself.
The recordings are taken seconds after the pod started, inside the five-minute grace: the
tests move the clock to see the verdict once the state has lasted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from logos_doctor.checks.containers import GATE_GRACE
from logos_doctor.finding import Finding, Severity
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from recorded import recorded

GATE = "target-health.elbv2.k8s.aws/k8s-web-7c1e9a"


def lasted(scenario: str, minutes: float = 6) -> tuple[ClusterState, Any]:
    state, config = recorded(scenario)
    return replace(state, now=state.now + timedelta(minutes=minutes)), config


def gate_findings(state: ClusterState, config: Any, *ids: str) -> list[Finding]:
    checks = [c for c in default_registry() if c.id in ("containers", *ids)]
    return list(run_checks(state, checks, config).findings)


def test_a_gate_nothing_writes_is_named_with_the_kubelets_words_once_it_lasts() -> None:
    state, config = lasted("real_readiness_gate_absent")
    (gate,) = gate_findings(state, config)
    assert (gate.check, gate.cause, gate.severity) == (
        "containers",
        "readiness-gate-not-ready",
        Severity.CRITICAL,  # the Deployment's only pod: nothing of it serves
    )
    assert gate.resource.kind == "Pod" and gate.parent is not None
    assert (gate.parent.kind, gate.parent.name) == ("Deployment", "web")
    assert f"readiness gate {GATE} has no condition: nothing has written it" in gate.message
    # The kubelet's own line, verbatim (pkg/kubelet/status/generate.go).
    assert (
        "Ready=False (ReadinessGatesNotReady): corresponding condition of pod readiness gate "
        f'"{GATE}" does not exist.'
    ) in gate.evidence
    assert f"condition {GATE}: absent" in gate.evidence
    assert "the AWS Load Balancer Controller, for TargetGroupBinding k8s-web-7c1e9a" in (
        gate.remediation
    )


def test_a_gate_its_controller_says_false_quotes_the_controller() -> None:
    state, config = lasted("real_readiness_gate_false")
    (gate,) = gate_findings(state, config)
    assert gate.cause == "readiness-gate-not-ready"
    assert (
        f"readiness gate {GATE} is False (Target.ResponseCodeMismatch): Health checks failed "
        "with these codes: [404]"
    ) in gate.message
    assert (
        f'Ready=False (ReadinessGatesNotReady): the status of pod readiness gate "{GATE}" is '
        'not "True", but False'
    ) in gate.evidence


def test_the_service_and_the_deployment_hang_from_the_gate() -> None:
    state, config = lasted("real_readiness_gate_absent")
    found = gate_findings(state, config, "service-endpoints", "workloads")
    assert [f.cause for f in found if f.check == "containers"] == ["readiness-gate-not-ready"]
    others = [f for f in found if f.check != "containers"]
    assert {f.check for f in others} == {"service-endpoints", "workloads"}, others
    for f in others:
        assert [k.cause for k in f.caused_by] == ["readiness-gate-not-ready"], f


def test_a_gate_still_registering_waits() -> None:
    """Inside the grace a load balancer may still be registering the new target.  The
    never-silent pass waits too: the one readiness probe that failed before the server
    listened (recorded in ``false``) is history once the container is ready."""
    for scenario in ("real_readiness_gate_absent", "real_readiness_gate_false"):
        state, config = recorded(scenario)
        for after in (timedelta(0), timedelta(minutes=2), GATE_GRACE - timedelta(seconds=30)):
            later = replace(state, now=state.now + after)
            assert gate_findings(later, config, "warnings") == [], (scenario, after)


def test_a_gate_written_true_is_quiet() -> None:
    state, config = lasted("real_readiness_gate_true", minutes=60)
    report = run_checks(state, list(default_registry()), config)
    assert [f for f in report.findings if f.check in ("containers", "warnings")] == []


def test_a_workload_with_a_ready_pod_gets_a_warning() -> None:
    """The same gated pod beside a ready one of the same Deployment: degraded, not down."""
    state, config = lasted("real_readiness_gate_absent")
    ready_state, _ = lasted("real_readiness_gate_true", minutes=60)
    (ready,) = [p for p in ready_state.objects["pods"]]
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    (gated,) = doc["pods"]
    twin = dict(ready)
    twin["metadata"] = {
        **ready["metadata"],
        "name": ready["metadata"]["name"] + "-twin",
        "uid": "twin-" + str(ready["metadata"]["uid"]),
        "namespace": gated["metadata"]["namespace"],
        "ownerReferences": gated["metadata"]["ownerReferences"],
    }
    doc["pods"].append(twin)
    both = ClusterState.build(doc, now=state.now, scope=state.scope)
    (gate,) = gate_findings(both, config)
    assert (gate.cause, gate.severity) == ("readiness-gate-not-ready", Severity.WARNING)


def test_a_gate_of_an_unknown_controller_is_still_named() -> None:
    state, config = lasted("real_readiness_gate_false")
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    (pod,) = doc["pods"]
    other = "example.com/feature-flags-synced"
    pod["spec"] = {**pod["spec"], "readinessGates": [{"conditionType": other}]}
    pod["status"] = {
        **pod["status"],
        "conditions": [
            {**c, "type": other} if c["type"] == GATE else c for c in pod["status"]["conditions"]
        ],
    }
    moved = ClusterState.build(doc, now=state.now, scope=state.scope)
    (gate,) = gate_findings(moved, config)
    assert f"readiness gate {other} is False (Target.ResponseCodeMismatch)" in gate.message
    assert "the controller that owns this condition type" in gate.remediation


def test_a_sidecar_still_failing_its_probe_is_not_history() -> None:
    """Only the kubelet's ContainersReady=True makes a readiness failure history: a sidecar
    (a restartable init container) that is not ready keeps the pod's words current, though
    every regular container is ready.  The warnings pass alone, as when no check knows it."""
    state, config = lasted("real_readiness_gate_false", minutes=2)
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    (pod,) = doc["pods"]
    sidecar = {"name": "proxy", "restartPolicy": "Always", "image": "proxy:1"}
    pod["spec"] = {**pod["spec"], "initContainers": [sidecar]}
    pod["spec"].pop("readinessGates")
    unready = {
        "status": "False",
        "reason": "ContainersNotReady",
        "message": "containers with unready status: [proxy]",
    }
    pod["status"] = {
        **pod["status"],
        "initContainerStatuses": [
            {
                "name": "proxy",
                "ready": False,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2026-12-06T01:36:11Z"}},
            }
        ],
        "conditions": [
            {**c, **unready} if c["type"] in ("Ready", "ContainersReady") else c
            for c in pod["status"]["conditions"]
            if c["type"] != GATE
        ],
    }
    sidecars = ClusterState.build(doc, now=state.now, scope=state.scope)
    (quoted,) = gate_findings(sidecars, config, "warnings")
    assert (quoted.check, quoted.cause) == ("warnings", "unrecognised")
    assert "Readiness probe failed" in quoted.message
