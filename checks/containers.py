"""containers: what the kubelet says on a pod's way to Running, read as a cause.

Every pattern below is the kubelet's own wording in k8s.io/kubernetes v1.37.2 (file named
next to it), matched on the structure of the message, never on object names: a ConfigMap
called ``readiness-probe-failed`` is only ever read out of the quoted name slot.

Findings are about the Pod (parent: its workload), like image-pull's, and list the pod and
its owners in ``affected``: a Deployment's "unavailable replicas", a Service's "pods not
ready" and workloads' crash-loop on the same pod then hang from this finding.  What the pod
needs (the ConfigMap, the Secret, the claim, the node) is in ``depends_on``, so that a missing
Secret links under the secrets check's finding and an eviction under the node's pressure.
Probe causes are not reported on a node that is down: its pods are unready because the node
is, and the nodes check says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.events import Event, evidence
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, age, mapping, mappings, name, namespace, parse_time
from logos_doctor.pods import condition, condition_said, is_ready, is_terminating, phase
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

from .nodes import node_down, owner_chain, serving_workloads

# --- the kubelet's words ---------------------------------------------------------------------
# pkg/kubelet/util/manager/watch_based_manager.go: apierrors.NewNotFound(groupResource, name),
# groupResource "configmap" (pkg/kubelet/configmap/configmap_manager.go) or "secret"
# (pkg/kubelet/secret/secret_manager.go): the message is `configmap "x" not found`.
NOT_FOUND = re.compile(r'^(?P<what>configmap|secret) "(?P<name>[^"]+)" not found$')
# pkg/kubelet/kubelet_pods.go makeEnvironmentVariables:
# "couldn't find key %v in ConfigMap %v/%v" / "couldn't find key %v in Secret %v/%v".
NO_KEY = re.compile(
    r"^couldn't find key (?P<key>.+) in (?P<what>ConfigMap|Secret) [^/\s]+/(?P<name>\S+)$"
)
# pkg/volume/configmap/configmap.go and pkg/volume/secret/secret.go (items naming a key):
# "configmap references non-existent config key: %s", "references non-existent secret key: %s".
NO_VOLUME_KEY = re.compile(
    r"^(?:configmap )?references non-existent (?P<what>config|secret) key: (?P<key>.+)$"
)
# pkg/volume/util/operationexecutor/operation_generator.go GenerateError(prefix, err) ->
# operation_executor.go generateVolumeMsg: `<prefix> for volume "<spec name>" : <err>`.
VOLUME_OP = re.compile(
    r'^(?P<op>(?:Mount|Map)Volume\.[\w ]+?) for volume "(?P<volume>[^"]*)" : (?P<err>.*)$', re.S
)
# pkg/kubelet/kubelet.go + volumemanager/volume_manager.go WaitForAttachAndMount:
# "Unable to attach or mount volumes: unmounted volumes=%v, unattached volumes=%v, failed to
# process volumes=%v: %w"; the error is "context deadline exceeded" in 1.37, "timed out
# waiting for the condition" before the wait package's context rewrite.
UNABLE = re.compile(
    r"^Unable to attach or mount volumes: unmounted volumes=\[(?P<unmounted>[^\]]*)\], "
    r"unattached volumes=\[(?P<unattached>[^\]]*)\](?:, failed to process volumes=\[[^\]]*\])?: "
    r"(?P<err>.*)$",
    re.S,
)
# pkg/kubelet/volumemanager/populator/desired_state_of_world_populator.go: "error processing
# PVC %s/%s: %v" with the API server's `persistentvolumeclaims "x" not found`.
CLAIM_GONE = re.compile(
    r"error processing PVC (?P<ns>[^/\s]+)/(?P<name>\S+): "
    r'.*persistentvolumeclaims? "[^"]+" not found'
)
# pkg/controller/volume/attachdetach/reconciler/reconciler.go reportMultiAttachError, written
# by the attach/detach controller (kube-controller-manager), not the kubelet: v1.37.2 says
# `Waiting for detach for volume "X" Volume is already exclusively attached to one node, ...`
# or `... Volume is already used by pod(s) a, b`; releases before it said `Multi-Attach error
# for volume "X" Volume is already exclusively attached to one node and can't be attached to
# another` (and `... used by pod(s) ...`).
MULTI_ATTACH = re.compile(
    r'^(?:Multi-Attach error|Waiting for detach) for volume "(?P<volume>[^"]*)" '
    r"Volume is already (?P<rest>.*)$",
    re.S,
)
USED_BY = re.compile(r"used by pod\(s\) (?P<pods>[^\s,]+(?:, [^\s,]+)*)")
# pkg/kubelet/prober/prober.go probe() with prober_manager.go probeType.String():
# "%s probe failed: %s" and "%s probe errored and resulted in %s state: %s" (older kubelets:
# "%s probe errored: %v"); event reason Unhealthy (pkg/kubelet/events/event.go).
PROBE = re.compile(
    r"^(?P<kind>Readiness|Liveness|Startup) probe "
    r"(?:failed: (?P<out>.*)|errored(?: and resulted in \w+ state)?: (?P<err>.*))$",
    re.S,
)
# pkg/kubelet/kuberuntime/kuberuntime_manager.go computePodActions, event reason Killing:
# "Container %s failed liveness probe, will be restarted" (startup: "failed startup probe").
KILLED = re.compile(r"^Container (?P<c>\S+) failed (?P<kind>liveness|startup) probe")
# pkg/kubelet/eviction/helpers.go: "The node was low on resource: %v. " + "Threshold quantity:
# %v, available: %v. " + "Container %s was using %s, request is %s, has larger consumption of
# %v. "; admission refusal: "The node had condition: %v. ".  status.reason is "Evicted".
LOW = re.compile(r"The node was low on resource: (?P<res>[\w./-]+)\.")
THRESHOLD = re.compile(r"Threshold quantity: (?P<q>[^,]+), available: (?P<a>\S+?)\.(?:\s|$)")
USING = re.compile(r"Container (?P<c>\S+) was using (?P<use>\S+), request is (?P<req>\S+),")
HAD = re.compile(r"The node had condition: \[(?P<conds>[^\]]*)\]")
# pkg/kubelet/eviction/helpers.go signalToNodeCondition / signalToResource, inverted.
RESOURCE_CONDITION = {
    "memory": "MemoryPressure",
    "ephemeral-storage": "DiskPressure",
    "inodes": "DiskPressure",
    "pids": "PIDPressure",
}
FIELD_PATH = re.compile(
    r"^spec\.(?:initContainers|containers|ephemeralContainers)\{(?P<c>[^}]*)\}$"
)

# pkg/kubelet/status/generate.go GeneratePodReadyCondition: once every container is ready,
# a pod whose readiness gates are not all True gets Ready=False, reason
# ReadinessGatesNotReady, and per gate (joined by ", ") `corresponding condition of pod
# readiness gate "T" does not exist.` or `the status of pod readiness gate "T" is not
# "True", but False`.  The gate's own condition (type T) is written by whatever controller
# owns it, with its reason and message; this check reads spec.readinessGates and that
# condition, and quotes the kubelet's Ready line as evidence.
# Who writes a gate's condition, by the condition type's prefix: the type is an API contract
# of that controller, not a name a user chose.
# - AWS Load Balancer Controller (kubernetes-sigs/aws-load-balancer-controller
#   pkg/targetgroupbinding/resource_manager.go): "target-health.elbv2.k8s.aws/<binding>",
#   injected by its webhook in namespaces labelled elbv2.k8s.aws/pod-readiness-gate-inject;
#   reason and message are the target group's health (Target.ResponseCodeMismatch, "Health
#   checks failed with these codes: [404]"; Elb.RegistrationInProgress while registering).
# - its predecessor, the ALB ingress controller: "target-health.alb.ingress.kubernetes.io/".
# - GKE's NEG controller: "cloud.google.com/load-balancer-neg-ready" (event
#   LoadBalancerNegReady from neg-readiness-reflector when it turns True).
GATE_OWNERS: tuple[tuple[str, str], ...] = (
    (
        "target-health.elbv2.k8s.aws/",
        "the AWS Load Balancer Controller, for TargetGroupBinding {rest} (its target's health "
        "in the target group)",
    ),
    (
        "target-health.alb.ingress.kubernetes.io/",
        "the AWS ALB ingress controller, for {rest} (its target's health in the target group)",
    ),
    (
        "cloud.google.com/load-balancer-neg-ready",
        "GKE's NEG controller (the pod's health in its network endpoint group)",
    ),
)

# A failing probe seen this recently is current; older Unhealthy events describe the past.
RECENT = timedelta(hours=1)
# Killed twice or more, the last time this recently: a restart loop, going on now.
LOOP = timedelta(minutes=10)
# Not ready this long with a readiness probe and no event left to quote: still failing.
GRACE = timedelta(minutes=2)
# A gate not True this long is failing, not registering: a load balancer registers a new
# target and health-checks it (an ALB: 5 checks 15 s apart by default) within minutes.
GATE_GRACE = timedelta(minutes=5)
# An init container running this long is stuck (a warning), this long an outage.
INIT_SLOW, INIT_STUCK = timedelta(minutes=2), timedelta(minutes=10)

CAUSES = Causes(
    "containers",
    Cause(
        "config-missing",
        Severity.CRITICAL,
        "A container cannot start: a ConfigMap or key it reads is missing",
        remediation=(
            "Create ConfigMap {configmap} in {namespace}{with_key}, or fix the reference in "
            "the workload (or mark it optional: true); the kubelet retries on its own."
        ),
    ),
    Cause(
        "secret-missing",
        Severity.CRITICAL,
        "A container cannot start: a Secret or key it reads is missing",
        remediation=(
            "Create Secret {secret} in {namespace}{with_key} (see the secrets finding); the "
            "kubelet retries on its own."
        ),
    ),
    Cause(
        "container-config-error",
        Severity.CRITICAL,
        "The kubelet cannot build the container's configuration",
        remediation=(
            "Fix what the kubelet's message names in the pod template (security context, "
            "subPath, environment); the kubelet retries on its own."
        ),
    ),
    Cause(
        "mount-failed",
        Severity.CRITICAL,
        "A volume cannot be mounted: the pod stays ContainerCreating",
        remediation=(
            "Fix what the mount error names for volume {volume}: create the missing "
            "ConfigMap, or check the claim, its VolumeAttachment and the CSI driver's node "
            "pod on {node} ('kubectl describe pod {pod} -n {namespace}', the driver's log)."
        ),
    ),
    Cause(
        "multi-attach",
        Severity.CRITICAL,
        "A ReadWriteOnce volume is still attached to another node",
        remediation=(
            "Volume {volume} is attached to {holder}: delete the old pod still using it, or "
            "if that node is gone, wait for the attach/detach controller's 6-minute "
            "force-detach (or delete its VolumeAttachment once the node is confirmed down). "
            "For a Deployment, use strategy Recreate for a ReadWriteOnce claim."
        ),
    ),
    Cause(
        "readiness-failing",
        Severity.CRITICAL,
        "The readiness probe fails: the pod receives no traffic",
        remediation=(
            "The probe ({probe}) answers: {output}. Check that the port and path match what "
            "the process serves and that its dependencies are up "
            "('kubectl logs {pod} -n {namespace} -c {container}'); widen "
            "timeoutSeconds/initialDelaySeconds only if the application is just slow."
        ),
    ),
    Cause(
        "readiness-gate-not-ready",
        Severity.CRITICAL,
        "The containers are ready but a readiness gate is not: the pod receives no traffic",
        remediation=(
            "Readiness gate {gate} {gate_state}. Its condition is written by {owner}, not by "
            "the kubelet: check that the controller runs and what it says about this pod "
            "('kubectl describe pod {pod} -n {namespace}' lists the gates and conditions). "
            "Until it is True the pod stays out of its Services' endpoints and a rollout "
            "waits on it; remove the gate from the pod template only if nothing sets it."
        ),
    ),
    Cause(
        "liveness-restarts",
        Severity.CRITICAL,
        "The liveness probe fails and the kubelet restarts the container",
        remediation=(
            "The kubelet kills the container because its liveness probe ({probe}) fails: "
            "{output}. A wrong port or path, or a probe too strict for a slow start, "
            "restarts a healthy process ('kubectl logs {pod} -n {namespace} -c {container} "
            "--previous'); give it a startupProbe or a longer timeout, or fix what makes the "
            "process hang."
        ),
    ),
    Cause(
        "startup-probe-failing",
        Severity.CRITICAL,
        "The startup probe never passes: the container is restarted before it starts",
        remediation=(
            "The startup probe ({probe}) fails: {output}. Allow more time "
            "(failureThreshold x periodSeconds) if the application starts slowly, else fix "
            "the probe's port/path or the start itself "
            "('kubectl logs {pod} -n {namespace} -c {container} --previous')."
        ),
    ),
    Cause(
        "init-stuck",
        Severity.CRITICAL,
        "An init container does not finish: the pod never starts",
        remediation=(
            "Init container {container} ({command}) has been running for {running}: it is "
            "usually waiting for something (a database, a Service, a file). Read its log "
            "('kubectl logs {pod} -c {container} -n {namespace}') and fix what it waits for."
        ),
    ),
    Cause(
        "evicted",
        Severity.WARNING,
        "The kubelet evicted the pod: its node ran low on a resource",
        remediation=(
            "Node {node} ran low on {starved} ({condition}; 'kubectl describe node {node}'); "
            "the controller replaced the pod. Set requests close to real use (pods above "
            "their request are evicted first), add capacity, and delete the Failed pod once "
            "read."
        ),
    ),
)


@dataclass(frozen=True)
class _Seen:
    """A kubelet event about one container (None: about the pod)."""

    container: str | None
    event: Event


def containers(state: ClusterState, config: Config) -> Iterator[Finding]:
    """The kubelet's reasons: one finding per missing ConfigMap and cause, else per pod."""
    events = _pod_events(state)
    blocks: list[_Block] = []
    serving = serving_workloads(state)
    down: dict[str, bool] = {}
    for pod in state.in_scope("pods"):
        now = phase(pod)
        if now == "Failed":
            if mapping(pod.get("status")).get("reason") == "Evicted":
                yield _evicted(state, pod, events.get(_uid(pod), []), serving)
            continue
        if now == "Succeeded" or is_terminating(pod):
            continue
        seen = events.get(_uid(pod), [])
        if not seen and now == "Running" and _settled(pod):
            continue  # what each reader below would find of it: nothing (most pods)
        attach = list(_attach(state, pod, seen, serving))
        yield from attach
        # A volume held on another node also fails to mount after two minutes ("Unable to
        # attach or mount volumes ... unattached volumes=[...]"): the attach is the cause.
        blocks.extend(_config(state, pod, seen) if attach else _blocks(state, pod, seen))
        yield from _init(state, pod, serving)
        node = str(mapping(pod.get("spec")).get("nodeName") or "")
        if node not in down:  # once per node, not per pod
            down[node] = node_down(state.get("Node", None, node))
        if not down[node]:
            yield from _probes(state, pod, seen, serving)
            yield from _gates(state, pod, serving)
    yield from _report_blocks(state, blocks)


