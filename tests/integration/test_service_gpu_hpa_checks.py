"""service-endpoints, gpu-nodes and hpa against the live test cluster, through the CLI.

Every scenario is built in the test's own namespace by the real controllers (the same
scenario functions the unit fixtures were recorded from), then `logos-doctor check --all -o
json` is run on it, as the on-call would, and must name the cause on the right object with the
right parent, linked to the finding that explains it, and stay quiet where all is well.
GPU scenarios make their own nodes (labelled for the namespace) and remove them afterwards.
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

from k8scluster.scenarios import cleanup_cluster_scoped, load_all
from k8scluster.scenarios.networking_gpu_hpa import ready_endpoints, stop_adapter

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"
OURS = ("service-endpoints", "gpu-nodes", "hpa")


def doctor(
    cluster: Any, namespace: str, tmp_path: Path, config: dict | None, *args: str
) -> dict[str, Any]:
    cmd = [
        str(PROG),
        "check",
        *(args or ("--all",)),
        "-n",
        namespace,
        "-o",
        "json",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--fail-on",
        "never",
    ]
    if config:
        path = tmp_path / "logos-doctor.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--config", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    errors = [c for c in doc["checks"] if c["id"] in OURS and c["status"] in ("error", "skipped")]
    assert not errors, errors
    return doc


@pytest.fixture
def build(api: Any, namespace: str) -> Iterator[Any]:
    """Build a named scenario in the test's namespace; clean up what it made cluster-wide."""
    scenarios = load_all()

    def make(name: str) -> dict | None:
        return scenarios[name](api, namespace)

    try:
        yield make
    finally:
        stop_adapter(namespace)
        cleanup_cluster_scoped(api, namespace)


def ours(doc: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["check"] == check]


def ref(obj: dict[str, Any] | None) -> tuple[str, str] | None:
    return (obj["kind"], obj["name"]) if obj else None


# -- service-endpoints -------------------------------------------------------------------------


def test_bad_image_on_chat_shows_the_service_linked_to_the_image_pull_cause(
    cluster: Any, namespace: str, build: Any, tmp_path: Path
) -> None:
    build("service_pods_not_ready")
    doc = doctor(cluster, namespace, tmp_path, None)
    [svc] = ours(doc, "service-endpoints")
    assert (svc["cause"], ref(svc["resource"]), ref(svc["parent"])) == (
        "pods-not-ready",
        ("Service", "logos-chat"),
        ("Deployment", "logos-chat"),
    )
    pulls = {f["resource"]["name"] for f in doc["findings"] if f["check"] == "image-pull"}
    assert pulls and {a["name"] for a in svc["depends_on"]} == pulls
    assert {(c["check"], c["resource"]["name"]) for c in svc["caused_by"]} == {
        ("image-pull", p) for p in pulls
    }


def test_selector_typo_is_no_matching_pods_with_the_nearest_deployment(
    cluster: Any, namespace: str, build: Any, tmp_path: Path
) -> None:
    build("service_no_matching_pods")
    [svc] = ours(doctor(cluster, namespace, tmp_path, None), "service-endpoints")
    assert (svc["cause"], svc["severity"], ref(svc["resource"])) == (
        "no-matching-pods",
        "critical",
        ("Service", "logos-web"),
    )
    assert "Deployment logos-web differs in 1 label(s)" in svc["message"]


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        (
            "service_port_mismatch",
            {
                ("port-mismatch", "Service", "logos-web-typo", "critical"),
                ("port-mismatch", "Service", "logos-web-numeric", "warning"),
            },
        ),
        (
            "service_selectorless",
            {("no-selector-no-endpoints", "Service", "external-db", "warning")},
        ),
        ("ingress_backend_missing", {("ingress-backend-missing", "Ingress", "logos", "critical")}),
    ],
)
def test_service_causes(
    cluster: Any, namespace: str, build: Any, tmp_path: Path, scenario: str, expected: set
) -> None:
    build(scenario)
    found = ours(doctor(cluster, namespace, tmp_path, None), "service-endpoints")
    assert {
        (f["cause"], f["resource"]["kind"], f["resource"]["name"], f["severity"]) for f in found
    } == expected


def test_the_api_servers_own_service_is_not_flagged(cluster: Any, api: Any, tmp_path: Path) -> None:
    """default/kubernetes has no selector; this cluster runs --endpoint-reconciler-type=none, so
    it has no endpoints at all, which is nothing a user of the cluster can or should fix."""
    svc = client.CoreV1Api(api).read_namespaced_service("kubernetes", "default")
    assert not svc.spec.selector
    assert ready_endpoints(api, "default", "kubernetes") == 0
    doc = doctor(cluster, "default", tmp_path, None, "service-endpoints")
    assert not [f for f in ours(doc, "service-endpoints") if f["resource"]["name"] == "kubernetes"]


