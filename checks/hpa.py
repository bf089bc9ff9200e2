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

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from logos_doctor.cause import Cause, Causes
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
from logos_doctor.selectors import label_selector_matches
from logos_doctor.state import ClusterState

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
# What the HPA controller's metrics clients return when the aggregated API itself is not
# served, as quoted in ScalingActive's message ("the HPA was unable to compute the replica
# count: %v", pkg/controller/podautoscaler/horizontal.go) behind "unable to fetch metrics from
# resource metrics API: %v" (pkg/controller/podautoscaler/metrics/client.go): the apiserver's
# 404 for an API no APIService registers, and its 503 for one whose backend is unavailable
# (k8s.io/apimachinery StatusError texts, with the "(get pods.metrics.k8s.io)" suffix).
API_NOT_SERVED = re.compile(
    r"the server could not find the requested resource|"
    r"the server is currently unable to handle the request"
)
# How many HPAs the metrics-unavailable finding names in its message.
SHOWN = 5

CAUSES = Causes(
    ID,
    Cause(
        "target-missing",
        Severity.WARNING,
        "The HPA's scale target does not exist or cannot be read",
        remediation=(
            "Point spec.scaleTargetRef at the workload (a rename in the chart usually left the "
            "HPA behind), or delete the HPA."
        ),
    ),
    Cause(
        "metrics-unavailable",
        Severity.WARNING,
        "The metrics API the HPAs read is not served: no HPA using it can scale",
        remediation=(
            "Install or repair {provider} so that APIService {api} is Available; the HPAs "
            "keep their current replica counts until then."
        ),
    ),
    Cause(
        "metrics-missing",
        Severity.WARNING,
        "The metrics API is served but returns no usable metrics for this HPA's pods",
        remediation=(
            "Read the HPA's ScalingActive message: {provider} answers, but not for these "
            "pods (too new, not Ready, not scraped, or the metric name is wrong)."
        ),
    ),
    Cause(
        "missing-requests",
        Severity.WARNING,
        "The HPA scales on utilization of a resource the pods do not request",
        remediation=(
            "Set resources.requests.{res} on every container of the target (or scale on an "
            "AverageValue target, which needs no request)."
        ),
    ),
    Cause(
        "maxed-out",
        Severity.WARNING,
        "The HPA is held at maxReplicas while its metrics ask for more",
        remediation=(
            "Raise maxReplicas if the nodes can take it, or find what drives the load; until "
            "then the service runs at its ceiling."
        ),
    ),
    Cause(
        "below-min",
        Severity.WARNING,
        "The target runs fewer replicas than the HPA's minReplicas",
        remediation="Read AbleToScale: the HPA could not update the target's scale.",
    ),
)


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


@dataclass(frozen=True)
class _MetricsFailure:
    """One HPA whose ScalingActive says it cannot read a metric, and which API serves it."""

    hpa: _Hpa
    api: str
    reason: str
    condition: dict[str, Any]
    evidence: tuple[str, ...]


