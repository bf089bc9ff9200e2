"""image-pull, workloads and secrets against the live test cluster, through the CLI.

Each scenario is built in the test's own namespace by the real controllers and kwok's kubelet
stand-in (the same scenario functions the unit fixtures were recorded from); then
`logos-doctor check` runs on it as the on-call would, and must name the cause on the right
object with the right parent, hang the workload's symptom from it, stay quiet on a healthy
stack, and never print a Secret's value.
"""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from k8scluster import logos_stack

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"
OURS = ("image-pull", "workloads", "secrets")


def doctor(
    cluster: Any, namespace: str, tmp_path: Path, config: dict | None, *args: str,
    fmt: str = "json",
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    cmd = [str(PROG), "check", *(args or OURS), "-n", namespace, "-o", fmt,
           "--kubeconfig", str(cluster.kubeconfig), "--fail-on", "never"]  # fmt: skip
    if config:
        path = tmp_path / "logos-doctor.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--config", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def check_json(cluster: Any, namespace: str, tmp_path: Path, config: dict | None,
               *args: str) -> dict[str, Any]:  # fmt: skip
    doc = json.loads(doctor(cluster, namespace, tmp_path, config, *args).stdout)
    bad = [c for c in doc["checks"] if c["id"] in OURS and c["status"] in ("error", "skipped")]
    assert not bad, bad
    return doc


def summary(doc: dict[str, Any], check: str) -> set[tuple[str, str, str]]:
    """(cause, resource kind, resource name) per finding, a pod named ``<its parent>-*``."""
    out = set()
    for f in doc["findings"]:
        if f["check"] != check:
            continue
        res, parent = f["resource"], (f["parent"] or {}).get("name")
        name = res["name"]
        if res["kind"] == "Pod":
            assert parent and name.startswith(parent + "-"), f
            name = parent + "-*"
        out.add((f["cause"], res["kind"], name))
    return out


def test_healthy_stack_gives_no_warning(build: Any, cluster: Any, namespace: str,
                                        tmp_path: Path) -> None:  # fmt: skip
    config = build("healthy_logos")
    doc = check_json(cluster, namespace, tmp_path, config)
    loud = [f for f in doc["findings"] if f["severity"] in ("warning", "critical")]
    assert loud == []


def test_broken_images_each_named_with_their_workload(build: Any, cluster: Any, namespace: str,
                                                      tmp_path: Path) -> None:  # fmt: skip
    config = build("image_pull_faults")
    doc = check_json(cluster, namespace, tmp_path, config)
    assert summary(doc, "image-pull") == {
        ("image-not-found", "Pod", "logos-chat-*"),
        ("unauthorized", "Pod", "logos-web-*"),
        ("not-found-or-denied", "Pod", "logos-redis-master-*"),
        ("registry-unreachable", "Pod", "logos-postgresql-*"),
    }
    assert len([f for f in doc["findings"] if f["check"] == "image-pull"]) == 3 + 3 + 1 + 1
    workloads = {f["resource"]["name"]: f for f in doc["findings"] if f["check"] == "workloads"}
    assert set(workloads) == {"logos-chat", "logos-web", "logos-redis-master", "logos-postgresql"}
    for name, f in workloads.items():
        assert f["cause"] == "unavailable-replicas" and f["severity"] == "critical"
        causes = {(c["check"], c["resource"]["name"]) for c in f["caused_by"]}
        assert causes and all(
            check == "image-pull" and pod.startswith(name) for check, pod in causes
        )


def test_bad_image_on_logos_chat_is_one_tree_ending_at_the_image(
    build: Any, cluster: Any, namespace: str, tmp_path: Path
) -> None:
    """The issue's acceptance scenario: `check --all` on a stack where a release set a bad
    image on logos-chat shows the Deployment's finding *because of* the image-pull cause."""
    config = build("chat_bad_image_rollout")
    image = logos_stack.bad_image(logos_stack.IMAGES["chat"], "notfound")
    doc = check_json(cluster, namespace, tmp_path, config, "--all")
    chat = [f for f in doc["findings"]
            if f["check"] == "workloads" and f["resource"]["name"] == "logos-chat"]  # fmt: skip
    assert len(chat) == 1 and chat[0]["cause"] == "rollout-stuck"
    pulls = [f for f in doc["findings"] if f["check"] == "image-pull"]
    assert len(pulls) == 1 and pulls[0]["cause"] == "image-not-found"
    assert image in pulls[0]["message"]
    assert chat[0]["caused_by"] == [
        {"check": "image-pull", "cause": "image-not-found", "resource": pulls[0]["resource"]}
    ]
    # The human output says so: the Deployment's entry says "because:" of the pull.
    plain = doctor(cluster, namespace, tmp_path, config, "--all", fmt="plain").stdout.splitlines()
    start = next(i for i, x in enumerate(plain) if "workloads/rollout-stuck" in x)
    entry = [plain[start]] + [x for x in plain[start + 1 : start + 4] if x.startswith("    ")]
    text = " ".join(x.strip() for x in entry)  # as read, not as wrapped
    pod = pulls[0]["resource"]["name"]
    assert f"because: image-pull/image-not-found on Pod/{namespace}/{pod}" in text


def test_crash_loops_and_oom_kills(build: Any, cluster: Any, namespace: str,
                                   tmp_path: Path) -> None:  # fmt: skip
    config = build("crashloop_oom")
    doc = check_json(cluster, namespace, tmp_path, config, "workloads")
    assert summary(doc, "workloads") == {
        ("crash-loop", "Pod", "logos-chat-*"),
        ("oom-killed", "Pod", "logos-redis-master-*"),
        ("unavailable-replicas", "Deployment", "logos-chat"),
        ("unavailable-replicas", "StatefulSet", "logos-redis-master"),
    }


def test_missing_pull_secret_is_found_before_and_after_the_pull_fails(
    build: Any, cluster: Any, namespace: str, tmp_path: Path
) -> None:
    config = build("pull_secret_missing")
    doc = check_json(cluster, namespace, tmp_path, config)
    pulls = [f for f in doc["findings"] if f["check"] == "image-pull"]
    assert {f["cause"] for f in pulls} == {"pull-secret-missing"}
    critical = [f for f in pulls if f["severity"] == "critical"]
    assert [f["parent"]["name"] for f in critical] == ["logos-web"]
    assert [c["cause"] for c in critical[0]["caused_by"]] == ["missing-secret"]
    warned = {f["parent"]["name"] for f in pulls if f["severity"] == "warning"}
    assert warned == {"logos-web", "logos-chat", "logos-completion", "logos-indexer"}


def test_secret_faults(build: Any, cluster: Any, namespace: str, tmp_path: Path) -> None:
    config = build("secrets_faults")
    doc = check_json(cluster, namespace, tmp_path, config, "secrets")
    assert summary(doc, "secrets") == {
        ("missing-secret", "Secret", "logos-redis-credentials"),
        ("missing-key", "Secret", "logos-db-credentials"),
        ("wrong-type", "Secret", "regcred"),
    }


def test_a_secrets_value_appears_in_no_snapshot_and_no_output(
    api: Any, cluster: Any, namespace: str, tmp_path: Path
) -> None:
    canary = f"canary-{secrets.token_hex(12)}"
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "logos-api-token"},
        "type": "Opaque",
        "data": {"token": base64.b64encode(canary.encode()).decode()},
        "stringData": {"backup-token": canary},
    })  # fmt: skip
    # A Secret applied with kubectl keeps a copy of itself, values included, in an annotation.
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "logos-applied", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                {"kind": "Secret", "stringData": {"token": canary}})}},
        "stringData": {"token": canary},
    })  # fmt: skip
    config = {
        "namespace": namespace,  # the configured Secrets are expected where Logos runs
        "secrets": [
            {"name": "logos-api-token", "keys": ["token", "rotation-token"]},
            {"name": "logos-applied", "keys": ["token"], "type": "Opaque"},
        ]
    }
    snap = tmp_path / "snap.json.gz"
    proc = subprocess.run(
        [str(PROG), "snapshot", "-n", namespace, "--kubeconfig", str(cluster.kubeconfig),
         "-o", str(snap)], capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    raw = gzip.decompress(snap.read_bytes()).decode()
    assert "backup-token" in raw, "the Secret was recorded, by key name"
    assert canary not in raw and base64.b64encode(canary.encode()).decode() not in raw

    for fmt in ("json", "plain", "markdown", "table"):
        live = doctor(cluster, namespace, tmp_path, config, "secrets", fmt=fmt)
        assert "rotation-token" in live.stdout, "the missing key is reported by name"
        assert canary not in live.stdout + live.stderr, fmt
        offline = subprocess.run(
            [str(PROG), "check", "--all", "--snapshot", str(snap), "-o", fmt, "-v",
             "--fail-on", "never", "--config", str(tmp_path / "logos-doctor.yaml")],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert offline.returncode == 0, offline.stderr
        assert canary not in offline.stdout + offline.stderr, fmt


# -- the real kubelet (scenarios/workload_shapes.py) -------------------------------------------


@pytest.fixture
def real_node() -> None:
    from k8scluster import realnode

    why = realnode.unavailable_reason()
    if why:
        pytest.skip(f"needs the real node: {why}")


def test_missing_secret_keys_are_the_root_of_the_deployment_and_the_service(
    real_node: None, build: Any, cluster: Any, namespace: str, tmp_path: Path
) -> None:
    """issue 14 item 9: the real kubelet refuses to start the pods; `check --all` must put the
    Secret in the root-cause block and hang the Deployment and the Service from it."""
    config = build("secret_blocks_chat")
    doc = check_json(cluster, namespace, tmp_path, config, "--all")
    by = {(f["check"], f["resource"]["kind"], f["resource"]["name"]): f for f in doc["findings"]}
    db = by[("secrets", "Secret", "logos-db-credentials")]
    redis = by[("secrets", "Secret", "logos-redis-credentials")]
    assert (db["cause"], redis["cause"]) == ("missing-key", "missing-secret")
    assert db["root_cause"] and redis["root_cause"]
    pods = {a["name"] for a in db["affected"] if a["kind"] == "Pod"}
    assert len(pods) == 2 and all(p.startswith("logos-chat-") for p in pods)
    assert {"kind": "Deployment", "namespace": namespace, "name": "logos-chat"} in db["affected"]

    def because(key: tuple[str, str, str]) -> set[tuple[str, str]]:
        return {(c["check"], c["resource"]["name"]) for c in by[key]["caused_by"]}

    assert ("secrets", "logos-db-credentials") in because(("workloads", "Deployment", "logos-chat"))
    assert ("secrets", "logos-db-credentials") in because(
        ("service-endpoints", "Service", "logos-chat")
    )
    assert ("secrets", "logos-redis-credentials") in because(
        ("workloads", "Deployment", "logos-web")
    )
    # Every pod-level finding about these pods hangs from the Secret too.
    for f in doc["findings"]:
        if f["resource"]["kind"] == "Pod" and f["resource"]["name"] in pods:
            assert ("secrets", "logos-db-credentials") in {
                (c["check"], c["resource"]["name"]) for c in f["caused_by"]
            }, f


def test_crash_shapes_from_the_real_kubelet(
    real_node: None, build: Any, cluster: Any, namespace: str, tmp_path: Path
) -> None:
    config = build("crash_shapes")
    doc = check_json(cluster, namespace, tmp_path, config, "workloads")
    found = summary(doc, "workloads")
    assert ("crash-loop", "Pod", "logos-chat-*") in found  # running again or in back-off
    assert ("crash-loop", "Pod", "logos-web-*") in found  # Init:CrashLoopBackOff
    assert ("oom-killed", "Pod", "logos-redis-master-*") in found
    assert ("unavailable-replicas", "Deployment", "logos-web") in found
    quiet = {name for _, _, name in found}
    assert not quiet & {"logos-completion-*", "logos-completion", "logos-indexer"}
    web = next(f for f in doc["findings"] if f["message"].startswith("pod logos-web-"))
    assert "init container migrate" in web["message"]


def test_pods_refused_by_quota_are_reported_at_once(
    build: Any, cluster: Any, namespace: str, tmp_path: Path
) -> None:
    """issue 15: the ReplicaSet's FailedCreate is definitive; no two-minute wait."""
    config = build("replicas_refused_by_quota")
    doc = check_json(cluster, namespace, tmp_path, config, "--all")
    (chat,) = [f for f in doc["findings"]
               if f["check"] == "workloads" and f["resource"]["name"] == "logos-chat"]  # fmt: skip
    assert chat["cause"] == "unavailable-replicas" and "refused creation" in chat["message"]
    assert any("exceeded quota: compute-resources" in x for x in chat["evidence"])
    sets = [r for r in chat["depends_on"] if r["kind"] == "ReplicaSet"]
    assert len(sets) == 1
    # The finding that names the quota lists the ReplicaSet or the Deployment as affected;
    # it is the root cause and the Deployment hangs from it.
    explains = [f for f in doc["findings"]
                if sets[0] in f.get("affected", [])
                or {"kind": "Deployment", "namespace": namespace, "name": "logos-chat"}
                in f.get("affected", [])]  # fmt: skip
    for f in explains:
        assert {"check": f["check"], "cause": f["cause"], "resource": f["resource"]} in chat[
            "caused_by"
        ]
