"""Workload shapes the kwok stand-in cannot give, produced by the real kubelet and controllers.

Pods here run on the real node (``realnode``: kubelet v1.37.2 on containerd, the toolbox
image is busybox), so every container state, restart count, exit code and event in these
scenarios is written by the kubelet itself; Deployments, ReplicaSets, StatefulSets,
EndpointSlices and quota admission are the real control plane's.  Nothing here writes a
status by hand.

Names mislead on purpose (a ConfigMap called ``secret-not-found-quota``, an image repository
``acme/nginx-tls``, an init container that prints "403 denied"): a check that matched on
names rather than on the kubelet's fields would give the wrong cause.

What the kubelet writes, and where (kubernetes v1.37):

- a Secret key or Secret that an env reference needs but that is absent:
  ``state.waiting.reason: CreateContainerConfigError``, message
  ``couldn't find key postgres-password in Secret NS/logos-db-credentials``
  (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables) or
  ``secret "logos-redis-credentials" not found`` (pkg/kubelet/secret/secret_manager.go),
  event ``Failed`` ``Error: <message>`` (pkg/kubelet/kuberuntime/kuberuntime_container.go);
- a container that exits: ``lastState.terminated`` ``{exitCode: 1, reason: Error}``, then
  ``state.waiting.reason: CrashLoopBackOff`` with ``back-off 10s restarting failed
  container=chat pod=NAME_NS(UID)`` and event ``BackOff`` ``Back-off restarting failed
  container chat in pod NAME_NS(UID)`` (pkg/kubelet/kuberuntime/kuberuntime_manager.go
  doBackOff), alternating with ``state.running`` while it runs again;
- an init container that exits: the same on ``initContainerStatuses`` (kubectl prints
  ``Init:CrashLoopBackOff``), the app containers ``waiting: PodInitializing``;
- a container over its memory limit: ``lastState.terminated`` ``{exitCode: 137, reason:
  OOMKilled}`` (containerd's CRI, from the cgroup's OOM event).
"""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client

from .. import realnode
from ..kube import wait_for
from . import scenario
from .storage import class_name, make_class, storage_config

# A value no output may ever contain: seeded into the Secret of ``secret_blocks_chat``.
CANARY = "canary-81c4be07-never-print-me"
COMPONENT = "app.kubernetes.io/component"


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "logos",
        "app.kubernetes.io/instance": "logos",
        COMPONENT: component,
    }


def _require_real_node() -> None:
    why = realnode.unavailable_reason()
    if why:
        raise realnode.RealNodeError(f"the real node is needed: {why}")


def _template(component: str, containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    pod = realnode.real_pod(f"logos-{component}", containers, labels=_labels(component), **extra)
    return realnode.real_pod_template(pod)


def _deployment(
    name: str, component: str, replicas: int, template: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": _labels(component)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _labels(component)},
            "template": template,
            **spec,
        },
    }


def _service(name: str, component: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(component)},
        "spec": {
            "selector": _labels(component),
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }


def _pods(api: Any, namespace: str, component: str) -> list[Any]:
    return [
        p
        for p in client.CoreV1Api(api)
        .list_namespaced_pod(namespace, label_selector=f"{COMPONENT}={component}")
        .items
        if p.metadata.deletion_timestamp is None
    ]


def _describe(api: Any, namespace: str) -> str:
    out = []
    for p in client.CoreV1Api(api).list_namespaced_pod(namespace).items:
        for cs in (p.status.init_container_statuses or []) + (p.status.container_statuses or []):
            out.append(
                f"{p.metadata.name}/{cs.name}: restarts={cs.restart_count} "
                f"state={cs.state.to_dict()} last={cs.last_state.to_dict()}"
            )
    return "\n".join(out)[-3000:]


def _events(api: Any, namespace: str, reason: str) -> list[Any]:
    return [
        e
        for e in client.CoreV1Api(api).list_namespaced_event(namespace).items
        if e.reason == reason
    ]


