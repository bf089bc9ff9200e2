"""image-pull on states recorded from the test cluster (tests/k8scluster/scenarios/workloads.py).

Each test is a scenario the on-call meets: what the kubelet reported, and what the check must
name as the cause.  Pod names are random per recording, so expectations are computed from the
recorded pods.
"""

from __future__ import annotations

import pytest

from logos_doctor.checks.image_pull import CHECK, classify
from logos_doctor.checks.secrets import CHECK as SECRETS
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef, name
from logos_doctor.registry import Check
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from logos_doctor.workloads import container_states
from recorded import recorded


def run(state: ClusterState, scenario: str, *checks: Check) -> list[Finding]:
    _, config = recorded(scenario)
    report = run_checks(state, list(checks or (CHECK,)), config)
    assert all(r.status in ("ok", "findings") for r in report.results), report.results
    return list(report.findings)


def pods_named(state: ClusterState, prefix: str) -> set[str]:
    return {name(p) for p in state.list_of("pods") if name(p).startswith(prefix)}


def without(state: ClusterState, plural: str) -> ClusterState:
    """The same recorded state as if listing ``plural`` had been forbidden."""
    objects = {k: v for k, v in state.objects.items() if k != plural}
    return ClusterState.build(
        objects, now=state.now, scope=state.scope, cluster=state.cluster,
        unavailable={**state.unavailable, plural: f"forbidden to list {plural}"},
    )  # fmt: skip


EXPECTED = {  # component -> (cause, parent kind, parent name, pods)
    "logos-chat-": ("image-not-found", "Deployment", "logos-chat", 3),
    "logos-web-": ("unauthorized", "Deployment", "logos-web", 3),
    "logos-redis-master-": ("unauthorized", "StatefulSet", "logos-redis-master", 1),
    "logos-postgresql-": ("registry-unreachable", "StatefulSet", "logos-postgresql", 1),
}


def test_four_broken_images_each_get_their_own_cause_on_every_pod() -> None:
    state, _ = recorded("image_pull_faults")
    found = run(state, "image_pull_faults")
    for prefix, (cause, kind, parent, count) in EXPECTED.items():
        mine = [f for f in found if f.resource.name.startswith(prefix)]
        assert {f.resource.name for f in mine} == pods_named(state, prefix)
        assert len(mine) == count, "one finding per pod and image, not per event or restart"
        for f in mine:
            assert (f.cause, f.severity, f.resource.kind) == (cause, Severity.CRITICAL, "Pod")
            assert f.parent is not None and (f.parent.kind, f.parent.name) == (kind, parent)
            assert "registry.logos-test.invalid" in f.message or "unreachable." in f.message
    completion = [f for f in found if f.resource.name.startswith("logos-completion-")]
    assert completion == [], "the completion image pulls fine"


def test_evidence_quotes_the_kubelet_and_counts_the_pods_sharing_the_failure() -> None:
    state, _ = recorded("image_pull_faults")
    chat = [f for f in run(state, "image_pull_faults") if f.resource.name.startswith("logos-chat")]
    for f in chat:
        text = "\n".join(f.evidence)
        assert 'Failed to pull image "registry.logos-test.invalid/notfound/logos/chat:1.0"' in text
        assert ": not found" in text
        assert "3 of 3 pods of Deployment logos-chat share this failure" in text


def test_events_of_a_namesake_are_not_used() -> None:
    """Each pod's evidence comes from events about its own uid: the kubelet's events about
    the other chat pods (same image, same message) must not be counted on this one."""
    state, _ = recorded("image_pull_faults")
    chat = [f for f in run(state, "image_pull_faults") if f.resource.name.startswith("logos-chat")]
    for f in chat:
        pod = state.get("Pod", f.resource.namespace, f.resource.name)
        assert pod is not None
        own = state.events_for("Pod", pod)
        failed = [e for e in own if e.message.startswith("Failed to pull image")]
        assert failed, "the recording has the kubelet's Failed event for every pod"
        line = next(x for x in f.evidence if x.startswith("Failed ("))
        count = sum(e.count for e in failed)
        assert (f"x{count}," in line) == (count > 1)


