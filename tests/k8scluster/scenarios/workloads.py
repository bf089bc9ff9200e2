"""Workload scenarios: images that do not pull, rollouts that stall, crash loops, bad Secrets.

Every scenario deploys the Logos stack on its own StorageClass (``ssd-<ns>``, see
``storage``) with one logos-completion replica, so that parallel runs do not compete for the
shared GPU nodes, then breaks it the way a bad release or an operator would: a wrong image
(the kwok stages play the kubelet for the reserved test-registry names), a deleted Secret, a
rollout.  Each waits until the kubelet stand-in and the real controllers have written the
state an on-call engineer would find.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .. import logos_stack
from ..kube import wait_for
from . import scenario
from .storage import class_name, make_class, storage_config

# A value no output may ever contain: seeded into the Secrets of ``secrets_faults``.
CANARY = "canary-5e2f19d4-never-print-me"
REPLICAS = {"logos-completion": 1}
MIN_READY = 30  # seconds; the window in which a rollout_in_progress snapshot must be taken


def deploy_stack(api: Any, namespace: str, *, images: dict[str, str] | None = None,
                 wait: bool = True) -> dict[str, Any]:
    """The Logos stack on a per-namespace StorageClass; returns the config overrides."""
    make_class(api, class_name(namespace), namespace)
    logos_stack.deploy(api, namespace, storage_class=class_name(namespace),
                       create_storage_class=False, create_namespace=False,
                       images=images, replicas=REPLICAS)
    if wait:
        logos_stack.wait_healthy(api, namespace, timeout=120)
    return storage_config(namespace)


def pods(api: Any, namespace: str, prefix: str) -> list[Any]:
    """Live (not terminating) pods whose name starts with ``prefix``."""
    return [p for p in client.CoreV1Api(api).list_namespaced_pod(namespace).items
            if p.metadata.name.startswith(prefix) and p.metadata.deletion_timestamp is None]


def waiting(pod: Any) -> set[str]:
    """The waiting reasons of a pod's containers."""
    return {cs.state.waiting.reason for cs in (pod.status.container_statuses or [])
            if cs.state and cs.state.waiting}


def wait_pods(api: Any, namespace: str, prefix: str, reason: str, count: int,
              timeout: float = 90) -> None:
    """Wait until ``count`` pods named ``prefix*`` have a container waiting with ``reason``."""
    def ready() -> bool:
        return sum(reason in waiting(p) for p in pods(api, namespace, prefix)) >= count

    wait_for(ready, timeout, f"{count} pod(s) {prefix}* in {reason}", interval=0.5,
             describe=lambda: ", ".join(f"{p.metadata.name}={sorted(waiting(p))}"
                                        for p in pods(api, namespace, prefix)))


def wait_pull_events(api: Any, namespace: str, prefix: str, image: str | None = None) -> None:
    """Wait until every ``prefix*`` pod (running ``image``, if given) has the kubelet's
    "Failed to pull image" event."""
    core = client.CoreV1Api(api)

    def done() -> bool:
        failed = {e.involved_object.uid for e in core.list_namespaced_event(namespace).items
                  if e.reason == "Failed" and e.message.startswith("Failed to pull image")}
        live = [p for p in pods(api, namespace, prefix)
                if image is None or p.spec.containers[0].image == image]
        return bool(live) and all(p.metadata.uid in failed for p in live)

    wait_for(done, 60, f"Failed pull events for {prefix}*", interval=0.5)


def rollout_stalled(api: Any, namespace: str, deployment: str, prefix: str,
                    kind: str = "notfound") -> str:
    """Set a bad image on a healthy Deployment and wait for its new pod's pull failure."""
    image = logos_stack.set_bad_image(api, namespace, deployment, kind)
    wait_for(lambda: [p for p in pods(api, namespace, prefix)
                      if p.spec.containers[0].image == image
                      and "ImagePullBackOff" in waiting(p)], 90,
             f"a new {deployment} pod in ImagePullBackOff", interval=0.5)
    wait_pull_events(api, namespace, prefix, image)
    return image


