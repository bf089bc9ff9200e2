"""Deciding what a fix will do: a pure function of the state, the findings and the config.

``plan_pvc`` turns ``pvc-pending`` findings into steps.  A claim whose only problem is the
missing expected StorageClass recovers by itself once the class exists (the PV controller and
the scheduler retry), so its plan is "create the class, wait".  A claim that cannot recover
as it is (it names another class, its StatefulSet's claim template names a wrong class or
size, or it still names a vanished node after the provisioner should have handed it back to
the scheduler) needs the guide's orphan-cascade
recreation of its StatefulSet; ``volumeClaimTemplates`` are immutable, so that is the only
way to correct them without touching the running pods.

Nothing here talks to the cluster: the executor re-reads every object before it writes, and
refuses when the cluster no longer matches what was planned.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.fix.checks import claim_class, drift
from logos_doctor.fix.guards import claim_blocker, mounts
from logos_doctor.fix.plan import Action, Applicability, FixPlan, Problem, Refusal, Step
from logos_doctor.fix.templates import (
    claim_spec,
    corrections,
    describe_fix,
    recreated_statefulset,
    size_ok,
)
from logos_doctor.objects import Obj, ObjectRef, controller_of, meta, name, uid
from logos_doctor.pods import claim_statefulset, phase
from logos_doctor.state import ClusterState

FIXABLE = ("storage-class-missing", "selected-node-stuck")
# Pending for a reason that clears by itself: said in a note, neither fixed nor refused.  A claim
# whose selected node vanished is handed back to the scheduler by the external provisioner
# (it removes volume.kubernetes.io/selected-node); only one that stays stuck past that
# (selected-node-stuck) is recreated.
SELF_HEALING = ("selected-node-gone",)
VERIFY_PVC = ("storage-class", "pvc-pending")
VERIFY_CLASS = ("storage-class",)
_KEEP_METADATA = ("name", "namespace", "labels", "annotations", "ownerReferences")


@dataclass(frozen=True)
class PlanOptions:
    """What the user asked for, beyond the config."""

    namespace: str
    fix_dir: str = "<fix-dir>"
    claims: tuple[str, ...] = ()
    wait_seconds: float = 180.0
    recreate: bool = False


def plan_pvc(
    state: ClusterState, findings: Sequence[Finding], config: Config, options: PlanOptions
) -> FixPlan:
    """The plan that makes the namespace's Pending claims bindable again."""
    ns = options.namespace
    pending = [f for f in findings if f.check == "pvc-pending" and _about_claims_in(f, ns)]
    refusals: list[Refusal] = []
    if options.claims:
        refusals += _named_claim_refusals(state, ns, options.claims, pending)
        pending = [
            f
            for f in pending
            if f.resource.name in options.claims or _claims_of(f) & set(options.claims)
        ]
    notes: list[str] = []
    for f in pending:
        if f.cause in SELF_HEALING:
            notes.append(
                f"claim {f.resource.name}: {f.cause}, which heals itself "
                "(the provisioner hands the claim back to the scheduler); nothing to recreate"
            )
            continue
        if f.cause not in FIXABLE and (options.claims or f.severity > Severity.INFO):
            refusals.append(
                Refusal(
                    f.resource,
                    f"Pending because {f.cause}, which 'fix pvc' does not change "
                    "(see 'logos-doctor runbook show pvc-pending')",
                )
            )
    fixable = [f for f in pending if f.cause in FIXABLE]

    expected = config.storage_class.name
    class_missing = state.get("StorageClass", None, expected) is None
    need_class = False
    self_healing: list[Obj] = []
    groups: dict[str, list[Obj]] = {}
    for finding in fixable:
        pvc = state.get("PersistentVolumeClaim", ns, finding.resource.name)
        if pvc is None:
            continue
        sts, template = _owner(state, pvc)
        spec = claim_spec(config, name(sts) if sts else None, template)
        want_class = spec.storage_class if spec else expected
        wrong = corrections(state, config, sts)[0] if sts is not None else {}
        if (
            finding.cause == "storage-class-missing"
            and claim_class(pvc) == want_class
            and not wrong
            and size_ok(pvc, spec)
        ):
            if want_class == expected:
                need_class = True
                self_healing.append(pvc)
            else:
                refusals.append(
                    Refusal(
                        finding.resource,
                        f"needs StorageClass {want_class}, which is missing; logos-doctor only "
                        f"creates the configured class {expected}",
                    )
                )
            continue
        if sts is None:
            refusals.append(
                Refusal(
                    finding.resource,
                    "belongs to no StatefulSet that exists, so logos-doctor cannot recreate it: "
                    "delete it and recreate it from its own manifest (or 'helm upgrade')",
                )
            )
            continue
        groups.setdefault(name(sts), []).append(pvc)

    steps: list[Step] = []
    recreations: list[list[Step]] = []
    for sts_name, claims in sorted(groups.items()):
        sts = state.get("StatefulSet", ns, sts_name)
        assert sts is not None  # groups only hold existing StatefulSets
        group, group_refusals = _recreation(state, config, options, sts, claims)
        refusals += group_refusals
        if group:
            recreations.append(group)

    # "Run the storageclass fix first": whatever else is wrong, a missing expected class is
    # created before any claim is touched, so that recreated claims can bind at once.
    if class_missing and (need_class or self_healing or recreations):
        steps.append(_create_class_step(config, options))
    if self_healing:
        steps.append(_wait_claims_step(options, self_healing))
    for group in recreations:
        steps += group
    if steps:
        steps.append(_verify_step(ns, VERIFY_PVC))
    if any(f.check == "storage-class" and f.cause == "parameters-drift" for f in findings):
        notes.append(
            f"StorageClass {expected} differs from the expectation; see "
            "'logos-doctor fix storageclass'"
        )
    return FixPlan(
        command="pvc",
        namespace=ns,
        steps=tuple(steps),
        problems=tuple(_problems(findings, ns, options.claims)),
        refusals=tuple(refusals),
        notes=tuple(notes),
        wait_seconds=options.wait_seconds,
    )


