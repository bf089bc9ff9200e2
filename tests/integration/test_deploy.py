"""deploy/: the in-cluster manifests, validated by the real API server (server-side dry run).

The manifests are rendered through an overlay that moves them into the test's namespace (as
the kustomization's comment tells users to), then sent with `kubectl apply --dry-run=server`,
which runs defaulting, validation and admission without storing anything.  The commands the
Deployment and the CronJob run are then run here, against the same cluster, to prove that
their arguments and the shipped config are accepted by this version of logos-doctor.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8scluster import crds
from k8scluster.cluster import build_binaries
from k8scluster.kube import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROG = Path(sys.executable).parent / "logos-doctor"
SERVICEMONITOR_CRD = "servicemonitors.monitoring.coreos.com"


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return build_binaries() / "kubectl"


def run(cmd: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture
def rendered(kubectl: Path, namespace: str, tmp_path: Path) -> list[dict[str, Any]]:
    """deploy/ rendered into ``namespace`` with a per-test name prefix."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namePrefix": f"{namespace}-",
                "resources": [os.path.relpath(DEPLOY, overlay)],
                "transformers": [
                    yaml.safe_dump(
                        {
                            "apiVersion": "builtin",
                            "kind": "NamespaceTransformer",
                            "metadata": {"name": "namespace", "namespace": namespace},
                            "setRoleBindingSubjects": "allServiceAccounts",
                        }
                    )
                ],
            }
        )
    )
    result = run([str(kubectl), "kustomize", str(overlay)])
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def has_crd(kubectl: Path, kubeconfig: Path, name: str) -> bool:
    result = run([str(kubectl), "--kubeconfig", str(kubeconfig), "get", "crd", name, "-o", "name"])
    return result.returncode == 0


def dry_run(kubectl: Path, kubeconfig: Path, docs: list[dict[str, Any]]) -> str:
    result = run(
        [str(kubectl), "--kubeconfig", str(kubeconfig), "apply", "--dry-run=server", "-f", "-"],
        yaml.safe_dump_all(docs),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def test_every_object_but_the_servicemonitor_passes_server_side_dry_run(
    cluster, kubectl, rendered, namespace
):
    docs = [d for d in rendered if d["kind"] != "ServiceMonitor"]
    kinds = {d["kind"] for d in docs}
    assert {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "CronJob",
    } <= kinds
    out = dry_run(kubectl, Path(cluster.kubeconfig), docs)
    for doc in docs:
        name = doc["metadata"]["name"]
        assert re.search(rf"/{re.escape(name)} \w+ \(server dry run\)", out), (name, out)
    namespaced = [d for d in docs if not d["kind"].startswith("Cluster")]
    assert all(d["metadata"]["namespace"] == namespace for d in namespaced)
    for binding in (d for d in docs if d["kind"].endswith("RoleBinding")):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"{namespace}-logos-doctor", "namespace": namespace}
        ]


def test_servicemonitor_passes_server_side_dry_run(cluster, api, kubectl, rendered):
    crds.ensure(api)  # the prometheus-operator CRDs, as the edge scenarios install them
    if not has_crd(kubectl, Path(cluster.kubeconfig), SERVICEMONITOR_CRD):
        pytest.skip(
            f"CRD {SERVICEMONITOR_CRD} is not installed on the test cluster (no Prometheus "
            "Operator): the ServiceMonitor is not validated by the API server"
        )
    out = dry_run(kubectl, Path(cluster.kubeconfig), [by_kind(rendered, "ServiceMonitor")])
    assert "(server dry run)" in out


def container_command(doc: dict[str, Any], namespace: str) -> list[str]:
    """The container's args with ``$(POD_NAMESPACE)`` expanded, as the kubelet would."""
    spec = (
        doc["spec"]["template"]["spec"]
        if doc["kind"] == "Deployment"
        else (doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    )
    (container,) = spec["containers"]
    return [a.replace("$(POD_NAMESPACE)", namespace) for a in container["args"]]


@pytest.fixture
def shipped_config(rendered, tmp_path) -> Path:
    """The ConfigMap's config file, where the pods mount it (here: a temp dir)."""
    data = by_kind(rendered, "ConfigMap")["data"]
    path = tmp_path / "config.yaml"
    path.write_text(data["config.yaml"])
    return path


def local(args: list[str], config: Path) -> list[str]:
    return [a.replace("/etc/logos-doctor/config.yaml", str(config)) for a in args]


def test_the_cronjobs_command_runs_and_writes_junit(cluster, rendered, namespace, shipped_config):
    args = local(container_command(by_kind(rendered, "CronJob"), namespace), shipped_config)
    result = run([str(PROG), *args, "--kubeconfig", str(cluster.kubeconfig)])
    assert result.returncode in (0, 1), result.stderr
    suites = ET.fromstring(result.stdout)
    cases = [c.get("name") for c in suites.iter("testcase")]
    installed = run([str(PROG), "checks", "-o", "json"])
    assert sorted(cases) == sorted(c["id"] for c in yaml.safe_load(installed.stdout))


@pytest.fixture
def serve_proc(
    cluster, rendered, namespace, shipped_config, tmp_path
) -> Iterator[tuple[Any, Path]]:
    args = local(container_command(by_kind(rendered, "Deployment"), namespace), shipped_config)
    args = [
        {"--address=0.0.0.0": "--address=127.0.0.1", "--port=9400": "--port=0"}.get(a, a)
        for a in args
    ]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(PROG), *args, "--kubeconfig", str(cluster.kubeconfig)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    yield proc, log_path
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_the_deployments_command_serves_metrics_and_healthz(serve_proc):
    proc, log_path = serve_proc
    match = wait_for(
        lambda: re.search(r"http://127\.0\.0\.1:(\d+)/", log_path.read_text()),
        30,
        "serve to listen",
        describe=log_path.read_text,
    )
    wait_for(
        lambda: "run ok" in log_path.read_text(), 60, "a first run", describe=log_path.read_text
    )
    base = f"http://127.0.0.1:{match.group(1)}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
        assert resp.status == 200
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        assert "logos_doctor_last_success_timestamp_seconds" in resp.read().decode()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
