"""hpa: HorizontalPodAutoscalers (autoscaling/v2) that cannot, or can no longer, scale.

The HPA controller writes why into three conditions: ``AbleToScale`` (can it read and write
the target's scale?), ``ScalingActive`` (can it compute a replica count from its metrics?)
and ``ScalingLimited`` (is the count clamped to min or max?).  Those, the spec and the target
workload are enough to name the cause.  Metrics failures are traced one step further, to the
APIService that serves the metric (``v1beta1.metrics.k8s.io`` for cpu/memory: metrics-server),
because a missing metrics-server is the usual reason and no condition says so.  An HPA held
at minReplicas (``DesiredWithinRange`` or ``TooFewReplicas``) is an idle service, not a fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from logos_doctor.config import Config
from logos_doctor.events import evidence
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    age,
    labels_of,
    mapping,
    mappings,
    namespace,
    parse_time,
)
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState
from logos_doctor.workloads import label_selector_matches

ID = "hpa"
TARGETS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "ReplicaSet": "replicasets"}
# Which aggregated API serves each metric failure the controller reports.
METRICS_API = {
    "FailedGetResourceMetric": "v1beta1.metrics.k8s.io",
    "FailedGetContainerResourceMetric": "v1beta1.metrics.k8s.io",
    "FailedGetPodsMetric": "v1beta1.custom.metrics.k8s.io",
    "FailedGetObjectMetric": "v1beta1.custom.metrics.k8s.io",
    "FailedGetExternalMetric": "v1beta1.external.metrics.k8s.io",
}
PROVIDER = {
    "v1beta1.metrics.k8s.io": "metrics-server",
    "v1beta1.custom.metrics.k8s.io": "a custom metrics adapter (e.g. prometheus-adapter)",
    "v1beta1.external.metrics.k8s.io": "an external metrics adapter (e.g. KEDA)",
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cond(obj: Obj, kind: str) -> dict[str, Any]:
    """A status condition of that type, {} when absent (read defensively: see _d)."""
    conds = mappings(mapping(obj.get("status")).get("conditions"))
    return next((c for c in conds if c.get("type") == kind), {})


@dataclass(frozen=True)
class _Hpa:
    obj: Obj
    ref: ObjectRef
    target: ObjectRef
    min: int
    max: int
    current: int | None


def hpa(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Findings per HPA: target, metrics, requests, and where its replica count sits."""
    for obj in state.in_scope("horizontalpodautoscalers"):
        spec, status = mapping(obj.get("spec")), mapping(obj.get("status"))
        ref = mapping(spec.get("scaleTargetRef"))
        # currentReplicas is omitempty: absent means 0 once the controller wrote a status.
        current = status.get("currentReplicas", 0 if status.get("conditions") else None)
        h = _Hpa(
            obj,
            ObjectRef.of("HorizontalPodAutoscaler", obj),
            ObjectRef(str(ref.get("kind", "?")), namespace(obj), str(ref.get("name", "?"))),
            _int(spec.get("minReplicas")) or 1,
            _int(spec.get("maxReplicas")) or 0,
            _int(current),
        )
        yield from _one(state, h)


def _one(state: ClusterState, h: _Hpa) -> Iterator[Finding]:
    able = _cond(h.obj, "AbleToScale")
    active = _cond(h.obj, "ScalingActive")
    limited = _cond(h.obj, "ScalingLimited")
    plural = TARGETS.get(h.target.kind)
    target = state.get(h.target.kind, h.target.namespace, h.target.name)
    ev = evidence(state.events_for("HorizontalPodAutoscaler", h.obj), state.now, limit=3)

    def finding(cause: str, message: str, remediation: str, extra: tuple[str, ...] = ()) -> Finding:
        parent = ObjectRef.of(h.target.kind, target) if target is not None else None
        return Finding(
            ID,
            cause,
            Severity.WARNING,
            h.ref,
            f"HPA {h.ref.name}: {message}",
            parent=parent,
            evidence=(*extra, *ev),
            remediation=remediation,
        )

    gone = plural is not None and state.has(plural) and target is None
    if gone or (able.get("status") == "False" and able.get("reason") == "FailedGetScale"):
        yield finding(
            "target-missing",
            f"its scale target {h.target.kind} {h.target.name} "
            + ("does not exist" if gone else "cannot be read")
            + "; nothing is autoscaled",
            "Point spec.scaleTargetRef at the workload (a rename in the chart usually left the "
            "HPA behind), or delete the HPA.",
            _cond_lines(able),
        )
        return
    res, lacking = _missing_requests(state, h, target)
    if res:
        yield finding(
            "missing-requests",
            f"scales on {res} utilization, but {lacking} request no {res}: utilization is a "
            "percentage of the request, so the controller cannot compute it",
            f"Set resources.requests.{res} on every container of the target (or scale on an "
            "AverageValue target, which needs no request).",
            _cond_lines(active),
        )
    reason = str(active.get("reason") or "")
    # "missing request" in the message is the requests problem, already reported above.
    requests_error = "missing request" in str(active.get("message")) and res
    if active.get("status") == "False" and reason in METRICS_API and not requests_error:
        api = METRICS_API[reason]
        yield finding(
            "metrics-unavailable",
            f"cannot read its metrics ({reason}): {_api_state(state, api)}",
            f"Install or repair {PROVIDER[api]} so that APIService {api} is Available; "
            "the HPA keeps the current replica count until then.",
            _cond_lines(active),
        )
    if h.current is not None and h.current < h.min:
        disabled = active.get("reason") == "ScalingDisabled"
        yield finding(
            "below-min",
            f"{h.current} replica(s), below minReplicas {h.min}"
            + ("; scaling is disabled because the target was scaled to 0" if disabled else ""),
            "Scale the target back up (kubectl scale ... --replicas=<min>); the HPA leaves a "
            "target at 0 alone on purpose."
            if disabled
            else "Read AbleToScale: the HPA could not update the target's scale.",
            (*_cond_lines(active), *_cond_lines(able)),
        )
    if (
        h.current is not None
        and h.current >= h.max
        and limited.get("status") == "True"
        and limited.get("reason") == "TooManyReplicas"
    ):
        since = parse_time(limited.get("lastTransitionTime"))
        yield finding(
            "maxed-out",
            f"held at maxReplicas {h.max} for {age(since, state.now)}: its metrics ask for "
            f"more ({_metrics_now(h.obj)})",
            "Raise maxReplicas if the nodes can take it, or find what drives the load; until "
            "then the service runs at its ceiling.",
            _cond_lines(limited),
        )


