"""Storage scenarios: the Logos stack with its StorageClass missing, claims waiting, lost.

Each scenario uses a StorageClass named after its namespace (``ssd-<ns>``), labelled for
cleanup, so that tests in parallel namespaces never share or delete each other's class.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from .. import logos_stack
from ..kube import wait_for
from ..nodes import fake_node
from . import OWNER_LABEL, scenario

DEDICATED = "logos-test/dedicated"


def class_name(namespace: str) -> str:
    """The per-namespace stand-in for ``ssd-premium``."""
    return f"ssd-{namespace}"


def storage_config(namespace: str, **extra: Any) -> dict[str, Any]:
    """logos-doctor config overrides expecting the per-namespace class."""
    name = class_name(namespace)
    return {
        "storageClass": {"name": name},
        "claims": [
            {"statefulSet": "logos-postgresql", "template": "data", "size": "200Gi",
             "storageClass": name},
            {"statefulSet": "logos-redis-master", "template": "redis-data", "size": "50Gi",
             "storageClass": name},
        ],
        **extra,
    }


def make_class(api: Any, name: str, namespace: str, *, provisioner: str = logos_stack.PROVISIONER,
               binding_mode: str = "WaitForFirstConsumer") -> None:
    """Create a StorageClass labelled as made for ``namespace``."""
    manifest = logos_stack.storage_class_manifest(name, provisioner, binding_mode)
    manifest["metadata"]["labels"] = {OWNER_LABEL: namespace}
    client.StorageV1Api(api).create_storage_class(manifest)


def claim(namespace: str, name: str, storage_class: str | None, size: str = "10Gi") -> dict:
    """A plain PersistentVolumeClaim manifest."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def pod_with_claim(namespace: str, name: str, claim_name: str,
                   node_selector: dict[str, str] | None = None) -> dict:
    """A pod mounting ``claim_name`` (tolerating its namespace's dedicated node, if any)."""
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": "logos/worker:1.0",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
        spec["tolerations"] = [{"key": DEDICATED, "operator": "Equal", "value": namespace,
                                "effect": "NoSchedule"}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": spec}


def events_with(api: Any, namespace: str, reason: str, name: str | None = None) -> list[Any]:
    """Events in ``namespace`` with ``reason`` (about object ``name`` when given)."""
    items = client.CoreV1Api(api).list_namespaced_event(namespace).items
    return [e for e in items if e.reason == reason
            and (name is None or e.involved_object.name == name)]


@scenario("healthy_logos")
def healthy_logos(api: Any, namespace: str) -> dict[str, Any]:
    """The whole Logos stack, healthy, on its own StorageClass."""
    make_class(api, class_name(namespace), namespace)
    logos_stack.deploy(api, namespace, storage_class=class_name(namespace),
                       create_storage_class=False, create_namespace=False)
    logos_stack.wait_healthy(api, namespace, timeout=120)
    return storage_config(namespace)


@scenario("storage_class_missing")
def storage_class_missing(api: Any, namespace: str) -> dict[str, Any]:
    """Logos deployed while its StorageClass does not exist: the guide's headline outage."""
    logos_stack.deploy(api, namespace, storage_class=class_name(namespace),
                       create_storage_class=False, create_namespace=False)
    for pvc in ("data-logos-postgresql-0", "redis-data-logos-redis-master-0"):
        wait_for(lambda pvc=pvc: events_with(api, namespace, "ProvisioningFailed", pvc), 60,
                 f"ProvisioningFailed on {pvc}")
    wait_for(lambda: events_with(api, namespace, "FailedScheduling", "logos-postgresql-0"), 60,
             "FailedScheduling on logos-postgresql-0")
    return storage_config(namespace)


@scenario("waiting_for_consumer")
def waiting_for_consumer(api: Any, namespace: str) -> dict[str, Any]:
    """A claim on a WaitForFirstConsumer class that no pod uses yet: expected, not a fault."""
    make_class(api, class_name(namespace), namespace)
    client.CoreV1Api(api).create_namespaced_persistent_volume_claim(
        namespace, claim(namespace, "scratch", class_name(namespace)))
    wait_for(lambda: events_with(api, namespace, "WaitForFirstConsumer", "scratch"), 60,
             "WaitForFirstConsumer on scratch")
    return storage_config(namespace)


@scenario("waiting_for_provisioner")
def waiting_for_provisioner(api: Any, namespace: str) -> dict[str, Any]:
    """A class whose provisioner runs nowhere: the claim waits on ExternalProvisioning."""
    make_class(api, class_name(namespace), namespace)  # the Logos class exists here
    name = f"absent-{namespace}"
    make_class(api, name, namespace, provisioner="example.com/absent", binding_mode="Immediate")
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(namespace, claim(namespace, "uploads", name))
    core.create_namespaced_pod(namespace, pod_with_claim(namespace, "uploader", "uploads"))
    wait_for(lambda: events_with(api, namespace, "ExternalProvisioning", "uploads"), 60,
             "ExternalProvisioning on uploads")
    wait_for(lambda: events_with(api, namespace, "FailedScheduling", "uploader"), 60,
             "FailedScheduling on uploader")
    return storage_config(namespace)


@scenario("no_storage_class")
def no_storage_class(api: Any, namespace: str) -> dict[str, Any]:
    """A claim that explicitly asks for no class (""), with no volume to bind to."""
    make_class(api, class_name(namespace), namespace)  # the Logos class exists here
    client.CoreV1Api(api).create_namespaced_persistent_volume_claim(
        namespace, claim(namespace, "static-data", ""))
    wait_for(lambda: events_with(api, namespace, "FailedBinding", "static-data"), 60,
             "FailedBinding on static-data")
    return storage_config(namespace)


@scenario("selected_node_gone")
def selected_node_gone(api: Any, namespace: str) -> dict[str, Any]:
    """The scheduler picked a node for a WaitForFirstConsumer claim, then the node went away."""
    make_class(api, class_name(namespace), namespace)  # the Logos class exists here
    node = f"node-{namespace}"[:63]
    core = client.CoreV1Api(api)
    # Tainted, so no other test's pod lands on a node that this scenario deletes.
    taint = {"key": DEDICATED, "value": namespace, "effect": "NoSchedule"}
    core.create_node(fake_node(node, {OWNER_LABEL: namespace, "logos-test/pool": namespace},
                               taints=[taint]))
    name = f"slow-{namespace}"
    make_class(api, name, namespace, provisioner="example.com/absent")
    core.create_namespaced_persistent_volume_claim(namespace, claim(namespace, "cache", name))
    core.create_namespaced_pod(namespace, pod_with_claim(
        namespace, "cacher", "cache", node_selector={"logos-test/pool": namespace}))

    def selected() -> bool:
        pvc = core.read_namespaced_persistent_volume_claim("cache", namespace)
        return (pvc.metadata.annotations or {}).get("volume.kubernetes.io/selected-node") == node

    wait_for(selected, 60, "selected-node annotation on cache")
    core.delete_node(node)
    wait_for(lambda: not [n for n in core.list_node().items if n.metadata.name == node], 30,
             f"node {node} to be deleted")
    return storage_config(namespace)


@scenario("claim_lost")
def claim_lost(api: Any, namespace: str) -> dict[str, Any]:
    """A Bound claim whose PersistentVolume was deleted from under it."""
    make_class(api, class_name(namespace), namespace)  # the Logos class exists here
    core = client.CoreV1Api(api)
    pv_name = f"pv-{namespace}"[:63]
    core.create_persistent_volume({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "labels": {OWNER_LABEL: namespace}},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                 "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": f"vol-{namespace}"}},
    })
    pvc = claim(namespace, "archive", "")
    pvc["spec"]["volumeName"] = pv_name
    core.create_namespaced_persistent_volume_claim(namespace, pvc)
    wait_for(lambda: core.read_namespaced_persistent_volume_claim("archive", namespace)
             .status.phase == "Bound", 60, "archive to bind")
    # Delete first, then drop pv-protection: removed earlier, its controller adds it back.
    core.delete_persistent_volume(pv_name)
    core.patch_persistent_volume(pv_name, {"metadata": {"finalizers": None}})
    wait_for(lambda: core.read_namespaced_persistent_volume_claim("archive", namespace)
             .status.phase == "Lost", 60, "archive to be Lost")
    return storage_config(namespace)


