"""scheduling against the live test cluster, through the CLI, as the on-call would run it.

Each scenario (tests/k8scluster/scenarios/scheduling.py) is built in the test's namespace;
the real kube-scheduler refuses the pods; `logos-doctor check --all -n NS -o json` must put the
scheduling finding in the root causes, naming the resource, taint, label, claim or volume, and
the Deployment's `unavailable-replicas` must say `because:` of it.
"""

from __future__ import annotations

from typing import Any

import pytest
from doctor_cli import check_all
from kubernetes import client

from k8scluster.scenarios import OWNER_LABEL

pytestmark = pytest.mark.integration



def own_nodes(api: Any, namespace: str) -> list[str]:
    core = client.CoreV1Api(api)
    return sorted(
        n.metadata.name for n in core.list_node(label_selector=f"{OWNER_LABEL}={namespace}").items
    )


# scenario, cause, Deployment, what the message must name (a function of namespace/nodes).
CASES = [
    (
        "sched_insufficient_memory",
        "insufficient-resources",
        "taint-tolerant-cache",
        lambda ns, nodes: ["requests 512Gi memory", "256Gi allocatable"],
    ),
    (
        "sched_untolerated_taint",
        "untolerated-taint",
        "insufficient-memory-report",
        lambda ns, nodes: ["logos-test/dedicated=search:NoSchedule", *nodes],
    ),
    (
        "sched_selector_mismatch",
        "node-selector-mismatch",
        "untolerated-taint-exporter",
        lambda ns, nodes: [f"logos-test/sched-{ns}"[:63] + "=nvme", "=ssd (1), not nvme"],
    ),
    (
        "sched_anti_affinity",
        "pod-anti-affinity-unsatisfiable",
        "volume-conflict-worker",
        lambda ns, nodes: ["3 replica(s)", "2 node(s) it may use", "kubernetes.io/hostname"],
    ),
    (
        "sched_pv_other_zone",
        "volume-node-affinity-conflict",
        "insufficient-cpu-db",
        lambda ns, nodes: [f"pv-{ns}"[:63], "topology.kubernetes.io/zone In [us-east-1d]"],
    ),
    (
        "sched_claim_missing",
        "claim-not-found",
        "pvc-pending-proxy",
        lambda ns, nodes: ['PersistentVolumeClaim "unbound-immediate-data"'],
    ),
    (
        "sched_host_port",
        "host-port-conflict",
        "node-affinity-gateway",
        lambda ns, nodes: ["host port 18080/TCP", *nodes],
    ),
    (
        "sched_cordoned",
        "unschedulable-node",
        "host-port-sync",
        lambda ns, nodes: ["cordoned", *nodes],
    ),
    (
        "sched_topology_spread",
        "topology-spread",
        "anti-affinity-api",
        lambda ns, nodes: ["maxSkew 1 over logos-test/rack-", "a=1, b=0"],
    ),
    (
        "sched_pod_affinity",
        "pod-affinity-unsatisfiable",
        "topology-spread-sidecar",
        lambda ns, nodes: ["app.kubernetes.io/name=logos-cache"],
    ),
]


@pytest.mark.parametrize(
    ("scenario", "cause", "workload", "names"), CASES, ids=[c[0] for c in CASES]
)
def test_the_scheduling_cause_is_the_root_and_the_deployment_says_because(
    cluster: Any,
    api: Any,
    namespace: str,
    build: Any,
    scenario: str,
    cause: str,
    workload: str,
    names: Any,
) -> None:
    build(scenario)
    doc = check_all(cluster, namespace, ran=("scheduling",))
    (sched,) = [f for f in doc["findings"] if f["check"] == "scheduling"]
    assert sched["cause"] == cause, sched
    assert sched["root_cause"] is True
    assert (sched["resource"]["kind"], sched["parent"]) == (
        "ReplicaSet",
        {"kind": "Deployment", "namespace": namespace, "name": workload},
    )
    for word in names(namespace, own_nodes(api, namespace)):
        assert word in sched["message"], (word, sched["message"])
    pending = {
        p.metadata.name
        for p in client.CoreV1Api(api)
        .list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/name={workload}")
        .items
        if p.status.phase == "Pending"
    }
    assert {a["name"] for a in sched["affected"] if a["kind"] == "Pod"} == pending
    (deployment,) = [
        f
        for f in doc["findings"]
        if f["check"] == "workloads" and f["resource"]["name"] == workload
    ]
    assert {"check": "scheduling", "cause": cause} in [
        {"check": c["check"], "cause": c["cause"]} for c in deployment["caused_by"]
    ]
    assert deployment["root_cause"] is False


def test_running_and_scaled_to_zero_workloads_are_quiet(
    cluster: Any, namespace: str, build: Any
) -> None:
    build("sched_healthy")
    doc = check_all(cluster, namespace, ran=("scheduling",))
    assert [f for f in doc["findings"] if f["check"] in ("scheduling", "workloads")] == []
