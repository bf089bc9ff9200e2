"""secrets: the Secrets Logos needs exist, with the right type and key names.

Expected Secrets come from the config (``secrets:``, by default the production guide's
``logos-db-credentials``, ``logos-redis-credentials`` and ``regcred``, expected where Logos
is deployed: the configured namespace, or namespaces holding the release), from what the
workloads in scope reference (env ``secretKeyRef``, ``envFrom``, volumes, imagePullSecrets,
also a ServiceAccount's), so a Secret that a chart renamed is caught too, and from what the
kubelet says it could not find.  Only names, types and key names are ever read: the fetcher
has already replaced each Secret's data by its sorted key list (``dataKeys``), and no finding
quotes anything else of a Secret.

A missing Secret or key is the root cause of the pods that cannot start because of it, and
of what they block above them: the finding's ``affected`` lists those pods and their
controllers (ReplicaSet, Deployment, StatefulSet), so that the runner hangs the Deployment's
"0/3 available", the Service's "no ready endpoints" and the containers check's
CreateContainerConfigError on that pod under it.  Which pods "cannot start" is read from the
kubelet's own words, in every shape it writes them:

- ``state.waiting.reason: CreateContainerConfigError`` with the message, and the event
  ``Failed`` ``Error: <message>`` (pkg/kubelet/kuberuntime/kuberuntime_container.go,
  ``startContainer``), where the message for a Secret is
  ``secret "NAME" not found`` (the kubelet's secret manager, pkg/kubelet/secret/
  secret_manager.go, returns ``apierrors.NewNotFound(corev1.Resource("secret"), name)``;
  kubelets that read through the API directly wrote ``secrets "NAME" not found``) or
  ``couldn't find key KEY in Secret NS/NAME`` (pkg/kubelet/kubelet_pods.go,
  ``makeEnvironmentVariables``); the ConfigMap forms (``configmap "NAME" not found``,
  ``couldn't find key KEY in ConfigMap NS/NAME``) belong to the containers check;
- ``FailedMount`` ``MountVolume.SetUp failed for volume "VOL" : secret "NAME" not found``
  or ``... : references non-existent secret key: KEY`` (pkg/volume/secret/secret.go, the
  prefix from pkg/volume/util/operationexecutor/operation_generator.go);
- failing all of those (events expire after an hour), a pod that references the missing
  Secret or key and whose container still waits in ``CreateContainerConfigError`` (an env
  reference) or ``ContainerCreating`` (a volume).

Pull secrets are the exception: a pod whose pull secret is missing is the image-pull
check's finding, which depends on the Secret; that link goes the other way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, mapping, mappings, name, namespace
from logos_doctor.pods import containers_of, controllers, live_pods
from logos_doctor.registry import Check
from logos_doctor.release import logos_namespaces
from logos_doctor.state import ClusterState

CAUSES = Causes(
    "secrets",
    Cause(
        "missing-secret",
        Severity.CRITICAL,
        "A Secret Logos needs does not exist",
        remediation=(
            "Create it (kubectl create secret ...) with the keys listed; "
            "pods that reference it cannot start or pull until it exists."
        ),
    ),
    Cause(
        "missing-key",
        Severity.CRITICAL,
        "A Secret lacks a key a workload or the config needs",
        remediation=(
            "Add the missing keys (kubectl patch or recreate the Secret), then "
            "restart the pods that read them: env values are read only at start."
        ),
    ),
    Cause(
        "wrong-type",
        Severity.CRITICAL,
        "A Secret has another type than expected",
        remediation=(
            "A Secret's type is immutable: delete and recreate it with the right type (for "
            "a pull secret: kubectl create secret docker-registry {secret} ...)."
        ),
    ),
)

# The kubelet reads pull credentials only from these types; any other type is ignored.
PULL_SECRET_TYPES = ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")
PULL = "\0pull"

# The kubelet's messages, matched whole (names are captured, never classified on).
# kuberuntime_container.go prefixes the event with "Error: "; the waiting message is bare.
_NOT_FOUND = re.compile(r'^(?:Error: )?secrets? "(?P<name>[^"]+)" not found$')
_NO_KEY = re.compile(
    r"^(?:Error: )?[Cc]ouldn't find key (?P<key>\S+) in Secret (?P<ns>[^/\s]+)/(?P<name>\S+)$"
)
_MOUNT = re.compile(r'^MountVolume\.SetUp failed for volume "(?P<volume>[^"]+)" : (?P<error>.+)$')
_VOLUME_KEY = re.compile(r"^references non-existent secret key: (?P<key>\S+)$")
# A pod whose container waits for one of these is not (yet) started.
_NOT_STARTED = frozenset({"CreateContainerConfigError", "ContainerCreating"})


@dataclass
class _Need:
    """What is required of one Secret: keys, type, and who requires it (for evidence)."""

    keys: dict[str, list[str]] = field(default_factory=dict)  # key -> users needing it
    type: str | None = None
    pull: bool = False  # named in imagePullSecrets: must be of a type the kubelet reads
    users: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Block:
    """The kubelet's word that a pod cannot start for want of a Secret (or one key)."""

    pod: Obj
    secret: str
    key: str | None
    line: str


