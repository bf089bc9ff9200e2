"""service-endpoints on states recorded from the test cluster (tests/k8scluster/scenarios).

Each test is a scenario the on-call meets: what the cluster did, and what the check must say.
Pod names are random per recording, so expectations are computed from the recorded pods.
"""

from __future__ import annotations

import pytest

from logos_doctor.checks.service_endpoints import CHECK
from logos_doctor.errors import UsageError
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef, labels_of, name
from logos_doctor.pods import is_ready
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.selectors import equality_matches
from logos_doctor.state import ClusterState
from recorded import recorded


def findings(scenario: str, *, state: ClusterState | None = None) -> list[Finding]:
    recorded_state, config = recorded(scenario)
    report = run_checks(state or recorded_state, [CHECK], config)
    assert [r.status for r in report.results] != ["error"], report.results
    return list(report.findings)


def by_resource(found: list[Finding]) -> dict[str, Finding]:
    out = {f.resource.name: f for f in found}
    assert len(out) == len(found), "one finding per object"
    return out


def selected_pods(state: ClusterState, service: str) -> list[dict]:
    svc = state.get("Service", state.scope.namespaces[0], service)
    assert svc is not None
    selector = svc["spec"]["selector"]
    return [p for p in state.list_of("pods") if equality_matches(selector, labels_of(p))]


def test_selector_typo_names_the_deployment_one_label_away() -> None:
    found = by_resource(findings("service_no_matching_pods"))
    assert set(found) == {"logos-web"}, "logos-chat still has its endpoints"
    web = found["logos-web"]
    assert (web.cause, web.severity) == ("no-matching-pods", Severity.CRITICAL)
    assert "nearest: Deployment logos-web differs in 1 label(s)" in web.message
    assert "app.kubernetes.io/component=web (selector wants web-frontend)" in web.message
    # logos-chat differs by one key as well, but its value is nothing like "web-frontend".
    assert not any("logos-chat" in line for line in web.evidence)


def test_pods_not_ready_lists_the_pods_and_links_to_their_image_pull_failure() -> None:
    state, config = recorded("service_pods_not_ready")
    chat_pods = selected_pods(state, "logos-chat")
    assert chat_pods and not any(is_ready(p) for p in chat_pods)
    try:
        image_pull = default_registry().get("image-pull")
    except UsageError:
        pytest.skip("the image-pull check is not installed")
    report = run_checks(state, [CHECK, image_pull], config)
    ours = by_resource([f for f in report.findings if f.check == CHECK.id])
    assert set(ours) == {"logos-chat"}, "logos-web is healthy"
    chat = ours["logos-chat"]
    assert (chat.cause, chat.severity) == ("pods-not-ready", Severity.CRITICAL)
    assert chat.parent == ObjectRef(
        "Deployment",
        chat.resource.namespace,
        "logos-chat",
        chat.parent.uid if chat.parent else None,
    )
    assert {a.name for a in chat.depends_on} == {name(p) for p in chat_pods}
    assert "ImagePullBackOff x3" in chat.message
    linked = {(k.check, k.resource.name) for k in chat.caused_by}
    assert linked == {("image-pull", name(p)) for p in chat_pods}


def test_one_ready_endpoint_is_healthy() -> None:
    state, _ = recorded("gpu_insufficient")
    completion = selected_pods(state, "logos-completion")
    ready = [p for p in completion if is_ready(p)]
    assert 0 < len(ready) < len(completion), "the scenario runs some of its pods, not all"
    assert findings("gpu_insufficient") == []


def test_named_target_port_missing_is_critical_and_an_undeclared_number_a_warning() -> None:
    found = by_resource(findings("service_port_mismatch"))
    assert set(found) == {"logos-web-typo", "logos-web-numeric"}, "logos-web targets 'http'"
    typo, numeric = found["logos-web-typo"], found["logos-web-numeric"]
    assert (typo.cause, typo.severity) == ("port-mismatch", Severity.CRITICAL)
    assert "targetPort 'htpp'" in typo.message and "http/8080/TCP" in typo.message
    assert (numeric.cause, numeric.severity) == ("port-mismatch", Severity.WARNING)
    assert "targetPort 8081" in numeric.message
    assert typo.parent is not None and typo.parent.name == "logos-web"


def test_selectorless_services_only_the_one_nobody_backs() -> None:
    found = by_resource(findings("service_selectorless"))
    # legacy-api has a hand-made EndpointSlice; peer-discovery is headless, d3n-api
    # ExternalName: no endpoints by design.
    assert set(found) == {"external-db"}
    assert (found["external-db"].cause, found["external-db"].severity) == (
        "no-selector-no-endpoints",
        Severity.WARNING,
    )


def test_ingress_backend_to_a_missing_service_and_a_missing_port() -> None:
    found = by_resource(findings("ingress_backend_missing"))
    assert set(found) == {"logos"}, "logos-ok routes to existing services and ports"
    ing = found["logos"]
    assert (ing.cause, ing.resource.kind, ing.severity) == (
        "ingress-backend-missing",
        "Ingress",
        Severity.CRITICAL,
    )
    assert "Service logos-chat-v2, which does not exist" in ing.message
    assert "Service logos-web port https" in ing.message and "http/80" in ing.message
    assert [d.name for d in ing.depends_on] == ["logos-chat-v2"]


def test_a_workload_scaled_to_zero_is_named_and_only_a_warning() -> None:
    found = by_resource(findings("hpa_below_min"))
    web = found["logos-web"]
    assert (web.cause, web.severity) == ("no-matching-pods", Severity.WARNING)
    assert "Deployment logos-web matches the selector but is scaled to 0" in web.message


def test_readiness_comes_from_endpointslices() -> None:
    """Without its EndpointSlices, a Service with ready pods is reported as unpublished: the
    check trusts what kube-proxy reads, not the pods."""
    state, _ = recorded("service_no_matching_pods")
    slices = [
        s
        for s in state.list_of("endpointslices")
        if labels_of(s).get("kubernetes.io/service-name") != "logos-chat"
    ]
    without = ClusterState.build(
        {**state.objects, "endpointslices": slices}, now=state.now, scope=state.scope
    )
    chat = by_resource(findings("service_no_matching_pods", state=without))["logos-chat"]
    assert (chat.cause, chat.severity) == ("endpoints-not-published", Severity.WARNING)


def test_without_ingresses_listed_services_are_still_checked() -> None:
    state, _ = recorded("ingress_backend_missing")
    objects = {k: v for k, v in state.objects.items() if k != "ingresses"}
    partial = ClusterState.build(
        objects, now=state.now, scope=state.scope, unavailable={"ingresses": "forbidden"}
    )
    assert findings("ingress_backend_missing", state=partial) == []


def test_many_services_behind_one_cause_hang_under_it_none_is_a_root() -> None:
    # The missing StorageClass keeps both databases' pods Pending: four Services (primary
    # and headless for each) lose their endpoints for that one reason.
    from logos_doctor.runner import root_causes

    state, config = recorded("storage_class_missing")
    report = run_checks(state, list(default_registry()), config)
    services = [f for f in report.findings if f.check == CHECK.id]
    assert len(services) == 4 and {f.cause for f in services} == {"pods-not-ready"}
    roots = dict(root_causes(report.findings))
    assert not {f.key for f in roots} & {f.key for f in services}
    (missing,) = [f for f in roots if (f.check, f.cause) == ("storage-class", "missing")]
    assert {f.key for f in services} <= roots[missing]
