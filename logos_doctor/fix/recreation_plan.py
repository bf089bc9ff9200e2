"""Planning the orphan-cascade recreation of a StatefulSet around its Pending claims.

``volumeClaimTemplates`` are immutable, so a claim made from a wrong template (another class,
another size) can only be corrected by the guide's sequence: delete the StatefulSet with
``--cascade=orphan`` (its running pods keep running), delete the Pending pods and claims,
create the StatefulSet again with corrected templates, and wait for it to adopt the pods it
left behind and make the claims anew.  This module decides whether that is allowed for one
StatefulSet and writes the steps; the executor re-checks every rule against the live cluster.
"""

from __future__ import annotations

import shlex

from logos_doctor.checks.storage_class import claim_class
from logos_doctor.config import Config
from logos_doctor.fix.guards import claim_blocker, mounts
from logos_doctor.fix.plan import Action, Applicability, Refusal, Step
from logos_doctor.fix.plan_steps import PlanOptions
from logos_doctor.fix.templates import Corrections, corrections, describe_fix, recreated_statefulset
from logos_doctor.objects import Obj, ObjectRef, controller_of, meta, name, uid
from logos_doctor.pods import claim_statefulset, phase
from logos_doctor.state import ClusterState


def owner(state: ClusterState, pvc: Obj) -> tuple[Obj | None, str | None]:
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


def plan_recreation(
    state: ClusterState, config: Config, options: PlanOptions, sts: Obj, claims: list[Obj]
) -> tuple[list[Step], list[Refusal]]:
    """The orphan-cascade steps for one StatefulSet, or refusals saying why not."""
    fixes, guessed = corrections(state, config, sts)
    refused = _statefulset_refusal(state, config, sts, claims, fixes)
    if refused is not None:
        return [], refused

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
    return _steps(state, config, options, sts, doomed, fixes, applicability), refusals


def _statefulset_refusal(
    state: ClusterState, config: Config, sts: Obj, claims: list[Obj], fixes: Corrections
) -> list[Refusal] | None:
    """Why this StatefulSet must not be recreated at all, or None."""
    sts_name = name(sts)
    controller = controller_of(sts)
    if controller is not None:
        reason = (
            f"its StatefulSet {sts_name} is managed by {controller.get('kind')} "
            f"{controller.get('name')}, which would fight a recreation: fix the claim "
            "template there"
        )
        return [Refusal(ObjectRef.of("PersistentVolumeClaim", c), reason) for c in claims]
    if meta(sts).get("deletionTimestamp"):
        return [
            Refusal(
                ObjectRef.of("StatefulSet", sts), "is being deleted; wait for it, then recreate it"
            )
        ]
    for fix in fixes.values():
        cls = fix.get("storageClassName")
        if (
            cls
            and cls != config.storage_class.name
            and state.get("StorageClass", None, cls) is None
        ):
            reason = f"the configured class {cls} for {sts_name} does not exist either"
            return [Refusal(ObjectRef.of("PersistentVolumeClaim", c), reason) for c in claims]
    return None


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
        pod_owner = controller_of(pod) or {}
        if pod_owner.get("uid") not in (None, uid(sts)):
            return (
                f"pod {name(pod)} that mounts it belongs to {pod_owner.get('kind')} "
                f"{pod_owner.get('name')}"
            )
    return None


def _steps(
    state: ClusterState,
    config: Config,
    options: PlanOptions,
    sts: Obj,
    doomed: list[Obj],
    fixes: Corrections,
    applicability: Applicability,
) -> list[Step]:
    """Delete (orphan), delete Pending pods and claims, create again, wait: in that order."""
    ns, sts_name = options.namespace, name(sts)
    sts_ref = ObjectRef.of("StatefulSet", sts)
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
    steps.append(_create_step(config, options, sts, fixes, applicability))
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
    return steps


def _create_step(
    config: Config, options: PlanOptions, sts: Obj, fixes: Corrections, applicability: Applicability
) -> Step:
    """Create the StatefulSet again: by the configured helm command, else from the saved object.

    ``saved`` is the object as planned; the executor prefers the backup it reads right before
    the delete, and falls back to this one.
    """
    sts_name = name(sts)
    changes = ", ".join(
        f"template {t}: " + describe_fix(sts, t, fix) for t, fix in sorted(fixes.items())
    )
    helm = list(config.helm_upgrade) if config.helm_upgrade else None
    how = f"by running: {shlex.join(helm)}" if helm else "from the saved object"
    return Step(
        id=f"create-statefulset/{sts_name}",
        action=Action.CREATE_STATEFULSET,
        description=(
            f"Create StatefulSet {sts_name} again {how}"
            + (f"; {changes}" if changes else " with unchanged templates")
        ),
        kubectl=shlex.join(helm)
        if helm
        else f"kubectl create -f {options.fix_dir}/statefulset-{sts_name}.yaml",
        touches=(ObjectRef.of("StatefulSet", sts),),
        applicability=applicability,
        params={
            "name": sts_name,
            "uid": uid(sts),
            "corrections": fixes,
            "saved": recreated_statefulset(sts, {}),
            "helm": helm,
        },
    )