@scenario("storage_class_drift")
def storage_class_drift(api: Any, namespace: str) -> dict[str, Any]:
    """The class exists but was created by hand with gp2, Immediate binding, no expansion."""
    manifest = logos_stack.storage_class_manifest(class_name(namespace), logos_stack.PROVISIONER,
                                                  "Immediate")
    manifest["metadata"]["labels"] = {OWNER_LABEL: namespace}
    manifest["parameters"] = {"type": "gp2", "encrypted": "true"}
    manifest["allowVolumeExpansion"] = False
    client.StorageV1Api(api).create_storage_class(manifest)
    return storage_config(namespace)


@scenario("claim_template_typo")
def claim_template_typo(api: Any, namespace: str) -> dict[str, Any]:
    """The chart was released with a typo in the claim templates' class name."""
    make_class(api, class_name(namespace), namespace)
    typo = f"ssd-premum-{namespace}"
    logos_stack.deploy(api, namespace, storage_class=class_name(namespace),
                       claim_storage_class=typo, create_storage_class=False,
                       create_namespace=False)
    wait_for(lambda: events_with(api, namespace, "ProvisioningFailed",
                                 "data-logos-postgresql-0"), 60, "ProvisioningFailed")
    return storage_config(namespace)


@scenario("multiple_default_classes")
def multiple_default_classes(api: Any, namespace: str) -> dict[str, Any]:
    """Two classes marked default (a second add-on installed its own)."""
    make_class(api, class_name(namespace), namespace)
    storage = client.StorageV1Api(api)
    for name in (f"gp2-{namespace}", f"standard-{namespace}"):
        manifest = logos_stack.storage_class_manifest(name, logos_stack.PROVISIONER)
        manifest["metadata"]["labels"] = {OWNER_LABEL: namespace}
        manifest["metadata"]["annotations"] = {
            "storageclass.kubernetes.io/is-default-class": "true"}
        storage.create_storage_class(manifest)
    return storage_config(namespace)


