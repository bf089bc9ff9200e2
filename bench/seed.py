"""Seed a cluster with a large, realistic state for the benchmark (bench/run.py).

At ``--scale 1.0``: 500 kwok nodes (4% GPU nodes), 50 namespaces, 10,000 pods made by the
real Deployment/ReplicaSet/StatefulSet controllers, scheduled by the real scheduler and run
by kwok, 2,000 PVCs (StatefulSet claims provisioned by the stand-in EBS provisioner and bound
by the real PV controller, plus ~3% Pending for a missing class), 3,000 Services (with the
EndpointSlices the real controller writes), 200 HPAs and 30,000 events (the controllers' own,
topped up with kubelet-style core/v1 Events).  A small share (~5%) of the apps carries one of
the faults logos-doctor's checks know: the test registry's failing images (see
tests/k8scluster/__init__.py), a missing pull secret, a missing secret key, a Service selector
typo or wrong targetPort, an HPA whose target is gone, a StatefulSet whose claims name a
missing class, GPU pods that fit or do not fit, a GPU node kwok does not run and one without
allocatable GPUs.

Objects are written with raw server-side apply PATCHes from a thread pool (one request per
object, no kubectl, no model classes), so seeding is bounded by the API server, not by us.
Names are deterministic: every namespace's content depends only on its index and quota (all
but the last are full), so seeding is idempotent and a larger scale mostly adds.  A ConfigMap
``logos-bench-seed`` in the first namespace records what was seeded; a second run at the
same scale only checks that the pods have settled and tops the events up (the API server
expires events after --event-ttl).

Usage:
  python bench/seed.py --kubeconfig /tmp/logos-bench-cluster/kubeconfig --scale 1.0
  python bench/seed.py --kubeconfig ... --prefix bsmoke --scale 0.002 --gpu-label k=v
  python bench/seed.py --kubeconfig ... --prefix bsmoke --delete
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

Obj = dict[str, Any]

# Totals at --scale 1.0.
BASE = {
    "nodes": 500,
    "namespaces": 50,
    "pods": 10_000,
    "pvcs": 2_000,
    "services": 3_000,
    "hpas": 200,
    "events": 30_000,
}
KINDS = ("pods", "pvcs", "services", "hpas", "events")
FIELD_MANAGER = "logos-bench-seed"
TEST_REGISTRY = "registry.logos-test.invalid"
REPLICAS = 5  # pods per healthy app
FAULT_REPLICAS = 2
FAULT_EVERY = 20  # one app in 20 carries a fault
FAULTS = (
    "image-notfound",
    "image-unauthorized",
    "image-denied",
    "image-unreachable",
    "crashloop",
    "oomkilled",
    "pull-secret-missing",
    "secret-key-missing",
    "selector-typo",
    "port-mismatch",
    "gpu-fits",
    "gpu-insufficient",
    "sts-class-missing",
)
PENDING_CLAIM_SHARE = 0.03
GPU_NODE_SHARE = 0.04
GPUS_PER_NODE = 8


def log(msg: str) -> None:
    """Progress on stderr, with a timestamp: seeding at scale takes minutes."""
    print(f"seed {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# =========================================================================== HTTP


class Api:
    """Raw JSON requests over the official client's connection pool (kubeconfig auth, TLS)."""

    def __init__(self, kubeconfig: str, pool: int = 32) -> None:
        cfg = k8s.Configuration()
        k8s_config.load_kube_config(
            config_file=kubeconfig, client_configuration=cfg, persist_config=False
        )
        cfg.connection_pool_maxsize = pool
        cfg.retries = urllib3.util.Retry(total=0)
        self.client = k8s.ApiClient(cfg)
        self.host = cfg.host.rstrip("/")
        self.auth = cfg.get_api_key_with_prefix("authorization")
        self.requests = 0
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        ok: Iterable[int] = (),
    ) -> tuple[int, Any]:
        """One request; 429/5xx and dropped connections are retried; other errors raise
        unless their status is in ``ok``."""
        url = self.host + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self.auth:
            headers["Authorization"] = self.auth
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(8):
            try:
                resp = self.client.rest_client.pool_manager.request(
                    method, url, body=data, headers=headers, timeout=60, retries=False
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if attempt == 7:
                    raise
                log(f"retrying {method} {path}: {exc}")
                time.sleep(0.5 * 2**attempt)
                continue
            with self._lock:
                self.requests += 1
            if resp.status in (429, 500, 502, 503, 504) and attempt < 7:
                time.sleep(0.2 * 2**attempt)
                continue
            payload = json.loads(resp.data) if resp.data else None
            if resp.status >= 300 and resp.status not in ok:
                message = (payload or {}).get("message") if isinstance(payload, dict) else None
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {message}")
            return resp.status, payload
        raise AssertionError("unreachable")

    def apply(self, obj: Obj) -> None:
        """Server-side apply (create or update to exactly this manifest's fields)."""
        self.request(
            "PATCH",
            object_path(obj),
            obj,
            {"fieldManager": FIELD_MANAGER, "force": "true"},
            "application/apply-patch+yaml",  # JSON is YAML
        )

    def create(self, obj: Obj) -> bool:
        """POST; False when it already exists."""
        status, _ = self.request("POST", collection_path(obj), obj, ok=(409,))
        return status != 409

    def list(self, path: str, **query: Any) -> list[Obj]:
        """Every item of a LIST, page by page."""
        items: list[Obj] = []
        token = None
        while True:
            q = {"limit": 500, **query}
            if token:
                q["continue"] = token
            _, page = self.request("GET", path, query=q)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def close(self) -> None:
        """Release the pooled connections."""
        self.client.close()


_PATHS = {
    "Node": ("/api/v1", "nodes", False),
    "Namespace": ("/api/v1", "namespaces", False),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "Service": ("/api/v1", "services", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "Event": ("/api/v1", "events", True),
    "StorageClass": ("/apis/storage.k8s.io/v1", "storageclasses", False),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2", "horizontalpodautoscalers", True),
}


def collection_path(obj: Obj) -> str:
    """The URL path of the collection an object belongs to."""
    base, plural, namespaced = _PATHS[obj["kind"]]
    if namespaced:
        return f"{base}/namespaces/{obj['metadata']['namespace']}/{plural}"
    return f"{base}/{plural}"


def object_path(obj: Obj) -> str:
    """The URL path of the object itself."""
    return f"{collection_path(obj)}/{obj['metadata']['name']}"


def run_all(api: Api, fn: Callable[[Obj], Any], objs: list[Obj], workers: int, what: str) -> None:
    """Apply ``fn`` to every object from a thread pool; logs the rate."""
    if not objs:
        return
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(fn, objs):
            pass
    secs = time.monotonic() - t0
    log(f"{what}: {len(objs)} in {secs:.1f}s ({len(objs) / max(secs, 1e-6):.0f}/s)")


# =========================================================================== the plan


@dataclass(frozen=True)
class Plan:
    """What one scale means: totals, and each namespace's share (the last may be partial)."""

    prefix: str
    scale: float
    nodes: int
    gpu_nodes: int
    namespaces: int
    quotas: tuple[dict[str, int], ...]

    def totals(self) -> dict[str, int]:
        """Objects of each kind over all namespaces."""
        return {k: sum(q[k] for q in self.quotas) for k in KINDS}


def make_plan(prefix: str, scale: float) -> Plan:
    """Namespaces are filled at the 1.0 density (200 pods, 40 claims, 60 Services, 4 HPAs,
    600 events each) one after another, so a namespace's content does not depend on the scale
    (only the last one may be partial); below one namespace's worth the density shrinks."""
    totals = {k: max(1, round(BASE[k] * scale)) for k in (*KINDS, "nodes")}
    density = {k: BASE[k] // BASE["namespaces"] for k in KINDS}
    count = max(1, math.ceil(totals["pods"] / density["pods"] - 1e-9))
    quotas = []
    for i in range(count):
        q = {}
        for k in KINDS:
            left = totals[k] - density[k] * i
            q[k] = max(0, min(density[k], left)) if i < count - 1 else max(1, left)
        quotas.append(q)
    nodes = totals["nodes"]
    gpu = max(1, round(nodes * GPU_NODE_SHARE))
    return Plan(prefix, scale, nodes, gpu, count, tuple(quotas))


def ns_name(prefix: str, i: int) -> str:
    """Name of namespace ``i`` of a prefix."""
    return f"{prefix}-ns-{i:03d}"


def labels(prefix: str, app: str, tier: str = "backend") -> dict[str, str]:
    """Labels of an app and of its pod template."""
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": "bench",
        "app.kubernetes.io/component": tier,
        "logos.bench/prefix": prefix,
    }


def node_manifest(
    prefix: str,
    name: str,
    i: int,
    gpu: int,
    gpu_label: tuple[str, str] | None,
    managed: bool = True,
) -> Obj:
    """A kwok-managed (or, with ``managed=False``, unmanaged) fake Node."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    if gpu:
        resources["nvidia.com/gpu"] = str(gpu)
    zone = ("us-east-1a", "us-east-1b", "us-east-1c")[i % 3]
    node_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": zone,
        "node.kubernetes.io/instance-type": "p4d.24xlarge" if gpu_label else "m6i.8xlarge",
        "type": "kwok",
        "logos.bench/pool": prefix,
    }
    taints = [{"key": "logos.bench/pool", "value": prefix, "effect": "NoSchedule"}]
    if gpu_label:
        node_labels[gpu_label[0]] = gpu_label[1]
        taints.append({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": node_labels,
            "annotations": {"kwok.x-k8s.io/node": "fake" if managed else "bench-unmanaged"},
        },
        "spec": {"taints": taints},
        "status": {
            "allocatable": dict(resources),
            "capacity": dict(resources),
            "addresses": [
                {"type": "InternalIP", "address": f"127.1.{i // 250 % 250}.{i % 250 + 1}"},
                {"type": "Hostname", "address": name},
            ],
        },
    }


def nodes_of(plan: Plan, gpu_label: tuple[str, str]) -> list[Obj]:
    """Normal nodes, then GPU nodes: with 3 or more, one is not run by kwok (never Ready:
    gpu-node-not-ready) and one has no allocatable GPU (gpu-not-allocatable).  Their names do
    not depend on the scale, so that a larger scale only adds nodes."""
    out = []
    normal = max(1, plan.nodes - plan.gpu_nodes)
    for i in range(normal):
        out.append(node_manifest(plan.prefix, f"{plan.prefix}-node-{i:04d}", i, 0, None))
    broken = 2 if plan.gpu_nodes >= 3 else 0
    for j in range(plan.gpu_nodes - broken):
        out.append(
            node_manifest(
                plan.prefix, f"{plan.prefix}-gpu-{j:03d}", normal + j, GPUS_PER_NODE, gpu_label
            )
        )
    if broken:
        out.append(
            node_manifest(
                plan.prefix,
                f"{plan.prefix}-gpu-notready",
                normal + j + 1,
                GPUS_PER_NODE,
                gpu_label,
                managed=False,
            )
        )
        out.append(
            node_manifest(plan.prefix, f"{plan.prefix}-gpu-nodevice", normal + j + 2, 0, gpu_label)
        )
    return out


@dataclass(frozen=True)
class App:
    """One workload: its name, kind, replica count and fault (None: healthy)."""

    name: str
    kind: str  # Deployment | StatefulSet
    replicas: int
    fault: str | None


def apps_of(prefix: str, i: int, quota: dict[str, int]) -> tuple[list[App], int]:
    """The apps of namespace ``i`` and the number of standalone Pending claims.

    StatefulSet pods each get one claim; the claims not taken by them (at least 3%) are
    standalone claims of a missing class.  Apps are filled greedily in a fixed order: the
    same quota always gives the same apps.
    """
    pending = min(quota["pvcs"], max(1, round(quota["pvcs"] * PENDING_CLAIM_SHARE)))
    sts_pods = min(quota["pvcs"] - pending, quota["pods"])
    pending = quota["pvcs"] - sts_pods
    apps: list[App] = []
    seq = 0

    def fill(kind: str, pods: int) -> None:
        nonlocal seq
        while pods > 0:
            g = i * 1000 + seq  # a global index: faults spread over namespaces
            fault = FAULTS[(g // FAULT_EVERY) % len(FAULTS)] if g % FAULT_EVERY == 7 else None
            if kind == "StatefulSet" and fault and fault.startswith("gpu"):
                fault = "sts-class-missing"
            if kind == "Deployment" and fault == "sts-class-missing":
                fault = "image-notfound"
            r = min(pods, FAULT_REPLICAS if fault else REPLICAS)
            short = "db" if kind == "StatefulSet" else "svc"
            apps.append(App(f"{short}-{seq:03d}", kind, r, fault))
            pods -= r
            seq += 1

    fill("StatefulSet", sts_pods)
    fill("Deployment", quota["pods"] - sts_pods)
    return apps, pending


def _image(app: App) -> str:
    base = f"bench/{app.name}:1.{len(app.name)}"
    if app.fault in ("image-notfound", "image-unauthorized", "image-denied"):
        return f"{TEST_REGISTRY}/{app.fault.split('-')[1]}/{base}"
    if app.fault == "image-unreachable":
        return f"unreachable.logos-test.invalid/{base}"
    if app.fault in ("crashloop", "oomkilled"):
        return f"{TEST_REGISTRY}/{app.fault}/{base}"
    return f"registry.example.com/{base}"


def pod_template(prefix: str, app: App, gpu_label: tuple[str, str]) -> Obj:
    """The pod template of an app, with its fault."""
    container: Obj = {
        "name": "app",
        "image": _image(app),
        "ports": [
            {"name": "http", "containerPort": 8080},
            {"name": "metrics", "containerPort": 9090},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "env": [
            {
                "name": "DB_USER",
                "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "username"}},
            },
            {
                "name": "DB_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": "db-credentials",
                        "key": "token" if app.fault == "secret-key-missing" else "password",
                    }
                },
            },
        ],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
    }
    tolerations = [
        {"key": "logos.bench/pool", "operator": "Equal", "value": prefix, "effect": "NoSchedule"}
    ]
    selector = {"logos.bench/pool": prefix}
    if app.fault in ("gpu-fits", "gpu-insufficient"):
        gpus = "1" if app.fault == "gpu-fits" else str(GPUS_PER_NODE * 4)
        container["resources"]["requests"]["nvidia.com/gpu"] = gpus
        container["resources"]["limits"]["nvidia.com/gpu"] = gpus
        tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
        selector[gpu_label[0]] = gpu_label[1]
    spec: Obj = {
        "containers": [container],
        "nodeSelector": selector,
        "tolerations": tolerations,
        "terminationGracePeriodSeconds": 5,
        "imagePullSecrets": [
            {"name": "regcred-missing" if app.fault == "pull-secret-missing" else "regcred"}
        ],
    }
    if app.kind == "StatefulSet":
        container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return {"metadata": {"labels": labels(prefix, app.name)}, "spec": spec}


def namespace_objects(plan: Plan, i: int, gpu_label: tuple[str, str]) -> list[Obj]:
    """Everything seed.py writes in namespace ``i`` (pods and most events come from the
    controllers)."""
    prefix, quota = plan.prefix, plan.quotas[i]
    ns = ns_name(prefix, i)
    apps, pending = apps_of(prefix, i, quota)
    sc, missing_sc = f"{prefix}-ebs", f"{prefix}-missing"
    out: list[Obj] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "db-credentials", "namespace": ns},
            "stringData": {"username": "bench", "password": "not-a-real-password"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": ns},
            "stringData": {
                ".dockerconfigjson": json.dumps(
                    {
                        "auths": {
                            "registry.example.com": {"auth": "YmVuY2g6bm90LWEtcmVhbC1wYXNzd29yZA=="}
                        }
                    }
                )
            },
        },
    ]
    for app in apps:
        md = {"name": app.name, "namespace": ns, "labels": labels(prefix, app.name)}
        template = pod_template(prefix, app, gpu_label)
        sel = {"matchLabels": {"app.kubernetes.io/name": app.name}}
        if app.kind == "Deployment":
            out.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": md,
                    "spec": {"replicas": app.replicas, "selector": sel, "template": template},
                }
            )
        else:
            cls = missing_sc if app.fault == "sts-class-missing" else sc
            out.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": md,
                    "spec": {
                        "replicas": app.replicas,
                        "selector": sel,
                        "serviceName": app.name,
                        "podManagementPolicy": "Parallel",
                        "template": template,
                        "volumeClaimTemplates": [
                            {
                                "metadata": {"name": "data"},
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "storageClassName": cls,
                                    "resources": {"requests": {"storage": "10Gi"}},
                                },
                            }
                        ],
                    },
                }
            )
    # Services: one per app (headless for StatefulSets), then "-metrics" ones up to the quota.
    services = []
    for app in apps:
        selector = {"app.kubernetes.io/name": app.name}
        target: Any = "http"
        if app.fault == "selector-typo":
            selector = {"app.kubernetes.io/name": app.name[:-1] + "x"}
        if app.fault == "port-mismatch":
            target = "grpc"
        spec: Obj = {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": target}],
        }
        if app.kind == "StatefulSet":
            spec["clusterIP"] = "None"
        services.append((app.name, spec))
    k = 0
    while len(services) < quota["services"] and apps:
        app = apps[k % len(apps)]
        suffix = "metrics" if k < len(apps) else f"metrics{k // len(apps)}"
        services.append(
            (
                f"{app.name}-{suffix}",
                {
                    "selector": {"app.kubernetes.io/name": app.name},
                    "ports": [{"name": "metrics", "port": 9090, "targetPort": "metrics"}],
                },
            )
        )
        k += 1
    for name, spec in services[: quota["services"]]:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {"logos.bench/prefix": prefix},
                },
                "spec": spec,
            }
        )
    for c in range(pending):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": f"scratch-{c:03d}",
                    "namespace": ns,
                    "labels": {"logos.bench/prefix": prefix},
                },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": missing_sc,
                    "resources": {"requests": {"storage": "5Gi"}},
                },
            }
        )
    deployments = [a for a in apps if a.kind == "Deployment" and not a.fault]
    for h in range(quota["hpas"]):
        app = deployments[h % len(deployments)] if deployments else apps[0]
        target = app.name if h < len(deployments) else f"{app.name}-{h}"
        if h == 0 and i % 5 == 4:
            target = f"{app.name}-old"  # target-missing
        out.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {
                    "name": f"{app.name}-{h}" if h >= len(deployments) else app.name,
                    "namespace": ns,
                    "labels": {"logos.bench/prefix": prefix},
                },
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": target,
                    },
                    "minReplicas": app.replicas,
                    "maxReplicas": app.replicas * 2,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 80},
                            },
                        }
                    ],
                },
            }
        )
    return out


def expected_pods(plan: Plan, i: int) -> int:
    """Pods the controllers should make in namespace ``i``."""
    return sum(a.replicas for a in apps_of(plan.prefix, i, plan.quotas[i])[0])


# =========================================================================== phases


MARKER = "logos-bench-seed"


def marker_path(prefix: str) -> str:
    """The marker lives in the prefix's first namespace: nothing outside the prefix is
    written, which matters on a shared cluster."""
    return f"/api/v1/namespaces/{ns_name(prefix, 0)}/configmaps/{MARKER}"


def read_marker(api: Api, prefix: str) -> dict[str, Any] | None:
    """What a previous run seeded under this prefix, or None."""
    status, cm = api.request("GET", marker_path(prefix), ok=(404,))
    if status == 404:
        return None
    return json.loads((cm.get("data") or {}).get("seed", "null"))


def write_marker(api: Api, plan: Plan, report: dict[str, Any]) -> None:
    """Record what this run seeded."""
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": MARKER,
                "namespace": ns_name(plan.prefix, 0),
                "labels": {"logos.bench/prefix": plan.prefix},
            },
            "data": {"seed": json.dumps(report, sort_keys=True)},
        }
    )


def delete_namespaces(api: Api, names: list[str], timeout: float) -> None:
    """Delete namespaces and wait (bounded) until they are gone."""
    for name in names:
        api.request("DELETE", f"/api/v1/namespaces/{name}", ok=(404,))
    deadline = time.monotonic() + timeout
    while names and time.monotonic() < deadline:
        names = [
            n for n in names if api.request("GET", f"/api/v1/namespaces/{n}", ok=(404,))[0] != 404
        ]
        if names:
            time.sleep(2)
    if names:
        log(f"warning: namespaces still terminating after {timeout:.0f}s: {names[:5]}")


def wait_nodes(api: Api, prefix: str, want: int, timeout: float) -> None:
    """Poll until ``want`` of the prefix's nodes are Ready (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = api.list("/api/v1/nodes", labelSelector=f"logos.bench/pool={prefix}")
        ready = sum(
            1
            for n in nodes
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (n.get("status") or {}).get("conditions") or []
            )
        )
        if ready >= want:
            log(f"nodes: {ready} Ready")
            return
        if time.monotonic() > deadline:
            log(f"warning: only {ready}/{want} nodes Ready after {timeout:.0f}s")
            return
        time.sleep(2)


def settled(pod: Obj) -> bool:
    """Scheduled and run (or failing) by kwok, or judged unschedulable by the scheduler."""
    status = pod.get("status") or {}
    if status.get("containerStatuses"):
        return True
    return any(
        c.get("type") == "PodScheduled" and c.get("status") == "False"
        for c in status.get("conditions") or []
    )


def wait_pods(api: Api, prefix: str, want: int, timeout: float) -> list[Obj]:
    """Poll until the controllers, the scheduler and kwok have made and run every pod."""
    t0 = time.monotonic()
    last = ""
    while True:
        pods = api.list("/api/v1/pods", labelSelector=f"logos.bench/prefix={prefix}")
        done = sum(1 for p in pods if settled(p))
        line = f"pods: {len(pods)}/{want} created, {done} settled"
        if line != last:
            log(f"{line} ({time.monotonic() - t0:.0f}s)")
            last = line
        if len(pods) >= want and done >= len(pods):
            return pods
        if time.monotonic() - t0 > timeout:
            log(f"warning: gave up waiting after {timeout:.0f}s ({line})")
            return pods
        time.sleep(5)


KUBELET_EVENTS = (
    ("Normal", "Pulled", 'Container image "{image}" already present on machine'),
    ("Normal", "Created", "Container created"),
    ("Normal", "Started", "Container started"),
    (
        "Normal",
        "Pulled",
        'Successfully pulled image "{image}" in 1.2s (1.2s including waiting).'
        " Image size: 48211301 bytes.",
    ),
    ("Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
)


def top_up_events(api: Api, plan: Plan, pods: list[Obj], workers: int) -> int:
    """Create kubelet-style events about the namespaces' pods until each namespace holds its
    quota (the controllers' own events count)."""
    by_ns: dict[str, list[Obj]] = {}
    for p in pods:
        by_ns.setdefault(p["metadata"]["namespace"], []).append(p)
    existing = Counter(
        e["metadata"]["namespace"]
        for e in api.list("/api/v1/events")
        if e["metadata"]["namespace"].startswith(plan.prefix + "-ns-")
    )
    rng = random.Random(7)
    now = datetime.now(UTC)
    todo: list[Obj] = []
    for i in range(plan.namespaces):
        ns = ns_name(plan.prefix, i)
        ns_pods = by_ns.get(ns) or []
        if not ns_pods:
            continue
        for n in range(max(0, plan.quotas[i]["events"] - existing[ns])):
            pod = ns_pods[n % len(ns_pods)]
            etype, reason, message = KUBELET_EVENTS[rng.randrange(len(KUBELET_EVENTS))]
            image = pod["spec"]["containers"][0]["image"]
            when = (now - timedelta(seconds=rng.randrange(3600))).strftime("%Y-%m-%dT%H:%M:%SZ")
            node = pod["spec"].get("nodeName") or ""
            todo.append(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {
                        "name": f"{pod['metadata']['name']}.{rng.getrandbits(64):016x}",
                        "namespace": ns,
                    },
                    "involvedObject": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "namespace": ns,
                        "name": pod["metadata"]["name"],
                        "uid": pod["metadata"]["uid"],
                        "fieldPath": "spec.containers{app}",
                    },
                    "type": etype,
                    "reason": reason,
                    "message": message.format(image=image),
                    "count": 1,
                    "firstTimestamp": when,
                    "lastTimestamp": when,
                    "source": {"component": "kubelet", "host": node},
                    "reportingComponent": "kubelet",
                    "reportingInstance": node,
                }
            )
    run_all(api, api.create, todo, workers, "events (kubelet-style, direct)")
    return len(todo)


