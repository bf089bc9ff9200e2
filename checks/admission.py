"""admission: controllers that cannot create pods, because admission refuses them.

A ResourceQuota that is full or demands limits, a LimitRange bound, a namespace's Pod
Security level, or an admission webhook that denies or cannot be called: the ReplicaSet,
StatefulSet, Job or DaemonSet controller says which in its ``FailedCreate`` event (and the
ReplicaSet in its ``ReplicaFailure`` condition), quoting the API server.  No pod exists to
look at, so without this check a Deployment only reads "0/3 available".

The finding is about the blocker (the quota, the namespace, the webhook configuration) and
lists every controller it blocks, with their Deployments, as ``affected``: the workloads
check's finding on the Deployment is then ``because:`` of it.  A FailedCreate is definitive
and reported at once; it is history once the controller has the pods it wants (or created
one since) and its ReplicaFailure condition is gone.  The error is parsed by structure, see
``logos_doctor.admission``; names never decide the cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from logos_doctor.admission import Refusal, classify
from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.events import Event, latest
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    age,
    labels_of,
    mapping,
    mappings,
    name,
    namespace,
    parse_quantity,
    parse_time,
)
from logos_doctor.pods import condition
from logos_doctor.registry import Check
from logos_doctor.selectors import label_selector_matches
from logos_doctor.state import ClusterState

CONTROLLERS = (
    ("ReplicaSet", "replicasets"),
    ("StatefulSet", "statefulsets"),
    ("Job", "jobs"),
    ("DaemonSet", "daemonsets"),
)
WEBHOOK_KINDS = (
    ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
)
ENFORCE = "pod-security.kubernetes.io/enforce"

CAUSES = Causes(
    "admission",
    Cause(
        "quota-exceeded",
        Severity.CRITICAL,
        "A ResourceQuota is full: new pods are refused",
        remediation=(
            "Raise {resources} in ResourceQuota {quota} (kubectl edit resourcequota {quota} "
            "-n {namespace}), or lower the pods' {resources} or replicas; the controllers "
            "retry by themselves."
        ),
    ),
    Cause(
        "quota-must-specify",
        Severity.CRITICAL,
        "A ResourceQuota requires requests/limits the pod template does not set",
        remediation=(
            "Set {resources} on container(s) {containers} in the pod template, or give "
            "namespace {namespace} a LimitRange with defaults for them; ResourceQuota "
            "{quota} refuses every pod that lacks them."
        ),
    ),
    Cause(
        "limitrange-violation",
        Severity.CRITICAL,
        "A LimitRange bound refuses the pod template's resources",
        remediation=(
            "Bring the pod template within {limitrange} ({violation}), or change the "
            "LimitRange if the bound is wrong."
        ),
    ),
    Cause(
        "pod-security",
        Severity.CRITICAL,
        "The namespace's Pod Security level refuses the pod template",
        remediation=(
            "Make the pod template meet the {level} Pod Security Standard ({first}); only if "
            "the workload truly needs it, lower {label} on namespace {namespace}."
        ),
    ),
    Cause(
        "webhook-denied",
        Severity.CRITICAL,
        "An admission webhook denies the pods",
        remediation=(
            "Change the pod template to satisfy webhook {webhook} ({reason}), or have its "
            "owner change the policy in {config}."
        ),
    ),
    Cause(
        "webhook-unavailable",
        Severity.CRITICAL,
        "An admission webhook cannot be called and fails closed",
        remediation="{advice}",
    ),
    Cause(
        "unrecognised",
        Severity.CRITICAL,
        "A controller cannot create pods for a reason not classified here",
        remediation=(
            "Read the API server's message quoted in the evidence; the controller retries "
            "by itself once the cause is gone."
        ),
    ),
)


@dataclass
class _Block:
    """One blocker and the controllers it keeps from creating pods."""

    cause: str
    resource: ObjectRef
    refusal: Refusal
    message: str
    facts: dict[str, Any]
    lines: list[str]  # about the blocker: the quota's usage, the namespace's labels...
    controllers: list[tuple[str, Obj]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # each controller's newest refusal


def admission(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per blocker, listing every controller it blocks."""
    blocks: dict[tuple[str, str, str | None, str], _Block] = {}
    for kind, plural in CONTROLLERS:
        for obj in state.in_scope(plural):
            found = _refused(state, kind, obj)
            if found is None:
                continue
            refusal, seen = found
            block = _blocker(state, kind, obj, refusal)
            ref = block.resource
            key = (block.cause, ref.kind, ref.namespace, ref.name)
            block = blocks.setdefault(key, block)
            block.controllers.append((kind, obj))
            block.seen.append(f"{kind} {name(obj)}: {seen}")
    for block in blocks.values():
        yield _finding(state, block)


