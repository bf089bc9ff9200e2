"""hpa on states recorded from the test cluster, whose real HPA controller wrote the
conditions: no metrics-server (as the test cluster is), a target renamed away, a target
scaled to 0, and, with an external metrics adapter, one HPA at its ceiling and one idling at
its floor."""

from __future__ import annotations

from logos_doctor.checks.hpa import CHECK
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import age, parse_time
from logos_doctor.pods import condition
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
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


def test_without_metrics_server_one_finding_names_every_hpa_and_requests_are_checked_anyway() -> (
    None
):
    found = run("hpa_no_metrics_server")
    # One cause (the metrics API is not served), one finding, the three HPAs affected.
    (metrics,) = [f for f in found if f.cause == "metrics-unavailable"]
    assert (metrics.resource.kind, metrics.resource.name) == (
        "APIService",
        "v1beta1.metrics.k8s.io",
    )
    assert sorted(r.name for r in metrics.affected) == ["logos-batch", "logos-web", "logos-worker"]
    assert all(r.kind == "HorizontalPodAutoscaler" for r in metrics.affected)
    assert "APIService v1beta1.metrics.k8s.io does not exist" in metrics.message
    assert "metrics-server is not installed" in metrics.message
    assert "3 HPA(s) cannot scale" in metrics.message
    # The controller's words (horizontal.go), quoted per HPA.
    assert any("ScalingActive=False FailedGetResourceMetric" in e for e in metrics.evidence)
    assert metrics.severity == Severity.WARNING
    # Utilization of a request that does not exist: wrong even once metrics arrive, so it
    # is about the workload and is not explained by the metrics API.
    (worker,) = [f for f in found if f.cause == "missing-requests"]
    assert (worker.resource.kind, worker.resource.name) == ("Deployment", "logos-worker")
    assert "container(s) worker in 2 pod(s) of Deployment logos-worker" in worker.message
    assert worker.caused_by == ()
    # AverageValue (logos-batch) needs no request; nothing else is said.
    assert len(found) == 2


def test_missing_requests_falls_back_to_the_template_when_no_pod_exists() -> None:
    state, _ = recorded("hpa_no_metrics_server")
    no_pods = ClusterState.build({**state.objects, "pods": []}, now=state.now, scope=state.scope)
    worker = [f for f in run("hpa_no_metrics_server", no_pods) if f.cause == "missing-requests"]
    assert len(worker) == 1
    assert "the pod template of Deployment logos-worker" in worker[0].message


def test_unreadable_apiservices_every_hpa_quoting_the_404_is_still_one_cause() -> None:
    state, _ = recorded("hpa_no_metrics_server")
    objects = {k: v for k, v in state.objects.items() if k != "apiservices"}
    partial = ClusterState.build(objects, now=state.now, scope=state.scope)
    found = [f for f in run("hpa_no_metrics_server", partial) if f.cause.startswith("metrics")]
    (f,) = found
    assert f.cause == "metrics-unavailable" and len(f.affected) == 3
    assert "could not read APIServices" in f.message


def _with_metrics_apiservice(available: bool) -> ClusterState:
    """hpa_no_metrics_server with an APIService v1beta1.metrics.k8s.io registered.

    Unavailable, it carries what kube-aggregator's remote availability controller writes
    (staging/src/k8s.io/kube-aggregator/pkg/controller/status/remote/
    remote_available_controller.go: reason MissingEndpoints, "endpointslices for service/%s
    in %q have no addresses with port name %q")."""
    state, _ = recorded("hpa_no_metrics_server")
    cond = (
        {"type": "Available", "status": "True", "reason": "Passed",
         "message": "all checks passed"}
        if available
        else {"type": "Available", "status": "False", "reason": "MissingEndpoints",
              "message": 'endpointslices for service/metrics-server in "kube-system" have no '
              'addresses with port name "https"'}
    )
    api = {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io", "uid": "a1"},
        "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                 "service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {"conditions": [cond]},
    }
    objects = {**state.objects, "apiservices": [*state.objects["apiservices"], api]}
    return ClusterState.build(objects, now=state.now, scope=state.scope)


def test_an_unavailable_metrics_apiservice_is_the_one_cause() -> None:
    found = run("hpa_no_metrics_server", _with_metrics_apiservice(available=False))
    (f,) = [f for f in found if f.cause.startswith("metrics")]
    assert f.cause == "metrics-unavailable" and len(f.affected) == 3
    assert "is not Available (MissingEndpoints" in f.message
    assert "installed but not serving" in f.message


def test_an_available_api_without_metrics_for_some_pods_is_per_hpa() -> None:
    found = run("hpa_no_metrics_server", _with_metrics_apiservice(available=True))
    missing = [f for f in found if f.cause.startswith("metrics")]
    assert {f.cause for f in missing} == {"metrics-missing"}
    assert sorted(f.resource.name for f in missing) == ["logos-batch", "logos-web", "logos-worker"]
    assert all("is Available, yet returned no usable metrics" in f.message for f in missing)


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