def _missing_requests(state: ClusterState, h: _Hpa, target: Obj | None) -> tuple[str, str]:
    """``(resource, "containers ... of ...")`` for the first Utilization metric whose pods lack
    a request for it, as the controller computes it: pod-level requests if set, else every
    container and sidecar (or only the metric's container).  The target's pods are judged,
    since admission (a LimitRange) may have defaulted their requests; its template when it
    has none.  ``("", "")`` when nothing is missing."""
    if target is None:
        return "", ""
    tspec = mapping(target.get("spec"))
    selector = _selector(tspec.get("selector")) if mapping(tspec.get("selector")) else None
    # Candidates by matchLabels through the state's label index, then the full selector.
    ns = namespace(target)
    candidates = state.matching("pods", ns, selector["matchLabels"]) if selector else []
    pods = [
        mapping(p.get("spec")) for p in candidates if label_selector_matches(selector, labels_of(p))
    ]
    where = f"{len(pods)} pod(s) of" if pods else "the pod template of"
    specs = pods or [mapping(mapping(tspec.get("template")).get("spec"))]
    for metric in mappings(mapping(h.obj.get("spec")).get("metrics")):
        source = mapping(metric.get("resource")) or mapping(metric.get("containerResource"))
        if mapping(source.get("target")).get("type") != "Utilization":
            continue
        res, only = str(source.get("name")), source.get("container")
        lacking: set[str] = set()
        for spec in specs:
            if not only and res in mapping(mapping(spec.get("resources")).get("requests")):
                continue
            inits = mappings(spec.get("initContainers"))
            for c in [*mappings(spec.get("containers")), *(i for i in inits if _sidecar(i))]:
                requests = mapping(mapping(c.get("resources")).get("requests"))
                if (not only or c.get("name") == only) and res not in requests:
                    lacking.add(str(c.get("name")))
        if lacking:
            names = ", ".join(sorted(lacking))
            return res, f"container(s) {names} in {where} {h.target.kind} {h.target.name}"
    return "", ""


def _sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def _selector(value: Any) -> dict[str, Any]:
    """A LabelSelector with every part of the expected type, for ``label_selector_matches``."""
    sel = mapping(value)
    exprs = [
        {**e, "values": e["values"] if isinstance(e.get("values"), list) else []}
        for e in mappings(sel.get("matchExpressions"))
    ]
    return {"matchLabels": mapping(sel.get("matchLabels")), "matchExpressions": exprs}


def _api_state(state: ClusterState, api: str) -> str:
    if not state.has("apiservices"):
        return f"could not read APIServices to tell whether {api} is served"
    svc = state.get("APIService", None, api)
    if svc is None:
        return f"APIService {api} does not exist: {PROVIDER[api]} is not installed"
    cond = _cond(svc, "Available")
    if cond.get("status") != "True":
        return (
            f"APIService {api} is not Available ({cond.get('reason')}: {cond.get('message')}): "
            f"{PROVIDER[api]} is installed but not serving"
        )
    return f"APIService {api} is Available, yet returned no usable metrics for the target's pods"


def _cond_lines(cond: Obj) -> tuple[str, ...]:
    if not cond:
        return ()
    return (f"{cond.get('type')}={cond.get('status')} {cond.get('reason')}: {cond.get('message')}",)


def _metrics_now(obj: Obj) -> str:
    parts = []
    for m in mappings(mapping(obj.get("status")).get("currentMetrics")):
        body = next((v for k, v in m.items() if k != "type" and isinstance(v, dict)), {})
        now = mapping(body.get("current"))
        label = body.get("name") or mapping(body.get("metric")).get("name") or m.get("type")
        if now.get("averageUtilization") is not None:
            parts.append(f"{label} at {now['averageUtilization']}% of request")
        elif now.get("averageValue") is not None:
            parts.append(f"{label} at {now['averageValue']} per pod")
        elif now.get("value") is not None:
            parts.append(f"{label} at {now['value']}")
    return ", ".join(parts) or "no current metrics"


CHECK = Check(
    id=ID,
    title="HorizontalPodAutoscalers that cannot scale, or are pinned at their limits",
    severity=Severity.WARNING,
    kinds=("horizontalpodautoscalers",),
    optional_kinds=("deployments", "statefulsets", "replicasets", "pods", "events", "apiservices"),
    causes=("target-missing", "metrics-unavailable", "missing-requests", "maxed-out", "below-min"),
    run=hpa,
)
