"""Admission scenarios: controllers whose pods the API server refuses to create.

Everything here is done by the real control plane: the ResourceQuota, LimitRanger and
PodSecurity admission plugins and the webhook dispatchers of kube-apiserver refuse the pods,
and the real ReplicaSet and StatefulSet controllers record ``FailedCreate`` and
``ReplicaFailure``.  Names are chosen to mislead a classifier that reads words: a quota
named ``webhook-quota``, a LimitRange ``exceeded-quota``, a webhook ``quota.policy.example.com``,
containers named ``denied``.

Webhook configurations are cluster-scoped: each is scoped to its scenario's namespace by a
``namespaceSelector`` on ``kubernetes.io/metadata.name`` (and an ``objectSelector``), and
labelled with ``OWNER_LABEL`` so that ``cleanup_cluster_scoped`` deletes it with the namespace.
The denying webhook is a small HTTPS server in this process on 127.0.0.1 (the API server runs
on the same host), with a certificate from a CA made by ``k8scluster.pki``; its failurePolicy
is Ignore, so nothing is blocked once the server is gone.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client

from .. import pki
from ..kube import wait_for
from . import OWNER_LABEL, scenario

IMAGE = "registry.local/acme/nginx-tls:v1.403"  # a name full of words a matcher must ignore
DENY_REASON = f"image {IMAGE} is not signed by the release key"
_SERVERS: dict[str, ThreadingHTTPServer] = {}


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "logos", "app.kubernetes.io/component": component}


def _container(name: str, resources: dict[str, Any] | None = None,
               security: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"name": name, "image": IMAGE, "resources": resources or {}}
    if security is not None:
        out["securityContext"] = security
    return out


def deployment(namespace: str, name: str, component: str, replicas: int,
               containers: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """A Deployment of ``replicas`` pods with these containers."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": _labels(component)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _labels(component)},
            "template": {"metadata": {"labels": _labels(component)},
                         "spec": {"containers": containers}},
        },
    }  # fmt: skip


def statefulset(namespace: str, name: str, component: str,
                containers: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """A one-replica StatefulSet without claims."""
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": _labels(component)},
        "spec": {
            "replicas": 1, "serviceName": name,
            "selector": {"matchLabels": _labels(component)},
            "template": {"metadata": {"labels": _labels(component)},
                         "spec": {"containers": containers}},
        },
    }  # fmt: skip


def quota(api: Any, namespace: str, name: str, hard: dict[str, str]) -> None:
    """Create a ResourceQuota and wait until the quota controller has computed its usage
    (before that, admission refuses every pod with "status unknown for quota")."""
    core = client.CoreV1Api(api)
    core.create_namespaced_resource_quota(namespace, {
        "metadata": {"name": name}, "spec": {"hard": hard}})  # fmt: skip

    def computed() -> bool:
        st = core.read_namespaced_resource_quota(name, namespace).status
        return bool(st and st.hard and st.used is not None)

    wait_for(computed, 30, f"ResourceQuota {name} status", interval=0.25)


def replica_sets(api: Any, namespace: str, deployment_name: str) -> list[Any]:
    """The ReplicaSets a Deployment owns."""
    return [
        rs
        for rs in client.AppsV1Api(api).list_namespaced_replica_set(namespace).items
        if any(o.name == deployment_name for o in rs.metadata.owner_references or [])
    ]


def failed_create_events(api: Any, namespace: str, uid: str) -> list[Any]:
    """The controllers' FailedCreate events about the object with ``uid``."""
    return [
        e
        for e in client.CoreV1Api(api).list_namespaced_event(namespace).items
        if e.reason == "FailedCreate" and e.involved_object.uid == uid
    ]


def wait_refused(api: Any, namespace: str, deployment_name: str, pods: int = 0) -> None:
    """Wait until the Deployment's ReplicaSet has a ReplicaFailure condition and a
    FailedCreate event, and ``pods`` of its pods were admitted."""

    def refused() -> bool:
        for rs in replica_sets(api, namespace, deployment_name):
            cond = [c for c in rs.status.conditions or [] if c.type == "ReplicaFailure"]
            if (cond and cond[0].reason == "FailedCreate"
                    and failed_create_events(api, namespace, rs.metadata.uid)
                    and (rs.status.replicas or 0) >= pods):  # fmt: skip
                return True
        return False

    wait_for(refused, 60, f"FailedCreate on the ReplicaSet of {deployment_name}", interval=0.5)


def wait_sts_refused(api: Any, namespace: str, name: str) -> None:
    """Wait until the StatefulSet controller has recorded FailedCreate."""
    apps = client.AppsV1Api(api)
    wait_for(lambda: failed_create_events(
        api, namespace, apps.read_namespaced_stateful_set(name, namespace).metadata.uid),
        60, f"FailedCreate on StatefulSet {name}", interval=0.5)  # fmt: skip