def test_without_events_the_waiting_message_still_names_the_cause() -> None:
    state, _ = recorded("image_pull_faults")
    found = run(without(state, "events"), "image_pull_faults")
    causes = {f.resource.name: f.cause for f in found}
    for prefix, (cause, *_rest) in EXPECTED.items():
        assert {c for n, c in causes.items() if n.startswith(prefix)} == {cause}
    # With no event to quote, the kubelet's own waiting message is the evidence.
    assert all(any(x.startswith("kubelet: Back-off pulling image") for x in f.evidence)
               for f in found)  # fmt: skip


def test_a_bad_rollout_blames_only_the_new_pod() -> None:
    state, _ = recorded("chat_bad_image_rollout")
    found = run(state, "chat_bad_image_rollout")
    new = [
        name(p)
        for p in state.list_of("pods")
        if any(cs.waiting_reason == "ImagePullBackOff" for cs in container_states(p))
    ]
    assert len(new) == 1
    assert [(f.resource.name, f.cause) for f in found] == [(new[0], "image-not-found")]
    assert "1 of 4 pods of Deployment logos-chat share this failure" in found[0].evidence


def test_deleted_regcred_is_found_from_the_spec_on_running_pods_and_wins_over_401() -> None:
    state, _ = recorded("pull_secret_missing")
    found = run(state, "pull_secret_missing")
    ns = state.scope.namespaces[0]  # type: ignore[index]
    by_pod = {f.resource.name: f for f in found}
    assert len(by_pod) == len(found)
    assert {f.cause for f in found} == {"pull-secret-missing"}

    failing = [f for f in found if f.severity == Severity.CRITICAL]
    assert len(failing) == 1, "only the new web pod actually fails to pull"
    web = failing[0]
    assert web.resource.name.startswith("logos-web-")
    assert web.parent == ObjectRef("Deployment", ns, "logos-web", web.parent.uid)  # type: ignore[union-attr]
    assert any("401 Unauthorized" in x for x in web.evidence), "the registry's answer is kept"
    assert web.depends_on == (ObjectRef("Secret", ns, "regcred"),)

    # Every running pod that names regcred will fail on its next pull; the StatefulSets name
    # no pull secret and are not reported.
    regcred_pods = {
        name(p)
        for p in state.list_of("pods")
        if {"name": "regcred"} in (p["spec"].get("imagePullSecrets") or [])
    }
    assert {f.resource.name for f in found if "regcred" in f.message} == regcred_pods
    assert not any(n.startswith(("logos-postgresql", "logos-redis")) for n in by_pod)
    warned = [f for f in found if f.severity == Severity.WARNING and "regcred" in f.message]
    assert warned and all("will fail to pull" in f.message for f in warned)


def test_a_serviceaccount_pull_secret_added_later_is_checked_for_pods_without_their_own() -> None:
    state, _ = recorded("pull_secret_missing")
    found = run(state, "pull_secret_missing")
    indexer = [f for f in found if f.resource.name.startswith("logos-indexer-")]
    assert len(indexer) == 1
    pod = state.get("Pod", indexer[0].resource.namespace, indexer[0].resource.name)
    assert pod is not None and not pod["spec"].get("imagePullSecrets"), "the pod names none"
    assert (indexer[0].cause, indexer[0].severity) == ("pull-secret-missing", Severity.WARNING)
    assert "indexer-registry" in indexer[0].message


def test_the_pull_failure_links_to_the_missing_secret_finding() -> None:
    state, _ = recorded("pull_secret_missing")
    found = run(state, "pull_secret_missing", CHECK, SECRETS)
    web = next(f for f in found if f.check == "image-pull" and f.severity == Severity.CRITICAL)
    assert [(k.check, k.cause, k.resource.name) for k in web.caused_by] == [
        ("secrets", "missing-secret", "regcred")
    ]


