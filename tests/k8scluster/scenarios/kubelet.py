"""Kubelet-side failures, produced by a real kubelet on the real node (``realnode``).

Every workload here runs on ``real-node-0`` (node selector and toleration, host network,
the busybox toolbox image from the local registry), so each waiting reason, probe message,
exit code and event below was written by kubelet v1.37.2 and containerd 1.6.20, never by
us.  Image names are chosen to mislead a matcher that classifies by name (``nginx-tls`` is
busybox, ``x509-exporter`` has no certificate problem, tag ``v1.403`` is simply absent).

What the kubelet and containerd wrote, recorded on this harness (ports vary per run):

* Image pulls (``imagePullPolicy: Always``), each with a ``Warning Failed`` event
  ``Failed to pull image "IMG": ERR``, then ``Error: ErrImagePull``, ``Normal BackOff``
  ``Back-off pulling image "IMG"`` and ``Error: ImagePullBackOff``; the container waits
  with reason ``ImagePullBackOff`` and message
  ``Back-off pulling image "IMG": ErrImagePull: ERR``, where ERR is containerd's:

  - tag not found: ``rpc error: code = NotFound desc = failed to pull and unpack image
    "IMG": failed to resolve reference "IMG": IMG: not found`` (the only one that keeps
    the gRPC prefix);
  - no credentials: ``failed to pull and unpack image "IMG": failed to resolve reference
    "IMG": pulling from host 127.0.0.1:P failed with status code [manifests v2.0.1]:
    401 Unauthorized``;
  - registry down: ``... failed to do request: Head "http://127.0.0.1:P/v2/acme/nginx-tls/
    manifests/v1.2": dial tcp 127.0.0.1:P: connect: connection refused``;
  - unresolvable host: ``... failed to do request: Head "https://registry.invalid/v2/acme/
    nginx-tls/manifests/v1.2": dial tcp: lookup registry.invalid on 127.53.X.Y:53: no such
    host``.
* With the pull secret: ``Successfully pulled image "IMG" in 61ms (61ms including
  waiting). Image size: 1036799 bytes.``  containerd then reports ``status.image`` and
  ``imageID`` under the first reference it holds for that image (``acme/nginx-tls`` from
  the open registry, same digest), not the spec's ``acme/x509-exporter``.
* CreateContainerConfigError (waiting message; the ``Failed`` event is ``Error: `` + it):
  ``secret "postgres-x509" not found``; ``couldn't find key password in Secret
  NS/api-credentials``; ``configmap "api-settings" not found``.  Phase Pending.
* FailedMount (waiting reason ``ContainerCreating``, no message), one event per volume:
  ``MountVolume.SetUp failed for volume "conf" : configmap "proxy-conf" not found`` and
  ``MountVolume.SetUp failed for volume "certs" : secret "tls-403" not found``.
* Readiness on a closed port: running, ``ready: false``, Ready=False
  ``ContainersNotReady`` ``containers with unready status: [server]``; ``Unhealthy``
  ``Readiness probe failed: Get "http://198.18.0.10:P/": dial tcp 198.18.0.10:P: connect:
  connection refused``; the EndpointSlice endpoint has ready=false, serving=false.
* Readiness gate never written (``target-health.elbv2.k8s.aws/...``), server ready:
  ContainersReady=True, Ready=False ``ReadinessGatesNotReady`` ``corresponding condition of
  pod readiness gate "T" does not exist.``; once the gate's condition is patched False, the
  kubelet rewrites it to ``the status of pod readiness gate "T" is not "True", but False``.
  The kubelet writes no event for a gate (a first readiness probe may fail before httpd
  listens: one ``Unhealthy`` that the next probe's success makes history).  The
  EndpointSlice endpoint has ready=false, serving=false.
* Liveness 404: ``Unhealthy`` ``Liveness probe failed: HTTP probe failed with statuscode:
  404``, ``Killing`` ``Container server failed liveness probe, will be restarted``; the
  server exits 0 on SIGTERM, so lastState.terminated is ``Completed``, exit 0.
* Crash loop: waiting ``CrashLoopBackOff``, message ``back-off 20s restarting failed
  container=worker pod=POD_NS(UID)``; lastState.terminated ``Error``, exit code 1; event
  ``BackOff`` ``Back-off restarting failed container worker in pod POD_NS(UID)``.
* OOM: lastState.terminated ``OOMKilled``, exit code 137, then ``CrashLoopBackOff``.
* Init container that never finishes: it is ``running``; the app container waits with
  ``PodInitializing``; Initialized=False ``ContainersNotInitialized`` ``containers with
  incomplete status: [wait-for-db]``; phase Pending.
* Missing claim, scheduled normally: the scheduler, not the kubelet: PodScheduled=False
  ``Unschedulable`` ``0/N nodes are available: persistentvolumeclaim "data-db-0" not
  found. not found`` (sic), event ``FailedScheduling`` with the same words.
* Missing claim on a pod bound with ``nodeName``: waiting ``ContainerCreating``,
  PodReadyToStartContainers=False ``PodSandboxNotReady``, and ``FailedMount`` ``Unable to
  attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to
  process volumes=[data]: error processing PVC NS/data-db-0: failed to fetch PVC from API
  server: persistentvolumeclaims "data-db-0" not found``.

tests/unit/test_real_node_recordings.py holds these as assertions on the recordings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .. import realnode
from ..kube import wait_for
from . import scenario

TIMEOUT = 120.0


# --------------------------------------------------------------------------- helpers


def deployment(name: str, pod: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    """A Deployment running ``pod`` (a ``realnode.real_pod`` manifest)."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": realnode.real_pod_template(pod)}}


