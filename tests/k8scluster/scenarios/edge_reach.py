"""The Logos edge, continued: whose controller serves the Ingress, and a ServiceMonitor that
lives in a monitoring namespace of its own (as the guide has it), seen from a `-n logos` run.

IngressClasses are cluster-scoped: each scenario makes its own, named after its namespace
and labelled with `OWNER_LABEL`, so that `cleanup_cluster_scoped` removes them and no other
test's Ingress ever names one. No scenario marks a class default (that would change what
every other test's class-less Ingress gets). The monitoring namespace is `<ns>-mon`, labelled
the same way and removed with the test's namespace.

Names mislead on purpose: the class owned by another controller is called `<ns>-nginx`, and
the one ingress-nginx owns is `<ns>-traefik-compat`; the check must read `spec.controller`.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kubernetes import client

from .. import crds, logos_stack
from . import OWNER_LABEL, scenario
from .edge import RELEASE, create, create_servicemonitor, ingress, servicemonitor, web_services

NGINX = "k8s.io/ingress-nginx"  # ingress-nginx's --controller-class default
# The spec.controller of the IngressClass a Traefik install creates (its Helm chart's class).
TRAEFIK = "traefik.io/ingress-controller"


def ingress_class(namespace: str, name: str, controller: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": name, "labels": {OWNER_LABEL: namespace}},
        "spec": {"controller": controller},
    }


def monitoring_namespace(api: Any, namespace: str) -> str:
    """A namespace of the test's own for its ServiceMonitors (removed with the test's)."""
    name = f"{namespace}-mon"
    logos_stack._create(api, {"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": name, "labels": {OWNER_LABEL: namespace}}},
                        exist_ok=True)
    return name


@scenario("edge_ingress_class_other_controller")
def edge_ingress_class_other_controller(api: Any, namespace: str) -> dict[str, Any]:
    """Ingresses whose class exists but belongs to Traefik (by name and by the legacy
    annotation), and one whose oddly named class is ingress-nginx's (served: quiet)."""
    logos_stack._create(api, logos_stack.ingress_class_manifest(), exist_ok=True)
    foreign, ours = f"{namespace}-nginx", f"{namespace}-traefik-compat"
    create(api, [
        ingress_class(namespace, foreign, TRAEFIK),
        ingress_class(namespace, ours, NGINX),
        *web_services(namespace),
        ingress(namespace, "logos", "logos.example.com", None, class_name=foreign),
        ingress(namespace, "legacy", "legacy.logos.example.com", None, class_name=None,
                annotations={"kubernetes.io/ingress.class": foreign}),
        ingress(namespace, "served", "served.logos.example.com", None, class_name=ours),
    ])
    return {}


@scenario("edge_servicemonitor_elsewhere")
def edge_servicemonitor_elsewhere(api: Any, namespace: str) -> dict[str, Any]:
    """The Logos Services in the test namespace and, as the guide has it, their ServiceMonitor
    in a monitoring namespace: one that selects them on port http, and the chart's after a
    values typo (selects a component that does not exist)."""
    crds.ensure(api)
    mon = monitoring_namespace(api, namespace)
    create(api, web_services(namespace))
    create_servicemonitor(api, servicemonitor(
        mon, "logos", {"matchLabels": dict(RELEASE)}, "http", labels=dict(RELEASE),
        namespaces=[namespace]))
    create_servicemonitor(api, servicemonitor(
        mon, "logos-typo", {"matchLabels": {**RELEASE, "app.kubernetes.io/component": "webb"}},
        "http", labels=dict(RELEASE), namespaces=[namespace]))
    return {"monitoring": {"namespace": mon}}


def delete_servicemonitor(api: Any, namespace: str, name: str) -> None:
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        "monitoring.coreos.com", "v1", namespace, "servicemonitors", name)


# =========================================================================== Prometheus

# What a Logos pod exports before any tool was invoked: the labelled counter
# logos_tool_invocations_total (by category) has no series until first counted.
LOGOS_METRICS = """\
# HELP logos_chat_messages_total Total chat messages processed
# TYPE logos_chat_messages_total counter
logos_chat_messages_total 3
# HELP logos_completion_requests_total Completion API requests
# TYPE logos_completion_requests_total counter
logos_completion_requests_total 12
# HELP logos_mode_switches_total Aria mode switches
# TYPE logos_mode_switches_total counter
logos_mode_switches_total 1
"""


def logos_monitored(api: Any, namespace: str) -> str:
    """The Logos Services and, in a monitoring namespace, the ServiceMonitor selecting them."""
    crds.ensure(api)
    mon = monitoring_namespace(api, namespace)
    create(api, web_services(namespace))
    create_servicemonitor(api, servicemonitor(mon, "logos", {"matchLabels": dict(RELEASE)},
                                              "http", labels=dict(RELEASE),
                                              namespaces=[namespace]))
    return mon


# Prometheus and the stand-in endpoint a scenario starts live until the process exits (the
# recorder's, after its snapshot): a scenario returns before anything reads its state.
_RUNNING = contextlib.ExitStack()
atexit.register(_RUNNING.close)


@scenario("edge_prometheus_scraped")
def edge_prometheus_scraped(api: Any, namespace: str) -> dict[str, Any]:
    """The Logos Services, their ServiceMonitor in a monitoring namespace, and a REAL
    Prometheus (started here, scraping as the Prometheus Operator would for that
    ServiceMonitor): logos-web's pod answers with three of the four key metrics, logos-chat's
    refuses the connection, and a third target is not scraped yet (interval 1h: health
    "unknown")."""
    from promserver import (
        closed_port,
        metrics_endpoint,
        operator_job,
        running_prometheus,
        wait_scraped,
    )

    if shutil.which("prometheus") is None:
        raise RuntimeError("edge_prometheus_scraped needs prometheus (apt-get install prometheus)")
    mon = logos_monitored(api, namespace)
    web = _RUNNING.enter_context(metrics_endpoint(LOGOS_METRICS))
    tmp = Path(_RUNNING.enter_context(tempfile.TemporaryDirectory()))
    labels = {"namespace": namespace, "endpoint": "http"}
    job = operator_job(mon, "logos", 0, [
        (f"127.0.0.1:{web}", {**labels, "service": "logos-web", "pod": "logos-web-7d9f8-abcde"}),
        (f"127.0.0.1:{closed_port()}",
         {**labels, "service": "logos-chat", "pod": "logos-chat-5c8b4-fghij"}),
    ])
    later = operator_job(mon, "logos", 1, [
        (f"127.0.0.1:{web}", {**labels, "service": "logos-web", "pod": "logos-web-7d9f8-vwxyz"})])
    later["scrape_interval"] = "1h"
    url = _RUNNING.enter_context(running_prometheus(tmp, [job, later]))
    # Targets appear once discovery hands them over (it batches updates every 5 s).
    def scraped(targets: list[dict[str, Any]]) -> bool:
        first = [t for t in targets if t["scrapePool"] == f"serviceMonitor/{mon}/logos/0"]
        return len(first) == 2 and all(t["health"] != "unknown" for t in first)

    wait_scraped(url, scraped, "both targets of endpoint 0 scraped")
    return {"monitoring": {"namespace": mon, "prometheusUrl": url}}
