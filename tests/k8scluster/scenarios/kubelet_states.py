"""Kubelet-side scenarios: what the kubelet writes on a pod's way to Running.

kwok cannot say these things, so a small stand-in plays the kubelet of a Node that kwok does
not manage (no ``kwok.x-k8s.io/node`` annotation; labelled with OWNER_LABEL for cleanup;
tainted so that only this namespace's pods land there).  Everything else is real: the
Deployment and ReplicaSet controllers make the pods, the scheduler binds them to the node,
the EndpointSlice controller publishes them, the node-lifecycle controller watches the
node's Lease.  The stand-in writes only what a kubelet v1.37.2 writes, in its shapes (read
from a real kubelet on this cluster's real node, ``real-node-0``):

* pod status through the ``pods/status`` subresource: phase, conditions
  (PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled; messages from
  pkg/kubelet/status/generate.go), container statuses;
* events through core/v1 as its legacy recorder does (cmd/kubelet/app/server.go: source
  ``{component: kubelet, host: <node>}``; client-go tools/record/event.go sets
  reportingController/reportingInstance from it), about the container
  (``involvedObject.fieldPath: spec.containers{name}``) where the kubelet's are;
* the node's status and its Lease in ``kube-node-lease`` (renewed every few seconds, as
  the kubelet's node lease controller does, until the scenario stops it).

Each message below names the kubelet source file it is copied from.
"""

from __future__ import annotations

import secrets as token
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .. import logos_stack
from ..kube import wait_for
from . import OWNER_LABEL, scenario

TAINT_KEY = "logos-test/kubelet-states"
IMAGE = "registry.logos-test.invalid/acme/nginx-tls:v1.403"  # no classifier may read names
IMAGE_ID = "registry.logos-test.invalid/acme/nginx-tls@sha256:" + "5e" * 32
LEASE_SECONDS = 40


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def micro_now() -> datetime:
    """A MicroTime the client serialises with its fraction (the API server needs one)."""
    t = datetime.now(UTC)
    return t if t.microsecond else t.replace(microsecond=1)


def ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# =========================================================================== the stand-in


def conflicted(write: Any, attempts: int = 10) -> None:
    """Run a read-modify-write, again while the controllers change the object under it."""
    for attempt in range(attempts):
        try:
            write()
            return
        except ApiException as e:
            if e.status != 409 or attempt == attempts - 1:
                raise


