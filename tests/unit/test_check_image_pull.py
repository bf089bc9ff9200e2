"""image-pull on states recorded from the test cluster (tests/k8scluster/scenarios/workloads.py).

Each test is a scenario the on-call meets: what the kubelet reported, and what the check must
name as the cause.  Pod names are random per recording, so expectations are computed from the
recorded pods.
"""

from __future__ import annotations

import pytest
from image_pull_oracle import naive as _naive

from k8scluster.logos_stack import IMAGES, bad_image
from logos_doctor.checks.image_pull import CHECK, classify, scrub
from logos_doctor.checks.secrets import CHECK as SECRETS
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef, name
from logos_doctor.pods import container_states
from logos_doctor.registry import Check
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
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
    "logos-redis-master-": ("not-found-or-denied", "StatefulSet", "logos-redis-master", 1),
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


def test_the_recorded_names_would_mislead_a_name_matcher() -> None:
    """The recorded images carry words of other causes (forbidden-api, x509-certificate-
    exporter, mirror-429): on the unscrubbed kubelet text, the same patterns give another
    cause for every broken workload, so the test above can only pass by scrubbing."""
    state, _ = recorded("image_pull_faults")
    for prefix, (cause, *_rest) in EXPECTED.items():
        for pod in (p for p in state.list_of("pods") if name(p).startswith(prefix)):
            (cs,) = [c for c in container_states(pod) if c.waiting_reason]
            assert _naive(cs.waiting_message) != cause, (prefix, cs.waiting_message)


def test_evidence_quotes_the_kubelet_and_counts_the_pods_sharing_the_failure() -> None:
    state, _ = recorded("image_pull_faults")
    chat = [f for f in run(state, "image_pull_faults") if f.resource.name.startswith("logos-chat")]
    for f in chat:
        text = "\n".join(f.evidence)
        image = bad_image(IMAGES["chat"], "notfound")
        assert image == "registry.logos-test.invalid/notfound/forbidden-api/logos/chat:1.0"
        assert f'Failed to pull image "{image}"' in text
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


# --------------------------------------------------------------------------------------------
# The classifier on the texts real runtimes and registries write.  Every row is a string read
# in a public report or in the source that writes it (``source``); the image names, tags and
# hosts are replaced by ones that would mislead a classifier that matched on the whole text
# (a repository called nginx-tls or forbidden-api, a tag 1.403 or v1.429, a host with 429 in
# it).  ``misleads`` marks the rows where such a classifier, run on the unscrubbed text, gives
# another cause: ``test_the_names_in_the_table_really_mislead`` proves it, so the table cannot
# quietly lose its teeth.


def kubelet_msg(ref: str, rest: str) -> str:
    """containerd's CRI PullImage error for ``ref`` (containerd 1.6+/2.x, cri-client strips
    the "rpc error: code = Unknown desc =" prefix since Kubernetes 1.30; older kubelets keep
    it, see the rows that carry it)."""
    return f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {rest}'


NGINX_TLS = "registry.local/acme/nginx-tls:v1.403"
X509 = "ghcr.io/acme/x509-certificate-exporter:2.500"
FORBIDDEN = "docker.io/acme/forbidden-api:v1.429"
MIRROR = "registry-429.example.com/acme/timeout-exporter:1.401"

