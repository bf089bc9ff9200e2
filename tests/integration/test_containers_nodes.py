"""containers and nodes against the live test cluster, through the CLI, as the on-call runs it.

The scenarios (k8scluster/scenarios/kubelet_states.py, node_states.py) play the kubelet of
nodes kwok does not manage and let the real controllers react; then ``logos-doctor check
--all -n NS -o json`` must put the kubelet's cause (the probe, the ConfigMap, the node) in the
root-cause block and hang the Deployment's and the Service's findings from it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from doctor_cli import check_all

pytestmark = pytest.mark.integration



def findings(doc: dict[str, Any], check: str, cause: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["check"] == check and f["cause"] == cause]


def caused_by(finding: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["check"], c["cause"]) for c in finding["caused_by"]}


def of(doc: dict[str, Any], check: str, kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        f
        for f in doc["findings"]
        if f["check"] == check and (f["resource"]["kind"], f["resource"]["name"]) == (kind, name)
    ]
    return found


def test_kubelet_causes_are_the_root_and_the_workloads_hang_from_them(
    cluster: Any, namespace: str, build: Any
) -> None:
    build("kubelet_states")
    doc = check_all(cluster, namespace, ran=("containers", "nodes"))

    chat = findings(doc, "containers", "config-missing")
    by_parent = {f["parent"]["name"]: f for f in chat}
    assert by_parent["logos-chat"]["root_cause"] is True
    assert "ConfigMap readiness-probe-failed does not exist" in by_parent["logos-chat"]["message"]
    assert "ConfigMap logos-settings has no key liveness" in by_parent["logos-indexer"]["message"]

    web = findings(doc, "containers", "readiness-failing")
    assert len(web) == 2 and all(f["root_cause"] for f in web)
    assert all("HTTP GET :http/healthz" in f["message"] and "statuscode: 503" in f["message"]
               for f in web)  # fmt: skip
    service = of(doc, "service-endpoints", "Service", "logos-web")
    assert caused_by(service) == {("containers", "readiness-failing")}

    for name, cause in (
        ("logos-chat", "config-missing"),
        ("logos-indexer", "config-missing"),
        ("logos-docs", "mount-failed"),
        ("logos-web", "readiness-failing"),
        ("logos-worker", "liveness-restarts"),
        ("logos-search", "startup-probe-failing"),
        ("logos-migrate", "init-stuck"),
    ):
        deployment = of(doc, "workloads", "Deployment", name)
        assert deployment["root_cause"] is False, name
        assert ("containers", cause) in caused_by(deployment), (name, deployment["caused_by"])

    (mailer,) = findings(doc, "containers", "secret-missing")
    assert caused_by(mailer) == {("secrets", "missing-secret")}, "the Secret is the root cause"
    (migrate,) = findings(doc, "containers", "init-stuck")
    assert "init container wait-for-db" in migrate["message"]
    (render,) = findings(doc, "containers", "evicted")
    assert render["severity"] == "warning" and "low on memory" in render["message"]
    assert not [f for f in doc["findings"] if "logos-healthy" in json.dumps(f["resource"])]
    assert not findings(doc, "nodes", "unknown"), "the stand-in kubelet kept its node Ready"


def test_a_node_that_stops_reporting_is_the_root_cause_of_its_pods_service(
    cluster: Any, namespace: str, build: Any
) -> None:
    build("node_states")
    doc = check_all(cluster, namespace, ran=("containers", "nodes"))

    (gone,) = findings(doc, "nodes", "unknown")
    assert gone["resource"]["name"].startswith("ready-node-")
    assert gone["root_cause"] is True and gone["severity"] == "critical"
    assert "Kubelet stopped posting node status." in gone["message"]
    service = of(doc, "service-endpoints", "Service", "logos-web")
    assert caused_by(service) == {("nodes", "unknown")}
    assert not findings(doc, "containers", "readiness-failing"), "the node, not the probe"

    (pressure,) = findings(doc, "nodes", "memory-pressure")
    (evicted,) = findings(doc, "containers", "evicted")
    assert caused_by(evicted) == {("nodes", "memory-pressure")}
    assert pressure["root_cause"] is True

    nodes = {f["resource"]["name"].split("-t-")[0]: f["severity"] for f in doc["findings"]
             if f["check"] == "nodes"}  # fmt: skip
    assert nodes == {
        "ready-node": "critical",
        "healthy-node": "critical",
        "drain-me": "info",
        "flapping": "info",
        "memory-pressure-node": "warning",  # DiskPressure, whatever the name says
        "pid-ok": "warning",
    }, "disk-pressure-node is healthy; a cordon and a brief NotReady are info only"
    assert evicted["severity"] == "critical", "logos-render's replacement cannot run"


def test_a_rollout_blocked_by_a_volume_attached_elsewhere_names_volume_and_node(
    cluster: Any, namespace: str, build: Any
) -> None:
    build("multi_attach")
    doc = check_all(cluster, namespace, ran=("containers", "nodes"))
    (attach,) = findings(doc, "containers", "multi-attach")
    assert attach["root_cause"] is True
    assert f"volume pv-{namespace}-search-index" in attach["message"]
    assert f"still attached to node attach-a-{namespace}" in attach["message"]
    deployment = of(doc, "workloads", "Deployment", "logos-search")
    assert ("containers", "multi-attach") in caused_by(deployment)
