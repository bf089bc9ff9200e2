"""service-endpoints: Services that route to nothing, and Ingress backends that name nothing.

Readiness is read from EndpointSlices (``kubernetes.io/service-name``), as kube-proxy reads
it, never from the deprecated v1 Endpoints.  One ready endpoint is healthy.  When there is
none, the cause is found from the pods themselves: no pod matches the selector (then the
nearest workloads by label are named, because a one-key typo is the usual story), pods match
but none is ready (then they are the ``affected`` objects, so the runner chains this finding
to the image-pull, pvc-pending or gpu-nodes finding that explains them), or a targetPort no
selected container has.  ExternalName Services and headless Services without a selector have
no endpoints by design; ``default/kubernetes`` is the API server's own, managed by it.

Fields are read defensively (``_d``/``_ds``): a snapshot can hold anything, and one odd
object must not stop the check for the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from difflib import SequenceMatcher
from typing import Any

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, labels_of, mapping, mappings, name, namespace
from logos_doctor.pods import containers_of, is_ready, live_pods, phase
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

SERVICE_NAME = "kubernetes.io/service-name"
ID = "service-endpoints"

CAUSES = Causes(
    ID,
    Cause(
        "no-matching-pods",
        Severity.CRITICAL,
        "No pod matches the Service's selector",
        remediation=(
            "Fix whichever side is wrong: the Service's selector or the workload's template "
            "labels (a Helm values change usually touched one of them)."
        ),
    ),
    Cause(
        "pods-not-ready",
        Severity.CRITICAL,
        "Pods match the Service, but none is ready",
        remediation=(
            "Fix why the pods are not ready (see the findings this one is caused by); the "
            "Service recovers on its own once one pod is ready."
        ),
        symptom=True,
    ),
    Cause(
        "port-mismatch",
        Severity.CRITICAL,
        "A targetPort names a port no selected container declares",
        remediation=(
            "Point targetPort at a port the containers declare (by name, so that it follows "
            "the chart), or declare the port in the pod template."
        ),
    ),
    Cause(
        "no-selector-no-endpoints",
        Severity.WARNING,
        "A Service without a selector has no ready endpoint",
        remediation=(
            "A selector-less Service is backed only by EndpointSlices someone creates by hand: "
            "create them, or give the Service a selector."
        ),
    ),
    Cause(
        "ingress-backend-missing",
        Severity.CRITICAL,
        "An Ingress routes to a Service or port that does not exist",
        remediation=(
            "Fix the Ingress backend (service name and port) or create the Service; the "
            "ingress controller answers 503 for these paths until then."
        ),
    ),
    Cause(
        "endpoints-not-published",
        Severity.WARNING,
        "Ready pods match, but no EndpointSlice lists them",
        remediation=(
            "The EndpointSlice controller (kube-controller-manager) has not published the "
            "pods: check that it runs and read its log."
        ),
    ),
)


def service_endpoints(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per Service without a ready endpoint or with a dead port; per bad Ingress."""
    slices: defaultdict[tuple[str | None, str], list[Obj]] = defaultdict(list)
    for es in state.list_of("endpointslices"):
        labels = mapping(mapping(es.get("metadata")).get("labels"))  # labels_of, not copied
        owner = str(labels[SERVICE_NAME]) if SERVICE_NAME in labels else ""
        slices[(namespace(es), owner)].append(es)
    live = {id(pod) for pod in live_pods(state)}
    for svc in state.in_scope("services"):
        yield from _service(state, svc, slices[(namespace(svc), name(svc))], live)
    if state.has("ingresses"):
        for ing in state.in_scope("ingresses"):
            yield from _ingress(state, ing)


def ready_endpoints(slices: list[Obj]) -> int:
    """Endpoints kube-proxy would route to (a missing ``ready`` means ready, per the API)."""
    return sum(
        1
        for es in slices
        for ep in mappings(es.get("endpoints"))
        if mapping(ep.get("conditions")).get("ready") is not False
    )


