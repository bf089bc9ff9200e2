"""``-o json`` for several clusters (repeated ``--context``): one document holding each.

Each entry is exactly the single-cluster document of ``json_out`` (its contract holds), with
``error`` saying why a cluster could not be checked; the summary adds up the clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from logos_doctor.config import Config
from logos_doctor.outcome import Outcome
from logos_doctor.render.json_out import VERSION, report_json


def multi_json(outcomes: Sequence[Outcome], config: Config) -> dict[str, Any]:
    """Several clusters: ``{"version", "clusters": [...], "summary"}``, each entry the single
    cluster object (with ``error`` set where the cluster could not be checked)."""
    clusters = []
    summary = {"critical": 0, "warning": 0, "info": 0}
    for out in outcomes:
        if out.report:
            doc = report_json(out.report, config)
            doc["error"] = None
            for key, n in doc["summary"].items():
                summary[key] += n
        else:
            doc = {
                "cluster": {"context": out.target.context},
                "error": str(out.error),
                "checks": [],
                "findings": [],
            }
        clusters.append(doc)
    return {"version": VERSION, "clusters": clusters, "summary": summary}
