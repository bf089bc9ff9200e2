"""Node scenarios: a node that stops reporting, one under memory pressure, one cordoned.

Each node is played by the kubelet stand-in of ``kubelet_states`` (a Node kwok does not
manage, labelled for cleanup, tainted for this namespace, heartbeating through its Lease).
What the kubelet would write is written in its words (pkg/kubelet/nodestatus/setters.go for
the node's conditions, pkg/kubelet/eviction for an eviction); what the control plane does
about it is real: when the stand-in stops renewing a node's Lease, the node-lifecycle
controller marks it ``Ready=Unknown`` after ``--node-monitor-grace-period``, taints it
``node.kubernetes.io/unreachable``, marks its pods not ready (``NodeNotReady`` events) and
the EndpointSlice controller takes them out of their Service; a pressure condition or a
cordon gets its taint from the same controller, and the scheduler refuses the evicted pod's
replacement for it.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from .. import logos_stack
from ..kube import wait_for
from . import scenario
from .kubelet_states import (
    HTTP_PROBE,
    FakeKubelet,
    conditions,
    container,
    deployment,
    now,
    pod_status,
    service,
    ts,
)

# pkg/kubelet/kubelet.go updateRuntimeUp/syncNetworkStatus -> nodestatus.ReadyCondition: the
# message of Ready=False while the network plugin is not ready (containerd's CNI wording).
NETWORK_NOT_READY = ("container runtime network not ready: NetworkReady=false "
                     "reason:NetworkPluginNotReady message:Network plugin returns error: cni "
                     "plugin not initialized")


def running(kubelet: FakeKubelet, prefix: str, cname: str, count: int = 1) -> list[Any]:
    """Wait for ``count`` pods bound to the node, then report them running and ready."""
    pods = kubelet.wait_bound(prefix, count)
    start = now()
    for pod in pods:
        kubelet.write_status(pod, pod_status(pod, start, "Running", conditions(start, ready=True),
                                             [container(cname, running=start, ready=True)],
                                             kubelet.address))
    return pods


def taint(api: Any, node: str, key: str) -> bool:
    found = client.CoreV1Api(api).read_node(node).spec.taints or []
    return any(t.key == key for t in found)


def ready_endpoints(api: Any, namespace: str, svc: str) -> int:
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={svc}").items
    return sum(1 for s in slices for e in (s.endpoints or []) if e.conditions.ready)


@scenario("node_states")
def node_states(api: Any, namespace: str) -> dict[str, Any]:
    """Seven nodes, named to mislead:

    * ``ready-node-<ns>`` runs logos-web (2 replicas, Service logos-web), then its kubelet
      stops reporting: Ready=Unknown, unreachable taints, both pods not ready;
    * ``disk-pressure-node-<ns>`` is healthy and runs logos-chat;
    * ``healthy-node-<ns>`` reports MemoryPressure: the kubelet evicted logos-render's pod,
      and the replacement cannot be scheduled there;
    * ``drain-me-<ns>`` is cordoned; logos-docs keeps running on it (info only);
    * ``flapping-<ns>`` went NotReady a moment ago (network plugin), within the
      controller's grace period (info only); logos-search runs on it;
    * ``memory-pressure-node-<ns>`` reports DiskPressure, ``pid-ok-<ns>`` PIDPressure; the
      pods there (logos-indexer, logos-mailer) still run ready: warnings.
    """
    suffix = namespace[:40]
    nodes = {
        "gone": FakeKubelet(api, namespace, f"ready-node-{suffix}", "10.251.0.10"),
        "fine": FakeKubelet(api, namespace, f"disk-pressure-node-{suffix}", "10.251.0.11"),
        "memory": FakeKubelet(api, namespace, f"healthy-node-{suffix}", "10.251.0.12"),
        "cordon": FakeKubelet(api, namespace, f"drain-me-{suffix}", "10.251.0.13"),
        "flap": FakeKubelet(api, namespace, f"flapping-{suffix}", "10.251.0.14"),
        "disk": FakeKubelet(api, namespace, f"memory-pressure-node-{suffix}", "10.251.0.15"),
        "pid": FakeKubelet(api, namespace, f"pid-ok-{suffix}", "10.251.0.16"),
    }
    for kubelet in nodes.values():
        kubelet.register()
    for secret in logos_stack.secrets(namespace):
        logos_stack._create(api, secret)
    core = client.CoreV1Api(api)
    for obj in (
        deployment(namespace, "logos-web", "web", nodes["gone"].node, replicas=2,
                   probes={"readinessProbe": HTTP_PROBE}),
        service(namespace, "logos-web", "web"),
        deployment(namespace, "logos-chat", "chat", nodes["fine"].node,
                   probes={"readinessProbe": HTTP_PROBE}),
        service(namespace, "logos-chat", "chat"),
        deployment(namespace, "logos-render", "render", nodes["memory"].node),
        deployment(namespace, "logos-docs", "docs", nodes["cordon"].node),
        deployment(namespace, "logos-indexer", "indexer", nodes["disk"].node),
        deployment(namespace, "logos-mailer", "mailer", nodes["pid"].node),
    ):
        logos_stack._create(api, obj)
    running(nodes["gone"], "logos-web-", "web", 2)
    running(nodes["fine"], "logos-chat-", "chat")
    running(nodes["cordon"], "logos-docs-", "docs")
    (render,) = running(nodes["memory"], "logos-render-", "render")
    running(nodes["disk"], "logos-indexer-", "indexer")
    running(nodes["pid"], "logos-mailer-", "mailer")
    # Disk and PID pressure (setters.go): the pods there still run ready; the controller
    # taints the nodes node.kubernetes.io/disk-pressure and pid-pressure.
    nodes["disk"].post_status(pressure={"DiskPressure": True})
    nodes["pid"].post_status(pressure={"PIDPressure": True})
    wait_for(lambda: ready_endpoints(api, namespace, "logos-web") == 2, 60,
             "logos-web's two endpoints ready")

    # Memory pressure: the kubelet sets the condition (setters.go), then evicts the pod
    # furthest above its request (eviction/helpers.go evictionMessage, eviction_manager.go
    # evictPod: phase Failed, reason Evicted, a DisruptionTarget condition, an Evicted event).
    mem = nodes["memory"]
    mem.post_status(pressure={"MemoryPressure": True})
    # The taint first: evicted before it, the pod's replacement can be bound to this node
    # by a quick scheduler, and is then never refused (a race a loaded CI run lost).
    wait_for(lambda: taint(api, mem.node, "node.kubernetes.io/memory-pressure"), 60,
             f"the memory-pressure taint on {mem.node}")
    evicted = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: "
               "91204Ki. Container render was using 2104312Ki, request is 256Mi, has larger "
               "consumption of memory. ")
    start = now()
    conds = conditions(start, unready="render")
    conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                  "lastTransitionTime": ts(start), "observedGeneration": 1,
                  "reason": "TerminationByKubelet", "message": evicted})
    term = container("render") | {"state": {"terminated": {
        "exitCode": 137, "reason": "Error", "startedAt": ts(start), "finishedAt": ts(start),
        "containerID": "containerd://" + "7a" * 32}}, "started": False}
    mem.write_status(render, pod_status(render, start, "Failed", conds, [term], mem.address,
                                        reason="Evicted", message=evicted))
    mem.event(render, "Evicted", evicted)
    # The ReplicaSet controller replaces the pod; the scheduler refuses the node for it.

    def replacement_refused() -> bool:
        pods = core.list_namespaced_pod(namespace).items
        return any(p.metadata.name.startswith("logos-render-") and p.status.phase == "Pending"
                   and any(c.type == "PodScheduled" and c.status == "False"
                           for c in p.status.conditions or []) for p in pods)

    # Under load the ReplicaSet controller and the scheduler can each take tens of seconds.
    wait_for(replacement_refused, 120, "the scheduler to refuse logos-render's replacement")

    for kind, key in (("disk", "disk-pressure"), ("pid", "pid-pressure")):
        wait_for(lambda n=nodes[kind].node, k=key: taint(api, n, f"node.kubernetes.io/{k}"),
                 60, f"the {key} taint on {nodes[kind].node}")

    # An operator cordons drain-me; the controller adds node.kubernetes.io/unschedulable.
    core.patch_node(nodes["cordon"].node, {"spec": {"unschedulable": True}})

    # ready-node's kubelet stops: no more Lease renewals.  The rest is the controllers'.
    gone = nodes["gone"]
    gone.stop()

    def unknown() -> bool:
        node = core.read_node(gone.node)
        return any(c.type == "Ready" and c.status == "Unknown"
                   for c in node.status.conditions or [])

    wait_for(unknown, 120, f"{gone.node} to be marked Ready=Unknown", interval=1)
    wait_for(lambda: taint(api, gone.node, "node.kubernetes.io/unreachable"), 60,
             f"the unreachable taint on {gone.node}")
    wait_for(lambda: ready_endpoints(api, namespace, "logos-web") == 0, 60,
             "logos-web's endpoints to go not ready")

    # Last, so that it is still within the grace period when the state is read: flapping's
    # kubelet reports NotReady (its network plugin restarting); it runs logos-search.
    flap = nodes["flap"]
    logos_stack._create(api, deployment(namespace, "logos-search", "search", flap.node))
    running(flap, "logos-search-", "search")
    flap.post_status(ready=False, ready_message=NETWORK_NOT_READY)
    wait_for(lambda: taint(api, flap.node, "node.kubernetes.io/not-ready"), 30,
             f"the not-ready taint on {flap.node}")
    return {}