class FakeKubelet:
    """Plays the kubelet of one Node that kwok does not manage."""

    def __init__(self, api: Any, namespace: str, node: str, address: str) -> None:
        self.api, self.namespace, self.node, self.address = api, namespace, node, address
        self.core = client.CoreV1Api(api)
        self.leases = client.CoordinationV1Api(api)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- node

    def register(self, *, ready: bool = True) -> None:
        """Create the Node as the kubelet registers it, post its status, start its Lease."""
        labels = {
            "kubernetes.io/hostname": self.node,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            OWNER_LABEL: self.namespace,
        }
        node = self.core.create_node({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.node, "labels": labels, "annotations": {
                # what the kubelet annotates its Node with (pkg/kubelet/kubelet_node_status.go)
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"taints": [{"key": TAINT_KEY, "value": self.namespace,
                                 "effect": "NoSchedule"}]},
        })
        self.uid = node.metadata.uid
        self.post_status(ready=ready)
        self.leases.create_namespaced_lease("kube-node-lease", {
            "metadata": {"name": self.node, "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": self.node, "uid": self.uid}]},
            "spec": {"holderIdentity": self.node, "leaseDurationSeconds": LEASE_SECONDS,
                     "renewTime": micro_now()}})
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"fake-kubelet-{self.node}")
        self._thread.start()

    def post_status(self, *, ready: bool = True, ready_message: str = "",
                    pressure: dict[str, bool] | None = None,
                    since: datetime | None = None) -> None:
        """The node's conditions in pkg/kubelet/nodestatus/setters.go's words."""
        beat, changed = ts(now()), ts(since or now())
        pressure = pressure or {}
        words = {  # type -> (reason, message) when True, when False
            "MemoryPressure": (("KubeletHasInsufficientMemory",
                                "kubelet has insufficient memory available"),
                               ("KubeletHasSufficientMemory",
                                "kubelet has sufficient memory available")),
            "DiskPressure": (("KubeletHasDiskPressure", "kubelet has disk pressure"),
                             ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")),
            "PIDPressure": (("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
                            ("KubeletHasSufficientPID", "kubelet has sufficient PID available")),
        }
        conds = []
        old = {c.type: c for c in (self.core.read_node(self.node).status.conditions or [])}

        def transition(kind: str, status: str) -> str:
            prev = old.get(kind)
            if prev is not None and prev.status == status and since is None:
                return ts(prev.last_transition_time)
            return changed

        for kind, (yes, no) in words.items():
            on = pressure.get(kind, False)
            reason, message = yes if on else no
            status = "True" if on else "False"
            conds.append({"type": kind, "status": status, "reason": reason, "message": message,
                          "lastHeartbeatTime": beat,
                          "lastTransitionTime": transition(kind, status)})
        status = "True" if ready else "False"
        conds.append({"type": "Ready", "status": status,
                      "reason": "KubeletReady" if ready else "KubeletNotReady",
                      "message": "kubelet is posting ready status" if ready else ready_message,
                      "lastHeartbeatTime": beat, "lastTransitionTime": transition("Ready", status)})
        resources = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        status = client.V1NodeStatus(
            conditions=conds, capacity=resources, allocatable=resources,
            addresses=[{"type": "InternalIP", "address": self.address},
                       {"type": "Hostname", "address": self.node}],
            daemon_endpoints={"kubeletEndpoint": {"Port": 10250}},
            node_info={"architecture": "amd64", "bootID": str(token.token_hex(16)),
                       "containerRuntimeVersion": "containerd://1.7.24",
                       "kernelVersion": "6.1.0-28-amd64", "kubeProxyVersion": "",
                       "kubeletVersion": "v1.37.2", "machineID": token.token_hex(16),
                       "operatingSystem": "linux", "osImage": "Debian GNU/Linux 12 (bookworm)",
                       "systemUUID": token.token_hex(16)})

        def write() -> None:
            node = self.core.read_node(self.node)
            node.status = status
            self.core.replace_node_status(self.node, node)

        conflicted(write)

    def _beat(self) -> None:
        """Renew the node Lease, as the kubelet's lease controller does, until stopped."""
        while not self._stop.wait(4):
            try:
                self.leases.patch_namespaced_lease(
                    self.node, "kube-node-lease",
                    {"spec": {"renewTime": micro_now()}})
            except ApiException:
                return  # the node (and its Lease) is gone: the scenario's namespace was cleaned
            except Exception:  # the client was closed at the end of a test session
                return

    def stop(self) -> None:
        """Stop heartbeating: from here on the node-lifecycle controller decides."""
        self._stop.set()

    # ---------------------------------------------------------------- pods

    def pods(self, prefix: str) -> list[Any]:
        """Live pods named ``prefix*`` bound to this node."""
        return [p for p in self.core.list_namespaced_pod(self.namespace).items
                if p.metadata.name.startswith(prefix) and p.spec.node_name == self.node
                and p.metadata.deletion_timestamp is None and p.status.phase != "Failed"]

    def wait_bound(self, prefix: str, count: int) -> list[Any]:
        """Wait for the scheduler to bind ``count`` pods named ``prefix*`` to this node."""
        return wait_for(lambda: (found := self.pods(prefix)) and len(found) >= count and found,
                        60, f"{count} pod(s) {prefix}* bound to {self.node}", interval=0.5)

    def write_status(self, pod: Any, status: dict[str, Any]) -> None:
        """Write ``status`` through pods/status, as the kubelet's status manager does."""

        def write() -> None:
            fresh = self.core.read_namespaced_pod(pod.metadata.name, self.namespace)
            body = self.api.sanitize_for_serialization(fresh)
            body["status"] = status
            self.core.replace_namespaced_pod_status(pod.metadata.name, self.namespace, body)

        conflicted(write)

    def event(self, pod: Any, reason: str, message: str, *, container: str | None = None,
              init: bool = False, kind: str = "Warning", count: int = 1,
              first: datetime | None = None, last: datetime | None = None,
              component: str = "kubelet") -> None:
        """One core/v1 Event as the kubelet's recorder writes it (count/first/last series)."""
        involved = {"apiVersion": "v1", "kind": "Pod", "name": pod.metadata.name,
                    "namespace": self.namespace, "uid": pod.metadata.uid,
                    "resourceVersion": pod.metadata.resource_version}
        if container:
            field = "initContainers" if init else "containers"
            involved["fieldPath"] = f"spec.{field}{{{container}}}"
        last = last or now()
        source = {"component": component}
        if component == "kubelet":
            source["host"] = self.node
        self.core.create_namespaced_event(self.namespace, {
            "metadata": {"name": f"{pod.metadata.name}.{token.token_hex(8)}",
                         "namespace": self.namespace},
            "involvedObject": involved, "reason": reason, "message": message, "type": kind,
            "count": count, "firstTimestamp": ts(first or last), "lastTimestamp": ts(last),
            "source": source, "reportingComponent": component,
            "reportingInstance": self.node if component == "kubelet" else ""})


# =========================================================================== pod statuses


def conditions(start: datetime, *, sandbox: bool = True, initialized: str = "",
               unready: str = "", ready: bool = False) -> list[dict[str, Any]]:
    """A pod's conditions in pkg/kubelet/status/generate.go's words (observed on a real
    kubelet v1.37.2: every condition carries observedGeneration)."""
    t = ts(start)

    def cond(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None,
                               "lastTransitionTime": t, "observedGeneration": 1}
        if reason:
            out |= {"reason": reason, "message": message}
        return out

    out = [cond("PodReadyToStartContainers", "True") if sandbox else
           cond("PodReadyToStartContainers", "False", "PodSandboxNotReady",
                "no pod sandbox exists")]
    out.append(cond("Initialized", "False", "ContainersNotInitialized",
                    f"containers with incomplete status: [{initialized}]")
               if initialized else cond("Initialized", "True"))
    for kind in ("Ready", "ContainersReady"):
        out.append(cond(kind, "True") if ready else
                   cond(kind, "False", "ContainersNotReady",
                        f"containers with unready status: [{unready}]"))
    out.append(cond("PodScheduled", "True"))
    return out


def container(name: str, *, waiting: tuple[str, str] | None = None,
              running: datetime | None = None, ready: bool = False, restarts: int = 0,
              last: dict[str, Any] | None = None, started: bool | None = None,
              cid: bool = True) -> dict[str, Any]:
    """One container status as pkg/kubelet/kubelet_pods.go convertToAPIContainerStatuses
    writes it."""
    if waiting:
        reason, message = waiting
        state: dict[str, Any] = {"waiting": {"reason": reason, **({"message": message}
                                                                  if message else {})}}
    else:
        state = {"running": {"startedAt": ts(running or now())}}
    out: dict[str, Any] = {"name": name, "image": IMAGE, "imageID": IMAGE_ID if running else "",
                           "ready": ready, "restartCount": restarts,
                           "started": bool(running) if started is None else started,
                           "state": state, "lastState": {"terminated": last} if last else {}}
    if running and cid:
        out["containerID"] = "containerd://" + token.token_hex(32)
    return out


def pod_status(pod: Any, start: datetime, phase: str, conds: list[dict[str, Any]],
               statuses: list[dict[str, Any]], address: str,
               init_statuses: list[dict[str, Any]] | None = None,
               **extra: Any) -> dict[str, Any]:
    out = {"phase": phase, "conditions": conds, "hostIP": address,
           "hostIPs": [{"ip": address}], "podIP": address, "podIPs": [{"ip": address}],
           "startTime": ts(start), "qosClass": "Burstable", "observedGeneration": 1,
           "containerStatuses": statuses, **extra}
    if init_statuses:
        out["initContainerStatuses"] = init_statuses
    return out


# =========================================================================== workloads


def deployment(namespace: str, name: str, component: str, node: str, *, replicas: int = 1,
               env: list[dict] | None = None, probes: dict[str, Any] | None = None,
               volumes: list[dict] | None = None, mounts: list[dict] | None = None,
               init: list[dict] | None = None) -> dict:
    """A Logos Deployment (the stack's manifest) pinned to ``node``, probes as given."""
    manifest = logos_stack._deployment(namespace, name, component, replicas, IMAGE,
                                       {"requests": {"cpu": "100m", "memory": "256Mi"}}, env)
    spec = manifest["spec"]["template"]["spec"]
    spec.pop("imagePullSecrets", None)
    spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    spec["tolerations"] = [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
    # No kubelet confirms a deletion on this node: let the namespace go at once.
    spec["terminationGracePeriodSeconds"] = 0
    c = spec["containers"][0]
    c.pop("readinessProbe"), c.pop("livenessProbe")
    c.update(probes or {})
    if mounts:
        c["volumeMounts"] = mounts
    if volumes:
        spec["volumes"] = volumes
    if init:
        spec["initContainers"] = init
    return manifest


def service(namespace: str, name: str, component: str) -> dict:
    return logos_stack._service(namespace, name, component, 80, "http")


HTTP_PROBE = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1,
              "failureThreshold": 3}


def elapsed_count(since: datetime, period: int = 1) -> int:
    """How many probes ran since ``since`` every ``period`` seconds (a count a kubelet could
    have reached: the stand-in never writes more failures than time allowed)."""
    return max(1, int((now() - since).total_seconds()) // period)


# =========================================================================== the scenario


@scenario("kubelet_states")
def kubelet_states(api: Any, namespace: str) -> dict[str, Any]:
    """One node, one Logos workload per kubelet-side failure, named to mislead:

    * logos-chat: env from ConfigMap ``readiness-probe-failed``, which does not exist;
    * logos-indexer: env from key ``liveness`` of ConfigMap ``logos-settings``, which lacks it;
    * logos-mailer: env from Secret ``smtp-credentials``, which does not exist;
    * logos-docs: a volume from ConfigMap ``quota-exceeded-config``, which does not exist;
    * logos-web (2 replicas, Service logos-web): readiness probe answers 503;
    * logos-worker: liveness probe refused, the kubelet restarts it;
    * logos-search: startup probe answers 500, the kubelet restarts it;
    * logos-render: its first pod was evicted (memory), the replacement runs ready;
    * logos-migrate: init container ``wait-for-db`` waits for a database, for over 2 minutes;
    * logos-healthy: the control, running and ready.
    """
    node = f"kubelet-{namespace}"[:63]
    kubelet = FakeKubelet(api, namespace, node, "10.250.0.10")
    kubelet.register()
    core = client.CoreV1Api(api)
    for secret in logos_stack.secrets(namespace):  # what the guide expects: no noise
        logos_stack._create(api, secret)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "logos-settings"},
                                                  "data": {"readiness": "ok"}})

    def cm_env(name: str, key: str) -> list[dict]:
        return [{"name": "SETTING", "valueFrom": {"configMapKeyRef": {"name": name, "key": key}}}]

    objs = [
        deployment(namespace, "logos-migrate", "migrate", node, init=[{
            "name": "wait-for-db", "image": IMAGE,
            "command": ["sh", "-c", "until nc -z logos-postgresql 5432; do sleep 2; done"]}]),
        deployment(namespace, "logos-chat", "chat", node,
                   env=cm_env("readiness-probe-failed", "chat.yaml")),
        deployment(namespace, "logos-indexer", "indexer", node,
                   env=cm_env("logos-settings", "liveness")),
        deployment(namespace, "logos-mailer", "mailer", node, env=[
            {"name": "SMTP_PASSWORD",
             "valueFrom": {"secretKeyRef": {"name": "smtp-credentials", "key": "password"}}}]),
        deployment(namespace, "logos-docs", "docs", node,
                   volumes=[{"name": "docs-config",
                             "configMap": {"name": "quota-exceeded-config"}}],
                   mounts=[{"name": "docs-config", "mountPath": "/etc/docs"}]),
        deployment(namespace, "logos-web", "web", node, replicas=2,
                   probes={"readinessProbe": HTTP_PROBE}),
        service(namespace, "logos-web", "web"),
        deployment(namespace, "logos-worker", "worker", node,
                   probes={"livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1,
                                             "failureThreshold": 3}}),
        deployment(namespace, "logos-search", "search", node,
                   probes={"startupProbe": HTTP_PROBE}),
        deployment(namespace, "logos-render", "render", node),
        deployment(namespace, "logos-healthy", "healthy", node,
                   probes={"readinessProbe": HTTP_PROBE}),
    ]
    for obj in objs:
        logos_stack._create(api, obj)
    addr = kubelet.address

    # --- init container that never finishes (first: it must run for over 2 minutes) ------
    (migrate,) = kubelet.wait_bound("logos-migrate-", 1)
    t0 = now()
    kubelet.write_status(migrate, pod_status(
        migrate, t0, "Pending",
        conditions(t0, initialized="wait-for-db", unready="migrate"),
        [container("migrate", waiting=("PodInitializing", ""))], addr,
        init_statuses=[container("wait-for-db", running=t0, started=True)]))
    # pkg/kubelet/images/image_manager.go ("already present on machine and can be accessed by
    # the pod"); kuberuntime_container.go startContainer ("Container created", "started").
    for reason, message in (("Pulled", f'Container image "{IMAGE}" already present on machine '
                             "and can be accessed by the pod"),
                            ("Created", "Container created"), ("Started", "Container started")):
        kubelet.event(migrate, reason, message, container="wait-for-db", init=True,
                      kind="Normal", first=t0, last=t0)

    # --- CreateContainerConfigError (kuberuntime_container.go startContainer: the waiting
    # message is the error; the Failed event says "Error: <it>") ------------------------------
    config_errors = {
        # pkg/kubelet/util/manager/watch_based_manager.go NewNotFound("configmap", name)
        "logos-chat-": ("chat", 'configmap "readiness-probe-failed" not found'),
        # pkg/kubelet/kubelet_pods.go makeEnvironmentVariables
        "logos-indexer-": ("indexer",
                           f"couldn't find key liveness in ConfigMap {namespace}/logos-settings"),
        # pkg/kubelet/secret/secret_manager.go: NewNotFound("secret", name)
        "logos-mailer-": ("mailer", 'secret "smtp-credentials" not found'),
    }
    for prefix, (cname, message) in config_errors.items():
        (pod,) = kubelet.wait_bound(prefix, 1)
        start = now()
        kubelet.write_status(pod, pod_status(
            pod, start, "Pending", conditions(start, unready=cname),
            [container(cname, waiting=("CreateContainerConfigError", message))], addr))
        kubelet.event(pod, "Pulled", f'Container image "{IMAGE}" already present on machine '
                      "and can be accessed by the pod", container=cname, kind="Normal", count=3,
                      first=start)
        kubelet.event(pod, "Failed", f"Error: {message}", container=cname, count=3, first=start)

    # --- FailedMount (operation_generator.go "MountVolume.SetUp failed" + configmap.go) ----
    (docs,) = kubelet.wait_bound("logos-docs-", 1)
    start = now()
    kubelet.write_status(docs, pod_status(
        docs, start, "Pending", conditions(start, sandbox=False, unready="docs"),
        [container("docs", waiting=("ContainerCreating", ""))], addr))
    kubelet.event(docs, "FailedMount", 'MountVolume.SetUp failed for volume "docs-config" : '
                  'configmap "quota-exceeded-config" not found', count=4, first=start)

    # --- eviction (pkg/kubelet/eviction/helpers.go evictionMessage; eviction_manager.go
    # evictPod: phase Failed, reason Evicted, DisruptionTarget condition) ------------------
    (render,) = kubelet.wait_bound("logos-render-", 1)
    start = now()
    evicted = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: "
               "86432Ki. Container render was using 1722188Ki, request is 256Mi, has larger "
               "consumption of memory. ")
    conds = conditions(start, unready="render")
    conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                  "lastTransitionTime": ts(now()), "observedGeneration": 1,
                  "reason": "TerminationByKubelet", "message": evicted})
    kubelet.write_status(render, pod_status(
        render, start, "Failed", conds,
        [container("render", waiting=None, running=None, last=None) | {
            "state": {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": ts(start),
                                     "finishedAt": ts(now()),
                                     "containerID": "containerd://" + token.token_hex(32)}},
            "imageID": IMAGE_ID, "started": False}], addr,
        reason="Evicted", message=evicted))
    kubelet.event(render, "Evicted", evicted, first=start)
    kubelet.event(render, "Killing", "Stopping container render", container="render",
                  kind="Normal")

    # --- running pods: healthy ones, and the probe failures ------------------------------
    web = kubelet.wait_bound("logos-web-", 2)
    healthy = kubelet.wait_bound("logos-healthy-", 1)
    (worker,) = kubelet.wait_bound("logos-worker-", 1)
    (search,) = kubelet.wait_bound("logos-search-", 1)

    def render_replacement() -> Any:
        found = [p for p in kubelet.pods("logos-render-") if p.metadata.uid != render.metadata.uid]
        return found[0] if found else None

    replacement = wait_for(render_replacement, 60, "the evicted render pod's replacement")
    start = now()
    for pod, cname in ((healthy[0], "healthy"), (replacement, "render")):
        kubelet.write_status(pod, pod_status(pod, start, "Running", conditions(start, ready=True),
                                             [container(cname, running=start, ready=True)], addr))
    for pod in web:
        kubelet.write_status(pod, pod_status(
            pod, start, "Running", conditions(start, unready="web"),
            [container("web", running=start)], addr))
    kubelet.write_status(search, pod_status(
        search, start, "Running", conditions(start, unready="search"),
        [container("search", running=start, started=False)], addr))
    kubelet.write_status(worker, pod_status(
        worker, start, "Running", conditions(start, unready="worker"),
        [container("worker", running=start)], addr))

    # Failures accrue one per periodSeconds (1 s): wait until a kubelet would have seen
    # failureThreshold (3) of them, then write what it would have written by then.
    wait_for(lambda: elapsed_count(start) >= 4, 10, "three probe periods", interval=0.5)
    restarted = now()
    for pod in web:
        # pkg/kubelet/prober/prober.go "%s probe failed: %s"; pkg/probe/http/http.go
        # "HTTP probe failed with statuscode: %d"
        kubelet.event(pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with "
                      "statuscode: 503", container="web", count=elapsed_count(start), first=start)
    # Liveness: three failures, then kuberuntime_manager.go computePodActions kills it
    # ("Container %s failed liveness probe, will be restarted"); the new container runs and
    # is not ready yet.  The probe output is pkg/probe/tcp/tcp.go's dial error.
    last = {"exitCode": 137, "reason": "Error", "startedAt": ts(start),
            "finishedAt": ts(restarted), "containerID": "containerd://" + token.token_hex(32)}
    kubelet.write_status(worker, pod_status(
        worker, start, "Running", conditions(start, unready="worker"),
        [container("worker", running=restarted, restarts=1, last=last)], addr))
    kubelet.event(worker, "Unhealthy", f"Liveness probe failed: dial tcp {addr}:8080: connect: "
                  "connection refused", container="worker", count=3, first=start)
    kubelet.event(worker, "Killing", "Container worker failed liveness probe, will be restarted",
                  container="worker", kind="Normal", first=restarted)
    kubelet.write_status(search, pod_status(
        search, start, "Running", conditions(start, unready="search"),
        [container("search", running=restarted, started=False, restarts=1, last=last)], addr))
    kubelet.event(search, "Unhealthy", "Startup probe failed: HTTP probe failed with "
                  "statuscode: 500", container="search", count=3, first=start)
    kubelet.event(search, "Killing", "Container search failed startup probe, will be restarted",
                  container="search", kind="Normal", first=restarted)

    # The EndpointSlice controller publishes the not-ready web pods (real).
    def published() -> bool:
        slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=logos-web").items
        eps = [e for s in slices for e in (s.endpoints or [])]
        return len(eps) == 2 and not any(e.conditions.ready for e in eps)

    wait_for(published, 60, "logos-web's EndpointSlice with two not-ready endpoints")
    # The init container has now run for over two minutes: the kubelet says nothing more.
    wait_for(lambda: now() - t0 > timedelta(seconds=125), 150,
             "the init container to run for two minutes", interval=1)
    return {}



