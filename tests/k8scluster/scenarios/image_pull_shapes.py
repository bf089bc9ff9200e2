"""Image-pull failures in the shapes real kubelets leave them, which kwok's stages do not give.

kwok's image-pull stage gives one shape per failure: ErrImagePull, then ImagePullBackOff with
the error in the waiting message, and one event of each.  Real pulls differ:

* the container alternates between ErrImagePull (the moment after an attempt, the runtime's
  error as the waiting message) and ImagePullBackOff, and the kubelet's events repeat with
  growing counts (client-go's event correlator aggregates them);
* kubelets before 1.32 write the back-off as ``Back-off pulling image "X"``, without the
  error, which is then only in the ``Failed`` event;
* events expire after an hour (kube-apiserver ``--event-ttl``), so a pod failing since the
  morning may have nothing but its container status left;
* a missing pull secret is announced by the kubelet's ``FailedToRetrieveImagePullSecret``.

No kubelet runs here, so these pods are bound to nodes kwok does not manage (no
``kwok.x-k8s.io/node: fake`` annotation; tainted, so no other pod lands there; labelled with
OWNER_LABEL for cleanup), and their status and events are written exactly as the kubelet
writes them, through the pods/status subresource and the events API with the kubelet as
source.  Each string below names the kubelet or runtime source that writes it.  Images and
hosts carry words of other causes (nginx-tls:v1.403, x509-certificate-exporter:2.500,
forbidden-api:v1.429, registry-429...), so a checker matching on names gets them wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from ..kube import wait_for
from . import OWNER_LABEL, scenario
from .workloads import deploy_stack

NEW_KUBELET = "v1.37.2"  # writes the last pull error into the back-off message (>= 1.32)
# Before 1.32 the back-off says 'Back-off pulling image "X"' alone; before 1.28 the CRI
# client also keeps the "rpc error: code = Unknown desc = " prefix.
OLD_KUBELET = "v1.27.16"
TAINT_KEY = "logos-test/pull-shapes"
SECRET_MISSING = "regcred-mirror"
MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"

# containerd (remotes/docker resolver), through the CRI: since 1.28 the kubelet's CRI client
# (k8s.io/cri-client pkg/remote_image.go, kubernetes/kubernetes#117612) drops "rpc error:
# code = Unknown desc = " and keeps any other gRPC code (the real node's recordings show
# both); older kubelets keep it.
_HEAD = 'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '


@dataclass(frozen=True)
class Shape:
    """One Deployment whose single pod fails to pull, as a kubelet of ``kubelet`` shows it."""

    name: str
    image: str
    kubelet: str
    error: str  # the runtime's error, as the kubelet's Failed event quotes it
    waiting: str  # final waiting reason
    attempts: int  # pull attempts so far (event counts)
    events_expired: bool = False
    pull_secrets: tuple[str, ...] = ()
    steps: tuple[str, ...] = field(default=("ErrImagePull", "ImagePullBackOff"))


SHAPES = (
    # Caught right after its third attempt: ErrImagePull, whose waiting message is the error
    # itself; three Pulling/Failed, more BackOff.  gRPC NotFound keeps its code prefix.
    Shape(
        "logos-docs",
        "registry.logos-test.invalid/acme/nginx-tls:v1.403",
        NEW_KUBELET,
        "rpc error: code = NotFound desc = " + _HEAD + "{ref}: not found",
        "ErrImagePull",
        3,
        steps=("ErrImagePull", "ImagePullBackOff") * 2 + ("ErrImagePull",),
    ),
    # A kubelet before 1.28: the back-off message has no error, the Failed event has it
    # with the gRPC prefix (GHCR's token endpoint refusing, as in rossoctl/rossoctl#116).
    Shape(
        "logos-metrics",
        "ghcr.io/acme/x509-certificate-exporter:2.500",
        OLD_KUBELET,
        "rpc error: code = Unknown desc = " + _HEAD + "failed to authorize: failed to fetch "
        "oauth token: unexpected status from GET request to https://ghcr.io/token?scope="
        "repository%3Aacme%2Fx509-certificate-exporter%3Apull&service=ghcr.io: 403 Forbidden",
        "ImagePullBackOff",
        4,
    ),
    # The same old kubelet, failing since long enough that its events expired: the status
    # says only 'Back-off pulling image "X"'.  The cause cannot be read any more.
    Shape(
        "logos-search",
        "docker.io/acme/forbidden-api:v1.429",
        OLD_KUBELET,
        "rpc error: code = Unknown desc = " + _HEAD + "{ref}: not found",
        "ImagePullBackOff",
        9,
        events_expired=True,
    ),
    # A new kubelet whose events expired: the back-off message still carries the error, a
    # token fetch cut off by the network (router-for-me/CLIProxyAPI#2668 shape).
    Shape(
        "logos-mirror",
        "registry-429.logos-test.invalid/acme/forbidden-api:1.401",
        NEW_KUBELET,
        _HEAD + 'failed to authorize: failed to fetch anonymous token: Get "https://'
        "registry-429.logos-test.invalid/token?scope=repository%3Aacme%2Fforbidden-api%3Apull"
        '&service=registry-429.logos-test.invalid": EOF',
        "ImagePullBackOff",
        7,
        events_expired=True,
    ),
    # A pull secret that does not exist: the kubelet pulls without it, the registry answers
    # the ambiguous "pull access denied", and the kubelet says which secret it could not read.
    Shape(
        "logos-sync",
        "registry.logos-test.invalid/acme/forbidden-api:1.403",
        NEW_KUBELET,
        _HEAD + "pull access denied, repository does not exist or may require authorization: "
        "server message: insufficient_scope: authorization failed",
        "ErrImagePull",
        1,
        pull_secrets=(SECRET_MISSING,),
        steps=("ErrImagePull",),
    ),
    # The tag resolves but a layer is missing (containerd/containerd#3604 shape).
    Shape(
        "logos-cache",
        "docker.io/acme/nginx-tls:v1.429",
        NEW_KUBELET,
        'failed to pull and unpack image "{ref}": failed to unpack image on snapshotter '
        "overlayfs: content digest sha256:0c18b88b8db3c193eefeede31a80d5d0c850306076b7166910ed"
        "239685dd20b0: not found",
        "ImagePullBackOff",
        2,
    ),
)
EXPECTED = {  # shape -> the cause a correct check names
    "logos-docs": "image-not-found",
    "logos-metrics": "unauthorized",
    "logos-search": "unknown",
    "logos-mirror": "registry-unreachable",
    "logos-sync": "pull-secret-missing",
    "logos-cache": "image-content-missing",
}


def _ts(ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_name(namespace: str, kubelet: str) -> str:
    return f"pull-{kubelet.replace('.', '-')}-{namespace}"[:63].rstrip("-")


def make_node(api: Any, namespace: str, kubelet: str) -> str:
    """A Node kwok does not manage, Ready as a kubelet of version ``kubelet`` reports it."""
    core = client.CoreV1Api(api)
    name = node_name(namespace, kubelet)
    labels = {OWNER_LABEL: namespace, "kubernetes.io/hostname": name,
              "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}  # fmt: skip
    try:
        core.create_node({"metadata": {"name": name, "labels": labels}, "spec": {"taints": [
            {"key": TAINT_KEY, "value": namespace, "effect": "NoSchedule"}]}})  # fmt: skip
    except ApiException as exc:
        if exc.status != 409:
            raise
    heartbeat(api, name, kubelet)
    return name


def heartbeat(api: Any, name: str, kubelet: str) -> None:
    """Node status and Lease as the kubelet posts them (pkg/kubelet/nodestatus/setters.go:
    reason KubeletReady, "kubelet is posting ready status")."""
    core = client.CoreV1Api(api)
    now = _ts()
    resources = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    conditions = [
        {"type": t, "status": "False", "reason": r, "message": m, "lastHeartbeatTime": now,
         "lastTransitionTime": now}
        for t, r, m in (
            ("MemoryPressure", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        )
    ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady",
          "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
          "lastTransitionTime": now}]  # fmt: skip
    core.patch_node_status(name, {"status": {
        "conditions": conditions, "capacity": resources, "allocatable": resources,
        "addresses": [{"type": "InternalIP", "address": "10.250.0.10"},
                      {"type": "Hostname", "address": name}],
        "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": "",
                     "containerRuntimeVersion": "containerd://2.0.2",
                     "operatingSystem": "linux", "architecture": "amd64",
                     "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.1.0",
                     "machineID": "", "systemUUID": "", "bootID": ""}}})  # fmt: skip
    coord = client.CoordinationV1Api(api)
    uid = core.read_node(name).metadata.uid  # the kubelet makes its Node the Lease's owner
    owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}
    lease = {"metadata": {"name": name, "ownerReferences": [owner]},
             "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                      "renewTime": datetime.now(UTC).strftime(MICRO)}}  # fmt: skip
    try:
        coord.create_namespaced_lease("kube-node-lease", lease)
    except ApiException as exc:
        if exc.status != 409:
            raise
        coord.patch_namespaced_lease(name, "kube-node-lease", {"spec": lease["spec"]})


def _deployment(namespace: str, shape: Shape, node: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "logos", "app.kubernetes.io/component": shape.name}
    spec: dict[str, Any] = {
        "nodeName": node,  # bound as the scheduler would; kwok does not manage the node
        "tolerations": [{"operator": "Exists"}],
        "containers": [{"name": shape.name.removeprefix("logos-"), "image": shape.image}],
    }
    if shape.pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in shape.pull_secrets]
    return {"metadata": {"name": shape.name, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}  # fmt: skip


def _status(pod: Any, shape: Shape, reason: str, started: str) -> dict[str, Any]:
    """The pod status kubelet writes while a container cannot pull (pkg/kubelet/kubelet_pods.go
    generateAPIPodStatus, pkg/kubelet/status/generate.go: "containers with unready status")."""
    ref = shape.image
    container = pod.spec.containers[0].name
    error = shape.error.format(ref=ref)
    if reason == "ErrImagePull":
        message = error  # kuberuntime startContainer: the pull error as the waiting message
    elif shape.kubelet == NEW_KUBELET:  # images/image_manager.go: prevPullErrMsg
        message = f'Back-off pulling image "{ref}": ErrImagePull: {error}'
    else:
        message = f'Back-off pulling image "{ref}"'
    unready = f"containers with unready status: [{container}]"
    return {"status": {
        "phase": "Pending",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": started},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "message": unready, "lastTransitionTime": started},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
             "message": unready, "lastTransitionTime": started},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
        ],
        "hostIP": "10.250.0.10", "hostIPs": [{"ip": "10.250.0.10"}],
        "podIP": "10.251.0.12", "podIPs": [{"ip": "10.251.0.12"}],
        "startTime": started,
        "containerStatuses": [{
            "name": container, "image": ref, "imageID": "", "ready": False,
            "restartCount": 0, "started": False,
            "state": {"waiting": {"reason": reason, "message": message}},
        }],
    }}  # fmt: skip


def _event(
    pod: Any,
    node: str,
    kind: str,
    reason: str,
    message: str,
    count: int,
    first_ago: float,
    last_ago: float,
    field_path: str | None,
) -> dict[str, Any]:
    """An event as the kubelet's recorder writes it (client-go tools/record: name
    "<pod>.<hex nanoseconds>", source kubelet/<node>, counts aggregated by the correlator)."""
    meta = pod.metadata
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "name": meta.name,
                           "namespace": meta.namespace, "uid": meta.uid}  # fmt: skip
    if field_path:
        obj["fieldPath"] = field_path
    return {
        "metadata": {"name": f"{pod.metadata.name}.{time.time_ns():x}"},
        "involvedObject": obj, "reason": reason, "message": message, "type": kind,
        "source": {"component": "kubelet", "host": node},
        "reportingComponent": "kubelet", "reportingInstance": node,
        "firstTimestamp": _ts(first_ago), "lastTimestamp": _ts(last_ago), "count": count,
    }  # fmt: skip


def _events(pod: Any, shape: Shape, node: str) -> list[dict[str, Any]]:
    """The kubelet's events for ``shape.attempts`` pull attempts, 10 s back-off doubling
    (pkg/kubelet/images/image_manager.go: Pulling, Failed, BackOff; kuberuntime_container.go:
    "Error: ErrImagePull" / "Error: ImagePullBackOff"; kubelet.go SyncPod:
    FailedToRetrieveImagePullSecret)."""
    ref, n = shape.image, shape.attempts
    container = pod.spec.containers[0].name
    path = f"spec.containers{{{container}}}"
    span = 10 * (2 ** min(n, 5)) if n > 1 else 1
    error = shape.error.format(ref=ref)
    # One back-off per wait between attempts, as the real kubelet counted them
    # (real_pull_retries: Pulling x3, BackOff x2).
    backoffs = max(n - 1, 1) if shape.waiting == "ImagePullBackOff" or n > 1 else 0
    out = [
        _event(pod, node, "Normal", "Pulling", f'Pulling image "{ref}"', n, span + 2, 3, path),
        _event(pod, node, "Warning", "Failed", f'Failed to pull image "{ref}": {error}', n,
               span + 1, 2, path),
        _event(pod, node, "Warning", "Failed", "Error: ErrImagePull", n, span + 1, 2, path),
    ]  # fmt: skip
    if backoffs:
        out += [
            _event(pod, node, "Normal", "BackOff", f'Back-off pulling image "{ref}"', backoffs,
                   span, 1, path),
            _event(pod, node, "Warning", "Failed", "Error: ImagePullBackOff", backoffs, span, 1,
                   path),
        ]  # fmt: skip
    if shape.pull_secrets:
        out.append(_event(
            pod, node, "Warning", "FailedToRetrieveImagePullSecret",
            f"Unable to retrieve some image pull secrets ({', '.join(shape.pull_secrets)}); "
            "attempting to pull the image may not succeed.", n, span + 1, 2, None))  # fmt: skip
    return out


def build_shapes(api: Any, namespace: str, shapes: tuple[Shape, ...] = SHAPES) -> None:
    """Create the Deployments of ``shapes`` and play the kubelet for their pods."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    nodes = {k: make_node(api, namespace, k) for k in {s.kubelet for s in shapes}}
    for shape in shapes:
        manifest = _deployment(namespace, shape, nodes[shape.kubelet])
        apps.create_namespaced_deployment(namespace, manifest)

    def pod_of(shape: Shape) -> Any:
        pods = core.list_namespaced_pod(
            namespace, label_selector=f"app.kubernetes.io/component={shape.name}"
        ).items
        return pods[0] if len(pods) == 1 else None

    started = _ts(600)
    for shape in shapes:
        pod = wait_for(lambda s=shape: pod_of(s), 60, f"the pod of {shape.name}")
        # The waiting reason alternates as a kubelet's pull loop makes it go, ending on the
        # shape's final one; each write goes through pods/status like the kubelet's.
        for reason in (*shape.steps[:-1], shape.waiting):
            body = _status(pod, shape, reason, started)
            core.patch_namespaced_pod_status(pod.metadata.name, namespace, body)
        if not shape.events_expired:
            for ev in _events(pod, shape, nodes[shape.kubelet]):
                core.create_namespaced_event(namespace, ev)

    def settled() -> bool:
        for shape in shapes:
            dep = apps.read_namespaced_deployment(shape.name, namespace)
            st = dep.status
            if not st or st.observed_generation != dep.metadata.generation:
                return False
            if (st.unavailable_replicas or 0) != 1:
                return False
        return True

    wait_for(settled, 60, "the deployment controller to count the failing pods unavailable")
    for kubelet, node in nodes.items():
        heartbeat(api, node, kubelet)  # fresh, so that the node reads Ready when recorded


