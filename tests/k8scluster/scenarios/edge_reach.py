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