def _settled(pod: Obj) -> bool:
    """Whether a running pod, with none of the events read here, gives no reader of this
    check anything: no container waits in CreateContainerConfigError (``_config``), and none
    runs unready (``_probes``; ``_init`` reports only an init container that does).
    ``_attach`` and ``_mounts`` read only pending pods; ``_gates`` only an unready pod with
    readiness gates."""
    status = mapping(pod.get("status"))
    if mapping(pod.get("spec")).get("readinessGates") and not is_ready(pod):
        return False  # ``_gates``: its containers may all be ready
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in mappings(status.get(key)):
            if _running_unready(cs):
                return False
            waiting = mapping(mapping(cs.get("state")).get("waiting"))
            if waiting.get("reason") == "CreateContainerConfigError":
                return False
    return True


def _uid(obj: Obj) -> str:
    return str(mapping(obj.get("metadata")).get("uid") or "")


# The reasons this check reads of a pod's events, and no other.
_READ = frozenset(
    ("Failed", "FailedMount", "FailedAttachVolume", "Unhealthy", "Killing", "Evicted")
)


def _pod_events(state: ClusterState) -> dict[str, list[_Seen]]:
    """Pod events by pod uid, with the container each is about (from involvedObject.fieldPath,
    which the kubelet sets to ``spec.containers{name}`` for container events); only those
    of the reasons in ``_READ``."""
    out: defaultdict[str, list[_Seen]] = defaultdict(list)
    for raw, event in state.events_read(_READ):  # not Scheduled, Pulled ...: most events
        involved = mapping(raw.get("involvedObject") or raw.get("regarding"))
        if involved.get("kind") != "Pod" or not involved.get("uid"):
            continue
        match = FIELD_PATH.match(str(involved.get("fieldPath") or ""))
        out[str(involved["uid"])].append(_Seen(match.group("c") if match else None, event))
    return out


