"""Planning ``fix pvc``: which Pending claims it fixes, which it refuses, which heal alone.

A claim whose only problem is the missing expected StorageClass recovers by itself once the
class exists (the PV controller and the scheduler retry), so its plan is "create the class,
wait".  A claim that cannot recover as it is (it names another class, its StatefulSet's claim
template names a wrong class or size, or it still names a vanished node after the provisioner
should have handed it back to the scheduler) needs its StatefulSet recreated
(``recreation_plan``).  Everything else is said in a refusal or a note, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from logos_doctor.checks.storage_class import claim_class
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.fix.plan import FixPlan, Problem, Refusal, Step
from logos_doctor.fix.plan_steps import (
    PlanOptions,
    create_class_step,
    verify_step,
    wait_claims_step,
)
from logos_doctor.fix.recreation_plan import owner, plan_recreation
from logos_doctor.fix.templates import claim_spec, corrections, size_ok
from logos_doctor.objects import Obj, ObjectRef, name
from logos_doctor.state import ClusterState

FIXABLE = ("storage-class-missing", "selected-node-stuck")
# Pending for a reason that clears by itself: said in a note, neither fixed nor refused.  A claim
# whose selected node vanished is handed back to the scheduler by the external provisioner
# (it removes volume.kubernetes.io/selected-node); only one that stays stuck past that
# (selected-node-stuck) is recreated.
SELF_HEALING = ("selected-node-gone",)
VERIFY_PVC = ("storage-class", "pvc-pending")


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
        sts, template = owner(state, pvc)
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
        group, group_refusals = plan_recreation(state, config, options, sts, claims)
        refusals += group_refusals
        if group:
            recreations.append(group)

    # "Run the storageclass fix first": whatever else is wrong, a missing expected class is
    # created before any claim is touched, so that recreated claims can bind at once.
    if class_missing and (need_class or self_healing or recreations):
        steps.append(create_class_step(config, options))
    if self_healing:
        steps.append(wait_claims_step(options, self_healing))
    for group in recreations:
        steps += group
    if steps:
        steps.append(verify_step(ns, VERIFY_PVC))
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


def _named_claim_refusals(
    state: ClusterState, ns: str, wanted: Sequence[str], pending: Sequence[Finding]
) -> list[Refusal]:
    """``--claim`` names a claim with nothing to fix: say why it is left alone."""
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