def plan_storageclass(
    state: ClusterState, findings: Sequence[Finding], config: Config, options: PlanOptions
) -> FixPlan:
    """Create the expected StorageClass, or (``--recreate``) replace a drifted one."""
    spec = config.storage_class
    sc = state.get("StorageClass", None, spec.name)
    steps: list[Step] = []
    refusals: list[Refusal] = []
    notes: list[str] = []
    if sc is None:
        steps.append(_create_class_step(config, options))
    else:
        diffs = drift(spec, sc)
        if not diffs:
            notes.append(f"StorageClass {spec.name} exists and matches the expectation")
        elif not options.recreate:
            refusals.append(
                Refusal(
                    ObjectRef.of("StorageClass", sc),
                    "differs from the expectation (" + "; ".join(diffs) + "); its parameters "
                    "are immutable, so it can only be recreated: add --recreate",
                )
            )
        else:
            ref = ObjectRef.of("StorageClass", sc)
            steps.append(
                Step(
                    id=f"delete-storageclass/{spec.name}",
                    action=Action.DELETE_STORAGECLASS,
                    description=(
                        f"Delete StorageClass {spec.name} (existing volumes keep their "
                        "parameters; new claims wait until step 2)"
                    ),
                    kubectl=f"kubectl delete storageclass {spec.name}",
                    touches=(ref,),
                    applicability=Applicability.UNSAFE,
                    params={"name": spec.name, "uid": uid(sc), "drift": diffs},
                )
            )
            steps.append(_create_class_step(config, options))
    if steps:
        steps.append(_verify_step(options.namespace, VERIFY_CLASS))
    problems = [
        Problem(f.check, f.cause, f.resource, f.message)
        for f in findings
        if f.check == "storage-class" and f.resource.name == spec.name
    ]
    return FixPlan(
        command="storageclass",
        namespace=options.namespace,
        steps=tuple(steps),
        problems=tuple(problems),
        refusals=tuple(refusals),
        notes=tuple(notes),
        wait_seconds=options.wait_seconds,
    )


# -- claims and their StatefulSet ------------------------------------------------------------


def _named_claim_refusals(
    state: ClusterState, ns: str, wanted: Sequence[str], pending: Sequence[Finding]
) -> list[Refusal]:
    out = []
    flagged = {f.resource.name for f in pending} | {c for f in pending for c in _claims_of(f)}
    for claim in wanted:
        if claim in flagged:
            continue
        pvc = state.get("PersistentVolumeClaim", ns, claim)
        ref = ObjectRef("PersistentVolumeClaim", ns, claim)
        if pvc is None:
            out.append(Refusal(ref, "no such claim in the namespace"))
        else:
            claim_phase = (pvc.get("status") or {}).get("phase") or "Pending"
            out.append(
                Refusal(
                    ObjectRef.of("PersistentVolumeClaim", pvc),
                    f"is {claim_phase}; logos-doctor never deletes or changes a bound claim"
                    if claim_phase == "Bound"
                    else f"is {claim_phase} with no problem 'fix pvc' can fix",
                )
            )
    return out


