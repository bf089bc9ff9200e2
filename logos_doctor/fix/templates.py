"""Claim templates: what they should say, and the StatefulSet to create again with them.

``volumeClaimTemplates`` are immutable, which is why a wrong class or size in them needs the
orphan-cascade recreation at all.  The corrections come from the config's ``claims`` (class
and size per StatefulSet and template); a template the config does not describe is only
corrected when its class does not exist, and that guess makes the plan unsafe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logos_doctor.config import ClaimSpec, Config
from logos_doctor.objects import Obj, meta, name, parse_quantity
from logos_doctor.state import ClusterState

_KEEP_METADATA = ("name", "namespace", "labels", "annotations", "ownerReferences")

Corrections = dict[str, dict[str, str]]


def _copy(value: Any) -> Any:
    """A copy in which no two places hold one dict or list.  ``copy.deepcopy`` would keep the
    sharing a live fetch makes between equal parts (cluster/share.py): two templates with
    equal specs would stay one spec, and correcting one would correct both."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def recreated_statefulset(saved: Obj, corrections: Mapping[str, Mapping[str, str]]) -> Obj:
    """The StatefulSet to create again: ``saved`` without what the server owns, and with
    the claim templates corrected (``{template: {"storageClassName": ..., "storage": ...}}``).

    Only the templates change, and the pod template is kept byte for byte, so the new
    StatefulSet computes the same revision hash and adopts the running pods instead of
    rolling them.
    """
    body: Obj = _copy(saved)
    body["apiVersion"] = "apps/v1"
    body["kind"] = "StatefulSet"
    body["metadata"] = {k: v for k, v in meta(saved).items() if k in _KEEP_METADATA and v}
    body.pop("status", None)
    spec = body.setdefault("spec", {})
    for tmpl in spec.get("volumeClaimTemplates") or []:
        tmpl.pop("status", None)
        (tmpl.get("metadata") or {}).pop("creationTimestamp", None)
        fix = corrections.get(meta(tmpl).get("name", ""))
        if not fix:
            continue
        tspec = tmpl.setdefault("spec", {})
        if fix.get("storageClassName"):
            tspec["storageClassName"] = fix["storageClassName"]
        if fix.get("storage"):
            tspec.setdefault("resources", {}).setdefault("requests", {})["storage"] = fix["storage"]
    return body


def claim_spec(config: Config, sts: str | None, template: str | None) -> ClaimSpec | None:
    """The configured expectation for one template of one StatefulSet, if any."""
    for spec in config.claims:
        if spec.statefulset == sts and spec.template == template:
            return spec
    return None


def size_ok(pvc: Obj, spec: ClaimSpec | None) -> bool:
    """Whether a claim asks for the configured size (true when nothing is configured)."""
    if spec is None:
        return True
    asked = ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
    return parse_quantity(asked) == parse_quantity(spec.size)


def corrections(state: ClusterState, config: Config, sts: Obj) -> tuple[Corrections, bool]:
    """Template name -> corrected class/size, and whether any correction is a guess.

    A template named in the config is corrected to its configured class and size.  Any other
    template is only corrected when it names a class that does not exist, to the configured
    class: a guess, so the plan is unsafe.
    """
    out: Corrections = {}
    guessed = False
    for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        tname = str(meta(tmpl).get("name", ""))
        tspec = tmpl.get("spec") or {}
        cls = tspec.get("storageClassName")
        size = (tspec.get("resources") or {}).get("requests", {}).get("storage")
        spec = claim_spec(config, name(sts), tname)
        fix: dict[str, str] = {}
        if spec is not None:
            if cls != spec.storage_class:
                fix["storageClassName"] = spec.storage_class
            if parse_quantity(size) != parse_quantity(spec.size):
                fix["storage"] = spec.size
        elif cls and state.get("StorageClass", None, cls) is None:
            fix["storageClassName"] = config.storage_class.name
            guessed = True
        if fix:
            out[tname] = fix
    return out, guessed


def describe_fix(sts: Obj, template: str, fix: Mapping[str, str]) -> str:
    """``class a -> b, size x -> y`` for one template's correction."""
    for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        if meta(tmpl).get("name") == template:
            tspec = tmpl.get("spec") or {}
            parts = []
            if "storageClassName" in fix:
                parts.append(f"class {tspec.get('storageClassName')} -> {fix['storageClassName']}")
            if "storage" in fix:
                size = (tspec.get("resources") or {}).get("requests", {}).get("storage")
                parts.append(f"size {size} -> {fix['storage']}")
            return ", ".join(parts)
    return ""