def deploy(api: Any, namespace: str, name: str, containers: list[dict[str, Any]],
           **pod_args: Any) -> None:
    client.AppsV1Api(api).create_namespaced_deployment(
        namespace, deployment(name, realnode.real_pod(name, containers, **pod_args)))


def live_pods(api: Any, namespace: str, app: str) -> list[Any]:
    return [p for p in client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=f"app={app}").items if p.metadata.deletion_timestamp is None]


def status_of(pod: Any, container: str | None = None, *, init: bool = False) -> Any:
    statuses = (pod.status.init_container_statuses if init
                else pod.status.container_statuses) or []
    for cs in statuses:
        if container is None or cs.name == container:
            return cs
    return None


def events_for(api: Any, namespace: str, pod: Any) -> list[Any]:
    return [e for e in client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={pod.metadata.name}").items
        if e.involved_object.uid == pod.metadata.uid]


def _describe(api: Any, namespace: str, app: str) -> str:
    lines = []
    for pod in live_pods(api, namespace, app):
        lines.append(f"{pod.metadata.name} {pod.status.phase} "
                     f"init={pod.status.init_container_statuses} "
                     f"containers={pod.status.container_statuses} "
                     f"conditions={pod.status.conditions}")
        lines += [f"  {e.type} {e.reason}: {e.message}" for e in events_for(api, namespace, pod)]
    return "\n".join(lines) or "(no pods)"


def wait_pod(api: Any, namespace: str, app: str, predicate: Callable[[Any], bool],
             what: str, timeout: float = TIMEOUT) -> Any:
    """Wait until a live pod of ``app`` satisfies ``predicate``; return it."""
    def find() -> Any:
        return next((p for p in live_pods(api, namespace, app) if predicate(p)), None)

    return wait_for(find, timeout, f"{app} pod: {what}", interval=0.5,
                    describe=lambda: _describe(api, namespace, app))


def has_event(api: Any, namespace: str, pod: Any, reason: str, prefix: str = "") -> bool:
    return any(e.reason == reason and (e.message or "").startswith(prefix)
               for e in events_for(api, namespace, pod))


def waiting_reason(pod: Any, container: str | None = None) -> str | None:
    cs = status_of(pod, container)
    return cs.state.waiting.reason if cs and cs.state and cs.state.waiting else None


def wait_waiting(api: Any, namespace: str, app: str, reason: str,
                 event: tuple[str, str] | None = None, timeout: float = TIMEOUT) -> Any:
    """Wait until ``app``'s container waits with ``reason`` (and the pod has ``event``:
    (reason, message prefix))."""
    def ok(pod: Any) -> bool:
        if waiting_reason(pod) != reason:
            return False
        return event is None or has_event(api, namespace, pod, *event)

    return wait_pod(api, namespace, app, ok, f"waiting {reason}"
                    + (f" and event {event[0]}" if event else ""), timeout)


