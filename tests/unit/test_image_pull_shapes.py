"""image-pull on the shapes real kubelets leave (scenario ``image_pull_shapes``).

Recorded from the test cluster: pods bound to nodes kwok does not manage, whose status and
events were written as a kubelet writes them (see k8scluster/scenarios/image_pull_shapes.py
for the source of every string): alternating ErrImagePull/ImagePullBackOff with growing
event counts, a pre-1.32 back-off without the error, expired events, a missing pull secret
announced by FailedToRetrieveImagePullSecret, a missing layer.  Every image carries another
cause's words (nginx-tls:v1.403, x509-certificate-exporter:2.500, forbidden-api:v1.429,
registry-429...).
"""

from __future__ import annotations

import pytest
from image_pull_oracle import naive as _naive

from k8scluster.scenarios.image_pull_shapes import EXPECTED, SECRET_MISSING
from logos_doctor.checks.image_pull import CHECK
from logos_doctor.checks.workloads import CHECK as WORKLOADS
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef, name
from logos_doctor.pods import container_states
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from recorded import recorded

SCENARIO = "image_pull_shapes"


def without(state: ClusterState, plural: str) -> ClusterState:
    """The same recorded state as if listing ``plural`` had been forbidden."""
    objects = {k: v for k, v in state.objects.items() if k != plural}
    return ClusterState.build(
        objects, now=state.now, scope=state.scope, cluster=state.cluster,
        unavailable={**state.unavailable, plural: f"forbidden to list {plural}"},
    )  # fmt: skip


def shapes(state: ClusterState, *checks: object) -> dict[str, Finding]:
    """The image-pull finding of each shape's Deployment, by Deployment name."""
    _, config = recorded(SCENARIO)
    report = run_checks(state, list(checks or (CHECK,)), config)  # type: ignore[arg-type]
    assert all(r.status in ("ok", "findings") for r in report.results), report.results
    out: dict[str, Finding] = {}
    for f in report.findings:
        if f.check == "image-pull" and f.parent and f.parent.name in EXPECTED:
            assert f.parent.name not in out, "one finding per pod and image"
            out[f.parent.name] = f
    return out


def test_every_shape_gets_its_cause() -> None:
    state, _ = recorded(SCENARIO)
    found = shapes(state)
    assert {k: f.cause for k, f in found.items()} == EXPECTED
    for dep, f in found.items():
        assert f.severity == Severity.CRITICAL, dep
        assert f.parent is not None and f.parent.kind == "Deployment"
        assert f.resource.kind == "Pod" and f.resource.name.startswith(f"{dep}-")


def test_the_healthy_stack_beside_them_stays_quiet() -> None:
    state, _ = recorded(SCENARIO)
    _, config = recorded(SCENARIO)
    report = run_checks(state, [CHECK], config)
    assert all(f.parent and f.parent.name in EXPECTED for f in report.findings)


def test_the_names_would_mislead_a_name_matcher() -> None:
    """What the kubelet wrote, matched with the names left in, gives another cause for each
    classifiable shape: the check above can only be right by reading past the names."""
    state, _ = recorded(SCENARIO)
    texts: dict[str, list[str]] = {}
    for pod in state.list_of("pods"):
        dep = name(pod).rsplit("-", 2)[0]
        if dep in EXPECTED:
            texts[dep] = [c.waiting_message for c in container_states(pod)]
            texts[dep] += [e.message for e in state.events_for("Pod", pod)
                           if e.message.startswith("Failed to pull image")]  # fmt: skip
    for dep in ("logos-docs", "logos-metrics", "logos-mirror", "logos-cache"):
        informative = [t for t in texts[dep] if t != texts[dep][0] or ": " in t]
        assert informative and all(_naive(t) != EXPECTED[dep] for t in informative), dep


