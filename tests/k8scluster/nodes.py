"""Fake nodes (kubelets simulated by kwok) for the test cluster.

Every node here carries the annotation `kwok.x-k8s.io/node: fake`, which is what the
cluster's kwok manages. Shared pools, created once by `scripts/testcluster up`:

* `kwok-node-0..2`: cpu 32, memory 256Gi, pods 110
* `kwok-gpu-0..1`:  the same plus label `nvidia.com/gpu=true` and `nvidia.com/gpu: 32`
  (32, not the 8 of a real p4d: many test namespaces run a 4-GPU Logos stack at once)

Tests that change GPU nodes (labels, capacity, deletion) should make their own with
`create_gpu_nodes(api, ("logos.test/gpu-pool", namespace))` so that tests running at the
same time do not see each other's faults. Nodes a test creates and later deletes must be
tainted (create_gpu_nodes taints `nvidia.com/gpu=present:NoSchedule` by default): an
untainted node attracts other tests' pods, and when it goes those pods are force-deleted
and their volumes, pinned to it by node affinity, can never be scheduled again.
"""

from __future__ import annotations

import random
import re

from kubernetes import client
from kubernetes.client.rest import ApiException

from .kube import wait_for

FAKE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
NORMAL_NODES = ("kwok-node-0", "kwok-node-1", "kwok-node-2")
GPU_NODES = ("kwok-gpu-0", "kwok-gpu-1")
GPU_LABEL = ("nvidia.com/gpu", "true")
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


# Room for many test namespaces, each running the 4-GPU Logos stack, at the same time.
GPUS_PER_SHARED_NODE = 32

def fake_node(
    name: str,
    labels: dict[str, str] | None = None,
    *,
    cpu: str = "32",
    memory: str = "256Gi",
    pods: str = "110",
    gpu: int = 0,
    taints: list[dict] | None = None,
    ip: str | None = None,
) -> dict:
    """Manifest of a kwok-managed Node with the given allocatable resources."""
    resources = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "500Gi"}
    if gpu:
        resources["nvidia.com/gpu"] = str(gpu)
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        **(labels or {}),
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels, "annotations": dict(FAKE_ANNOTATION)},
        "spec": {"taints": taints} if taints else {},
        "status": {
            "allocatable": dict(resources),
            "capacity": dict(resources),
            **({"addresses": [{"type": "InternalIP", "address": ip},
                              {"type": "Hostname", "address": name}]} if ip else {}),
        },
    }


def _create_if_absent(core: client.CoreV1Api, manifest: dict) -> None:
    try:
        core.create_node(manifest)
    except ApiException as e:
        if e.status != 409:
            raise


def _create_or_repair(core: client.CoreV1Api, manifest: dict) -> None:
    """Create a shared node, or put back what a test changed on it (labels, cordon,
    allocatable/capacity): shared nodes must look the same to every test session."""
    name = manifest["metadata"]["name"]
    try:
        node = core.read_node(name)
    except ApiException as e:
        if e.status != 404:
            raise
        _create_if_absent(core, manifest)
        return
    labels = node.metadata.labels or {}
    fix_labels = {k: v for k, v in manifest["metadata"]["labels"].items() if labels.get(k) != v}
    if fix_labels or node.spec.unschedulable:
        core.patch_node(name, {"metadata": {"labels": fix_labels},
                               "spec": {"unschedulable": None}})
    want = manifest["status"]
    if any(dict(getattr(node.status, k) or {}) != want[k] for k in ("allocatable", "capacity")):
        core.patch_node_status(name, {"status": {"allocatable": want["allocatable"],
                                                 "capacity": want["capacity"]}})


def _is_ready(node) -> bool:
    conds = {c.type: c.status for c in (node.status.conditions or [])}
    taints = {t.key for t in (node.spec.taints or [])}
    return conds.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints


def wait_nodes_ready(api_client: client.ApiClient, names: list[str], timeout: float = 60) -> bool:
    """Wait until every named node is Ready and untainted by the node lifecycle controller."""
    core = client.CoreV1Api(api_client)

    def check() -> bool:
        return all(_is_ready(core.read_node(n)) for n in names)

    if timeout <= 0:
        try:
            return check()
        except ApiException:
            return False
    wait_for(check, timeout, f"nodes {', '.join(names)} to be Ready")
    return True