def _owner(state: ClusterState, pvc: Obj) -> tuple[Obj | None, str | None]:
    """The existing StatefulSet a claim was made for, and the template it came from."""
    ref, template = claim_statefulset(state, pvc)
    if ref is None:
        return None, None
    sts = state.get("StatefulSet", ref.namespace, ref.name)
    if sts is None:
        return None, None
    if template is None:
        for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            if name(pvc).startswith(f"{meta(tmpl).get('name')}-{name(sts)}-"):
                template = str(meta(tmpl).get("name"))
    return sts, template


def _claim_blocker(state: ClusterState, pvc: Obj, sts: Obj) -> str | None:
    """Why this claim must not be deleted (the shared guards, plus: no foreign pod uses it)."""
    ns = meta(pvc).get("namespace")
    pods = state.pods_using_claim(ns, name(pvc))
    blocker = claim_blocker(pvc, pods, state.list_of("persistentvolumes"))
    if blocker:
        return blocker
    if meta(pvc).get("deletionTimestamp"):
        return f"claim {name(pvc)} is already being deleted"
    for pod in pods:
        owner = controller_of(pod) or {}
        if owner.get("uid") not in (None, uid(sts)):
            return (
                f"pod {name(pod)} that mounts it belongs to {owner.get('kind')} {owner.get('name')}"
            )
    return None


def _recreation(
    state: ClusterState, config: Config, options: PlanOptions, sts: Obj, claims: list[Obj]
) -> tuple[list[Step], list[Refusal]]:
    """The orphan-cascade steps for one StatefulSet, or refusals saying why not."""
    ns, sts_name = options.namespace, name(sts)
    sts_ref = ObjectRef.of("StatefulSet", sts)
    owner = controller_of(sts)
    if owner is not None:
        reason = (
            f"its StatefulSet {sts_name} is managed by {owner.get('kind')} {owner.get('name')}, "
            "which would fight a recreation: fix the claim template there"
        )
        return [], [Refusal(ObjectRef.of("PersistentVolumeClaim", c), reason) for c in claims]
    if meta(sts).get("deletionTimestamp"):
        return [], [Refusal(sts_ref, "is being deleted; wait for it, then recreate it")]
    fixes, guessed = corrections(state, config, sts)
    for fix in fixes.values():
        cls = fix.get("storageClassName")
        if (
            cls
            and cls != config.storage_class.name
            and state.get("StorageClass", None, cls) is None
        ):
            reason = f"the configured class {cls} for {sts_name} does not exist either"
            return [], [Refusal(ObjectRef.of("PersistentVolumeClaim", c), reason) for c in claims]

    refusals: list[Refusal] = []
    doomed: list[Obj] = []
    for pvc in claims:
        blocker = _claim_blocker(state, pvc, sts)
        if blocker:
            refusals.append(Refusal(ObjectRef.of("PersistentVolumeClaim", pvc), blocker))
        else:
            doomed.append(pvc)
    if not doomed:
        return [], refusals

    applicability = Applicability.UNSAFE if guessed else Applicability.SAFE
    pods = {
        name(p): p
        for pvc in doomed
        for p in state.pods_using_claim(ns, name(pvc))
        if phase(p) == "Pending"
    }
    keep = {
        name(p): uid(p)
        for p in state.children(sts, "Pod")
        if name(p) not in pods and not meta(p).get("deletionTimestamp")
    }
    steps = [
        Step(
            id=f"delete-statefulset/{sts_name}",
            action=Action.DELETE_STATEFULSET,
            description=f"Delete StatefulSet {sts_name}, keeping its pods running (orphan)",
            kubectl=f"kubectl delete statefulset {sts_name} -n {ns} --cascade=orphan",
            touches=(sts_ref,),
            applicability=applicability,
            params={
                "name": sts_name,
                "uid": uid(sts),
                "generation": meta(sts).get("generation"),
            },
        )
    ]
    for pod_name, pod in sorted(pods.items()):
        mounted = ", ".join(sorted(mounts(pod)))
        steps.append(
            Step(
                id=f"delete-pod/{pod_name}",
                action=Action.DELETE_POD,
                description=f"Delete Pending pod {pod_name} (mounts {mounted})",
                kubectl=f"kubectl delete pod {pod_name} -n {ns}",
                touches=(ObjectRef.of("Pod", pod),),
                applicability=applicability,
                params={"name": pod_name, "uid": uid(pod)},
            )
        )
    for pvc in sorted(doomed, key=name):
        steps.append(
            Step(
                id=f"delete-claim/{name(pvc)}",
                action=Action.DELETE_CLAIM,
                description=(
                    f"Delete Pending claim {name(pvc)} "
                    f"(class {claim_class(pvc) or '(none)'}, no volume)"
                ),
                kubectl=f"kubectl delete pvc {name(pvc)} -n {ns}",
                touches=(ObjectRef.of("PersistentVolumeClaim", pvc),),
                applicability=applicability,
                params={"name": name(pvc), "uid": uid(pvc)},
            )
        )
    changes = ", ".join(
        f"template {t}: " + describe_fix(sts, t, fix) for t, fix in sorted(fixes.items())
    )
    helm = list(config.helm_upgrade) if config.helm_upgrade else None
    how = f"by running: {shlex.join(helm)}" if helm else "from the saved object"
    steps.append(
        Step(
            id=f"create-statefulset/{sts_name}",
            action=Action.CREATE_STATEFULSET,
            description=(
                f"Create StatefulSet {sts_name} again {how}"
                + (f"; {changes}" if changes else " with unchanged templates")
            ),
            kubectl=shlex.join(helm)
            if helm
            else f"kubectl create -f {options.fix_dir}/statefulset-{sts_name}.yaml",
            touches=(sts_ref,),
            applicability=applicability,
            params={
                "name": sts_name,
                "uid": uid(sts),
                "corrections": fixes,
                "saved": recreated_statefulset(sts, {}),
                "helm": helm,
            },
        )
    )
    claim_names = sorted(name(c) for c in doomed)
    adopted = f"adopt pod(s) {', '.join(sorted(keep))} and " if keep else ""
    steps.append(
        Step(
            id=f"wait-statefulset/{sts_name}",
            action=Action.WAIT_STATEFULSET,
            description=(
                f"Wait up to {options.wait_seconds:g}s for {sts_name} to {adopted}"
                f"recreate claim(s) {', '.join(claim_names)} and bind them"
            ),
            kubectl=f"kubectl get pods,pvc -n {ns} -w",
            touches=(sts_ref,),
            params={"name": sts_name, "uid": uid(sts), "keep": keep, "claims": claim_names},
        )
    )
    return steps, refusals