@scenario("secret_blocks_chat")
def secret_blocks_chat(api: Any, namespace: str) -> dict[str, Any]:
    """logos-chat (2 replicas) reads POSTGRES_PASSWORD from key ``postgres-password`` of
    ``logos-db-credentials``, which was recreated with ``password`` only; logos-web reads
    all of ``logos-redis-credentials``, which does not exist.  The real kubelet refuses to
    start both (CreateContainerConfigError); their Services have no ready endpoint.  A
    ConfigMap named ``secret-not-found-quota`` that chat also reads exists and is fine.
    logos-completion mounts key ``tls.key`` of ``logos-tls`` (which holds ``tls.crt`` only)
    and all of ``logos-s3-credentials`` (absent): it stays ContainerCreating, with the
    kubelet's FailedMount events."""
    _require_real_node()
    make_class(api, class_name(namespace), namespace)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "logos-db-credentials"},
            "type": "Opaque",
            "data": {"password": base64.b64encode(CANARY.encode()).decode()},
        },
    )
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "secret-not-found-quota"}, "data": {"mode": "denied-403"}}
    )
    chat = _template(
        "chat",
        [
            {
                "name": "chat",
                "command": ["sh", "-c", "exec sleep 3600"],
                "env": [
                    {
                        "name": "CHAT_MODE",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "secret-not-found-quota", "key": "mode"}
                        },
                    },
                    {
                        "name": "POSTGRES_PASSWORD",
                        "valueFrom": {
                            "secretKeyRef": {
                                "name": "logos-db-credentials",
                                "key": "postgres-password",
                            }
                        },
                    },
                ],
            }
        ],
    )
    web = _template(
        "web",
        [
            {
                "name": "web",
                "command": ["sh", "-c", "exec sleep 3600"],
                "envFrom": [{"secretRef": {"name": "logos-redis-credentials"}}],
            }
        ],
    )
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "logos-tls"},
            "type": "Opaque",
            "stringData": {"tls.crt": "not-a-certificate"},
        },
    )
    completion = _template(
        "completion",
        [
            {
                "name": "completion",
                "command": ["sh", "-c", "exec sleep 3600"],
                "volumeMounts": [
                    {"name": "tls", "mountPath": "/tls"},
                    {"name": "object-store", "mountPath": "/s3"},
                ],
            }
        ],
        volumes=[
            {
                "name": "tls",
                "secret": {
                    "secretName": "logos-tls",
                    "items": [{"key": "tls.key", "path": "tls.key"}],
                },
            },
            {"name": "object-store", "secret": {"secretName": "logos-s3-credentials"}},
        ],
    )
    apps.create_namespaced_deployment(namespace, _deployment("logos-chat", "chat", 2, chat))
    apps.create_namespaced_deployment(namespace, _deployment("logos-web", "web", 1, web))
    apps.create_namespaced_deployment(
        namespace, _deployment("logos-completion", "completion", 1, completion)
    )
    core.create_namespaced_service(namespace, _service("logos-chat", "chat"))
    core.create_namespaced_service(namespace, _service("logos-web", "web"))

    def refused() -> bool:
        waiting = [
            cs.state.waiting
            for component in ("chat", "web")
            for p in _pods(api, namespace, component)
            for cs in p.status.container_statuses or []
            if cs.state
            and cs.state.waiting
            and cs.state.waiting.reason == "CreateContainerConfigError"
        ]
        failed = [
            e for e in _events(api, namespace, "Failed") if (e.message or "").startswith("Error: ")
        ]
        mounts = {
            (e.message or "").split(" : ")[-1]
            for e in _events(api, namespace, "FailedMount")
            if (e.message or "").startswith("MountVolume.SetUp failed for volume ")
        }
        return len(waiting) == 3 and len(failed) >= 2 and len(mounts) >= 2

    wait_for(
        refused,
        120,
        "3 pods in CreateContainerConfigError with Failed events, "
        "FailedMount for both Secret volumes of logos-completion",
        interval=0.5,
        describe=lambda: _describe(api, namespace),
    )
    return storage_config(
        namespace,
        secrets=[
            {"name": "logos-db-credentials", "keys": ["password", "postgres-password"]},
            {"name": "logos-redis-credentials"},
            {"name": "logos-tls", "keys": ["tls.crt", "tls.key"]},
        ],
    )


