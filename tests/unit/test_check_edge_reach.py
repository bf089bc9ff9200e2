"""ingress and monitoring, continued, on states recorded from the test cluster
(tests/k8scluster/scenarios/edge_reach.py):

- an IngressClass that exists but is another controller's (named `<ns>-nginx`, while the one
  ingress-nginx owns is `<ns>-traefik-compat`: the check must read spec.controller);
- the ServiceMonitors of a monitoring namespace of its own, seen from a `-n` recording;
- what a REAL Prometheus (started by the scenario, scraping as the Prometheus Operator would)
  said about the Logos targets and the key metrics, kept in the snapshot.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from logos_doctor.checks.ingress import CHECK as INGRESS
from logos_doctor.checks.monitoring import CHECK as MONITORING
from logos_doctor.cluster import snapshot
from logos_doctor.cluster.collect import resolve_scope, within_snapshot
from logos_doctor.cluster.prometheus import public_url, read_prometheus
from logos_doctor.config import Config, apply_config
from logos_doctor.errors import ConfigError
from logos_doctor.finding import Finding, Severity
from logos_doctor.runner import run_checks
from recorded import recorded


def run(scenario: str, check: object, **config: object) -> list[Finding]:
    state, recorded_config = recorded(scenario)
    report = run_checks(state, [check], replace(recorded_config, **config))
    assert all(r.status in ("ok", "findings") for r in report.results), report.results
    return report.findings


def keyed(found: list[Finding]) -> dict[tuple[str, str], Finding]:
    out = {(f.cause, f.resource.name): f for f in found}
    assert len(out) == len(found), found
    return out


# =========================================================================== ingress


def test_an_ingress_class_of_another_controller_names_class_controller_and_expectation() -> None:
    state, _ = recorded("edge_ingress_class_other_controller")
    ns = state.scope.namespaces[0]
    found = keyed(run("edge_ingress_class_other_controller", INGRESS))
    assert set(found) == {
        ("ingress-class-other-controller", "logos"),
        ("ingress-class-other-controller", "legacy"),
    }
    logos = found[("ingress-class-other-controller", "logos")]
    assert logos.severity == Severity.CRITICAL
    assert logos.message == (
        f"Ingress logos names IngressClass {ns}-nginx, whose controller is "
        "traefik.io/ingress-controller, not k8s.io/ingress-nginx (config ingress.controller), "
        "which ignores it"
    )
    assert [str(r) for r in logos.depends_on] == [f"IngressClass/{ns}-nginx"]
    # The remedy names the classes that are ingress-nginx's (the oddly named one among them).
    assert f"{ns}-traefik-compat" in logos.remediation and "nginx" in logos.remediation
    legacy = found[("ingress-class-other-controller", "legacy")]
    assert f"has kubernetes.io/ingress.class: {ns}-nginx" in legacy.message


def test_the_expected_controller_follows_the_config() -> None:
    found = keyed(
        run(
            "edge_ingress_class_other_controller",
            INGRESS,
            ingress_controller="traefik.io/ingress-controller",
        )
    )
    assert set(found) == {("ingress-class-other-controller", "served")}
    assert (
        "whose controller is k8s.io/ingress-nginx"
        in found[("ingress-class-other-controller", "served")].message
    )


def test_the_healthy_edge_still_has_nothing_to_say_about_its_class() -> None:
    assert not [f for f in run("edge_healthy", INGRESS) if "class" in f.cause]


# =========================================================================== ServiceMonitor


def test_a_namespaced_recording_holds_the_monitoring_namespaces_servicemonitors() -> None:
    state, config = recorded("edge_servicemonitor_elsewhere")
    mon = config.monitoring_namespace
    assert (
        state.scope.namespaces == (state.scope.namespaces[0],) and mon not in state.scope.namespaces
    )
    assert state.scope.lists("servicemonitors", mon) and not state.scope.includes(mon)
    found = keyed(run("edge_servicemonitor_elsewhere", MONITORING))
    assert set(found) == {("selector-mismatch", "logos-typo")}
    assert found[("selector-mismatch", "logos-typo")].resource.namespace == mon
    # Looked at through a scope that names another monitoring namespace, which the recording
    # never listed: not seen, not judged (rather than "no ServiceMonitor").
    other = replace(config, monitoring_namespace="prometheus")
    narrowed = within_snapshot(state, resolve_scope(config.namespace, False, other), "rec")
    assert not narrowed.scope.lists("servicemonitors", "prometheus")
    assert not run_checks(narrowed, [MONITORING], other).findings


def test_an_older_recording_without_the_monitoring_namespace_is_not_judged() -> None:
    # edge_monitoring_missing was recorded before a -n run listed the monitoring namespace.
    state, config = recorded("edge_monitoring_missing")
    assert state.scope.also == ()
    scope = resolve_scope(config.namespace, False, replace(config, monitoring_namespace="mon"))
    assert scope.also == (("servicemonitors", ("mon",)),)
    narrowed = within_snapshot(state, scope, "rec")
    assert narrowed.scope.also == ()


def test_scope_and_prometheus_survive_a_snapshot_round_trip(tmp_path: Path) -> None:
    state, _ = recorded("edge_prometheus_scraped")
    path = tmp_path / "again.json.gz"
    snapshot.save(state, path)
    again = snapshot.load(path)
    assert again.scope == state.scope and again.scope.also
    assert again.prometheus == state.prometheus and again.prometheus


# =========================================================================== Prometheus


def test_a_down_target_quotes_prometheus_and_the_missing_metric_is_named() -> None:
    state, _ = recorded("edge_prometheus_scraped")
    ns = state.scope.namespaces[0]
    url = str(state.prometheus["url"])  # type: ignore[index]
    found = keyed(run("edge_prometheus_scraped", MONITORING))
    assert set(found) == {("target-down", "logos-chat"), ("metrics-missing", url)}
    down = found[("target-down", "logos-chat")]
    assert down.severity == Severity.WARNING and down.resource.kind == "Service"
    # Prometheus's lastError (scrape of a port nothing listens on), as it wrote it.
    assert down.message.startswith(
        'Prometheus cannot scrape 1 of 1 target(s) of Service logos-chat: Get "http://127.0.0.1:'
    )
    assert down.message.endswith("connect: connection refused")
    assert [str(r) for r in down.depends_on] == [
        f"Pod/{ns}/logos-chat-5c8b4-fghij",
        f"Service/{ns}/logos-chat",
    ]
    # logos-web: one target up, one not scraped yet ("unknown"): nothing to say.
    missing = found[("metrics-missing", url)]
    assert missing.severity == Severity.INFO
    assert "logos_tool_invocations_total" in missing.message
    assert "logos_chat_messages_total" not in missing.message
    assert missing.evidence[0] == "3 Logos target(s), 1 up"


def test_the_targets_of_another_namespace_are_not_logos() -> None:
    state, config = recorded("edge_prometheus_scraped")
    # The same Prometheus answer judged for the Services moved to another namespace: none
    # of its targets (labelled with the recorded namespace) is theirs, nor are its series.
    ns = state.scope.namespaces[0]
    moved = {
        k: [_renamespace(o, ns, "elsewhere") if k == "services" else o for o in v]
        for k, v in state.objects.items()
    }
    other = type(state).build(
        moved,
        now=state.now,
        scope=replace(state.scope, namespaces=("elsewhere",)),
        prometheus=state.prometheus,
    )
    found = run_checks(other, [MONITORING], config).findings
    causes = {f.cause for f in found}
    assert "target-down" not in causes
    assert ("metrics-missing", Severity.WARNING) in {(f.cause, f.severity) for f in found}


def _renamespace(obj: dict, old: str, new: str) -> dict:
    md = dict(obj["metadata"])
    if md.get("namespace") == old:
        md["namespace"] = new
    return {**obj, "metadata": md}


def test_prometheus_that_cannot_be_asked_is_one_error_line() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = read_prometheus(f"http://user:s3cret@127.0.0.1:{port}/", timeout=2)
    assert answer["url"] == f"http://127.0.0.1:{port}"  # no credentials kept
    assert answer["error"] == (f"GET http://127.0.0.1:{port}/api/v1/targets: Connection refused")
    assert answer["targets"] == [] and answer["series"] == []


def test_an_http_server_that_is_not_prometheus_is_said_so() -> None:
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = read_prometheus(f"http://127.0.0.1:{server.server_address[1]}", timeout=2)
    finally:
        server.shutdown()
        server.server_close()
    assert answer["error"].endswith("/api/v1/targets: HTTP 404 File not found")


def test_public_url_drops_credentials_query_and_trailing_slash() -> None:
    assert public_url("https://a:b@prom.example.com:9443/prometheus/?x=1#f") == (
        "https://prom.example.com:9443/prometheus"
    )


def test_the_new_config_keys_are_read_and_checked() -> None:
    config = apply_config(
        Config(),
        {
            "ingress": {"controller": "traefik.io/ingress-controller"},
            "monitoring": {"prometheusUrl": "http://localhost:9090"},
        },
        "test",
    )
    assert (config.ingress_controller, config.prometheus_url) == (
        "traefik.io/ingress-controller",
        "http://localhost:9090",
    )
    assert (Config().ingress_controller, Config().prometheus_url) == ("k8s.io/ingress-nginx", None)
    assert resolve_scope(None, True, config).prometheus == "http://localhost:9090"
    for bad in (
        {"monitoring": {"prometheusUrl": "localhost:9090"}},
        {"monitoring": {"prometheusURL": "http://x"}},
        {"ingress": {"controller": 3}},
    ):
        with pytest.raises(ConfigError):
            apply_config(Config(), bad, "test")