# -- the other steps -------------------------------------------------------------------------


def _create_class_step(config: Config, options: PlanOptions) -> Step:
    spec = config.storage_class
    return Step(
        id=f"create-storageclass/{spec.name}",
        action=Action.CREATE_STORAGECLASS,
        description=(
            f"Create StorageClass {spec.name} (provisioner {spec.provisioner}, "
            f"{spec.volume_binding_mode})"
        ),
        kubectl=f"kubectl create -f {options.fix_dir}/storageclass-{spec.name}.yaml",
        touches=(ObjectRef("StorageClass", None, spec.name),),
        params={"name": spec.name, "manifest": spec.manifest()},
    )


def _wait_claims_step(options: PlanOptions, claims: Sequence[Obj]) -> Step:
    names = sorted(name(c) for c in claims)
    return Step(
        id="wait-claims",
        action=Action.WAIT_CLAIMS,
        description=(
            f"Wait up to {options.wait_seconds:g}s for claim(s) {', '.join(names)} to bind"
        ),
        kubectl=f"kubectl get pvc -n {options.namespace} {' '.join(names)} -w",
        touches=tuple(ObjectRef.of("PersistentVolumeClaim", c) for c in claims),
        params={"claims": {name(c): uid(c) for c in claims}},
    )


def _verify_step(ns: str, checks: Sequence[str]) -> Step:
    return Step(
        id="verify",
        action=Action.VERIFY,
        description="Run the checks again and compare with before",
        kubectl=f"logos-doctor check {' '.join(checks)} -n {ns}",
        params={"checks": list(checks)},
    )


def _claims_of(f: Finding) -> set[str]:
    return {r.name for r in f.affected if r.kind == "PersistentVolumeClaim"}


def _about_claims_in(f: Finding, ns: str) -> bool:
    """A claim's finding in ``ns``, or one about a class whose affected claims are in ``ns``
    (pvc-pending reports a cause shared by a class's claims once, on the class)."""
    if f.resource.kind == "PersistentVolumeClaim":
        return f.resource.namespace == ns
    return any(r.kind == "PersistentVolumeClaim" and r.namespace == ns for r in f.affected)


def _problems(findings: Sequence[Finding], ns: str, wanted: Sequence[str]) -> list[Problem]:
    out = []
    for f in findings:
        if f.severity <= Severity.INFO:
            continue
        if f.check == "pvc-pending" and _about_claims_in(f, ns):
            if not wanted or f.resource.name in wanted or _claims_of(f) & set(wanted):
                out.append(Problem(f.check, f.cause, f.resource, f.message))
        elif f.check == "storage-class" and f.cause == "missing":
            out.append(Problem(f.check, f.cause, f.resource, f.message))
    return out
