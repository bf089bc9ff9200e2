"""``check -l SELECTOR``: the report narrowed to the workloads with a label and what is around them.

The checks still run on the whole state (a quota, a node or a webhook is a cause whatever the
selector says); afterwards only these findings are kept:

- findings about a selected object: workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet,
  Job, CronJob) whose labels or pod-template labels match, pods they own or whose own labels
  match (and those pods' owners), the claims those pods mount or the StatefulSets' claim
  templates name, the Services that select those pods, the HPAs that scale those workloads;
- findings that name a selected object in ``affected`` (a node, a quota, a StorageClass that
  blocks a selected pod or claim): a cluster-scoped root cause of the selection stays;
- every finding that explains a kept one (its ``caused_by``, followed to the root).

The selector is kubectl's: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k``, ``!k``, joined by commas; matched by ``selectors.label_selector_matches``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from logos_doctor.errors import UsageError
from logos_doctor.finding import FindingKey
from logos_doctor.objects import ObjectRef, controller_of, labels_of, mapping, mappings, meta
from logos_doctor.runner import Report
from logos_doctor.selectors import equality_matches, label_selector_matches
from logos_doctor.state import ClusterState

Ident = tuple[str, str | None, str]

WORKLOADS = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
}
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(([^()]*)\)$")
_EQ = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")
HINT = "kubectl syntax, e.g. app=logos-chat,tier!=db,env in (prod,staging),!legacy"


def parse_selector(text: str) -> dict[str, Any]:
    """A kubectl label selector as a ``metav1.LabelSelector`` (``matchExpressions`` only)."""
    terms = [t.strip() for t in re.split(r",(?![^()]*\))", text)]
    if not text.strip() or any(not t for t in terms):
        raise UsageError(f"invalid selector {text!r}", HINT)
    expressions: list[dict[str, Any]] = []
    for term in terms:
        if m := _SET.match(term):
            values = [v.strip() for v in m.group(4).split(",")]
            if not all(re.fullmatch(_VALUE, v) for v in values):
                raise UsageError(f"invalid selector {text!r}: bad value in {term!r}", HINT)
            op = "In" if m.group(3) == "in" else "NotIn"
            expressions.append({"key": m.group(1), "operator": op, "values": values})
        elif m := _EQ.match(term):
            op = "NotIn" if m.group(3) == "!=" else "In"
            expressions.append({"key": m.group(1), "operator": op, "values": [m.group(4)]})
        elif m := _EXISTS.match(term):
            op = "DoesNotExist" if m.group(1) else "Exists"
            expressions.append({"key": m.group(2), "operator": op})
        else:
            raise UsageError(f"invalid selector {text!r}: cannot read {term!r}", HINT)
    return {"matchExpressions": expressions}


def _ident(kind: str, obj: Mapping[str, Any]) -> Ident:
    md = meta(dict(obj))
    return (kind, md.get("namespace"), str(md.get("name", "")))


def _ref_ident(ref: ObjectRef) -> Ident:
    return (ref.kind, ref.namespace, ref.name)


def _template_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    spec = mapping(obj.get("spec"))
    if "jobTemplate" in spec:  # a CronJob: its Job's pod template
        spec = mapping(mapping(spec.get("jobTemplate")).get("spec"))
    return labels_of({"metadata": mapping(mapping(spec.get("template")).get("metadata"))})


def selected_objects(state: ClusterState, text: str) -> set[Ident]:
    """The objects ``-l text`` selects, and the pods, claims, Services and HPAs around them."""
    selector = parse_selector(text)

    def matches(labels: Mapping[str, str]) -> bool:
        return label_selector_matches(selector, labels, empty_matches_all=True)

    chosen: set[Ident] = set()
    for plural, kind in WORKLOADS.items():
        for obj in state.objects.get(plural, ()):
            if matches(labels_of(obj)) or matches(_template_labels(obj)):
                chosen.add(_ident(kind, obj))
    for plural in ("replicasets", "jobs"):  # owned by a selected Deployment / CronJob
        for obj in state.objects.get(plural, ()):
            if _ref_ident(state.top_owner(WORKLOADS[plural], obj)) in chosen:
                chosen.add(_ident(WORKLOADS[plural], obj))
    pods = []
    for pod in state.objects.get("pods", ()):
        top = state.workload_of(pod)
        if matches(labels_of(pod)) or (top is not None and _ref_ident(top) in chosen):
            pods.append(pod)
            chosen.add(_ident("Pod", pod))
            chosen |= _owners(state, pod)
    for pod in pods:
        ns = meta(pod).get("namespace")
        for volume in mappings(mapping(pod.get("spec")).get("volumes")):
            claim = mapping(volume.get("persistentVolumeClaim")).get("claimName")
            if claim:
                chosen.add(("PersistentVolumeClaim", ns, str(claim)))
    chosen |= _template_claims(state, chosen)
    pod_labels = [(meta(p).get("namespace"), labels_of(p)) for p in pods]
    for svc in state.objects.get("services", ()):
        sel = mapping(mapping(svc.get("spec")).get("selector"))
        ns = meta(svc).get("namespace")
        if sel and any(n == ns and equality_matches(sel, labels) for n, labels in pod_labels):
            chosen.add(_ident("Service", svc))
    for hpa in state.objects.get("horizontalpodautoscalers", ()):
        target = mapping(mapping(hpa.get("spec")).get("scaleTargetRef"))
        ident = (str(target.get("kind", "")), meta(hpa).get("namespace"), str(target.get("name")))
        if ident in chosen:
            chosen.add(_ident("HorizontalPodAutoscaler", hpa))
    return chosen


def _owners(state: ClusterState, obj: dict[str, Any]) -> set[Ident]:
    found: set[Ident] = set()
    current = obj
    for _ in range(8):
        ref = controller_of(current)
        owner = state.owner(current, ref) if ref else None
        if owner is None:
            break
        found.add(_ident(*owner))
        current = owner[1]
    return found


def _template_claims(state: ClusterState, chosen: set[Ident]) -> set[Ident]:
    """Claims a selected StatefulSet's templates name (``<template>-<set>-<ordinal>``), pods
    or not: a claim that never bound may have no pod mounting it yet."""
    prefixes: set[tuple[str | None, str]] = set()
    for sts in state.objects.get("statefulsets", ()):
        if _ident("StatefulSet", sts) in chosen:
            for tmpl in mappings(mapping(sts.get("spec")).get("volumeClaimTemplates")):
                name = meta(tmpl).get("name")
                prefixes.add((meta(sts).get("namespace"), f"{name}-{meta(sts).get('name')}-"))
    found: set[Ident] = set()
    for pvc in state.objects.get("persistentvolumeclaims", ()):
        ns, name = meta(pvc).get("namespace"), str(meta(pvc).get("name", ""))
        if any(ns == p_ns and name.startswith(p) for p_ns, p in prefixes):
            found.add(("PersistentVolumeClaim", ns, name))
    return found


def restrict(report: Report, text: str) -> Report:
    """``report`` with only the findings ``-l text`` keeps (see the module docstring)."""
    keep = selected_objects(report.state, text)

    def about(refs: Iterable[ObjectRef | None]) -> bool:
        return any(r is not None and _ref_ident(r) in keep for r in refs)

    by_key = {f.key: f for f in report.findings}
    kept: set[FindingKey] = {
        f.key for f in report.findings if about((f.resource, f.parent, *f.affected))
    }
    todo = list(kept)
    while todo:
        for cause in by_key[todo.pop()].caused_by:
            if cause in by_key and cause not in kept:
                kept.add(cause)
                todo.append(cause)
    return replace(report, findings=tuple(f for f in report.findings if f.key in kept))