def restarted(pod: Any, times: int, reason: str | None = None) -> bool:
    cs = status_of(pod)
    if cs is None or (cs.restart_count or 0) < times:
        return False
    last = cs.last_state.terminated if cs.last_state else None
    return reason is None or (last is not None and last.reason == reason)


def free_port() -> int:
    from ..cluster import _free_port

    return _free_port()


def http_server(port: int) -> dict[str, Any]:
    """A container serving /var/www (index.html only) on the pod IP (the node's address),
    exiting on SIGTERM."""
    return {
        "name": "server",
        "command": ["sh", "-c", 'httpd -f -p "$POD_IP:$PORT" -h /var/www & '
                                'trap "kill $!; exit 0" TERM; wait'],
        "env": [{"name": "PORT", "value": str(port)},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [{"containerPort": port, "name": "http"}],
    }


def sleeper(name: str = "app", **extra: Any) -> dict[str, Any]:
    return {"name": name, "command": ["sh", "-c", 'trap "exit 0" TERM; sleep 3600 & wait'],
            **extra}


# --------------------------------------------------------------------------- healthy


@scenario("real_healthy")
def real_healthy(api: Any, namespace: str) -> None:
    """A healthy web Deployment on the real node behind a Service with a ready endpoint: the
    baseline where no kubelet-side check should find anything."""
    port = free_port()
    server = http_server(port)
    server["readinessProbe"] = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 2}
    deploy(api, namespace, "web", [server])
    _service(api, namespace, "web", port)
    wait_pod(api, namespace, "web", _ready, "Ready")
    _wait_endpoints(api, namespace, "web", ready=True)


# --------------------------------------------------------------------------- image pulls


def _pull_failure(api: Any, namespace: str, app: str, image: str,
                  secrets: list[str] | None = None) -> None:
    deploy(api, namespace, app, [{"name": app, "image": image, "imagePullPolicy": "Always"}],
           image_pull_secrets=secrets)
    wait_waiting(api, namespace, app, "ImagePullBackOff",
                 ("Failed", "Failed to pull image"))


@scenario("real_image_tag_not_found")
def real_image_tag_not_found(api: Any, namespace: str) -> None:
    """The tag does not exist in the (open, local) registry: 404 on the manifest."""
    _pull_failure(api, namespace, "web", realnode.toolbox_image(tag="v1.403"))


@scenario("real_image_unauthorized")
def real_image_unauthorized(api: Any, namespace: str) -> None:
    """The registry wants credentials and the pod has no imagePullSecrets: 401."""
    _pull_failure(api, namespace, "exporter", realnode.toolbox_image("auth"))


@scenario("real_image_pull_secret")
def real_image_pull_secret(api: Any, namespace: str) -> None:
    """The same private image with a kubernetes.io/dockerconfigjson pull secret: it pulls
    and runs."""
    client.CoreV1Api(api).create_namespaced_secret(namespace, realnode.pull_secret("regcred"))
    deploy(api, namespace, "exporter", [sleeper("exporter", image=realnode.toolbox_image(
        "auth"), imagePullPolicy="Always")], image_pull_secrets=["regcred"])
    wait_pod(api, namespace, "exporter", _ready, "Ready")


@scenario("real_registry_refused")
def real_registry_refused(api: Any, namespace: str) -> None:
    """Nothing listens on the registry's port (a registry that is down): connection
    refused."""
    host = realnode.registry("closed")
    if realnode._port_open(int(host.rsplit(":", 1)[1])):
        raise RuntimeError(f"{host}, the real node's closed registry port, now has a listener")
    _pull_failure(api, namespace, "web",
                  f"{host}/{realnode.TOOLBOX_REPO}:{realnode.TOOLBOX_TAG}")


@scenario("real_registry_unresolvable")
def real_registry_unresolvable(api: Any, namespace: str) -> None:
    """The registry host does not resolve (a typo in the registry name)."""
    _pull_failure(api, namespace, "web", f"{realnode.UNRESOLVABLE_REGISTRY}/"
                                         f"{realnode.TOOLBOX_REPO}:{realnode.TOOLBOX_TAG}")


# --------------------------------------------------------------------------- config


