"""Storage scenarios that show what the EBS CSI external-provisioner does, and one cause
shared by many objects (issue 14, items 6 and 8).

The provisioner here is the stand-in of ``k8scluster.provisioner``, which answers as
kubernetes-csi/external-provisioner (sig-storage-lib-external-provisioner) and
aws-ebs-csi-driver do; the PV controller, the scheduler and the events they write are real.
Names are chosen to mislead a check that matched on them: claims and pods called after
"gone", "lost", "failed" or "default" that are none of those.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from .. import logos_stack
from ..kube import wait_for
from . import OWNER_LABEL, scenario
from .storage import claim, class_name, events_with, make_class, pod_with_claim, storage_config

SELECTED_NODE = "volume.kubernetes.io/selected-node"


def _restored_claim(namespace: str, name: str, storage_class: str, node: str) -> dict:
    """A claim as a backup restore writes it: still naming the node of the old cluster.

    Restoring a WaitForFirstConsumer claim with its ``volume.kubernetes.io/selected-node``
    annotation is how a claim comes to name a node that does not exist (the same state as a
    node deleted between the scheduler's choice and the provisioner's turn).
    """
    body = claim(namespace, name, storage_class)
    body["metadata"]["annotations"] = {SELECTED_NODE: node}
    return body


def _claim_annotations(api: Any, namespace: str, name: str) -> dict[str, str]:
    pvc = client.CoreV1Api(api).read_namespaced_persistent_volume_claim(name, namespace)
    return pvc.metadata.annotations or {}


@scenario("selected_node_rescheduled")
def selected_node_rescheduled(api: Any, namespace: str) -> dict[str, Any]:
    """A restored claim names a node that is gone; the provisioner hands it back, the
    scheduler picks a live node, the volume is provisioned there and the pod runs."""
    make_class(api, class_name(namespace), namespace)
    gone = f"ip-10-0-9-9.gone-{namespace}"[:63]
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(
        namespace, _restored_claim(namespace, "lost-and-found", class_name(namespace), gone))
    core.create_namespaced_pod(namespace, pod_with_claim(namespace, "failed-jobs-ui",
                                                         "lost-and-found"))
    wait_for(lambda: events_with(api, namespace, "ProvisioningFailed", "lost-and-found"), 60,
             "the provisioner's ProvisioningFailed (node not found) on lost-and-found")

    def bound() -> bool:
        pvc = core.read_namespaced_persistent_volume_claim("lost-and-found", namespace)
        return pvc.status.phase == "Bound"

    wait_for(bound, 90, "lost-and-found to bind on the node the scheduler picked again")
    wait_for(lambda: (core.read_namespaced_pod("failed-jobs-ui", namespace).status.phase
                      == "Running"), 90, "failed-jobs-ui to run")
    return storage_config(namespace)


@scenario("selected_node_gone_unplaceable")
def selected_node_gone_unplaceable(api: Any, namespace: str) -> dict[str, Any]:
    """As above, but the pod's node selector fits no node: after the hand-back the claim
    waits for a pod the scheduler cannot place.  The provisioner's old "node not found" is
    history, not the claim's problem."""
    make_class(api, class_name(namespace), namespace)
    gone = f"ip-10-0-9-9.gone-{namespace}"[:63]
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(
        namespace, _restored_claim(namespace, "provisioning-failed", class_name(namespace), gone))
    pod = pod_with_claim(namespace, "node-gone", "provisioning-failed",
                         node_selector={"logos-test/pool": f"none-{namespace}"})
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: events_with(api, namespace, "ProvisioningFailed", "provisioning-failed"),
             60, "the provisioner's ProvisioningFailed (node not found)")
    wait_for(lambda: SELECTED_NODE not in _claim_annotations(api, namespace,
                                                             "provisioning-failed"),
             60, "the provisioner to remove the selected-node annotation")

    def rejected_after_handback() -> bool:
        # The scheduler's verdict once the claim was handed back (not only its first one).
        return len(events_with(api, namespace, "FailedScheduling", "node-gone")) > 0

    wait_for(rejected_after_handback, 60, "FailedScheduling on node-gone")
    return storage_config(namespace)


@scenario("bad_volume_type_shared")
def bad_volume_type_shared(api: Any, namespace: str) -> dict[str, Any]:
    """Three claims of one class whose volume type the EBS driver rejects: one cause (the
    class), three claims, three pods held back."""
    make_class(api, class_name(namespace), namespace)
    name = f"gp9-{namespace}"
    manifest = logos_stack.storage_class_manifest(name, logos_stack.PROVISIONER, "Immediate")
    manifest["metadata"]["labels"] = {OWNER_LABEL: namespace}
    manifest["parameters"]["type"] = "gp9"
    client.StorageV1Api(api).create_storage_class(manifest)
    core = client.CoreV1Api(api)
    # Misleading names: nothing here is a quota, a default or a lost volume.
    claims = ("quota-exceeded-data", "default-reports", "lost-uploads")
    for i, c in enumerate(claims):
        core.create_namespaced_persistent_volume_claim(namespace, claim(namespace, c, name))
        core.create_namespaced_pod(namespace, pod_with_claim(namespace, f"reader-{i}", c))
    for c in claims:
        wait_for(lambda c=c: events_with(api, namespace, "ProvisioningFailed", c), 60,
                 f"ProvisioningFailed on {c}")
    for i in range(len(claims)):
        wait_for(lambda i=i: events_with(api, namespace, "FailedScheduling", f"reader-{i}"), 60,
                 f"FailedScheduling on reader-{i}")
    return storage_config(namespace)


@scenario("no_default_class_many")
def no_default_class_many(api: Any, namespace: str) -> dict[str, Any]:
    """Seven claims that name no class, in a cluster where no class is default: one cause."""
    make_class(api, class_name(namespace), namespace)
    core = client.CoreV1Api(api)
    names = [f"ssd-premium-{i}" for i in range(7)]  # named after a class, asking for none
    for n in names:
        core.create_namespaced_persistent_volume_claim(namespace, claim(namespace, n, None))
    for n in names:
        wait_for(lambda n=n: events_with(api, namespace, "FailedBinding", n), 60,
                 f"FailedBinding on {n}")
    return storage_config(namespace)


@scenario("provisioner_absent_many")
def provisioner_absent_many(api: Any, namespace: str) -> dict[str, Any]:
    """Three claims of a class whose provisioner runs nowhere: one cause, three claims."""
    make_class(api, class_name(namespace), namespace)
    name = f"absent-{namespace}"
    make_class(api, name, namespace, provisioner="example.com/absent", binding_mode="Immediate")
    core = client.CoreV1Api(api)
    claims = ("provisioning-failed-a", "selected-node-gone-b", "lost-c")  # none of those
    for i, c in enumerate(claims):
        core.create_namespaced_persistent_volume_claim(namespace, claim(namespace, c, name))
        core.create_namespaced_pod(namespace, pod_with_claim(namespace, f"writer-{i}", c))
    for c in claims:
        wait_for(lambda c=c: events_with(api, namespace, "ExternalProvisioning", c), 60,
                 f"ExternalProvisioning on {c}")
    for i in range(len(claims)):
        wait_for(lambda i=i: events_with(api, namespace, "FailedScheduling", f"writer-{i}"), 60,
                 f"FailedScheduling on writer-{i}")
    return storage_config(namespace)