def _finding(state: ClusterState, block: _Block) -> Finding:
    affected: list[ObjectRef] = []
    owners: list[str] = []
    for kind, obj in block.controllers:
        top = state.top_owner(kind, obj)  # the Deployment of a ReplicaSet, a CronJob's Job...
        for ref in (ObjectRef.of(kind, obj), top):
            if ref not in affected:
                affected.append(ref)
        owners.append(f"{top.kind} {top.name}")
    blocked = ", ".join(owners[:4]) + (f" and {len(owners) - 4} more" if len(owners) > 4 else "")
    # Each blocked controller still serves with some ready pods: degraded, not down.
    degraded = all(_ready(k, o) > 0 for k, o in block.controllers)
    default = CAUSES[block.cause].severity
    what = "claims" if block.refusal.kind == "persistentvolumeclaims" else "pods"
    return CAUSES[block.cause].finding(
        resource=block.resource,
        message=f"{block.message}; cannot create {what} for {blocked}",
        evidence=(*block.seen[:4], *block.lines)[:8],
        affected=tuple(affected),
        parent=affected[-1] if block.cause == "unrecognised" else None,
        severity=Severity.WARNING if degraded and default > Severity.WARNING else None,
        **block.facts,
    )


# -- which controllers are refused, and why ------------------------------------------------


def _refused(state: ClusterState, kind: str, obj: Obj) -> tuple[Refusal, str] | None:
    """The newest refusal of a controller still short of pods, with its evidence line."""
    failure = condition(obj, "ReplicaFailure") if kind == "ReplicaSet" else None
    if failure and (failure.get("status") != "True" or failure.get("reason") != "FailedCreate"):
        failure = None
    if failure is None and not _short(kind, obj):
        return None  # has what it wants: FailedCreate events are history
    events = state.events_for(kind, obj)
    failed = latest([e for e in events if e.type == "Warning"], "FailedCreate")
    created = latest(events, "SuccessfulCreate")
    if failure is None and (failed is None or _after(created, failed)):
        return None  # a create succeeded since: the shortfall is not admission's
    since = parse_time((failure or {}).get("lastTransitionTime"))
    if failed is not None and (failure is None or (failed.last and since and failed.last >= since)):
        return classify(failed.message), failed.describe(state.now)
    assert failure is not None
    text = str(failure.get("message") or "")
    return classify(text), f"ReplicaFailure=True (FailedCreate, {age(since, state.now)}): {text}"


def _after(a: Event | None, b: Event) -> bool:
    return a is not None and a.last is not None and b.last is not None and a.last > b.last


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _short(kind: str, obj: Obj) -> bool:
    """Whether the controller has fewer pods than it wants."""
    spec, status = mapping(obj.get("spec")), mapping(obj.get("status"))
    if kind in ("ReplicaSet", "StatefulSet"):
        return _int(status.get("replicas")) < _int(spec.get("replicas"), 1)
    if kind == "DaemonSet":
        return _int(status.get("currentNumberScheduled")) < _int(
            status.get("desiredNumberScheduled")
        )
    done = any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in mappings(status.get("conditions"))
    )
    if done or spec.get("suspend") is True:
        return False
    want = _int(spec.get("parallelism"), 1)
    if "completions" in spec:
        want = min(want, _int(spec.get("completions"), 1) - _int(status.get("succeeded")))
    return _int(status.get("active")) < want


