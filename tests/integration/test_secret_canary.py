"""Secret values never leave the cluster through logos-doctor, whatever the command.

Scenario: the Logos Secrets hold a unique canary value, in ``stringData``, in ``data``
(base64), inside a ``.dockerconfigjson``, and (because they were created with
``kubectl apply``) inside the ``last-applied-configuration`` annotation, where kubectl keeps a
full copy of the object.  Then every command that reads the cluster runs against that
namespace: ``check`` in every output format (the rich one under a pseudo-terminal), with and
without ``-v``; ``snapshot`` to plain and gzip files; runs that fail with ``--debug`` (a
traceback); ``serve`` with debug logging and a scrape of ``/metrics``; ``runbook run`` of the
secrets runbook's diagnosis (its ``kubectl describe secret`` included) with a transcript;
``fix pvc --dry-run``; ``checks`` and ``rbac``.  The canary, raw or base64-encoded at any
alignment, must appear in no stdout, no stderr, and no file any of them wrote (HOME and the
XDG folders point into the test's own directory, so default locations are searched too).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from faultproxy import Fault, FaultProxy
from terminal import run_in_pty

pytestmark = pytest.mark.integration

KUBECTL_DIR = Path.home() / ".cache" / "logos-doctor" / "k8s-v1.37.2" / "bin"


def forms(value: str) -> list[bytes]:
    """The canary raw, and the part of its base64 that is the same at every byte alignment."""
    raw = value.encode()
    found = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        found.append(encoded[4:-4])  # drop the chunks shared with neighbouring bytes
    return found


@pytest.fixture(scope="module")
def canary() -> str:
    return f"canary-{secrets.token_hex(16)}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """HOME and XDG folders inside the test directory, kubectl on PATH, no colour tricks."""
    home = tmp_path / "home"
    out = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "KUBECONFIG")}
    out.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PATH=f"{KUBECTL_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    home.mkdir()
    return out


@pytest.fixture
def seeded(cluster: Any, api: Any, namespace: str, canary: str, tmp_path: Path) -> str:
    dockercfg = {
        "auths": {
            "registry.logos.example": {
                "username": "logos-ci",
                "password": canary,
                "auth": base64.b64encode(f"logos-ci:{canary}".encode()).decode(),
            }
        }
    }
    applied = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "logos-db-credentials", "namespace": namespace},
            "type": "Opaque",
            "stringData": {"password": canary, "postgres-password": canary},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "logos-redis-credentials", "namespace": namespace},
            "type": "Opaque",
            "data": {"redis-password": base64.b64encode(canary.encode()).decode()},
        },
    ]
    manifest = tmp_path / "secrets.yaml"
    manifest.write_text(yaml.safe_dump_all(applied))
    subprocess.run(
        [
            str(KUBECTL_DIR / "kubectl"),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "apply",
            "-f",
            str(manifest),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    manifest.unlink()
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "regcred"},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": json.dumps(dockercfg)},
        },
    )
    # One key missing, so `check` has a secrets finding to render (with key names only).
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "logos-extra", "annotations": {"why": "decoy"}},
            "stringData": {"token": canary},
        },
    )
    stored = core.read_namespaced_secret("logos-db-credentials", namespace)
    last = stored.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]
    assert canary in last  # the trap is set: kubectl keeps the value in an annotation
    return namespace


@pytest.fixture
def config(tmp_path: Path, seeded: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "namespace": seeded,  # the configured Secrets are expected where Logos runs
                "secrets": [
                    {"name": "logos-db-credentials", "keys": ["password", "postgres-password"]},
                    {"name": "logos-redis-credentials", "keys": ["redis-password", "missing"]},
                    {
                        "name": "regcred",
                        "keys": [".dockerconfigjson"],
                        "type": "kubernetes.io/dockerconfigjson",
                    },
                ]
            }
        )
    )
    return path


class Leaks:
    """Everything the commands printed or wrote, searched for the canary at the end."""

    def __init__(self, canary: str) -> None:
        self.patterns = forms(canary)
        self.outputs: list[tuple[str, bytes]] = []

    def add(self, where: str, data: bytes) -> None:
        self.outputs.append((where, data))

    def run(
        self,
        args: list[str],
        env: dict[str, str],
        *,
        expect: int | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [sys.executable, "-m", "logos_doctor", *args],
            capture_output=True,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        name = " ".join(args[:3])
        self.add(f"stdout of {name}", proc.stdout)
        self.add(f"stderr of {name}", proc.stderr)
        if expect is not None:
            assert proc.returncode == expect, (args, proc.stderr.decode()[-2000:])
        return proc

    def files(self, root: Path) -> None:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                self.add(str(path), data)

    def found(self) -> list[str]:
        return [where for where, data in self.outputs if any(p in data for p in self.patterns)]


@pytest.fixture
def leaks(canary: str) -> Leaks:
    return Leaks(canary)


def test_check_and_snapshot_never_show_a_secret_value(
    cluster: Any, seeded: str, config: Path, env: dict[str, str], leaks: Leaks, tmp_path: Path
) -> None:
    base = ["-n", seeded, "--kubeconfig", str(cluster.kubeconfig), "--config", str(config)]
    for fmt in ("plain", "json", "markdown", "junit", "prometheus"):
        for verbose in ([], ["-v"]):
            proc = leaks.run(["check", *base, "-o", fmt, *verbose], env, expect=1)
            if fmt == "json":  # the finding is there, naming the key, not its value
                causes = {(f["check"], f["cause"]) for f in json.loads(proc.stdout)["findings"]}
                assert ("secrets", "missing-key") in causes
    _, out, err = run_in_pty([sys.executable, "-m", "logos_doctor", "check", *base, "-v"], env=env)
    leaks.add("stderr of the rich table", err)
    assert b"missing-key" in out  # the rich view rendered the finding
    leaks.add("rich table in a terminal", out)

    for name in ("snap.json", "snap.json.gz"):
        leaks.run(["snapshot", *base, "-o", str(tmp_path / "out" / name)], env, expect=0)
    doc = json.loads((tmp_path / "out" / "snap.json").read_text())
    kept = {s["metadata"]["name"]: s for s in doc["objects"]["secrets"]}
    assert kept["logos-db-credentials"]["dataKeys"] == ["password", "postgres-password"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in json.dumps(kept)
    leaks.run(
        [
            "check",
            "--snapshot",
            str(tmp_path / "out" / "snap.json.gz"),
            "-o",
            "json",
            "--config",
            str(config),
        ],
        env,
        expect=1,
    )

    leaks.run(["checks"], env, expect=0)
    leaks.run(["checks", "-o", "json"], env, expect=0)
    leaks.run(["rbac", "-n", seeded], env)
    leaks.files(tmp_path)
    assert leaks.found() == []


def test_failing_debug_runs_never_show_a_secret_value(
    cluster: Any, seeded: str, config: Path, env: dict[str, str], leaks: Leaks, tmp_path: Path
) -> None:
    base = ["-n", seeded, "--kubeconfig", str(cluster.kubeconfig), "--config", str(config)]
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    # Fetches everything, then cannot write the file: a traceback with --debug.
    proc = leaks.run(["--debug", "snapshot", *base, "-o", str(blocker / "s.json")], env)
    assert proc.returncode == 3 and b"Traceback" in proc.stderr

    with FaultProxy(cluster.kubeconfig, tmp_path / "proxy") as proxy:
        kubeconfig = proxy.kubeconfig(tmp_path / "proxy.kubeconfig")
        base = ["-n", seeded, "--kubeconfig", str(kubeconfig), "--config", str(config)]
        # Credentials rejected half-way: secrets are listed, pods get a 401.
        proxy.add(Fault(f"/api/v1/namespaces/{seeded}/pods", "status", 401))
        proc = leaks.run(["--debug", "check", *base, "-o", "json", "--timeout", "5"], env)
        assert proc.returncode == 3 and b"Traceback" in proc.stderr
        assert proxy.count(f"/api/v1/namespaces/{seeded}/secrets") >= 1
        proxy.clear()
        # The secrets list itself arrives cut off: the parse error must not quote the body.
        proxy.add(Fault(f"/api/v1/namespaces/{seeded}/secrets", "truncate"))
        proc = leaks.run(["--debug", "check", *base, "-o", "json", "--timeout", "2"], env)
        assert b"invalid or truncated JSON for secrets" in proc.stdout
    leaks.files(tmp_path)
    assert leaks.found() == []


def test_serve_never_exports_a_secret_value(
    cluster: Any, seeded: str, config: Path, env: dict[str, str], leaks: Leaks
) -> None:
    args = [
        sys.executable,
        "-m",
        "logos_doctor",
        "--debug",
        "serve",
        "-n",
        seeded,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--config",
        str(config),
        "--port",
        "0",
        "--interval",
        "1",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stderr is not None
        port = None
        deadline = time.monotonic() + 60
        seen = b""
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen += line
            match = re.search(rb"listening on http://[^:]+:(\d+)/metrics", line)
            port = int(match.group(1)) if match else None
        assert port, seen
        metrics = b""
        while b"missing-key" not in metrics and time.monotonic() < deadline:
            time.sleep(0.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                metrics = r.read()
        assert b'cause="missing-key"' in metrics
        leaks.add("/metrics", metrics)
        time.sleep(2)  # a few more runs' debug logs
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    leaks.add("serve stdout", out)
    leaks.add("serve stderr", seen + err)
    assert leaks.found() == []


def test_runbook_run_and_fix_never_show_a_secret_value(
    cluster: Any,
    api: Any,
    seeded: str,
    config: Path,
    env: dict[str, str],
    leaks: Leaks,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    canary: str,
) -> None:
    transcript = tmp_path / "transcript.md"
    # The operator's file of new values, outside the searched folder (it holds the canary by
    # design): with it, the step that reads values (--from-env-file) really runs.
    creds = tmp_path_factory.mktemp("operator-input") / "creds.env"
    new_values = {"password": f"{canary}-rotated", "postgres-password": f"{canary}-rotated-pg"}
    creds.write_text("".join(f"{k}={v}\n" for k, v in new_values.items()))
    proc = leaks.run(
        [
            "runbook",
            "run",
            "secrets#missing-key",
            "--yes",
            "--yes-changes",
            "-n",
            seeded,
            "-p",
            "secret=logos-db-credentials",
            "-p",
            f"env_file={creds}",
            "--transcript",
            str(transcript),
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        env,
    )
    text = transcript.read_text()
    assert "kubectl describe secret logos-db-credentials" in text
    assert "postgres-password" in text  # describe ran and listed the key names
    assert f"--from-env-file={creds}" in text  # the value-handling step is in the record
    assert proc.returncode == 0, proc.stdout.decode()[-2000:]
    # ... and it ran: the Secret now holds the file's values (read here, never printed).
    stored = client.CoreV1Api(api).read_namespaced_secret("logos-db-credentials", seeded).data
    assert {k: base64.b64decode(v).decode() for k, v in stored.items()} == new_values
    leaks.run(
        [
            "fix",
            "pvc",
            "--dry-run",
            "--yes",
            "--wait",
            "0",
            "-n",
            seeded,
            "--state-dir",
            str(tmp_path / "fixes"),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--config",
            str(config),
        ],
        env,
    )
    leaks.files(tmp_path)
    assert leaks.found() == []
