"""ingress, cert-manager and monitoring on states recorded from the test cluster
(tests/k8scluster/scenarios/edge.py).

The certificates in those recordings were made with `cryptography` by the scenario and stored
in real Secrets; what the checks read is what the fetcher kept of them (validity, DNS names,
issuer), never the key. Names mislead on purpose: the expired certificate lives in
`renewed-2099-cert`, the valid one in `expired-tls`, an Opaque Secret is called
`kubernetes-io-tls`.
"""

from __future__ import annotations

from dataclasses import replace

from logos_doctor.checks.cert_manager import CHECK as CERT_MANAGER
from logos_doctor.checks.ingress import CHECK, covers
from logos_doctor.checks.monitoring import CHECK as MONITORING
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef
from logos_doctor.registry import default_registry
from logos_doctor.runner import root_causes, run_checks
from logos_doctor.state import ClusterState
from recorded import recorded

EDGE = [CHECK, CERT_MANAGER, MONITORING]


def findings(scenario: str, checks: list = EDGE, **config: object) -> list[Finding]:
    state, recorded_config = recorded(scenario)
    report = run_checks(state, checks, replace(recorded_config, **config))
    assert all(r.status in ("ok", "findings") for r in report.results), report.results
    return report.findings


def ident(ref: ObjectRef) -> tuple[str, str | None, str]:
    return (ref.kind, ref.namespace, ref.name)


def by_cause(found: list[Finding]) -> dict[tuple[str, str], Finding]:
    out = {(f.cause, f.resource.name): f for f in found}
    assert len(out) == len(found), found
    return out


def test_every_way_a_tls_secret_or_certificate_breaks_is_named_on_the_secret() -> None:
    found = by_cause(findings("edge_tls_faults", [CHECK]))
    assert {k: f.severity for k, f in found.items()} == {
        ("certificate-expired", "renewed-2099-cert"): Severity.CRITICAL,
        ("certificate-expiring", "long-lived-cert"): Severity.WARNING,
        ("certificate-host-mismatch", "wildcard-all-hosts"): Severity.CRITICAL,
        ("tls-secret-missing", "present-tls"): Severity.CRITICAL,
        ("tls-secret-wrong-type", "kubernetes-io-tls"): Severity.WARNING,
        ("tls-secret-wrong-type", "tls-complete"): Severity.WARNING,
        ("tls-secret-missing-keys", "tls-complete"): Severity.CRITICAL,
        ("ingress-class-missing", "classy"): Severity.CRITICAL,
        ("ingress-class-missing", "classless"): Severity.CRITICAL,
        ("duplicate-host", "dup-b"): Severity.WARNING,
        # The Ingresses served a certificate clients reject: one each, depending on the Secret.
        ("tls-broken", "fresh"): Severity.CRITICAL,
        ("tls-broken", "www"): Severity.CRITICAL,
        ("tls-broken", "gone"): Severity.CRITICAL,
        ("tls-broken", "nokey"): Severity.CRITICAL,
        ("certificate-unreadable", "pem-bundle"): Severity.CRITICAL,
        ("tls-broken", "garbled"): Severity.CRITICAL,
    }
    # The valid certificate (in `expired-tls`) and the wildcard that covers its host are quiet.
    assert not [f for f in found.values() if f.resource.name in ("expired-tls", "tls-wild")]
    expired = found[("certificate-expired", "renewed-2099-cert")]
    assert "expired on" in expired.message and "exp.logos.example.com" in expired.message
    assert [ident(r) for r in expired.affected] == [
        ("Ingress", expired.resource.namespace, "fresh")
    ]
    mismatch = found[("certificate-host-mismatch", "wildcard-all-hosts")]
    assert "www.logos.example.com" in mismatch.message
    assert "logos.example.com, *.other.example.org" in mismatch.message
    assert found[("tls-broken", "fresh")].depends_on == (expired.resource,)
    assert "nginx" in found[("ingress-class-missing", "classy")].remediation


