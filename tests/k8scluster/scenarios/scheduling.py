"""Scheduling scenarios: pods the real kube-scheduler cannot place, each for one reason.

The scheduler (v1.37) writes every verdict here: the pods' `PodScheduled=False Unschedulable`
condition and their `FailedScheduling` events.  Scenarios that need special nodes make their
own kwok nodes (labelled OWNER_LABEL=<ns> for cleanup and `logos-test/sched-<ns>`=<role>, so
that pods select exactly them) and taint them `logos-test/isolated=<ns>:NoSchedule`, so that no
other test's pod lands on them; the scenario's pods tolerate that taint unless the taint is
the point.

Object names are chosen to mislead a check that matched on names: a Deployment blocked by a
taint is called `insufficient-memory-report`, the one too big for any node
`taint-tolerant-cache`, and so on: only the scheduler's words and the nodes may decide.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from ..kube import wait_for
from ..nodes import fake_node, wait_nodes_ready
from . import OWNER_LABEL, scenario

IMAGE = "registry.local/acme/worker:1.0"


def role_label(namespace: str) -> str:
    """The label key that marks this namespace's own nodes (value: the node's role)."""
    return f"logos-test/sched-{namespace}"[:63]


def isolation(namespace: str) -> dict[str, str]:
    """The taint that keeps every other test's pods off this namespace's nodes."""
    return {"key": "logos-test/isolated", "value": namespace[:63], "effect": "NoSchedule"}


def tolerate_isolation(namespace: str) -> list[dict[str, str]]:
    """The toleration of `isolation(namespace)`."""
    t = isolation(namespace)
    return [{"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}]


def own_nodes(
    api: Any, namespace: str, role: str, count: int, taints: list[dict] | None = None, **labels: str
) -> list[str]:
    """`count` kwok nodes for this namespace with role `role`, tainted for isolation."""
    core = client.CoreV1Api(api)
    names = [f"{namespace}-{role}-{i}"[:63] for i in range(count)]
    for node in names:
        core.create_node(
            fake_node(
                node,
                {OWNER_LABEL: namespace, role_label(namespace): role, **labels},
                taints=[isolation(namespace), *(taints or [])],
            )
        )
    wait_nodes_ready(api, names, 60)
    return names


def deployment(
    namespace: str,
    name: str,
    replicas: int,
    *,
    requests: dict | None = None,
    pod: dict | None = None,
    container: dict | None = None,
) -> dict:
    """A plain Deployment (no pull secret, no probes): only scheduling can stop it."""
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": IMAGE,
                            "resources": {
                                "requests": requests or {"cpu": "100m", "memory": "128Mi"}
                            },
                            **(container or {}),
                        }
                    ],
                    **(pod or {}),
                },
            },
        },
    }


def create(api: Any, namespace: str, obj: dict) -> None:
    """Create one Deployment."""
    client.AppsV1Api(api).create_namespaced_deployment(namespace, obj)


def _pods(api: Any, namespace: str, app: str) -> list[Any]:
    return [
        p
        for p in client.CoreV1Api(api)
        .list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/name={app}")
        .items
        if not p.metadata.deletion_timestamp
    ]


def _unschedulable(pod: Any) -> bool:
    return any(
        c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
        for c in pod.status.conditions or []
    )


def _failed_scheduling(api: Any, namespace: str, pod: str) -> bool:
    events = (
        client.CoreV1Api(api)
        .list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={pod},reason=FailedScheduling"
        )
        .items
    )
    return bool(events)


def wait_placed(
    api: Any, namespace: str, app: str, *, running: int, unschedulable: int, timeout: float = 90
) -> None:
    """Wait until `running` pods of `app` run and `unschedulable` carry the scheduler's
    verdict (condition and FailedScheduling event both written)."""

    def done() -> bool:
        items = _pods(api, namespace, app)
        up = [p for p in items if p.status.phase == "Running"]
        stuck = [p for p in items if _unschedulable(p)]
        return (
            len(up) == running
            and len(stuck) == unschedulable
            and all(_failed_scheduling(api, namespace, p.metadata.name) for p in stuck)
        )

    wait_for(
        done,
        timeout,
        f"{app} in {namespace}: {running} running, {unschedulable} "
        "unschedulable with a FailedScheduling event",
    )


@scenario("sched_insufficient_memory")
def sched_insufficient_memory(api: Any, namespace: str) -> None:
    """`taint-tolerant-cache` asks 512Gi of memory per pod; the biggest node has 256Gi."""
    create(
        api,
        namespace,
        deployment(namespace, "taint-tolerant-cache", 2, requests={"cpu": "1", "memory": "512Gi"}),
    )
    wait_placed(api, namespace, "taint-tolerant-cache", running=0, unschedulable=2)


@scenario("sched_untolerated_taint")
def sched_untolerated_taint(api: Any, namespace: str) -> None:
    """Two nodes dedicated to a team (`logos-test/dedicated=search:NoSchedule`);
    `insufficient-memory-report` selects them but tolerates only the isolation taint."""
    dedicated = {"key": "logos-test/dedicated", "value": "search", "effect": "NoSchedule"}
    own_nodes(api, namespace, "dedicated", 2, taints=[dedicated])
    create(
        api,
        namespace,
        deployment(
            namespace,
            "insufficient-memory-report",
            2,
            pod={
                "nodeSelector": {role_label(namespace): "dedicated"},
                "tolerations": tolerate_isolation(namespace),
            },
        ),
    )
    wait_placed(api, namespace, "insufficient-memory-report", running=0, unschedulable=2)


@scenario("sched_selector_mismatch")
def sched_selector_mismatch(api: Any, namespace: str) -> None:
    """`untolerated-taint-exporter` selects `<role label>=nvme`; the namespace's node is
    labelled `ssd`."""
    own_nodes(api, namespace, "ssd", 1)
    create(
        api,
        namespace,
        deployment(
            namespace,
            "untolerated-taint-exporter",
            2,
            pod={
                "nodeSelector": {role_label(namespace): "nvme"},
                "tolerations": tolerate_isolation(namespace),
            },
        ),
    )
    wait_placed(api, namespace, "untolerated-taint-exporter", running=0, unschedulable=2)


@scenario("sched_anti_affinity")
def sched_anti_affinity(api: Any, namespace: str) -> None:
    """`volume-conflict-worker`: 3 replicas, required anti-affinity per hostname, restricted to
    the namespace's 2 nodes: 2 run, 1 cannot be placed."""
    own_nodes(api, namespace, "pool", 2)
    app = "volume-conflict-worker"
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    create(
        api,
        namespace,
        deployment(
            namespace,
            app,
            3,
            pod={
                "nodeSelector": {role_label(namespace): "pool"},
                "tolerations": tolerate_isolation(namespace),
                "affinity": anti,
            },
        ),
    )
    wait_placed(api, namespace, app, running=2, unschedulable=1)