def create(api: Any, namespace: str, obj: dict[str, Any]) -> None:
    """Create a Deployment or StatefulSet manifest."""
    apps = client.AppsV1Api(api)
    if obj["kind"] == "Deployment":
        apps.create_namespaced_deployment(namespace, obj)
    else:
        apps.create_namespaced_stateful_set(namespace, obj)


@scenario("admission_quota_exceeded")
def admission_quota_exceeded(api: Any, namespace: str) -> None:
    """ResourceQuota ``webhook-quota`` allows 1Gi of memory limits; logos-chat wants 3 pods
    of 512Mi: the quota admission plugin admits two and refuses the third."""
    quota(api, namespace, "webhook-quota", {"limits.memory": "1Gi", "pods": "20"})
    create(api, namespace, deployment(namespace, "logos-chat", "chat", 3, [
        _container("denied", {"limits": {"memory": "512Mi", "cpu": "500m"},
                              "requests": {"memory": "256Mi", "cpu": "100m"}})]))  # fmt: skip
    wait_refused(api, namespace, "logos-chat", pods=2)


@scenario("admission_quota_recovered")
def admission_quota_recovered(api: Any, namespace: str) -> None:
    """The same full quota, then raised to 4Gi: the ReplicaSet creates its third pod and
    clears ReplicaFailure.  Its FailedCreate events remain, and are history."""
    admission_quota_exceeded(api, namespace)
    core = client.CoreV1Api(api)
    core.patch_namespaced_resource_quota(
        "webhook-quota", namespace, {"spec": {"hard": {"limits.memory": "4Gi"}}}
    )

    def recovered() -> bool:
        return all(rs.status.replicas == 3 and not any(
            c.type == "ReplicaFailure" for c in rs.status.conditions or [])
            for rs in replica_sets(api, namespace, "logos-chat"))  # fmt: skip

    wait_for(recovered, 60, "logos-chat to get its third pod", interval=0.5)


@scenario("admission_quota_must_specify")
def admission_quota_must_specify(api: Any, namespace: str) -> None:
    """ResourceQuota ``limitrange-max`` limits cpu and memory limits; logos-web's sidecar
    sets none and its main container only a cpu limit, so every pod is refused."""
    quota(api, namespace, "limitrange-max", {"limits.cpu": "8", "limits.memory": "8Gi"})
    create(api, namespace, deployment(namespace, "logos-web", "web", 2, [
        _container("web", {"limits": {"cpu": "1"}}),
        _container("quota-sidecar")]))  # fmt: skip
    wait_refused(api, namespace, "logos-web")


@scenario("admission_limitrange")
def admission_limitrange(api: Any, namespace: str) -> None:
    """LimitRange ``exceeded-quota`` caps a container at 512Mi; logos-completion asks a 1Gi
    limit, so the LimitRanger refuses every pod (another LimitRange bounds pods' cpu)."""
    core = client.CoreV1Api(api)
    core.create_namespaced_limit_range(namespace, {
        "metadata": {"name": "webhook-limits"},
        "spec": {"limits": [{"type": "Pod", "max": {"cpu": "64"}}]}})  # fmt: skip
    core.create_namespaced_limit_range(namespace, {
        "metadata": {"name": "exceeded-quota"},
        "spec": {"limits": [{"type": "Container", "max": {"memory": "512Mi"}}]}})  # fmt: skip
    create(api, namespace, deployment(namespace, "logos-completion", "completion", 2, [
        _container("denied", {"limits": {"memory": "1Gi", "cpu": "1"}})]))  # fmt: skip
    wait_refused(api, namespace, "logos-completion")


