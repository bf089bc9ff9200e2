"""``check -l SELECTOR``: findings about the selected workloads and what is around them, plus
the causes that explain them (cluster-scoped ones included); on recorded snapshots."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from logos_doctor.errors import UsageError
from logos_doctor.registry import default_registry
from logos_doctor.restrict import parse_selector, restrict
from logos_doctor.runner import Report, run_checks
from recorded import SNAPSHOTS, recorded


def _report(name: str) -> Report:
    state, config = recorded(name)
    return run_checks(state, list(default_registry()), config)


def _names(report: Report) -> set[tuple[str, str, str]]:
    return {(f.check, f.cause, str(f.resource)) for f in report.findings}


@pytest.mark.parametrize(
    ("text", "expressions"),
    [
        ("app=chat", [{"key": "app", "operator": "In", "values": ["chat"]}]),
        ("app==chat,tier!=db", [
            {"key": "app", "operator": "In", "values": ["chat"]},
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
        ]),
        ("env in (prod, staging),!legacy", [
            {"key": "env", "operator": "In", "values": ["prod", "staging"]},
            {"key": "legacy", "operator": "DoesNotExist"},
        ]),
        ("app.kubernetes.io/component notin (web),release", [
            {"key": "app.kubernetes.io/component", "operator": "NotIn", "values": ["web"]},
            {"key": "release", "operator": "Exists"},
        ]),
    ],
)  # fmt: skip
def test_kubectl_selector_syntax(text: str, expressions: list[dict[str, object]]) -> None:
    assert parse_selector(text) == {"matchExpressions": expressions}


@pytest.mark.parametrize("text", ["", "app=", "=x", "app=a b", "a,,b", "env in (a", "a=b=c"])
def test_a_bad_selector_is_a_usage_error(text: str) -> None:
    if text == "app=":  # kubectl accepts an empty value: app has the label with value ""
        assert parse_selector(text)["matchExpressions"][0]["values"] == [""]
        return
    with pytest.raises(UsageError, match="invalid selector"):
        parse_selector(text)


def test_redis_keeps_its_own_findings_and_the_missing_class_that_blocks_it() -> None:
    full = _report("fix_mixed")
    only = restrict(full, "app.kubernetes.io/component=redis")
    ns = "rec-fix-mixed"
    assert _names(only) == {
        ("pvc-pending", "storage-class-missing",
         f"PersistentVolumeClaim/{ns}/redis-data-logos-redis-master-0"),
        ("service-endpoints", "pods-not-ready", f"Service/{ns}/logos-redis-headless"),
        ("service-endpoints", "pods-not-ready", f"Service/{ns}/logos-redis-master"),
        ("workloads", "unavailable-replicas", f"StatefulSet/{ns}/logos-redis-master"),
        # cluster-scoped, not labelled: kept because it blocks the redis StatefulSet
        ("storage-class", "missing", f"StorageClass/ssd-{ns}"),
    }  # fmt: skip
    assert not any("postgresql" in str(f.resource) for f in only.findings)
    assert any("postgresql" in str(f.resource) for f in full.findings)  # there was more


def test_chat_keeps_the_whole_chain_to_its_root_causes() -> None:
    full = _report("secret_blocks_chat")
    only = restrict(full, "app.kubernetes.io/component in (chat)")
    kept = {f.key for f in only.findings}
    assert {str(f.resource) for f in only.findings if f.check == "workloads"} == {
        "Deployment/rec-secret-blocks-chat/logos-chat"
    }
    assert not any("completion" in str(f.resource) or "web" in str(f.resource)
                   for f in only.findings)  # fmt: skip
    for finding in only.findings:  # nothing kept points at a finding that was dropped
        assert set(finding.caused_by) <= kept, finding
    roots = [f for f in only.findings if not f.caused_by]
    assert roots and all(f.resource.kind == "Secret" for f in roots)


def test_a_selector_that_matches_nothing_keeps_nothing() -> None:
    assert restrict(_report("fix_mixed"), "app=no-such-app").findings == ()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logos_doctor", "check", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_check_takes_l_selector() -> None:
    snap = SNAPSHOTS / "fix_mixed.json.gz"
    cfg = SNAPSHOTS / "fix_mixed.config.yaml"
    base = ["--snapshot", str(snap), "--config", str(cfg), "-o", "json"]
    result = _cli(*base, "-l", "app.kubernetes.io/component=redis")
    assert result.returncode == 1, result.stderr
    resources = {f["resource"]["name"] for f in json.loads(result.stdout)["findings"]}
    assert "logos-redis-master" in resources and "logos-postgresql" not in resources
    bad = _cli(*base, "--selector", "env in (a")
    assert bad.returncode == 2 and "invalid selector" in bad.stderr and bad.stdout == ""
