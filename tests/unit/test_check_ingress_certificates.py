"""What the fetcher keeps of a kubernetes.io/tls Secret: the certificate's public facts only.

Certificates are made here with `cryptography` (expired, expiring, for the wrong host, valid);
the key beside them carries a canary that must never come out of `strip_secret`, whether the
Secret comes from the API server (data) or from a snapshot written by another tool.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from k8scluster.scenarios.edge import tls_pair
from logos_doctor.checks.ingress import CHECK
from logos_doctor.cluster.fetch import strip_secret
from logos_doctor.cluster.snapshot import from_document
from logos_doctor.config import Config
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState, Scope

CANARY = "CANARY-tls-key-7f3a9c"
NOW = datetime.now(UTC)


def secret(crt: bytes, *, type_: str = "kubernetes.io/tls", name: str = "logos-tls") -> dict:
    key = b"-----BEGIN PRIVATE KEY-----\n" + CANARY.encode() + b"\n-----END PRIVATE KEY-----\n"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": type_,
        "metadata": {"name": name, "namespace": "logos", "uid": "u-1"},
        "data": {
            "tls.crt": base64.b64encode(crt).decode(),
            "tls.key": base64.b64encode(key).decode(),
        },
    }


def leaks(obj: object) -> bool:
    text = json.dumps(obj)
    return CANARY in text or base64.b64encode(CANARY.encode()).decode()[:12] in text


@pytest.mark.parametrize(
    ("hosts", "before", "after"),
    [
        (["logos.example.com"], -30, 60),  # valid
        (["logos.example.com"], -90, -1),  # expired
        (["logos.example.com"], -80, 5),  # expiring
        (["other.example.org", "*.example.org"], -1, 90),  # wrong host
    ],
)
def test_the_public_facts_are_kept_and_the_key_never_is(
    hosts: list[str], before: int, after: int
) -> None:
    made = datetime.now(UTC)  # not the module's NOW: a long suite may import it minutes earlier
    crt, _ = tls_pair(hosts, not_before=timedelta(days=before), not_after=timedelta(days=after))
    out = strip_secret(secret(crt))
    assert set(out) == {"apiVersion", "kind", "metadata", "type", "dataKeys", "certificate"}
    assert out["dataKeys"] == ["tls.crt", "tls.key"]
    facts = out["certificate"]
    assert facts["dnsNames"] == hosts and facts["subjectCN"] == hosts[0]
    assert facts["issuerCN"] == "Logos Test CA R3"
    not_after = datetime.fromisoformat(facts["notAfter"].replace("Z", "+00:00"))
    assert abs(not_after - (made + timedelta(days=after))) < timedelta(minutes=5)
    assert "BEGIN" not in json.dumps(out) and not leaks(out)
    assert strip_secret(out) == out  # read back from a snapshot: the same facts


def test_only_tls_secrets_are_parsed_and_garbage_says_so_without_echoing_it() -> None:
    crt, _ = tls_pair(["logos.example.com"])
    assert "certificate" not in strip_secret(secret(crt, type_="Opaque"))
    bad = strip_secret(secret(CANARY.encode()))
    assert bad["certificate"] == {
        "error": "tls.crt holds no PEM certificate the X.509 parser can read"
    }
    assert not leaks(bad)


def test_a_snapshot_holding_secret_values_is_stripped_on_load_and_judged_the_same() -> None:
    crt, _ = tls_pair(
        ["logos.example.com"], not_before=timedelta(days=-90), not_after=timedelta(days=-1)
    )
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "logos", "namespace": "logos", "uid": "i-1"},
        "spec": {
            "tls": [{"hosts": ["logos.example.com"], "secretName": "logos-tls"}],
            "rules": [{"host": "logos.example.com"}],
        },
    }
    # A forged recorded fact beside real data: the data wins, extra fields are dropped.
    raw = {**secret(crt), "certificate": {"notAfter": "2999-01-01T00:00:00Z", "x": CANARY}}
    doc = {
        "format": "logos-doctor-snapshot",
        "version": 1,
        "takenAt": NOW.isoformat(),
        "cluster": {},
        "scope": {"namespaces": ["logos"]},
        "objects": {"secrets": [raw], "ingresses": [ingress]},
    }
    state = from_document(doc)
    (loaded,) = state.list_of("secrets")
    assert "data" not in loaded and not leaks(loaded)
    assert loaded["certificate"]["notAfter"] != "2999-01-01T00:00:00Z"
    report = run_checks(state, [CHECK], Config())
    assert {f.cause for f in report.findings} == {"certificate-expired", "tls-broken"}
    live = ClusterState.build(
        {"secrets": [strip_secret(secret(crt))], "ingresses": [ingress]},
        now=NOW,
        scope=Scope(("logos",)),
    )
    assert {f.cause for f in run_checks(live, [CHECK], Config()).findings} == {
        "certificate-expired",
        "tls-broken",
    }
