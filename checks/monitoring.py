"""monitoring: the ServiceMonitor that has Prometheus scrape Logos selects Logos, on a real port.

The production guide has the chart create a ServiceMonitor in namespace ``monitoring``
(``monitoring.namespace`` in the config) for the ``logos_*`` metrics.  The Prometheus
Operator turns it into scrape targets: the Services in the namespaces its
``namespaceSelector`` allows (its own namespace when unset) whose labels match its
``selector``, on each endpoint's named ``port``.  A selector that matches nothing, or a port
name no Service has, yields no target and no error anywhere: the dashboards just go blank.

The Logos Services are those carrying the release labels (config ``releaseLabels``); the
Logos ServiceMonitor is one that selects them, or one carrying those labels itself.  A run
scoped to ``-n logos`` lists the ServiceMonitors of the monitoring namespace too (the scope's
``also``); nothing is said when the CRD is not served or that namespace could not be listed:
what was not seen is not judged.

With ``monitoring.prometheusUrl`` set, the fetch phase asks Prometheus's own API
(``logos_doctor.cluster.prometheus``) and this check reads its answer from the state: a
Prometheus that could not be asked is one finding; a Logos target Prometheus scrapes and
finds down is reported with Prometheus's ``lastError``; a Logos ServiceMonitor with no
target at all means that Prometheus does not pick it up; and the guide's key metrics with no
series mean empty dashboards.  Logos targets are those whose ``namespace``/``service`` labels
name a Logos Service, or whose scrape pool is a Logos ServiceMonitor's
(``serviceMonitor/<namespace>/<name>/<endpoint>``, prometheus-operator
pkg/prometheus/promcfg.go).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from logos_doctor.cause import Cause, Causes
from logos_doctor.cluster.prometheus import KEY_METRICS
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, labels_of, mapping, mappings, name, namespace
from logos_doctor.registry import Check
from logos_doctor.selectors import label_selector_matches
from logos_doctor.state import ClusterState

CAUSES = Causes(
    "monitoring",
    Cause(
        "servicemonitor-missing",
        Severity.WARNING,
        "No ServiceMonitor selects the Logos Services",
        remediation=(
            "Enable monitoring.serviceMonitor in the Helm values (namespace {namespace}), "
            "or create a ServiceMonitor there whose selector matches the Logos Services."
        ),
    ),
    Cause(
        "selector-mismatch",
        Severity.WARNING,
        "The Logos ServiceMonitor selects no Logos Service",
        remediation=(
            "Make spec.selector match the Services' labels ({labels}) and "
            "spec.namespaceSelector allow namespace {service_namespace}."
        ),
    ),
    Cause(
        "port-missing",
        Severity.WARNING,
        "The ServiceMonitor scrapes a port name the selected Services do not have",
        remediation=(
            "Set the endpoint's port to a port name the Services have ({ports}), or add the "
            "metrics port to the Services."
        ),
    ),
    Cause(
        "prometheus-unreachable",
        Severity.WARNING,
        "Prometheus could not be asked about the Logos targets",
        remediation=(
            "Check monitoring.prometheusUrl ({url}) and that it reaches Prometheus from here "
            "(kubectl port-forward -n {namespace} svc/prometheus-operated 9090)."
        ),
    ),
    Cause(
        "target-down",
        Severity.WARNING,
        "Prometheus cannot scrape a Logos target",
        remediation=(
            "Fix what Prometheus's last error names: the pod's metrics endpoint, a "
            "NetworkPolicy, or the port, path or scheme of the ServiceMonitor endpoint."
        ),
    ),
    Cause(
        "no-targets",
        Severity.WARNING,
        "Prometheus has no target for the Logos ServiceMonitor",
        remediation=(
            "Make the Prometheus resource select ServiceMonitor {servicemonitor}: its "
            "serviceMonitorSelector must match the ServiceMonitor's labels and its "
            "serviceMonitorNamespaceSelector its namespace."
        ),
    ),
    Cause(
        "metrics-missing",
        Severity.WARNING,
        "The key Logos metrics have no series in Prometheus",
        remediation=(
            "Check that the Logos pods export {metrics} on the scraped port and path, and "
            "that no metricRelabelings drop them."
        ),
    ),
)


def monitoring(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Compare the ServiceMonitors with the Logos Services; read what Prometheus said."""
    mon_ns = config.monitoring_namespace
    release = dict(config.release_labels)
    services = [s for s in state.in_scope("services") if release.items() <= labels_of(s).items()]
    if not services:
        return
    seen = state.has("servicemonitors") and state.scope.lists("servicemonitors", mon_ns)
    monitors = sorted(
        (
            m
            for m in state.list_of("servicemonitors")
            if state.scope.lists("servicemonitors", namespace(m))
        ),
        key=lambda m: (namespace(m) or "", name(m)),
    )
    by_namespace: dict[str | None, list[int]] = {}  # so that N monitors x M Services is not
    for i, svc in enumerate(services):  # tried pair by pair (7 s at 950 x 6,650)
        by_namespace.setdefault(namespace(svc), []).append(i)
    ours: list[tuple[Obj, list[Obj]]] = []
    broken: set[ObjectRef] = set()  # ServiceMonitors whose own finding explains no target
    missing: ObjectRef | None = None
    if seen:
        for sm in monitors:
            matched = [s for s in _candidates(sm, services, by_namespace) if selects(sm, s)]
            if matched:
                ours.append((sm, matched))
            elif namespace(sm) == mon_ns and release.items() <= labels_of(sm).items():
                broken.add(ObjectRef.of("ServiceMonitor", sm))
                yield _mismatch(sm, services)
        for sm, matched in ours:
            for finding in _ports(sm, matched):
                broken.add(finding.resource)
                yield finding
        if not ours and not broken:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(release.items()))
            missing = ObjectRef("ServiceMonitor", mon_ns, "(logos)")
            # No such namespace: monitoring is set up elsewhere or not at all; say so, mildly.
            absent = state.has("namespaces") and all(
                name(n) != mon_ns for n in state.list_of("namespaces")
            )
            where = f"namespace {mon_ns} (config monitoring.namespace) does not exist; " * absent
            yield CAUSES["servicemonitor-missing"].finding(
                resource=missing,
                message=f"no ServiceMonitor selects the {len(services)} Logos Service(s) "
                f"({shown}): {where}Prometheus does not scrape Logos; {len(monitors)} "
                "ServiceMonitor(s) seen",
                evidence=tuple(f"{namespace(m)}/{name(m)}" for m in monitors[:5]),
                severity=Severity.INFO if absent else None,
                namespace=mon_ns,
            )
    if state.prometheus is not None:
        yield from _prometheus(state.prometheus, services, ours, broken, missing, mon_ns)


