"""deploy/: the manifests agree with each other and with this version of logos-doctor.

(The API server's own validation is in tests/integration/test_deploy.py.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from logos_doctor.config import Config, apply_config
from logos_doctor.rbac import Subject, plan_rbac
from logos_doctor.registry import default_registry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def one(name: str) -> dict[str, Any]:
    (doc,) = load(name)
    return doc


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    files = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_rbac_yaml_is_what_logos_doctor_rbac_prints_for_the_installed_checks() -> None:
    plan = plan_rbac(
        list(default_registry()),
        namespace="logos",
        cluster_wide=False,
        with_fix=False,
        subject=Subject("logos", "logos-doctor"),
    )
    assert load("rbac.yaml") == list(plan.objects), (
        "deploy/rbac.yaml is stale: regenerate it with `logos-doctor rbac -n logos` "
        "(keeping the two comment lines at its top)"
    )


def test_pods_run_as_the_bound_service_account() -> None:
    account = one("serviceaccount.yaml")["metadata"]["name"]
    for doc in (one("deployment.yaml"), one("cronjob.yaml")):
        assert pod_spec(doc)["serviceAccountName"] == account
    subjects = [s for d in load("rbac.yaml") if "subjects" in d for s in d["subjects"]]
    assert subjects and all(s["name"] == account for s in subjects)


def test_service_and_servicemonitor_reach_the_exporter_port() -> None:
    deployment, service, monitor = (
        one("deployment.yaml"),
        one("service.yaml"),
        one("servicemonitor.yaml"),
    )
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (container,) = pod_spec(deployment)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (svc_port,) = service["spec"]["ports"]
    assert svc_port["targetPort"] in ports
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {svc_port["name"]}
    assert f"--port={ports[svc_port['targetPort']]}" in container["args"]
    assert "--address=0.0.0.0" in container["args"]  # reachable from the Service
    probes = [container["livenessProbe"], container["readinessProbe"]]
    assert all(p["httpGet"]["path"] == "/healthz" for p in probes)


def test_the_cronjob_runs_every_check_as_junit_and_fails_on_findings_once() -> None:
    cronjob = one("cronjob.yaml")
    (container,) = pod_spec(cronjob)["containers"]
    assert container["args"][:2] == ["check", "--all"]
    assert "--output=junit" in container["args"]
    assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_shipped_config_is_valid() -> None:
    data = one("config.yaml")["data"]["config.yaml"]
    config = apply_config(Config(), yaml.safe_load(data), "deploy/config.yaml")
    assert config.storage_class.name == "ssd-premium"
    for doc in (one("deployment.yaml"), one("cronjob.yaml")):
        (container,) = pod_spec(doc)["containers"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "--config=/etc/logos-doctor/config.yaml" in container["args"]
        assert "/etc/logos-doctor" in mounts
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
