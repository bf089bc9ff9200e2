"""The real node of the local test cluster: a real kubelet, on containerd, running locally
built images pulled from the local registry (tests/k8scluster/realnode.py)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from kubernetes import client

from k8scluster import realnode
from k8scluster.kube import wait_for
from k8scluster.scenarios import kubelet as sc

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def k8s_version() -> str:
    go_mod = (REPO / "tools" / "k8sbin" / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", go_mod, re.M)
    assert match, "k8s.io/kubernetes not in tools/k8sbin/go.mod"
    return match.group(1)


@pytest.fixture
def real_node(cluster):
    if cluster.source != "testcluster":
        pytest.skip("needs the real node of the local test cluster (scripts/testcluster)")
    reason = realnode.unavailable_reason()
    if reason:
        pytest.skip(f"real node unavailable: {reason}")
    return cluster


def test_real_node_is_ready_with_the_built_kubelet(real_node, api) -> None:
    node = client.CoreV1Api(api).read_node(realnode.NODE_NAME)
    conds = {c.type: c for c in node.status.conditions}
    assert conds["Ready"].status == "True", conds["Ready"].message
    assert conds["Ready"].reason == "KubeletReady"
    info = node.status.node_info
    assert info.kubelet_version == k8s_version()
    assert info.container_runtime_version.startswith("containerd://")
    assert node.metadata.labels[realnode.LABEL[0]] == realnode.LABEL[1]
    assert "kwok.x-k8s.io/node" not in (node.metadata.annotations or {}), "kwok must not own it"
    taints = {(t.key, t.value, t.effect) for t in node.spec.taints or []}
    assert (realnode.TAINT["key"], realnode.TAINT["value"], realnode.TAINT["effect"]) in taints
    assert {a.type: a.address for a in node.status.addresses}["InternalIP"] == realnode.NODE_IP


def test_a_pod_runs_the_locally_built_image(real_node, api, namespace) -> None:
    core = client.CoreV1Api(api)
    marker = f"hello-{secrets.token_hex(4)}"
    core.create_namespaced_pod(namespace, realnode.real_pod(
        "hello", [{"name": "main", "command": ["sh", "-c", f"echo {marker}; busybox | head -1"]}],
        restart_policy="Never"))
    pod = wait_for(lambda: (p := core.read_namespaced_pod("hello", namespace)).status.phase
                   in ("Succeeded", "Failed") and p, 90, "pod hello to finish")
    assert pod.status.phase == "Succeeded", pod.status
    assert pod.spec.node_name == realnode.NODE_NAME
    cs = pod.status.container_statuses[0]
    assert cs.state.terminated.exit_code == 0
    assert cs.image == realnode.toolbox_image()
    digest = realnode.image_digest("toolbox")  # built here from busybox-static, pushed by up
    assert cs.image_id == f"{realnode.registry()}/{realnode.TOOLBOX_REPO}@{digest}"
    # The API server reaches the kubelet for the log, as `kubectl logs` does.
    log = core.read_namespaced_pod_log("hello", namespace)
    assert log.splitlines()[0] == marker
    assert log.splitlines()[1].startswith("BusyBox v")


def test_config_error_comes_from_the_kubelet(real_node, api, namespace) -> None:
    """One scenario built live, so a kubelet that changed its words fails here first."""
    sc.real_env_secret_missing(api, namespace)
    pod = sc.live_pods(api, namespace, "api")[0]
    waiting = sc.status_of(pod).state.waiting
    assert waiting.reason == "CreateContainerConfigError"
    assert waiting.message == 'secret "postgres-x509" not found'


def test_registry_auth_is_real(real_node, api, namespace) -> None:
    sc.real_image_unauthorized(api, namespace)
    pod = sc.live_pods(api, namespace, "exporter")[0]
    failed = [e.message for e in sc.events_for(api, namespace, pod)
              if e.reason == "Failed" and e.message.startswith("Failed to pull image")]
    assert failed and "401 Unauthorized" in failed[0], failed


def test_a_readiness_gate_is_the_kubelets_to_hold_and_waits_while_registering(
    real_node, cluster, api, namespace
) -> None:
    """The kubelet's words for a gate its controller says False, live; and a gate younger
    than the grace (a load balancer still registering the target) gives no finding yet."""
    from doctor_cli import check_all

    sc.real_readiness_gate_false(api, namespace)
    pod = sc.live_pods(api, namespace, "web")[0]
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "ReadinessGatesNotReady")
    assert ready.message == f'the status of pod readiness gate "{sc.GATE}" is not "True", but False'
    doc = check_all(cluster, namespace, ran=("containers", "warnings"))
    mine = [f for f in doc["findings"] if f["check"] in ("containers", "warnings")]
    assert mine == [], mine
