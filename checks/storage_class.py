"""storage-class: the StorageClass the databases need exists and is what production expects.

A missing ``ssd-premium`` is the most common Logos outage: PostgreSQL's and Redis's claims
stay Pending and the whole IDE is down.  Drift matters too: a class with another provisioner
or binding mode provisions the wrong disks, and its parameters are immutable, so it is caught
here before the next claim is made.
"""

from __future__ import annotations

from collections.abc import Iterator

from logos_doctor.cause import UNSET, Cause, Causes
from logos_doctor.config import Config, StorageClassSpec
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, annotations_of, meta, name, namespace
from logos_doctor.registry import Check
from logos_doctor.release import logos_namespaces
from logos_doctor.state import ClusterState

DEFAULT_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
FIX = "logos-doctor fix storageclass"
# The cluster-level subject of ``no-default``: no class is the default.  pvc-pending names it
# in the depends_on of a claim without a class, so that the claim's finding chains to it.
NO_DEFAULT = ObjectRef("StorageClass", None, "(default)")
# How many claims the no-default finding names in its message and evidence.
SHOWN = 5

CAUSES = Causes(
    "storage-class",
    Cause(
        "missing",
        Severity.CRITICAL,
        "The StorageClass production expects does not exist",
        remediation=(
            "Create StorageClass {name} (provisioner {provisioner}); "
            "Pending claims then provision on the PV controller's next retry."
        ),
        fix=FIX,
    ),
    Cause(
        "parameters-drift",
        Severity.WARNING,
        "The StorageClass differs from production",
        remediation=(
            "StorageClass parameters are immutable: recreate the class "
            "(existing volumes keep their parameters) with "
            f"'{FIX} --recreate', or update the expectation in logos-doctor.yaml."
        ),
        fix=f"{FIX} --recreate",
    ),
    Cause(
        "referenced-missing",
        Severity.CRITICAL,
        "A claim or claim template names a StorageClass that does not exist",
        remediation="Point it at an existing class (production uses {expected}) or create {name}.",
        fix="logos-doctor fix pvc",
    ),
    Cause(
        "no-default",
        Severity.WARNING,
        "Claims name no StorageClass and no class is the default",
        remediation=(
            "Set storageClassName on the claim (or its template), or mark one class "
            "default with the storageclass.kubernetes.io/is-default-class annotation."
        ),
    ),
    Cause(
        "multiple-defaults",
        Severity.WARNING,
        "More than one StorageClass is marked default",
        remediation=(
            "Keep one default; new claims without a class get the most recently "
            "created default, which may not be the one you expect."
        ),
    ),
)


def is_default(sc: Obj) -> bool:
    """Whether a StorageClass is marked as the cluster default."""
    ann = annotations_of(sc)
    return any(ann.get(a) == "true" for a in DEFAULT_ANNOTATIONS)


def claim_class(pvc: Obj) -> str | None:
    """The class a claim asks for: spec, else the legacy beta annotation; None if unset."""
    spec_class = (pvc.get("spec") or {}).get("storageClassName")
    if spec_class is not None:
        return str(spec_class)
    legacy = annotations_of(pvc).get("volume.beta.kubernetes.io/storage-class")
    return legacy if legacy is not None else None


def drift(spec: StorageClassSpec, sc: Obj) -> list[str]:
    """Each field where ``sc`` differs from the expectation, as ``field: expected X, found Y``."""
    found = {
        "provisioner": sc.get("provisioner"),
        "reclaimPolicy": sc.get("reclaimPolicy") or "Delete",
        "volumeBindingMode": sc.get("volumeBindingMode") or "Immediate",
        "allowVolumeExpansion": bool(sc.get("allowVolumeExpansion") or False),
    }
    expected = {
        "provisioner": spec.provisioner,
        "reclaimPolicy": spec.reclaim_policy,
        "volumeBindingMode": spec.volume_binding_mode,
        "allowVolumeExpansion": spec.allow_volume_expansion,
    }
    out = [
        f"{key}: expected {expected[key]}, found {found[key]}"
        for key in expected
        if expected[key] != found[key]
    ]
    params = sc.get("parameters") or {}
    for key, value in sorted(spec.parameters.items()):
        if params.get(key) != value:
            shown = params.get(key, "(unset)")
            out.append(f"parameters.{key}: expected {value!r}, found {shown!r}")
    return out


