"""Service, GPU and HPA scenarios: what reaches no pod, what finds no GPU, what cannot scale.

Objects are taken from the Logos manifests (`logos_stack.manifests`) and broken the way an
operator or a bad release would.  GPU scenarios never touch the shared GPU nodes: each makes
its own kwok nodes labelled `logos-test/gpu-<ns>=true` (plus OWNER_LABEL, for cleanup), points
logos-completion's nodeSelector at that label and returns the logos-doctor config
`gpu: {labels: [...]}` that recognises it; the scheduler sees every node, so the label must be
unique to the namespace.

Maxed-out and idle-at-minimum HPAs need metrics, and the test cluster has no metrics-server
(on purpose: its absence is itself a cause).  `ExternalMetrics` stands in for an external
metrics adapter such as KEDA's: a small HTTPS server in this process, registered as APIService
`v1beta1.external.metrics.k8s.io` through an ExternalName Service, so that the real HPA
controller reads the values through the real aggregator and writes its real conditions.
"""

from __future__ import annotations

import atexit
import json
import re
import ssl
import tempfile
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .. import logos_stack, pki
from ..kube import wait_for
from ..nodes import create_gpu_nodes
from . import OWNER_LABEL, scenario

GPU_RESOURCE = "nvidia.com/gpu"


# =========================================================================== helpers


def logos_objects(namespace: str, names: tuple[str, ...], **kwargs: Any) -> list[dict]:
    """The Logos manifests named `names` (Deployments, Services, HPA, Ingress), plus Secrets."""
    objs = logos_stack.manifests(namespace, **kwargs)
    kinds = ("Deployment", "Service", "HorizontalPodAutoscaler", "Ingress")
    return [o for o in objs
            if o["kind"] == "Secret" or (o["metadata"]["name"] in names and o["kind"] in kinds)]


def create(api: Any, objs: list[dict]) -> None:
    """Create manifests in order (the stack's own creator, which knows every kind used here)."""
    for obj in objs:
        logos_stack._create(api, obj)


def pods(api: Any, namespace: str, component: str) -> list[Any]:
    """The pods of one Logos component."""
    return client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=f"app.kubernetes.io/component={component}").items


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _unschedulable(pod: Any) -> bool:
    return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
               for c in pod.status.conditions or [])


def wait_pods(api: Any, namespace: str, component: str, *, ready: int = 0,
              unschedulable: int = 0, waiting: str | None = None, timeout: float = 90) -> None:
    """Wait until the component has exactly `ready` ready and `unschedulable` unscheduled pods
    (and, with `waiting`, every pod's containers waiting with that reason)."""

    def done() -> bool:
        items = [p for p in pods(api, namespace, component) if not p.metadata.deletion_timestamp]
        if sum(map(_ready, items)) != ready or sum(map(_unschedulable, items)) != unschedulable:
            return False
        if waiting is None:
            return True
        return bool(items) and all(
            cs.state.waiting and cs.state.waiting.reason == waiting
            for p in items for cs in p.status.container_statuses or [])

    wait_for(done, timeout, f"{component} pods in {namespace}: {ready} ready, "
             f"{unschedulable} unschedulable{', ' + waiting if waiting else ''}")


def ready_endpoints(api: Any, namespace: str, service: str) -> int:
    """Ready endpoints of a Service, from its EndpointSlices."""
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    return sum(1 for s in slices for e in s.endpoints or []
               if e.conditions is None or e.conditions.ready is not False)


def slices_settled(api: Any, namespace: str, service: str, ready: int, timeout: float = 60) -> None:
    """Wait until the EndpointSlice controller has published `ready` ready endpoints."""
    wait_for(lambda: ready_endpoints(api, namespace, service) == ready, timeout,
             f"{ready} ready endpoint(s) for Service {service}")


def hpa_condition(api: Any, namespace: str, name: str, kind: str) -> Any:
    """One status condition of an HPA, or None."""
    hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler(name, namespace)
    return next((c for c in hpa.status.conditions or [] if c.type == kind), None)