def _pod_finding(
    state: ClusterState,
    cause: str,
    pod: Obj,
    message: str,
    lines: list[str],
    depends_on: tuple[ObjectRef, ...] = (),
    severity: Severity | None = None,
    **facts: str,
) -> Finding:
    ref = ObjectRef.of("Pod", pod)
    return CAUSES[cause].finding(
        resource=ref,
        parent=state.workload_of(pod),
        message=message,
        evidence=tuple(dict.fromkeys(line[:300] for line in lines if line)),
        # The pod and its owners: a workload's, a Service's or a crash-loop finding about
        # them is explained by this one.
        affected=(ref, *owner_chain(state, pod)),
        depends_on=depends_on,
        severity=severity,
        namespace=namespace(pod) or "",
        pod=name(pod),
        **facts,
    )


# --- CreateContainerConfigError and FailedMount ---------------------------------------------


@dataclass(frozen=True)
class _Block:
    """One thing keeping one pod from starting, as the kubelet named it."""

    cause: str
    pod: Obj
    target: ObjectRef | None  # the ConfigMap, Secret or claim named, if any
    what: str  # "ConfigMap x does not exist", "volume data: <error>"
    lines: tuple[str, ...]
    key: str = ""
    volume: str = ""


def _blocks(state: ClusterState, pod: Obj, seen: list[_Seen]) -> Iterator[_Block]:
    yield from _config(state, pod, seen)
    yield from _mounts(state, pod, seen)