def _ready(kind: str, obj: Obj) -> int:
    status = mapping(obj.get("status"))
    field_name = {"DaemonSet": "numberReady", "Job": "ready"}.get(kind, "readyReplicas")
    return _int(status.get(field_name))


# -- the blocker of each cause -------------------------------------------------------------


def _blocker(state: ClusterState, kind: str, obj: Obj, refusal: Refusal) -> _Block:
    ns = namespace(obj) or ""
    cause = refusal.cause
    if cause == "quota-exceeded":
        return _quota_exceeded(state, ns, refusal)
    if cause == "quota-must-specify":
        return _quota_must_specify(state, ns, refusal)
    if cause == "limitrange-violation":
        return _limitrange(state, kind, obj, refusal)
    if cause == "pod-security":
        return _pod_security(state, ns, refusal)
    if cause in ("webhook-denied", "webhook-unavailable"):
        return _webhook(state, kind, obj, refusal)
    return _Block(
        "unrecognised",
        ObjectRef.of(kind, obj),
        refusal,
        f"{kind} {name(obj)}: the API server refuses its {refusal.kind}: {refusal.error}",
        {},
        [],
    )


def _quota_exceeded(state: ClusterState, ns: str, refusal: Refusal) -> _Block:
    quota = state.get("ResourceQuota", ns, refusal.quota)
    ref = (
        ObjectRef.of("ResourceQuota", quota)
        if quota
        else ObjectRef("ResourceQuota", ns, refusal.quota)
    )
    parts = [
        f"{u.resource} {u.used} used of {u.limited}, {u.requested} more requested"
        for u in refusal.over
    ]
    lines = []
    if quota is not None:
        status = mapping(quota.get("status"))
        used, hard = mapping(status.get("used")), mapping(status.get("hard"))
        for u in refusal.over:
            lines.append(
                f"ResourceQuota {refusal.quota} now: {u.resource} used {used.get(u.resource, '?')}"
                f" of hard {hard.get(u.resource, '?')}"
            )
    resources = ", ".join(u.resource for u in refusal.over) or "the exceeded resources"
    return _Block(
        "quota-exceeded",
        ref,
        refusal,
        f"ResourceQuota {refusal.quota} is exhausted: " + "; ".join(parts),
        {"quota": refusal.quota, "resources": resources, "namespace": ns},
        lines,
    )


def _quota_must_specify(state: ClusterState, ns: str, refusal: Refusal) -> _Block:
    quota = state.get("ResourceQuota", ns, refusal.quota)
    ref = (
        ObjectRef.of("ResourceQuota", quota)
        if quota
        else ObjectRef("ResourceQuota", ns, refusal.quota)
    )
    resources = ", ".join(r for r, _ in refusal.missing)
    containers = sorted({c for _, cs in refusal.missing for c in cs})
    missing = "; ".join(f"{r} on {', '.join(cs)}" for r, cs in refusal.missing)
    lines = []
    if quota is not None:
        hard = mapping(mapping(quota.get("status")).get("hard")) or mapping(
            mapping(quota.get("spec")).get("hard")
        )
        lines.append(
            f"ResourceQuota {refusal.quota} limits: "
            + ", ".join(f"{k}={v}" for k, v in sorted(hard.items()))
        )
    return _Block(
        "quota-must-specify",
        ref,
        refusal,
        f"ResourceQuota {refusal.quota} requires {resources} on every container; "
        f"not set: {missing}",
        {
            "quota": refusal.quota,
            "resources": resources,
            "containers": ", ".join(containers),
            "namespace": ns,
        },
        lines,
    )