def test_the_expiry_warning_follows_the_configured_threshold() -> None:
    quiet = by_cause(findings("edge_tls_faults", [CHECK], certificate_warning_days=3))
    assert ("certificate-expiring", "long-lived-cert") not in quiet
    loud = by_cause(findings("edge_tls_faults", [CHECK], certificate_warning_days=90))
    # 60 days left on the valid ones: now inside the window, but never "expired".
    assert ("certificate-expiring", "expired-tls") in loud
    assert ("certificate-expired", "expired-tls") not in loud


def test_wildcards_cover_one_label_and_the_apex_is_not_covered() -> None:
    assert covers(["*.logos.example.com"], "api.logos.example.com")
    assert covers(["LOGOS.example.com."], "logos.example.com")
    assert not covers(["*.logos.example.com"], "a.b.logos.example.com")
    assert not covers(["*.logos.example.com"], "logos.example.com")
    assert not covers(["logos.example.com"], "www.logos.example.com")
    assert not covers(["*.example.com"], "*.logos.example.com")


def test_a_broken_tls_secret_is_the_root_cause_and_the_ingress_says_because() -> None:
    found = findings("edge_broken_tls_secret", list(default_registry()))
    roots = root_causes(found)
    secret = next(f for f, _ in roots if f.resource.kind == "Secret")
    assert (secret.check, secret.cause, secret.resource.name) == (
        "ingress",
        "certificate-expired",
        "logos-tls",
    )
    assert secret.severity == Severity.CRITICAL
    ing = next(
        f for f in found if ident(f.resource) == ("Ingress", secret.resource.namespace, "logos")
    )
    assert ing.cause == "tls-broken" and secret.key in ing.caused_by
    # Nothing else in the healthy stack around it is wrong, and cert-manager is not blamed:
    # its Certificate says Ready (the Secret was replaced by hand after issuance).
    edge = {c.id for c in EDGE}
    assert {f.check for f in found if f.check in edge} == {"ingress"}, found


def test_the_healthy_edge_gives_no_warning() -> None:
    found = findings("edge_healthy", EDGE)
    assert [f for f in found if f.severity >= Severity.WARNING] == []
    # Only the test cluster's lack of a metrics server is reported by the whole registry.
    every = findings("edge_healthy", list(default_registry()))
    assert {(f.check, f.cause) for f in every} <= {("hpa", "metrics-unavailable")}


def test_cert_manager_names_the_link_of_the_chain_that_fails() -> None:
    found = findings("edge_cert_manager_chain")
    cm = by_cause([f for f in found if f.check == "cert-manager"])
    keys = {(c, n.split("-1")[0]) for c, n in cm}
    ns = found[0].resource.namespace
    assert keys == {
        ("issuer-missing", f"letsencrypt-prod-{ns}"),
        ("issuer-not-ready", "acme-ready"),
        ("challenge-failed", "tls-c"),
        ("challenge-pending", "tls-d"),
        ("rate-limited", "tls-e"),
        ("order-failed", "tls-f"),
        ("certificate-not-ready", "tls-g"),
        ("request-failed", "tls-h"),
    }
    by_kind = {c: f for (c, _), f in cm.items()}
    assert "ErrRegisterACMEAccount" in by_kind["issuer-not-ready"].message
    assert "403 urn:ietf:params:acme:error:unauthorized" in by_kind["challenge-failed"].message
    assert "failed to perform self check" in by_kind["challenge-pending"].message
    assert "retry after 2026-12-06T02:00:00Z" in by_kind["rate-limited"].message
    assert "No order for ID" in by_kind["order-failed"].message
    assert "requests a commonName that is not present" in by_kind["request-failed"].message
    assert "has failed to complete and will be retried" in by_kind["certificate-not-ready"].message
    assert any(
        'Referenced "ClusterIssuer" not found' in e for e in by_kind["issuer-missing"].evidence
    )
    # Every Secret is missing (first issuance): each cert-manager finding is the root of its
    # Secret's finding and its Ingress's, never the other way round.
    roots = {f.key for f, _ in root_causes(found)}
    assert roots == {f.key for f in cm.values()}
    for letter in "abcdefgh":
        secret = next(f for f in found if ident(f.resource) == ("Secret", ns, f"tls-{letter}"))
        assert secret.cause == "tls-secret-missing" and len(secret.caused_by) == 1
        assert secret.caused_by[0].check == "cert-manager"
        ing = next(f for f in found if ident(f.resource) == ("Ingress", ns, f"ing-{letter}"))
        assert secret.key in ing.caused_by