def _secret_env(secret: str, key: str) -> dict[str, Any]:
    return {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


@scenario("real_env_secret_missing")
def real_env_secret_missing(api: Any, namespace: str) -> None:
    """An env var from a Secret that does not exist: CreateContainerConfigError."""
    deploy(api, namespace, "api", [sleeper("api", env=[_secret_env("postgres-x509",
                                                                   "password")])])
    wait_waiting(api, namespace, "api", "CreateContainerConfigError",
                 ("Failed", "Error: "))


@scenario("real_env_secret_key_missing")
def real_env_secret_key_missing(api: Any, namespace: str) -> None:
    """The Secret exists but lacks the key an env var names."""
    client.CoreV1Api(api).create_namespaced_secret(namespace, {
        "metadata": {"name": "api-credentials"}, "stringData": {"username": "logos"}})
    deploy(api, namespace, "api", [sleeper("api", env=[_secret_env("api-credentials",
                                                                   "password")])])
    wait_waiting(api, namespace, "api", "CreateContainerConfigError",
                 ("Failed", "Error: "))


@scenario("real_env_configmap_missing")
def real_env_configmap_missing(api: Any, namespace: str) -> None:
    """envFrom a ConfigMap that does not exist."""
    deploy(api, namespace, "api", [sleeper("api", envFrom=[
        {"configMapRef": {"name": "api-settings"}}])])
    wait_waiting(api, namespace, "api", "CreateContainerConfigError",
                 ("Failed", "Error: "))


@scenario("real_volume_missing")
def real_volume_missing(api: Any, namespace: str) -> None:
    """Volumes from a ConfigMap and a Secret that do not exist: the pod stays in
    ContainerCreating and the kubelet reports FailedMount for each."""
    deploy(api, namespace, "proxy", [sleeper("proxy", volumeMounts=[
        {"name": "conf", "mountPath": "/etc/proxy"},
        {"name": "certs", "mountPath": "/etc/certs"}])],
        volumes=[{"name": "conf", "configMap": {"name": "proxy-conf"}},
                 {"name": "certs", "secret": {"secretName": "tls-403"}}])

    def both(pod: Any) -> bool:
        msgs = [e.message or "" for e in events_for(api, namespace, pod)
                if e.reason == "FailedMount"]
        return (any('volume "conf"' in m for m in msgs)
                and any('volume "certs"' in m for m in msgs)
                and waiting_reason(pod) == "ContainerCreating")

    wait_pod(api, namespace, "proxy", both, "FailedMount for both volumes")


# --------------------------------------------------------------------------- probes


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _service(api: Any, namespace: str, app: str, port: int) -> None:
    client.CoreV1Api(api).create_namespaced_service(namespace, {
        "metadata": {"name": app},
        "spec": {"selector": {"app": app},
                 "ports": [{"name": "http", "port": 80, "targetPort": port}]}})


def _wait_endpoints(api: Any, namespace: str, service: str, *, ready: bool) -> None:
    discovery = client.DiscoveryV1Api(api)

    def check() -> bool:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={service}").items
        eps = [ep for s in slices for ep in s.endpoints or []]
        return bool(eps) and all(bool(ep.conditions.ready) == ready for ep in eps)

    wait_for(check, TIMEOUT, f"EndpointSlice of {service} with ready={ready}", interval=0.5)


@scenario("real_readiness_failing")
def real_readiness_failing(api: Any, namespace: str) -> None:
    """The readiness probe checks a port the server does not listen on: the pod runs but
    never becomes Ready, and the Service has no ready endpoint."""
    port, wrong = free_port(), free_port()
    server = http_server(port)
    server["readinessProbe"] = {"httpGet": {"path": "/", "port": wrong}, "periodSeconds": 2,
                                "failureThreshold": 1}
    deploy(api, namespace, "web", [server])
    _service(api, namespace, "web", port)

    def unready(pod: Any) -> bool:
        cs = status_of(pod)
        return (cs is not None and cs.state.running is not None and not cs.ready
                and has_event(api, namespace, pod, "Unhealthy", "Readiness probe failed"))

    wait_pod(api, namespace, "web", unready, "running, not ready, Unhealthy event")
    _wait_endpoints(api, namespace, "web", ready=False)


# The condition type the AWS Load Balancer Controller gives a pod behind TargetGroupBinding
# "k8s-web-7c1e9a": "target-health.elbv2.k8s.aws/" + the binding's name
# (pkg/targetgroupbinding/resource_manager.go BuildTargetHealthPodConditionType).
GATE = "target-health.elbv2.k8s.aws/k8s-web-7c1e9a"


def _gated(api: Any, namespace: str) -> None:
    """A web Deployment whose server answers its readiness probe, with one readiness gate,
    behind a Service; waits until the kubelet holds the pod out of Ready for the gate."""
    port = free_port()
    server = http_server(port)
    server["readinessProbe"] = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 2}
    pod = realnode.real_pod("web", [server])
    pod["spec"]["readinessGates"] = [{"conditionType": GATE}]
    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("web", pod))
    _service(api, namespace, "web", port)

    def gated(p: Any) -> bool:
        conds = {c.type: c for c in p.status.conditions or []}
        return (conds.get("ContainersReady") is not None
                and conds["ContainersReady"].status == "True"
                and conds.get("Ready") is not None
                and conds["Ready"].reason == "ReadinessGatesNotReady")

    wait_pod(api, namespace, "web", gated, "ContainersReady=True, Ready=False for the gate")
    _wait_endpoints(api, namespace, "web", ready=False)


