"""`logos-doctor rbac` on the real test cluster (RBAC on): the printed role is enough, and
no more than enough.

Scenario: Logos deployed while its StorageClass is missing.  A ServiceAccount bound to
exactly the printed role gets the same diagnosis as the admin; one bound to that role minus
one kind gets the checks needing it skipped as forbidden, and every other check still runs.
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
from kubernetes import client

from k8scluster.cluster import build_binaries
from k8scluster.kube import wait_for
from k8scluster.scenarios import cleanup_cluster_scoped
from k8scluster.scenarios.storage import storage_class_missing
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.registry import default_registry

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return build_binaries() / "kubectl"


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROG), *args], capture_output=True, text=True, timeout=120, check=False
    )


def rbac_yaml(*args: str) -> str:
    result = doctor("rbac", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def apply(kubectl: Path, kubeconfig: Path, manifest: str, *extra: str) -> None:
    result = subprocess.run(
        [str(kubectl), "--kubeconfig", str(kubeconfig), *extra, "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def service_account_kubeconfig(
    api: client.ApiClient, admin: Path, namespace: str, name: str, out: Path
) -> Path:
    """A kubeconfig that authenticates as ServiceAccount ``namespace/name`` (TokenRequest)."""
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    request = {"spec": {"expirationSeconds": 3600}}
    token = core.create_namespaced_service_account_token(name, namespace, request).status.token
    doc = yaml.safe_load(admin.read_text())
    current = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c for c in doc["clusters"] if c["name"] == current["context"]["cluster"])
    out.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": cluster["cluster"]}],
                "users": [{"name": name, "user": {"token": token}}],
                "contexts": [{"name": name, "context": {"cluster": "test", "user": name}}],
                "current-context": name,
            }
        )
    )
    out.chmod(0o600)
    return out


def can_i(kubectl: Path, kubeconfig: Path, verb: str, resource: str, ns: str | None) -> bool:
    where = ["-n", ns] if ns else []
    result = subprocess.run(
        [str(kubectl), "--kubeconfig", str(kubeconfig), "auth", "can-i", verb, resource, *where],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout.strip() == "yes"


def resource_name(plural: str) -> str:
    kind = KINDS[plural]
    return f"{plural}.{kind.group}" if kind.group else plural


def wait_granted(kubectl: Path, kubeconfig: Path, plurals: set[str], ns: str) -> None:
    """Until the authorizer's cache has the new bindings: every kind listable."""

    def all_granted() -> bool:
        return all(
            can_i(
                kubectl, kubeconfig, "list", resource_name(p), ns if KINDS[p].namespaced else None
            )
            for p in sorted(plurals)
        )

    wait_for(all_granted, 30, f"list on {sorted(plurals)} to be granted", interval=0.5)


