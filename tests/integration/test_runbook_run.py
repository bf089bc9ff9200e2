"""`logos-doctor runbook run` driven end to end on the real test cluster, answers on stdin.

Scenario 1: Logos deployed while its StorageClass is missing (a per-test class name).  The
on-call engineer takes the pvc-pending finding from `check -o json` into the runbook: a dry
run changes nothing; a first run refuses the change step, so the class stays absent; a second
run accepts it, the class is created and the PostgreSQL claim binds.

Scenario 2: a logos-chat release with an image tag that does not exist, with a canary value
seeded into the pull secret.  The ImagePullBackOff runbook diagnoses it from the finding,
the rollback is refused then accepted, a run against a pod that does not exist stops at its
failing step, and no transcript or output ever contains a Secret's value.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from k8scluster import logos_stack
from k8scluster.cluster import build_binaries
from k8scluster.kube import wait_for
from k8scluster.scenarios import cleanup_cluster_scoped
from k8scluster.scenarios.storage import class_name, storage_class_missing
from k8scluster.scenarios.workloads import deploy_stack, pods, wait_pods, waiting

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"
CANARY = "canary-7c1d-runbook-must-never-print-this"


@pytest.fixture(scope="module")
def child_env() -> dict[str, str]:
    """PATH with the cluster's own kubectl first: runbook steps call `kubectl`."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(build_binaries()), str(PROG.parent), env.get("PATH", "")])
    env.pop("KUBECONFIG", None)
    env.pop("LOGOS_DOCTOR_KUBECONFIG", None)
    env["NO_COLOR"] = "1"
    return env


def doctor(
    env: dict[str, str], *args: str, stdin: str = "", timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROG), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def findings_file(
    env: dict[str, str], kubeconfig: Path, namespace: str, config: Path, check: str, out: Path
) -> list[dict[str, Any]]:
    result = doctor(
        env,
        "check",
        check,
        "-n",
        namespace,
        "--kubeconfig",
        str(kubeconfig),
        "--config",
        str(config),
        "-o",
        "json",
    )
    assert result.returncode in (0, 1), result.stderr
    out.write_text(result.stdout)
    return list(json.loads(result.stdout)["findings"])


def step_section(transcript: str, step_id: str) -> str:
    """The transcript's section for one step."""
    start = transcript.index(f". {step_id} (")
    end = transcript.find("\n### ", start)
    return transcript[start : end if end >= 0 else None]


