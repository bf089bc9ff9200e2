"""The steps more than one plan is built from, and the user's options they are written from.

Both ``fix pvc`` and ``fix storageclass`` create the expected class and end with a verify;
one constructor per step keeps their ids, ``kubectl`` lines and params identical in both,
which matters because a step id is what the journal records and ``--resume`` continues after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from logos_doctor.config import Config
from logos_doctor.fix.plan import Action, Step
from logos_doctor.objects import Obj, ObjectRef, name, uid


@dataclass(frozen=True)
class PlanOptions:
    """What the user asked for, beyond the config."""

    namespace: str
    fix_dir: str = "<fix-dir>"
    claims: tuple[str, ...] = ()
    wait_seconds: float = 180.0
    recreate: bool = False


def create_class_step(config: Config, options: PlanOptions) -> Step:
    """Create the configured StorageClass from the manifest the fix directory will hold."""
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


def wait_claims_step(options: PlanOptions, claims: Sequence[Obj]) -> Step:
    """Wait for claims that recover by themselves once their class exists."""
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


def verify_step(ns: str, checks: Sequence[str]) -> Step:
    """Run the checks again: the last step of every plan that changes something."""
    return Step(
        id="verify",
        action=Action.VERIFY,
        description="Run the checks again and compare with before",
        kubectl=f"logos-doctor check {' '.join(checks)} -n {ns}",
        params={"checks": list(checks)},
    )