def secrets(state: ClusterState, config: Config) -> Iterator[Finding]:
    """missing-secret, missing-key and wrong-type, one finding per Secret and cause."""
    waiting = _not_started(state)
    blocks = _kubelet_blocks(state, waiting)
    needs = _needs(state, config, blocks)
    for (ns, secret_name), need in sorted(needs.items()):
        ref = ObjectRef("Secret", ns, secret_name)
        users = tuple(f"needed by {u}" for u in need.users[:6])
        secret = state.get("Secret", ns, secret_name)
        if secret is None:
            stuck = _stuck(waiting, ns, secret_name, None, blocks)
            yield CAUSES["missing-secret"].finding(
                resource=ref,
                message=f"Secret {secret_name} does not exist in namespace {ns}"
                + _cannot_start(stuck),
                evidence=users + _expected(need) + _lines(stuck),
                affected=_affected(state, stuck),
            )
            continue
        ref = ObjectRef.of("Secret", secret)
        present = set(secret.get("dataKeys") or [])
        absent = [k for k in need.keys if k not in present]
        if absent:
            stuck = _stuck(waiting, ns, secret_name, set(absent), blocks)
            yield CAUSES["missing-key"].finding(
                resource=ref,
                message=f"Secret {secret_name} lacks key(s) {', '.join(absent)}"
                + _cannot_start(stuck),
                evidence=(
                    f"keys present: {', '.join(sorted(present)) or 'none'}",
                    *(f"{k} needed by {', '.join(need.keys[k][:4])}" for k in absent),
                    *_lines(stuck),
                ),
                affected=_affected(state, stuck),
            )
        found_type = str(secret.get("type") or "Opaque")
        wanted = need.type or (PULL_SECRET_TYPES[0] if need.pull else "")
        accepted = (need.type,) if need.type else PULL_SECRET_TYPES if need.pull else ()
        if accepted and found_type not in accepted:
            unusable = wanted in PULL_SECRET_TYPES and found_type not in PULL_SECRET_TYPES
            yield CAUSES["wrong-type"].finding(
                resource=ref,
                message=f"Secret {secret_name} has type {found_type}, expected {wanted}"
                + ("; the kubelet ignores it as a pull secret" if unusable else ""),
                evidence=users,
                severity=Severity.CRITICAL if unusable else Severity.WARNING,
                secret=secret_name,
            )


def _cannot_start(stuck: list[_Block]) -> str:
    pods = {name(b.pod) for b in stuck}
    return f"; {len(pods)} pod(s) cannot start" if pods else ""


def _lines(stuck: list[_Block]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(b.line for b in stuck))[:4]


def _affected(state: ClusterState, stuck: list[_Block]) -> tuple[ObjectRef, ...]:
    """The pods that cannot start, then their controllers (ReplicaSet, Deployment ...)."""
    refs: dict[tuple[str, str | None, str], ObjectRef] = {}
    for b in stuck:
        for ref in (ObjectRef.of("Pod", b.pod), *controllers(state, b.pod)):
            refs.setdefault((ref.kind, ref.namespace, ref.name), ref)
    return tuple(refs.values())


# Per pod that has not started: its containers waiting where a missing Secret keeps them.
_Waiting = dict[str, list[tuple[Obj, set[tuple[str, str]]]]]


def _not_started(state: ClusterState) -> _Waiting:
    """Pods in scope, by namespace, with the containers waiting to be created or started."""
    out: _Waiting = {}
    if not state.has("pods"):
        return out
    for pod in live_pods(state):
        waiting = {
            (cs.name, cs.waiting_reason)
            for cs in containers_of(state, pod)
            if cs.waiting_reason in _NOT_STARTED
        }
        ns = namespace(pod)
        if waiting and ns:  # not a pod that started since: older events no longer hold
            out.setdefault(ns, []).append((pod, waiting))
    return out


