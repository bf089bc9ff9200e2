"""Scenarios for ``logos-doctor fix pvc``: the Logos databases stuck on their claims.

Only the stateful part of Logos is deployed (PostgreSQL and Redis StatefulSets, their
Services and Secrets): that is what the fix touches, and it comes up in seconds.  The class
the config expects is ``ssd-<ns>`` (the per-namespace stand-in for ``ssd-premium``); when a
scenario creates it, it is labelled for ``cleanup_cluster_scoped``.
"""

from __future__ import annotations

import copy
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .. import logos_stack
from ..kube import wait_for
from ..nodes import fake_node
from . import OWNER_LABEL, scenario
from .storage import class_name, events_with, make_class, storage_config

STATEFUL_SECRETS = ("logos-db-credentials", "logos-redis-credentials")
STATEFUL_SERVICES = ("logos-postgresql", "logos-postgresql-hl", "logos-redis-master",
                     "logos-redis-headless")
POSTGRES, REDIS = "logos-postgresql", "logos-redis-master"
POOL_LABEL, SHARED_POOL = "logos.test/pool", "general"


def typo_class(namespace: str) -> str:
    """A class name one letter off the expected one, which never exists."""
    return f"ssd-{namespace}-premum"


def stateful_manifests(namespace: str, storage_class: str, *,
                       template_classes: dict[str, str] | None = None,
                       replicas: dict[str, int] | None = None,
                       only: tuple[str, ...] = (POSTGRES, REDIS),
                       pool: str = SHARED_POOL) -> list[dict]:
    """The Secrets, Services and StatefulSets of Logos's databases.

    The pods are pinned to the node pool ``pool`` (the shared general pool by default):
    other tests create and delete throwaway nodes, and a database pod scheduled onto one of
    them would hang Pending on a vanished node, which is not the fault under test.
    """
    out = []
    for obj in logos_stack.manifests(namespace, storage_class=storage_class):
        kind, name = obj["kind"], obj["metadata"]["name"]
        if name in {"Secret": STATEFUL_SECRETS, "Service": STATEFUL_SERVICES}.get(kind, ()):
            out.append(obj)
        elif kind == "StatefulSet" and name in only:
            obj = copy.deepcopy(obj)
            pod_spec = obj["spec"]["template"]["spec"]
            pod_spec["nodeSelector"] = {POOL_LABEL: pool}
            if pool != SHARED_POOL:
                pod_spec["tolerations"] = [{"key": POOL_LABEL, "operator": "Equal",
                                            "value": pool, "effect": "NoSchedule"}]
            cls = (template_classes or {}).get(name)
            if cls:
                for tmpl in obj["spec"]["volumeClaimTemplates"]:
                    tmpl["spec"]["storageClassName"] = cls
            if replicas and name in replicas:
                obj["spec"]["replicas"] = replicas[name]
            out.append(obj)
    return out