# =========================================================================== multi-attach


@scenario("multi_attach")
def multi_attach(api: Any, namespace: str) -> dict[str, Any]:
    """logos-search keeps its index on a ReadWriteOnce EBS volume and is moved to another
    node by a rolling update: the old pod still holds the volume on the first node, so the
    real attach/detach controller (kube-controller-manager) refuses to attach it to the
    second and says so on the new pod (FailedAttachVolume).

    The stand-in plays the two kubelets and the CSI driver's external-attacher (it marks the
    first VolumeAttachment attached, as csi-attacher does once EC2 attached the disk); the
    PV controller binds the claim, the scheduler places both pods, the Deployment controller
    rolls, and the attach/detach controller does the rest.  The volume is a pre-provisioned
    PV with no node affinity, so that the scheduler lets the new pod go to the other node.
    """
    suffix = namespace[:40]
    first = FakeKubelet(api, namespace, f"attach-a-{suffix}", "10.252.0.10")
    second = FakeKubelet(api, namespace, f"attach-b-{suffix}", "10.252.0.11")
    first.register()
    second.register()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    storage = client.StorageV1Api(api)
    pv = f"pv-{suffix}-search-index"
    core.create_persistent_volume({
        "metadata": {"name": pv, "labels": {OWNER_LABEL: namespace}},
        "spec": {"capacity": {"storage": "20Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                 "claimRef": {"namespace": namespace, "name": "search-index"},
                 "csi": {"driver": logos_stack.PROVISIONER, "fsType": "ext4",
                         "volumeHandle": "vol-0" + token.token_hex(8)}}})
    core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "search-index"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": pv,
                 "resources": {"requests": {"storage": "20Gi"}}}})
    for secret in logos_stack.secrets(namespace):
        logos_stack._create(api, secret)
    logos_stack._create(api, deployment(
        namespace, "logos-search", "search", first.node,
        volumes=[{"name": "index", "persistentVolumeClaim": {"claimName": "search-index"}}],
        mounts=[{"name": "index", "mountPath": "/var/lib/search"}]))
    (old,) = first.wait_bound("logos-search-", 1)

    # csi-attacher's part: the controller made a VolumeAttachment for the first node.
    def attachment() -> Any:
        return next((va for va in storage.list_volume_attachment().items
                     if va.spec.source.persistent_volume_name == pv
                     and va.spec.node_name == first.node), None)

    va = wait_for(attachment, 60, f"the attach/detach controller's VolumeAttachment of {pv}")
    storage.patch_volume_attachment_status(va.metadata.name, {"status": {"attached": True}})
    start = now()
    first.write_status(old, pod_status(old, start, "Running", conditions(start, ready=True),
                                       [container("search", running=start, ready=True)],
                                       first.address))
    wait_for(lambda: apps.read_namespaced_deployment("logos-search", namespace)
             .status.available_replicas == 1, 60, "logos-search available on the first node")

    # The release moves logos-search to the second node: a rolling update surges a new pod.
    apps.patch_namespaced_deployment("logos-search", namespace, {"spec": {"template": {"spec": {
        "nodeSelector": {"kubernetes.io/hostname": second.node}}}}})
    (new,) = second.wait_bound("logos-search-", 1)
    start = now()
    second.write_status(new, pod_status(
        new, start, "Pending", conditions(start, sandbox=False, unready="search"),
        [container("search", waiting=("ContainerCreating", ""))], second.address))

    def refused() -> bool:
        return any(e.reason == "FailedAttachVolume" and e.involved_object.uid == new.metadata.uid
                   for e in core.list_namespaced_event(namespace).items)

    wait_for(refused, 90, "the attach/detach controller's FailedAttachVolume on the new pod",
             interval=1)
    return {}