def _stuck(
    waiting: _Waiting, ns: str, secret: str, keys: set[str] | None, blocks: list[_Block]
) -> list[_Block]:
    """Pods that cannot start for want of this Secret (``keys``: of these keys of it).

    The kubelet's word first; a pod it said nothing about (events expired) counts when it
    references what is missing and its container still waits where that failure keeps it.
    """
    out = [
        b
        for b in blocks
        if b.secret == secret
        and namespace(b.pod) == ns
        and (keys is None or b.key is None or b.key in keys)
    ]
    told = {name(b.pod) for b in out}
    for pod, containers in waiting.get(ns, ()):
        if name(pod) in told:
            continue
        for ref_name, key, where in _pod_references(mapping(pod.get("spec"))):
            if ref_name != secret or key == PULL:
                continue
            if keys is not None and (key is None or key not in keys):
                continue
            reason = "ContainerCreating" if where == "volume" else "CreateContainerConfigError"
            stalled = sorted(c for c, r in containers if r == reason)
            if stalled:
                what = f"Secret {secret}" + (f" key {key}" if key else "")
                out.append(
                    _Block(
                        pod,
                        secret,
                        key,
                        f"pod {name(pod)}: container {stalled[0]} waits in {reason} "
                        f"and references {what}",
                    )
                )
                break
    return out


def _kubelet_blocks(state: ClusterState, waiting: _Waiting) -> list[_Block]:
    """What the kubelet said about pods that cannot start for want of a Secret or key."""
    out: list[_Block] = []
    for ns, pods in waiting.items():
        for pod, _ in pods:
            out += _pod_blocks(state, ns, pod)
    return out


def _pod_blocks(state: ClusterState, ns: str, pod: Obj) -> list[_Block]:
    out: list[_Block] = []
    seen: set[tuple[str, str | None]] = set()
    for cs in containers_of(state, pod):
        if cs.waiting_reason != "CreateContainerConfigError":
            continue
        found = _parse_env(cs.waiting_message, ns)
        if found and found not in seen:
            seen.add(found)
            out.append(
                _Block(
                    pod,
                    *found,
                    f"pod {name(pod)}: container {cs.name} CreateContainerConfigError: "
                    f"{cs.waiting_message}",
                )
            )
    volumes = {
        str(v.get("name")): str(mapping(v.get("secret")).get("secretName"))
        for v in mappings(mapping(pod.get("spec")).get("volumes"))
        if mapping(v.get("secret")).get("secretName")
    }
    for ev in state.events_for("Pod", pod):
        found = None
        if ev.reason == "Failed" and ev.message.startswith("Error: "):
            found = _parse_env(ev.message, ns)
        elif ev.reason == "FailedMount":
            found = _parse_mount(ev.message, volumes)
        if found and found not in seen:
            seen.add(found)
            out.append(_Block(pod, *found, f"pod {name(pod)}: {ev.describe(state.now)}"))
    return out


def _parse_env(message: str, ns: str) -> tuple[str, str | None] | None:
    """``(secret, key or None)`` from a CreateContainerConfigError message about a Secret."""
    text = message.strip()
    if match := _NOT_FOUND.match(text):
        return match.group("name"), None
    if (match := _NO_KEY.match(text)) and match.group("ns") == ns:
        return match.group("name"), match.group("key")
    return None


def _parse_mount(message: str, volumes: dict[str, str]) -> tuple[str, str | None] | None:
    """``(secret, key or None)`` from a FailedMount message about a Secret volume."""
    match = _MOUNT.match(message.strip())
    if match is None:
        return None
    error, volume = match.group("error").strip(), match.group("volume")
    if found := _NOT_FOUND.match(error):
        return found.group("name"), None
    if (key := _VOLUME_KEY.match(error)) and volume in volumes:
        return volumes[volume], key.group("key")
    return None


def _expected(need: _Need) -> tuple[str, ...]:
    keys = f"keys {', '.join(sorted(need.keys))}" if need.keys else "no particular keys"
    return (f"expected: {keys}" + (f", type {need.type}" if need.type else ""),)