def hpa(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Findings per HPA (target, requests, limits), and one per metrics API that is not served."""
    failures: dict[str, list[_MetricsFailure]] = {}
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
        for item in _one(state, h):
            if isinstance(item, _MetricsFailure):
                failures.setdefault(item.api, []).append(item)
            else:
                yield item
    for api, group in sorted(failures.items()):
        yield from _metrics(state, api, group)


def _metrics(state: ClusterState, api: str, group: list[_MetricsFailure]) -> Iterator[Finding]:
    """One ``metrics-unavailable`` for an API that is not served, with every HPA it stops.

    The API is not served when its APIService is missing or not Available, or, when the
    APIServices cannot be read, when every HPA reading it quotes the apiserver's "not found"
    or "unable to handle the request" for it.  Otherwise each HPA's failure is its own
    (``metrics-missing``): the API answers, just not for those pods.
    """
    served = _api_state(state, api)
    quoted = all(API_NOT_SERVED.search(str(f.condition.get("message") or "")) for f in group)
    if served is None and not (quoted and not state.has("apiservices")):
        for f in group:
            yield _hpa_finding(
                f.hpa,
                state,
                "metrics-missing",
                f"cannot read its metrics ({f.reason}): APIService {api} is Available, yet "
                "returned no usable metrics for the target's pods",
                (*_cond_lines(f.condition), *f.evidence),
                provider=PROVIDER[api],
            )
        return
    why = served or (
        f"could not read APIServices, but every HPA reading {api} gets the apiserver's "
        "answer for an API that is not served"
    )
    names = [f"{f.hpa.ref.namespace}/{f.hpa.ref.name}" for f in group]
    more = f" +{len(names) - SHOWN} more" if len(names) > SHOWN else ""
    yield CAUSES["metrics-unavailable"].finding(
        resource=ObjectRef("APIService", None, api),
        message=(
            f"metrics API {api} is not served ({why}); {len(group)} HPA(s) cannot scale: "
            f"{', '.join(names[:SHOWN])}{more}"
        ),
        evidence=(
            *(f"HPA {n}: {_cond_lines(f.condition)[0]}" for n, f in _first(names, group)),
            *((f"+{len(group) - 3} more HPA(s) like these",) if len(group) > 3 else ()),
            *group[0].evidence[:2],
        ),
        affected=tuple(f.hpa.ref for f in group),
        api=api,
        provider=PROVIDER[api],
    )


def _first(names: list[str], group: list[_MetricsFailure]) -> list[tuple[str, _MetricsFailure]]:
    return list(zip(names[:3], group[:3], strict=True))


def _hpa_finding(
    h: _Hpa, state: ClusterState, cause: str, message: str, extra: tuple[str, ...], **facts: Any
) -> Finding:
    target = state.get(h.target.kind, h.target.namespace, h.target.name)
    return CAUSES[cause].finding(
        resource=h.ref,
        parent=ObjectRef.of(h.target.kind, target) if target is not None else None,
        message=f"HPA {h.ref.name}: {message}",
        evidence=extra,
        **facts,
    )


def _one(state: ClusterState, h: _Hpa) -> Iterator[Finding | _MetricsFailure]:
    able = _cond(h.obj, "AbleToScale")
    active = _cond(h.obj, "ScalingActive")
    limited = _cond(h.obj, "ScalingLimited")
    plural = TARGETS.get(h.target.kind)
    target = state.get(h.target.kind, h.target.namespace, h.target.name)
    ev = evidence(state.events_for("HorizontalPodAutoscaler", h.obj), state.now, limit=3)

    def finding(cause: str, message: str, extra: tuple[str, ...] = (), **facts: Any) -> Finding:
        return _hpa_finding(h, state, cause, message, (*extra, *ev), **facts)

    gone = plural is not None and state.has(plural) and target is None
    if gone or (able.get("status") == "False" and able.get("reason") == "FailedGetScale"):
        yield finding(
            "target-missing",
            f"its scale target {h.target.kind} {h.target.name} "
            + ("does not exist" if gone else "cannot be read")
            + "; nothing is autoscaled",
            _cond_lines(able),
        )
        return
    res, lacking = _missing_requests(state, h, target)
    if res and target is not None:
        # About the workload, whose pod template lacks the request: it stays wrong once the
        # metrics API answers, so it is its own root, not a symptom of metrics-unavailable.
        yield CAUSES["missing-requests"].finding(
            resource=ObjectRef.of(h.target.kind, target),
            message=f"HPA {h.ref.name} scales on {res} utilization, but {lacking} request no "
            f"{res}: utilization is a percentage of the request, so the controller cannot "
            "compute it",
            evidence=(*_cond_lines(active), *ev),
            res=res,
        )
    reason = str(active.get("reason") or "")
    # "missing request" in the message is the requests problem, already reported above.
    requests_error = "missing request" in str(active.get("message")) and res
    if active.get("status") == "False" and reason in METRICS_API and not requests_error:
        yield _MetricsFailure(h, METRICS_API[reason], reason, active, ev)
    if h.current is not None and h.current < h.min:
        disabled = active.get("reason") == "ScalingDisabled"
        yield finding(
            "below-min",
            f"{h.current} replica(s), below minReplicas {h.min}"
            + ("; scaling is disabled because the target was scaled to 0" if disabled else ""),
            (*_cond_lines(active), *_cond_lines(able)),
            remediation="Scale the target back up (kubectl scale ... --replicas=<min>); the HPA "
            "leaves a target at 0 alone on purpose."
            if disabled
            else None,
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


def _api_state(state: ClusterState, api: str) -> str | None:
    """Why ``api`` is not served, from its APIService; None when it is Available or unknown."""
    if not state.has("apiservices"):
        return None
    svc = state.get("APIService", None, api)
    if svc is None:
        return f"APIService {api} does not exist: {PROVIDER[api]} is not installed"
    cond = _cond(svc, "Available")
    if cond.get("status") != "True":
        return (
            f"APIService {api} is not Available ({cond.get('reason')}: {cond.get('message')}): "
            f"{PROVIDER[api]} is installed but not serving"
        )
    return None


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
    causes=CAUSES,
    run=hpa,
)