def deploy_stateful(api: Any, namespace: str, storage_class: str, **kw: Any) -> None:
    """Create the databases' objects in ``namespace``."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    for obj in stateful_manifests(namespace, storage_class, **kw):
        if obj["kind"] == "Secret":
            core.create_namespaced_secret(namespace, obj)
        elif obj["kind"] == "Service":
            core.create_namespaced_service(namespace, obj)
        else:
            apps.create_namespaced_stateful_set(namespace, obj)


def claim_phase(api: Any, namespace: str, name: str) -> str | None:
    """A claim's phase, or None when it does not exist."""
    try:
        pvc = client.CoreV1Api(api).read_namespaced_persistent_volume_claim(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return pvc.status.phase


def pod_running(api: Any, namespace: str, name: str) -> bool:
    """Whether the pod exists and is Running."""
    try:
        pod = client.CoreV1Api(api).read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return pod.status.phase == "Running"


def wait_stuck(api: Any, namespace: str, claim: str, pod: str) -> None:
    """Wait until the PV controller and the scheduler have both given up on a claim."""
    wait_for(lambda: events_with(api, namespace, "ProvisioningFailed", claim), 60,
             f"ProvisioningFailed on {claim}")
    wait_for(lambda: events_with(api, namespace, "FailedScheduling", pod), 60,
             f"FailedScheduling on {pod}")


@scenario("fix_class_missing")
def fix_class_missing(api: Any, namespace: str) -> dict[str, Any]:
    """The databases deployed while the StorageClass they name does not exist."""
    deploy_stateful(api, namespace, class_name(namespace))
    wait_stuck(api, namespace, "data-logos-postgresql-0", "logos-postgresql-0")
    wait_stuck(api, namespace, "redis-data-logos-redis-master-0", "logos-redis-master-0")
    return storage_config(namespace)


@scenario("fix_mixed")
def fix_mixed(api: Any, namespace: str) -> dict[str, Any]:
    """The class is missing, and PostgreSQL's claim template names a typo of it as well.

    Redis recovers once the class exists; PostgreSQL's claim never can, and needs the
    orphan-cascade recreation with a corrected template.
    """
    deploy_stateful(api, namespace, class_name(namespace),
                    template_classes={POSTGRES: typo_class(namespace)})
    wait_stuck(api, namespace, "data-logos-postgresql-0", "logos-postgresql-0")
    wait_stuck(api, namespace, "redis-data-logos-redis-master-0", "logos-redis-master-0")
    return storage_config(namespace)


@scenario("fix_wrong_template_class")
def fix_wrong_template_class(api: Any, namespace: str) -> dict[str, Any]:
    """A bad values change: PostgreSQL's claim template now names a class that does not exist.

    The way it happens: PostgreSQL runs fine on ``ssd-<ns>``; someone edits the chart
    (a typo in the class, and 2 replicas) and, since claim templates are immutable, deletes
    the StatefulSet with ``--cascade=orphan`` and lets ``helm upgrade`` create it again.
    ``logos-postgresql-0`` is adopted and keeps running on its Bound claim; the new replica
    ``logos-postgresql-1`` waits forever on a claim of the missing class.
    """
    make_class(api, class_name(namespace), namespace)
    deploy_stateful(api, namespace, class_name(namespace))
    apps = client.AppsV1Api(api)
    wait_for(lambda: claim_phase(api, namespace, "data-logos-postgresql-0") == "Bound", 90,
             "data-logos-postgresql-0 to bind")
    wait_for(lambda: pod_running(api, namespace, "logos-postgresql-0"), 90,
             "logos-postgresql-0 to run")
    wait_for(lambda: (apps.read_namespaced_stateful_set(POSTGRES, namespace).status
                      .ready_replicas or 0) == 1, 90, f"{POSTGRES} ready")
    body = [o for o in stateful_manifests(
        namespace, class_name(namespace), template_classes={POSTGRES: typo_class(namespace)},
        replicas={POSTGRES: 2}) if o["kind"] == "StatefulSet" and o["metadata"]["name"] == POSTGRES]
    apps.delete_namespaced_stateful_set(
        POSTGRES, namespace, body=client.V1DeleteOptions(propagation_policy="Orphan"))

    def gone() -> bool:
        try:
            apps.read_namespaced_stateful_set(POSTGRES, namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, 60, f"{POSTGRES} to be deleted")
    apps.create_namespaced_stateful_set(namespace, body[0])
    wait_stuck(api, namespace, "data-logos-postgresql-1", "logos-postgresql-1")
    return storage_config(namespace)


@scenario("fix_databases_healthy")
def fix_databases_healthy(api: Any, namespace: str) -> dict[str, Any]:
    """Both databases Bound and Running on the expected class: nothing to fix."""
    make_class(api, class_name(namespace), namespace)
    deploy_stateful(api, namespace, class_name(namespace))
    for claim, pod in (("data-logos-postgresql-0", "logos-postgresql-0"),
                       ("redis-data-logos-redis-master-0", "logos-redis-master-0")):
        wait_for(lambda c=claim: claim_phase(api, namespace, c) == "Bound", 90, f"{claim} bound")
        wait_for(lambda p=pod: pod_running(api, namespace, p), 90, f"{pod} running")
    return storage_config(namespace)


@scenario("fix_selected_node_gone")
def fix_selected_node_gone(api: Any, namespace: str) -> dict[str, Any]:
    """PostgreSQL's claim waits for a volume on a node the scheduler chose, which then died.

    The class's provisioner is slow (absent here), so the node goes away before the volume
    exists; the claim keeps naming the dead node and can never be provisioned.
    """
    node = f"node-{namespace}"[:63]
    core = client.CoreV1Api(api)
    core.create_node(fake_node(
        node, {OWNER_LABEL: namespace, POOL_LABEL: namespace},
        taints=[{"key": POOL_LABEL, "value": namespace, "effect": "NoSchedule"}]))
    slow = f"slow-{namespace}"
    make_class(api, slow, namespace, provisioner="example.com/absent")
    deploy_stateful(api, namespace, slow, only=(POSTGRES,), pool=namespace)

    def selected() -> bool:
        pvc = core.read_namespaced_persistent_volume_claim("data-logos-postgresql-0", namespace)
        return (pvc.metadata.annotations or {}).get(
            "volume.kubernetes.io/selected-node") == node

    wait_for(selected, 60, "selected-node annotation on data-logos-postgresql-0")
    core.delete_node(node)
    wait_for(lambda: not [n for n in core.list_node().items if n.metadata.name == node], 30,
             f"node {node} to be deleted")
    config = storage_config(namespace)
    for claim in config["claims"]:
        if claim["statefulSet"] == POSTGRES:
            claim["storageClass"] = slow
    return config
