"""image-pull: containers that cannot get their image, with the reason the registry gave.

"ImagePullBackOff" only says the kubelet gave up for a while.  The cause is in the text the
container runtime returned, which the kubelet copies into its ``Failed`` event on the pod and
(since 1.32) into the container's waiting message; it is classified here into causes that
each have one remedy.

The runtime's text is full of names chosen by users: the image reference, its repository and
tag, the registry host, the URL of the request.  A repository called ``acme/nginx-tls`` or a
tag ``v1.403`` must not turn "not found" into a TLS or an authorization problem, so every
reference, URL, host, address and digest is cut out of the text (``scrub``) before any cause
pattern is tried.  The patterns are the strings the runtimes and registries write; each names
where it was read.

A missing ``imagePullSecrets`` Secret is read from the spec alone (or, when Secrets may not be
listed, from the kubelet's ``FailedToRetrieveImagePullSecret`` event), so it is caught before
the next rollout or reschedule fails, and it wins over the registry's vague "unauthorized"
because creating it is what an operator must do first.

Events expire (``--event-ttl``, one hour by default) and kubelets before 1.32 write the
back-off without the error (``Back-off pulling image "x"``).  When neither the status nor an
event still holds the runtime's error, the finding says that the evidence is gone and how to
see the next attempt, instead of guessing.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.events import Event, evidence, latest
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, name, namespace
from logos_doctor.pods import containers_of, live_pods
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

# Waiting reasons the kubelet's image manager (pkg/kubelet/images/types.go) and the CRI
# (k8s.io/cri-api/pkg/errors: RegistryUnavailable, SignatureValidationFailed) can set.
PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
    | {"ImageInspectError", "RegistryUnavailable", "SignatureValidationFailed"}
)
# Listed only to name a pod's Deployment/StatefulSet; without them the ReplicaSet is named.
OWNER_KINDS = ("replicasets", "deployments", "statefulsets")
_SECRET_ADVICE = (
    "create it (type kubernetes.io/dockerconfigjson) from a Docker config file with working "
    "credentials, or fix the name in imagePullSecrets"
)

CAUSES = Causes(
    "image-pull",
    Cause(
        "image-not-found",
        Severity.CRITICAL,
        "The registry has no such image or tag",
        remediation=(
            "Fix the image name or tag of {workload}, or push the missing tag: the registry "
            "answered that {image} does not exist."
        ),
    ),
    Cause(
        "not-found-or-denied",
        Severity.CRITICAL,
        "The registry denied the pull: the repository does not exist, or needs credentials",
        remediation=(
            "The registry gives this answer both for a repository that does not exist and for "
            "one the pull may not read. First check that {image} is spelled right and was "
            "pushed; if it exists, give {workload} credentials that may read it "
            "(imagePullSecrets with a token for this registry)."
        ),
    ),
    Cause(
        "unauthorized",
        Severity.CRITICAL,
        "The registry refused the pull credentials (or the pull had none)",
        remediation=(
            "Check that the pull secret holds valid, unexpired credentials for this registry "
            "and that the account may read the repository of {image}."
        ),
    ),
    Cause(
        "pull-secret-missing",
        Severity.CRITICAL,
        "A pull secret the pod names does not exist",
        remediation=f"imagePullSecrets {{secrets}} missing: {_SECRET_ADVICE}.",
    ),
    Cause(
        "registry-unreachable",
        Severity.CRITICAL,
        "The node cannot reach the registry (DNS, network, TLS or a registry outage)",
        remediation=(
            "Check DNS, egress/proxy and the registry's certificate from a node; nothing in "
            "the workload can fix this."
        ),
    ),
    Cause(
        "rate-limited",
        Severity.CRITICAL,
        "The registry is rate-limiting pulls",
        remediation=(
            "Authenticate pulls or use a mirror/pull-through cache; pulls resume when the "
            "limit resets."
        ),
    ),
    Cause(
        "no-matching-platform",
        Severity.CRITICAL,
        "The image exists, but not for the node's OS and architecture",
        remediation=(
            "{image} has no variant for this node's platform: publish one (a multi-arch "
            "build with linux/amd64 and linux/arm64), or keep {workload} on nodes of a "
            "platform it is built for (nodeSelector kubernetes.io/arch)."
        ),
    ),
    Cause(
        "image-content-missing",
        Severity.CRITICAL,
        "The image resolved but one of its layers is missing",
        remediation=(
            "A blob the manifest of {image} names is missing from the registry (an "
            "incomplete push or mirror) or from the node's containerd content store. Pull the "
            "same reference elsewhere: if it fails there too, push the image again; if not, "
            "remove the image from the node (crictl rmi) so it is pulled afresh."
        ),
    ),
    Cause(
        "invalid-image-name",
        Severity.CRITICAL,
        "The image reference is not valid",
        remediation="Fix the image reference in the workload (lower-case repository, one tag, "
        "no spaces).",
    ),
    Cause(
        "unknown",
        Severity.CRITICAL,
        "The pull failed for a reason not classified, or its reason is no longer recorded",
        remediation="Read the kubelet's message and the container runtime's log on the node.",
    ),
)

# ---------------------------------------------------------------------------------- scrubbing
# Everything a user names, cut out of the runtime's text before classification.  Order
# matters: URLs (whose query holds ``repository:acme/x:pull``) and quoted strings first.
_SCRUB: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\b[a-z][a-z0-9+.-]*://[^\s\"']*[^\s\"',;:)\]]", "<url>"),  # https://host/v2/..., ?scope=
        (r'"[^"\n]*"', '"<ref>"'),  # %q-quoted refs: containerd, kubelet, Docker
        (r"\bsha256:[0-9a-fA-F]{6,}\b|\b[0-9a-f]{64}\b", "<digest>"),
        # containerd >= 1.6 resolver: "pulling from host H failed with status code [manifests T]"
        (r"(pulling from host) \S+", r"\1 <host>"),
        (r"\[(manifests|blobs) [^\]]*\]", r"[\1 <tag>]"),
        # CRI-O / containers-image: "reading manifest T in H/R: ..."
        (r"(reading manifest) \S+ in \S+?:(?=\s|$)", r"\1 <tag> in <ref>:"),
        # Docker: "pull access denied for R, repository ...", "manifest for R:T not found"
        (r"(access denied for) [^,\s]+", r"\1 <ref>"),
        (r"(manifest for) \S+ (not found)", r"\1 <ref> \2"),
        (r"(trying to pull repository) \S+?:(?=\s|$)", r"\1 <ref>:"),
        (r"(pinging (?:container|docker) registry) \S+?:(?=\s|$)", r"\1 <host>:"),
        (r"(image pull failed for) \S+ (because)", r"\1 <ref> \2"),  # kubelet evalCRIPullErr
        (r"(lookup) \S+?( on \S+?)?:(?=\s|$)", r"\1 <host>:"),  # Go net: DNS
        (r"(dial tcp) \S+?:(?=\s|$)", r"\1 <addr>:"),  # Go net: dial tcp 10.0.0.5:443:
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<addr>"),
        (r"\[[0-9a-fA-F:]*:[0-9a-fA-F:]*\](?::\d+)?", "<addr>"),  # [::1]:443
        # Any remaining host/repo[:tag] token (a slash, no space): registry/repo:tag, acme/xy
        # (two characters at least on each side, so that "i/o timeout" stays).
        (r"(?<![\w<])[A-Za-z0-9][\w.-]+(?::\d+)?/[\w./-]*[\w-]{2,}(?:[:@][\w.-]*[\w])?", "<ref>"),
        # Host names with two dots or more (registry-429.example.com), lower case only.
        (r"(?<![\w<.-])[a-z0-9-]+(?:\.[a-z0-9-]+){2,}(?::\d+)?(?![\w-])", "<host>"),
    )
)


def _ref_forms(image: str) -> set[str]:
    """The forms in which a runtime can write ``image``: as given, with ``:latest``, and
    normalised to ``docker.io/library/...`` as containerd does for Docker Hub names."""
    if not image:
        return set()
    forms = {image}
    last = image.rsplit("/", 1)[-1]
    tagged = image if (":" in last or "@" in image) else f"{image}:latest"
    forms.add(tagged)
    first = tagged.split("/", 1)[0]
    if "/" not in tagged or not ("." in first or ":" in first or first == "localhost"):
        path = tagged if "/" in tagged else f"library/{tagged}"
        forms.add(f"docker.io/{path}")
    return forms


def scrub(text: str, images: Iterable[str] = ()) -> str:
    """``text`` with every image reference, URL, host, address and digest replaced.

    The pod's own image references are removed literally first (in every form a runtime
    writes them), then whatever still looks like a reference, URL or address.  What is left
    is the runtime's and the registry's own words, which is all that may be classified.
    """
    forms = sorted({f for i in images for f in _ref_forms(i)}, key=len, reverse=True)
    for form in forms:
        if "/" in form or ":" in form or "@" in form:  # a bare word may be a real error word
            boundary = r"(?![\w.-]|:[\w])"
            text = re.sub(rf"(?<![\w./-]){re.escape(form)}{boundary}", "<ref>", text)
    for pattern, repl in _SCRUB:
        text = pattern.sub(repl, text)
    return text


# ------------------------------------------------------------------------------ classification
# (cause, pattern), tried in order on the scrubbed text; the first match wins.  Each pattern
# names where its strings were read.  Network failures come before authorization, because a
# token request that fails on the network still says "failed to authorize"; the ambiguous
# "denied" answers come before "unauthorized"; a missing layer before "not found".
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cause, re.compile("|".join(patterns), re.IGNORECASE))
    for cause, patterns in (
        (
            "invalid-image-name",
            (
                # kubernetes pkg/kubelet/images/image_manager.go (applyDefaultImageTag) and
                # github.com/distribution/reference ErrReferenceInvalidFormat
                r"invalid reference format",
                r"couldn't parse image name",
            ),
        ),
        (
            "rate-limited",
            (
                # Docker Hub: "429 Too Many Requests - Server message: toomanyrequests: You
                # have reached your pull rate limit" (containerd remotes/docker;
                # docker/hub-feedback#2204)
                r"\b429\b",
                r"toomanyrequests",
                r"too many requests",
                r"pull rate limit",
                # ECR / ECR Public: "toomanyrequests: Rate exceeded" (kubeflow/trainer#1400),
                # "ThrottlingException: Rate exceeded" (aws/amazon-ecs-agent#498,
                # kubernetes/kubernetes#37962: the ECR credential provider throttled)
                r"rate exceeded",
                r"ThrottlingException",
                # kubelet registryPullQPS: "pull QPS exceeded" (aws/karpenter-provider-aws#4742)
                r"pull QPS exceeded",
            ),
        ),
        (
            "no-matching-platform",
            (
                # containerd: "failed to pull and unpack image \"R\": no match for platform in
                # manifest: not found" (codefactoryhu/manifest#11, kubewarden/adm-controller
                # #1378); Docker: "no matching manifest for linux/arm64/v8 in the manifest
                # list entries" (kube-rbac-proxy/kube-rbac-proxy#79, moby/moby#39201)
                r"no match for platform in manifest",
                r"no matching manifest for \S+ in the manifest list",
            ),
        ),
        (
            "image-content-missing",
            (
                # containerd: "failed to unpack image on snapshotter overlayfs: content digest
                # sha256:...: not found" (containerd/containerd#3604, #11390; moby/moby#52411)
                r"content digest <digest>: not found",
                r"failed to extract layer",
                r"failed to get reader from content store",
            ),
        ),
        (
            "registry-unreachable",
            (
                # Go net: "dial tcp: lookup H on 127.0.0.53:53: no such host", "dial tcp
                # 10.0.0.5:443: i/o timeout", "connect: connection refused" (containerd
                # remotes/docker "failed to do request"; cri-o/cri-o#3915; kubeflow #1400)
                r"no such host",
                r"i/o timeout",
                r"connection refused",
                r"connection reset",
                r"no route to host",
                r"network is unreachable",
                r"name resolution",
                r"server misbehaving",
                # TLS: "tls: failed to verify certificate: x509: certificate signed by unknown
                # authority" (Go crypto/tls, crypto/x509)
                r"x509:",
                r"\btls:",
                r"tls handshake",
                r"HTTP response to HTTPS client",
                # Token fetch cut off or timed out, which is the network, not the credentials:
                # "failed to fetch anonymous token: Get \"https://auth.docker.io/token?...\": EOF"
                # (router-for-me/CLIProxyAPI#2668, docker/hub-feedback#2051, containerd#8971),
                # "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                # (docker/for-win#841, nextstrain/cli#377, kubernetes/minikube#15626)
                r":\s*(unexpected\s+)?EOF\b",
                r"context deadline exceeded",
                r"Client\.Timeout exceeded",
                r"request canceled",
                # kubelet evalCRIPullErr: "image pull failed for X because the registry is
                # unavailable" (pkg/kubelet/images/image_manager.go)
                r"registry is unavailable",
                # The registry itself failing: 5xx
                r"\b50[0234]\b",
                r"bad gateway",
                r"service unavailable",
            ),
        ),
        (
            "not-found-or-denied",
            (
                # containerd remotes/docker: "pull access denied, repository does not exist or
                # may require authorization: server message: insufficient_scope: authorization
                # failed" (containerd/containerd#4386); Docker: "pull access denied for R,
                # repository does not exist or may require 'docker login'" (octarine-operator#15)
                r"repository does not exist or may require",
                # distribution DENIED "requested access to the resource is denied", which Docker
                # Hub answers for a repository that does not exist (cri-o/cri-o#2331,
                # containers/podman#9990)
                r"requested access to the resource is denied",
                # Google Artifact Registry: "denied: Permission ... denied on resource ... (or it
                # may not exist)" (terraform-google-kubernetes-engine#1779)
                r"\(or it may not exist\)",
                # Quay: "unauthorized: access to the requested resource is not authorized", also
                # for a misspelt repository (jetstack/kube-oidc-proxy#189, stolostron/deploy#2)
                r"access to the requested resource is not authorized",
            ),
        ),
        (
            "unauthorized",
            (
                # "unexpected status from GET request to <token url>: 401 Unauthorized",
                # "... [manifests T]: 403 Forbidden" (containerd remotes/docker;
                # kubernetes/kubernetes#110678, googlecodelabs/monolith-to-microservices#59,
                # rossoctl/rossoctl#116 GHCR); "no basic auth credentials" (Docker, ECR)
                r"\b40[13]\b",
                r"unauthori[sz]ed",
                r"forbidden",
                r"insufficient_scope",
                r"authentication required",
                r"authorization failed",
                r"failed to authorize",
                r"no basic auth credentials",
                r"\bdenied\b",
            ),
        ),
        (
            "image-not-found",
            (
                # containerd: "failed to resolve reference \"R\": R: not found" (gRPC NotFound);
                # distribution MANIFEST_UNKNOWN "manifest unknown", NAME_UNKNOWN "repository name
                # not known to registry"; CRI-O/containers-image "name unknown"
                r"not found",
                r"manifest unknown",
                r"name unknown",
                r"not known to registry",
                r"no such image",
                # kubelet ErrImageNeverPull: "Container image \"X\" is not present with pull
                # policy of Never" (pkg/kubelet/images/image_manager.go)
                r"not present with pull policy of Never",
                r"\b404\b",
            ),
        ),
    )
)
_BY_REASON = {
    "InvalidImageName": "invalid-image-name",
    "ErrImageNeverPull": "image-not-found",
    "RegistryUnavailable": "registry-unreachable",
}
# The kubelet's back-off message: 'Back-off pulling image "X"' and, since 1.32, the last pull
# error after it: 'Back-off pulling image "X": ErrImagePull: <error>'
# (pkg/kubelet/images/image_manager.go pullImage, prevPullErrMsg).
_BACKOFF = re.compile(r'^Back-off pulling image "[^"]*"(?::\s*(?:\w+:\s*)?(?P<error>.*))?$', re.S)
_IMAGE_EVENTS = ("Failed", "BackOff", "InspectFailed", "ErrImageNeverPull")
_PULL_FAILED = re.compile(r'^Failed to pull image "[^"]*": ')  # image_manager.go logIt
PSM = "pull-secret-missing"
# kubernetes pkg/kubelet/kubelet.go (SyncPod): emitted when a sync that tried a pull failed
# and some imagePullSecrets could not be read:
# "Unable to retrieve some image pull secrets (a, b); attempting to pull the image may not
# succeed."
MISSING_SECRET_REASON = "FailedToRetrieveImagePullSecret"
_MISSING_SECRETS = re.compile(r"Unable to retrieve some image pull secrets \(([^)]*)\)")


def classify(reason: str | None, *messages: str, images: Iterable[str] = ()) -> tuple[str, str]:
    """``(cause, message)``: the first message that names a known cause, else ``unknown``.

    Each message is scrubbed of image references (``images`` and anything shaped like one)
    before it is matched; the message returned is the original text, for the evidence.
    """
    texts = [m for m in messages if m]
    if reason in _BY_REASON:
        return _BY_REASON[reason], texts[0] if texts else reason or ""
    refs = tuple(images)
    for text in texts:
        cause = _rule_for(text, refs)
        if cause is not None:
            return cause, text
    return "unknown", texts[0] if texts else (reason or "")


@functools.lru_cache(maxsize=4096)
def _rule_for(text: str, refs: tuple[str, ...]) -> str | None:
    # Cached: the pods of a workload fail with the same message, and scrubbing and matching
    # it took 0.5 s for 3,000 failing pods (issue 19); the answer depends on these alone.
    clean = scrub(text, refs)
    for cause, pattern in _RULES:
        if pattern.search(clean):
            return cause
    return None


@dataclass(frozen=True)
class _Draft:
    pod: Obj
    parent: ObjectRef | None
    image: str
    containers: tuple[str, ...]
    cause: str
    failing: bool
    detail: str
    events: tuple[Event, ...]
    missing: tuple[str, ...]
    evidence_gone: str = ""


def image_pull(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per pod and image that fails to pull or will, for want of a pull secret."""
    drafts: list[_Draft] = []
    pods_per_parent: Counter[ObjectRef | None] = Counter()
    for pod in live_pods(state):
        parent = state.workload_of(pod)
        pods_per_parent[parent] += 1
        drafts.extend(_pod_drafts(state, pod, parent))
    shared = Counter((d.parent, d.image, d.cause) for d in drafts if d.parent)
    for d in drafts:
        lines = list(evidence(d.events, state.now))
        if d.detail and not any(_core(d.detail) in e.message for e in d.events):
            lines.insert(0, f"kubelet: {d.detail}")  # the events are gone or not listed
        if d.missing and d.cause != PSM:
            lines.append(f"also: imagePullSecrets {', '.join(d.missing)} do not exist")
        if d.parent and pods_per_parent[d.parent] > 1:
            lines.append(
                f"{shared[(d.parent, d.image, d.cause)]} of {pods_per_parent[d.parent]} pods "
                f"of {d.parent.kind} {d.parent.name} share this failure"
            )
        ns = namespace(d.pod)
        what = "cannot pull" if d.failing else "will fail to pull"
        workload = f"{d.parent.kind} {d.parent.name}" if d.parent else f"pod {name(d.pod)}"
        yield CAUSES[d.cause].finding(
            resource=ObjectRef.of("Pod", d.pod),
            parent=d.parent,
            message=f"pod {name(d.pod)} {what} {d.image} "
            f"(container {', '.join(d.containers)}): {_explain(d)}",
            evidence=tuple(dict.fromkeys(lines)),
            depends_on=tuple(ObjectRef("Secret", ns, s) for s in d.missing),
            # A pod still running with its image cached fails only at its next pull.
            severity=None if d.failing else Severity.WARNING,
            remediation=_unknown_remedy(d, ns or "") if d.cause == "unknown" else None,
            image=d.image,
            workload=workload,
            secrets=", ".join(d.missing),
        )