def _candidates(
    sm: Obj, services: list[Obj], by_namespace: dict[str | None, list[int]]
) -> list[Obj]:
    """The Services in the namespaces ``sm`` may select from, in ``services`` order."""
    ns_sel = mapping(mapping(sm.get("spec")).get("namespaceSelector"))
    if ns_sel.get("any"):
        return services
    allowed: list[str | None] = [n for n in _list(ns_sel.get("matchNames")) if isinstance(n, str)]
    found = sorted({i for n in (allowed or [namespace(sm)]) for i in by_namespace.get(n, [])})
    return [services[i] for i in found]


def selects(sm: Obj, svc: Obj) -> bool:
    """Whether the Prometheus Operator would take ``svc`` as a target of ``sm``."""
    spec = mapping(sm.get("spec"))
    ns_sel = mapping(spec.get("namespaceSelector"))
    if not ns_sel.get("any"):
        allowed: list[str | None] = [
            n for n in _list(ns_sel.get("matchNames")) if isinstance(n, str)
        ]
        if namespace(svc) not in (allowed or [namespace(sm)]):
            return False
    return label_selector_matches(
        mapping(spec.get("selector")), labels_of(svc), empty_matches_all=True
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mismatch(sm: Obj, services: list[Obj]) -> Finding:
    spec = mapping(sm.get("spec"))
    sample = services[0]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(labels_of(sample).items()))
    selector = mapping(spec.get("selector"))
    ns_sel = mapping(spec.get("namespaceSelector")) or {"(unset)": f"only {namespace(sm)}"}
    return CAUSES["selector-mismatch"].finding(
        resource=ObjectRef.of("ServiceMonitor", sm),
        message=f"ServiceMonitor {name(sm)} selects none of the {len(services)} Logos "
        f"Service(s): selector {_show(selector)}, namespaceSelector {_show(ns_sel)}",
        evidence=tuple(
            f"Service {namespace(s)}/{name(s)} labels "
            + ", ".join(f"{k}={v}" for k, v in sorted(labels_of(s).items()))
            for s in services[:3]
        ),
        labels=labels,
        service_namespace=namespace(sample),
    )