def storage_class_exists(api: Any, name: str) -> bool:
    try:
        client.StorageV1Api(api).read_storage_class(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def secret_values(api: Any, namespace: str) -> set[str]:
    """Every Secret value in the namespace (decoded), long enough to search for."""
    values: set[str] = set()
    for secret in client.CoreV1Api(api).list_namespaced_secret(namespace).items:
        for raw in (secret.data or {}).values():
            text = base64.b64decode(raw).decode("utf-8", errors="replace")
            values |= {text, *(line for line in text.splitlines() if len(line) >= 12)}
    return {v for v in values if len(v) >= 8}


# -- scenario 1: pending PVC, StorageClass missing ---------------------------------------------


@pytest.fixture
def missing_class(cluster: Any, api: Any, namespace: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    overrides = storage_class_missing(api, namespace)
    config = tmp_path / "logos-doctor.yaml"
    config.write_text(yaml.safe_dump(overrides))
    try:
        yield config
    finally:
        try:
            client.StorageV1Api(api).delete_storage_class(class_name(namespace))
        except ApiException as exc:
            if exc.status != 404:
                raise
        cleanup_cluster_scoped(api, namespace)


def test_pending_pvc_runbook_from_finding_to_bound_claim(
    cluster: Any,
    api: Any,
    namespace: str,
    missing_class: Path,
    child_env: dict[str, str],
    tmp_path: Path,
) -> None:
    kubeconfig = str(cluster.kubeconfig)
    sc = class_name(namespace)
    source = tmp_path / "findings.json"
    findings = findings_file(
        child_env, cluster.kubeconfig, namespace, missing_class, "pvc-pending", source
    )
    index = next(
        i
        for i, f in enumerate(findings)
        if f["resource"]["name"] == "data-logos-postgresql-0"
        and f["cause"] == "storage-class-missing"
    )
    base = [
        "runbook",
        "run",
        "--finding-from",
        str(source),
        "--index",
        str(index),
        "--kubeconfig",
        kubeconfig,
    ]

    # A dry run prints the commands with the finding's names, and runs none of them.
    dry = doctor(
        child_env,
        *base,
        "--dry-run",
        "--yes",
        "--yes-changes",
        "--param",
        f"storage_class={sc}",
        "--transcript",
        str(tmp_path / "dry.md"),
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"kubectl describe pvc data-logos-postgresql-0 -n {namespace}" in dry.stdout
    assert f"  name: {sc}" in dry.stdout
    assert not storage_class_exists(api, sc)
    dry_text = (tmp_path / "dry.md").read_text()
    assert "dry run" in dry_text and "exit 0" not in dry_text and "Output (" not in dry_text

    # The finding gives the claim, its class and namespace; without a terminal the other
    # parameters take their defaults; diagnose steps are confirmed once, the change refused.
    refused = tmp_path / "refused.md"
    run = doctor(child_env, *base, "--transcript", str(refused), stdin="y\nn\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "was not run" in run.stdout
    assert not storage_class_exists(api, sc)
    text = refused.read_text()
    assert "cause `storage-class-missing`" in text
    assert "logos-testcluster" in text  # the cluster context is recorded
    assert "| pvc | `data-logos-postgresql-0` | finding |" in text
    assert f"| storage_class | `{sc}` | finding |" in text
    describe = step_section(text, "describe-pvc")
    assert ": ok, exit 0" in describe and "data-logos-postgresql-0" in describe
    assert "Pending" in describe
    assert f"missing: storageclass/{sc}" in step_section(text, "confirm-class-missing")
    assert ": refused" in step_section(text, "create-storage-class")
    assert ": not run" in step_section(text, "wait-for-bound")
    assert "refused change step create-storage-class" in text

    # Accepted this time: the class is created and the claim binds.
    accepted = tmp_path / "accepted.md"
    run = doctor(
        child_env,
        *base,
        "--yes",
        "--param",
        f"storage_class={sc}",
        "--param",
        "bind_timeout=120",
        "--transcript",
        str(accepted),
        stdin="y\n",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert storage_class_exists(api, sc)
    claim = client.CoreV1Api(api).read_namespaced_persistent_volume_claim(
        "data-logos-postgresql-0", namespace
    )
    assert claim.status.phase == "Bound"
    text = accepted.read_text()
    assert "completed: every step ran" in text
    assert f"storageclass.storage.k8s.io/{sc} created" in step_section(text, "create-storage-class")
    assert "condition met" in step_section(text, "wait-for-bound")
    after = findings_file(
        child_env, cluster.kubeconfig, namespace, missing_class, "pvc-pending", tmp_path / "a.json"
    )
    assert not [f for f in after if f["cause"] == "storage-class-missing"], after


# -- scenario 2: ImagePullBackOff, with a canary in the pull secret -----------------------------


@pytest.fixture
def bad_chat_release(cluster: Any, api: Any, namespace: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    overrides = deploy_stack(api, namespace)
    logos_stack.set_bad_image(api, namespace, "logos-chat", "notfound")
    wait_pods(api, namespace, "logos-chat-", "ImagePullBackOff", 1)
    events = client.CoreV1Api(api)

    def pull_failed() -> bool:
        stuck = {
            p.metadata.uid
            for p in pods(api, namespace, "logos-chat-")
            if "ImagePullBackOff" in waiting(p)
        }
        return any(
            e.involved_object.uid in stuck and e.message.startswith("Failed to pull image")
            for e in events.list_namespaced_event(namespace).items
        )

    wait_for(pull_failed, 60, "the kubelet's pull failure event on the new chat pod")
    core = client.CoreV1Api(api)
    dockercfg = {
        "auths": {
            "registry.logos-test.invalid": {
                "username": "logos-ci",
                "password": CANARY,
                "auth": base64.b64encode(f"logos-ci:{CANARY}".encode()).decode(),
            }
        }
    }
    core.patch_namespaced_secret(
        "regcred",
        namespace,
        {"data": {".dockerconfigjson": base64.b64encode(json.dumps(dockercfg).encode()).decode()}},
    )
    core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "canary"}, "type": "Opaque", "stringData": {"token": CANARY}},
    )
    config = tmp_path / "logos-doctor.yaml"
    config.write_text(yaml.safe_dump(overrides))
    try:
        yield config
    finally:
        cleanup_cluster_scoped(api, namespace)


def chat_image(api: Any, namespace: str) -> str:
    dep = client.AppsV1Api(api).read_namespaced_deployment("logos-chat", namespace)
    return str(dep.spec.template.spec.containers[0].image)


def test_imagepullbackoff_runbook_refused_then_rolled_back_never_printing_secrets(
    cluster: Any,
    api: Any,
    namespace: str,
    bad_chat_release: Path,
    child_env: dict[str, str],
    tmp_path: Path,
) -> None:
    kubeconfig = str(cluster.kubeconfig)
    secrets = secret_values(api, namespace)
    assert CANARY in secrets
    bad_image = chat_image(api, namespace)
    assert "notfound" in bad_image
    stuck = [
        p.metadata.name
        for p in pods(api, namespace, "logos-chat-")
        if "ImagePullBackOff" in waiting(p)
    ]
    assert stuck
    source = tmp_path / "findings.json"
    findings = findings_file(
        child_env, cluster.kubeconfig, namespace, bad_chat_release, "image-pull", source
    )
    index = next(
        i
        for i, f in enumerate(findings)
        if f["cause"] == "image-not-found" and f["resource"]["name"] in stuck
    )
    pod = findings[index]["resource"]["name"]
    base = [
        "runbook",
        "run",
        "imagepullbackoff",
        "--finding-from",
        str(source),
        "--index",
        str(index),
        "--kubeconfig",
        kubeconfig,
    ]
    outputs: list[str] = []

    # --dry-run with every confirmation given still runs nothing: the rollback does not happen.
    generation = (
        client.AppsV1Api(api)
        .read_namespaced_deployment("logos-chat", namespace)
        .metadata.generation
    )
    dry = doctor(
        child_env,
        *base,
        "--dry-run",
        "--yes",
        "--yes-changes",
        "--transcript",
        str(tmp_path / "dry.md"),
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"kubectl rollout undo deployment/logos-chat -n {namespace}" in dry.stdout
    assert (
        client.AppsV1Api(api)
        .read_namespaced_deployment("logos-chat", namespace)
        .metadata.generation
        == generation
    )
    outputs += [dry.stdout, dry.stderr, (tmp_path / "dry.md").read_text()]

    # Diagnose, then refuse the rollback: the bad image stays.
    refused = tmp_path / "refused.md"
    run = doctor(child_env, *base, "--transcript", str(refused), stdin="y\nn\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert chat_image(api, namespace) == bad_image
    text = refused.read_text()
    outputs += [run.stdout, run.stderr, text]
    assert "cause `image-not-found`" in text
    assert f"| pod | `{pod}` | finding |" in text
    assert "| deployment | `logos-chat` | finding |" in text
    describe = step_section(text, "describe-pod")
    assert "ImagePullBackOff" in describe and "not found" in describe
    assert "secret regcred: kubernetes.io/dockerconfigjson" in step_section(
        text, "pull-secret-type"
    )
    assert ": refused" in step_section(text, "rollout-undo")
    assert ": not run" in step_section(text, "rollout-status")

    # Accept the rollback: the previous image comes back and the rollout completes.
    accepted = tmp_path / "accepted.md"
    run = doctor(
        child_env,
        *base,
        "--yes",
        "--param",
        "rollout_timeout=120",
        "--transcript",
        str(accepted),
        stdin="y\n",
    )
    text = accepted.read_text()
    outputs += [run.stdout, run.stderr, text]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "notfound" not in chat_image(api, namespace)
    assert "successfully rolled out" in step_section(text, "rollout-status")
    after = findings_file(
        child_env,
        cluster.kubeconfig,
        namespace,
        bad_chat_release,
        "image-pull",
        tmp_path / "a.json",
    )
    assert not [f for f in after if f["cause"] == "image-not-found"], after

    # A pod that does not exist: the diagnose steps fail, are recorded, and the run goes on
    # to the change step, which is not confirmed (no answers left): nothing is changed.
    failing = tmp_path / "failing.md"
    run = doctor(
        child_env,
        "runbook",
        "run",
        "imagepullbackoff",
        "--cause",
        "image-not-found",
        "-n",
        namespace,
        "--param",
        "pod=logos-chat-gone",
        "--param",
        "deployment=logos-chat",
        "--yes",
        "--kubeconfig",
        kubeconfig,
        "--context",
        "logos-testcluster",
        "--transcript",
        str(failing),
    )
    text = failing.read_text()
    outputs += [run.stdout, run.stderr, text]
    assert run.returncode == 1, run.stdout + run.stderr
    assert "recorded, going on" in run.stdout
    first = step_section(text, "describe-pod")
    assert ": failed, exit 1" in first and "not found" in first
    assert ": failed, exit 1" in step_section(text, "pod-images")
    assert ": quit" in step_section(text, "rollout-undo")
    assert "diagnose step(s) failed: describe-pod, pod-images" in text
    assert str(failing) in run.stdout

    # A context that is not in the kubeconfig is named before any step runs (issue 17: the
    # same one line as every command), rather than left for kubectl to refuse step by step.
    wrong = doctor(
        child_env,
        "runbook",
        "run",
        "imagepullbackoff",
        "-n",
        namespace,
        "--param",
        f"pod={pod}",
        "--yes",
        "--kubeconfig",
        kubeconfig,
        "--context",
        "no-such-context",
        "--transcript",
        str(tmp_path / "ctx.md"),
    )
    outputs += [wrong.stdout, wrong.stderr]
    assert wrong.returncode == 3
    assert wrong.stdout == ""
    assert "context no-such-context not found; contexts: " in wrong.stderr

    for output in outputs:
        leaked = [v for v in secrets if v in output]
        assert not leaked, f"a Secret value reached the output: {leaked[0][:12]}..."
