"""The expectations a fix was planned with, as saved in its ``plan.json``.

``--resume`` may run from another shell, another directory or after the config file changed;
the verify step must still judge the result by the expectations the plan was made from.  So
the part of the config a fix uses is saved beside the plan and rebuilt from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logos_doctor.config import ClaimSpec, Config, StorageClassSpec


def config_to_json(config: Config) -> dict[str, Any]:
    """The expectations a resumed fix needs to verify its result, as saved in plan.json."""
    sc = config.storage_class
    return {
        "namespace": config.namespace,
        "source": config.source,
        "storageClass": {
            "name": sc.name,
            "provisioner": sc.provisioner,
            "parameters": dict(sc.parameters),
            "reclaimPolicy": sc.reclaim_policy,
            "volumeBindingMode": sc.volume_binding_mode,
            "allowVolumeExpansion": sc.allow_volume_expansion,
        },
        "claims": [
            {
                "statefulSet": c.statefulset,
                "template": c.template,
                "size": c.size,
                "storageClass": c.storage_class,
            }
            for c in config.claims
        ],
        "provisionerWaitSeconds": config.provisioner_wait_seconds,
        "helmUpgrade": list(config.helm_upgrade) if config.helm_upgrade else None,
    }


def config_from_json(data: Mapping[str, Any]) -> Config:
    """Rebuild the saved expectations (defaults for anything missing)."""
    base = Config()
    sc = data.get("storageClass") or {}
    spec = StorageClassSpec(
        name=str(sc.get("name", base.storage_class.name)),
        provisioner=str(sc.get("provisioner", base.storage_class.provisioner)),
        parameters={str(k): str(v) for k, v in (sc.get("parameters") or {}).items()},
        reclaim_policy=str(sc.get("reclaimPolicy", base.storage_class.reclaim_policy)),
        volume_binding_mode=str(
            sc.get("volumeBindingMode", base.storage_class.volume_binding_mode)
        ),
        allow_volume_expansion=bool(
            sc.get("allowVolumeExpansion", base.storage_class.allow_volume_expansion)
        ),
    )
    claims = tuple(
        ClaimSpec(str(c["statefulSet"]), str(c["template"]), str(c["size"]), str(c["storageClass"]))
        for c in data.get("claims") or ()
    )
    helm = data.get("helmUpgrade")
    return Config(
        namespace=str(data.get("namespace", base.namespace)),
        storage_class=spec,
        claims=claims or base.claims,
        provisioner_wait_seconds=int(data.get("provisionerWaitSeconds", 300)),
        helm_upgrade=tuple(str(a) for a in helm) if helm else None,
        source=f"{data.get('source', 'saved plan')} (as saved in the fix)",
    )
