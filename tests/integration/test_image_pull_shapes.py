"""image-pull through the CLI on pulls that fail in the shapes real kubelets leave.

The scenario ``image_pull_shapes`` (k8scluster/scenarios/image_pull_shapes.py) is built in
the test's namespace: a healthy Logos stack, and six Deployments whose pods, bound to nodes
kwok does not manage, carry the status and events a kubelet writes, with images named with
another cause's words (nginx-tls:v1.403, x509-certificate-exporter:2.500, registry-429...).
`logos-doctor check --all` must name each pull cause as the root cause and hang each
Deployment's finding from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8scluster.scenarios import cleanup_cluster_scoped, load_all
from k8scluster.scenarios.image_pull_shapes import EXPECTED, SECRET_MISSING

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"


@pytest.fixture
def built(api: Any, namespace: str) -> Iterator[dict[str, Any]]:
    try:
        yield load_all()["image_pull_shapes"](api, namespace) or {}
    finally:
        cleanup_cluster_scoped(api, namespace)


def test_check_all_names_each_pull_cause_as_the_root_of_its_deployment(
    built: dict[str, Any], cluster: Any, namespace: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "logos-doctor.yaml"
    cfg.write_text(yaml.safe_dump(built))
    proc = subprocess.run(
        [str(PROG), "check", "--all", "-n", namespace, "-o", "json", "--config", str(cfg),
         "--kubeconfig", str(cluster.kubeconfig), "--fail-on", "never"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    image = next(c for c in doc["checks"] if c["id"] == "image-pull")
    assert image["status"] == "findings", image

    pulls = {
        f["parent"]["name"]: f
        for f in doc["findings"]
        if f["check"] == "image-pull" and (f["parent"] or {}).get("name") in EXPECTED
    }
    assert {dep: f["cause"] for dep, f in pulls.items()} == EXPECTED
    for dep, f in pulls.items():
        if dep == "logos-sync":  # the missing Secret is the root, the pull failure its effect
            (root,) = f["caused_by"]
            assert (root["check"], root["cause"], root["resource"]["name"]) == (
                "secrets",
                "missing-secret",
                SECRET_MISSING,
            )
            assert f["root_cause"] is False
        else:
            assert f["root_cause"] is True and f["caused_by"] == [], (dep, f)
        assert f["resource"]["kind"] == "Pod" and f["resource"]["name"].startswith(dep + "-")
        deployment = [g for g in doc["findings"]
                      if g["check"] == "workloads" and g["resource"]["kind"] == "Deployment"
                      and g["resource"]["name"] == dep]  # fmt: skip
        assert len(deployment) == 1, dep
        assert deployment[0]["caused_by"] == [
            {"check": "image-pull", "cause": EXPECTED[dep], "resource": f["resource"]}
        ], dep
        assert deployment[0]["root_cause"] is False
    # The image named nginx-tls:v1.403 is missing, not a TLS or an authorization problem.
    docs = pulls["logos-docs"]
    assert "registry.local" not in docs["message"]
    assert "nginx-tls:v1.403" in docs["message"] and "no such image or tag" in docs["message"]
    # The pre-1.32 pod whose events expired says so, with the command to watch the next try.
    search = pulls["logos-search"]
    assert "expired" in search["message"] and "kubectl get events" in search["remediation"]