@scenario("real_readiness_gate_absent")
def real_readiness_gate_absent(api: Any, namespace: str) -> None:
    """Containers ready, but the pod's readiness gate has no condition: no controller (here
    no AWS Load Balancer Controller at all) ever writes it.  The kubelet writes Ready=False
    ReadinessGatesNotReady `corresponding condition of pod readiness gate "T" does not
    exist.` and the Service has no ready endpoint."""
    _gated(api, namespace)


@scenario("real_readiness_gate_false")
def real_readiness_gate_false(api: Any, namespace: str) -> None:
    """The gate's condition written False, as the AWS Load Balancer Controller writes it for
    a target its ALB finds unhealthy (a strategic-merge patch of the status: type, status,
    reason = the target health's reason, message = its description; the description is the
    ELB API's, "Health checks failed with these codes: [404]").  The controller cannot run
    here; its write is made the way it makes it, and the kubelet then rewrites Ready by
    itself: `the status of pod readiness gate "T" is not "True", but False`."""
    _gated(api, namespace)
    (pod,) = live_pods(api, namespace, "web")
    client.CoreV1Api(api).patch_namespaced_pod_status(pod.metadata.name, namespace, {
        "metadata": {"uid": pod.metadata.uid},
        "status": {"conditions": [{
            "type": GATE, "status": "False", "reason": "Target.ResponseCodeMismatch",
            "message": "Health checks failed with these codes: [404]",
            "lastTransitionTime": _now()}]}})

    def rewritten(p: Any) -> bool:
        ready = next((c for c in p.status.conditions or [] if c.type == "Ready"), None)
        return ready is not None and "is not \"True\", but False" in (ready.message or "")

    wait_pod(api, namespace, "web", rewritten, "the kubelet to read the gate's False condition")


@scenario("real_readiness_gate_true")
def real_readiness_gate_true(api: Any, namespace: str) -> None:
    """The healthy end of the same: the gate's condition written True (the controller's
    "target is healthy"; the ELB API gives a healthy target no reason or description, so the
    condition has neither), and the kubelet makes the pod Ready by itself."""
    _gated(api, namespace)
    (pod,) = live_pods(api, namespace, "web")
    client.CoreV1Api(api).patch_namespaced_pod_status(pod.metadata.name, namespace, {
        "metadata": {"uid": pod.metadata.uid},
        "status": {"conditions": [{"type": GATE, "status": "True",
                                   "lastTransitionTime": _now()}]}})
    wait_pod(api, namespace, "web", _ready, "the kubelet to make the pod Ready")
    _wait_endpoints(api, namespace, "web", ready=True)


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@scenario("real_liveness_restarts")
def real_liveness_restarts(api: Any, namespace: str) -> None:
    """The liveness probe asks for a path the server does not have (404): the kubelet kills
    and restarts the container again and again."""
    port = free_port()
    server = http_server(port)
    server["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": port},
                               "periodSeconds": 1, "failureThreshold": 2}
    deploy(api, namespace, "web", [server])
    wait_pod(api, namespace, "web",
             lambda p: restarted(p, 2) and has_event(api, namespace, p, "Killing"),
             "restarted twice by the liveness probe")


