"""Least-privilege RBAC for the selected checks (and, optionally, their fixes).

A diagnosis only ever LISTs the kinds its checks declare (``Check.kinds`` and
``optional_kinds``), so the role is derived from exactly those declarations and the
``kinds`` catalog: ``get``/``list``/``watch`` on each (``serve`` watches what it listed
once), nothing else.  Secrets appear only when a selected
check reads them.  ``/version`` needs no grant: every authenticated user may read it.

Cluster-scoped kinds (nodes, StorageClasses, ...) can only be granted by a ClusterRole; the
namespaced ones go into a Role in the checked namespace, or a ClusterRole when the tool looks
at every namespace.  The verbs a fix writes with live in separate ``-fix`` roles, always
namespaced except for what is cluster-scoped by nature (creating a StorageClass), so that
read access can be granted without write access and write access never spans namespaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from logos_doctor.cluster.kinds import KINDS
from logos_doctor.registry import Check

# watch: ``serve`` follows each kind with a watch after one LIST (cluster/watchcache.py).
READ_VERBS = ("get", "list", "watch")
_VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete")


@dataclass(frozen=True)
class Grant:
    """Some verbs on one resource of one API group."""

    group: str
    resource: str
    namespaced: bool
    verbs: tuple[str, ...]


def _lease() -> Grant:
    # `fix` holds a Lease per namespace so that two fixes never run at once.
    return Grant("coordination.k8s.io", "leases", True, ("get", "create", "update", "delete"))


def _storageclass_write() -> Grant:
    # Created when missing; deleted only by `fix storageclass --recreate` (parameters are
    # immutable, so recreating is the only way to correct them).
    return Grant("storage.k8s.io", "storageclasses", False, ("create", "delete"))


# What each fix (named by ``Check.fix``) writes.  `fix pvc` may run the storageclass fix first,
# then recreates a StatefulSet with orphan propagation and deletes the Pending claims and the
# Pending pods that mount them.
FIX_GRANTS: Mapping[str, tuple[Grant, ...]] = {
    "storageclass": (_storageclass_write(), _lease()),
    "pvc": (
        _storageclass_write(),
        Grant("apps", "statefulsets", True, ("get", "list", "create", "delete")),
        Grant("", "persistentvolumeclaims", True, ("delete",)),
        Grant("", "pods", True, ("delete",)),
        _lease(),
    ),
}


@dataclass(frozen=True)
class Subject:
    """The ServiceAccount the roles are bound to."""

    namespace: str
    name: str


@dataclass(frozen=True)
class RbacPlan:
    """The objects to apply, and what a reader of the YAML should know about them."""

    objects: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]


def read_grants(checks: Iterable[Check]) -> list[Grant]:
    """``get``/``list``/``watch`` on every kind the checks read, required or optional."""
    plurals = sorted({k for c in checks for k in (*c.kinds, *c.optional_kinds)})
    return [Grant(KINDS[p].group, p, KINDS[p].namespaced, READ_VERBS) for p in plurals]


def fix_grants(checks: Iterable[Check]) -> tuple[list[Grant], list[str]]:
    """The writes the checks' fixes need, and the fix names whose needs are unknown."""
    grants: list[Grant] = []
    unknown: list[str] = []
    for fix in sorted({c.fix for c in checks if c.fix}):
        if fix in FIX_GRANTS:
            grants.extend(FIX_GRANTS[fix])
        else:
            unknown.append(fix)
    return grants, unknown


def rules(grants: Iterable[Grant]) -> list[dict[str, Any]]:
    """PolicyRules: verbs merged per resource, resources with equal verbs merged per group."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for g in grants:
        verbs.setdefault((g.group, g.resource), set()).update(g.verbs)
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), vs in sorted(verbs.items()):
        ordered = tuple(v for v in _VERB_ORDER if v in vs) + tuple(sorted(vs - set(_VERB_ORDER)))
        merged.setdefault((group, ordered), []).append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(vs)}
        for (group, vs), resources in sorted(merged.items())
    ]


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if namespace is not None:
        md["namespace"] = namespace
    md["labels"] = {"app.kubernetes.io/name": "logos-doctor"}
    return md


def _role_and_binding(
    name: str, namespace: str | None, grants: Sequence[Grant], subject: Subject
) -> list[dict[str, Any]]:
    """A Role + RoleBinding in ``namespace``, or a ClusterRole + ClusterRoleBinding if None."""
    if not grants:
        return []
    role_kind = "Role" if namespace else "ClusterRole"
    binding_kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": role_kind,
            "metadata": _meta(name, namespace),
            "rules": rules(grants),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": binding_kind,
            "metadata": _meta(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
            "subjects": [
                {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace}
            ],
        },
    ]


def plan_rbac(
    checks: Sequence[Check],
    *,
    namespace: str,
    cluster_wide: bool,
    with_fix: bool,
    subject: Subject,
    prefix: str = "logos-doctor",
) -> RbacPlan:
    """The roles and bindings that let ``subject`` run ``checks`` (and their fixes).

    ``namespace`` is the namespace checked (ignored for reads when ``cluster_wide``) and the
    one fixes may write in: fixes act on one namespace at a time, so their Role never becomes
    a ClusterRole.
    """
    from logos_doctor.cluster.collect import LISTED_BEYOND

    reads = read_grants(checks)
    read_ns = None if cluster_wide else namespace
    # A kind a one-namespace run also lists in the configured monitoring namespace goes to
    # the ClusterRole: a Role there would need that namespace to exist when applied, and to
    # follow the config; ServiceMonitors hold no secret.
    wide = [g for g in reads if not g.namespaced or g.resource in LISTED_BEYOND]
    objects = [
        *_role_and_binding(f"{prefix}-cluster", None, wide, subject),
        *_role_and_binding(prefix, read_ns, [g for g in reads if g not in wide], subject),
    ]
    notes = [
        "checks: " + ", ".join(c.id for c in checks),
        "reads: " + ", ".join(g.resource for g in reads),
    ]
    if with_fix:
        writes, unknown = fix_grants(checks)
        objects += _role_and_binding(
            f"{prefix}-fix-cluster", None, [g for g in writes if not g.namespaced], subject
        )
        objects += _role_and_binding(
            f"{prefix}-fix", namespace, [g for g in writes if g.namespaced], subject
        )
        notes.append(f"fixes write in namespace {namespace} only")
        notes += [f"fix {f!r}: its needs are unknown to this version; not granted" for f in unknown]
    return RbacPlan(tuple(objects), tuple(notes))


def render_yaml(plan: RbacPlan) -> str:
    """The plan as a multi-document YAML stream, notes as leading comments."""
    head = "".join(f"# {note}\n" for note in plan.notes)
    docs = [yaml.safe_dump(obj, sort_keys=False, default_flow_style=False) for obj in plan.objects]
    return head + "---\n" + "---\n".join(docs)
