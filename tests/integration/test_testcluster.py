"""The local test control plane itself: real controllers, kwok's fake kubelets with our fault
stages, the stand-in EBS CSI provisioner, and the Logos stack fixtures."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from k8scluster import logos_stack as ls
from k8scluster.kube import wait_for
from k8scluster.nodes import GPU_NODES, GPUS_PER_SHARED_NODE, NORMAL_NODES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def kwok(cluster):
    if not cluster.has_kwok:
        pytest.skip("needs kwok fake nodes (the local test control plane)")
    return cluster


def events(api, ns: str, name: str, kind: str = "Pod") -> list:
    return [e for e in client.CoreV1Api(api).list_namespaced_event(
        ns, field_selector=f"involvedObject.name={name}").items
        if e.involved_object.kind == kind]


def wait_event(api, ns: str, name: str, reason: str, message: str | None = None,
               kind: str = "Pod", timeout: float = 20):
    def find():
        for e in events(api, ns, name, kind):
            if e.reason == reason and (message is None or e.message == message):
                return e
        return None

    return wait_for(find, timeout, f"{kind} {ns}/{name} event {reason} {message or ''}",
                    describe=lambda: "\n".join(f"{e.type} {e.reason}: {e.message}"
                                               for e in events(api, ns, name, kind)))


def new_pod_with_image(api, ns: str, image: str, predicate, what: str, timeout: float = 20):
    core = client.CoreV1Api(api)

    def find():
        for pod in core.list_namespaced_pod(ns).items:
            if pod.spec.containers[0].image == image and predicate(pod):
                return pod
        return None

    return wait_for(find, timeout, what, describe=lambda: "\n".join(
        f"{p.metadata.name} {p.status.phase} {p.status.container_statuses}"
        for p in core.list_namespaced_pod(ns).items if p.spec.containers[0].image == image))


def waiting(pod):
    cs = (pod.status.container_statuses or [None])[0]
    return cs.state.waiting if cs and cs.state else None


# --------------------------------------------------------------------------- cluster


def test_fake_nodes_ready(kwok, api):
    nodes = {n.metadata.name: n for n in client.CoreV1Api(api).list_node().items}
    for name in (*NORMAL_NODES, *GPU_NODES):
        node = nodes[name]
        assert node.metadata.annotations["kwok.x-k8s.io/node"] == "fake"
        ready = {c.type: c.status for c in node.status.conditions}
        assert ready["Ready"] == "True", name
        assert node.status.allocatable["cpu"] == "32"
        assert node.status.allocatable["memory"] == "256Gi"
        assert node.status.allocatable["pods"] == "110"
    for name in GPU_NODES:
        assert nodes[name].metadata.labels["nvidia.com/gpu"] == "true"
        assert nodes[name].status.allocatable["nvidia.com/gpu"] == str(GPUS_PER_SHARED_NODE)
    for name in NORMAL_NODES:
        assert "nvidia.com/gpu" not in nodes[name].status.allocatable


def test_server_version_is_the_built_release(cluster):
    if cluster.source != "testcluster":
        pytest.skip("checks the locally built control plane")
    gomod = (REPO / "tools" / "k8sbin" / "go.mod").read_text()
    want = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", gomod, re.M).group(1)
    state = json.loads((cluster.kubeconfig.parent / "state.json").read_text())
    kubectl = Path(state["bin"]) / "kubectl"
    out = subprocess.run([str(kubectl), "version", "-o", "json"], capture_output=True, text=True,
                         env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, check=True)
    assert json.loads(out.stdout)["serverVersion"]["gitVersion"] == want


# --------------------------------------------------------------------------- Logos stack


def test_logos_stack_healthy(kwok, api, namespace):
    ls.deploy(api, namespace)
    ls.wait_healthy(api, namespace, timeout=60)
    core = client.CoreV1Api(api)

    pods = core.list_namespaced_pod(namespace).items
    assert len(pods) == 3 + 3 + 4 + 1 + 1
    for pod in pods:
        assert pod.status.phase == "Running"
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    for pod in pods:
        if pod.metadata.name.startswith("logos-completion-"):
            assert pod.spec.node_name in GPU_NODES

    for claim_name, size in (("data-logos-postgresql-0", "200Gi"),
                             ("redis-data-logos-redis-master-0", "50Gi")):
        claim = core.read_namespaced_persistent_volume_claim(claim_name, namespace)
        assert claim.status.phase == "Bound"
        assert claim.spec.storage_class_name == "ssd-premium"
        pv = core.read_persistent_volume(claim.spec.volume_name)
        assert pv.spec.csi.driver == "ebs.csi.aws.com"
        assert re.fullmatch(r"vol-[0-9a-f]{17}", pv.spec.csi.volume_handle)
        assert pv.spec.capacity["storage"] == size
        assert pv.spec.claim_ref.uid == claim.metadata.uid
        assert pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] == "ebs.csi.aws.com"
        assert pv.spec.persistent_volume_reclaim_policy == "Delete"
        # Pinned to the zone of the node the scheduler chose, as the EBS CSI driver's
        # CreateVolume answers (AccessibleTopology), never to that node's hostname.
        term = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0]
        node = core.read_node(claim.metadata.annotations["volume.kubernetes.io/selected-node"])
        assert term.key == "topology.kubernetes.io/zone"
        assert term.values == [node.metadata.labels["topology.kubernetes.io/zone"]]
        key = f"{namespace}/{claim_name}"
        wait_event(api, namespace, claim_name, "Provisioning",
                   f'External provisioner is provisioning volume for claim "{key}"',
                   kind="PersistentVolumeClaim")
        wait_event(api, namespace, claim_name, "ProvisioningSucceeded",
                   f"Successfully provisioned volume {pv.metadata.name}",
                   kind="PersistentVolumeClaim")

    def web_slices() -> list:
        return client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=logos-web").items

    def ready_endpoints() -> int:
        return sum(1 for s in web_slices() for e in s.endpoints or [] if e.conditions.ready)

    # The EndpointSlice controller follows pod readiness a moment later.
    wait_for(lambda: ready_endpoints() == 3, 30, "3 ready logos-web endpoints")
    slices = web_slices()
    assert slices[0].ports[0].port == 8080 and slices[0].ports[0].name == "http"


def test_missing_storage_class_then_fixed(kwok, api, namespace):
    storage_class = f"ssd-premium-{namespace}"  # per test, so parallel tests are unaffected
    ls.delete_storage_class(api, storage_class)
    ls.deploy(api, namespace, storage_class=storage_class, create_storage_class=False)
    core = client.CoreV1Api(api)
    try:
        event = wait_event(api, namespace, "data-logos-postgresql-0", "ProvisioningFailed",
                           f'storageclass.storage.k8s.io "{storage_class}" not found',
                           kind="PersistentVolumeClaim")
        assert event.type == "Warning"
        assert event.source.component == "persistentvolume-controller"
        claim = core.read_namespaced_persistent_volume_claim("data-logos-postgresql-0", namespace)
        assert claim.status.phase == "Pending"
        wait_event(api, namespace, "logos-postgresql-0", "FailedScheduling")

        # The fix from the runbook: create the class; the claims go all the way to Bound.
        ls.ensure_storage_class(api, storage_class)
        ls.wait_healthy(api, namespace, timeout=60)
    finally:
        ls.delete_storage_class(api, storage_class)


def test_claim_template_on_wrong_class(kwok, api, namespace):
    ls.deploy(api, namespace)
    ls.wait_healthy(api, namespace, timeout=60)
    ls.wrong_claim_template_class(api, namespace, "logos-postgresql", "ssd-premum")
    wait_event(api, namespace, "data-logos-postgresql-0", "ProvisioningFailed",
               'storageclass.storage.k8s.io "ssd-premum" not found',
               kind="PersistentVolumeClaim")
    claim = client.CoreV1Api(api).read_namespaced_persistent_volume_claim(
        "data-logos-postgresql-0", namespace)
    assert claim.status.phase == "Pending"
    assert claim.spec.storage_class_name == "ssd-premum"


def test_class_for_an_absent_provisioner_waits(kwok, api, namespace):
    storage_class = f"absent-{namespace}"
    ls.ensure_storage_class(api, storage_class, provisioner="example.com/absent",
                            binding_mode="Immediate")
    try:
        core = client.CoreV1Api(api)
        core.create_namespaced_persistent_volume_claim(namespace, {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                     "resources": {"requests": {"storage": "1Gi"}}}})
        wait_event(api, namespace, "data", "ExternalProvisioning",
                   kind="PersistentVolumeClaim")
        claim = core.read_namespaced_persistent_volume_claim("data", namespace)
        assert claim.status.phase == "Pending"
        assert "example.com/absent" in claim.metadata.annotations[
            "volume.kubernetes.io/storage-provisioner"]
    finally:
        ls.delete_storage_class(api, storage_class)


# --------------------------------------------------------------------------- kubelet faults

RPC_ERRORS = {
    "notfound": 'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
                'failed to resolve reference "{ref}": {ref}: not found',
    "unauthorized": 'failed to pull and unpack image "{ref}": '
                    'failed to resolve reference "{ref}": failed to authorize: failed to fetch '
                    'anonymous token: unexpected status from GET request to '
                    'https://registry.logos-test.invalid/token?scope=repository%3Aunauthorized'
                    '%2Fx509-certificate-exporter%2Flogos%2Fweb%3Apull&service='
                    'registry.logos-test.invalid: 401 Unauthorized',
    "denied": 'failed to pull and unpack image "{ref}": '
              'failed to resolve reference "{ref}": pull access denied, repository does not '
              'exist or may require authorization: server message: insufficient_scope: '
              'authorization failed',
    "unreachable": 'failed to pull and unpack image "{ref}": '
                   'failed to resolve reference "{ref}": failed to do request: Head '
                   '"https://unreachable.logos-test.invalid/v2/mirror-429/logos/web/manifests/'
                   '1.0": '
                   'dial tcp: lookup unreachable.logos-test.invalid on 127.0.0.53:53: '
                   'no such host',
}


@pytest.mark.parametrize("kind", sorted(RPC_ERRORS))
def test_image_pull_failure(kwok, api, namespace, kind):
    ls.deploy(api, namespace)
    ls.wait_healthy(api, namespace, timeout=60)
    image = ls.set_bad_image(api, namespace, "logos-web", kind)
    misleading = ls.MISLEADING[kind]  # a path whose words name another cause
    assert image == (f"unreachable.logos-test.invalid/{misleading}/logos/web:1.0"
                     if kind == "unreachable"
                     else f"registry.logos-test.invalid/{kind}/{misleading}/logos/web:1.0")
    rpc = RPC_ERRORS[kind].format(ref=image)

    pod = new_pod_with_image(
        api, namespace, image,
        lambda p: waiting(p) is not None and waiting(p).reason == "ImagePullBackOff",
        f"a logos-web pod with {image} in ImagePullBackOff")
    assert pod.status.phase == "Pending"
    cs = pod.status.container_statuses[0]
    assert cs.name == "web" and cs.image == image and cs.ready is False
    assert cs.restart_count == 0
    assert cs.state.waiting.message == f'Back-off pulling image "{image}": ErrImagePull: {rpc}'
    ready = {c.type: c for c in pod.status.conditions}["Ready"]
    assert (ready.status, ready.reason) == ("False", "ContainersNotReady")
    assert ready.message == "containers with unready status: [web]"

    name = pod.metadata.name
    expected = [
        ("Normal", "Pulling", f'Pulling image "{image}"'),
        ("Warning", "Failed", f'Failed to pull image "{image}": {rpc}'),
        ("Warning", "Failed", "Error: ErrImagePull"),
        ("Normal", "BackOff", f'Back-off pulling image "{image}"'),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    ]
    for etype, reason, message in expected:
        ev = wait_event(api, namespace, name, reason, message)
        assert ev.type == etype
        assert ev.source.component == "kubelet" and ev.source.host == pod.spec.node_name
        assert ev.involved_object.field_path == "spec.containers{web}"

    # The rollout is stuck: the old pods keep serving.
    dep = client.AppsV1Api(api).read_namespaced_deployment("logos-web", namespace)
    assert dep.status.ready_replicas == 3


@pytest.mark.parametrize("oom", [False, True], ids=["error", "oomkilled"])
def test_crashloop(kwok, api, namespace, oom):
    ls.deploy(api, namespace)
    ls.wait_healthy(api, namespace, timeout=60)
    image = ls.set_crashloop(api, namespace, "logos-chat", oom=oom)
    pod = new_pod_with_image(
        api, namespace, image,
        lambda p: waiting(p) is not None and waiting(p).reason == "CrashLoopBackOff",
        f"a logos-chat pod with {image} in CrashLoopBackOff")
    assert pod.status.phase == "Running"
    cs = pod.status.container_statuses[0]
    assert cs.ready is False and cs.started is False and cs.restart_count >= 1
    term = cs.last_state.terminated
    assert (term.exit_code, term.reason) == ((137, "OOMKilled") if oom else (1, "Error"))
    desc = f"{pod.metadata.name}_{namespace}({pod.metadata.uid})"
    assert re.fullmatch(rf"back-off \S+ restarting failed container=chat pod={re.escape(desc)}",
                        cs.state.waiting.message)
    ev = wait_event(api, namespace, pod.metadata.name, "BackOff",
                    f"Back-off restarting failed container chat in pod {desc}")
    assert ev.type == "Warning" and ev.source.component == "kubelet"

    # It keeps restarting.
    core = client.CoreV1Api(api)
    wait_for(lambda: core.read_namespaced_pod(pod.metadata.name, namespace)
             .status.container_statuses[0].restart_count >= 2, 15, "a second restart")


# --------------------------------------------------------------------------- other faults


def test_gpu_pool_faults(kwok, api, namespace):
    label = ("logos.test/gpu-pool", namespace)
    nodes = ls.create_gpu_nodes(api, label, count=1, gpu=2)
    try:
        ls.deploy(api, namespace, gpu_label=label)
        core = client.CoreV1Api(api)

        def pending_completion():
            return [p for p in core.list_namespaced_pod(
                namespace, label_selector="app.kubernetes.io/component=completion").items
                if p.status.phase == "Pending"]

        pods = wait_for(lambda: len(pending_completion()) == 2 and pending_completion(), 30,
                        "2 of 4 logos-completion pods to stay Pending (only 2 GPUs)")
        ev = wait_event(api, namespace, pods[0].metadata.name, "FailedScheduling")
        assert "Insufficient nvidia.com/gpu" in ev.message

        ls.remove_gpu_label(api, nodes, key=label[0])
        client.AppsV1Api(api).patch_namespaced_deployment("logos-completion", namespace, {
            "spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "now"}}}}})

        def unschedulable():
            for p in pending_completion():
                for e in events(api, namespace, p.metadata.name):
                    if e.reason == "FailedScheduling" and "didn't match Pod's node affinity" \
                            in e.message:
                        return e
            return None

        wait_for(unschedulable, 30, "FailedScheduling for the node selector")
    finally:
        ls.delete_nodes(api, nodes)


def test_service_selector_broken(kwok, api, namespace):
    ls.deploy(api, namespace)
    ls.wait_healthy(api, namespace, timeout=60)
    selector = ls.break_service_selector(api, namespace, "logos-web")
    assert selector["app.kubernetes.io/component"] == "web-frontend"
    disc = client.DiscoveryV1Api(api)

    def empty() -> bool:
        slices = disc.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=logos-web").items
        return bool(slices) and not any(s.endpoints for s in slices)

    wait_for(empty, 20, "logos-web's EndpointSlices to empty")


def test_hpa_target_missing(kwok, api, namespace):
    ls.deploy(api, namespace)
    ls.wait_healthy(api, namespace, timeout=60)
    ls.set_hpa_target_missing(api, namespace)
    hpas = client.AutoscalingV2Api(api)

    def failed_get_scale():
        hpa = hpas.read_namespaced_horizontal_pod_autoscaler("logos-web", namespace)
        for c in hpa.status.conditions or []:
            if c.type == "AbleToScale" and c.status == "False" and c.reason == "FailedGetScale":
                return c
        return None

    cond = wait_for(failed_get_scale, 30, "HPA condition AbleToScale=False FailedGetScale")
    assert "logos-web-canary" in cond.message


def test_delete_secret(kwok, api, namespace):
    ls.deploy(api, namespace)
    ls.delete_secret(api, namespace, "logos-db-credentials")
    names = {s.metadata.name for s in client.CoreV1Api(api).list_namespaced_secret(namespace).items}
    assert "logos-db-credentials" not in names
    assert {"logos-redis-credentials", "regcred", "logos-tls"} <= names