def _show(value: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) + "}"


def _ports(sm: Obj, matched: list[Obj]) -> Iterator[Finding]:
    have = {
        str(p.get("name"))
        for s in matched
        for p in mappings(mapping(s.get("spec")).get("ports"))
        if p.get("name")
    }
    for ep in mappings(mapping(sm.get("spec")).get("endpoints")):
        port = ep.get("port")
        if not isinstance(port, str) or not port or port in have:
            continue
        ports = ", ".join(sorted(have)) or "none named"
        yield CAUSES["port-missing"].finding(
            resource=ObjectRef.of("ServiceMonitor", sm),
            message=f"ServiceMonitor {name(sm)} scrapes port {port!r}, which none of the "
            f"{len(matched)} Service(s) it selects has (they have {ports}): no target",
            evidence=tuple(
                f"Service {namespace(s)}/{name(s)} ports "
                + ", ".join(
                    f"{p.get('name') or '-'}/{p.get('port')}"
                    for p in mappings(mapping(s.get("spec")).get("ports"))
                )
                for s in matched[:3]
            ),
            ports=ports,
        )


# -- what Prometheus said ------------------------------------------------------------------


def _prometheus(
    answer: Mapping[str, Any],
    services: list[Obj],
    ours: list[tuple[Obj, list[Obj]]],
    broken: set[ObjectRef],
    missing: ObjectRef | None,
    mon_ns: str,
) -> Iterator[Finding]:
    url = str(answer.get("url") or "Prometheus")
    ref = ObjectRef("Prometheus", None, url)
    if answer.get("error"):
        yield CAUSES["prometheus-unreachable"].finding(
            resource=ref,
            message=f"Prometheus at {url} could not be asked whether Logos is scraped: "
            f"{answer['error']}",
            url=url,
            namespace=mon_ns,
        )
        return
    logos = {(namespace(s), name(s)) for s in services}
    pools = {f"serviceMonitor/{namespace(sm)}/{name(sm)}/": sm for sm, _ in ours}
    targets = [
        t
        for t in mappings(answer.get("targets"))
        if (_label(t, "namespace"), _label(t, "service")) in logos
        or any(str(t.get("scrapePool", "")).startswith(p) for p in pools)
    ]
    # Down targets, per Service (or scrape pool).  Prometheus's target health
    # (prometheus/prometheus scrape/target.go TargetHealth): "up", "down", or "unknown" for
    # a target not scraped yet, which is not judged.
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = defaultdict(list)
    for t in targets:
        svc = _label(t, "service")
        key = (_label(t, "namespace"), svc) if svc else (None, str(t.get("scrapePool")))
        groups[key].append(t)
    down_refs: list[ObjectRef] = []
    for (ns, who), group in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        down = [t for t in group if t.get("health") == "down"]
        if not down:
            continue
        where = ObjectRef("Service", ns, who) if ns else ObjectRef("ScrapePool", None, who)
        down_refs.append(where)
        first = str(down[0].get("lastError") or "no error recorded")
        yield CAUSES["target-down"].finding(
            resource=where,
            message=f"Prometheus cannot scrape {len(down)} of {len(group)} target(s) of "
            f"{where.kind} {who}: {first}",
            evidence=tuple(
                f"{t.get('scrapeUrl')}"
                + (f" (pod {_label(t, 'pod')})" if _label(t, "pod") else "")
                + f": {t.get('lastError') or 'no error recorded'}"
                + (f", last scrape {t.get('lastScrape')}" if t.get("lastScrape") else "")
                for t in down[:5]
            ),
            # The pods scraped, and the Service: a crashing pod or a Service without ready
            # endpoints (their own findings) explain a failed scrape.
            depends_on=tuple(
                ObjectRef("Pod", ns, str(_label(t, "pod"))) for t in down if _label(t, "pod")
            )
            + ((where,) if where.kind == "Service" else ()),
        )
    # A Logos ServiceMonitor that is fine by itself while Prometheus has no Logos target at
    # all: the Prometheus resource does not pick it up (a target of another job would do).
    no_target: list[ObjectRef] = []
    kept = mappings(answer.get("targets"))
    cut = int(answer.get("targetsTotal") or 0) > len(kept)  # more than the fetch keeps
    for prefix, sm in sorted(pools.items()) if not targets and not cut else ():
        sm_ref = ObjectRef.of("ServiceMonitor", sm)
        if sm_ref in broken:
            continue
        no_target.append(sm_ref)
        yield CAUSES["no-targets"].finding(
            resource=sm_ref,
            message=f"Prometheus at {url} has no target for ServiceMonitor "
            f"{namespace(sm)}/{name(sm)} (no scrape pool {prefix}*): the Prometheus resource "
            "does not select it",
            evidence=(f"{len(kept)} active target(s) seen for the namespaces in scope",),
            servicemonitor=f"{namespace(sm)}/{name(sm)}",
        )
    # The guide's key metrics: series in a Logos namespace (or with no namespace label).
    spaces = {namespace(s) for s in services}
    have = {
        str(s.get("metric"))
        for s in mappings(answer.get("series"))
        if (s.get("namespace") is None or s.get("namespace") in spaces) and s.get("count")
    }
    absent = [m for m in KEY_METRICS if m not in have]
    if not absent:
        return
    causes = [*down_refs, *no_target, *sorted(broken)]
    if missing is not None:
        causes.append(missing)
    every = len(absent) == len(KEY_METRICS)
    yield CAUSES["metrics-missing"].finding(
        resource=ref,
        message=f"{len(absent)} of the {len(KEY_METRICS)} key Logos metrics have no series "
        f"in Prometheus at {url}: {', '.join(absent)}"
        + (
            ""
            if every
            else " (a counter with labels has no series until first counted; the others do)"
        ),
        evidence=(
            f"{len(targets)} Logos target(s), "
            f"{sum(1 for t in targets if t.get('health') == 'up')} up",
            *(f"{m}: series" for m in KEY_METRICS if m in have),
        ),
        depends_on=tuple(causes) + tuple(ObjectRef.of("Service", s) for s in services),
        # Some present, some not: the ones absent may simply not have been counted yet.
        severity=None if every else Severity.INFO,
        metrics=", ".join(absent),
    )


def _label(target: Mapping[str, Any], key: str) -> str | None:
    value = mapping(target.get("labels")).get(key)
    return str(value) if value else None


CHECK = Check(
    id="monitoring",
    title="Prometheus scrapes Logos: ServiceMonitor, targets up, key metrics present",
    severity=Severity.WARNING,
    kinds=("services",),
    optional_kinds=("servicemonitors",),
    causes=CAUSES,
    run=monitoring,
)