def storage_class(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Compare StorageClasses with the expectation and with what claims reference."""
    spec = config.storage_class
    classes = {name(sc): sc for sc in state.list_of("storageclasses")}
    references = _references(state)

    expected = classes.get(spec.name)
    users = references.get(spec.name, [])
    # The expected class is Logos's: it matters where Logos is deployed or something in
    # scope uses it, not on a run that looks at kube-system.
    relevant = bool(users) or bool(logos_namespaces(state, config))
    if expected is None and relevant:
        yield CAUSES["missing"].finding(
            resource=ObjectRef("StorageClass", None, spec.name),
            message=(
                f"StorageClass {spec.name} does not exist"
                + (f"; {len(users)} claim(s)/template(s) need it" if users else "")
            ),
            evidence=tuple(f"referenced by {ref}" for ref in users[:6]),
            affected=tuple(users),
            name=spec.name,
            provisioner=spec.provisioner,
        )
    elif expected is not None and relevant:
        diffs = drift(spec, expected)
        if diffs:
            yield CAUSES["parameters-drift"].finding(
                resource=ObjectRef.of("StorageClass", expected),
                message=f"StorageClass {spec.name} differs from production: " + "; ".join(diffs),
                evidence=tuple(diffs),
            )

    for class_name, users in sorted(references.items()):
        if class_name == spec.name or class_name in classes:
            continue
        for ref in users:
            yield CAUSES["referenced-missing"].finding(
                resource=ref,
                message=f"{ref.kind} {ref.name} uses StorageClass {class_name}, which is missing",
                evidence=(f"existing classes: {', '.join(sorted(classes)) or 'none'}",),
                fix=None if ref.kind != "StatefulSet" else UNSET,
                expected=spec.name,
                name=class_name,
            )

    yield from _defaults(state, classes)


def _references(state: ClusterState) -> dict[str, list[ObjectRef]]:
    """Class name -> StatefulSets (templates) and standalone claims that use it.

    A claim made from a template that names the same class is counted once, as its
    StatefulSet: fixing the template is what fixes it.
    """
    refs: dict[str, list[ObjectRef]] = {}
    seen: set[tuple[str, ObjectRef]] = set()  # not a scan of the list: S x S at scale
    templated: dict[str | None, dict[str, str]] = {}  # namespace -> claim prefix -> class
    for sts in state.in_scope("statefulsets"):
        for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            cls = (tmpl.get("spec") or {}).get("storageClassName")
            if cls:
                ref = ObjectRef.of("StatefulSet", sts)
                if (cls, ref) not in seen:
                    seen.add((cls, ref))
                    refs.setdefault(cls, []).append(ref)
                prefix = f"{meta(tmpl).get('name')}-{name(sts)}-"
                templated.setdefault(meta(sts).get("namespace"), {})[prefix] = cls
    for pvc in state.in_scope("persistentvolumeclaims"):
        cls = claim_class(pvc)
        if not cls:
            continue
        ns, pvc_name = meta(pvc).get("namespace"), name(pvc)
        same_as_template = any(  # only the templates of the claim's own namespace
            pvc_name.startswith(prefix) and cls == t_cls
            for prefix, t_cls in templated.get(ns, {}).items()
        )
        if not same_as_template:
            refs.setdefault(cls, []).append(ObjectRef.of("PersistentVolumeClaim", pvc))
    return refs


def _defaults(state: ClusterState, classes: dict[str, Obj]) -> Iterator[Finding]:
    defaults = sorted(n for n, sc in classes.items() if is_default(sc))
    classless = [
        pvc
        for pvc in state.in_scope("persistentvolumeclaims")
        if claim_class(pvc) is None and (pvc.get("status") or {}).get("phase") != "Bound"
    ]
    if len(defaults) > 1:
        yield CAUSES["multiple-defaults"].finding(
            resource=ObjectRef("StorageClass", None, defaults[0]),
            message=f"{len(defaults)} StorageClasses are marked default: {', '.join(defaults)}",
            evidence=tuple(f"default: {d}" for d in defaults),
            affected=tuple(ObjectRef.of("PersistentVolumeClaim", p) for p in classless),
        )
    elif not defaults and classless:
        # One cause, one finding: the cluster has no default class, whatever the number of
        # claims it leaves without a volume (they are the affected objects).
        names = [f"{namespace(p)}/{name(p)}" for p in classless]
        more = f" +{len(names) - SHOWN} more" if len(names) > SHOWN else ""
        yield CAUSES["no-default"].finding(
            resource=NO_DEFAULT,
            message=(
                f"no StorageClass is marked default, and {len(classless)} claim(s) name no "
                f"class: {', '.join(names[:SHOWN])}{more}"
            ),
            evidence=(
                *(f"claim {n} names no StorageClass" for n in names[:SHOWN]),
                *((f"+{len(names) - SHOWN} more claim(s)",) if more else ()),
                f"existing classes: {', '.join(sorted(classes)) or 'none'}",
            ),
            affected=tuple(ObjectRef.of("PersistentVolumeClaim", p) for p in classless),
        )


CHECK = Check(
    id="storage-class",
    title="StorageClass exists and matches production",
    severity=Severity.CRITICAL,
    kinds=("storageclasses", "persistentvolumeclaims", "statefulsets"),
    causes=CAUSES,
    run=storage_class,
    fix="storageclass",
)