def test_without_permission_to_list_secrets_the_check_still_runs_without_that_cause() -> None:
    state, _ = recorded("pull_secret_missing")
    found = run(without(state, "secrets"), "pull_secret_missing")
    assert [f.cause for f in found] == ["unauthorized"], "the 401 is all that is left to see"
    assert found[0].resource.name.startswith("logos-web-")


def test_healthy_stack_and_healthy_rollout_are_quiet() -> None:
    for scenario in ("healthy_logos", "rollout_in_progress"):
        state, _ = recorded(scenario)
        assert run(state, scenario) == [], scenario


# The classifier on the texts kubelet 1.37 and containerd 2 produce (pkg/kubelet/images,
# containerd's remotes/docker resolver and the registries' error bodies).
REF = "registry.example.com/logos/chat:1.2"
HEAD = f'failed to pull and unpack image "{REF}": failed to resolve reference "{REF}"'


@pytest.mark.parametrize(
    ("reason", "message", "cause"),
    [
        ("ErrImagePull", f"rpc error: code = NotFound desc = {HEAD}: {REF}: not found",
         "image-not-found"),
        ("ErrImagePull", "Error response from daemon: manifest for x:1 not found: manifest "
         "unknown: manifest unknown", "image-not-found"),
        ("ErrImageNeverPull", f'Container image "{REF}" is not present with pull policy of Never',
         "image-not-found"),
        ("ErrImagePull", f"rpc error: code = Unknown desc = {HEAD}: unexpected status from HEAD "
         "request to https://registry.example.com/v2/logos/chat/manifests/1.2: 403 Forbidden",
         "unauthorized"),
        ("ErrImagePull", f"rpc error: code = Unknown desc = {HEAD}: pull access denied, "
         "repository does not exist or may require authorization: server message: "
         "insufficient_scope: authorization failed", "unauthorized"),
        ("ErrImagePull", "no basic auth credentials", "unauthorized"),
        ("ErrImagePull", f"rpc error: code = Unknown desc = {HEAD}: failed to authorize: failed "
         "to fetch oauth token: Post \"https://auth.example.com/token\": dial tcp: lookup "
         "auth.example.com: no such host", "registry-unreachable"),
        ("ErrImagePull", f"rpc error: code = Unknown desc = {HEAD}: failed to do request: Head "
         "\"https://registry.example.com/v2/\": dial tcp 10.0.0.5:443: i/o timeout",
         "registry-unreachable"),
        ("ErrImagePull", f"rpc error: code = Unknown desc = {HEAD}: failed to do request: Head "
         "\"https://registry.example.com/v2/\": tls: failed to verify certificate: x509: "
         "certificate signed by unknown authority", "registry-unreachable"),
        ("ErrImagePull", "connect: connection refused", "registry-unreachable"),
        ("RegistryUnavailable", f"image pull failed for {REF} because the registry is "
         "unavailable", "registry-unreachable"),
        ("ErrImagePull", f"rpc error: code = Unknown desc = {HEAD}: unexpected status from HEAD "
         "request to https://registry-1.docker.io/v2/library/redis/manifests/7: 429 Too Many "
         "Requests - Server message: toomanyrequests: You have reached your pull rate limit.",
         "rate-limited"),
        ("InvalidImageName", 'Failed to apply default image tag "Logos/Chat:1.2": couldn\'t '
         'parse image name "Logos/Chat:1.2": invalid reference format', "invalid-image-name"),
        ("ImageInspectError", 'Failed to inspect image "": rpc error: code = Unknown desc = '
         "disk I/O error", "unknown"),
        ("ErrImagePull", "", "unknown"),
    ],
)  # fmt: skip
def test_classify_runtime_messages(reason: str, message: str, cause: str) -> None:
    found, quoted = classify(reason, message)
    assert found == cause
    assert quoted == (message or reason)


def test_classify_prefers_the_first_message_that_names_a_cause() -> None:
    # The waiting message comes first; a bare back-off line defers to the Failed event.
    assert (
        classify("ImagePullBackOff", 'Back-off pulling image "x"', "429 Too Many Requests")[0]
        == "rate-limited"
    )