def wait_hpa(api: Any, namespace: str, name: str, kind: str, status: str, reason: str,
             timeout: float = 60) -> None:
    """Wait until the HPA controller wrote condition `kind` with this status and reason."""

    def done() -> bool:
        cond = hpa_condition(api, namespace, name, kind)
        return bool(cond and cond.status == status and cond.reason == reason)

    wait_for(done, timeout, f"HPA {name}: {kind}={status} {reason}")


# =========================================================================== services


@scenario("service_no_matching_pods")
def service_no_matching_pods(api: Any, namespace: str) -> None:
    """logos-web's Service selector gets a typo (component web-frontend); logos-chat is fine."""
    create(api, logos_objects(namespace, ("logos-web", "logos-chat")))
    wait_pods(api, namespace, "web", ready=3)
    wait_pods(api, namespace, "chat", ready=3)
    slices_settled(api, namespace, "logos-web", 3)
    logos_stack.break_service_selector(api, namespace, "logos-web")
    slices_settled(api, namespace, "logos-web", 0)
    slices_settled(api, namespace, "logos-chat", 3)


@scenario("service_pods_not_ready")
def service_pods_not_ready(api: Any, namespace: str) -> None:
    """logos-chat is released with an image that does not exist: its pods never get ready."""
    bad = logos_stack.bad_image(logos_stack.IMAGES["chat"], "notfound")
    create(api, logos_objects(namespace, ("logos-web", "logos-chat"), images={"chat": bad}))
    wait_pods(api, namespace, "web", ready=3)
    wait_pods(api, namespace, "chat", ready=0, waiting="ImagePullBackOff")
    slices_settled(api, namespace, "logos-web", 3)
    wait_for(lambda: client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector="kubernetes.io/service-name=logos-chat").items
        and ready_endpoints(api, namespace, "logos-chat") == 0, 60,
        "logos-chat's EndpointSlice listing its not-ready pods")


