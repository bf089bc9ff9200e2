"""Named failure scenarios, built on the real test cluster by the real controllers.

A scenario is a function ``(api_client, namespace) -> dict | None`` registered with
``@scenario("name")``: it creates objects in a fresh namespace the way an operator (or a bad
release) would, waits until the controllers have written the state an on-call engineer would
see, and returns the logos-doctor config overrides the checks need for it (for example a
per-test StorageClass name), or None.

The same scenarios serve integration tests (built live, then ``logos-doctor check``) and
recorded fixtures (``python -m k8scluster.record NAME``), so unit tests run on state the real
control plane produced, never on hand-written objects.  Each area keeps its scenarios in its
own module here; ``load_all`` imports them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

# Cluster-scoped objects a scenario makes for its namespace carry this label, so that
# ``cleanup_cluster_scoped`` can remove them when the namespace goes.
OWNER_LABEL = "logos-test/namespace"

Scenario = Callable[[Any, str], "dict[str, Any] | None"]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario function under ``name``."""

    def register(fn: Scenario) -> Scenario:
        if name in SCENARIOS and SCENARIOS[name] is not fn:
            raise ValueError(f"scenario {name!r} registered twice")
        SCENARIOS[name] = fn
        return fn

    return register


def load_all() -> dict[str, Scenario]:
    """Import every scenario module in this package and return the registry."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return SCENARIOS


def cleanup_cluster_scoped(api_client: Any, namespace: str) -> None:
    """Delete the StorageClasses, Nodes, PVs, webhook configurations, IngressClasses and extra
    namespaces labelled as made for ``namespace``."""
    from kubernetes import client

    selector = f"{OWNER_LABEL}={namespace}"
    storage = client.StorageV1Api(api_client)
    for sc in storage.list_storage_class(label_selector=selector).items:
        storage.delete_storage_class(sc.metadata.name)
    core = client.CoreV1Api(api_client)
    for node in core.list_node(label_selector=selector).items:
        core.delete_node(node.metadata.name)
    for pv in core.list_persistent_volume(label_selector=selector).items:
        core.delete_persistent_volume(pv.metadata.name)
    admission = client.AdmissionregistrationV1Api(api_client)
    for vwc in admission.list_validating_webhook_configuration(label_selector=selector).items:
        admission.delete_validating_webhook_configuration(vwc.metadata.name)
    for mwc in admission.list_mutating_webhook_configuration(label_selector=selector).items:
        admission.delete_mutating_webhook_configuration(mwc.metadata.name)
    networking = client.NetworkingV1Api(api_client)
    for klass in networking.list_ingress_class(label_selector=selector).items:
        networking.delete_ingress_class(klass.metadata.name)
    # A second namespace a scenario needs (a monitoring namespace of its own).
    for extra in core.list_namespace(label_selector=selector).items:
        try:
            core.delete_namespace(extra.metadata.name, propagation_policy="Background")
        except client.exceptions.ApiException as exc:
            if exc.status not in (404, 409):  # gone, or already terminating
                raise