def _report_blocks(state: ClusterState, blocks: list[_Block]) -> Iterator[Finding]:
    """A missing ConfigMap is reported once, on the ConfigMap, with every pod it keeps from
    starting as affected: it is the root cause, and a missing Secret's finding (which lists
    the same pods) must not hide it.  Everything else is reported on the pod."""
    by_configmap: dict[tuple[str, ObjectRef], list[_Block]] = {}
    per_pod: dict[tuple[str, str], list[_Block]] = {}
    for b in blocks:
        if b.target is not None and b.target.kind == "ConfigMap":
            by_configmap.setdefault((b.cause, b.target), []).append(b)
        else:
            per_pod.setdefault((b.cause, _uid(b.pod)), []).append(b)
    for (cause, ref), found in by_configmap.items():
        yield _configmap_finding(state, cause, ref, found)
    for (cause, _), found in per_pod.items():
        first = found[0]
        depends = tuple(dict.fromkeys(b.target for b in found if b.target is not None))
        what = "; ".join(dict.fromkeys(b.what for b in found))
        doing = "cannot start" if cause != "mount-failed" else "cannot mount its volumes"
        yield _pod_finding(
            state,
            cause,
            first.pod,
            f"pod {name(first.pod)} {doing}: {what[:300]}",
            [line for b in found for line in b.lines],
            depends_on=depends,
            secret=first.target.name if first.target else "",
            with_key=f" with key {first.key}" if first.key else "",
            volume=", ".join(dict.fromkeys(b.volume for b in found if b.volume)) or "?",
            node=str(mapping(first.pod.get("spec")).get("nodeName") or "?"),
        )


def _configmap_finding(
    state: ClusterState, cause: str, ref: ObjectRef, found: list[_Block]
) -> Finding:
    pods = list({_uid(b.pod): b.pod for b in found}.values())
    owners = {state.workload_of(p) for p in pods}
    parent = owners.pop() if len(owners) == 1 else None
    first = found[0]
    whose = f" of {parent.kind} {parent.name}" if parent else ""
    how = (
        "cannot start (CreateContainerConfigError)"
        if cause == "config-missing"
        else f"cannot mount volume {first.volume} (FailedMount)"
    )
    affected: dict[ObjectRef, None] = {}
    for pod in pods:
        affected[ObjectRef.of("Pod", pod)] = None
        affected.update(dict.fromkeys(owner_chain(state, pod)))
    lines = [line for b in found for line in b.lines]
    if state.has("configmaps"):
        lines.append(_configmap_now(state, ref, first.key))
    return CAUSES[cause].finding(
        resource=ref,
        parent=parent,
        message=f"{first.what}: {len(pods)} pod(s){whose} {how}",
        evidence=tuple(dict.fromkeys(line[:300] for line in lines if line)),
        affected=tuple(affected),
        configmap=ref.name,
        namespace=ref.namespace or "",
        pod=name(first.pod),
        with_key=f" with key {first.key}" if first.key else "",
        volume=first.volume or "?",
        node=str(mapping(first.pod.get("spec")).get("nodeName") or "?"),
    )


def _config(state: ClusterState, pod: Obj, seen: list[_Seen]) -> Iterator[_Block]:
    """Containers waiting in CreateContainerConfigError, with what the kubelet said."""
    ns = namespace(pod) or ""
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in mappings(mapping(pod.get("status")).get(key)):
            waiting = mapping(mapping(cs.get("state")).get("waiting"))
            if waiting.get("reason") != "CreateContainerConfigError":
                continue
            container, text = str(cs.get("name")), str(waiting.get("message") or "")
            # The kubelet's Failed event says "Error: <the same message>"
            # (kuberuntime_container.go startContainer); it survives a status without one.
            events = [
                s.event for s in seen if s.container == container and s.event.reason == "Failed"
            ]
            if not text and events:
                text = max(events, key=_last).message.removeprefix("Error: ")
            cause, ref, missing = _config_cause(ns, text)
            what = f"{ref.kind} {ref.name}" if ref else text
            what += (f" has no key {missing}" if missing else " does not exist") if ref else ""
            lines = (
                f"pod {name(pod)}: container {container}: {text}",
                *evidence(events, state.now, limit=1),
            )
            yield _Block(cause, pod, ref, what, lines, key=missing)