def _service(namespace: str, name: str, selector: dict | None, ports: list[dict],
             **spec: Any) -> dict:
    body: dict[str, Any] = {"ports": ports, **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


@scenario("service_port_mismatch")
def service_port_mismatch(api: Any, namespace: str) -> None:
    """Two extra Services on logos-web's pods: one names a port the containers do not have
    (`htpp`), one sends to a number they do not declare (8081).  logos-web's own is fine."""
    create(api, logos_objects(namespace, ("logos-web",)))
    web = logos_stack._labels("web")
    core = client.CoreV1Api(api)
    core.create_namespaced_service(namespace, _service(
        namespace, "logos-web-typo", web, [{"name": "http", "port": 80, "targetPort": "htpp"}]))
    core.create_namespaced_service(namespace, _service(
        namespace, "logos-web-numeric", web, [{"name": "http", "port": 80, "targetPort": 8081}]))
    wait_pods(api, namespace, "web", ready=3)
    for svc in ("logos-web", "logos-web-typo", "logos-web-numeric"):
        slices_settled(api, namespace, svc, 3)


@scenario("service_selectorless")
def service_selectorless(api: Any, namespace: str) -> None:
    """Services without selectors, as operators make them for things outside the cluster:
    `external-db` whose EndpointSlice nobody created; `legacy-api` with one (healthy);
    `peer-discovery` headless (DNS only, by design); `d3n-api` ExternalName."""
    core = client.CoreV1Api(api)
    tcp = [{"name": "tcp", "port": 5432, "targetPort": 5432}]
    core.create_namespaced_service(namespace, _service(namespace, "external-db", None, tcp))
    core.create_namespaced_service(namespace, _service(namespace, "legacy-api", None, tcp))
    core.create_namespaced_service(namespace, _service(
        namespace, "peer-discovery", None, tcp, clusterIP="None"))
    core.create_namespaced_service(namespace, _service(
        namespace, "d3n-api", None, [], type="ExternalName", externalName="d3n.bravozero.ai"))
    client.DiscoveryV1Api(api).create_namespaced_endpoint_slice(namespace, {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "legacy-api-1", "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": "legacy-api",
                                "endpointslice.kubernetes.io/managed-by": "operator"}},
        "addressType": "IPv4",
        "ports": [{"name": "tcp", "port": 5432, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.20.30.40"], "conditions": {"ready": True}}],
    })
    slices_settled(api, namespace, "legacy-api", 1)


@scenario("ingress_backend_missing")
def ingress_backend_missing(api: Any, namespace: str) -> None:
    """The Logos Ingress after a rename: /api/chat routes to `logos-chat-v2` (no such Service)
    and / to logos-web's port `https` (it has only `http`).  Ingress `logos-ok` is correct."""
    logos_stack._create(api, logos_stack.ingress_class_manifest(), exist_ok=True)
    objs = logos_objects(namespace, ("logos-web", "logos-chat", "logos"))
    ingress = next(o for o in objs if o["kind"] == "Ingress")
    ok = json.loads(json.dumps(ingress))
    ok["metadata"]["name"] = "logos-ok"
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    paths[0]["backend"]["service"]["name"] = "logos-chat-v2"
    paths[1]["backend"]["service"]["port"] = {"name": "https"}
    create(api, [*objs, ok])
    wait_pods(api, namespace, "web", ready=3)
    wait_pods(api, namespace, "chat", ready=3)
    slices_settled(api, namespace, "logos-chat", 3)


# =========================================================================== GPU nodes


def gpu_label(namespace: str) -> tuple[str, str]:
    """The GPU node label unique to this namespace."""
    return f"logos-test/gpu-{namespace}"[:63], "true"


def gpu_config(namespace: str) -> dict[str, Any]:
    """logos-doctor config that recognises this namespace's GPU nodes."""
    key, value = gpu_label(namespace)
    return {"gpu": {"labels": [f"{key}={value}"], "resource": GPU_RESOURCE}}


def gpu_nodes(api: Any, namespace: str, count: int = 1, gpus: int = 4, **kw: Any) -> list[str]:
    """This namespace's fake GPU nodes (kwok), labelled for cleanup."""
    return create_gpu_nodes(api, gpu_label(namespace), count, gpus,
                            prefix=f"gpu-{namespace}"[:50],
                            extra_labels={OWNER_LABEL: namespace}, **kw)


def completion(api: Any, namespace: str, replicas: int = 4,
               label: tuple[str, str] | None = None) -> None:
    """logos-completion (1 GPU per pod) and its Service, selecting this namespace's GPU nodes."""
    create(api, logos_objects(namespace, ("logos-completion",),
                              gpu_label=label or gpu_label(namespace),
                              replicas={"logos-completion": replicas}))


@scenario("gpu_healthy")
def gpu_healthy(api: Any, namespace: str) -> dict[str, Any]:
    """Two GPU nodes with 4 GPUs each; logos-completion's 4 pods all run."""
    gpu_nodes(api, namespace, count=2)
    completion(api, namespace)
    wait_pods(api, namespace, "completion", ready=4)
    slices_settled(api, namespace, "logos-completion", 4)
    return gpu_config(namespace)


@scenario("gpu_no_nodes")
def gpu_no_nodes(api: Any, namespace: str) -> dict[str, Any]:
    """No node carries the GPU label: every completion pod stays Pending."""
    completion(api, namespace)
    wait_pods(api, namespace, "completion", unschedulable=4)
    return gpu_config(namespace)


@scenario("gpu_label_missing")
def gpu_label_missing(api: Any, namespace: str) -> dict[str, Any]:
    """The GPU pool lost its label (relabelled by a new node template): two nodes with 32
    allocatable GPUs each carry only `logos-test/pool-<ns>=a100`, not the GPU label that
    logos-completion selects.  Every completion pod stays Pending."""
    create_gpu_nodes(api, (f"logos-test/pool-{namespace}"[:63], "a100"), 2, 32,
                     prefix=f"gpu-{namespace}"[:50], extra_labels={OWNER_LABEL: namespace})
    completion(api, namespace)
    wait_pods(api, namespace, "completion", unschedulable=4)
    return gpu_config(namespace)


@scenario("gpu_insufficient")
def gpu_insufficient(api: Any, namespace: str) -> dict[str, Any]:
    """One GPU node with 2 GPUs for 4 pods needing one each: 2 run, 2 wait."""
    gpu_nodes(api, namespace, count=1, gpus=2)
    completion(api, namespace)
    wait_pods(api, namespace, "completion", ready=2, unschedulable=2)
    return gpu_config(namespace)


@scenario("gpu_not_allocatable")
def gpu_not_allocatable(api: Any, namespace: str) -> dict[str, Any]:
    """A labelled GPU node whose device plugin never registered: no nvidia.com/gpu at all."""
    gpu_nodes(api, namespace, count=1, gpus=0)
    completion(api, namespace, replicas=2)
    wait_pods(api, namespace, "completion", unschedulable=2)
    return gpu_config(namespace)


@scenario("gpu_selector_mismatch")
def gpu_selector_mismatch(api: Any, namespace: str) -> dict[str, Any]:
    """The GPU nodes are labelled `...=true`; the chart's nodeSelector asks for `...=yes`."""
    gpu_nodes(api, namespace, count=1)
    completion(api, namespace, replicas=2, label=(gpu_label(namespace)[0], "yes"))
    wait_pods(api, namespace, "completion", unschedulable=2)
    return gpu_config(namespace)


@scenario("gpu_taint_not_tolerated")
def gpu_taint_not_tolerated(api: Any, namespace: str) -> dict[str, Any]:
    """The GPU pool is tainted `logos-test/dedicated=<ns>:NoSchedule`; the pods tolerate only
    `nvidia.com/gpu`."""
    taint = {"key": "logos-test/dedicated", "value": namespace[:63], "effect": "NoSchedule"}
    gpu_nodes(api, namespace, count=1, taints=[taint])
    completion(api, namespace, replicas=2)
    wait_pods(api, namespace, "completion", unschedulable=2)
    return gpu_config(namespace)


@scenario("gpu_node_not_ready")
def gpu_node_not_ready(api: Any, namespace: str) -> dict[str, Any]:
    """Two GPU nodes, neither usable: one cordoned for maintenance, one whose kubelet never
    reported (no kwok annotation, so nothing posts its status: the node lifecycle controller
    marks it Ready=Unknown and taints it)."""
    key, value = gpu_label(namespace)
    cordoned = gpu_nodes(api, namespace, count=1)[0]
    core = client.CoreV1Api(api)
    core.patch_node(cordoned, {"spec": {"unschedulable": True}})
    silent = f"gpu-{namespace}-silent"[:63]
    core.create_node({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": silent, "labels": {key: value, OWNER_LABEL: namespace,
                                                "kubernetes.io/hostname": silent}},
        "status": {"allocatable": {GPU_RESOURCE: "4", "cpu": "32", "memory": "256Gi",
                                   "pods": "110"},
                   "capacity": {GPU_RESOURCE: "4", "cpu": "32", "memory": "256Gi",
                                "pods": "110"}},
    })

    def unknown() -> bool:
        node = core.read_node(silent)
        return any(c.type == "Ready" and c.status == "Unknown"
                   for c in node.status.conditions or [])

    wait_for(unknown, 90, f"node {silent} to be marked Ready=Unknown")
    completion(api, namespace, replicas=2)
    wait_pods(api, namespace, "completion", unschedulable=2)
    return gpu_config(namespace)