REAL = [  # (source, image, waiting reason, runtime message, cause, misleads)
    ("containerd remotes/docker resolver, gRPC NotFound (kubernetes/kubernetes#110678 shape)",
     NGINX_TLS, "ErrImagePull",
     f"rpc error: code = NotFound desc = {kubelet_msg(NGINX_TLS, f'{NGINX_TLS}: not found')}",
     "image-not-found", True),
    ("containerd NotFound, image named without registry (normalised to docker.io/library)",
     "x509-certificate-exporter:2.500", "ErrImagePull",
     "rpc error: code = NotFound desc = " + kubelet_msg(
         "docker.io/library/x509-certificate-exporter:2.500",
         "docker.io/library/x509-certificate-exporter:2.500: not found"),
     "image-not-found", True),
    ("Docker daemon: manifest unknown (distribution MANIFEST_UNKNOWN)",
     "acme/forbidden-api:1.401", "ErrImagePull",
     "rpc error: code = Unknown desc = Error response from daemon: manifest for "
     "acme/forbidden-api:1.401 not found: manifest unknown: manifest unknown",
     "image-not-found", True),
    ("CRI-O / containers-image: name unknown (containers/podman#9990)",
     "registry.opensuse.org/acme/x509-certificate-exporter:v1.429", "ErrImagePull",
     "rpc error: code = Unknown desc = Error reading manifest v1.429 in "
     "registry.opensuse.org/acme/x509-certificate-exporter: name unknown",
     "image-not-found", True),
    ("GHCR token 403 (rossoctl/rossoctl#116)", X509, "ErrImagePull",
     kubelet_msg(X509, "failed to authorize: failed to fetch oauth token: unexpected status "
                 "from GET request to https://ghcr.io/token?scope=repository%3Aacme%2F"
                 "x509-certificate-exporter%3Apull&service=ghcr.io: 403 Forbidden"),
     "unauthorized", True),
    ("GCR manifest 403, containerd 1.6+ phrasing (googlecodelabs/monolith-to-microservices#59)",
     "gcr.io/acme/nginx-tls:v1.429", "ErrImagePull",
     "rpc error: code = Unknown desc = " + kubelet_msg(
         "gcr.io/acme/nginx-tls:v1.429",
         "pulling from host gcr.io failed with status code [manifests v1.429]: 403 Forbidden"),
     "unauthorized", True),
    ("Harbor manifest 401 (kubernetes/kubernetes#110678)", MIRROR, "ErrImagePull",
     kubelet_msg(MIRROR, "pulling from host registry-429.example.com failed with status code "
                 "[manifests 1.401]: 401 Unauthorized"),
     "unauthorized", True),
    ("containerd anonymous token 401 (eigenfocus#202 / kwok stage)", NGINX_TLS, "ErrImagePull",
     kubelet_msg(NGINX_TLS, "failed to authorize: failed to fetch anonymous token: unexpected "
                 "status from GET request to https://registry.local/token?scope=repository%3A"
                 "acme%2Fnginx-tls%3Apull&service=registry.local: 401 Unauthorized"),
     "unauthorized", True),
    ("Docker / ECR: no basic auth credentials (kubernetes/minikube#9161)",
     "nexus3:8083/acme/x509-certificate-exporter:2.500", "ErrImagePull",
     "rpc error: code = Unknown desc = Error response from daemon: Get http://nexus3:8083/v2/"
     "acme/x509-certificate-exporter/manifests/2.500: no basic auth credentials",
     "unauthorized", True),
    ("containerd: pull access denied, insufficient_scope (containerd/containerd#4386)",
     FORBIDDEN, "ErrImagePull",
     kubelet_msg(FORBIDDEN, "pull access denied, repository does not exist or may require "
                 "authorization: server message: insufficient_scope: authorization failed"),
     "not-found-or-denied", True),
    ("Docker Hub via Docker: requested access to the resource is denied "
     "(octarinesec/octarine-operator#15)", "acme/mirror-429:v1.2", "ErrImagePull",
     "rpc error: code = Unknown desc = Error response from daemon: pull access denied for "
     "acme/mirror-429, repository does not exist or may require 'docker login': denied: "
     "requested access to the resource is denied",
     "not-found-or-denied", True),
    ("CRI-O, Docker Hub repository that does not exist (cri-o/cri-o#2331)",
     "docker.io/acme/timeout-exporter:1.429", "ErrImagePull",
     "rpc error: code = Unknown desc = Error reading manifest 1.429 in "
     "docker.io/acme/timeout-exporter: errors:\ndenied: requested access to the resource is "
     "denied\nunauthorized: authentication required",
     "not-found-or-denied", True),
    ("Quay, also for a misspelt repository (kubeedge/kubeedge#5936, jetstack#189)",
     "quay.io/acme/timeout-exporter:v1.429", "ErrImagePull",
     "rpc error: code = Unknown desc = reading manifest v1.429 in quay.io/acme/timeout-exporter"
     ": unauthorized: access to the requested resource is not authorized",
     "not-found-or-denied", True),
    ("Google Artifact Registry (terraform-google-kubernetes-engine#1779)",
     "europe-west2-docker.pkg.dev/p/ml/nginx-tls:1.429", "ErrImagePull",
     'rpc error: code = Unknown desc = Error response from daemon: Head "https://europe-west2-'
     'docker.pkg.dev/v2/p/ml/nginx-tls/manifests/1.429": denied: Permission "artifactregistry.'
     'repositories.downloadArtifacts" denied on resource "projects/p/locations/europe-west2/'
     'repositories/ml" (or it may not exist)',
     "not-found-or-denied", True),
    ("Docker Hub oauth token 429 (docker/hub-feedback#2204)", "docker.io/acme/forbidden-api:1.403",
     "ErrImagePull",
     kubelet_msg("docker.io/acme/forbidden-api:1.403", "failed to authorize: failed to fetch "
                 "oauth token: unexpected status: 429 Too Many Requests"),
     "rate-limited", False),
    ("Docker Hub manifest 429 toomanyrequests (apptension/saas-boilerplate#204)",
     "docker.io/acme/x509-certificate-exporter:2.500", "ErrImagePull",
     kubelet_msg("docker.io/acme/x509-certificate-exporter:2.500", "unexpected status code "
                 "https://registry-1.docker.io/v2/acme/x509-certificate-exporter/manifests/"
                 "2.500: 429 Too Many Requests - Server message: toomanyrequests: You have "
                 "reached your pull rate limit. You may increase the limit by authenticating "
                 "and upgrading: https://www.docker.com/increase-rate-limit"),
     "rate-limited", False),
    ("ECR Public: toomanyrequests: Rate exceeded (kubeflow/trainer#1400)",
     "public.ecr.aws/acme/forbidden-api:1.403", "ErrImagePull",
     "rpc error: code = Unknown desc = Error response from daemon: toomanyrequests: Rate "
     "exceeded", "rate-limited", False),
    ("ECR: ThrottlingException: Rate exceeded (convox/rack#1164, aws/amazon-ecs-agent#498)",
     "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/forbidden-api:1.403", "ErrImagePull",
     "CannotPullECRContainerError: ThrottlingException: Rate exceeded\n\tstatus code: 400, "
     "request id: 75567eb3-6abb-11e6-9d4c-cb4ccd1cee97", "rate-limited", False),
    ("containerd token fetch ending in EOF (router-for-me/CLIProxyAPI#2668)", FORBIDDEN,
     "ErrImagePull",
     kubelet_msg(FORBIDDEN, 'failed to authorize: failed to fetch anonymous token: Get "https://'
                 'auth.docker.io/token?scope=repository%3Aacme%2Fforbidden-api%3Apull&service='
                 'registry.docker.io": EOF'),
     "registry-unreachable", True),
    ("containerd token fetch i/o timeout (ketches/registry-proxy#3)", X509, "ErrImagePull",
     kubelet_msg(X509, 'failed to authorize: failed to fetch anonymous token: Get "https://auth'
                 '.docker.io/token?scope=repository%3Aacme%2Fx509-certificate-exporter%3Apull&'
                 'service=registry.docker.io": dial tcp 199.59.148.222:443: i/o timeout'),
     "registry-unreachable", False),
    ("containerd token fetch connection refused (ciiiii/cloudflare-docker-proxy#79)",
     "docker.example.com/acme/forbidden-api:v1.429", "ErrImagePull",
     kubelet_msg("docker.example.com/acme/forbidden-api:v1.429", 'failed to authorize: failed '
                 'to fetch anonymous token: Get "https://auth.docker.io/token?scope=repository'
                 '%3Aacme%2Fforbidden-api%3Apull&service=registry.docker.io": dial tcp '
                 '199.59.149.230:443: connect: connection refused'),
     "registry-unreachable", True),
    ("CRI deadline: context deadline exceeded (kubernetes/minikube#15626)",
     "acme/forbidden-api:1.401", "ErrImagePull",
     "rpc error: code = Unknown desc = context deadline exceeded",
     "registry-unreachable", False),
    ("Client.Timeout exceeded while awaiting headers (nextstrain/cli#377)",
     "acme/forbidden-api:v1.429", "ErrImagePull",
     'Error response from daemon: Head "https://registry-1.docker.io/v2/acme/forbidden-api/'
     'manifests/v1.429": Get "https://auth.docker.io/token?account=githubactions&scope='
     'repository%3Aacme%2Fforbidden-api%3Apull&service=registry.docker.io": context deadline '
     "exceeded (Client.Timeout exceeded while awaiting headers).",
     "registry-unreachable", True),
    ("containerd DNS: no such host (kwok stage, Go net)", MIRROR, "ErrImagePull",
     kubelet_msg(MIRROR, 'failed to do request: Head "https://registry-429.example.com/v2/acme/'
                 'timeout-exporter/manifests/1.401": dial tcp: lookup registry-429.example.com '
                 "on 127.0.0.53:53: no such host"),
     "registry-unreachable", True),
    ("CRI-O DNS: Temporary failure in name resolution (wazuh/wazuh-kubernetes#237)",
     "quay.io/acme/forbidden-api:1.403", "ErrImagePull",
     'rpc error: code = Unknown desc = pinging container registry quay.io: Get "https://'
     'quay.io/v2/": dial tcp: lookup quay.io: Temporary failure in name resolution',
     "registry-unreachable", False),
    ("TLS: certificate signed by unknown authority (Go crypto/x509 UnknownAuthorityError)",
     "registry.local/acme/mirror-429:1.403", "ErrImagePull",
     kubelet_msg("registry.local/acme/mirror-429:1.403", 'failed to do request: Head '
                 '"https://registry.local/v2/acme/mirror-429/manifests/1.403": tls: failed '
                 "to verify certificate: x509: certificate signed by unknown authority"),
     "registry-unreachable", True),
    ("CRI-O ping connection refused (cri-o/cri-o#3915)", "k8s.gcr.io/acme/forbidden-api:1.403",
     "ErrImagePull",
     'rpc error: code = Unknown desc = error pinging docker registry k8s.gcr.io: Get "https://'
     'k8s.gcr.io/v2/": dial tcp 10.254.3.15:443: connect: connection refused',
     "registry-unreachable", False),
    ("Docker Hub EOF on the manifest (docker/hub-feedback#2082)", "acme/nginx-tls:v1.429",
     "ErrImagePull",
     "rpc error: code = Unknown desc = Error response from daemon: Get https://registry-1."
     "docker.io/v2/acme/nginx-tls/manifests/v1.429: EOF",
     "registry-unreachable", True),
    ("containerd: no match for platform (codefactoryhu/manifest#11)",
     "ghcr.io/acme/forbidden-api:0.1.5", "ErrImagePull",
     'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/acme/'
     'forbidden-api:0.1.5": no match for platform in manifest: not found',
     "no-matching-platform", True),
    ("Docker: no matching manifest in the manifest list (kube-rbac-proxy#79)",
     "quay.io/acme/x509-certificate-exporter:v0.10.0", "ErrImagePull",
     "rpc error: code = Unknown desc = no matching manifest for linux/arm64/v8 in the manifest "
     "list entries", "no-matching-platform", False),
    ("containerd: content digest not found (containerd/containerd#3604)",
     "docker.io/acme/forbidden-api:v1.429", "ErrImagePull",
     'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/acme/'
     'forbidden-api:v1.429": failed to unpack image on snapshotter overlayfs: content digest '
     "sha256:0c18b88b8db3c193eefeede31a80d5d0c850306076b7166910ed239685dd20b0: not found",
     "image-content-missing", True),
    ("containerd 2: failed to extract layer (containerd/containerd#11390)",
     "icr.io/acme/nginx-tls:1.429", "ErrImagePull",
     'failed to pull and unpack image "icr.io/acme/nginx-tls:1.429": apply layer error for '
     '"icr.io/acme/nginx-tls:1.429": failed to extract layer sha256:2573e0d8158209ed54ab25c87bc'
     "dcb00bd3d2539246960a3d592a1c599d70465: failed to get reader from content store: content "
     "digest sha256:7478e0ac0f23f94b2f27848fbcdf804a670fbf8d4bab26df842d40a10cd33059: not found",
     "image-content-missing", True),
    ("kubelet evalCRIPullErr: RegistryUnavailable (pkg/kubelet/images/image_manager.go)",
     NGINX_TLS, "RegistryUnavailable",
     f"image pull failed for {NGINX_TLS} because the registry is unavailable",
     "registry-unreachable", False),
    ("kubelet ErrImageNeverPull (pkg/kubelet/images/image_manager.go)", X509,
     "ErrImageNeverPull", f'Container image "{X509}" is not present with pull policy of Never',
     "image-not-found", False),
    ("kubelet InvalidImageName (applyDefaultImageTag)", "Acme/Forbidden-API:1.403",
     "InvalidImageName",
     'Failed to apply default image tag "Acme/Forbidden-API:1.403": couldn\'t parse image name '
     '"Acme/Forbidden-API:1.403": invalid reference format', "invalid-image-name", False),
    ("kubelet >= 1.32 back-off wrapping the last error (image_manager.go prevPullErrMsg)",
     NGINX_TLS, "ImagePullBackOff",
     f'Back-off pulling image "{NGINX_TLS}": ErrImagePull: rpc error: code = NotFound desc = '
     + kubelet_msg(NGINX_TLS, f"{NGINX_TLS}: not found"),
     "image-not-found", True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "image", "reason", "message", "cause", "misleads"), REAL, ids=[r[0] for r in REAL]
)
def test_real_runtime_messages(
    source: str, image: str, reason: str, message: str, cause: str, misleads: bool
) -> None:
    found, quoted = classify(reason, message, images=(image,))
    assert found == cause, f"{source}: scrubbed to {scrub(message, (image,))!r}"
    assert quoted == message