def _service(state: ClusterState, svc: Obj, slices: list[Obj], live: set[int]) -> Iterator[Finding]:
    spec = mapping(svc.get("spec"))
    if spec.get("type") == "ExternalName" or _api_server_own(svc):
        return
    ref, ready = ObjectRef.of("Service", svc), ready_endpoints(slices)
    selector = {k: str(v) for k, v in mapping(spec.get("selector")).items()}
    if not selector:
        if spec.get("clusterIP") != "None" and not ready:
            yield CAUSES["no-selector-no-endpoints"].finding(
                resource=ref,
                message=f"Service {name(svc)} has no selector and no ready endpoint in any "
                f"EndpointSlice ({len(slices)} slice(s) labelled {SERVICE_NAME}={name(svc)})",
            )
        return
    # Through the state's label index: scanning the namespace's pods for every Service is
    # Services x pods per namespace, minutes on a dense one.
    selected = [p for p in state.matching("pods", namespace(svc), selector) if id(p) in live]
    yield from _ports(state, svc, selected, ref)
    if ready:
        return
    parent = _common_workload(state, selected)  # only for a finding: most Services are fine
    shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    not_ready = [p for p in selected if not is_ready(p)]
    depends: tuple[ObjectRef, ...] = ()
    severity: Severity | None = None
    if not selected:
        near = _nearest(state, namespace(svc), selector)
        idle = any(not diff and replicas == 0 for _, diff, replicas in near)
        cause, severity = "no-matching-pods", Severity.WARNING if idle else None
        message = f"has no endpoints: no pod matches its selector {shown}" + (
            f"; nearest: {_describe(near[0])}" if near else ""
        )
        evidence = tuple(f"nearest: {_describe(n)}" for n in near)
        # The workload that should back it: a finding about that workload (scaled to 0,
        # unavailable) explains this one.
        depends = tuple(ref for ref, diff, _ in near if not diff)
    elif len(not_ready) == len(selected):
        cause = "pods-not-ready"
        message = (
            f"has no ready endpoint: {len(selected)} pod(s) match {shown} and none is ready "
            f"({_why_summary(state, not_ready)})"
        )
        evidence = tuple(_why_line(state, p) for p in not_ready[:5])
        # Only not-ready pods explain a Service: they are what other findings are about, so
        # many Services behind pods broken by one cause (a missing Secret, StorageClass,
        # image) hang under that one cause instead of each being a root.
        depends = tuple(ObjectRef.of("Pod", p) for p in not_ready)
    else:
        cause = "endpoints-not-published"
        message = (
            f"has {len(selected) - len(not_ready)} ready pod(s) matching {shown}, but no "
            "EndpointSlice lists a ready endpoint"
        )
        evidence = ()
    yield CAUSES[cause].finding(
        resource=ref,
        message=f"Service {name(svc)} {message}",
        parent=parent,
        evidence=evidence,
        severity=severity,
        depends_on=depends,
    )


def _api_server_own(svc: Obj) -> bool:
    """``default/kubernetes``: selector-less, its endpoints written by the API servers' own
    reconciler; with ``--endpoint-reconciler-type=none`` (or behind a managed control plane)
    it has none, and there is nothing an operator of this cluster could fix about it."""
    return (namespace(svc), name(svc)) == ("default", "kubernetes")


def _declared(pod: Obj) -> list[tuple[str, Any, str]]:
    """(name, containerPort, protocol) of the containers and sidecars the controller reads."""
    spec = mapping(pod.get("spec"))
    sidecars = [
        c for c in mappings(spec.get("initContainers")) if c.get("restartPolicy") == "Always"
    ]
    return [
        (str(p.get("name") or ""), p.get("containerPort"), str(p.get("protocol") or "TCP"))
        for c in [*mappings(spec.get("containers")), *sidecars]
        for p in mappings(c.get("ports"))
    ]