@scenario("provisioning_failed")
def provisioning_failed(api: Any, namespace: str) -> dict[str, Any]:
    """A class whose volume type EC2 rejects: the provisioner's ProvisioningFailed repeats."""
    make_class(api, class_name(namespace), namespace)
    name = f"gp9-{namespace}"
    manifest = logos_stack.storage_class_manifest(name, logos_stack.PROVISIONER, "Immediate")
    manifest["metadata"]["labels"] = {OWNER_LABEL: namespace}
    manifest["parameters"]["type"] = "gp9"
    client.StorageV1Api(api).create_storage_class(manifest)
    client.CoreV1Api(api).create_namespaced_persistent_volume_claim(
        namespace, claim(namespace, "reports", name))
    wait_for(lambda: events_with(api, namespace, "ProvisioningFailed", "reports"), 60,
             "ProvisioningFailed on reports")
    return storage_config(namespace)


@scenario("no_default_class")
def no_default_class(api: Any, namespace: str) -> dict[str, Any]:
    """A claim that names no class, in a cluster where no class is default."""
    make_class(api, class_name(namespace), namespace)
    client.CoreV1Api(api).create_namespaced_persistent_volume_claim(
        namespace, claim(namespace, "legacy-data", None))
    wait_for(lambda: events_with(api, namespace, "FailedBinding", "legacy-data"), 60,
             "FailedBinding on legacy-data")
    return storage_config(namespace)


@scenario("consumer_unschedulable")
def consumer_unschedulable(api: Any, namespace: str) -> dict[str, Any]:
    """A WaitForFirstConsumer claim whose only pod asks for more CPU than any node has."""
    make_class(api, class_name(namespace), namespace)
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(
        namespace, claim(namespace, "warehouse", class_name(namespace)))
    pod = pod_with_claim(namespace, "loader", "warehouse")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "900"}}
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: events_with(api, namespace, "FailedScheduling", "loader"), 60,
             "FailedScheduling on loader")
    return storage_config(namespace)


@scenario("class_created_late")
def class_created_late(api: Any, namespace: str) -> dict[str, Any]:
    """The class was missing, then created: the old "not found" failures are history now."""
    make_class(api, class_name(namespace), namespace)
    late = f"late-{namespace}"
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(namespace, claim(namespace, "exports", late))
    core.create_namespaced_pod(namespace, pod_with_claim(namespace, "exporter", "exports"))
    wait_for(lambda: events_with(api, namespace, "ProvisioningFailed", "exports"), 60,
             "ProvisioningFailed on exports")
    make_class(api, late, namespace, provisioner="example.com/absent")
    wait_for(lambda: events_with(api, namespace, "ExternalProvisioning", "exports"), 60,
             "ExternalProvisioning on exports")
    return storage_config(namespace)
