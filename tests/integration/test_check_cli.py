"""logos-doctor check against the real control plane, as an on-call engineer runs it.

Scenario: Logos is deployed while its StorageClass is missing.  The PV controller marks both
database claims Pending with ProvisioningFailed, the scheduler cannot place the database pods;
logos-doctor must name the missing class as the root cause, the claims and their StatefulSets,
and exit 1.  The same state, recorded as a snapshot, must give the same findings offline.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8scluster import logos_stack
from k8scluster.scenarios import storage

pytestmark = pytest.mark.integration


def doctor(
    cluster: Any, *args: str, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "logos_doctor", *args]
    if "--snapshot" not in args:
        cmd += ["--kubeconfig", str(cluster.kubeconfig)]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def write_config(tmp_path: Path, overrides: dict[str, Any] | None) -> Path:
    path = tmp_path / "logos-doctor.yaml"
    path.write_text(yaml.safe_dump(overrides or {}))
    return path


def keyed(doc: dict[str, Any]) -> set[tuple[str, str, str, str, str, str | None]]:
    return {
        (f["check"], f["cause"], f["severity"], f["resource"]["kind"], f["resource"]["name"],
         (f["parent"] or {}).get("name"))
        for f in doc["findings"]
    }


def test_missing_storage_class_is_found_with_cause_resource_and_parent(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, storage.storage_class_missing(api, namespace))
    result = doctor(cluster, "check", "--all", "-n", namespace, "-o", "json", config=config)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)

    assert doc["version"] == 1
    assert doc["cluster"]["namespaces"] == [namespace]
    assert doc["cluster"]["version"].startswith("v1.")
    assert doc["summary"]["critical"] >= 3
    statuses = {c["id"]: c["status"] for c in doc["checks"]}
    assert statuses["storage-class"] == statuses["pvc-pending"] == "findings"

    by_key = {(f["check"], f["cause"], f["resource"]["name"]): f for f in doc["findings"]}
    missing = by_key[("storage-class", "missing", storage.class_name(namespace))]
    assert missing["severity"] == "critical"
    assert missing["fix"] == "logos-doctor fix storageclass"
    claim = by_key[("pvc-pending", "storage-class-missing", "data-logos-postgresql-0")]
    assert claim["resource"] == {"kind": "PersistentVolumeClaim", "namespace": namespace,
                                 "name": "data-logos-postgresql-0"}
    assert claim["parent"] == {"kind": "StatefulSet", "namespace": namespace,
                               "name": "logos-postgresql"}
    assert claim["runbook"]["id"] == "pvc-pending"
    assert claim["runbook"]["url"].endswith("pvc-pending.md#storage-class-missing")
    assert claim["fix"] == f"logos-doctor fix pvc -n {namespace}"
    assert {"check": "storage-class", "cause": "missing",
            "resource": missing["resource"]} in claim["caused_by"]
    assert any("ProvisioningFailed" in e and "not found" in e for e in claim["evidence"])


def test_healthy_stack_has_no_storage_problem_and_exits_zero(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    overrides = storage.healthy_logos(api, namespace)
    config = write_config(tmp_path, overrides)
    args = ("check", "storage-class", "pvc-pending", "-n", namespace, "-o", "json")
    result = doctor(cluster, *args, config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["findings"] == []
    # Quiet because it looked and found all well, not because it looked at nothing: both
    # checks ran on this namespace, whose claims are bound to the expected class ...
    assert doc["cluster"]["namespaces"] == [namespace]
    assert {c["id"]: c["status"] for c in doc["checks"]} == {
        "storage-class": "ok",
        "pvc-pending": "ok",
    }
    snap = tmp_path / "healthy.json"
    assert doctor(cluster, "snapshot", "-n", namespace, "-o", str(snap)).returncode == 0
    claims = json.loads(snap.read_text())["objects"]["persistentvolumeclaims"]
    assert {c["metadata"]["name"]: (c["spec"]["storageClassName"], c["status"]["phase"])
            for c in claims} == {
        pvc: (storage.class_name(namespace), "Bound") for pvc in logos_stack.PVCS
    }  # fmt: skip
    # ... and the same run on the same stack speaks up, exit 1, once its class is gone.
    logos_stack.delete_storage_class(api, storage.class_name(namespace))
    broken = doctor(cluster, *args, config=config)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    causes = {(f["check"], f["cause"]) for f in json.loads(broken.stdout)["findings"]}
    assert ("storage-class", "missing") in causes


def test_snapshot_gives_the_same_findings_offline(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, storage.storage_class_missing(api, namespace))
    snap = tmp_path / "incident.json.gz"
    recorded = doctor(cluster, "snapshot", "-n", namespace, "-o", str(snap))
    assert recorded.returncode == 0, recorded.stderr
    # check's fetch drops an event's own name, uid and version (FetchOptions.lean); a
    # snapshot keeps every field, and the findings below are the same either way.
    events = json.loads(gzip.decompress(snap.read_bytes()))["objects"]["events"]
    assert events
    assert all({"name", "uid", "resourceVersion"} <= e["metadata"].keys() for e in events)
    live = doctor(cluster, "check", "--all", "-n", namespace, "-o", "json", config=config)
    offline = doctor(cluster, "check", "--all", "--snapshot", str(snap), "-o", "json",
                     config=config)
    assert live.returncode == offline.returncode == 1
    live_doc, offline_doc = json.loads(live.stdout), json.loads(offline.stdout)
    assert keyed(offline_doc) == keyed(live_doc)
    assert offline_doc["cluster"]["namespaces"] == [namespace]
    # Ages are measured against the snapshot's time, not against now.
    assert offline_doc["cluster"]["time"] < live_doc["cluster"]["time"]


def test_piped_output_is_plain_text(cluster: Any, api: Any, namespace: str,
                                    tmp_path: Path) -> None:
    config = write_config(tmp_path, storage.storage_class_missing(api, namespace))
    result = doctor(cluster, "check", "storage-class", "pvc-pending", "-n", namespace,
                    config=config)
    assert result.returncode == 1
    assert "\x1b[" not in result.stdout
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)  # piped: wrapped to 80 columns
    start = lines.index("ROOT CAUSES (fix these first):")
    assert start <= 2 and lines[0].startswith("cluster ")
    assert "storage-class/missing StorageClass/" in lines[start + 1]
    # The details: one block per component, the claim's entry naming cause and resource.
    text = " ".join(line.strip() for line in lines)
    assert f"pvc-pending/storage-class-missing PersistentVolumeClaim/{namespace}/" in text
    assert "because: storage-class/missing on StorageClass/" in text
    assert lines[-1].startswith("3 critical")


def test_fail_on_controls_the_exit_status(cluster: Any, api: Any, namespace: str,
                                          tmp_path: Path) -> None:
    config = write_config(tmp_path, storage.waiting_for_consumer(api, namespace))
    args = ("check", "pvc-pending", "-n", namespace, "-o", "json")
    assert doctor(cluster, *args, config=config).returncode == 0  # info only
    drift = write_config(tmp_path, {"storageClass": {"name": storage.class_name(namespace),
                                                     "parameters": {"type": "io2"}}})
    result = doctor(cluster, "check", "storage-class", "-n", namespace, "-o", "json",
                    config=drift)
    assert result.returncode == 1
    assert json.loads(result.stdout)["findings"][0]["cause"] == "parameters-drift"
    assert doctor(cluster, "check", "storage-class", "-n", namespace, "--fail-on", "critical",
                  config=drift).returncode == 0
    assert doctor(cluster, "check", "storage-class", "-n", namespace, "--fail-on", "never",
                  config=drift).returncode == 0
