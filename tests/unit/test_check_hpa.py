"""hpa on states recorded from the test cluster, whose real HPA controller wrote the
conditions: no metrics-server (as the test cluster is), a target renamed away, a target
scaled to 0, and, with an external metrics adapter, one HPA at its ceiling and one idling at
its floor."""

from __future__ import annotations

from logos_doctor.checks.hpa import CHECK
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import age, parse_time
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from logos_doctor.workloads import condition
from recorded import recorded


def run(scenario: str, state: ClusterState | None = None) -> list[Finding]:
    recorded_state, config = recorded(scenario)
    report = run_checks(state or recorded_state, [CHECK], config)
    assert report.results[0].status != "error", report.results
    return list(report.findings)


def causes(found: list[Finding]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in found:
        out.setdefault(f.resource.name, set()).add(f.cause)
    return out


def test_without_metrics_server_every_hpa_says_so_and_requests_are_checked_anyway() -> None:
    found = run("hpa_no_metrics_server")
    assert causes(found) == {
        "logos-web": {"metrics-unavailable"},
        # Utilization of a request that does not exist: wrong even once metrics arrive.
        "logos-worker": {"metrics-unavailable", "missing-requests"},
        # AverageValue needs no request.
        "logos-batch": {"metrics-unavailable"},
    }
    for f in found:
        assert f.severity == Severity.WARNING
        assert f.parent is not None and f.parent.name == f.resource.name
        if f.cause == "metrics-unavailable":
            assert "APIService v1beta1.metrics.k8s.io does not exist" in f.message
            assert "metrics-server is not installed" in f.message
            assert any("FailedGetResourceMetric" in e for e in f.evidence)
    worker = next(f for f in found if f.cause == "missing-requests")
    assert "container(s) worker in 2 pod(s) of Deployment logos-worker" in worker.message


def test_missing_requests_falls_back_to_the_template_when_no_pod_exists() -> None:
    state, _ = recorded("hpa_no_metrics_server")
    no_pods = ClusterState.build({**state.objects, "pods": []}, now=state.now, scope=state.scope)
    worker = [f for f in run("hpa_no_metrics_server", no_pods) if f.cause == "missing-requests"]
    assert len(worker) == 1
    assert "the pod template of Deployment logos-worker" in worker[0].message


def test_unreadable_apiservices_are_admitted_not_guessed() -> None:
    state, _ = recorded("hpa_no_metrics_server")
    objects = {k: v for k, v in state.objects.items() if k != "apiservices"}
    partial = ClusterState.build(objects, now=state.now, scope=state.scope)
    found = [f for f in run("hpa_no_metrics_server", partial) if f.cause == "metrics-unavailable"]
    assert found and all("could not read APIServices" in f.message for f in found)


def test_target_renamed_away() -> None:
    found = run("hpa_target_missing")
    assert len(found) == 1, "nothing else is worth saying about an HPA with no target"
    f = found[0]
    assert (f.cause, f.resource.name, f.parent) == ("target-missing", "logos-web", None)
    assert "Deployment logos-web-canary does not exist" in f.message
    assert any("FailedGetScale" in e for e in f.evidence)


def test_target_scaled_to_zero_is_below_min_with_scaling_disabled() -> None:
    found = run("hpa_below_min")
    assert [(f.cause, f.resource.name) for f in found] == [("below-min", "logos-web")]
    assert "0 replica(s), below minReplicas 3" in found[0].message
    assert "scaling is disabled because the target was scaled to 0" in found[0].message


def test_at_the_ceiling_is_maxed_out_and_at_the_floor_is_healthy() -> None:
    state, _ = recorded("hpa_maxed_out")
    found = run("hpa_maxed_out")
    assert [(f.cause, f.resource.name, f.severity) for f in found] == [
        ("maxed-out", "logos-web", Severity.WARNING)
    ], "logos-chat rests at minReplicas (TooFewReplicas): healthy"
    chat = state.get("HorizontalPodAutoscaler", state.scope.namespaces[0], "logos-chat")
    assert (condition(chat, "ScalingLimited") or {}).get("reason") == "TooFewReplicas"
    web = state.get("HorizontalPodAutoscaler", state.scope.namespaces[0], "logos-web")
    since = parse_time((condition(web, "ScalingLimited") or {}).get("lastTransitionTime"))
    assert f"held at maxReplicas 4 for {age(since, state.now)}" in found[0].message
    assert "queue_depth at" in found[0].message