def _limitrange(state: ClusterState, kind: str, obj: Obj, refusal: Refusal) -> _Block:
    ns = namespace(obj) or ""
    field_of = {"maximum": "max", "minimum": "min", "maxLimitRequestRatio": "maxLimitRequestRatio"}
    matches: list[Obj] = []
    for lr in sorted(state.list_of("limitranges", ns), key=name):
        for v in refusal.limits:
            for item in mappings(mapping(lr.get("spec")).get("limits")):
                bound = mapping(item.get(field_of[v.bound])).get(v.resource)
                same = item.get("type") == v.per and _same_quantity(bound, v.enforced)
                if same and lr not in matches:
                    matches.append(lr)
    violation = "; ".join(v.text for v in refusal.limits)
    if matches:
        ref = ObjectRef.of("LimitRange", matches[0])
        where = f"LimitRange {name(matches[0])}"
    else:  # not listed (or not allowed to): no object to name but the controller
        ref, where = ObjectRef.of(kind, obj), f"a LimitRange in namespace {ns}"
    return _Block(
        "limitrange-violation",
        ref,
        refusal,
        f"{where} refuses the pod template: {violation}",
        {"limitrange": where, "violation": violation},
        [],
    )


def _same_quantity(value: object, text: str) -> bool:
    a, b = parse_quantity(value), parse_quantity(text)
    return a is not None and a == b


def _pod_security(state: ClusterState, ns: str, refusal: Refusal) -> _Block:
    ns_obj = state.get("Namespace", None, ns)
    ref = ObjectRef.of("Namespace", ns_obj) if ns_obj else ObjectRef("Namespace", None, ns)
    lines = []
    if ns_obj is not None:
        labels = labels_of(ns_obj)
        enforce = {k: v for k, v in sorted(labels.items()) if k.startswith(ENFORCE)}
        lines.append(
            f"namespace {ns} labels: " + ", ".join(f"{k}={v}" for k, v in enforce.items())
            if enforce
            else f"namespace {ns} has no {ENFORCE} label: the level is the API server's default"
        )
    first = refusal.violations[:2]
    level = f"{refusal.level}:{refusal.version}"
    return _Block(
        "pod-security",
        ref,
        refusal,
        f"namespace {ns} enforces PodSecurity {level}, and the pods violate it: "
        + ", ".join(first)
        + (f" (+{len(refusal.violations) - 2} more)" if len(refusal.violations) > 2 else ""),
        {
            "level": refusal.level,
            "first": "; ".join(v.split(" (", 1)[0] for v in refusal.violations),
            "label": ENFORCE,
            "namespace": ns,
        },
        lines,
    )


def _webhook(state: ClusterState, kind: str, obj: Obj, refusal: Refusal) -> _Block:
    ns = namespace(obj) or ""
    found = _find_webhook(state, ns, refusal.webhook)
    hook: Obj = {}
    if found is None:  # not listed, or not allowed to: name the controller
        ref = ObjectRef.of(kind, obj)
        config_name = "its webhook configuration"
    else:
        cfg_kind, cfg, hook = found
        ref = ObjectRef.of(cfg_kind, cfg)
        config_name = f"{cfg_kind} {name(cfg)}"
    if refusal.cause == "webhook-denied":
        return _Block(
            "webhook-denied",
            ref,
            refusal,
            f"admission webhook {refusal.webhook} ({config_name}) denies the pods: "
            f"{refusal.reason}",
            {"webhook": refusal.webhook, "reason": refusal.reason, "config": config_name},
            [],
        )
    policy = str(hook.get("failurePolicy") or "Fail")  # the v1 default
    target, state_line, advice = _webhook_target(
        state, hook, refusal, config_name, found is not None
    )
    if policy == "Fail":
        advice += (
            f" Until then failurePolicy Fail refuses every matching pod; as a stopgap set "
            f"failurePolicy: Ignore on {refusal.webhook} in {config_name}, or narrow its "
            f"namespaceSelector."
        )
    return _Block(
        "webhook-unavailable",
        ref,
        refusal,
        f"admission webhook {refusal.webhook} ({config_name}, failurePolicy {policy}) cannot be "
        f"called: {state_line}",
        {"advice": advice},
        [f"webhook {refusal.webhook} calls {target}"],
    )