def test_the_names_in_the_table_really_mislead() -> None:
    """Without scrubbing, the rows marked ``misleads`` give another cause: the names in the
    table are ones that would fool a name-matching classifier."""
    for source, _image, reason, message, cause, misleads in REAL:
        if misleads and reason not in ("RegistryUnavailable", "ErrImageNeverPull"):
            assert _naive(message) != cause, source


@pytest.mark.parametrize(
    ("ref", "kept"),
    [
        ("registry.local/acme/nginx-tls:v1.403", ""),
        ("x509-certificate-exporter:2.500", ""),
        ("https://auth.docker.io/token?scope=repository:acme/x:pull&service=registry.docker.io",
         ""),
        ("https://registry-429.example.com/v2/acme/forbidden-api/manifests/v1.429", ""),
        ("sha256:0c18b88b8db3c193eefeede31a80d5d0c850306076b7166910ed239685dd20b0", ""),
    ],
)  # fmt: skip
def test_scrub_removes_references_urls_and_digests(ref: str, kept: str) -> None:
    text = scrub(f'error for "{ref}" and {ref}: x', ("x509-certificate-exporter:2.500",))
    for word in ("tls", "x509", "forbidden", "403", "429", "500", "0c18b88"):
        assert word not in text, text


def test_scrub_keeps_the_runtimes_words() -> None:
    text = "dial tcp 10.0.0.5:443: i/o timeout; x509: certificate signed by unknown authority"
    clean = scrub(text)
    assert "i/o timeout" in clean and "x509: certificate signed by unknown authority" in clean


def test_classify_prefers_the_first_message_that_names_a_cause() -> None:
    # The waiting message comes first; a bare back-off line defers to the Failed event.
    assert (
        classify("ImagePullBackOff", 'Back-off pulling image "x"', "429 Too Many Requests")[0]
        == "rate-limited"
    )
    assert classify("ErrImagePull", "")[0] == "unknown"
    assert classify("ImageInspectError", 'Failed to inspect image "": rpc error: code = '
                    "Unknown desc = disk I/O error")[0] == "unknown"  # fmt: skip
