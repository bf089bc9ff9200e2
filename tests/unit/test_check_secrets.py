"""secrets on states recorded from the test cluster (scenarios/workloads.py, workload_shapes.py
and, from the real-node engineer, kubelet.py's ``real_*``).

``secrets_faults`` (kwok) has the guide's Secrets wrong while the pods run; ``secret_blocks_chat``
and the ``real_*`` recordings come from the real kubelet, which refuses to start the pods
(CreateContainerConfigError, FailedMount): there the Secret's finding must name those pods
and their owners as affected, so that the Deployment's and the Service's findings hang from
it.  The canary tests put a value where a careless check or renderer could print it (the
Secret's data, stringData, kubectl's last-applied annotation) and prove it is there before
asserting that no output carries it.
"""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from k8scluster.scenarios.workloads import CANARY
from logos_doctor.checks.secrets import CHECK
from logos_doctor.checks.service_endpoints import CHECK as SERVICE_ENDPOINTS
from logos_doctor.checks.workloads import CHECK as WORKLOADS
from logos_doctor.config import Config, SecretSpec
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef, name
from logos_doctor.pods import container_states
from logos_doctor.render.human import render_plain, render_rich
from logos_doctor.render.json_out import report_json
from logos_doctor.runner import root_causes, run_checks
from logos_doctor.state import ClusterState, Scope
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


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _with_canary_values(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with every Secret holding the canary where a Secret holds values: data,
    stringData, and the copy kubectl apply keeps in an annotation."""
    doc = copy.deepcopy(doc)
    for secret in doc["objects"]["secrets"]:
        keys = secret.pop("dataKeys", None) or ["password"]
        secret["data"] = {k: _b64(f"{CANARY}-{k}") for k in keys}
        secret["stringData"] = {"backup": CANARY}
        secret["metadata"].setdefault("annotations", {})[
            "kubectl.kubernetes.io/last-applied-configuration"
        ] = json.dumps({"kind": "Secret", "stringData": {"password": CANARY}})
    return doc


def test_checks_and_renderers_never_print_a_value_they_are_handed() -> None:
    """Past the fetcher: a state whose Secrets still hold values (as if a stripping step were
    lost) must still give findings without them."""
    state, config = recorded("secret_blocks_chat")
    raw_doc = json.loads(gzip.decompress((SNAPSHOTS / "secret_blocks_chat.json.gz").read_bytes()))
    doc = _with_canary_values(raw_doc)
    objects = {k: v for k, v in doc["objects"].items()}
    unstripped = ClusterState.build(objects, now=state.now, scope=state.scope)
    # The values are really there for a check to read.
    held = json.dumps(unstripped.objects["secrets"])
    assert CANARY in held and _b64(f"{CANARY}-password") in held
    report = run_checks(unstripped, [CHECK, WORKLOADS, SERVICE_ENDPOINTS], config)
    causes = {(f.check, f.cause, f.resource.name) for f in report.findings}
    assert ("secrets", "missing-key", "logos-db-credentials") in causes
    out = io.StringIO()
    render_rich(report, Console(file=out, width=200, force_terminal=True), verbose=True)
    text = json.dumps(report_json(report, config)) + render_plain(report, verbose=True)
    text += out.getvalue()
    assert "postgres-password" in text  # key names are shown
    assert CANARY not in text and _b64(CANARY)[:12] not in text


@pytest.mark.parametrize("fmt", ["json", "plain", "markdown", "table"])
def test_the_canary_value_appears_in_no_output(fmt: str, tmp_path: Path) -> None:
    """A snapshot another tool wrote, values included: loading it must drop them."""
    doc = json.loads(gzip.decompress((SNAPSHOTS / "secrets_faults.json.gz").read_bytes()))
    snapshot = tmp_path / "with-values.json.gz"
    snapshot.write_bytes(gzip.compress(json.dumps(_with_canary_values(doc)).encode()))
    raw = gzip.decompress(snapshot.read_bytes()).decode()
    assert CANARY in raw and _b64(f"{CANARY}-password") in raw  # the trap is set
    config = SNAPSHOTS / "secrets_faults.config.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "logos_doctor", "check", "--all", "--snapshot", str(snapshot),
         "--config", str(config), "-o", fmt, "-v"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # findings at or above the default --fail-on
    assert "logos-redis-credentials" in proc.stdout
    assert "postgres-password" in proc.stdout  # the missing key, by name
    assert CANARY not in proc.stdout + proc.stderr
    assert _b64(CANARY)[:12] not in proc.stdout + proc.stderr


# -- the kubelet's word: pods that cannot start, and the chain above them --------------------


def _pods(state: ClusterState, prefix: str) -> set[ObjectRef]:
    return {ObjectRef.of("Pod", p) for p in state.list_of("pods") if name(p).startswith(prefix)}


def test_a_missing_key_names_the_pods_the_kubelet_refuses_to_start_and_their_owners() -> None:
    state, _ = recorded("secret_blocks_chat")
    chat = _pods(state, "logos-chat-")
    # The real kubelet refused both chat pods, in its own words (kubelet_pods.go).
    for p in state.list_of("pods"):
        if name(p).startswith("logos-chat-"):
            (cs,) = container_states(p)
            assert cs.waiting_reason == "CreateContainerConfigError"
            assert cs.waiting_message == (
                f"couldn't find key postgres-password in Secret "
                f"{state.scope.namespaces[0]}/logos-db-credentials"  # type: ignore[index]
            )
    db = run("secret_blocks_chat")["logos-db-credentials"]
    assert db.cause == "missing-key" and db.message.endswith("; 2 pod(s) cannot start")
    assert chat <= set(db.affected)
    owners = {(r.kind, r.name) for r in db.affected if r.kind != "Pod"}
    assert ("Deployment", "logos-chat") in owners
    assert any(kind == "ReplicaSet" and n.startswith("logos-chat-") for kind, n in owners)
    assert {r for r in db.affected if r.kind == "Pod"} == chat, "no other pod is blamed"
    assert any("CreateContainerConfigError: couldn't find key postgres-password" in x
               for x in db.evidence)  # fmt: skip


def test_a_missing_secret_read_through_envfrom_names_its_pod() -> None:
    state, _ = recorded("secret_blocks_chat")
    redis = run("secret_blocks_chat")["logos-redis-credentials"]
    assert redis.cause == "missing-secret"
    assert {r for r in redis.affected if r.kind == "Pod"} == _pods(state, "logos-web-")
    assert any('CreateContainerConfigError: secret "logos-redis-credentials" not found' in x
               for x in redis.evidence)  # fmt: skip


def test_secret_volumes_the_kubelet_cannot_mount() -> None:
    """FailedMount: the missing Secret by name; the missing key through the volume's items."""
    state, _ = recorded("secret_blocks_chat")
    completion = _pods(state, "logos-completion-")
    found = run("secret_blocks_chat")
    s3, tls = found["logos-s3-credentials"], found["logos-tls"]
    assert s3.cause == "missing-secret" and tls.cause == "missing-key"
    assert tls.message.startswith("Secret logos-tls lacks key(s) tls.key")
    for f in (s3, tls):
        assert {r for r in f.affected if r.kind == "Pod"} == completion
        assert any(x.kind == "Deployment" and x.name == "logos-completion" for x in f.affected)
    assert any('FailedMount' in x and ': secret "logos-s3-credentials" not found' in x
               for x in s3.evidence)  # fmt: skip
    assert any("references non-existent secret key: tls.key" in x for x in tls.evidence)


def test_the_configmap_named_like_a_secret_error_is_none_of_this_checks_business() -> None:
    state, _ = recorded("secret_blocks_chat")
    assert state.get("ConfigMap", state.scope.namespaces[0], "secret-not-found-quota")  # type: ignore[index]
    found = run("secret_blocks_chat")
    assert set(found) == {
        "logos-db-credentials",
        "logos-redis-credentials",
        "logos-tls",
        "logos-s3-credentials",
    }
    assert not any("secret-not-found-quota" in x for f in found.values() for x in f.evidence)


def test_the_chain_reaches_the_deployment_and_the_service() -> None:
    state, config = recorded("secret_blocks_chat")
    report = run_checks(state, [CHECK, WORKLOADS, SERVICE_ENDPOINTS], config)
    by = {(f.check, f.resource.kind, f.resource.name): f for f in report.findings}
    db = by[("secrets", "Secret", "logos-db-credentials")]
    redis = by[("secrets", "Secret", "logos-redis-credentials")]
    assert db.key in by[("workloads", "Deployment", "logos-chat")].caused_by
    assert redis.key in by[("workloads", "Deployment", "logos-web")].caused_by
    assert db.key in by[("service-endpoints", "Service", "logos-chat")].caused_by
    assert redis.key in by[("service-endpoints", "Service", "logos-web")].caused_by
    roots = {f.key: reach for f, reach in root_causes(report.findings)}
    assert {k.resource.name for k in roots} >= {"logos-db-credentials", "logos-redis-credentials"}
    assert by[("service-endpoints", "Service", "logos-chat")].key in roots[db.key]


def test_with_the_events_expired_the_references_still_name_the_stuck_pods() -> None:
    """An hour on, the kubelet's events are gone (--event-ttl); the pods still wait where the
    missing Secret keeps them, and reference it."""
    state, _ = recorded("secret_blocks_chat")
    objects = {k: v for k, v in state.objects.items() if k != "events"}
    objects["events"] = []
    bare = ClusterState.build(objects, now=state.now, scope=state.scope)
    _, config = recorded("secret_blocks_chat")
    report = run_checks(bare, [CHECK], config)
    found = {f.resource.name: f for f in report.findings}
    completion = _pods(state, "logos-completion-")
    assert {r for r in found["logos-tls"].affected if r.kind == "Pod"} == completion
    assert {r for r in found["logos-s3-credentials"].affected if r.kind == "Pod"} == completion
    assert any("waits in ContainerCreating and references Secret logos-tls key tls.key" in x
               for x in found["logos-tls"].evidence)  # fmt: skip


def test_secrets_that_pods_already_run_with_block_nothing() -> None:
    """secrets_faults: the Secrets went wrong after the pods started; nothing is blocked yet."""
    found = run("secrets_faults")
    assert all(f.affected == () for f in found.values())


@pytest.mark.parametrize(
    ("scenario", "secret", "cause"),
    [
        ("real_env_secret_key_missing", "api-credentials", "missing-key"),
        ("real_env_secret_missing", "postgres-x509", "missing-secret"),
        ("real_volume_missing", "tls-403", "missing-secret"),
    ],
)
def test_recordings_from_the_real_kubelet(scenario: str, secret: str, cause: str) -> None:
    if not (SNAPSHOTS / f"{scenario}.json.gz").exists():
        pytest.skip(f"{scenario} not recorded")
    state, config = recorded(scenario)
    report = run_checks(state, [CHECK, WORKLOADS], config)
    by = {(f.check, f.resource.name): f for f in report.findings}
    f = by[("secrets", secret)]
    assert f.cause == cause
    pods = [r for r in f.affected if r.kind == "Pod"]
    assert len(pods) == 1 and any(r.kind == "Deployment" for r in f.affected)
    (deployment,) = [x for x in report.findings if x.resource.kind == "Deployment"]
    assert f.key in deployment.caused_by


def test_a_configmap_the_kubelet_cannot_find_is_not_a_secret() -> None:
    scenario = "real_env_configmap_missing"
    if not (SNAPSHOTS / f"{scenario}.json.gz").exists():
        pytest.skip(f"{scenario} not recorded")
    state, config = recorded(scenario)
    waiting = [cs.waiting_message for p in state.list_of("pods") for cs in container_states(p)]
    assert any(m.startswith('configmap "') and m.endswith('" not found') for m in waiting)
    report = run_checks(state, [CHECK], replace(config, secrets=()))
    assert list(report.findings) == []


def test_the_configured_secrets_are_expected_where_logos_runs_not_where_n_points() -> None:
    """issue 14 item 7: `check -n kube-system` must not demand logos-db-credentials there."""
    state, config = recorded("secrets_faults")
    elsewhere = replace(state, scope=Scope(("kube-system",)))
    assert run_checks(elsewhere, [CHECK], config).findings == ()
    # A namespace without the release, with the config pointing elsewhere: only what its own
    # workloads reference is expected (real_crashloop's worker references no Secret).
    if (SNAPSHOTS / "real_crashloop.json.gz").exists():
        real, real_config = recorded("real_crashloop")
        assert run_checks(real, [CHECK], real_config).findings, "the configured ns: expected"
        away = replace(real_config, namespace="logos")
        assert run_checks(real, [CHECK], away).findings == ()
