"""secrets: the Secrets Logos needs exist, with the right type and key names.

Expected Secrets come from the config (``secrets:``, by default the production guide's
``logos-db-credentials``, ``logos-redis-credentials`` and ``regcred``) and from what the
workloads in scope reference (env ``secretKeyRef``, ``envFrom``, volumes, imagePullSecrets,
also a ServiceAccount's),
so a Secret that a chart renamed is caught too.  Only names, types and key names are ever
read: the fetcher has already replaced each Secret's data by its sorted key list
(``dataKeys``), and no finding quotes anything else of a Secret.

Findings here do not list the pods that use a Secret as ``affected``: the pods' own findings
(image-pull's pull-secret-missing) depend on the Secret, and that is the direction in which
the runner must link them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, name, namespace
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

# The kubelet reads pull credentials only from these types; any other type is ignored.
PULL_SECRET_TYPES = ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")
PULL = "\0pull"


@dataclass
class _Need:
    """What is required of one Secret: keys, type, and who requires it (for evidence)."""

    keys: dict[str, list[str]] = field(default_factory=dict)  # key -> users needing it
    type: str | None = None
    pull: bool = False  # named in imagePullSecrets: must be of a type the kubelet reads
    users: list[str] = field(default_factory=list)


def secrets(state: ClusterState, config: Config) -> Iterator[Finding]:
    """missing-secret, missing-key and wrong-type, one finding per Secret and cause."""
    needs = _needs(state, config)
    for (ns, secret_name), need in sorted(needs.items()):
        ref = ObjectRef("Secret", ns, secret_name)
        users = tuple(f"needed by {u}" for u in need.users[:6])
        secret = state.get("Secret", ns, secret_name)
        if secret is None:
            yield Finding(
                check="secrets",
                cause="missing-secret",
                severity=Severity.CRITICAL,
                resource=ref,
                message=f"Secret {secret_name} does not exist in namespace {ns}",
                evidence=users + _expected(need),
                remediation="Create it (kubectl create secret ...) with the keys listed; "
                "pods that reference it cannot start or pull until it exists.",
            )
            continue
        ref = ObjectRef.of("Secret", secret)
        present = set(secret.get("dataKeys") or [])
        absent = [k for k in need.keys if k not in present]
        if absent:
            yield Finding(
                check="secrets",
                cause="missing-key",
                severity=Severity.CRITICAL,
                resource=ref,
                message=f"Secret {secret_name} lacks key(s) {', '.join(absent)}",
                evidence=(
                    f"keys present: {', '.join(sorted(present)) or 'none'}",
                    *(f"{k} needed by {', '.join(need.keys[k][:4])}" for k in absent),
                ),
                remediation="Add the missing keys (kubectl patch or recreate the Secret), then "
                "restart the pods that read them: env values are read only at start.",
            )
        found_type = str(secret.get("type") or "Opaque")
        wanted = need.type or (PULL_SECRET_TYPES[0] if need.pull else "")
        accepted = (need.type,) if need.type else PULL_SECRET_TYPES if need.pull else ()
        if accepted and found_type not in accepted:
            unusable = wanted in PULL_SECRET_TYPES and found_type not in PULL_SECRET_TYPES
            yield Finding(
                check="secrets",
                cause="wrong-type",
                severity=Severity.CRITICAL if unusable else Severity.WARNING,
                resource=ref,
                message=f"Secret {secret_name} has type {found_type}, expected {wanted}"
                + ("; the kubelet ignores it as a pull secret" if unusable else ""),
                evidence=users,
                remediation="A Secret's type is immutable: delete and recreate it with the "
                f"right type (for a pull secret: kubectl create secret docker-registry "
                f"{secret_name} ...).",
            )


def _expected(need: _Need) -> tuple[str, ...]:
    keys = f"keys {', '.join(sorted(need.keys))}" if need.keys else "no particular keys"
    return (f"expected: {keys}" + (f", type {need.type}" if need.type else ""),)


def _needs(state: ClusterState, config: Config) -> dict[tuple[str, str], _Need]:
    """Every Secret required in scope: configured ones plus those workloads reference."""
    needs: dict[tuple[str, str], _Need] = {}
    for ns in state.scope.namespaces or (config.namespace,):
        for spec in config.secrets:
            need = needs.setdefault((ns, spec.name), _Need())
            need.type = spec.type
            need.users.append("logos-doctor config")
            for key in spec.keys:
                need.keys.setdefault(key, []).append("config")
    sources = [
        (kind, obj, (obj.get("spec") or {}).get("template", {}).get("spec") or {})
        for kind, plural in (("Deployment", "deployments"), ("StatefulSet", "statefulsets"))
        if state.has(plural)
        for obj in state.in_scope(plural)
    ]
    if state.has("pods"):  # pods no template above covers (bare pods, Jobs, DaemonSets)
        sources += [
            ("Pod", p, p.get("spec") or {})
            for p in state.in_scope("pods")
            if _owner_kind(state, p) not in ("Deployment", "StatefulSet")
        ]
    if state.has("serviceaccounts"):  # pull secrets that admission copies into new pods
        sources += [
            ("ServiceAccount", sa, {"imagePullSecrets": sa.get("imagePullSecrets")})
            for sa in state.in_scope("serviceaccounts")
        ]
    for kind, obj, pod_spec in sources:
        user = f"{kind} {name(obj)}"
        for secret_name, wanted_key in _references(pod_spec):
            need = needs.setdefault((namespace(obj) or "", secret_name), _Need())
            need.pull = need.pull or wanted_key == PULL
            if user not in need.users:
                need.users.append(user)
            if wanted_key and wanted_key != PULL:
                need.keys.setdefault(wanted_key, []).append(user)
    return needs


def _owner_kind(state: ClusterState, pod: Obj) -> str | None:
    owner = state.workload_of(pod)
    return owner.kind if owner else None


def _references(pod_spec: Obj) -> Iterator[tuple[str, str | None]]:
    """``(secret, key or None)`` for each non-optional Secret reference of a pod spec.

    A pull secret is marked with the key ``PULL``: it needs a type, not a key.
    """
    for ref in pod_spec.get("imagePullSecrets") or []:
        if ref.get("name"):
            yield ref["name"], PULL
    for vol in pod_spec.get("volumes") or []:
        sec = vol.get("secret") or {}
        if sec.get("secretName") and not sec.get("optional"):
            yield sec["secretName"], None
            for item in sec.get("items") or []:
                yield sec["secretName"], item.get("key")
    containers = [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]
    for c in containers:
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") and not ref.get("optional"):
                yield ref["name"], ref.get("key")
        for src in c.get("envFrom") or []:
            ref = src.get("secretRef") or {}
            if ref.get("name") and not ref.get("optional"):
                yield ref["name"], None


CHECK = Check(
    id="secrets",
    title="Required Secrets exist with the right type and keys (names only, never values)",
    severity=Severity.CRITICAL,
    kinds=("secrets",),
    optional_kinds=("deployments", "statefulsets", "replicasets", "pods", "serviceaccounts"),
    causes=("missing-secret", "missing-key", "wrong-type"),
    run=secrets,
)