# =========================================================================== on the real node
# The same causes written by a real kubelet v1.37.2 (the cluster's real node, see
# k8scluster/realnode.py), for the two the real-node scenarios in ``kubelet`` do not cover.


@scenario("real_startup_probe")
def real_startup_probe(api: Any, namespace: str) -> None:
    """A server whose startup probe asks a port nothing listens on: the kubelet kills it
    before it ever starts (``Container server failed startup probe, will be restarted``)."""
    from .kubelet import deploy, free_port, has_event, http_server, restarted, wait_pod

    port = free_port()
    server = http_server(port)
    server["startupProbe"] = {"tcpSocket": {"port": free_port()}, "periodSeconds": 1,
                              "failureThreshold": 2}
    deploy(api, namespace, "search", [server])
    wait_pod(api, namespace, "search",
             lambda p: restarted(p, 1) and has_event(api, namespace, p, "Killing"),
             "restarted by the startup probe")


@scenario("real_configmap_keys_missing")
def real_configmap_keys_missing(api: Any, namespace: str) -> None:
    """ConfigMap ``readiness-probe-failed`` exists but lacks what two workloads read: an env
    key (CreateContainerConfigError) and a volume item (FailedMount)."""
    from .kubelet import deploy, sleeper, wait_waiting

    client.CoreV1Api(api).create_namespaced_config_map(namespace, {
        "metadata": {"name": "readiness-probe-failed"}, "data": {"present": "1"}})
    deploy(api, namespace, "indexer", [sleeper("indexer", env=[
        {"name": "LIVENESS", "valueFrom": {"configMapKeyRef": {
            "name": "readiness-probe-failed", "key": "liveness"}}}])])
    deploy(api, namespace, "docs", [sleeper("docs", volumeMounts=[
        {"name": "conf", "mountPath": "/etc/docs"}])],
        volumes=[{"name": "conf", "configMap": {"name": "readiness-probe-failed",
                                                "items": [{"key": "docs.yaml",
                                                           "path": "docs.yaml"}]}}])
    wait_waiting(api, namespace, "indexer", "CreateContainerConfigError", ("Failed", "Error: "))
    wait_waiting(api, namespace, "docs", "ContainerCreating", ("FailedMount", "MountVolume"))


@scenario("real_run_as_root")
def real_run_as_root(api: Any, namespace: str) -> None:
    """A pod that asks runAsNonRoot for an image that runs as root: the kubelet refuses to
    create the container (pkg/kubelet/kuberuntime/security_context_others.go)."""
    from .kubelet import deploy, sleeper, wait_waiting

    deploy(api, namespace, "quota-exceeded", [sleeper("worker", securityContext={
        "runAsNonRoot": True})])
    wait_waiting(api, namespace, "quota-exceeded", "CreateContainerConfigError",
                 ("Failed", "Error: "))