def _status(api: Any, namespace: str, component: str, *, init: bool = False) -> list[Any]:
    return [
        cs
        for p in _pods(api, namespace, component)
        for cs in (
            (p.status.init_container_statuses if init else p.status.container_statuses) or []
        )
    ]


@scenario("crash_shapes")
def crash_shapes(api: Any, namespace: str) -> dict[str, Any]:
    """Four containers on the real kubelet, recorded while:

    - logos-chat's ``chat`` exits 1 after 20 s and is running again (restarted at least
      twice, the kubelet's BackOff events present): a crash loop caught while running;
    - logos-web's init container ``migrate`` exits 2 at once: Init:CrashLoopBackOff (it
      prints "quota exceeded: 403 denied", which no check should read);
    - logos-redis-master's ``redis`` (memory limit 24Mi) allocates 64 MiB: OOMKilled, 137;
    - logos-completion's ``completion`` exited once at its first start (143) and has run
      since: a single old restart, no loop;
    - logos-indexer is scaled to zero.
    """
    _require_real_node()
    make_class(api, class_name(namespace), namespace)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    chat = _template(
        "chat",
        [{"name": "chat", "command": ["sh", "-c", "sleep 20; echo 'shutting down' >&2; exit 1"]}],
    )
    web = _template(
        "web",
        [{"name": "web", "command": ["sh", "-c", "exec sleep 3600"]}],
        init_containers=[
            {
                "name": "migrate",
                "command": ["sh", "-c", "echo 'quota exceeded: 403 denied' >&2; exit 2"],
            }
        ],
    )
    redis = _template(
        "redis",
        [
            {
                "name": "redis",
                "command": ["sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=4"],
                "resources": {"requests": {"memory": "16Mi"}, "limits": {"memory": "24Mi"}},
            }
        ],
    )
    completion = _template(
        "completion",
        [
            {
                "name": "completion",
                "command": [
                    "sh",
                    "-c",
                    "if [ -f /work/ran ]; then exec sleep 3600; fi; touch /work/ran; exit 143",
                ],
                "volumeMounts": [{"name": "work", "mountPath": "/work"}],
            }
        ],
        volumes=[{"name": "work", "emptyDir": {}}],
    )
    indexer = _template("indexer", [{"name": "indexer", "command": ["sleep", "3600"]}])
    apps.create_namespaced_deployment(namespace, _deployment("logos-chat", "chat", 1, chat))
    apps.create_namespaced_deployment(namespace, _deployment("logos-web", "web", 1, web))
    apps.create_namespaced_deployment(
        namespace, _deployment("logos-completion", "completion", 1, completion)
    )
    apps.create_namespaced_deployment(
        namespace, _deployment("logos-indexer", "indexer", 0, indexer)
    )
    apps.create_namespaced_stateful_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "logos-redis-master", "labels": _labels("redis")},
            "spec": {
                "replicas": 1,
                "serviceName": "logos-redis-headless",
                "selector": {"matchLabels": _labels("redis")},
                "template": redis,
            },
        },
    )
    for name, component in (
        ("logos-chat", "chat"),
        ("logos-web", "web"),
        ("logos-redis-master", "redis"),
    ):
        core.create_namespaced_service(namespace, _service(name, component))

    def settled() -> bool:
        web_init = _status(api, namespace, "web", init=True)
        redis = _status(api, namespace, "redis")
        completion = _status(api, namespace, "completion")
        return (
            any(
                cs.state.waiting
                and cs.state.waiting.reason == "CrashLoopBackOff"
                and cs.restart_count >= 1
                for cs in web_init
            )
            and any(
                cs.last_state.terminated and cs.last_state.terminated.reason == "OOMKilled"
                for cs in redis
            )
            and any(cs.state.running and cs.ready and cs.restart_count == 1 for cs in completion)
        )

    wait_for(
        settled,
        120,
        "init crash loop, OOM kill and one old restart",
        interval=1,
        describe=lambda: _describe(api, namespace),
    )

    def chat_running_again() -> bool:
        backoffs = [
            e
            for e in _events(api, namespace, "BackOff")
            if (e.message or "").startswith("Back-off restarting failed container chat")
        ]
        return bool(backoffs) and any(
            cs.state.running and cs.restart_count >= 2 and cs.last_state.terminated
            for cs in _status(api, namespace, "chat")
        )

    wait_for(
        chat_running_again,
        150,
        "logos-chat running again after two crashes",
        interval=0.5,
        describe=lambda: _describe(api, namespace),
    )
    return storage_config(namespace, secrets=[])


