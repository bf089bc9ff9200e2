"""monitoring: the ServiceMonitor that has Prometheus scrape Logos selects Logos, on a real port.

The production guide has the chart create a ServiceMonitor in namespace ``monitoring``
(``monitoring.namespace`` in the config) for the ``logos_*`` metrics.  The Prometheus
Operator turns it into scrape targets: the Services in the namespaces its
``namespaceSelector`` allows (its own namespace when unset) whose labels match its
``selector``, on each endpoint's named ``port``.  A selector that matches nothing, or a port
name no Service has, yields no target and no error anywhere: the dashboards just go blank.

The Logos Services are those carrying the release labels (config ``releaseLabels``); the
Logos ServiceMonitor is one that selects them, or one carrying those labels itself.  Nothing
is said when the ServiceMonitor CRD is not served or the monitoring namespace was not
fetched (a run scoped to ``-n logos``; use ``-A``): what was not seen is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from logos_doctor.cause import Cause, Causes
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
)


def monitoring(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Compare the ServiceMonitors with the Logos Services they should scrape."""
    mon_ns = config.monitoring_namespace
    if not state.has("servicemonitors") or not state.scope.includes(mon_ns):
        return
    release = dict(config.release_labels)
    services = [s for s in state.in_scope("services") if release.items() <= labels_of(s).items()]
    if not services:
        return
    monitors = sorted(
        state.in_scope("servicemonitors"), key=lambda m: (namespace(m) or "", name(m))
    )
    ours = []
    for sm in monitors:
        matched = [s for s in services if selects(sm, s)]
        if matched:
            ours.append((sm, matched))
        elif namespace(sm) == mon_ns and release.items() <= labels_of(sm).items():
            yield _mismatch(sm, services)
    for sm, matched in ours:
        yield from _ports(sm, matched)
    if not ours and not any(
        namespace(sm) == mon_ns and release.items() <= labels_of(sm).items() for sm in monitors
    ):
        shown = ", ".join(f"{k}={v}" for k, v in sorted(release.items()))
        yield CAUSES["servicemonitor-missing"].finding(
            resource=ObjectRef("ServiceMonitor", mon_ns, "(logos)"),
            message=f"no ServiceMonitor selects the {len(services)} Logos Service(s) ({shown}): "
            f"Prometheus does not scrape Logos; {len(monitors)} ServiceMonitor(s) seen",
            evidence=tuple(f"{namespace(m)}/{name(m)}" for m in monitors[:5]),
            affected=tuple(ObjectRef.of("Service", s) for s in services),
            namespace=mon_ns,
        )


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
        affected=tuple(ObjectRef.of("Service", s) for s in services),
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
            affected=tuple(ObjectRef.of("Service", s) for s in matched),
            ports=ports,
        )


CHECK = Check(
    id="monitoring",
    title="The ServiceMonitor selects the Logos Services on a port they have",
    severity=Severity.WARNING,
    kinds=("services",),
    optional_kinds=("servicemonitors",),
    causes=CAUSES,
    run=monitoring,
)