def _config_cause(ns: str, text: str) -> tuple[str, ObjectRef | None, str]:
    """(cause, the ConfigMap or Secret named, the missing key) of a CreateContainerConfigError."""
    found = NOT_FOUND.match(text) or NO_KEY.match(text)
    if not found:
        return "container-config-error", None, ""
    groups = found.groupdict()
    kind = "ConfigMap" if groups["what"].lower() == "configmap" else "Secret"
    cause = "config-missing" if kind == "ConfigMap" else "secret-missing"
    return cause, ObjectRef(kind, ns, groups["name"]), groups.get("key") or ""


def _configmap_now(state: ClusterState, ref: ObjectRef, key: str) -> str:
    cm = state.get("ConfigMap", ref.namespace, ref.name)
    if cm is None:
        return f"ConfigMap {ref.name} does not exist in {ref.namespace}"
    keys = [str(k) for k in cm.get("dataKeys") or []]
    if key and key not in keys:
        return f"ConfigMap {ref.name} exists with keys: {', '.join(keys) or 'none'}"
    return f"ConfigMap {ref.name} exists now: the kubelet picks it up on its next retry"


# --- volumes ---------------------------------------------------------------------------------


def _mounts(state: ClusterState, pod: Obj, seen: list[_Seen]) -> Iterator[_Block]:
    """Each volume the kubelet failed to set up: its latest specific FailedMount, else the
    summary ``Unable to attach or mount volumes`` naming the volumes left unmounted."""
    if phase(pod) != "Pending" or _all_started(pod):
        return  # mounted: old FailedMount events describe the past
    mounts = [s.event for s in seen if s.event.reason == "FailedMount" and _recent(state, s.event)]
    failing: dict[str, tuple[str, Event]] = {}
    for ev in sorted(mounts, key=_last):
        if op := VOLUME_OP.match(ev.message):
            failing[op.group("volume")] = (op.group("err").strip(), ev)
    for ev in sorted(mounts, key=_last):
        un = UNABLE.match(ev.message)
        if un is None:
            continue
        for volume in un.group("unmounted").split():
            failing.setdefault(volume, (un.group("err").strip(), ev))
    if mounts and not failing:
        latest = max(mounts, key=_last)
        failing["?"] = (latest.message, latest)
    sources, ns = _volume_sources(pod), namespace(pod) or ""
    for volume, (err, ev) in failing.items():
        # MountVolume.* events name a claim's volume by its PersistentVolume (the spec's
        # name); the summary names the pod's volumes.
        source = sources.get(volume) or _pv_claim(state, volume)
        target, missing, cause = source, "", "mount-failed"
        if gone := NOT_FOUND.match(err):
            kind = "ConfigMap" if gone.group("what") == "configmap" else "Secret"
            target = ObjectRef(kind, ns, gone.group("name"))
            what = f"{kind} {gone.group('name')} does not exist"
        elif (no_key := NO_VOLUME_KEY.match(err)) and source is not None:
            missing = no_key.group("key")
            what = f"{source.kind} {source.name} has no key {missing}"
        elif claim := CLAIM_GONE.search(err):
            target = ObjectRef("PersistentVolumeClaim", claim.group("ns"), claim.group("name"))
            what = f"volume {volume}: claim {claim.group('name')} does not exist"
        else:
            what = f"volume {volume}: {err}"
        if target is not None and target.kind == "Secret":
            cause = "secret-missing"  # the secrets check owns the Secret; this hangs under it
        lines = (
            f"volume {volume}: {source.kind} {source.name}" if source else "",
            *evidence(
                [e for e in mounts if f'"{volume}"' in e.message or e is ev], state.now, limit=2
            ),
        )
        yield _Block(cause, pod, target, what, lines, key=missing, volume=volume)


def _volume_sources(pod: Obj) -> dict[str, ObjectRef]:
    """Pod volume name -> the object it is made from (ConfigMap, Secret, claim)."""
    ns, out = namespace(pod), {}
    for vol in mappings(mapping(pod.get("spec")).get("volumes")):
        vname = str(vol.get("name") or "")
        if mapping(vol.get("configMap")).get("name"):
            out[vname] = ObjectRef("ConfigMap", ns, str(vol["configMap"]["name"]))
        elif mapping(vol.get("secret")).get("secretName"):
            out[vname] = ObjectRef("Secret", ns, str(vol["secret"]["secretName"]))
        elif mapping(vol.get("persistentVolumeClaim")).get("claimName"):
            claim = str(vol["persistentVolumeClaim"]["claimName"])
            out[vname] = ObjectRef("PersistentVolumeClaim", ns, claim)
    return out


def _attach(
    state: ClusterState, pod: Obj, seen: list[_Seen], serving: frozenset[ObjectRef]
) -> Iterator[Finding]:
    if phase(pod) != "Pending" or _all_started(pod):
        return
    attach = [
        s.event
        for s in seen
        if s.event.reason == "FailedAttachVolume"
        and MULTI_ATTACH.match(s.event.message)
        and _recent(state, s.event)
    ]
    if attach:
        yield _multi_attach(state, pod, max(attach, key=_last), attach, serving)