# --------------------------------------------------------------------------- exits


@scenario("real_crashloop")
def real_crashloop(api: Any, namespace: str) -> None:
    """The process exits 1 at start: CrashLoopBackOff after real restarts."""
    deploy(api, namespace, "worker", [{"name": "worker", "command": [
        "sh", "-c", 'echo "loading /etc/worker/config.yaml"; '
                    'echo "fatal: queue url not set" >&2; exit 1']}])
    wait_pod(api, namespace, "worker",
             lambda p: waiting_reason(p) == "CrashLoopBackOff" and restarted(p, 2, "Error"),
             "CrashLoopBackOff after 2 restarts")


@scenario("real_oom_killed")
def real_oom_killed(api: Any, namespace: str) -> None:
    """The container allocates 64 MiB under a 32 MiB memory limit: the kernel's OOM killer
    ends it (OOMKilled, exit 137), again at every restart."""
    deploy(api, namespace, "cache", [{
        "name": "cache",
        "command": ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
        "resources": {"requests": {"memory": "16Mi", "cpu": "10m"},
                      "limits": {"memory": "32Mi"}}}])
    # Two restarts: the back-off is then 20 s, a window wide enough for the snapshot to
    # find the container waiting rather than in its few milliseconds of running.
    wait_pod(api, namespace, "cache",
             lambda p: waiting_reason(p) == "CrashLoopBackOff" and restarted(p, 2, "OOMKilled"),
             "CrashLoopBackOff after two OOM kills")


@scenario("real_init_stuck")
def real_init_stuck(api: Any, namespace: str) -> None:
    """An init container waits for a database that never answers: the pod stays in
    Init:0/1 with the init container running."""
    port = free_port()
    init = {"name": "wait-for-db", "command": [
        "sh", "-c", f'until nc -w 1 127.0.0.1 {port} </dev/null; do '
                    f'echo "waiting for postgres at 127.0.0.1:{port}"; sleep 2; done']}
    deploy(api, namespace, "app", [sleeper("app")], init_containers=[init])

    def stuck(pod: Any) -> bool:
        cs = status_of(pod, init=True)
        conds = {c.type: c for c in pod.status.conditions or []}
        init_cond = conds.get("Initialized")
        return (cs is not None and cs.state.running is not None and init_cond is not None
                and init_cond.status == "False" and waiting_reason(pod) == "PodInitializing")

    wait_pod(api, namespace, "app", stuck, "init container running, not initialized")


# --------------------------------------------------------------------------- claims


@scenario("real_claim_missing")
def real_claim_missing(api: Any, namespace: str) -> None:
    """A Deployment for the real node mounts a PersistentVolumeClaim that does not exist:
    the scheduler keeps the pod Pending (it never reaches the kubelet)."""
    deploy(api, namespace, "db", [sleeper("db", volumeMounts=[
        {"name": "data", "mountPath": "/var/lib/db"}])],
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}])

    def unschedulable(pod: Any) -> bool:
        return any(c.type == "PodScheduled" and c.status == "False"
                   and c.reason == "Unschedulable" for c in pod.status.conditions or [])

    wait_pod(api, namespace, "db", unschedulable, "PodScheduled=False Unschedulable")


@scenario("real_claim_missing_on_node")
def real_claim_missing_on_node(api: Any, namespace: str) -> None:
    """The same missing claim on a pod bound to the real node directly (``nodeName``, as a
    node-pinned pod is): the kubelet itself cannot mount the volume."""
    pod = realnode.real_pod("db", [sleeper("db", volumeMounts=[
        {"name": "data", "mountPath": "/var/lib/db"}])],
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}])
    pod["spec"]["nodeName"] = realnode.NODE_NAME
    del pod["spec"]["nodeSelector"]
    try:
        client.CoreV1Api(api).create_namespaced_pod(namespace, pod)
    except ApiException as e:
        raise RuntimeError(f"could not create the pod: {e.body}") from e
    wait_pod(api, namespace, "db",
             lambda p: has_event(api, namespace, p, "FailedMount"), "FailedMount event")
