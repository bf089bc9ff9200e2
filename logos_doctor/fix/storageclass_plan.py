"""Planning ``fix storageclass``: create the expected class, or replace a drifted one.

A StorageClass's parameters are immutable, so a drifted class can only be deleted and created
again.  That is unsafe (claims made in between wait, volumes keep the old parameters), so it
is planned only when asked for with ``--recreate``; otherwise the drift is a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence

from logos_doctor.checks.storage_class import drift
from logos_doctor.config import Config
from logos_doctor.finding import Finding
from logos_doctor.fix.plan import Action, Applicability, FixPlan, Problem, Refusal, Step
from logos_doctor.fix.plan_steps import PlanOptions, create_class_step, verify_step
from logos_doctor.objects import ObjectRef, uid
from logos_doctor.state import ClusterState

VERIFY_CLASS = ("storage-class",)


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
        steps.append(create_class_step(config, options))
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
            steps.append(create_class_step(config, options))
    if steps:
        steps.append(verify_step(options.namespace, VERIFY_CLASS))
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