def _multi_attach(
    state: ClusterState,
    pod: Obj,
    event: Event,
    events: list[Event],
    serving: frozenset[ObjectRef],
) -> Finding:
    match = MULTI_ATTACH.match(event.message)
    assert match is not None
    volume = match.group("volume")
    node = str(mapping(pod.get("spec")).get("nodeName") or "")
    holders = sorted(
        {
            str(mapping(va.get("spec")).get("nodeName"))
            for va in state.list_of("volumeattachments")
            if mapping(mapping(va.get("spec")).get("source")).get("persistentVolumeName") == volume
            and mapping(va.get("spec")).get("nodeName") != node
        }
    )
    used = USED_BY.search(match.group("rest"))
    users = used.group("pods").split(", ") if used else []
    for other in users:  # the pods the controller names, and where they run
        peer = state.get("Pod", namespace(pod), other)
        where = mapping((peer or {}).get("spec")).get("nodeName")
        if where and where not in holders:
            holders.append(str(where))
    holder = "node " + ", ".join(holders) if holders else "another node"
    claim = _claim_of(state, pod, volume)
    lines = [
        f"volume {volume} attached to {holder}"
        + (f", used by pod(s) {', '.join(users)}" if users else "")
    ]
    lines += evidence(events, state.now, limit=2)
    return _pod_finding(
        state,
        "multi-attach",
        pod,
        f"pod {name(pod)} cannot attach volume {volume} on node {node}: "
        f"it is still attached to {holder}",
        lines,
        # The claim, and the node holding it: a node finding (a dead node that never
        # detached) explains this one.
        depends_on=(
            *((claim,) if claim else ()),
            *(ObjectRef("Node", None, h) for h in holders),
        ),
        # A rolling update whose old pod still holds the volume: the old pod serves, the
        # rollout is blocked; an outage only when nothing of the workload is ready.
        severity=None if _none_ready(state, pod, serving) else Severity.WARNING,
        volume=volume,
        holder=holder,
    )


def _pv_claim(state: ClusterState, volume: str) -> ObjectRef | None:
    """The claim a PersistentVolume is bound to, if ``volume`` names one."""
    pv = state.get("PersistentVolume", None, volume)
    ref = mapping(mapping((pv or {}).get("spec")).get("claimRef"))
    if ref.get("name"):
        return ObjectRef("PersistentVolumeClaim", ref.get("namespace"), str(ref["name"]))
    return None


def _claim_of(state: ClusterState, pod: Obj, volume: str) -> ObjectRef | None:
    if found := _pv_claim(state, volume):
        return found
    claims = [s for s in _volume_sources(pod).values() if s.kind == "PersistentVolumeClaim"]
    return claims[0] if len(claims) == 1 else None


def _all_started(pod: Obj) -> bool:
    statuses = mappings(mapping(pod.get("status")).get("containerStatuses"))
    return bool(statuses) and all(mapping(cs.get("state")).get("running") for cs in statuses)


# --- init containers ---------------------------------------------------------------------------


def _init(state: ClusterState, pod: Obj, serving: frozenset[ObjectRef]) -> Iterator[Finding]:
    if mapping(condition(pod, "Initialized")).get("status") != "False":
        return
    specs = {
        str(c.get("name")): c for c in mappings(mapping(pod.get("spec")).get("initContainers"))
    }
    for cs in mappings(mapping(pod.get("status")).get("initContainerStatuses")):
        spec = specs.get(str(cs.get("name")), {})
        running = mapping(mapping(cs.get("state")).get("running"))
        started = parse_time(running.get("startedAt"))
        if spec.get("restartPolicy") == "Always" or started is None or cs.get("ready"):
            continue  # a sidecar, or not running: crash loops are the workloads check's
        took = state.now - started
        if took < INIT_SLOW:
            continue
        command = " ".join(
            str(a) for a in [*(spec.get("command") or []), *(spec.get("args") or [])]
        )
        command = command[:160] or f"the image's entrypoint ({spec.get('image')})"
        waiting = [str(c.get("name")) for c in mappings(mapping(pod.get("spec")).get("containers"))]
        init_cond = mapping(condition(pod, "Initialized"))
        yield _pod_finding(
            state,
            "init-stuck",
            pod,
            f"pod {name(pod)}: init container {cs.get('name')} has been running for "
            f"{age(started, state.now)} without finishing ({command}); "
            f"{', '.join(waiting)} wait for it",
            [
                f"init container {cs.get('name')}: running since {age(started, state.now)} ago, "
                f"restarts {cs.get('restartCount', 0)}; command: {command}",
                f"Initialized=False ({init_cond.get('reason')}): {init_cond.get('message')}",
            ],
            # Critical once it is an outage: stuck for long, or nothing of the workload serves.
            severity=None
            if took >= INIT_STUCK or _none_ready(state, pod, serving)
            else Severity.WARNING,
            container=str(cs.get("name")),
            command=command,
            running=age(started, state.now),
        )
        return  # init containers run one at a time: the first running one is the one


# --- probes -------------------------------------------------------------------------------------