@scenario("image_pull_shapes")
def image_pull_shapes(api: Any, namespace: str) -> dict[str, Any]:
    """A healthy Logos stack plus six releases whose pods cannot pull, in the shapes real
    kubelets leave: alternating ErrImagePull/ImagePullBackOff with growing event counts, a
    pre-1.32 back-off without the error, expired events, a missing pull secret announced by
    the kubelet, a missing layer.  Every image name carries another cause's words."""
    overrides = deploy_stack(api, namespace)
    build_shapes(api, namespace)
    return overrides


# ------------------------------------------------------------------- on the real kubelet
# The same shapes, where the real node (k8scluster/realnode.py, kubelet v1.37.2 and
# containerd) can give them: nothing below is written by us.


def _pull_count(api: Any, namespace: str, app: str) -> int:
    """How many times the real kubelet has said "Pulling image" for ``app``'s pod."""
    from .kubelet import events_for, live_pods

    counts = [e.count or 1 for p in live_pods(api, namespace, app)
              for e in events_for(api, namespace, p) if e.reason == "Pulling"]  # fmt: skip
    return max(counts, default=0)


@scenario("real_pull_secret_missing")
def real_pull_secret_missing(api: Any, namespace: str) -> None:
    """A private image whose pod names a pull secret that does not exist: the real kubelet
    pulls without it, gets 401, and says "Unable to retrieve some image pull secrets
    (regcred-mirror); attempting to pull the image may not succeed." (pkg/kubelet/kubelet.go
    SyncPod).  The image, x509-exporter, is refused, not a TLS problem."""
    from .. import realnode
    from .kubelet import deploy, wait_waiting

    deploy(api, namespace, "exporter",
           [{"name": "exporter", "image": realnode.toolbox_image("auth"),
             "imagePullPolicy": "Always"}], image_pull_secrets=[SECRET_MISSING])  # fmt: skip
    wait_waiting(
        api,
        namespace,
        "exporter",
        "ImagePullBackOff",
        (MISSING_SECRET, "Unable to retrieve some image pull secrets"),
    )


MISSING_SECRET = "FailedToRetrieveImagePullSecret"


@scenario("real_pull_retries")
def real_pull_retries(api: Any, namespace: str) -> None:
    """A missing tag (v1.403) the real kubelet keeps retrying: ErrImagePull and
    ImagePullBackOff alternate, and its events are aggregated with growing counts (three
    pull attempts, 10 s then 20 s apart)."""
    from .. import realnode
    from .kubelet import deploy

    deploy(api, namespace, "docs",
           [{"name": "docs", "image": realnode.toolbox_image(tag="v1.403"),
             "imagePullPolicy": "Always"}])  # fmt: skip
    wait_for(
        lambda: _pull_count(api, namespace, "docs") >= 3,
        120,
        "three pull attempts by the real kubelet",
        interval=1,
    )