def test_without_the_crds_cert_manager_is_said_not_installed() -> None:
    # The shared test cluster keeps the CRDs for every test, so the recording of a cluster
    # without them is this one with the API server's 404 the fetcher turns into this reason.
    state, config = recorded("edge_tls_faults")
    objects = {
        k: v
        for k, v in state.objects.items()
        if k not in CERT_MANAGER.optional_kinds or k == "secrets"
    }
    state = ClusterState.build(
        objects,
        now=state.now,
        scope=state.scope,
        unavailable={"certificates": "certificates is not served by this cluster (404)"},
    )
    ing = next(i for i in state.list_of("ingresses") if i["metadata"]["name"] == "gone")
    ing["metadata"]["annotations"] = {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}
    report = run_checks(state, [CHECK, CERT_MANAGER], config)
    (cm,) = [f for f in report.findings if f.check == "cert-manager"]
    assert cm.cause == "not-installed" and cm.severity == Severity.CRITICAL
    secret = next(f for f in report.findings if f.cause == "tls-secret-missing")
    assert cm.key in secret.caused_by
    # Forbidden is not absent: nothing is said then.
    state2 = replace(state, unavailable={"certificates": "forbidden to list certificates"})
    assert not [f for f in run_checks(state2, [CERT_MANAGER], config).findings]


def test_a_servicemonitor_that_selects_nothing_or_scrapes_no_port() -> None:
    found = by_cause(findings("edge_monitoring_faults", [MONITORING]))
    assert set(found) == {("selector-mismatch", "logos"), ("port-missing", "http-metrics-ok")}
    assert "web-frontend" in found[("selector-mismatch", "logos")].message
    assert "'metrics'" in found[("port-missing", "http-metrics-ok")].message
    assert "http" in found[("port-missing", "http-metrics-ok")].message


def test_no_servicemonitor_for_logos_and_a_monitoring_namespace_out_of_sight() -> None:
    found = findings("edge_monitoring_missing", [MONITORING])
    assert [(f.cause, f.severity) for f in found] == [("servicemonitor-missing", Severity.WARNING)]
    # The monitoring namespace was not fetched: not seen, not judged.
    assert not findings("edge_monitoring_missing", [MONITORING], monitoring_namespace="monitoring")


def test_the_edge_config_keys_are_read_and_checked() -> None:
    from logos_doctor.config import Config, apply_config
    from logos_doctor.errors import ConfigError

    config = apply_config(
        Config(),
        {"ingress": {"certificateWarningDays": 30}, "monitoring": {"namespace": "prom"}},
        "test",
    )
    assert (config.certificate_warning_days, config.monitoring_namespace) == (30, "prom")
    assert (Config().certificate_warning_days, Config().monitoring_namespace) == (14, "monitoring")
    for bad in (
        {"ingress": {"certificateWarningDay": 3}},
        {"ingress": {"certificateWarningDays": "14"}},
        {"ingress": {"certificateWarningDays": -1}},
        {"monitoring": {"namespace": "Not A Namespace"}},
    ):
        try:
            apply_config(Config(), bad, "test")
        except ConfigError:
            continue
        raise AssertionError(f"accepted {bad}")