def _probes(
    state: ClusterState, pod: Obj, seen: list[_Seen], serving: frozenset[ObjectRef]
) -> Iterator[Finding]:
    unhealthy: defaultdict[tuple[str, str], list[Event]] = defaultdict(list)
    killed: defaultdict[tuple[str, str], list[Event]] = defaultdict(list)
    for s in seen:
        probe = PROBE.match(s.event.message) if s.event.reason == "Unhealthy" else None
        if probe and _recent(state, s.event):
            unhealthy[(probe.group("kind").lower(), s.container or "")].append(s.event)
        kill = KILLED.match(s.event.message) if s.event.reason == "Killing" else None
        if kill and _recent(state, s.event):
            killed[(kill.group("kind"), kill.group("c"))].append(s.event)
    statuses = [
        cs
        for key in ("initContainerStatuses", "containerStatuses")
        for cs in mappings(mapping(pod.get("status")).get(key))
    ]
    if not unhealthy and not killed and not any(_running_unready(cs) for cs in statuses):
        return  # no probe said anything, and nothing runs unready: most pods of a cluster
    specs = {
        str(c.get("name")): c
        for key in ("initContainers", "containers")
        for c in mappings(mapping(pod.get("spec")).get(key))
    }
    found: dict[str, Finding] = {}
    for cs in statuses:
        cname = str(cs.get("name"))
        spec = specs.get(cname, {})
        for kind, cause in (
            ("startup", "startup-probe-failing"),
            ("liveness", "liveness-restarts"),
        ):
            events = unhealthy.get((kind, cname), []) + unhealthy.get((kind, ""), [])
            kills = killed.get((kind, cname), [])
            if cause in found or not (
                kills or (kind == "startup" and events and not cs.get("started"))
            ):
                continue
            # Still failing: not ready or not running, or killed again and again of late
            # (a container without a readiness probe reads Ready between two kills).
            looping = sum(k.count for k in kills) >= 2 and any(
                k.last is not None and state.now - k.last <= LOOP for k in kills
            )
            current = looping or not cs.get("ready") or not mapping(cs.get("state")).get("running")
            lately = any(k.last is not None and state.now - k.last <= LOOP for k in kills)
            # Ready again: a warning if it was killed lately, history (info) if not.
            calm = Severity.WARNING if lately or not kills else Severity.INFO
            found[cause] = _probe_finding(
                state,
                pod,
                cause,
                cname,
                spec.get(f"{kind}Probe"),
                events,
                kills,
                cs,
                None if current else calm,
            )
        running = mapping(mapping(cs.get("state")).get("running"))
        if (
            "readiness-failing" in found
            or cs.get("ready")
            or not running
            or not spec.get("readinessProbe")
        ):
            continue
        events = unhealthy.get(("readiness", cname), []) + unhealthy.get(("readiness", ""), [])
        since = parse_time(mapping(condition(pod, "Ready")).get("lastTransitionTime"))
        threshold = _count(mapping(spec.get("readinessProbe")).get("failureThreshold"), 3)
        long_unready = since is not None and state.now - since > GRACE
        if not (long_unready or sum(e.count for e in events) >= threshold):
            continue  # starting up: the first probes of a new container may fail
        found["readiness-failing"] = _probe_finding(
            state,
            pod,
            "readiness-failing",
            cname,
            spec.get("readinessProbe"),
            events,
            [],
            cs,
            None if _none_ready(state, pod, serving) else Severity.WARNING,
        )
    yield from found.values()


# --- readiness gates ----------------------------------------------------------------------------


def _gates(state: ClusterState, pod: Obj, serving: frozenset[ObjectRef]) -> Iterator[Finding]:
    """A running pod whose containers are all ready but whose readiness gates are not: the
    kubelet holds it out of Ready, so no Service sends it traffic.  Each gate not True is
    read from the pod's own condition of that type, as its controller wrote it."""
    gates = [
        str(g.get("conditionType"))
        for g in mappings(mapping(pod.get("spec")).get("readinessGates"))
        if g.get("conditionType")
    ]
    ready = mapping(condition(pod, "Ready"))
    if (
        not gates
        or ready.get("status") == "True"
        or phase(pod) != "Running"
        or mapping(condition(pod, "ContainersReady")).get("status") != "True"
    ):
        return  # no gate, ready, or its containers are not: the probes' (or nothing's) case
    failing: list[tuple[str, Obj]] = []
    for gate in gates:
        cond = mapping(condition(pod, gate))
        if cond.get("status") != "True":
            failing.append((gate, cond))
    if not failing:
        return  # every gate True now: the kubelet's next status update makes the pod Ready
    # Since when the first failing gate has been not True: its condition's own transition,
    # else the pod's turn to unready (a gate never written), else the pod's start.
    since = min(
        (
            t
            for t in (
                parse_time(cond.get("lastTransitionTime"))
                or parse_time(ready.get("lastTransitionTime"))
                or parse_time(mapping(pod.get("status")).get("startTime"))
                for _, cond in failing
            )
            if t is not None
        ),
        default=None,
    )
    if since is None or state.now - since < GATE_GRACE:
        return  # a load balancer registering and health-checking a new target: wait
    described = [_gate_state(cond) for _, cond in failing]
    lines = [f"Ready=False ({ready.get('reason') or 'no reason'}): {ready.get('message') or ''}"]
    lines += [_gate_line(gate, cond, state.now) for gate, cond in failing]
    gate, cond = failing[0]
    yield _pod_finding(
        state,
        "readiness-gate-not-ready",
        pod,
        f"pod {name(pod)}: containers are ready but readiness gate "
        f"{'; '.join(f'{g} {d}' for (g, _), d in zip(failing, described, strict=True))}, "
        f"for {age(since, state.now)}",
        lines,
        severity=None if _none_ready(state, pod, serving) else Severity.WARNING,
        gate=gate,
        gate_state=described[0],
        owner=_gate_owner(gate),
    )


def _gate_state(cond: Obj) -> str:
    """``has no condition: nothing has written it`` or ``is False (reason): message``."""
    if not cond:
        return "has no condition: nothing has written it"
    return f"is {cond.get('status') or 'unset'}{condition_said(cond, 200)}"


def _gate_line(gate: str, cond: Obj, now: datetime) -> str:
    if not cond:
        return f"condition {gate}: absent"
    line = f"condition {gate}={cond.get('status')}{condition_said(cond)}"
    changed = parse_time(cond.get("lastTransitionTime"))
    return line + (f", since {age(changed, now)} ago" if changed else "")


def _gate_owner(gate: str) -> str:
    for prefix, owner in GATE_OWNERS:
        if gate.startswith(prefix):
            return owner.format(rest=gate[len(prefix) :] or "?")
    return "the controller that owns this condition type"


def _running_unready(status: Obj) -> bool:
    """A container running but not ready: the one case a readiness finding needs no event."""
    return not status.get("ready") and bool(mapping(mapping(status.get("state")).get("running")))