def _explain(d: _Draft) -> str:
    """What the cause means for this pod, in one clause."""
    if d.cause == PSM:
        return f"imagePullSecrets {', '.join(d.missing)} missing from the namespace"
    if d.cause == "unknown":
        if d.evidence_gone:
            return d.evidence_gone
        return f"the pull failed for a reason not classified: {d.detail[:300]}"
    return {
        "image-not-found": "the registry has no such image or tag",
        "not-found-or-denied": "the registry denied the pull: the repository does not exist, "
        "or it needs credentials this pull did not have (the registry answers both alike)",
        "unauthorized": "the registry refused the pull credentials (or the pull had none)",
        "registry-unreachable": "the node cannot reach the registry (DNS, network or TLS)",
        "rate-limited": "the registry is rate-limiting pulls",
        "no-matching-platform": "the image has no variant for this node's OS and architecture",
        "image-content-missing": "the image resolved, but a layer it names was not found",
        "invalid-image-name": "the image reference is not valid",
    }[d.cause]


def _unknown_remedy(d: _Draft, ns: str) -> str:
    watch = f"kubectl get events -n {ns} --field-selector involvedObject.name={name(d.pod)} -w"
    if d.evidence_gone:
        return (
            "The kubelet retries the pull on its own (every 5 minutes at most); watch the next "
            f"attempt's error with '{watch}', or delete the pod to retry at once."
        )
    return f"Read the kubelet's message ('{watch}') and the container runtime's log on the node."


