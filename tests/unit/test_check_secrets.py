"""secrets on states recorded from the test cluster (tests/k8scluster/scenarios/workloads.py).

The recorded ``secrets_faults`` scenario seeded its Secrets with a canary value; besides the
findings, these tests make sure that value reached neither the snapshot nor any output.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from dataclasses import replace

import pytest

from k8scluster.scenarios.workloads import CANARY
from logos_doctor.checks.secrets import CHECK
from logos_doctor.config import Config, SecretSpec
from logos_doctor.finding import Finding, Severity
from logos_doctor.runner import run_checks
from recorded import SNAPSHOTS, recorded


def run(scenario: str, config: Config | None = None) -> dict[str, Finding]:
    state, recorded_config = recorded(scenario)
    report = run_checks(state, [CHECK], config or recorded_config)
    assert [r.status for r in report.results] in (["ok"], ["findings"]), report.results
    out = {f.resource.name: f for f in report.findings}
    assert len(out) == len(report.findings), "one finding per Secret"
    return out


def test_the_three_ways_the_guides_secrets_go_wrong() -> None:
    found = run("secrets_faults")
    assert {n: (f.cause, f.severity) for n, f in found.items()} == {
        "logos-redis-credentials": ("missing-secret", Severity.CRITICAL),
        "logos-db-credentials": ("missing-key", Severity.CRITICAL),
        "regcred": ("wrong-type", Severity.CRITICAL),
    }


def test_a_missing_secret_names_who_needs_it() -> None:
    redis = run("secrets_faults")["logos-redis-credentials"]
    assert redis.resource.kind == "Secret"
    # Both the chat Deployment and the redis StatefulSet read REDIS_PASSWORD from it.
    assert "needed by Deployment logos-chat" in redis.evidence
    assert "needed by StatefulSet logos-redis-master" in redis.evidence
    assert "expected: keys redis-password" in redis.evidence


def test_a_missing_key_lists_the_keys_present_by_name_only() -> None:
    db = run("secrets_faults")["logos-db-credentials"]
    assert db.message == "Secret logos-db-credentials lacks key(s) postgres-password"
    assert "keys present: password" in db.evidence
    assert any(
        line.startswith("postgres-password needed by") and "StatefulSet logos-postgresql" in line
        for line in db.evidence
    )


def test_an_opaque_regcred_is_a_pull_secret_the_kubelet_ignores() -> None:
    regcred = run("secrets_faults")["regcred"]
    assert "type Opaque, expected kubernetes.io/dockerconfigjson" in regcred.message
    assert "kubelet ignores it" in regcred.message


def test_expectations_come_from_the_config() -> None:
    _, config = recorded("healthy_logos")
    assert run("healthy_logos") == {}, "the healthy stack has every Secret the guide lists"
    custom = replace(
        config,
        secrets=(
            SecretSpec("logos-db-credentials", ("password", "replication-password")),
            SecretSpec("logos-tls", ("tls.crt",), "Opaque"),
            SecretSpec("logos-s3-credentials", ("access-key",)),
        ),
    )
    found = run("healthy_logos", custom)
    assert {n: f.cause for n, f in found.items()} == {
        "logos-db-credentials": "missing-key",
        "logos-tls": "wrong-type",
        "logos-s3-credentials": "missing-secret",
    }
    assert found["logos-tls"].message.endswith("has type kubernetes.io/tls, expected Opaque")
    assert found["logos-tls"].severity == Severity.WARNING, "not a pull secret made unusable"


def test_a_serviceaccounts_pull_secret_counts_as_needed() -> None:
    found = run("pull_secret_missing")
    assert {n: f.cause for n, f in found.items()} == {
        "regcred": "missing-secret",
        "indexer-registry": "missing-secret",
    }
    assert "needed by ServiceAccount logos-indexer" in found["indexer-registry"].evidence


def test_the_canary_value_never_reached_the_snapshot() -> None:
    raw = gzip.decompress((SNAPSHOTS / "secrets_faults.json.gz").read_bytes()).decode()
    assert CANARY not in raw
    # The Secrets were recorded (by name, type and key names), so the test is not vacuous.
    assert '"dataKeys":["password"]' in raw


@pytest.mark.parametrize("fmt", ["json", "plain", "markdown", "table"])
def test_the_canary_value_appears_in_no_output(fmt: str) -> None:
    snapshot = SNAPSHOTS / "secrets_faults.json.gz"
    config = SNAPSHOTS / "secrets_faults.config.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "logos_doctor", "check", "--all", "--snapshot", str(snapshot),
         "--config", str(config), "-o", fmt, "-v"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # findings at or above the default --fail-on
    assert "logos-redis-credentials" in proc.stdout
    assert CANARY not in proc.stdout + proc.stderr