@scenario("image_pull_faults")
def image_pull_faults(api: Any, namespace: str) -> dict[str, Any]:
    """A release with four broken images: chat's tag does not exist, web's registry refuses
    anonymous pulls (401), redis's repository denies access, postgresql's registry host does
    not resolve.  Every pod of those four workloads sits in ImagePullBackOff."""
    bad = {"chat": "notfound", "web": "unauthorized", "redis": "denied",
           "postgresql": "unreachable"}
    images = {c: logos_stack.bad_image(logos_stack.IMAGES[c], k) for c, k in bad.items()}
    overrides = deploy_stack(api, namespace, images=images, wait=False)
    for prefix, count in (("logos-chat-", 3), ("logos-web-", 3),
                          ("logos-redis-master-", 1), ("logos-postgresql-", 1)):
        wait_pods(api, namespace, prefix, "ImagePullBackOff", count)
        wait_pull_events(api, namespace, prefix)
    return overrides


@scenario("chat_bad_image_rollout")
def chat_bad_image_rollout(api: Any, namespace: str) -> dict[str, Any]:
    """`kubectl set image` on a healthy logos-chat with a tag that does not exist: the
    surge pod cannot pull, the three old pods keep serving, the rollout waits."""
    overrides = deploy_stack(api, namespace)
    rollout_stalled(api, namespace, "logos-chat", "logos-chat-")
    return overrides


@scenario("chat_rollout_deadline_exceeded")
def chat_rollout_deadline_exceeded(api: Any, namespace: str) -> dict[str, Any]:
    """The same bad rollout on a Deployment with a 10 s progress deadline, recorded after the
    deployment controller has marked it Progressing=False/ProgressDeadlineExceeded."""
    overrides = deploy_stack(api, namespace)
    apps = client.AppsV1Api(api)
    apps.patch_namespaced_deployment("logos-chat", namespace,
                                     {"spec": {"progressDeadlineSeconds": 10}})
    rollout_stalled(api, namespace, "logos-chat", "logos-chat-")

    def exceeded() -> bool:
        dep = apps.read_namespaced_deployment("logos-chat", namespace)
        return any(c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded"
                   for c in dep.status.conditions or [])

    wait_for(exceeded, 60, "ProgressDeadlineExceeded on logos-chat", interval=0.5)
    return overrides


@scenario("rollout_in_progress")
def rollout_in_progress(api: Any, namespace: str) -> dict[str, Any]:
    """A healthy rollout, mid-way: logos-chat (maxSurge 0, maxUnavailable 1, minReadySeconds
    30) moves to a new, working image; one new pod is Ready but not yet available, so the
    Deployment has 2 of 3 available, which its strategy allows.  Nothing is wrong."""
    overrides = deploy_stack(api, namespace)
    apps = client.AppsV1Api(api)
    apps.patch_namespaced_deployment("logos-chat", namespace, {"spec": {
        "minReadySeconds": MIN_READY,
        "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}})

    def settled() -> bool:  # the old pods must count as available before the rollout
        st = apps.read_namespaced_deployment("logos-chat", namespace).status
        return st.available_replicas == 3 and st.observed_generation >= 2

    wait_for(settled, MIN_READY + 30, "old logos-chat pods to be available", interval=0.5)
    logos_stack.set_image(api, namespace, "logos-chat", "logos/chat:1.1")

    def midway() -> bool:
        st = apps.read_namespaced_deployment("logos-chat", namespace).status
        new_ready = [p for p in pods(api, namespace, "logos-chat-")
                     if p.spec.containers[0].image == "logos/chat:1.1"
                     and any(c.type == "Ready" and c.status == "True"
                             for c in p.status.conditions or [])]
        return bool(new_ready) and st.updated_replicas == 1 and st.available_replicas == 2

    wait_for(midway, 20, "logos-chat rollout to be mid-way", interval=0.25)
    return overrides


@scenario("pull_secret_missing")
def pull_secret_missing(api: Any, namespace: str) -> dict[str, Any]:
    """regcred deleted from a running stack, then a web release that must pull: the new web
    pod fails with 401, and every running pod that names regcred will fail on its next pull.
    Also a ServiceAccount given a pull secret that was never created, after its pod started."""
    overrides = deploy_stack(api, namespace)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "logos-indexer"}})
    labels = {"app.kubernetes.io/name": "logos", "app.kubernetes.io/component": "indexer"}
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "logos-indexer", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "serviceAccountName": "logos-indexer",
                     "containers": [{"name": "indexer", "image": "logos/indexer:1.0"}]}}}})
    wait_for(lambda: any(p.status.phase == "Running"
                         for p in pods(api, namespace, "logos-indexer-")), 60,
             "logos-indexer to run", interval=0.5)
    core.patch_namespaced_service_account("logos-indexer", namespace,
                                          {"imagePullSecrets": [{"name": "indexer-registry"}]})
    logos_stack.delete_secret(api, namespace, "regcred")
    rollout_stalled(api, namespace, "logos-web", "logos-web-", "unauthorized")
    return overrides