# =========================================================================== HPA


def _deployment_without_requests(namespace: str, name: str, component: str) -> dict:
    return logos_stack._deployment(namespace, name, component, 2, "logos/worker:1.0", {})


def _hpa(namespace: str, name: str, target: str, metrics: list[dict], lo: int = 2,
         hi: int = 6) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": target},
                     "minReplicas": lo, "maxReplicas": hi, "metrics": metrics}}


def _cpu(target: dict) -> list[dict]:
    return [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]


@scenario("hpa_no_metrics_server")
def hpa_no_metrics_server(api: Any, namespace: str) -> None:
    """The cluster has no metrics-server.  logos-web's HPA (cpu 70%, requests set) cannot read
    metrics; `logos-worker`'s HPA scales on cpu utilization of containers with no cpu request;
    `logos-batch`'s (no requests either) on an AverageValue, which needs none."""
    create(api, logos_objects(namespace, ("logos-web",)))
    create(api, [
        _deployment_without_requests(namespace, "logos-worker", "worker"),
        _deployment_without_requests(namespace, "logos-batch", "batch"),
        _hpa(namespace, "logos-worker", "logos-worker",
             _cpu({"type": "Utilization", "averageUtilization": 60})),
        _hpa(namespace, "logos-batch", "logos-batch",
             _cpu({"type": "AverageValue", "averageValue": "500m"})),
    ])
    for hpa in ("logos-web", "logos-worker", "logos-batch"):
        wait_hpa(api, namespace, hpa, "ScalingActive", "False", "FailedGetResourceMetric")