def seed(
    api: Api, plan: Plan, gpu_label: tuple[str, str], workers: int, timeout: float
) -> dict[str, Any]:
    """Seed ``plan`` (or check and top up what is already seeded); returns a report."""
    t_start = time.monotonic()
    timings: dict[str, float] = {}
    old = read_marker(api, plan.prefix)
    same = old is not None and old.get("scale") == plan.scale and old.get("complete")
    old_quotas = (old or {}).get("quotas") or []

    def phase(name: str, t0: float) -> None:
        timings[name] = round(time.monotonic() - t0, 1)

    if not same:
        # Full namespaces are the same at every scale; the partial last one, whose apps differ
        # with its quota, is rebuilt when its quota changes, and surplus ones go.
        t0 = time.monotonic()
        drop = [
            ns_name(plan.prefix, i)
            for i, q in enumerate(old_quotas)
            if i >= plan.namespaces or q != plan.quotas[i]
        ]
        if drop:
            log(f"removing {len(drop)} namespaces whose content changes at this scale")
            delete_namespaces(api, drop, timeout)
        nodes = nodes_of(plan, gpu_label)
        names = {n["metadata"]["name"] for n in nodes}
        stale = [
            n["metadata"]["name"]
            for n in api.list("/api/v1/nodes", labelSelector=f"logos.bench/pool={plan.prefix}")
            if n["metadata"]["name"] not in names
        ]
        for name in stale:
            api.request("DELETE", f"/api/v1/nodes/{name}", ok=(404,))
        run_all(api, api.create, nodes, workers, "nodes")
        managed = sum(
            1 for n in nodes if n["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        )
        wait_nodes(api, plan.prefix, managed, timeout=min(timeout, 300))
        phase("nodes", t0)

        t0 = time.monotonic()
        api.apply(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": f"{plan.prefix}-ebs"},
                "provisioner": "ebs.csi.aws.com",
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
                "parameters": {"type": "gp3", "encrypted": "true"},
            }
        )
        namespaces = [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns_name(plan.prefix, i),
                    "labels": {"logos.bench/prefix": plan.prefix},
                },
            }
            for i in range(plan.namespaces)
        ]
        run_all(api, api.apply, namespaces, workers, "namespaces")
        objs = [o for i in range(plan.namespaces) for o in namespace_objects(plan, i, gpu_label)]
        # Workloads last, so that Secrets and Services exist when their pods appear.
        order = {
            "Secret": 0,
            "Service": 1,
            "PersistentVolumeClaim": 1,
            "HorizontalPodAutoscaler": 3,
        }
        objs.sort(key=lambda o: order.get(o["kind"], 2))
        run_all(api, api.apply, objs, workers, "objects (server-side apply)")
        phase("objects", t0)

    t0 = time.monotonic()
    want = sum(expected_pods(plan, i) for i in range(plan.namespaces))
    pods = wait_pods(api, plan.prefix, want, timeout)
    phase("pods", t0)
    t0 = time.monotonic()
    created_events = top_up_events(api, plan, pods, workers)
    phase("events", t0)
    report = {
        "prefix": plan.prefix,
        "scale": plan.scale,
        "complete": len(pods) >= want,
        "plan": {
            "nodes": plan.nodes,
            "gpu_nodes": plan.gpu_nodes,
            "namespaces": plan.namespaces,
            **plan.totals(),
        },
        "quotas": list(plan.quotas),
        "pods": len(pods),
        "pods_settled": sum(1 for p in pods if settled(p)),
        "events_created": created_events,
        "seconds": timings,
        "total_seconds": round(time.monotonic() - t_start, 1),
        "requests": api.requests,
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_marker(api, plan, report)
    return report


def delete_all(api: Api, prefix: str, timeout: float) -> None:
    """Remove everything seed.py made under ``prefix`` (namespaces first, so that no pod is
    left on a deleted node)."""
    names = [
        n["metadata"]["name"]
        for n in api.list("/api/v1/namespaces", labelSelector=f"logos.bench/prefix={prefix}")
    ]
    delete_namespaces(api, names, timeout)
    for n in api.list("/api/v1/nodes", labelSelector=f"logos.bench/pool={prefix}"):
        api.request("DELETE", f"/api/v1/nodes/{n['metadata']['name']}", ok=(404,))
    api.request("DELETE", f"/apis/storage.k8s.io/v1/storageclasses/{prefix}-ebs", ok=(404,))
    api.request("DELETE", marker_path(prefix), ok=(404,))
    log(f"deleted {len(names)} namespaces and the nodes of prefix {prefix}")


def main(argv: list[str] | None = None) -> int:
    """Seed, print the plan, or delete, from the command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument(
        "--prefix",
        default="bench",
        help="names of namespaces, nodes and the StorageClass start with it",
    )
    ap.add_argument(
        "--gpu-label",
        default="nvidia.com/gpu=true",
        metavar="KEY=VALUE",
        help="label of the GPU nodes (a per-run one on a shared cluster)",
    )
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument(
        "--timeout",
        type=float,
        default=1200,
        help="seconds to wait for nodes, pods and namespace deletion",
    )
    ap.add_argument("--delete", action="store_true", help="remove the prefix's objects")
    ap.add_argument("--plan", action="store_true", help="print the plan and exit")
    args = ap.parse_args(argv)
    key, _, value = args.gpu_label.partition("=")
    plan = make_plan(args.prefix, args.scale)
    if args.plan:
        print(json.dumps(asdict(plan) | {"totals": plan.totals()}, indent=1))
        return 0
    api = Api(args.kubeconfig, pool=args.workers + 4)
    try:
        if args.delete:
            delete_all(api, args.prefix, args.timeout)
            return 0
        log(
            f"seeding prefix {plan.prefix} at scale {plan.scale}: {plan.nodes} nodes, "
            f"{plan.namespaces} namespaces, {plan.totals()}"
        )
        report = seed(api, plan, (key, value), args.workers, args.timeout)
    finally:
        api.close()
    print(json.dumps({k: v for k, v in report.items() if k != "quotas"}, indent=1))
    return 0 if report["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
