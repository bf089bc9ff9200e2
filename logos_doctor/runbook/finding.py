"""From a finding of ``check -o json`` to the runbook parameters it already answers.

A finding names its resource, the workload it belongs to (``parent``), the finding it is
``caused_by``, the objects it ``depends_on`` and the ones it blocks (``affected``); every one
of them fills the parameter its kind stands for.  The image comes from the kubelet's own
words in the evidence (``Failed to pull image "..."``, ``Back-off pulling image "..."``,
pkg/kubelet/images/image_manager.go), never guessed from a name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# kind -> the parameters an object of that kind fills (first object of a kind wins)
KIND_PARAMS: dict[str, tuple[str, ...]] = {
    "PersistentVolumeClaim": ("pvc",),
    "PersistentVolume": ("pv",),
    "Pod": ("pod",),
    "StatefulSet": ("statefulset", "workload"),
    "Deployment": ("deployment", "workload"),
    "ReplicaSet": ("replicaset",),
    "Service": ("service",),
    "StorageClass": ("storage_class",),
    "Secret": ("secret",),
    "ConfigMap": ("configmap",),
    "Node": ("node",),
    "HorizontalPodAutoscaler": ("hpa",),
    "Ingress": ("ingress",),
    "ResourceQuota": ("quota",),
    "LimitRange": ("limitrange",),
    "ValidatingWebhookConfiguration": ("webhook_config",),
    "MutatingWebhookConfiguration": ("webhook_config",),
    "Certificate": ("certificate",),
    "ClusterIssuer": ("issuer",),
    "Issuer": ("issuer",),
    "ServiceMonitor": ("servicemonitor",),
    "VolumeAttachment": ("volumeattachment",),
}
WORKLOAD_KINDS = {"Deployment": "deployment", "StatefulSet": "statefulset"}

# pkg/kubelet/images/image_manager.go: "Failed to pull image %q: %v", "Back-off pulling image %q"
_IMAGE = re.compile(r'(?:Failed to pull image|Back-off pulling image|Pulling image) "([^"\s]+)"')
# the checks write "(container NAME)" / "container NAME:"; the kubelet writes "Back-off
# restarting failed container %s in pod %s" (pkg/kubelet/kuberuntime/kuberuntime_manager.go)
# and "Container %s failed %s probe, will be restarted" (kuberuntime_container.go)
_CONTAINER = re.compile(
    r"\b[Cc]ontainer ([a-z0-9]([-a-z0-9]*[a-z0-9])?)\b(?! (?:in|is|was|has|with)\b)"
)
_CONTAINER_NAMED = re.compile(r"\(container ([a-z0-9]([-a-z0-9]*[a-z0-9])?)\)")
# pkg/kubelet/kubelet_pods.go: "couldn't find key %v in ConfigMap %v/%v" (and "in Secret")
_KEY = re.compile(r"couldn't find key ([-._a-zA-Z0-9]+) in (?:ConfigMap|Secret) ")
# the admission check: "webhook NAME calls Service NAMESPACE/NAME port N"
_WEBHOOK_SERVICE = re.compile(r"calls Service ([a-z0-9][-a-z0-9]*)/([a-z0-9][-a-z0-9.]*) ")
# evidence lines of the checks that start with the pod they are about: "pod NAME: ..."
_POD = re.compile(r"^pod ([a-z0-9]([-a-z0-9.]*[a-z0-9])?)[: ]")
# the scheduling check: "nodeSelector KEY=VALUE matches none of the N node(s)"
_SELECTOR = re.compile(r"nodeSelector (\S+=\S*) matches none")


def findings_in(document: Any) -> list[dict[str, Any]]:
    """The findings of ``check -o json`` output: one cluster, or several (``clusters``)."""
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("clusters"), list):
        return [f for c in document["clusters"] if isinstance(c, dict) for f in findings_in(c)]
    found = document.get("findings")
    if isinstance(found, list):
        return [f for f in found if isinstance(f, dict)]
    if "check" in document and "resource" in document:
        return [document]  # a single finding object
    return []


def runbook_of(finding: Mapping[str, Any]) -> str:
    """The runbook id a finding links to."""
    return str((finding.get("runbook") or {}).get("id") or finding.get("check") or "")


def finding_line(finding: Mapping[str, Any], *, message: bool = True) -> str:
    """One line: severity, check/cause, resource (and the message)."""
    res = finding.get("resource") or {}
    where = f"{res.get('namespace')}/" if res.get("namespace") else ""
    line = (
        f"{finding.get('severity', '?')} {finding.get('check')}/{finding.get('cause')} "
        f"{res.get('kind')}/{where}{res.get('name')}"
    )
    return f"{line}: {finding.get('message', '')}" if message else line


def params_from_finding(finding: Mapping[str, Any]) -> dict[str, str]:
    """Parameters a finding names: its resource, its parent, what caused it, what it waits
    on, what it blocks; then the image, registry and container its evidence names.

    The first object of each kind wins, so the resource's own name is never overwritten by an
    affected pod's.
    """
    out: dict[str, str] = {}
    refs: list[Any] = [finding.get("resource"), finding.get("parent")]
    refs += [c.get("resource") for c in finding.get("caused_by") or [] if isinstance(c, dict)]
    refs += list(finding.get("depends_on") or []) + list(finding.get("affected") or [])
    for ref in refs:
        if not isinstance(ref, dict) or not ref.get("name"):
            continue
        kind = str(ref.get("kind"))
        for param in KIND_PARAMS.get(kind, ()):
            out.setdefault(param, str(ref["name"]))
        if kind in WORKLOAD_KINDS and out.get("workload") == ref["name"]:
            out.setdefault("workload_kind", WORKLOAD_KINDS[kind])
        if ref.get("namespace"):
            out.setdefault("namespace", str(ref["namespace"]))
    texts = [str(finding.get("message") or ""), *map(str, finding.get("evidence") or [])]
    for pattern in (_CONTAINER_NAMED, _CONTAINER):
        found = next((m for t in texts if (m := pattern.search(t))), None)
        if found and "container" not in out:
            out["container"] = found.group(1)
    for text in texts:
        if (m := _IMAGE.search(text)) and "image" not in out:
            out["image"] = m.group(1)
            out["registry"] = registry_of(m.group(1))
        if (m := _KEY.search(text)) and "key" not in out:
            out["key"] = m.group(1)
        if (m := _WEBHOOK_SERVICE.search(text)) and "webhook_service" not in out:
            out["webhook_namespace"], out["webhook_service"] = m.group(1), m.group(2)
        if (m := _POD.match(text)) and "pod" not in out:
            out["pod"] = m.group(1)
        if (m := _SELECTOR.search(text)) and "label" not in out:
            out["label"] = m.group(1)
    return out


def registry_of(image: str) -> str:
    """The registry host of an image reference, as the container runtime resolves it."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"