@scenario("admission_pod_security")
def admission_pod_security(api: Any, namespace: str) -> None:
    """Namespace labelled ``pod-security.kubernetes.io/enforce=restricted``: logos-chat's
    privileged container, and the default security context of logos-redis-master (a
    StatefulSet), a migration Job and a log-shipper DaemonSet, all violate it."""
    client.CoreV1Api(api).patch_namespace(namespace, {"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})  # fmt: skip
    create(api, namespace, deployment(namespace, "logos-chat", "chat", 2, [
        _container("chat", security={"privileged": True})]))  # fmt: skip
    create(api, namespace, statefulset(namespace, "logos-redis-master", "redis",
                                       [_container("redis")]))  # fmt: skip
    batch, apps = client.BatchV1Api(api), client.AppsV1Api(api)
    job = batch.create_namespaced_job(namespace, {
        "metadata": {"name": "logos-db-migrate"},
        "spec": {"backoffLimit": 1, "template": {"spec": {
            "restartPolicy": "Never", "containers": [_container("migrate")]}}}})  # fmt: skip
    ds = apps.create_namespaced_daemon_set(namespace, {
        "metadata": {"name": "logos-log-shipper"},
        "spec": {"selector": {"matchLabels": _labels("log-shipper")},
                 "template": {"metadata": {"labels": _labels("log-shipper")},
                              "spec": {"containers": [_container("shipper")]}}}})  # fmt: skip
    wait_refused(api, namespace, "logos-chat")
    wait_sts_refused(api, namespace, "logos-redis-master")
    for what, uid in (("Job", job.metadata.uid), ("DaemonSet", ds.metadata.uid)):
        wait_for(lambda uid=uid: failed_create_events(api, namespace, uid), 60,
                 f"FailedCreate on the {what}", interval=0.5)  # fmt: skip

    def ds_counted() -> bool:  # the DaemonSet's status says how many pods it wants
        st = apps.read_namespaced_daemon_set("logos-log-shipper", namespace).status
        return bool(st.desired_number_scheduled)

    wait_for(ds_counted, 30, "the DaemonSet's desiredNumberScheduled", interval=0.5)


def _webhook_config(namespace: str, name: str, hook: str, client_config: dict[str, Any],
                    policy: str, component: str) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {OWNER_LABEL: namespace}},
        "webhooks": [{
            "name": hook,
            "clientConfig": client_config,
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["pods"], "scope": "Namespaced"}],
            # Only this scenario's namespace and pods: the cluster is shared.
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "objectSelector": {"matchLabels": _labels(component)},
            "failurePolicy": policy,
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 3,
        }],
    }  # fmt: skip


class _Deny(BaseHTTPRequestHandler):
    """Answers every AdmissionReview with allowed=false and ``DENY_REASON``."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        uid = json.loads(body or b"{}").get("request", {}).get("uid", "")
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "response": {"uid": uid, "allowed": False,
                               "status": {"code": 403, "message": DENY_REASON}}}  # fmt: skip
        data = json.dumps(review).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_deny_server(namespace: str) -> tuple[int, bytes]:
    """An HTTPS server on 127.0.0.1 that denies every review; returns (port, CA PEM)."""
    directory = Path(tempfile.mkdtemp(prefix="logos-webhook-"))
    ca = pki.make_ca(directory, cn="logos-test-webhook-ca")
    leaf = pki.make_cert(ca, directory, "webhook", "127.0.0.1", server=True, client=False,
                         sans=("IP:127.0.0.1",))  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deny)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(leaf.cert), str(leaf.key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _SERVERS[namespace] = server
    return server.server_address[1], ca.cert.read_bytes()


def stop_deny_server(namespace: str) -> None:
    """Stop the namespace's denying webhook server, if one runs."""
    server = _SERVERS.pop(namespace, None)
    if server is not None:
        server.shutdown()
        server.server_close()


@scenario("admission_webhook_denied")
def admission_webhook_denied(api: Any, namespace: str) -> None:
    """Validating webhook ``quota.policy.example.com`` (configuration ``<ns>-image-policy``)
    denies logos-web's pods: the image is not signed."""
    port, ca = start_deny_server(namespace)
    config = _webhook_config(namespace, f"{namespace}-image-policy", "quota.policy.example.com",
                             {"url": f"https://127.0.0.1:{port}/validate",
                              "caBundle": base64.b64encode(ca).decode()},
                             "Ignore", "web")  # fmt: skip
    client.AdmissionregistrationV1Api(api).create_validating_webhook_configuration(config)
    create(api, namespace, deployment(namespace, "logos-web", "web", 2, [_container("web")]))
    wait_refused(api, namespace, "logos-web")


@scenario("admission_webhook_unavailable")
def admission_webhook_unavailable(api: Any, namespace: str) -> None:
    """Validating webhook ``denied.quota.example.com`` (failurePolicy Fail) calls Service
    ``logos-policy``, which is gone (its release was uninstalled, the configuration left
    behind): the API server cannot call it, so logos-chat's pods are refused."""
    config = _webhook_config(
        namespace, f"{namespace}-policy", "denied.quota.example.com",
        {"service": {"namespace": namespace, "name": "logos-policy", "path": "/validate",
                     "port": 443}}, "Fail", "chat")  # fmt: skip
    client.AdmissionregistrationV1Api(api).create_validating_webhook_configuration(config)
    create(api, namespace, deployment(namespace, "logos-chat", "chat", 2, [_container("chat")]))
    wait_refused(api, namespace, "logos-chat")


@scenario("admission_unrecognised")
def admission_unrecognised(api: Any, namespace: str) -> None:
    """logos-web runs as ServiceAccount ``quota-exceeded``, which does not exist: the
    ServiceAccount admission plugin refuses its pods, a refusal the check does not classify
    and must quote."""
    manifest = deployment(namespace, "logos-web", "web", 2, [_container("web")])
    manifest["spec"]["template"]["spec"]["serviceAccountName"] = "quota-exceeded"
    create(api, namespace, manifest)
    wait_refused(api, namespace, "logos-web")
