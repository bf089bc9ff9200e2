"""Untrusted cluster content in the on-call's terminal: shown, escaped, never obeyed.

Scenario: anyone who can create a Deployment controls strings logos-doctor prints.  A bad
actor (or a broken CI script) deploys an image whose reference carries terminal escapes
(clear screen, set the window title, ring the bell), rich markup that would fake a severity or
a link, a right-to-left override, and creates a Warning Event of 100 kB with the same.  The
kubelet then quotes that image in its messages.  `check` must show all of it as inert text:
no escape sequence reaches the terminal raw, no markup is interpreted, a bidi override cannot
reorder the line, and the huge message is cut to a readable length, in the rich view under a
real pseudo-terminal and in every piped format.  A finding file edited to carry shell syntax
in a name must not reach bash through `runbook run`.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from k8scluster.kube import wait_for
from terminal import run_in_pty

pytestmark = pytest.mark.integration

ESCAPES = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b[1;31m"
MARKUP = "[bold red]CRITICAL[/] [link=http://evil.example]click[/link]"
BIDI = "\u202egnp.exe\u202c"
ODD = "e\u0301\u200d👩‍💻名前\u00a0"
HUGE = "A" * 100_000
RAW = [b"\x1b[2J", b"\x1b[H", b"\x1b]0;", b"\x07", b"\x1b]8;", "\u202e".encode()]


@pytest.fixture(scope="module")
def hostile(api: Any) -> Iterator[str]:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = f"t-{secrets.token_hex(4)}"
    core.create_namespace(
        {"metadata": {"name": ns, "labels": {"logos-doctor.test/owner": "pytest"}}}
    )
    wait_for(lambda: core.read_namespaced_service_account("default", ns), 30, "default SA")
    image = f"registry.logos-test.invalid/notfound/logos/{ESCAPES}{MARKUP}{BIDI}{ODD}:1"
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "hostile", "annotations": {"note": ESCAPES + MARKUP + HUGE}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "hostile"}},
                "template": {
                    "metadata": {"labels": {"app": "hostile"}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
            },
        },
    )
    claim = core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "hostile-claim"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"ssd-{ns}",  # never created: the claim stays Pending
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    core.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "hostile-claim.hostile"},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": ns,
                "name": "hostile-claim",
                "uid": claim.metadata.uid,
            },
            "reason": "ProvisioningFailed",
            "type": "Warning",
            "count": 99,
            "message": f"{ESCAPES}{MARKUP}{BIDI}\r\nFAKE: all checks passed\n{ODD}{HUGE}",
            "source": {"component": f"{ESCAPES}persistentvolume-controller"},
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )

    def pulling_failed() -> bool:
        pods = core.list_namespaced_pod(ns).items
        return any(
            (cs.state.waiting and cs.state.waiting.reason in ("ErrImagePull", "ImagePullBackOff"))
            for p in pods
            for cs in (p.status.container_statuses or [])
        )

    wait_for(pulling_failed, 60, "the hostile pod to fail pulling its image")
    yield ns
    with contextlib.suppress(ApiException):
        core.delete_namespace(ns, propagation_policy="Background")


def _doctor(*args: str) -> list[str]:
    return [sys.executable, "-m", "logos_doctor", *args]


SGR = re.compile(rb"\x1b\[[0-9;]*m")  # rich's own colours: the only escapes allowed out


def assert_inert(out: bytes, *, terminal: bool) -> str:
    """Nothing from the cluster reaches the terminal raw; the text is there, escaped."""
    for seq in RAW:
        assert seq not in out, seq
    if terminal:
        out = out.replace(b"\r\n", b"\n")  # the pty's own newline translation
        assert b"\x1b" not in SGR.sub(b"", out)
    else:
        assert b"\x1b" not in out
    assert b"\r" not in out
    text = out.decode()
    assert "A" * 600 not in text  # the 100 kB message is cut
    assert len(out) < 64_000
    return SGR.sub(b"", out.replace(b"\r\n", b"\n")).decode()


def test_rich_table_in_a_terminal_shows_hostile_text_inert(cluster: Any, hostile: str) -> None:
    rc, out, err = run_in_pty(
        _doctor("check", "-v", "-n", hostile, "--kubeconfig", str(cluster.kubeconfig))
    )
    assert b"Traceback" not in err
    assert rc == 1
    text = assert_inert(out, terminal=True)
    assert "image-pull/image-not-found" in text
    assert MARKUP in text  # printed literally, not interpreted
    assert "\\x1b[2J" in text  # the escape is shown as text
    assert "⏎ FAKE: all checks passed" in text  # the CR/LF folded: no forged line of its own


@pytest.mark.parametrize("fmt", ["plain", "markdown", "junit", "prometheus"])
def test_piped_formats_show_hostile_text_inert(cluster: Any, hostile: str, fmt: str) -> None:
    proc = subprocess.run(
        _doctor("check", "-v", "-n", hostile, "-o", fmt, "--kubeconfig", str(cluster.kubeconfig)),
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in proc.stderr
    assert proc.returncode == 1
    text = assert_inert(proc.stdout, terminal=False)
    assert "image-not-found" in text


def test_json_escapes_control_characters(cluster: Any, hostile: str) -> None:
    proc = subprocess.run(
        _doctor("check", "-n", hostile, "-o", "json", "--kubeconfig", str(cluster.kubeconfig)),
        capture_output=True,
        timeout=120,
    )
    for seq in RAW:
        assert seq not in proc.stdout
    doc = json.loads(proc.stdout)  # the raw text survives for machines, as JSON escapes
    messages = [f["message"] for f in doc["findings"] if f["check"] == "image-pull"]
    assert any(ESCAPES in m and MARKUP in m for m in messages)


@pytest.mark.parametrize(
    "name",
    ["x;touch {marker}", "$(touch {marker})", "`touch {marker}`", "a\ntouch {marker}"],
)
def test_hostile_name_in_a_finding_file_never_reaches_bash(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    finding = {
        "check": "pvc-pending",
        "cause": "storage-class-missing",
        "resource": {
            "kind": "PersistentVolumeClaim",
            "namespace": "logos",
            "name": name.format(marker=marker),
        },
        "runbook": {"id": "pvc-pending", "cause": "storage-class-missing"},
    }
    report = tmp_path / "findings.json"
    report.write_text(json.dumps({"findings": [finding]}))
    proc = subprocess.run(
        _doctor(
            "runbook",
            "run",
            "--finding-from",
            str(report),
            "--yes",
            "--yes-changes",
            "--transcript",
            str(tmp_path / "t.md"),
            "--kubeconfig",
            str(tmp_path / "none"),
        ),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert not marker.exists()
    assert "Traceback" not in proc.stderr
    assert proc.returncode != 0
    assert "is not valid" in proc.stderr