def _ports(state: ClusterState, svc: Obj, pods: list[Obj], ref: ObjectRef) -> Iterator[Finding]:
    """targetPorts no selected pod has, resolved the way the EndpointSlice controller does.

    A named targetPort must match a container port's name and protocol, or the pod is
    published without that port (kube-proxy drops it): critical.  A numeric one is used as
    is, so a number no container declares only works if the process listens there anyway:
    a warning, and only when the containers declare some port to compare with.
    """
    unmatched = [
        (sp, sp.get("targetPort", sp.get("port")), str(sp.get("protocol") or "TCP"))
        for sp in mappings(mapping(svc.get("spec")).get("ports"))
    ]
    declares = False
    for pod in pods:  # until every targetPort is matched: most Services, at the first pod
        if not unmatched:
            return
        declared = _declared(pod)
        declares = declares or bool(declared)
        unmatched = [u for u in unmatched if not _matched(u[1], u[2], declared)]
    if not declares or not unmatched:
        return
    bad, critical = [], False
    for sp, target, proto in unmatched:
        if isinstance(target, str):
            bad.append(
                f"port {sp.get('port')} -> targetPort {target!r}: no {proto} "
                "container port has that name"
            )
            critical = True
        else:
            bad.append(f"port {sp.get('port')} -> targetPort {target}: no container declares it")
    declared = [port for pod in pods for port in _declared(pod)]
    have = ", ".join(sorted({f"{n or '-'}/{num}/{pr}" for n, num, pr in declared}))
    yield CAUSES["port-mismatch"].finding(
        resource=ref,
        message=f"Service {name(svc)}: {'; '.join(bad)} (the pods declare {have})",
        severity=None if critical else Severity.WARNING,
        parent=_common_workload(state, pods),
        evidence=tuple(
            f"pod {name(p)} declares "
            + (", ".join(f"{n or '-'}/{num}/{pr}" for n, num, pr in _declared(p)) or "none")
            for p in pods[:3]
        ),
    )


def _matched(target: Any, proto: str, declared: list[tuple[str, Any, str]]) -> bool:
    """Whether a targetPort (a container port's name, or a number) is among ``declared``."""
    if isinstance(target, str):
        return any(n == target and pr == proto for n, _, pr in declared)
    return any(num == target and pr == proto for _, num, pr in declared)


def _ingress(state: ClusterState, ing: Obj) -> Iterator[Finding]:
    spec, ns = mapping(ing.get("spec")), namespace(ing)
    backends = [("(default backend)", mapping(spec.get("defaultBackend")))]
    for rule in mappings(spec.get("rules")):
        for path in mappings(mapping(rule.get("http")).get("paths")):
            where = f"{rule.get('host') or '*'}{path.get('path') or '/'}"
            backends.append((where, mapping(path.get("backend"))))
    problems, missing = [], []
    for where, backend in backends:
        target = mapping(backend.get("service"))
        if not target.get("name"):
            continue  # a resource backend, or none
        svc_name, port = str(target["name"]), mapping(target.get("port"))
        svc = state.get("Service", ns, svc_name)
        if svc is None:
            problems.append(f"{where} -> Service {svc_name}, which does not exist")
            missing.append(ObjectRef("Service", ns, svc_name))
        elif not _has_port(svc, port):
            ports = mappings(mapping(svc.get("spec")).get("ports"))
            has = ", ".join(f"{p.get('name') or '-'}/{p.get('port')}" for p in ports) or "none"
            problems.append(
                f"{where} -> Service {svc_name} port {port.get('name') or port.get('number')}, "
                f"which it does not have (it has {has})"
            )
    if problems:
        yield CAUSES["ingress-backend-missing"].finding(
            resource=ObjectRef.of("Ingress", ing),
            message=f"Ingress {name(ing)} routes to backends that do not exist: "
            + "; ".join(problems),
            evidence=tuple(problems),
            depends_on=tuple(missing),
        )


def _has_port(svc: Obj, port: dict[str, Any]) -> bool:
    spec = mapping(svc.get("spec"))
    ports = mappings(spec.get("ports"))
    if not ports and spec.get("type") == "ExternalName":
        return True  # an ExternalName Service needs no ports: the backend port is used as is
    if port.get("name"):
        return any(p.get("name") == port["name"] for p in ports)
    return any(p.get("port") == port.get("number") for p in ports)


# -- nearest workloads by label ---------------------------------------------------------------