@scenario("crashloop_oom")
def crashloop_oom(api: Any, namespace: str) -> dict[str, Any]:
    """A chat release that exits at start (exit code 1) and a redis that is OOMKilled: both
    in CrashLoopBackOff with growing restart counts, no replica available."""
    images = {"chat": logos_stack.bad_image(logos_stack.IMAGES["chat"], "crashloop"),
              "redis": logos_stack.bad_image(logos_stack.IMAGES["redis"], "oomkilled")}
    overrides = deploy_stack(api, namespace, images=images, wait=False)
    wait_pods(api, namespace, "logos-chat-", "CrashLoopBackOff", 3)
    wait_pods(api, namespace, "logos-redis-master-", "CrashLoopBackOff", 1)

    def restarted() -> bool:
        return all(cs.restart_count >= 2
                   for p in pods(api, namespace, "logos-chat-") + pods(
                       api, namespace, "logos-redis-master-")
                   for cs in p.status.container_statuses or [])

    wait_for(restarted, 60, "crash-looping containers to restart twice", interval=0.5)
    return overrides


def _replace_secret(api: Any, namespace: str, name: str, secret_type: str,
                    data: dict[str, str]) -> None:
    core = client.CoreV1Api(api)
    logos_stack.delete_secret(api, namespace, name)
    wait_for(lambda: _absent(core, namespace, name), 30, f"Secret {name} to go")
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": name}, "type": secret_type,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})


def _absent(core: Any, namespace: str, name: str) -> bool:
    try:
        core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        return exc.status == 404
    return False


@scenario("secrets_faults")
def secrets_faults(api: Any, namespace: str) -> dict[str, Any]:
    """The guide's Secrets, wrong in the three ways operators get them wrong: the redis
    credentials deleted, the db credentials recreated without postgres-password, regcred
    recreated as Opaque (kubectl create secret generic).  Values carry ``CANARY``."""
    overrides = deploy_stack(api, namespace)
    logos_stack.delete_secret(api, namespace, "logos-redis-credentials")
    _replace_secret(api, namespace, "logos-db-credentials", "Opaque",
                    {"password": CANARY})
    dockercfg = {"auths": {"registry.logos.example": {"auth": CANARY}}}
    _replace_secret(api, namespace, "regcred", "Opaque",
                    {".dockerconfigjson": json.dumps(dockercfg)})
    wait_for(lambda: _absent(client.CoreV1Api(api), namespace, "logos-redis-credentials"), 30,
             "logos-redis-credentials to go")
    return overrides