@scenario("replicas_refused_by_quota")
def replicas_refused_by_quota(api: Any, namespace: str) -> dict[str, Any]:
    """A ResourceQuota allows 1 pod; logos-chat asks for 3.  The real ReplicaSet controller
    creates one and is refused the others by quota admission (``FailedCreate``, condition
    ``ReplicaFailure``).  Recorded as soon as the refusal is there, well inside the two
    minutes an ambiguous shortfall is given: a definitive signal must be reported at once.
    The image repository is named ``acme/quota-exceeded``; nothing fails to pull."""
    make_class(api, class_name(namespace), namespace)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "compute-resources"}, "spec": {"hard": {"pods": "1"}}}
    )
    labels = _labels("chat")
    apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "logos-chat", "labels": labels},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "chat",
                                "image": "registry.local/acme/quota-exceeded:v1.403",
                                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                            }
                        ]
                    },
                },
            },
        },
    )

    def refused() -> bool:
        rs = apps.list_namespaced_replica_set(namespace).items
        failing = any(
            c.type == "ReplicaFailure" and c.status == "True"
            for r in rs
            for c in (r.status.conditions or [])
        )
        created = [
            e
            for e in _events(api, namespace, "FailedCreate")
            if (e.message or "").startswith("Error creating: ")
        ]
        return failing and bool(created)

    wait_for(
        refused, 60, "FailedCreate and ReplicaFailure on logos-chat's ReplicaSet", interval=0.5
    )
    return storage_config(namespace, secrets=[])


@scenario("statefulset_refused_by_quota")
def statefulset_refused_by_quota(api: Any, namespace: str) -> dict[str, Any]:
    """A ResourceQuota allows 1 pod; logos-redis-master (a StatefulSet without claims) asks
    for 2.  The real StatefulSet controller creates pod 0 and is refused pod 1
    (``FailedCreate`` ``Create Pod logos-redis-master-1 in StatefulSet logos-redis-master
    failed error: pods "logos-redis-master-1" is forbidden: exceeded quota: ...``; v1.37
    writes the verb capitalised, older controllers lower-case, see
    pkg/controller/statefulset/stateful_pod_control.go recordPodEvent).  StatefulSets have
    no ReplicaFailure condition: the event is the signal."""
    make_class(api, class_name(namespace), namespace)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "redis-pods"}, "spec": {"hard": {"pods": "1"}}}
    )
    labels = _labels("redis")
    apps.create_namespaced_stateful_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "logos-redis-master", "labels": labels},
            "spec": {
                "replicas": 2,
                "serviceName": "logos-redis-headless",
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "redis",
                                "image": "bitnami/redis:7.4.1",
                                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                            }
                        ]
                    },
                },
            },
        },
    )

    def refused() -> bool:
        return any(
            (e.message or "").lower().startswith("create pod logos-redis-master-")
            and "exceeded quota" in (e.message or "")
            for e in _events(api, namespace, "FailedCreate")
        )

    wait_for(refused, 120, "FailedCreate on logos-redis-master", interval=0.5)
    return storage_config(namespace, secrets=[])