def ensure_nodes(api_client: client.ApiClient, *, wait: bool = True,
                 timeout: float = 60) -> list[str]:
    """Create the shared node pools if absent, repair them if a test changed them
    (idempotent); returns their names."""
    core = client.CoreV1Api(api_client)
    for i, name in enumerate(NORMAL_NODES):
        _create_or_repair(core, fake_node(name, {
            "topology.kubernetes.io/zone": ZONES[i % len(ZONES)],
            "node.kubernetes.io/instance-type": "m6i.8xlarge",
            "logos.test/pool": "general",
        }, ip=f"10.240.0.{10 + i}"))
    for i, name in enumerate(GPU_NODES):
        _create_or_repair(core, fake_node(name, {
            GPU_LABEL[0]: GPU_LABEL[1],
            "topology.kubernetes.io/zone": ZONES[i % len(ZONES)],
            "node.kubernetes.io/instance-type": "p4d.24xlarge",
            "logos.test/pool": "gpu",
        }, gpu=GPUS_PER_SHARED_NODE, ip=f"10.240.1.{10 + i}"))
    names = [*NORMAL_NODES, *GPU_NODES]
    if wait:
        wait_nodes_ready(api_client, names, timeout)
    return names


def _label_tuple(label: tuple[str, str] | str) -> tuple[str, str]:
    if isinstance(label, str):
        key, _, value = label.partition("=")
        return key, value
    return label[0], label[1]


def create_gpu_nodes(
    api_client: client.ApiClient,
    label: tuple[str, str] | str,
    count: int = 2,
    gpu: int = 8,
    *,
    prefix: str | None = None,
    extra_labels: dict[str, str] | None = None,
    taints: list[dict] | None = None,
    wait: bool = True,
    timeout: float = 60,
) -> list[str]:
    """Create `count` fake GPU nodes labelled `label` ("key=value" or (key, value)) with
    allocatable `nvidia.com/gpu: gpu`; returns their names (delete them with delete_nodes).

    They are tainted `nvidia.com/gpu=present:NoSchedule` (unless `taints` is given; pass
    [] for none) so that only pods tolerating it, such as logos-completion, land on them
    and deleting them does not disturb other tests' pods."""
    if taints is None:
        taints = [dict(GPU_TAINT)]
    key, value = _label_tuple(label)
    if prefix is None:
        prefix = "kwok-gpu-" + re.sub(r"[^a-z0-9-]", "-", value.lower()).strip("-")[:40]
    core = client.CoreV1Api(api_client)
    names = [f"{prefix}-{i}" for i in range(count)]
    subnet = random.randint(2, 250)
    for i, name in enumerate(names):
        _create_if_absent(core, fake_node(
            name, {key: value, "logos.test/pool": "gpu-test", **(extra_labels or {})},
            gpu=gpu, taints=taints, ip=f"10.241.{subnet}.{10 + i}"))
    if wait:
        wait_nodes_ready(api_client, names, timeout)
    return names


def delete_nodes(api_client: client.ApiClient, names: list[str], *,
                 delete_pods: bool = True) -> None:
    """Delete nodes (missing ones are ignored). With `delete_pods` their pods are deleted
    first (kwok finishes them at once); otherwise the pod GC removes them ~40s later."""
    core = client.CoreV1Api(api_client)
    for name in names:
        if delete_pods:
            for pod in core.list_pod_for_all_namespaces(
                    field_selector=f"spec.nodeName={name}").items:
                try:
                    core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                               grace_period_seconds=0)
                except ApiException as e:
                    if e.status != 404:
                        raise
        try:
            core.delete_node(name)
        except ApiException as e:
            if e.status != 404:
                raise


def remove_gpu_label(api_client: client.ApiClient, names: list[str],
                     key: str = GPU_LABEL[0]) -> None:
    """Remove label `key` from the named nodes, as an operator relabelling a pool would."""
    core = client.CoreV1Api(api_client)
    for name in names:
        core.patch_node(name, {"metadata": {"labels": {key: None}}})
