"""Test-only stand-in for the EBS CSI driver behind its external-provisioner sidecar.

It does what csi-provisioner (kubernetes-csi/external-provisioner, with
sig-storage-lib-external-provisioner's ProvisionController) does for `ebs.csi.aws.com`, and
what the driver (kubernetes-sigs/aws-ebs-csi-driver) answers, minus the cloud.  A claim that
the real PV controller has handed to that provisioner (annotation
`volume.kubernetes.io/storage-provisioner: ebs.csi.aws.com`), whose StorageClass exists and
names that provisioner, and which, for a `WaitForFirstConsumer` class, the scheduler has given
a node (`volume.kubernetes.io/selected-node`), is handled in the lib's order
(controller.go, provisionClaimOperation):

1. the selected node is read first; when it does not exist the lib emits `ProvisioningFailed`
   with the lister's error, `node "X" not found`, and removes the selected-node annotation
   (provisionVolumeErrorHandling + rescheduleProvisioning, result ProvisioningReschedule), so
   that the scheduler picks a node again.  No `Provisioning` event, no CreateVolume call.
2. `Provisioning` "External provisioner is provisioning volume for claim \"ns/name\"".
3. CreateVolume: the driver rejects a volume type it does not know before any EC2 call
   (pkg/cloud/cloud.go CreateDisk: `invalid AWS VolumeType %q`), which the driver's
   CreateVolume returns as `status.Errorf(codes.Internal, "Could not create volume %q: %v")`
   (pkg/driver/controller.go) and the lib wraps as `failed to provision volume with
   StorageClass %q: %v`, i.e. `failed to provision volume with StorageClass "x": rpc error:
   code = Internal desc = Could not create volume "pvc-<uid>": invalid AWS VolumeType "gp9"`.
   The lib retries the claim with back-off; each attempt repeats the two events.
4. Otherwise a PersistentVolume:
   * name `pvc-<claim uid>`, annotation `pv.kubernetes.io/provisioned-by: ebs.csi.aws.com`
   * CSI source driver `ebs.csi.aws.com`, volumeHandle `vol-<17 hex>`, fsType from the class
   * capacity = the claim's request, its access modes and volume mode, the class's name,
     reclaim policy and mount options, a claimRef with the claim's uid
   * node affinity on the volume's availability zone, as the driver's CreateVolume response
     gives it (AccessibleTopology, which external-provisioner turns into the PV's
     nodeAffinity): key `topology.kubernetes.io/zone` (current drivers' newCreateVolumeResponse;
     drivers before the well-known key used `topology.ebs.csi.aws.com/zone`), the zone read
     from the selected node's zone label.  Never the hostname: an EBS volume lives in a zone
     and attaches to any instance there.  (A node without a zone label, which a real EKS
     node never is, gets a volume without node affinity.)
   and `ProvisioningSucceeded` "Successfully provisioned volume pvc-...".

Binding stays the real PV controller's job.  Released volumes that it provisioned with
reclaim policy Delete are deleted, as the sidecar would.

Claims for any other provisioner are ignored: a class naming `example.com/absent` stays
waiting for its (absent) provisioner, a real scenario.

Run: python -m k8scluster.provisioner --kubeconfig PATH   (scripts/testcluster up does)
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import secrets
import signal
import socket
import sys
import time
import uuid

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from .kube import api_client as make_api_client

DRIVER = "ebs.csi.aws.com"
ANN_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_PROVISIONER_BETA = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
RESYNC_SECONDS = 10

log = logging.getLogger("provisioner")


# The volume types the driver's CreateDisk accepts (pkg/cloud/cloud.go; sbg1/sbp1 are for
# Snowball Edge devices only, accepted by the same switch).
EBS_VOLUME_TYPES = {"gp2", "gp3", "io1", "io2", "sc1", "st1", "sbg1", "sbp1", "standard"}
# The zone key of the driver's CreateVolume response (pkg/driver/controller.go), which
# external-provisioner copies into the PV's node affinity; older drivers used the legacy key.
ZONE_KEY = "topology.kubernetes.io/zone"
LEGACY_ZONE_KEY = "topology.ebs.csi.aws.com/zone"

class Provisioner:
    def __init__(self, api: client.ApiClient, driver: str = DRIVER) -> None:
        self.core = client.CoreV1Api(api)
        self.storage = client.StorageV1Api(api)
        self.driver = driver
        self.identity = f"{int(time.time() * 1000)}-8081-{driver}"
        self.component = f"{driver}_ebs-csi-controller-{socket.gethostname()}_{uuid.uuid4()}"
        self.done: set[str] = set()  # claim uids provisioned by this process

    # ------------------------------------------------------------------ events
    def event(self, claim, etype: str, reason: str, message: str) -> None:
        now = dt.datetime.now(dt.UTC)
        md = claim.metadata
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(name=f"{md.name}.{secrets.token_hex(8)}",
                                         namespace=md.namespace),
            involved_object=client.V1ObjectReference(
                api_version="v1", kind="PersistentVolumeClaim", name=md.name,
                namespace=md.namespace, uid=md.uid, resource_version=md.resource_version),
            reason=reason, message=message, type=etype,
            source=client.V1EventSource(component=self.component),
            reporting_component=self.component, reporting_instance="",
            first_timestamp=now, last_timestamp=now, count=1,
        )
        try:
            self.core.create_namespaced_event(md.namespace, body)
        except ApiException as e:
            log.warning("could not record event %s on %s/%s: %s", reason, md.namespace, md.name,
                        e.reason)

    # ------------------------------------------------------------------ claims
    def wants(self, claim) -> bool:
        ann = claim.metadata.annotations or {}
        if claim.metadata.deletion_timestamp or claim.spec.volume_name:
            return False
        if (claim.status and claim.status.phase) not in (None, "Pending"):
            return False
        return (ann.get(ANN_PROVISIONER) or ann.get(ANN_PROVISIONER_BETA)) == self.driver

    def sync_claim(self, claim) -> None:
        if not self.wants(claim):
            return
        md = claim.metadata
        key = f"{md.namespace}/{md.name}"
        pv_name = f"pvc-{md.uid}"
        class_name = claim.spec.storage_class_name
        if not class_name:
            return
        try:
            sc = self.storage.read_storage_class(class_name)
        except ApiException as e:
            if e.status == 404:
                log.info("claim %s: StorageClass %s not found; leaving it", key, class_name)
                return
            raise
        if sc.provisioner != self.driver:
            return
        ann = md.annotations or {}
        node_name = ann.get(ANN_SELECTED_NODE)
        if sc.volume_binding_mode == "WaitForFirstConsumer" and not node_name:
            return
        if md.uid in self.done:
            return
        try:
            self.core.read_persistent_volume(pv_name)
            self.done.add(md.uid)
            return
        except ApiException as e:
            if e.status != 404:
                raise

        zone = None
        if node_name:
            try:
                node = self.core.read_node(node_name)
            except ApiException as e:
                if e.status != 404:
                    raise
                self.reschedule(claim, node_name)
                return
            labels = node.metadata.labels or {}
            zone = labels.get(ZONE_KEY) or labels.get(LEGACY_ZONE_KEY)

        self.event(claim, "Normal", "Provisioning",
                   f'External provisioner is provisioning volume for claim "{key}"')
        request = (claim.spec.resources.requests or {}).get("storage")
        params = sc.parameters or {}
        volume_type = params.get("type") or "gp3"
        if volume_type not in EBS_VOLUME_TYPES:
            # The driver refuses before calling EC2 (cloud.go CreateDisk), and its CreateVolume
            # returns codes.Internal (controller.go); the claim stays Pending and is retried.
            self.event(claim, "Warning", "ProvisioningFailed",
                       f'failed to provision volume with StorageClass "{class_name}": rpc error: '
                       f'code = Internal desc = Could not create volume "{pv_name}": '
                       f'invalid AWS VolumeType "{params.get("type")}"')
            return
        pv = client.V1PersistentVolume(
            metadata=client.V1ObjectMeta(
                name=pv_name,
                annotations={
                    ANN_PROVISIONED_BY: self.driver,
                    "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                    "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
                },
            ),
            spec=client.V1PersistentVolumeSpec(
                capacity={"storage": request},
                access_modes=claim.spec.access_modes or ["ReadWriteOnce"],
                volume_mode=claim.spec.volume_mode or "Filesystem",
                storage_class_name=class_name,
                persistent_volume_reclaim_policy=sc.reclaim_policy or "Delete",
                mount_options=sc.mount_options,
                claim_ref=client.V1ObjectReference(
                    api_version="v1", kind="PersistentVolumeClaim", name=md.name,
                    namespace=md.namespace, uid=md.uid, resource_version=md.resource_version),
                csi=client.V1CSIPersistentVolumeSource(
                    driver=self.driver,
                    volume_handle="vol-" + secrets.token_hex(9)[:17],
                    fs_type=params.get("csi.storage.k8s.io/fstype", "ext4"),
                    volume_attributes={
                        "storage.kubernetes.io/csiProvisionerIdentity": self.identity},
                ),
                node_affinity=client.V1VolumeNodeAffinity(required=client.V1NodeSelector(
                    node_selector_terms=[client.V1NodeSelectorTerm(match_expressions=[
                        client.V1NodeSelectorRequirement(
                            key=ZONE_KEY, operator="In", values=[zone])])]))
                if zone else None,
            ),
        )
        try:
            self.core.create_persistent_volume(pv)
        except ApiException as e:
            if e.status != 409:
                self.event(claim, "Warning", "ProvisioningFailed",
                           "failed to provision volume with StorageClass "
                           f"\"{class_name}\": {e.reason}")
                raise
        self.done.add(md.uid)
        log.info("claim %s: created %s (%s, node %s)", key, pv_name, request, node_name or "-")
        self.event(claim, "Normal", "ProvisioningSucceeded",
                   f"Successfully provisioned volume {pv_name}")

    def reschedule(self, claim, node_name: str) -> None:
        """The lib's answer to a selected node that is gone: say so, drop the annotation.

        provisionClaimOperation reads the node through its node lister, whose NotFound reads
        `node "X" not found`; provisionVolumeErrorHandling records it as ProvisioningFailed
        and rescheduleProvisioning removes volume.kubernetes.io/selected-node, which tells the
        scheduler to choose a node again.
        """
        self.event(claim, "Warning", "ProvisioningFailed", f'node "{node_name}" not found')
        md = claim.metadata
        patch = [{"op": "test", "path": "/metadata/resourceVersion",
                  "value": md.resource_version},
                 {"op": "remove",
                  "path": "/metadata/annotations/" + ANN_SELECTED_NODE.replace("/", "~1")}]
        try:
            self.core.patch_namespaced_persistent_volume_claim(
                md.name, md.namespace, patch)
            log.info("claim %s/%s: node %s not found; selected-node removed", md.namespace,
                     md.name, node_name)
        except ApiException as e:
            # A conflict or a claim gone: the next resync sees the claim as it is now.
            log.info("claim %s/%s: could not remove selected-node: %s", md.namespace, md.name,
                     e.reason)

    # ------------------------------------------------------------------ volumes
    def sync_volume(self, pv) -> None:
        ann = pv.metadata.annotations or {}
        if (ann.get(ANN_PROVISIONED_BY) == self.driver and pv.status
                and pv.status.phase == "Released"
                and pv.spec.persistent_volume_reclaim_policy == "Delete"
                and not pv.metadata.deletion_timestamp):
            try:
                self.core.delete_persistent_volume(pv.metadata.name)
                log.info("deleted released volume %s", pv.metadata.name)
            except ApiException as e:
                if e.status != 404:
                    raise

    # ------------------------------------------------------------------ loop
    def resync(self) -> str:
        """Full pass over claims and volumes; returns the claims' list resourceVersion."""
        for pv in self.core.list_persistent_volume().items:
            self.sync_volume(pv)
        claims = self.core.list_persistent_volume_claim_for_all_namespaces()
        for claim in claims.items:
            self.safe(self.sync_claim, claim)
        return claims.metadata.resource_version

    def safe(self, fn, obj) -> None:
        try:
            fn(obj)
        except Exception:
            log.exception("sync of %s failed", obj.metadata.name)

    def run(self, stop: list[bool]) -> None:
        log.info("stand-in external provisioner for %s running", self.driver)
        while not stop:
            try:
                rv = self.resync()
                w = watch.Watch()
                # The watch ends after RESYNC_SECONDS; the loop then relists (resync), which
                # also catches claims whose StorageClass or node appeared later.
                for ev in w.stream(self.core.list_persistent_volume_claim_for_all_namespaces,
                                   resource_version=rv, timeout_seconds=RESYNC_SECONDS,
                                   allow_watch_bookmarks=True):
                    if stop:
                        w.stop()
                        break
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        self.safe(self.sync_claim, ev["object"])
            except ApiException as e:
                if e.status != 410:
                    log.warning("watch/list failed: %s %s", e.status, e.reason)
                    time.sleep(1)
            except Exception:
                log.exception("provisioner loop error")
                time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--driver", default=DRIVER)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop: list[bool] = []

    def on_signal(signum, frame):
        stop.append(True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Provisioner(make_api_client(args.kubeconfig), args.driver).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
