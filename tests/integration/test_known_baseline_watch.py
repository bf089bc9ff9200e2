"""Known findings, baseline and watch on the live test cluster, through the CLI.

The break is one the real control plane makes: ResourceQuota ``webhook-quota`` allows 1Gi of
memory limits, and Deployment logos-chat (pods of 512Mi) is scaled from 1 to 3; the quota
admission plugin refuses the third pod, the ReplicaSet controller records FailedCreate and
ReplicaFailure (tests/k8scluster/scenarios/admission.py).  The fix raises the quota to 4Gi and
the controller creates the pod.  Every wait is on a condition, never a fixed sleep.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from k8scluster.kube import wait_for
from k8scluster.scenarios import admission

pytestmark = pytest.mark.integration

QUOTA = "admission/quota-exceeded"


def doctor(cluster: Any, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "logos_doctor", *args, "--kubeconfig", str(cluster.kubeconfig)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=cwd)


def healthy(api: Any, namespace: str) -> None:
    """The quota with room, and logos-chat at one available replica."""
    admission.quota(api, namespace, "webhook-quota", {"limits.memory": "1Gi", "pods": "20"})
    container = {
        "name": "denied",
        "image": admission.IMAGE,
        "resources": {
            "limits": {"memory": "512Mi", "cpu": "500m"},
            "requests": {"memory": "256Mi", "cpu": "100m"},
        },
    }
    admission.create(
        api, namespace, admission.deployment(namespace, "logos-chat", "chat", 1, [container])
    )
    apps = client.AppsV1Api(api)
    wait_for(
        lambda: (
            (
                apps.read_namespaced_deployment("logos-chat", namespace).status.available_replicas
                or 0
            )
            == 1
        ),
        90,
        "logos-chat available",
    )


def scale_beyond_quota(api: Any, namespace: str) -> None:
    client.AppsV1Api(api).patch_namespaced_deployment_scale(
        "logos-chat", namespace, {"spec": {"replicas": 3}}
    )
    admission.wait_refused(api, namespace, "logos-chat", pods=2)


def raise_quota(api: Any, namespace: str) -> None:
    client.CoreV1Api(api).patch_namespaced_resource_quota(
        "webhook-quota", namespace, {"spec": {"hard": {"limits.memory": "4Gi"}}}
    )

    def recovered() -> bool:
        return all(
            rs.status.replicas == 3
            and not any(c.type == "ReplicaFailure" for c in rs.status.conditions or [])
            for rs in admission.replica_sets(api, namespace, "logos-chat")
        )

    wait_for(recovered, 90, "logos-chat to get its third pod", interval=0.25)


def by_cause(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{f['check']}/{f['cause']}": f for f in findings}


# -- ignore file -----------------------------------------------------------------------------


def test_ignore_entry_silences_a_real_finding_and_an_expired_one_does_not(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    healthy(api, namespace)
    scale_beyond_quota(api, namespace)
    args = ("check", "admission", "workloads", "-n", namespace)
    live = doctor(cluster, *args, "-o", "json", cwd=tmp_path)
    assert live.returncode == 1, live.stderr
    assert by_cause(json.loads(live.stdout)["findings"])[QUOTA]["root_cause"]

    # The default file in the current directory; patterns are globs on cause and object.
    ignore = tmp_path / ".logos-doctor-ignore.yaml"
    entry = {
        "check": "admission",
        "cause": "quota-*",
        "kind": "ResourceQuota",
        "namespace": namespace,
        "name": "webhook-*",
        "reason": "quota raise in CHG-7",
    }
    ignore.write_text(json.dumps({"ignore": [{**entry, "expires": "2099-12-31"}]}))
    quiet = doctor(cluster, *args, "-o", "json", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stdout  # nothing unsilenced is left to fail on
    doc = json.loads(quiet.stdout)
    assert doc["findings"] == []
    silenced = by_cause(doc["silenced"])
    assert silenced[QUOTA]["reason"] == "quota raise in CHG-7"
    assert silenced[QUOTA]["resource"]["name"] == "webhook-quota"
    # The Deployment it leaves unavailable follows it instead of becoming a root cause.
    symptom = silenced["workloads/unavailable-replicas"]
    assert symptom["follows"]["resource"]["name"] == "webhook-quota"
    plain = doctor(cluster, *args, "-o", "plain", cwd=tmp_path)
    assert "2 silenced by .logos-doctor-ignore.yaml (-v)" in plain.stdout.replace("\n  ", " ")
    assert "silenced: warning admission/quota-exceeded" not in plain.stdout
    verbose = doctor(cluster, *args, "-o", "plain", "-v", cwd=tmp_path)
    assert "silenced: warning admission/quota-exceeded" in verbose.stdout.replace("\n    ", " ")

    # Expired yesterday: it silences nothing and says so.
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    ignore.write_text(json.dumps({"ignore": [{**entry, "expires": yesterday}]}))
    loud = doctor(cluster, *args, "-o", "json", cwd=tmp_path)
    assert loud.returncode == 1
    doc = json.loads(loud.stdout)
    assert by_cause(doc["findings"])[QUOTA]["root_cause"]
    assert doc["silenced"] == [] and doc["ignore"]["expired"][0]["expires"] == yesterday
    text = doctor(cluster, *args, "-o", "plain", cwd=tmp_path).stdout.replace("\n    ", " ")
    assert "entry 1 (check=admission cause=quota-*" in text
    assert f"expired on {yesterday}; it no longer silences" in text

    # A malformed file elsewhere, by flag: one line saying what is wrong.
    bad = tmp_path / "bad.yaml"
    bad.write_text("ignore:\n  - check: admission\n")
    err = doctor(cluster, *args, "--ignore-file", str(bad))
    assert err.returncode == 3
    assert err.stderr.strip().splitlines() == [
        f"logos-doctor: error: ignore file {bad}: entry 1: 'reason' is required "
        "(say why it is known)"
    ]


# -- baseline --------------------------------------------------------------------------------


def test_baseline_marks_the_break_new_then_still_then_gone(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    healthy(api, namespace)
    before = tmp_path / "before.json"
    first = doctor(cluster, "check", "--all", "-n", namespace, "-o", "json", "--fail-on", "never")
    assert first.returncode == 0, first.stderr
    assert QUOTA not in by_cause(json.loads(first.stdout)["findings"])
    before.write_text(first.stdout)
    # Unrelated findings already there (the Secrets the config expects): --fail-on new passes.
    same = doctor(
        cluster,
        "check",
        "--all",
        "-n",
        namespace,
        "--baseline",
        str(before),
        "--fail-on",
        "new",
        "-o",
        "json",
    )
    assert same.returncode == 0, same.stdout
    assert json.loads(same.stdout)["baseline"]["new"] == 0

    scale_beyond_quota(api, namespace)
    broken = doctor(
        cluster,
        "check",
        "--all",
        "-n",
        namespace,
        "--baseline",
        str(before),
        "--fail-on",
        "new",
        "-o",
        "json",
    )
    assert broken.returncode == 1, broken.stderr
    doc = json.loads(broken.stdout)
    quota = by_cause(doc["findings"])[QUOTA]
    assert quota["baseline"] == "new" and quota["root_cause"]
    assert by_cause(doc["findings"])["workloads/unavailable-replicas"]["baseline"] == "new"
    assert {f["baseline"] for f in doc["findings"] if f["check"] == "secrets"} <= {"still"}
    assert doc["baseline"]["gone"] == []

    after = tmp_path / "after.json"
    after.write_text(broken.stdout)  # a baseline file carrying a baseline is still one
    still = doctor(
        cluster,
        "check",
        "--all",
        "-n",
        namespace,
        "--baseline",
        str(after),
        "--fail-on",
        "new",
        "-o",
        "json",
    )
    assert still.returncode == 0, still.stdout
    assert by_cause(json.loads(still.stdout)["findings"])[QUOTA]["baseline"] == "still"

    raise_quota(api, namespace)
    fixed = doctor(
        cluster,
        "check",
        "--all",
        "-n",
        namespace,
        "--baseline",
        str(after),
        "--fail-on",
        "new",
        "-o",
        "plain",
    )
    assert fixed.returncode == 0, fixed.stdout
    text = fixed.stdout.replace("\n    ", " ")
    assert f"gone: warning {QUOTA} ResourceQuota/{namespace}/webhook-quota" in text
    assert "[still] CRITICAL secrets/missing-secret" in text


# -- watch -----------------------------------------------------------------------------------


# The watch is stopped as a terminal's Ctrl-C stops it, with SIGINT.  A process started with
# SIGINT ignored (a background job of a non-interactive shell, as CI runners often start the
# suite) passes that on to its children, and Python then installs no KeyboardInterrupt
# handler: ``check --watch`` would rightly ignore the signal, as any program does under
# ``nohup`` or ``&``.  So the child is started through ``signal.signal(SIGINT, SIG_DFL)`` and
# ``exec``, whatever the suite inherited (with SIGINT ignored, this test used to wait out its
# 60 s after every assertion had passed).
INTERRUPTIBLE = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'logos_doctor', *sys.argv[1:]])",
]


class Blocks:
    """The refresh blocks of a running ``check --watch``, read as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        lines: list[str] = []
        for line in self.proc.stdout:
            if line.strip() == "" and lines:
                self.queue.put("".join(lines))
                lines = []
            elif line.strip():
                lines.append(line)
        self.queue.put(None)

    def next(self, timeout: float = 60) -> str:
        block = self.queue.get(timeout=timeout)
        assert block is not None, f"watch ended: {self.proc.wait()} {self.proc.stderr}"
        assert block.startswith("=== refresh "), block
        self.seen.append(block)
        return block

    def drain(self) -> int:
        """Take the blocks already printed; how many there were."""
        n = 0
        while True:
            try:
                block = self.queue.get_nowait()
            except queue.Empty:
                return n
            assert block is not None
            self.seen.append(block)
            n += 1