def _probe_finding(
    state: ClusterState,
    pod: Obj,
    cause: str,
    container: str,
    probe: Obj | None,
    events: list[Event],
    kills: list[Event],
    status: Obj,
    severity: Severity | None,
) -> Finding:
    kind = {"readiness-failing": "readiness", "liveness-restarts": "liveness"}.get(cause, "startup")
    described = describe_probe(probe)
    last = max(events, key=_last, default=None)
    output = _output(last.message) if last else "(no Unhealthy event left to quote)"
    restarts = _count(status.get("restartCount"), 0)
    if cause == "readiness-failing":
        doing = "is running but not ready"
    else:
        doing = f"was restarted {restarts} time(s) for failing it"
        waiting = mapping(mapping(status.get("state")).get("waiting")).get("reason")
        if waiting:
            doing += f", now {waiting}"
    lines = [f"container {container}: {kind} probe {described}"]
    lines += evidence([*events, *kills], state.now, limit=3)
    return _pod_finding(
        state,
        cause,
        pod,
        f"pod {name(pod)}: container {container} {doing}: "
        f"{kind} probe {described} fails: {output[:160]}",
        lines,
        severity=severity,
        probe=described,
        output=output[:200],
        container=container,
    )


def describe_probe(probe: Obj | None) -> str:
    """``HTTP GET :http/healthz``, ``TCP :5432``, ``exec [pg_isready]``, ``gRPC :9090``."""
    probe = mapping(probe)
    if probe.get("httpGet"):
        get = mapping(probe["httpGet"])
        scheme = "HTTPS " if get.get("scheme") == "HTTPS" else "HTTP "
        return f"{scheme}GET :{get.get('port')}{get.get('path') or '/'}"
    if probe.get("tcpSocket"):
        return f"TCP :{mapping(probe['tcpSocket']).get('port')}"
    if probe.get("grpc"):
        return f"gRPC :{mapping(probe['grpc']).get('port')}"
    if probe.get("exec"):
        return "exec " + " ".join(str(a) for a in mapping(probe["exec"]).get("command") or [])[:100]
    return "(not in the pod spec)"


def _output(message: str) -> str:
    match = PROBE.match(message)
    if not match:
        return message
    return (match.group("out") if match.group("out") is not None else match.group("err")).strip()


def _none_ready(state: ClusterState, pod: Obj, serving: frozenset[ObjectRef]) -> bool:
    """Whether nothing of this pod's workload is ready (a bare pod: it is not)."""
    workload = state.workload_of(pod)
    return workload is None or workload not in serving


# --- evictions -----------------------------------------------------------------------------------


def _evicted(
    state: ClusterState, pod: Obj, seen: list[_Seen], serving: frozenset[ObjectRef]
) -> Finding:
    status = mapping(pod.get("status"))
    text = str(status.get("message") or "")
    node = str(mapping(pod.get("spec")).get("nodeName") or "?")
    low, had = LOW.search(text), HAD.search(text)
    if low:
        resource = low.group("res")
        cond = RESOURCE_CONDITION.get(resource, "pressure")
        detail = f"the node was low on {resource}"
        if threshold := THRESHOLD.search(text):
            detail += (
                f" (available {threshold.group('a')}, eviction threshold {threshold.group('q')})"
            )
    elif had:
        cond = had.group("conds")
        resource = {"MemoryPressure": "memory", "DiskPressure": "disk", "PIDPressure": "pids"}.get(
            cond, cond
        )
        detail = f"the node had {cond} when the pod arrived"
    else:
        resource, cond, detail = "a resource", "pressure", text or "no message"
    users = [
        f"container {m.group('c')} used {m.group('use')} (request {m.group('req')})"
        for m in USING.finditer(text)
    ]
    when = _evicted_at(pod, seen)
    recent = when is not None and state.now - when <= RECENT
    lines = [f"kubelet: {text.strip()}"[:300], *users]
    lines += evidence([s.event for s in seen if s.event.reason == "Evicted"], state.now, limit=1)
    return _pod_finding(
        state,
        "evicted",
        pod,
        f"pod {name(pod)} was evicted from node {node} {age(when, state.now)} ago: {detail}"
        + (f"; {users[0]}" if users else ""),
        lines,
        depends_on=(ObjectRef("Node", None, node),),
        # Recent and nothing of the workload serves (its replacement cannot run): an outage.
        severity=(
            Severity.INFO
            if not recent
            else Severity.CRITICAL
            if _none_ready(state, pod, serving)
            else None
        ),
        node=node,
        starved=resource,
        condition=cond,
    )


def _evicted_at(pod: Obj, seen: list[_Seen]) -> datetime | None:
    """When the kubelet evicted the pod: its DisruptionTarget condition (set with the
    eviction, pkg/kubelet/eviction/eviction_manager.go), else its Evicted event."""
    cond = condition(pod, "DisruptionTarget") or condition(pod, "Ready") or {}
    when = parse_time(cond.get("lastTransitionTime"))
    events = [s.event for s in seen if s.event.reason == "Evicted"]
    return when or (max(events, key=_last).last if events else None)


def _count(value: object, default: int) -> int:
    """A count from the API (an int), else ``default``: a snapshot can hold anything."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _recent(state: ClusterState, event: Event) -> bool:
    return event.last is not None and state.now - event.last <= RECENT


def _last(event: Event) -> datetime:
    return event.last or datetime.min.replace(tzinfo=None).astimezone()


CHECK = Check(
    id="containers",
    title="What the kubelet reports on a pod's way to Running: config, mounts, probes, evictions",
    severity=Severity.CRITICAL,
    kinds=("pods",),
    optional_kinds=(
        "events",
        "nodes",
        "configmaps",
        "persistentvolumes",
        "volumeattachments",
        "replicasets",
        "deployments",
        "statefulsets",
    ),
    causes=CAUSES,
    run=containers,
)