@scenario("sched_pv_other_zone")
def sched_pv_other_zone(api: Any, namespace: str) -> None:
    """A static PersistentVolume pinned (nodeAffinity) to zone us-east-1d, where the cluster
    has no node; claim `taint-data` binds to it and `insufficient-cpu-db` mounts it."""
    core = client.CoreV1Api(api)
    pv = f"pv-{namespace}"[:63]
    core.create_persistent_volume(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv, "labels": {OWNER_LABEL: namespace}},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "local": {"path": "/mnt/disks/ssd1"},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "In",
                                        "values": ["us-east-1d"],
                                    }
                                ]
                            }
                        ]
                    }
                },
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "taint-data", "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "volumeName": pv,
                "resources": {"requests": {"storage": "10Gi"}},
            },
        },
    )

    def bound() -> bool:
        claim = core.read_namespaced_persistent_volume_claim("taint-data", namespace)
        return claim.status.phase == "Bound"

    wait_for(bound, 60, f"claim taint-data bound to {pv}")
    create(
        api,
        namespace,
        deployment(
            namespace,
            "insufficient-cpu-db",
            1,
            pod={
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "taint-data"}}]
            },
        ),
    )
    wait_placed(api, namespace, "insufficient-cpu-db", running=0, unschedulable=1)


@scenario("sched_claim_missing")
def sched_claim_missing(api: Any, namespace: str) -> None:
    """`pvc-pending-proxy` mounts claim `unbound-immediate-data`, which was never created."""
    create(
        api,
        namespace,
        deployment(
            namespace,
            "pvc-pending-proxy",
            2,
            pod={
                "volumes": [
                    {
                        "name": "data",
                        "persistentVolumeClaim": {"claimName": "unbound-immediate-data"},
                    }
                ]
            },
        ),
    )
    wait_placed(api, namespace, "pvc-pending-proxy", running=0, unschedulable=2)