def test_alternating_pull_shows_the_attempts_counted_by_the_kubelet() -> None:
    """Caught in ErrImagePull after its third attempt: the waiting message is the error,
    the evidence carries the kubelet's aggregated counts."""
    state, _ = recorded(SCENARIO)
    docs = shapes(state)["logos-docs"]
    pod = state.get("Pod", docs.resource.namespace, docs.resource.name)
    assert pod is not None
    (cs,) = container_states(pod)
    assert cs.waiting_reason == "ErrImagePull" and cs.waiting_message.endswith(": not found")
    assert any(x.startswith("Failed (x3,") for x in docs.evidence), docs.evidence
    assert any(x.startswith("BackOff (x2,") for x in docs.evidence), docs.evidence


def test_a_pre_132_back_off_takes_the_cause_from_the_failed_event() -> None:
    state, _ = recorded(SCENARIO)
    metrics = shapes(state)["logos-metrics"]
    pod = state.get("Pod", metrics.resource.namespace, metrics.resource.name)
    assert pod is not None
    (cs,) = container_states(pod)
    assert (
        cs.waiting_message
        == 'Back-off pulling image "ghcr.io/acme/x509-certificate-exporter:2.500"'
    )
    assert metrics.cause == "unauthorized"
    assert any("403 Forbidden" in x for x in metrics.evidence)


def test_expired_events_and_a_bare_back_off_say_the_evidence_is_gone() -> None:
    state, _ = recorded(SCENARIO)
    search = shapes(state)["logos-search"]
    assert search.cause == "unknown"
    assert "no longer recorded" in search.message and "expired" in search.message
    assert "kubectl get events" in search.remediation and search.resource.name in search.remediation
    assert (
        'kubelet: Back-off pulling image "docker.io/acme/forbidden-api:v1.429"' in search.evidence
    )


def test_expired_events_with_a_132_back_off_still_name_the_cause() -> None:
    state, _ = recorded(SCENARIO)
    mirror = shapes(state)["logos-mirror"]
    assert mirror.cause == "registry-unreachable"
    assert mirror.evidence[0].startswith('kubelet: Back-off pulling image "registry-429.')


def test_without_events_the_status_alone_decides_or_says_it_cannot() -> None:
    state, _ = recorded(SCENARIO)
    found = shapes(without(state, "events"))
    assert {k: f.cause for k, f in found.items()} == {
        **EXPECTED,
        # A pre-1.32 back-off line alone holds no cause: said so, not guessed.
        "logos-metrics": "unknown",
        # Without the kubelet's event, only the spec witnesses the missing secret: the
        # Secrets are listed here, so it is still found.
        "logos-sync": "pull-secret-missing",
    }
    assert "events could not be listed" in found["logos-metrics"].message


def test_missing_pull_secret_is_read_from_the_kubelets_event_when_secrets_are_forbidden() -> None:
    state, _ = recorded(SCENARIO)
    sync = shapes(without(state, "secrets"))["logos-sync"]
    assert sync.cause == "pull-secret-missing"
    assert sync.depends_on == (ObjectRef("Secret", sync.resource.namespace, SECRET_MISSING),)
    assert SECRET_MISSING in sync.message
    assert any(x.startswith("FailedToRetrieveImagePullSecret") for x in sync.evidence)


def test_with_neither_witness_the_denial_is_said_to_be_ambiguous() -> None:
    state, _ = recorded(SCENARIO)
    sync = shapes(without(without(state, "secrets"), "events"))["logos-sync"]
    assert sync.cause == "not-found-or-denied"
    assert "does not exist" in sync.message and "credentials" in sync.message
    assert "does not exist" in sync.remediation and "credentials" in sync.remediation


@pytest.mark.parametrize("dep", sorted(EXPECTED))
def test_each_deployment_hangs_from_its_pull_failure(dep: str) -> None:
    state, _ = recorded(SCENARIO)
    _, config = recorded(SCENARIO)
    report = run_checks(state, [CHECK, WORKLOADS], config)
    workload = [f for f in report.findings
                if f.check == "workloads" and f.resource.name == dep]  # fmt: skip
    assert len(workload) == 1, [f.resource for f in report.findings if f.check == "workloads"]
    assert [(c.check, c.cause) for c in workload[0].caused_by] == [("image-pull", EXPECTED[dep])]
