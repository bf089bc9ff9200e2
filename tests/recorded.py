"""Loading recorded snapshot fixtures (made by ``python -m k8scluster.record``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from logos_doctor.cluster.snapshot import load
from logos_doctor.config import Config, apply_config
from logos_doctor.state import ClusterState

SNAPSHOTS = Path(__file__).resolve().parent / "fixtures" / "snapshots"


def recorded(name: str) -> tuple[ClusterState, Config]:
    """The recorded state of scenario ``name`` and the config it was recorded for."""
    state = load(SNAPSHOTS / f"{name}.json.gz")
    config = Config()
    cfg = SNAPSHOTS / f"{name}.config.yaml"
    if cfg.exists():
        config = apply_config(config, yaml.safe_load(cfg.read_text()) or {}, str(cfg))
    namespace = state.scope.namespaces[0] if state.scope.namespaces else config.namespace
    return state, replace(config, namespace=namespace)