def _core(detail: str) -> str:
    """The runtime's error inside a kubelet back-off message, or the message itself."""
    m = _BACKOFF.match(detail)
    return (m.group("error") or detail) if m else detail


def _pod_drafts(state: ClusterState, pod: Obj, parent: ObjectRef | None) -> Iterator[_Draft]:
    missing = _missing_pull_secrets(state, pod)
    failing: dict[str, list[tuple[str, str | None, str]]] = {}
    states = containers_of(state, pod)
    for cs in states:
        if cs.waiting_reason in PULL_REASONS:
            failing.setdefault(cs.image, []).append(
                (cs.name, cs.waiting_reason, cs.waiting_message)
            )
    if not failing and not missing:
        return  # every draft below is of a failing image or a missing secret
    images: dict[str, list[str]] = {}
    for cs in states:
        images.setdefault(cs.image, []).append(cs.name)
    events = state.events_for("Pod", pod)
    spec = pod.get("spec") or {}
    for c in (*(spec.get("initContainers") or []), *(spec.get("containers") or [])):
        users = images.setdefault(str(c.get("image", "")), [])
        if c.get("name") not in users:
            users.append(str(c.get("name", "")))
    for image, containers in images.items():
        mine = tuple(e for e in events if _about_image(e, image, single=len(failing) == 1))
        if missing:
            mine += tuple(e for e in events if e.reason == MISSING_SECRET_REASON)
        if image not in failing:
            if missing:  # not failing (yet): the image is cached, or the pod not started
                yield _Draft(pod, parent, image, tuple(containers), PSM, False, "", (), missing)
            continue
        # The most telling waiting message first: ErrImagePull carries the error itself.
        waits = sorted(failing[image], key=lambda f: f[1] != "ErrImagePull")
        _, reason, waiting = waits[0]
        failed = latest((e for e in mine if _PULL_FAILED.match(e.message)), "Failed")
        other = latest(mine, "InspectFailed", "ErrImageNeverPull")
        texts = [_core(waiting) if waiting else ""]
        texts += [_PULL_FAILED.sub("", e.message) for e in (failed, other) if e]
        cause, detail = classify(reason, *texts, images=(image,))
        if detail == texts[0] and waiting:
            detail = waiting  # quote the kubelet's whole line
        gone = ""
        backoff = _BACKOFF.match(waiting)
        if (
            cause == "unknown"
            and failed is None
            and (not waiting or (backoff and not backoff["error"]))
        ):
            gone = _evidence_gone(state)  # a bare back-off line, and no event left to read
        if missing and cause in ("unauthorized", "not-found-or-denied", "unknown"):
            cause = PSM
        names = tuple(n for n, _, _ in failing[image])
        yield _Draft(pod, parent, image, names, cause, True, detail, mine, missing, gone)


