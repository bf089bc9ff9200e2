"""ingress, cert-manager and monitoring against the live test cluster, through the CLI.

Each scenario of tests/k8scluster/scenarios/edge.py is built in the test's own namespace
(certificates made with `cryptography`, cert-manager's objects with the status cert-manager
writes), then `logos-doctor check --all -n NS -o json` runs on it as the on-call would: the
root cause must be the Secret, issuer or challenge that breaks TLS, and the Ingress's finding
must say `because:` of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from k8scluster.scenarios import edge

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"
OURS = ("ingress", "cert-manager", "monitoring")


def doctor(cluster: Any, namespace: str, tmp_path: Path, config: dict | None) -> dict[str, Any]:
    cmd = [str(PROG), "check", "--all", "-n", namespace, "-o", "json",
           "--kubeconfig", str(cluster.kubeconfig), "--fail-on", "never"]
    if config:
        path = tmp_path / "logos-doctor.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--config", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    bad = [c for c in doc["checks"] if c["id"] in OURS and c["status"] in ("error", "skipped")]
    assert not bad, bad
    return doc


def ours(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["check"] in OURS]


def key(f: dict[str, Any]) -> tuple[str, str, str]:
    return (f["cause"], f["resource"]["kind"], f["resource"]["name"])


def test_healthy_edge_is_quiet_and_a_broken_tls_secret_is_the_root_cause(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    config = edge.edge_healthy(api, namespace)
    doc = doctor(cluster, namespace, tmp_path, config)
    assert [key(f) for f in ours(doc) if f["severity"] != "info"] == []

    # Someone replaces the TLS Secret by hand with a certificate that expired yesterday.
    core = client.CoreV1Api(api)
    core.delete_namespaced_secret("logos-tls", namespace)
    crt, k = edge.tls_pair([edge.HOST], not_before=timedelta(days=-91),
                           not_after=timedelta(days=-1))
    core.create_namespaced_secret(
        namespace, edge.tls_secret(namespace, "logos-tls", {"tls.crt": crt, "tls.key": k}))
    doc = doctor(cluster, namespace, tmp_path, config)
    found = {key(f): f for f in ours(doc)}
    secret = found[("certificate-expired", "Secret", "logos-tls")]
    assert secret["root_cause"] is True and secret["severity"] == "critical"
    assert "expired on" in secret["message"]
    ing = found[("tls-broken", "Ingress", "logos")]
    assert ing["root_cause"] is False
    assert [(c["check"], c["cause"], c["resource"]["name"]) for c in ing["caused_by"]] == [
        ("ingress", "certificate-expired", "logos-tls")]
    # The root-cause block of the text report names the Secret and what is wrong with it.
    text = subprocess.run(
        [str(PROG), "check", "--all", "-n", namespace, "--kubeconfig", str(cluster.kubeconfig),
         "-o", "plain", "--fail-on", "never", "--config", str(tmp_path / "logos-doctor.yaml")],
        capture_output=True, text=True, timeout=180).stdout
    block = text.split("ROOT CAUSES", 1)[1].split("\n\n", 1)[0]
    assert "ingress/certificate-expired" in block and "Secret/" in block and "logos-tls" in block


def test_tls_faults_each_named_on_its_secret(cluster: Any, api: Any, namespace: str,
                                            tmp_path: Path) -> None:
    edge.edge_tls_faults(api, namespace)
    doc = doctor(cluster, namespace, tmp_path, None)
    roots = {key(f) for f in ours(doc) if f["root_cause"]}
    assert {
        ("certificate-expired", "Secret", "renewed-2099-cert"),
        ("certificate-host-mismatch", "Secret", "wildcard-all-hosts"),
        ("tls-secret-missing", "Secret", "present-tls"),
        ("tls-secret-missing-keys", "Secret", "tls-complete"),
        ("certificate-unreadable", "Secret", "pem-bundle"),
        ("certificate-expiring", "Secret", "long-lived-cert"),
        ("ingress-class-missing", "Ingress", "classy"),
        ("duplicate-host", "Ingress", "dup-b"),
    } <= roots
    assert not [f for f in ours(doc) if f["resource"]["name"] in ("expired-tls", "tls-wild")]


def test_cert_manager_chain_roots_at_issuer_or_challenge(cluster: Any, api: Any,
                                                        namespace: str, tmp_path: Path) -> None:
    edge.edge_cert_manager_chain(api, namespace)
    doc = doctor(cluster, namespace, tmp_path, None)
    # (No ServiceMonitor here: monitoring's own finding is not part of this chain.)
    roots = {(f["cause"], f["resource"]["kind"]) for f in ours(doc)
             if f["root_cause"] and f["check"] != "monitoring"}
    assert roots == {("issuer-missing", "ClusterIssuer"), ("issuer-not-ready", "Issuer"),
                     ("challenge-failed", "Challenge"), ("challenge-pending", "Challenge"),
                     ("rate-limited", "Order"), ("order-failed", "Order"),
                     ("certificate-not-ready", "Certificate"),
                     ("request-failed", "CertificateRequest")}
    secrets = [f for f in ours(doc) if f["cause"] == "tls-secret-missing"]
    assert len(secrets) == 8
    assert all(s["caused_by"][0]["check"] == "cert-manager" for s in secrets)


def test_servicemonitor_faults(cluster: Any, api: Any, namespace: str, tmp_path: Path) -> None:
    config = edge.edge_monitoring_faults(api, namespace)
    doc = doctor(cluster, namespace, tmp_path, config)
    assert {key(f) for f in ours(doc)} == {
        ("selector-mismatch", "ServiceMonitor", "logos"),
        ("port-missing", "ServiceMonitor", "http-metrics-ok"),
    }
