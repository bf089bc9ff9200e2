"""image-pull: containers that cannot get their image, with the reason the registry gave.

"ImagePullBackOff" only says the kubelet gave up for a while.  The cause is in the text the
container runtime returned, which the kubelet copies into its ``Failed`` event and (since
1.32) into the container's waiting message; it is classified here into a few causes that
each have one remedy.  A missing ``imagePullSecrets`` Secret is read from the spec alone, so
it is caught before the next rollout or reschedule fails, and it wins over the registry's
vague "unauthorized" because it is what an operator must fix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from logos_doctor.config import Config
from logos_doctor.events import Event, evidence, latest
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, name, namespace
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState
from logos_doctor.workloads import container_states, is_terminating, phase

# Waiting reasons the kubelet's image manager (pkg/kubelet/images) and the CRI can set.
PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
    | {"ImageInspectError", "RegistryUnavailable", "SignatureValidationFailed"}
)
# Listed only to name a pod's Deployment/StatefulSet; without them the ReplicaSet is named.
OWNER_KINDS = ("replicasets", "deployments", "statefulsets")
_BY_REASON = {
    "InvalidImageName": "invalid-image-name",
    "ErrImageNeverPull": "image-not-found",
    "RegistryUnavailable": "registry-unreachable",
}
# Order matters: a token request that fails with "no such host" is unreachable, not
# unauthorized; "pull access denied, repository does not exist or may require authorization"
# is an authorization failure although it says "does not exist".
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cause, re.compile(pattern, re.IGNORECASE))
    for cause, pattern in (
        ("invalid-image-name", r"invalid reference format|couldn't parse image name"),
        ("rate-limited", r"\b429\b|toomanyrequests|too many requests|rate limit"),
        (
            "registry-unreachable",
            r"no such host|i/o timeout|connection refused|connection reset|no route to host"
            r"|network is unreachable|name resolution|server misbehaving|x509:|\btls:"
            r"|handshake|certificate|HTTP response to HTTPS client|registry is unavailable"
            r"|\b50[0234]\b|bad gateway|service unavailable",
        ),
        (
            "unauthorized",
            r"\b40[13]\b|unauthori[sz]ed|forbidden|access denied|insufficient_scope"
            r"|authentication required|authorization failed|failed to authorize"
            r"|no basic auth credentials|\bdenied\b",
        ),
        (
            "image-not-found",
            r"not found|manifest unknown|name unknown|repository does not exist"
            r"|no such image|not present with pull policy of Never|\b404\b",
        ),
    )
)
# cause -> (what it means, for the message; what to do).  Its keys are the check's causes.
_EXPLAIN = {
    "image-not-found": (
        "the registry has no such image or tag",
        "Fix the image name or tag in the workload, or push the missing tag.",
    ),
    "unauthorized": (
        "the registry refused the pull credentials (or the pull had none)",
        "Check that the pull secret holds valid credentials for this registry and that the "
        "account may read this repository.",
    ),
    "pull-secret-missing": (
        "",
        "Create the missing Secret (type kubernetes.io/dockerconfigjson) or fix the name in "
        "imagePullSecrets.",
    ),
    "registry-unreachable": (
        "the node cannot reach the registry (DNS, network or TLS)",
        "Check DNS, egress/proxy and the registry's certificate from a node; nothing in the "
        "workload can fix this.",
    ),
    "rate-limited": (
        "the registry is rate-limiting pulls",
        "Authenticate pulls or use a mirror/pull-through cache; pulls resume when the limit "
        "resets.",
    ),
    "invalid-image-name": (
        "the image reference is not valid",
        "Fix the image reference in the workload (lower-case repository, one tag, no spaces).",
    ),
    "unknown": (
        "the pull failed for a reason not classified",
        "Read the kubelet's message and the container runtime's log on the node.",
    ),
}
# The kubelet's back-off message wraps the last pull error (kubelet >= 1.32).
_BACKOFF_PREFIX = re.compile(r'^Back-off pulling image "[^"]*": \w+: ')
_IMAGE_EVENTS = ("Failed", "BackOff", "InspectFailed", "ErrImageNeverPull")
PSM = "pull-secret-missing"


@dataclass(frozen=True)
class _Draft:
    pod: Obj
    parent: ObjectRef | None
    image: str
    containers: tuple[str, ...]
    cause: str
    severity: Severity
    detail: str
    events: tuple[Event, ...]
    missing: tuple[str, ...]


def classify(reason: str | None, *messages: str) -> tuple[str, str]:
    """``(cause, message)``: the first message that names a known cause, else ``unknown``."""
    texts = [m for m in messages if m]
    if reason in _BY_REASON:
        return _BY_REASON[reason], texts[0] if texts else reason or ""
    for text in texts:
        for cause, pattern in _RULES:
            if pattern.search(text):
                return cause, text
    return "unknown", texts[0] if texts else (reason or "")


def image_pull(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per pod and image that fails to pull or will, for want of a pull secret."""
    drafts: list[_Draft] = []
    pods_per_parent: Counter[ObjectRef | None] = Counter()
    for pod in state.in_scope("pods"):
        if is_terminating(pod) or phase(pod) in ("Succeeded", "Failed"):
            continue
        parent = state.workload_of(pod)
        pods_per_parent[parent] += 1
        drafts.extend(_pod_drafts(state, pod, parent))
    shared = Counter((d.parent, d.image, d.cause) for d in drafts if d.parent)
    for d in drafts:
        text, remedy = _EXPLAIN[d.cause]
        if d.cause == "pull-secret-missing":
            text = f"imagePullSecrets {', '.join(d.missing)} missing from the namespace"
        elif d.cause == "unknown":
            text = f"{text}: {d.detail[:300]}"
        what = "cannot pull" if d.severity == Severity.CRITICAL else "will fail to pull"
        lines = list(evidence(d.events, state.now))
        core = _BACKOFF_PREFIX.sub("", d.detail)
        if core and not any(core in e.message for e in d.events):  # events gone or unlisted
            lines.insert(0, f"kubelet: {d.detail}")
        if d.missing and d.cause != "pull-secret-missing":
            lines.append(f"also: imagePullSecrets {', '.join(d.missing)} do not exist")
        if d.parent and pods_per_parent[d.parent] > 1:
            lines.append(
                f"{shared[(d.parent, d.image, d.cause)]} of {pods_per_parent[d.parent]} pods "
                f"of {d.parent.kind} {d.parent.name} share this failure"
            )
        ns = namespace(d.pod)
        yield Finding(
            check="image-pull",
            cause=d.cause,
            severity=d.severity,
            resource=ObjectRef.of("Pod", d.pod),
            parent=d.parent,
            message=f"pod {name(d.pod)} {what} {d.image} "
            f"(container {', '.join(d.containers)}): {text}",
            evidence=tuple(dict.fromkeys(lines)),
            remediation=remedy,
            depends_on=tuple(ObjectRef("Secret", ns, s) for s in d.missing),
        )