# -- gpu-nodes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "cause", "pods", "severity"),
    [
        # The shared pool (kwok-gpu-*) has GPUs but not this namespace's label.
        ("gpu_no_nodes", "gpu-label-missing", 4, "critical"),
        ("gpu_label_missing", "gpu-label-missing", 4, "critical"),
        ("gpu_insufficient", "insufficient-gpu", 2, "warning"),
        ("gpu_selector_mismatch", "selector-mismatch", 2, "critical"),
        ("gpu_taint_not_tolerated", "taint-not-tolerated", 2, "critical"),
        ("gpu_not_allocatable", "gpu-not-allocatable", 2, "critical"),
        ("gpu_node_not_ready", "gpu-node-not-ready", 2, "critical"),
    ],
)
def test_pending_gpu_pods_get_the_cause_with_the_deployment_as_parent(
    cluster: Any,
    api: Any,
    namespace: str,
    build: Any,
    tmp_path: Path,
    scenario: str,
    cause: str,
    pods: int,
    severity: str,
) -> None:
    config = build(scenario)
    doc = doctor(cluster, namespace, tmp_path, config)
    found = ours(doc, "gpu-nodes")
    pod_findings = [f for f in found if f["resource"]["kind"] == "Pod"]
    pending = {
        p.metadata.name
        for p in client.CoreV1Api(api)
        .list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=completion")
        .items
        if p.status.phase == "Pending"
    }
    assert len(pending) == pods
    assert {f["resource"]["name"] for f in pod_findings} == pending
    for f in pod_findings:
        assert (f["cause"], f["severity"], ref(f["parent"])) == (
            cause,
            severity,
            ("Deployment", "logos-completion"),
        )
    node_findings = [f for f in found if f["resource"]["kind"] == "Node"]
    if cause in ("gpu-not-allocatable", "gpu-node-not-ready"):
        # The node is the root cause: each pod's finding points at the node's finding.
        assert node_findings and {f["cause"] for f in node_findings} == {cause}
        nodes = {f["resource"]["name"] for f in node_findings}
        for f in pod_findings:
            assert {c["resource"]["name"] for c in f["caused_by"]} == nodes
    else:
        assert node_findings == []
    # Root cause on the first screen, and the Deployment's symptom says because of it.
    assert all(f["root_cause"] for f in (node_findings or pod_findings))
    (deployment,) = [
        f
        for f in doc["findings"]
        if f["check"] == "workloads" and f["resource"]["name"] == "logos-completion"
    ]
    assert "gpu-nodes" in {c["check"] for c in deployment["caused_by"]}
    # One cause per pod: the scheduling check leaves GPU pods to gpu-nodes.
    assert not [f for f in doc["findings"] if f["check"] == "scheduling"]
    if cause == "gpu-label-missing":
        owned = f"logos-test/namespace={namespace}"
        mine = sorted(n.metadata.name for n in client.CoreV1Api(api).list_node(
            label_selector=owned).items)
        for f in pod_findings:
            assert all(n in f["remediation"] for n in mine)
            assert "kubectl label node " in f["remediation"]
            assert f"logos-test/gpu-{namespace}"[:63] + "=true" in f["remediation"]


def test_healthy_gpu_pool_is_quiet(
    cluster: Any, namespace: str, build: Any, tmp_path: Path
) -> None:
    config = build("gpu_healthy")
    assert ours(doctor(cluster, namespace, tmp_path, config), "gpu-nodes") == []


# -- hpa ---------------------------------------------------------------------------------------


def test_no_metrics_server_and_missing_requests(
    cluster: Any, namespace: str, build: Any, tmp_path: Path
) -> None:
    build("hpa_no_metrics_server")
    found = ours(doctor(cluster, namespace, tmp_path, None), "hpa")
    got = {(f["cause"], f["resource"]["kind"], f["resource"]["name"]) for f in found}
    # One cause (the metrics API is not served), one finding, every HPA affected; the
    # missing request is the workload's own problem.
    assert got == {
        ("metrics-unavailable", "APIService", "v1beta1.metrics.k8s.io"),
        ("missing-requests", "Deployment", "logos-worker"),
    }
    (metrics,) = [f for f in found if f["cause"] == "metrics-unavailable"]
    assert "v1beta1.metrics.k8s.io does not exist" in metrics["message"]
    assert {a["name"] for a in metrics["affected"]} >= {"logos-web", "logos-worker", "logos-batch"}


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("hpa_target_missing", {("target-missing", "logos-web")}),
        ("hpa_below_min", {("below-min", "logos-web")}),
        # logos-chat idles at its minimum (TooFewReplicas): healthy, so not listed.
        ("hpa_maxed_out", {("maxed-out", "logos-web")}),
    ],
)
def test_hpa_causes(
    cluster: Any, namespace: str, build: Any, tmp_path: Path, scenario: str, expected: set
) -> None:
    build(scenario)
    found = ours(doctor(cluster, namespace, tmp_path, None), "hpa")
    assert {(f["cause"], f["resource"]["name"]) for f in found} == expected
    assert all(f["severity"] == "warning" for f in found)


# -- the healthy stack -------------------------------------------------------------------------


def test_healthy_logos_stack_has_nothing_to_say_but_the_missing_metrics_server(
    cluster: Any, namespace: str, build: Any, tmp_path: Path
) -> None:
    config = build("healthy_logos")
    doc = doctor(cluster, namespace, tmp_path, config, *OURS)
    loud = [f for f in doc["findings"] if f["severity"] != "info"]
    # The test cluster has no metrics-server on purpose, so logos-web's HPA really cannot
    # scale; everything else in the stack must be quiet.
    assert [(f["check"], f["cause"], f["resource"]["name"]) for f in loud] == [
        ("hpa", "metrics-unavailable", "v1beta1.metrics.k8s.io")
    ]
    assert [a["name"] for a in loud[0]["affected"]] == ["logos-web"]