def check_all(kubeconfig: Path, namespace: str, config: Path) -> tuple[int, dict[str, Any]]:
    result = doctor(
        "check",
        "--all",
        "-o",
        "json",
        "-n",
        namespace,
        "--kubeconfig",
        str(kubeconfig),
        "--config",
        str(config),
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def finding_keys(report: dict[str, Any], checks: set[str] | None = None) -> set[tuple[Any, ...]]:
    return {
        (
            f["check"],
            f["cause"],
            f["severity"],
            f["resource"]["kind"],
            f["resource"]["namespace"],
            f["resource"]["name"],
        )
        for f in report["findings"]
        if checks is None or f["check"] in checks
    }


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def without_kind(manifest: str, plural: str) -> str:
    """The same roles with ``plural`` removed from every rule."""
    docs = []
    for doc in yaml.safe_load_all(manifest):
        if "rules" in doc:
            for rule in doc["rules"]:
                rule["resources"] = [r for r in rule["resources"] if r != plural]
            doc["rules"] = [r for r in doc["rules"] if r["resources"]]
        docs.append(doc)
    return yaml.safe_dump_all(docs)


@pytest.fixture
def scenario(cluster, api, namespace, tmp_path) -> Iterator[Path]:
    overrides = storage_class_missing(api, namespace)
    config = tmp_path / "logos-doctor.yaml"
    config.write_text(yaml.safe_dump({**(overrides or {}), "namespace": namespace}))
    yield config
    cleanup_cluster_scoped(api, namespace)


@pytest.fixture
def cluster_scoped_cleanup(cluster, kubectl) -> Iterator[list[str]]:
    """Manifests whose ClusterRoles/ClusterRoleBindings are deleted after the test."""
    applied: list[str] = []
    yield applied
    for manifest in applied:
        subprocess.run(
            [
                str(kubectl),
                "--kubeconfig",
                str(cluster.kubeconfig),
                "delete",
                "--ignore-not-found",
                "--wait=false",
                "-f",
                "-",
            ],
            input=manifest,
            capture_output=True,
            text=True,
            timeout=60,
        )


def test_the_printed_role_gives_the_admins_diagnosis_and_nothing_more(
    cluster, api, namespace, scenario, tmp_path, kubectl, cluster_scoped_cleanup
):
    admin = Path(cluster.kubeconfig)
    manifest = rbac_yaml(
        "-n", namespace, "--service-account", f"{namespace}/doctor", "--name", f"doc-{namespace}"
    )
    cluster_scoped_cleanup.append(manifest)
    sa = service_account_kubeconfig(api, admin, namespace, "doctor", tmp_path / "sa.kubeconfig")
    apply(kubectl, admin, manifest, "apply")
    checks = list(default_registry())
    read = {k for c in checks for k in (*c.kinds, *c.optional_kinds)}
    wait_granted(kubectl, sa, read, namespace)

    # Nothing beyond reading those kinds in this namespace.
    assert not can_i(kubectl, sa, "delete", "pods", namespace)
    assert not can_i(kubectl, sa, "create", "storageclasses.storage.k8s.io", None)
    assert not can_i(kubectl, sa, "list", "cronjobs.batch", namespace)  # no check reads them
    assert not can_i(kubectl, sa, "create", "configmaps", namespace)
    assert not can_i(kubectl, sa, "list", "pods", "kube-system")
    assert can_i(kubectl, sa, "list", "secrets", namespace) == ("secrets" in read)

    # Same diagnosis as the admin, every check run (compared until two runs back to back see
    # the same moment: the scenario's healthy workloads may still be settling).
    seen: dict[str, Any] = {}

    def same() -> bool:
        seen["admin"] = check_all(admin, namespace, scenario)
        seen["sa"] = check_all(sa, namespace, scenario)
        return finding_keys(seen["admin"][1]) == finding_keys(seen["sa"][1])

    wait_for(
        same,
        60,
        "the same findings as admin and as the ServiceAccount",
        describe=lambda: json.dumps({k: v[1]["findings"] for k, v in seen.items()})[:4000],
    )
    code, report = seen["sa"]
    assert set(statuses(report).values()) <= {"ok", "findings"}, report["checks"]
    assert statuses(report) == statuses(seen["admin"][1])
    assert code == seen["admin"][0] == 1  # the missing StorageClass is critical
    assert ("storage-class", "missing") in {k[:2] for k in finding_keys(report)}


def test_a_role_missing_one_kind_skips_only_the_checks_that_need_it(
    cluster, api, namespace, scenario, tmp_path, kubectl, cluster_scoped_cleanup
):
    admin = Path(cluster.kubeconfig)
    checks = list(default_registry())
    anchor = next(c for c in checks if c.id == "storage-class")  # reports this scenario's cause
    required = {k for c in checks for k in c.kinds} - set(anchor.kinds)
    # The kind most checks cannot do without, among those the anchor check does not need.
    missing = min(required, key=lambda k: (-sum(k in c.kinds for c in checks), k))
    needing = {c.id for c in checks if missing in c.kinds}
    untouched = {c.id for c in checks if missing not in (*c.kinds, *c.optional_kinds)}
    assert needing and untouched

    full = rbac_yaml(
        "-n", namespace, "--service-account", f"{namespace}/partial", "--name", f"part-{namespace}"
    )
    cluster_scoped_cleanup.append(full)
    sa = service_account_kubeconfig(api, admin, namespace, "partial", tmp_path / "p.kubeconfig")
    apply(kubectl, admin, without_kind(full, missing), "apply")
    read = {k for c in checks for k in (*c.kinds, *c.optional_kinds)}
    wait_granted(kubectl, sa, read - {missing}, namespace)
    assert not can_i(kubectl, sa, "list", resource_name(missing), namespace)

    seen: dict[str, Any] = {}

    def same_for_untouched() -> bool:
        seen["admin"] = check_all(admin, namespace, scenario)
        seen["sa"] = check_all(sa, namespace, scenario)
        return finding_keys(seen["admin"][1], untouched) == finding_keys(seen["sa"][1], untouched)

    wait_for(
        same_for_untouched,
        60,
        "the same findings for the checks not reading " + missing,
        describe=lambda: json.dumps({k: v[1]["findings"] for k, v in seen.items()})[:4000],
    )
    code, report = seen["sa"]
    by_id = {c["id"]: c for c in report["checks"]}
    for check_id in needing:
        assert by_id[check_id]["status"] == "skipped"
        assert f"forbidden to list {missing}" in by_id[check_id]["detail"]
    for check_id in set(by_id) - needing:
        assert by_id[check_id]["status"] in ("ok", "findings"), by_id[check_id]
    assert not any(f["check"] in needing for f in report["findings"])
    # The exit status follows the findings that could still be made.
    serious = [f for f in report["findings"] if f["severity"] in ("warning", "critical")]
    assert code == (1 if serious else 0)
    assert code == 1  # storage-class/missing is among them


def test_with_fix_grants_the_fix_writes_in_the_namespace_only(
    cluster, api, namespace, tmp_path, kubectl, cluster_scoped_cleanup
):
    admin = Path(cluster.kubeconfig)
    manifest = rbac_yaml(
        "--with-fix",
        "-A",
        "-n",
        namespace,
        "--service-account",
        f"{namespace}/fixer",
        "--name",
        f"fix-{namespace}",
    )
    cluster_scoped_cleanup.append(manifest)
    sa = service_account_kubeconfig(api, admin, namespace, "fixer", tmp_path / "f.kubeconfig")
    apply(kubectl, admin, manifest, "apply")
    fixes = {c.fix for c in default_registry() if c.fix}
    assert "pvc" in fixes, "the pvc fix's grants are what this test looks at"
    wait_for(lambda: can_i(kubectl, sa, "delete", "pods", namespace), 30, "delete pods granted")

    assert can_i(kubectl, sa, "list", "pods", "kube-system")  # -A: reads everywhere
    assert not can_i(kubectl, sa, "delete", "pods", "kube-system")  # writes: one namespace
    assert can_i(kubectl, sa, "delete", "persistentvolumeclaims", namespace)
    assert can_i(kubectl, sa, "create", "statefulsets.apps", namespace)
    assert not can_i(kubectl, sa, "patch", "statefulsets.apps", namespace)
    assert can_i(kubectl, sa, "update", "leases.coordination.k8s.io", namespace)
    assert can_i(kubectl, sa, "create", "storageclasses.storage.k8s.io", None)
    assert not can_i(kubectl, sa, "delete", "deployments.apps", namespace)
    assert not can_i(kubectl, sa, "delete", "persistentvolumes", None)
