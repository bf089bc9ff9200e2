"""image-pull on what a real kubelet 1.37 and containerd wrote (the real node, ``real_*``).

These recordings come from the test cluster's real node (k8scluster/realnode.py): a real
kubelet pulling from local registries, one that answers 404, one that asks for a password,
a port nothing listens on, and a host that does not resolve.  Their images carry words of
other causes (nginx-tls:v1.403, x509-exporter), so the check must read the runtime's error.
They also confirm two shapes the classifier relies on: kubelet 1.37 keeps the gRPC code of a
NotFound ("rpc error: code = NotFound desc = ...") and drops it for Unknown, and wraps the
last error into the back-off message ("Back-off pulling image \"X\": ErrImagePull: ...").
"""

from __future__ import annotations

import pytest
from image_pull_oracle import naive

from logos_doctor.checks.image_pull import CHECK, MISSING_SECRET_REASON
from logos_doctor.checks.workloads import CHECK as WORKLOADS
from logos_doctor.finding import Severity
from logos_doctor.objects import name
from logos_doctor.pods import container_states
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from recorded import recorded

FAILING = {  # scenario -> the cause, and what the kubelet wrote that says so
    "real_image_tag_not_found": ("image-not-found", ": not found"),
    "real_image_unauthorized": ("unauthorized", "[manifests v2.0.1]: 401 Unauthorized"),
    "real_registry_refused": ("registry-unreachable", "connect: connection refused"),
    "real_registry_unresolvable": ("registry-unreachable", "no such host"),
}


@pytest.mark.parametrize("scenario", sorted(FAILING))
def test_the_real_kubelets_pull_failure_gets_its_cause(scenario: str) -> None:
    cause, said = FAILING[scenario]
    state, config = recorded(scenario)
    report = run_checks(state, [CHECK, WORKLOADS], config)
    pulls = [f for f in report.findings if f.check == "image-pull"]
    assert [(f.cause, f.severity) for f in pulls] == [(cause, Severity.CRITICAL)]
    pod = state.get("Pod", pulls[0].resource.namespace, pulls[0].resource.name)
    assert pod is not None
    (cs,) = [c for c in container_states(pod) if c.waiting_reason]
    assert cs.waiting_reason == "ImagePullBackOff" and said in cs.waiting_message
    assert cs.waiting_message.startswith(f'Back-off pulling image "{cs.image}": ErrImagePull: ')
    # The Deployment's finding hangs from the pull failure.
    owners = [f for f in report.findings if f.check == "workloads" and f.caused_by]
    assert owners and all(
        [(k.check, k.cause) for k in f.caused_by] == [("image-pull", cause)] for f in owners
    )


def test_the_real_name_would_have_misled() -> None:
    """nginx-tls:v1.403 makes a name-matching classifier call a missing tag a refusal."""
    for scenario in ("real_image_tag_not_found",):
        state, _ = recorded(scenario)
        texts = [c.waiting_message for p in state.list_of("pods") for c in container_states(p)
                 if c.waiting_reason]  # fmt: skip
        assert texts and all(naive(t) != FAILING[scenario][0] for t in texts), scenario


def test_the_real_kubelet_keeps_the_notfound_code_and_drops_unknown() -> None:
    notfound, _ = recorded("real_image_tag_not_found")
    unauthorized, _ = recorded("real_image_unauthorized")
    (nf,) = [c for p in notfound.list_of("pods") for c in container_states(p) if c.waiting_reason]
    (ua,) = [c for p in unauthorized.list_of("pods") for c in container_states(p)
             if c.waiting_reason]  # fmt: skip
    assert "ErrImagePull: rpc error: code = NotFound desc = failed to pull" in nf.waiting_message
    assert "ErrImagePull: failed to pull and unpack image" in ua.waiting_message


@pytest.mark.parametrize("scenario", ["real_image_pull_secret", "real_healthy"])
def test_pulls_that_worked_are_quiet(scenario: str) -> None:
    state, config = recorded(scenario)
    report = run_checks(state, [CHECK], config)
    assert [r.status for r in report.results] == ["ok"]
    assert report.findings == ()


def _without(state: ClusterState, plural: str) -> ClusterState:
    objects = {k: v for k, v in state.objects.items() if k != plural}
    return ClusterState.build(
        objects, now=state.now, scope=state.scope, cluster=state.cluster,
        unavailable={**state.unavailable, plural: f"forbidden to list {plural}"},
    )  # fmt: skip


@pytest.mark.parametrize("secrets_listed", [True, False])
def test_the_real_kubelets_missing_secret_event_names_the_cause(secrets_listed: bool) -> None:
    """The real kubelet wrote "Unable to retrieve some image pull secrets (regcred-mirror);
    attempting to pull the image may not succeed." beside the registry's 401 (scenario
    real_pull_secret_missing in k8scluster/scenarios/image_pull_shapes.py).  Whether or not
    Secrets may be listed, the cause is the missing Secret, not the credentials."""
    state, config = recorded("real_pull_secret_missing")
    pod = next(p for p in state.list_of("pods") if name(p).startswith("exporter-"))
    said = [e.message for e in state.events_for("Pod", pod) if e.reason == MISSING_SECRET_REASON]
    assert said == [
        "Unable to retrieve some image pull secrets (regcred-mirror); attempting to pull the "
        "image may not succeed."
    ]
    if not secrets_listed:
        state = _without(state, "secrets")
    (f,) = run_checks(state, [CHECK], config).findings
    assert (f.cause, f.severity) == ("pull-secret-missing", Severity.CRITICAL)
    assert [d.name for d in f.depends_on] == ["regcred-mirror"]
    assert any("401 Unauthorized" in x for x in f.evidence), "the registry's answer is kept"


def test_the_real_kubelets_retries_are_counted_and_still_read_as_not_found() -> None:
    """Three real pull attempts: Pulling and Failed aggregated x3, the back-off x2; the
    waiting message wraps the last error.  One finding, with the counts in its evidence."""
    state, config = recorded("real_pull_retries")
    pod = next(p for p in state.list_of("pods") if name(p).startswith("docs-"))
    pulling = [e.count for e in state.events_for("Pod", pod) if e.reason == "Pulling"]
    assert pulling and max(pulling) >= 3
    (f,) = run_checks(state, [CHECK], config).findings
    assert f.cause == "image-not-found"
    assert any(x.startswith("Failed (x") and "not found" in x for x in f.evidence), f.evidence