def roots(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.startswith("  ") and QUOTA in line]


def test_watch_shows_a_break_new_and_its_fix_gone_within_a_refresh(
    cluster: Any, api: Any, namespace: str
) -> None:
    healthy(api, namespace)
    cmd = [
        *INTERRUPTIBLE,
        "check",
        "--all",
        "-n",
        namespace,
        "--watch",
        "1",
        "--kubeconfig",
        str(cluster.kubeconfig),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        blocks = Blocks(proc)
        first = blocks.next()
        assert first.startswith("=== refresh 1 ")
        assert QUOTA not in first and "new:" not in first and "gone:" not in first

        # Break it; the refresh that first sees the refusal marks it new.
        start = len(blocks.seen)
        scale_beyond_quota(api, namespace)
        start_after = len(blocks.seen) + blocks.drain()
        while not any(QUOTA in b for b in blocks.seen[start:]):
            blocks.next()
        seen = next(b for b in blocks.seen[start:] if QUOTA in b)
        assert blocks.seen.index(seen) <= start_after + 1  # at most one refresh late
        assert any(line.startswith(f"  [new] WARNING {QUOTA} ") for line in seen.splitlines())
        assert f"  new: warning {QUOTA} ResourceQuota/{namespace}/webhook-quota" in seen
        later = blocks.next()
        assert roots(later) and "[new]" not in later  # still there: no longer new

        # Fix it; the first refresh after the controller recovered lists it gone.
        start = len(blocks.seen)
        raise_quota(api, namespace)
        start_after = len(blocks.seen) + blocks.drain()
        while not any(f"gone: warning {QUOTA}" in b for b in blocks.seen[start:]):
            blocks.next()
        gone = next(b for b in blocks.seen[start:] if f"gone: warning {QUOTA}" in b)
        assert blocks.seen.index(gone) <= start_after + 1
        assert f"  gone: warning {QUOTA} ResourceQuota/{namespace}/webhook-quota" in gone
        assert not roots(gone) or all("gone:" in line for line in roots(gone))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    numbers = [int(b.split()[2]) for b in blocks.seen]
    assert numbers == list(range(1, len(numbers) + 1))  # one block per refresh, in order


def test_a_watch_refresh_leaves_its_state_to_the_collector_and_a_one_shot_fetch_freezes(
    cluster: Any, api: Any, namespace: str
) -> None:
    """``check --watch`` fetches again and again: a refresh must not move what it made to the
    collector's permanent generation (``gc.freeze``), where a garbage cycle alive at that
    moment would stay for the life of the watch, one more at every refresh.  A one-shot
    fetch, whose state lives until exit, still freezes (what the first half holds against)."""
    import gc

    from logos_doctor.cluster.collect import fetch_live, kinds_for, resolve_scope
    from logos_doctor.config import load_config
    from logos_doctor.outcome import Target
    from logos_doctor.registry import default_registry
    from logos_doctor.watch import live_refresh

    healthy(api, namespace)
    chosen = list(default_registry())
    config = load_config()
    kubeconfig = str(cluster.kubeconfig)
    refresh = live_refresh(
        chosen,
        config,
        kubeconfig=kubeconfig,
        context=None,
        namespace=namespace,
        all_namespaces=False,
        timeout=30,
        page_size=500,
        ignore=None,
    )
    gc.unfreeze()
    try:
        for _ in range(2):
            report = refresh()
            assert report.state.list_of("deployments"), "the refresh listed nothing"
            assert gc.get_freeze_count() == 0
        scope = resolve_scope(namespace, False, config)
        fetch_live(Target(kubeconfig, None), kinds_for(chosen, scope), scope, timeout=30)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