Near = tuple[ObjectRef, list[str], Any]  # ref, differing "key=have (wants v)", replicas


def _nearest(state: ClusterState, ns: str | None, selector: dict[str, str]) -> list[Near]:
    """Workloads (or bare pods) whose pod labels come closest to the selector, best first.

    Ranked by how many selector labels they carry, then by how alike the differing values
    are, so that ``component=web`` beats ``component=chat`` for ``component=web-frontend``.
    """
    candidates: dict[ObjectRef, tuple[dict[str, str], Any]] = {}
    for plural, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet")):
        for wl in state.list_of(plural, ns):
            spec = mapping(wl.get("spec"))
            candidates[ObjectRef.of(kind, wl)] = (
                labels_of(mapping(spec.get("template"))),
                spec.get("replicas", 1),
            )
    covered = {"Deployment": "deployments", "StatefulSet": "statefulsets"}
    for pod in state.list_of("pods", ns):
        owner = state.workload_of(pod)
        if owner is None or not state.has(covered.get(owner.kind, "-")):
            candidates.setdefault(owner or ObjectRef.of("Pod", pod), (labels_of(pod), None))
    scored = []
    for ref, (labels, replicas) in candidates.items():
        same = sum(1 for k, v in selector.items() if labels.get(k) == v)
        differ = [(k, v) for k, v in sorted(selector.items()) if labels.get(k) != v]
        likeness = sum(SequenceMatcher(None, v, labels.get(k, "")).ratio() for k, v in differ)
        if same or likeness >= 0.5:
            diff = [
                f"{k}={labels[k]} (selector wants {v})"
                if k in labels
                else f"no label {k} (selector wants {v})"
                for k, v in differ
            ]
            scored.append((-same, -likeness, str(ref), (ref, diff, replicas)))
    scored.sort(key=lambda s: s[:3])
    # Only the best match and its near ties: a list of every workload helps nobody.
    return [s[3] for s in scored[:3] if s[0] == scored[0][0] and s[1] <= scored[0][1] + 0.1]


def _describe(near: Near) -> str:
    ref, diff, replicas = near
    if not diff:
        state = "is scaled to 0" if replicas == 0 else "has no pods (see its events)"
        return f"{ref.kind} {ref.name} matches the selector but {state}"
    return f"{ref.kind} {ref.name} differs in {len(diff)} label(s): {', '.join(diff)}"


# -- why pods are not ready -------------------------------------------------------------------


def _why(state: ClusterState, pod: Obj) -> tuple[str, str]:
    """A short reason (``ImagePullBackOff``, ``Unschedulable``) and the detail behind it."""
    for cs in containers_of(state, pod):
        if cs.waiting_reason:
            return str(cs.waiting_reason), f"container {cs.name} waiting: {cs.waiting_message}"
    for cond in mappings(mapping(pod.get("status")).get("conditions")):
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("reason") or "Unscheduled"), str(cond.get("message") or "")
    return phase(pod), "running, readiness probe not passing" if phase(pod) == "Running" else ""


def _why_summary(state: ClusterState, pods: list[Obj]) -> str:
    counts: defaultdict[str, int] = defaultdict(int)
    for pod in pods:
        counts[_why(state, pod)[0]] += 1
    return ", ".join(f"{reason} x{n}" for reason, n in sorted(counts.items()))


def _why_line(state: ClusterState, pod: Obj) -> str:
    short, detail = _why(state, pod)
    return f"pod {name(pod)}: {short}" + (f" ({detail[:200]})" if detail else "")


def _common_workload(state: ClusterState, pods: list[Obj]) -> ObjectRef | None:
    owners = {state.workload_of(p) for p in pods}
    return owners.pop() if len(owners) == 1 else None


CHECK = Check(
    id=ID,
    title="Services without ready endpoints, and Ingress backends that do not exist",
    severity=Severity.CRITICAL,
    kinds=("services", "endpointslices", "pods"),
    optional_kinds=("deployments", "statefulsets", "replicasets", "ingresses"),
    causes=CAUSES,
    run=service_endpoints,
)