def _pod_drafts(state: ClusterState, pod: Obj, parent: ObjectRef | None) -> Iterator[_Draft]:
    events = state.events_for("Pod", pod)
    missing = _missing_pull_secrets(state, pod, events)
    failing: dict[str, list[tuple[str, str | None, str]]] = {}
    images: dict[str, list[str]] = {}
    for cs in container_states(pod):
        images.setdefault(cs.image, []).append(cs.name)
        if cs.waiting_reason in PULL_REASONS:
            failing.setdefault(cs.image, []).append(
                (cs.name, cs.waiting_reason, cs.waiting_message)
            )
    spec = pod.get("spec") or {}
    for c in (*(spec.get("initContainers") or []), *(spec.get("containers") or [])):
        users = images.setdefault(str(c.get("image", "")), [])
        if c.get("name") not in users:
            users.append(str(c.get("name", "")))
    for image, containers in images.items():
        mine = tuple(e for e in events if _about_image(e, image, single=len(failing) == 1))
        if missing:
            mine += tuple(e for e in events if e.reason == "FailedToRetrieveImagePullSecret")
        if image not in failing:
            if missing:  # not failing (yet): the image is cached, or the pod not started
                warn = Severity.WARNING
                names = tuple(containers)
                yield _Draft(pod, parent, image, names, PSM, warn, "", (), missing)
            continue
        _, reason, waiting = failing[image][0]
        failed = latest(mine, "Failed", "InspectFailed", "ErrImageNeverPull")
        cause, detail = classify(reason, waiting, failed.message if failed else "")
        if missing and cause in ("unauthorized", "unknown"):
            cause = PSM
        names = tuple(n for n, _, _ in failing[image])
        yield _Draft(pod, parent, image, names, cause, Severity.CRITICAL, detail, mine, missing)


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


def _missing_pull_secrets(state: ClusterState, pod: Obj, events: list[Event]) -> tuple[str, ...]:
    """Pull secrets the pod relies on that do not exist.

    A pod's own ``imagePullSecrets`` win; the ServiceAccount's apply only when the pod has
    none (admission copies them in at creation, so this covers pods made before the copy).
    Without permission to list Secrets, the kubelet's FailedToRetrieveImagePullSecret event
    is the only witness.
    """
    ns = namespace(pod)
    spec = pod.get("spec") or {}
    refs = [r.get("name") for r in spec.get("imagePullSecrets") or [] if r.get("name")]
    if not refs and state.has("serviceaccounts"):
        sa = state.get("ServiceAccount", ns, spec.get("serviceAccountName") or "default")
        refs = [r.get("name") for r in (sa or {}).get("imagePullSecrets") or [] if r.get("name")]
    if state.has("secrets"):
        return tuple(dict.fromkeys(r for r in refs if state.get("Secret", ns, r) is None))
    ev = latest(events, "FailedToRetrieveImagePullSecret")
    match = re.search(r"pull secrets \(([^)]*)\)", ev.message) if ev else None
    return tuple(s.strip() for s in match.group(1).split(",")) if match else ()


CHECK = Check(
    id="image-pull",
    title="Containers that cannot pull their image, by cause",
    severity=Severity.CRITICAL,
    kinds=("pods",),
    optional_kinds=("events", "secrets", "serviceaccounts", *OWNER_KINDS),
    causes=tuple(_EXPLAIN),
    run=image_pull,
)