@scenario("hpa_target_missing")
def hpa_target_missing(api: Any, namespace: str) -> None:
    """logos-web's HPA is pointed at `logos-web-canary`, which does not exist."""
    create(api, logos_objects(namespace, ("logos-web",)))
    wait_hpa(api, namespace, "logos-web", "AbleToScale", "True", "SucceededGetScale")
    logos_stack.set_hpa_target_missing(api, namespace)
    wait_hpa(api, namespace, "logos-web", "AbleToScale", "False", "FailedGetScale")


@scenario("hpa_below_min")
def hpa_below_min(api: Any, namespace: str) -> None:
    """logos-web was scaled to 0 during an incident and never back: the HPA (min 3) stands
    aside (ScalingDisabled) rather than fight the operator."""
    create(api, logos_objects(namespace, ("logos-web",)))
    wait_pods(api, namespace, "web", ready=3)
    client.AppsV1Api(api).patch_namespaced_deployment_scale(
        "logos-web", namespace, {"spec": {"replicas": 0}})
    wait_hpa(api, namespace, "logos-web", "ScalingActive", "False", "ScalingDisabled")

    def zero() -> bool:
        hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler(
            "logos-web", namespace)
        return not hpa.status.current_replicas  # omitempty: 0 is absent

    wait_for(zero, 30, "HPA logos-web to report 0 current replicas")


@scenario("hpa_maxed_out")
def hpa_maxed_out(api: Any, namespace: str) -> None:
    """With an external metrics adapter serving queue depths: logos-web's queue (1000 for a
    target of 10 per pod) holds it at maxReplicas 4; logos-chat's (1 for 10) idles at its
    minReplicas 2, which is healthy.  The adapter stays up until the process exits, so that a
    snapshot taken after this returns still sees the controller's conditions."""
    adapter = ExternalMetrics(api, namespace, {"queue_depth": "1000", "chat_sessions": "1"})
    adapter.start()
    ADAPTERS[namespace] = adapter
    atexit.register(stop_adapter, namespace)
    web = [{"type": "External", "external": {
        "metric": {"name": "queue_depth"},
        "target": {"type": "AverageValue", "averageValue": "10"}}}]
    chat = [{"type": "External", "external": {
        "metric": {"name": "chat_sessions"},
        "target": {"type": "AverageValue", "averageValue": "10"}}}]
    objs = [o for o in logos_objects(namespace, ("logos-web", "logos-chat"),
                                     replicas={"logos-web": 2, "logos-chat": 2})
            if o["kind"] != "HorizontalPodAutoscaler"]
    create(api, [*objs, _hpa(namespace, "logos-web", "logos-web", web, 2, 4),
                 _hpa(namespace, "logos-chat", "logos-chat", chat, 2, 6)])
    wait_hpa(api, namespace, "logos-web", "ScalingLimited", "True", "TooManyReplicas", 90)
    wait_hpa(api, namespace, "logos-chat", "ScalingLimited", "True", "TooFewReplicas", 90)

    def at_max() -> bool:
        hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler(
            "logos-web", namespace)
        return hpa.status.current_replicas == 4

    wait_for(at_max, 60, "HPA logos-web at 4 replicas")
    wait_pods(api, namespace, "web", ready=4)


ADAPTERS: dict[str, ExternalMetrics] = {}