def _find_webhook(state: ClusterState, ns: str, hook_name: str) -> tuple[str, Obj, Obj] | None:
    """The configuration holding a webhook of that name; the one whose namespaceSelector
    matches the namespace first (names are unique only within one configuration)."""
    ns_obj = state.get("Namespace", None, ns)
    labels = labels_of(ns_obj) if ns_obj else {"kubernetes.io/metadata.name": ns}
    candidates = []
    for cfg_kind, plural in WEBHOOK_KINDS:
        for cfg in sorted(state.list_of(plural), key=name):
            for hook in mappings(cfg.get("webhooks")):
                if hook.get("name") == hook_name:
                    selector = hook.get("namespaceSelector")
                    matches = not selector or label_selector_matches(selector, labels)
                    candidates.append((not matches, cfg_kind, cfg, hook))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0])
    _, cfg_kind, cfg, hook = candidates[0]
    return cfg_kind, cfg, hook


def _webhook_target(
    state: ClusterState, hook: Obj, refusal: Refusal, config_name: str, known: bool
) -> tuple[str, str, str]:
    """What the webhook calls, what state it is in, and what to do about it."""
    client = mapping(hook.get("clientConfig"))
    svc = mapping(client.get("service"))
    if not known:
        return ("an unknown endpoint", refusal.reason,
                f"Find the configuration of webhook {refusal.webhook} (kubectl get "
                "validatingwebhookconfigurations,mutatingwebhookconfigurations) and restore "
                "the service it calls.")  # fmt: skip
    if not svc:
        url = str(client.get("url") or "?")
        return (f"URL {url}", refusal.reason,
                f"The API server cannot call {url}: check that the server runs, its TLS "
                f"certificate matches {config_name}'s caBundle, and the network path.")  # fmt: skip
    svc_ns, svc_name = str(svc.get("namespace") or ""), str(svc.get("name") or "")
    target = f"Service {svc_ns}/{svc_name} port {svc.get('port') or 443}"
    if not state.scope.includes(svc_ns) or not state.has("services"):
        return (target, f"{refusal.reason} (Service {svc_ns}/{svc_name} is outside the checked "
                "namespaces)",
                f"Check the webhook's Service and pods: kubectl get endpointslices -n {svc_ns} "
                f"-l kubernetes.io/service-name={svc_name}.")  # fmt: skip
    if state.get("Service", svc_ns, svc_name) is None:
        return (target, f"its Service {svc_ns}/{svc_name} does not exist",
                f"Service {svc_ns}/{svc_name} is gone: reinstall the webhook, or delete "
                f"{config_name} if the webhook was removed on purpose.")  # fmt: skip
    ready = _ready_endpoints(state, svc_ns, svc_name)
    if ready == 0:
        return (target, f"its Service {svc_ns}/{svc_name} has no ready endpoints",
                f"The webhook's pods behind Service {svc_ns}/{svc_name} are down or not ready: "
                f"restore them (kubectl get pods -n {svc_ns}).")  # fmt: skip
    return (target, f"{refusal.reason} (Service {svc_ns}/{svc_name} has {ready} ready endpoint(s))",
            f"Service {svc_ns}/{svc_name} has ready endpoints, yet the call fails: check the "
            f"webhook's TLS certificate against {config_name}'s caBundle, its timeoutSeconds, "
            "and network policies between the API server and the pods.")  # fmt: skip


def _ready_endpoints(state: ClusterState, ns: str, svc: str) -> int:
    slices = state.matching("endpointslices", ns, {"kubernetes.io/service-name": svc})
    return sum(
        1
        for s in slices
        for ep in mappings(s.get("endpoints"))
        if mapping(ep.get("conditions")).get("ready") is not False
    )


CHECK = Check(
    id="admission",
    title="Controllers that cannot create pods: quota, LimitRange, Pod Security, webhooks",
    severity=Severity.CRITICAL,
    kinds=("replicasets",),
    optional_kinds=(
        "events",
        "deployments",
        "statefulsets",
        "jobs",
        "daemonsets",
        "resourcequotas",
        "limitranges",
        "namespaces",
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "services",
        "endpointslices",
    ),
    causes=CAUSES,
    run=admission,
)