def _needs(
    state: ClusterState, config: Config, blocks: list[_Block]
) -> dict[tuple[str, str], _Need]:
    """Every Secret required in scope: configured ones, those workloads reference, and those
    the kubelet could not find for a pod (a pod of an older ReplicaSet may name another)."""
    needs: dict[tuple[str, str], _Need] = {}
    # The configured Secrets are the Logos release's: they are expected where Logos is
    # deployed (logos_namespaces), not in whatever namespace the run looks at.
    for ns in logos_namespaces(state, config):
        for spec in config.secrets:
            need = needs.setdefault((ns, spec.name), _Need())
            need.type = spec.type
            need.users.append("logos-doctor config")
            for key in spec.keys:
                need.keys.setdefault(key, []).append("config")
    sources = [
        (kind, obj, mapping(mapping(mapping(obj.get("spec")).get("template")).get("spec")))
        for kind, plural in (("Deployment", "deployments"), ("StatefulSet", "statefulsets"))
        if state.has(plural)
        for obj in state.in_scope(plural)
    ]
    if state.has("pods"):  # pods no template above covers (bare pods, Jobs, DaemonSets)
        sources += [
            ("Pod", p, mapping(p.get("spec")))
            for p in state.in_scope("pods")
            if _owner_kind(state, p) not in ("Deployment", "StatefulSet")
        ]
    if state.has("serviceaccounts"):  # pull secrets that admission copies into new pods
        sources += [
            ("ServiceAccount", sa, {"imagePullSecrets": sa.get("imagePullSecrets")})
            for sa in state.in_scope("serviceaccounts")
        ]

    def add(user: str, ns: str, secret_name: str, wanted_key: str | None) -> None:
        need = needs.setdefault((ns, secret_name), _Need())
        need.pull = need.pull or wanted_key == PULL
        if user not in need.users:
            need.users.append(user)
        if wanted_key and wanted_key != PULL and user not in need.keys.get(wanted_key, ()):
            need.keys.setdefault(wanted_key, []).append(user)

    for kind, obj, pod_spec in sources:
        if not namespace(obj):
            continue  # a namespaced object without a namespace: nothing to look it up in
        for secret_name, ref_key in _references(pod_spec):
            add(f"{kind} {name(obj)}", namespace(obj) or "", secret_name, ref_key)
    for b in blocks:  # what no template names: a pod of an older revision, a bare pod
        pod_ns = namespace(b.pod) or ""
        known = needs.get((pod_ns, b.secret))
        if known is None or (b.key is not None and b.key not in known.keys):
            add(f"Pod {name(b.pod)} (kubelet)", pod_ns, b.secret, b.key)
    return needs


def _owner_kind(state: ClusterState, pod: Obj) -> str | None:
    owner = state.workload_of(pod)
    return owner.kind if owner else None


def _references(pod_spec: Obj) -> Iterator[tuple[str, str | None]]:
    """``(secret, key or None)`` for each non-optional Secret reference of a pod spec.

    A pull secret is marked with the key ``PULL``: it needs a type, not a key.
    """
    for secret_name, key, _ in _pod_references(pod_spec):
        yield secret_name, key


def _pod_references(pod_spec: Obj) -> Iterator[tuple[str, str | None, str]]:
    """``(secret, key or None, "pull" | "volume" | "env")`` per non-optional reference."""
    for ref in mappings(pod_spec.get("imagePullSecrets")):
        if ref.get("name"):
            yield str(ref["name"]), PULL, "pull"
    for vol in mappings(pod_spec.get("volumes")):
        sec = mapping(vol.get("secret"))
        if sec.get("secretName") and not sec.get("optional"):
            yield str(sec["secretName"]), None, "volume"
            for item in mappings(sec.get("items")):
                if item.get("key"):
                    yield str(sec["secretName"]), str(item["key"]), "volume"
    containers = [*mappings(pod_spec.get("initContainers")), *mappings(pod_spec.get("containers"))]
    for c in containers:
        for env in mappings(c.get("env")):
            ref = mapping(mapping(env.get("valueFrom")).get("secretKeyRef"))
            if ref.get("name") and not ref.get("optional"):
                key = ref.get("key")
                yield str(ref["name"]), str(key) if key else None, "env"
        for src in mappings(c.get("envFrom")):
            ref = mapping(src.get("secretRef"))
            if ref.get("name") and not ref.get("optional"):
                yield str(ref["name"]), None, "env"


CHECK = Check(
    id="secrets",
    title="Required Secrets exist with the right type and keys (names only, never values)",
    severity=Severity.CRITICAL,
    kinds=("secrets",),
    optional_kinds=(
        "deployments",
        "statefulsets",
        "replicasets",
        "pods",
        "serviceaccounts",
        "events",
    ),
    causes=CAUSES,
    run=secrets,
)