def stop_adapter(namespace: str) -> None:
    """Stop the metrics adapter a scenario left running for `namespace` (no-op if none)."""
    adapter = ADAPTERS.pop(namespace, None)
    if adapter is not None:
        adapter.stop()


class ExternalMetrics:
    """A stand-in external metrics adapter: fixed values per metric name, served over HTTPS.

    Registered cluster-wide as APIService v1beta1.external.metrics.k8s.io (there can be only
    one), labelled with OWNER_LABEL; `start` waits for another test's registration to go away
    first, and `stop` removes only its own.
    """

    GROUP, VERSION = "external.metrics.k8s.io", "v1beta1"
    NAME = f"{VERSION}.{GROUP}"
    SERVICE = "fake-external-metrics"

    def __init__(self, api: Any, namespace: str, values: dict[str, str]) -> None:
        self.api, self.namespace, self.values = api, namespace, dict(values)
        self._server: ThreadingHTTPServer | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="logos-metrics-")

    def start(self, timeout: float = 90) -> None:
        """Serve, register, and wait until the aggregator reports the API Available."""
        pair = pki.self_signed_tls(Path(self._dir.name), "adapter", ("localhost",))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pair.cert, pair.key)
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True,
                         name="fake-external-metrics").start()
        self._server = server
        port = server.server_address[1]
        client.CoreV1Api(self.api).create_namespaced_service(self.namespace, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": self.SERVICE, "namespace": self.namespace},
            "spec": {"type": "ExternalName", "externalName": "localhost"}})
        reg = client.ApiregistrationV1Api(self.api)

        def free() -> bool:
            try:
                reg.read_api_service(self.NAME)
            except ApiException as e:
                return e.status == 404
            return False

        wait_for(free, timeout, f"APIService {self.NAME} of another test to go away")
        reg.create_api_service({
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": self.NAME, "labels": {OWNER_LABEL: self.namespace}},
            "spec": {"group": self.GROUP, "version": self.VERSION,
                     "service": {"namespace": self.namespace, "name": self.SERVICE,
                                 "port": port},
                     "insecureSkipTLSVerify": True,
                     "groupPriorityMinimum": 100, "versionPriority": 100}})

        def available() -> bool:
            svc = reg.read_api_service(self.NAME)
            return any(c.type == "Available" and c.status == "True"
                       for c in svc.status.conditions or [])

        wait_for(available, timeout, f"APIService {self.NAME} to be Available")

    def stop(self) -> None:
        """Unregister (only our own registration), then stop serving."""
        reg = client.ApiregistrationV1Api(self.api)
        try:
            svc = reg.read_api_service(self.NAME)
            if (svc.metadata.labels or {}).get(OWNER_LABEL) == self.namespace:
                reg.delete_api_service(self.NAME)
        except ApiException as e:
            if e.status != 404:
                raise
        except Exception:  # at exit the client may already be closed
            pass
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        self._dir.cleanup()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        adapter = self
        base = f"/apis/{self.GROUP}/{self.VERSION}"
        item = re.compile(rf"^{re.escape(base)}/namespaces/([^/]+)/([^/?]+)")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # the http.server API names it so
                path = self.path.split("?")[0]
                match = item.match(path)
                if path == base:
                    self._send(200, {
                        "kind": "APIResourceList", "apiVersion": "v1",
                        "groupVersion": f"{adapter.GROUP}/{adapter.VERSION}",
                        "resources": [{"name": "externalmetrics", "singularName": "",
                                       "namespaced": True, "kind": "ExternalMetricValueList",
                                       "verbs": ["get"]}]})
                elif match and match.group(2) in adapter.values:
                    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                    self._send(200, {
                        "kind": "ExternalMetricValueList",
                        "apiVersion": f"{adapter.GROUP}/{adapter.VERSION}", "metadata": {},
                        "items": [{"metricName": match.group(2), "metricLabels": {},
                                   "timestamp": now,
                                   "value": adapter.values[match.group(2)]}]})
                else:
                    self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "reason": "NotFound", "code": 404,
                                     "message": f"{path} not found"})

        return Handler
