"""ingress and monitoring, continued, against the live test cluster through the CLI:

- an Ingress whose IngressClass exists but belongs to another controller;
- a `-n NS` run sees the ServiceMonitors of the monitoring namespace the config names;
- with `monitoring.prometheusUrl`, a REAL Prometheus (Debian's binary, started here) says
  which Logos targets are down (its own `lastError` quoted) and which key metrics have no
  series; a Prometheus that cannot be reached is one finding, not a crash; and a snapshot
  keeps what Prometheus said, so an offline check says the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from promserver import (
    closed_port,
    metrics_endpoint,
    operator_job,
    running_prometheus,
    series_of,
    wait_scraped,
)

from k8scluster.scenarios import edge_reach

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"

LOGOS_METRICS = edge_reach.LOGOS_METRICS


def doctor(cluster: Any, namespace: str, tmp_path: Path, config: dict[str, Any],
           *args: str) -> dict[str, Any]:
    path = tmp_path / "logos-doctor.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [str(PROG), "check", "--all", "-o", "json", "--fail-on", "never", "--config", str(path),
           *(args or ("-n", namespace, "--kubeconfig", str(cluster.kubeconfig)))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def of(doc: dict[str, Any], check: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(f["cause"], f["resource"]["kind"], f["resource"]["name"]): f
            for f in doc["findings"] if f["check"] == check}


# =========================================================================== ingress


def test_an_ingress_class_of_another_controller_is_named(cluster: Any, api: Any,
                                                         namespace: str, tmp_path: Path) -> None:
    edge_reach.edge_ingress_class_other_controller(api, namespace)
    found = of(doctor(cluster, namespace, tmp_path, {}), "ingress")
    foreign = f"{namespace}-nginx"
    by_name = found[("ingress-class-other-controller", "Ingress", "logos")]
    assert by_name["severity"] == "critical" and by_name["root_cause"] is True
    assert (f"names IngressClass {foreign}, whose controller is {edge_reach.TRAEFIK}, not "
            "k8s.io/ingress-nginx (config ingress.controller)") in by_name["message"]
    legacy = found[("ingress-class-other-controller", "Ingress", "legacy")]
    assert f"kubernetes.io/ingress.class: {foreign}" in legacy["message"]
    # The class named like Traefik's but owned by ingress-nginx serves its Ingress: quiet.
    assert not [k for k in found if k[2] == "served"]
    # With the config saying Traefik serves Logos, the same Ingresses are fine and the one
    # on ingress-nginx's class is the odd one out.
    found = of(doctor(cluster, namespace, tmp_path,
                      {"ingress": {"controller": edge_reach.TRAEFIK}}), "ingress")
    assert {k for k in found if k[0] == "ingress-class-other-controller"} == {
        ("ingress-class-other-controller", "Ingress", "served")}


# =========================================================================== ServiceMonitor


def test_a_namespaced_run_sees_the_servicemonitors_of_the_monitoring_namespace(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    config = edge_reach.edge_servicemonitor_elsewhere(api, namespace)
    mon = config["monitoring"]["namespace"]
    found = of(doctor(cluster, namespace, tmp_path, config), "monitoring")
    # Seen from `-n NS`: the typo'd ServiceMonitor in the monitoring namespace is judged, the
    # one that selects the Services is not missing.
    assert set(found) == {("selector-mismatch", "ServiceMonitor", "logos-typo")}
    assert found[("selector-mismatch", "ServiceMonitor", "logos-typo")]["resource"][
        "namespace"] == mon
    # Without it, no ServiceMonitor selects Logos: said from the same `-n NS` run.
    edge_reach.delete_servicemonitor(api, mon, "logos")
    found = of(doctor(cluster, namespace, tmp_path, config), "monitoring")
    assert ("servicemonitor-missing", "ServiceMonitor", "(logos)") not in found  # typo'd one
    assert set(found) == {("selector-mismatch", "ServiceMonitor", "logos-typo")}
    edge_reach.delete_servicemonitor(api, mon, "logos-typo")
    found = of(doctor(cluster, namespace, tmp_path, config), "monitoring")
    assert set(found) == {("servicemonitor-missing", "ServiceMonitor", "(logos)")}


# =========================================================================== Prometheus


logos_monitored = edge_reach.logos_monitored


def test_prometheus_says_which_target_is_down_and_which_metric_has_no_series(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    mon = logos_monitored(api, namespace)
    refused = closed_port()
    with metrics_endpoint(LOGOS_METRICS) as web_port:
        job = operator_job(mon, "logos", 0, [
            (f"127.0.0.1:{web_port}", {"namespace": namespace, "service": "logos-web",
                                       "pod": "logos-web-7d9f8-abcde", "endpoint": "http"}),
            (f"127.0.0.1:{refused}", {"namespace": namespace, "service": "logos-chat",
                                      "pod": "logos-chat-5c8b4-fghij", "endpoint": "http"}),
        ])
        with running_prometheus(tmp_path, [job]) as url:
            wait_scraped(url, lambda ts: len(ts) == 2 and all(t["health"] != "unknown"
                                                              for t in ts), "both scraped")
            assert series_of(url, "logos_chat_messages_total") == 1
            config = {"monitoring": {"namespace": mon, "prometheusUrl": url}}
            doc = doctor(cluster, namespace, tmp_path, config)
            found = of(doc, "monitoring")
            assert set(found) == {("target-down", "Service", "logos-chat"),
                                  ("metrics-missing", "Prometheus", url)}
            down = found[("target-down", "Service", "logos-chat")]
            # Prometheus's own lastError for the target, quoted.
            assert f"127.0.0.1:{refused}" in down["message"]
            assert "connection refused" in down["message"]
            assert down["severity"] == "warning"
            assert any("logos-chat-5c8b4-fghij" in e for e in down["evidence"])
            missing = found[("metrics-missing", "Prometheus", url)]
            assert "logos_tool_invocations_total" in missing["message"]
            assert "logos_chat_messages_total" not in missing["message"]
            assert missing["severity"] == "info"  # the others have series: not counted yet

            # A snapshot keeps what Prometheus said; offline, nothing asks it again.
            snap = tmp_path / "snap.json.gz"
            subprocess.run([str(PROG), "snapshot", "-n", namespace, "--kubeconfig",
                            str(cluster.kubeconfig), "--config",
                            str(tmp_path / "logos-doctor.yaml"), "-o", str(snap)],
                           check=True, capture_output=True, timeout=180)
        # Prometheus is stopped now.
        offline = of(doctor(cluster, namespace, tmp_path, config, "--snapshot", str(snap)),
                     "monitoring")
        assert set(offline) == set(found)
        # Live again: Prometheus does not answer -> one finding, the run goes on.
        found = of(doctor(cluster, namespace, tmp_path, config), "monitoring")
        assert set(found) == {("prometheus-unreachable", "Prometheus", url)}
        gone = found[("prometheus-unreachable", "Prometheus", url)]
        assert "refused" in gone["message"] and gone["severity"] == "warning"


def test_a_servicemonitor_prometheus_does_not_select_roots_the_missing_metrics(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    mon = logos_monitored(api, namespace)
    # This Prometheus scrapes something else (its serviceMonitorSelector picks another
    # release's ServiceMonitor), never the Logos one.
    with metrics_endpoint("redis_up 1\n") as port:
        job = operator_job("monitoring", "redis-exporter", 0, [
            (f"127.0.0.1:{port}", {"namespace": namespace, "service": "redis-exporter",
                                   "pod": "redis-exporter-0", "endpoint": "metrics"})])
        with running_prometheus(tmp_path, [job]) as url:
            wait_scraped(url, lambda ts: bool(ts) and ts[0]["health"] == "up", "scraped")
            config = {"monitoring": {"namespace": mon, "prometheusUrl": url}}
            doc = doctor(cluster, namespace, tmp_path, config)
    found = of(doc, "monitoring")
    assert set(found) == {("no-targets", "ServiceMonitor", "logos"),
                          ("metrics-missing", "Prometheus", url)}
    root = found[("no-targets", "ServiceMonitor", "logos")]
    assert root["root_cause"] is True and f"serviceMonitor/{mon}/logos/" in root["message"]
    missing = found[("metrics-missing", "Prometheus", url)]
    assert missing["severity"] == "warning" and missing["root_cause"] is False
    # Because of the ServiceMonitor Prometheus ignores (and of the Services having no pods
    # here, which service-endpoints reports: no pod, no target either).
    because = {(c["check"], c["cause"], c["resource"]["name"]) for c in missing["caused_by"]}
    assert ("monitoring", "no-targets", "logos") in because
    assert {c for c in because if c[0] == "monitoring"} == {("monitoring", "no-targets", "logos")}
