"""A TLS Secret's key never leaves the cluster through logos-doctor, though its certificate is read.

For `kubernetes.io/tls` Secrets the fetcher parses `tls.crt` to keep the certificate's public
facts: the one place where a Secret's data is read at all. Scenario: a TLS Secret, applied
with `kubectl apply` (so kubectl also keeps a full copy, key included, in its
last-applied-configuration annotation), whose `tls.key` holds a canary inside a PEM block, and
whose expired certificate gives `check` something to say about it. `check` in every format,
with `-v` and `--debug`, `snapshot` (plain and gzip), `check --snapshot` on it: the canary, raw
or base64 at any alignment, is in no output and no file, while the certificate's expiry is.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from k8scluster import logos_stack
from k8scluster.scenarios.edge import ingress, tls_pair, web_services

pytestmark = pytest.mark.integration

KUBECTL = Path.home() / ".cache" / "logos-doctor" / "k8s-v1.37.2" / "bin" / "kubectl"


def forms(value: str) -> list[bytes]:
    """The canary raw, and the part of its base64 that is the same at every byte alignment."""
    raw = value.encode()
    return [raw, *(base64.b64encode(b"\0" * shift + raw)[4:-4] for shift in range(3))]


@pytest.fixture
def seeded(cluster: Any, api: Any, namespace: str, tmp_path: Path) -> tuple[str, str]:
    canary = f"tlskeycanary{secrets.token_hex(16)}"
    crt, _ = tls_pair(
        ["logos.example.com"], not_before=timedelta(days=-90), not_after=timedelta(days=-3)
    )
    key = f"-----BEGIN PRIVATE KEY-----\n{canary}\n-----END PRIVATE KEY-----\n".encode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "logos-tls", "namespace": namespace},
        "data": {
            "tls.crt": base64.b64encode(crt).decode(),
            "tls.key": base64.b64encode(key).decode(),
        },
    }
    manifest = tmp_path / "tls.yaml"
    manifest.write_text(yaml.safe_dump(secret))
    subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(cluster.kubeconfig), "apply", "-f", str(manifest)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    manifest.unlink()
    stored = client.CoreV1Api(api).read_namespaced_secret("logos-tls", namespace)
    last = stored.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]
    assert any(p in last.encode() for p in forms(canary))  # the trap is set
    for obj in [
        *web_services(namespace),
        ingress(namespace, "logos", "logos.example.com", "logos-tls"),
    ]:
        logos_stack._create(api, obj)
    return namespace, canary


def test_the_key_of_a_parsed_tls_secret_never_shows(
    cluster: Any, seeded: tuple[str, str], tmp_path: Path
) -> None:
    ns, canary = seeded
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    env.pop("KUBECONFIG", None)
    outputs: list[tuple[str, bytes]] = []

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [sys.executable, "-m", "logos_doctor", *args],
            capture_output=True,
            env=env,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        outputs.extend([(f"stdout {args[:2]}", proc.stdout), (f"stderr {args[:2]}", proc.stderr)])
        return proc

    base = ["-n", ns, "--kubeconfig", str(cluster.kubeconfig)]
    for fmt in ("plain", "json", "markdown", "junit", "prometheus"):
        run("check", "ingress", *base, "-o", fmt, "-v")
    proc = run("check", "ingress", *base, "-o", "json")
    causes = {(f["cause"], f["resource"]["name"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("certificate-expired", "logos-tls") in causes  # the certificate was read
    run("check", "--all", *base, "--debug", "-o", "json")
    snaps = tmp_path / "snaps"
    for name in ("snap.json", "snap.json.gz"):
        assert run("snapshot", *base, "-o", str(snaps / name)).returncode == 0
    doc = json.loads((snaps / "snap.json").read_text())
    (kept,) = [s for s in doc["objects"]["secrets"] if s["metadata"]["name"] == "logos-tls"]
    assert kept["dataKeys"] == ["tls.crt", "tls.key"]
    assert set(kept["certificate"]) == {
        "notBefore",
        "notAfter",
        "dnsNames",
        "subjectCN",
        "issuerCN",
    }
    run("check", "--all", "--snapshot", str(snaps / "snap.json.gz"), "-o", "json", "-v")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            outputs.append((str(path), gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data))
    patterns = forms(canary)
    assert [w for w, data in outputs if any(p in data for p in patterns)] == []