def _evidence_gone(state: ClusterState) -> str:
    """Why the pull error cannot be read any more, for a bare back-off message."""
    if not state.has("events"):
        return (
            "the pull error is not in the container status (kubelets before 1.32 write only "
            "'Back-off pulling image') and events could not be listed, so the cause cannot "
            "be read"
        )
    return (
        "the pull error is no longer recorded: the kubelet's 'Failed to pull image' events "
        "have expired (the API server keeps events for one hour by default), and the "
        "container status says only 'Back-off pulling image' (kubelets before 1.32 do not "
        "keep the error there, nor one restarted since the pull failed)"
    )


def _about_image(ev: Event, image: str, *, single: bool) -> bool:
    """Whether a kubelet event is about pulling ``image`` (named with or without its tag)."""
    if ev.reason not in _IMAGE_EVENTS:
        return False
    last = image.rsplit("/", 1)[-1]
    forms = {image} if (":" in last or "@" in image) else {image, f"{image}:latest"}
    if any(f'"{f}"' in ev.message for f in forms):
        return True
    # InspectFailed names the image ref, which is empty when the inspection failed.
    return single and ev.reason == "InspectFailed"


def _missing_pull_secrets(state: ClusterState, pod: Obj) -> tuple[str, ...]:
    """Pull secrets the pod relies on that do not exist.

    A pod's own ``imagePullSecrets`` win; the ServiceAccount's apply only when the pod has
    none (admission copies them in at creation, so this covers pods made before the copy).
    Without permission to list Secrets, the kubelet's FailedToRetrieveImagePullSecret event
    is the witness: the kubelet could not read them when it last tried to pull.
    """
    ns = namespace(pod)
    spec = pod.get("spec") or {}
    refs = [r.get("name") for r in spec.get("imagePullSecrets") or [] if r.get("name")]
    if not refs and state.has("serviceaccounts"):
        sa = state.get("ServiceAccount", ns, spec.get("serviceAccountName") or "default")
        refs = [r.get("name") for r in (sa or {}).get("imagePullSecrets") or [] if r.get("name")]
    if state.has("secrets"):
        return tuple(dict.fromkeys(r for r in refs if state.get("Secret", ns, r) is None))
    ev = latest(state.events_for("Pod", pod), MISSING_SECRET_REASON)
    match = _MISSING_SECRETS.search(ev.message) if ev else None
    if not match:
        return ()
    return tuple(dict.fromkeys(s.strip() for s in match.group(1).split(",") if s.strip()))


CHECK = Check(
    id="image-pull",
    title="Containers that cannot pull their image, by cause",
    severity=Severity.CRITICAL,
    kinds=("pods",),
    optional_kinds=("events", "secrets", "serviceaccounts", *OWNER_KINDS),
    causes=CAUSES,
    run=image_pull,
)