@scenario("sched_host_port")
def sched_host_port(api: Any, namespace: str) -> None:
    """`node-affinity-gateway` binds host port 18080 and may use only the namespace's one
    node: the first pod takes the port, the second cannot be placed."""
    own_nodes(api, namespace, "edge", 1)
    create(
        api,
        namespace,
        deployment(
            namespace,
            "node-affinity-gateway",
            2,
            pod={
                "nodeSelector": {role_label(namespace): "edge"},
                "tolerations": tolerate_isolation(namespace),
            },
            container={"ports": [{"containerPort": 8080, "hostPort": 18080, "protocol": "TCP"}]},
        ),
    )
    wait_placed(api, namespace, "node-affinity-gateway", running=1, unschedulable=1)


@scenario("sched_cordoned")
def sched_cordoned(api: Any, namespace: str) -> None:
    """The namespace's node is cordoned for maintenance; `host-port-sync` may run only there."""
    node = own_nodes(api, namespace, "maint", 1)[0]
    client.CoreV1Api(api).patch_node(node, {"spec": {"unschedulable": True}})
    create(
        api,
        namespace,
        deployment(
            namespace,
            "host-port-sync",
            1,
            pod={
                "nodeSelector": {role_label(namespace): "maint"},
                "tolerations": tolerate_isolation(namespace),
            },
        ),
    )
    wait_placed(api, namespace, "host-port-sync", running=0, unschedulable=1)


@scenario("sched_healthy")
def sched_healthy(api: Any, namespace: str) -> None:
    """Quiet states: a Deployment that runs, one scaled to zero, and a bare pod that fits."""
    create(api, namespace, deployment(namespace, "web", 2))
    create(api, namespace, deployment(namespace, "paused", 0))
    wait_placed(api, namespace, "web", running=2, unschedulable=0)


@scenario("sched_topology_spread")
def sched_topology_spread(api: Any, namespace: str) -> None:
    """`anti-affinity-api` spreads 3 replicas over `logos-test/rack` with maxSkew 1 and
    DoNotSchedule; rack a's node takes one, rack b's node is cordoned: the rest must wait."""
    rack = f"logos-test/rack-{namespace}"[:63]
    own_nodes(api, namespace, "racked", 1, **{rack: "a"})
    cordoned = own_nodes(api, namespace, "racked-b", 1, **{rack: "b"})[0]
    client.CoreV1Api(api).patch_node(cordoned, {"spec": {"unschedulable": True}})
    app = "anti-affinity-api"
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": rack,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
        }
    ]
    create(
        api,
        namespace,
        deployment(
            namespace,
            app,
            3,
            pod={
                "nodeSelector": {},
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": rack, "operator": "Exists"}]}
                            ]
                        }
                    }
                },
                "tolerations": tolerate_isolation(namespace),
                "topologySpreadConstraints": spread,
            },
        ),
    )
    wait_placed(api, namespace, app, running=1, unschedulable=2)


@scenario("sched_pod_affinity")
def sched_pod_affinity(api: Any, namespace: str) -> None:
    """`topology-spread-sidecar` must run on the node of a `logos-cache` pod (required pod
    affinity), and no such pod exists."""
    affinity = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "logos-cache"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    create(
        api,
        namespace,
        deployment(namespace, "topology-spread-sidecar", 1, pod={"affinity": affinity}),
    )
    wait_placed(api, namespace, "topology-spread-sidecar", running=0, unschedulable=1)


@scenario("sched_statefulset")
def sched_statefulset(api: Any, namespace: str) -> None:
    """StatefulSet `selector-mismatch-db` (2 replicas) selects the namespace's nodes, which are
    dedicated (`logos-test/dedicated=batch:NoExecute`): its first pod cannot be placed, and
    the StatefulSet waits for it before making the second."""
    dedicated = {"key": "logos-test/dedicated", "value": "batch", "effect": "NoExecute"}
    own_nodes(api, namespace, "db", 1, taints=[dedicated])
    sts = deployment(
        namespace,
        "selector-mismatch-db",
        2,
        pod={
            "nodeSelector": {role_label(namespace): "db"},
            "tolerations": tolerate_isolation(namespace),
        },
    )
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "selector-mismatch-db"
    client.AppsV1Api(api).create_namespaced_stateful_set(namespace, sts)
    wait_placed(api, namespace, "selector-mismatch-db", running=0, unschedulable=1)
