"""Known findings (ignore file), baseline and watch blocks, on states the real control plane
recorded: ``admission_quota_exceeded`` (the ResourceQuota admission plugin refuses the third
pod of logos-chat; the Deployment is unavailable BECAUSE of the quota) and
``admission_quota_recovered`` (the same quota, raised: the refusal is gone)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from logos_doctor.annotate import apply_baseline, apply_known, new_findings, of_report
from logos_doctor.baseline import Baseline, Previous, ident, parse_baseline
from logos_doctor.config import Config
from logos_doctor.errors import ConfigError, UsageError
from logos_doctor.known import IgnoreFile, load_ignore, parse_entries, silence
from logos_doctor.registry import default_registry
from logos_doctor.render.human import render_plain
from logos_doctor.render.json_out import report_json
from logos_doctor.runner import Report, root_causes, run_checks
from logos_doctor.watch import block
from recorded import recorded

TODAY = date(2026, 12, 4)
QUOTA = ("admission", "quota-exceeded")
UNAVAILABLE = ("workloads", "unavailable-replicas")


def report_of(name: str) -> Report:
    state, config = recorded(name)
    return run_checks(state, list(default_registry()), config)


def causes(findings: object) -> set[tuple[str, str]]:
    return {(f.check, f.cause) for f in findings}  # type: ignore[attr-defined]


def entries(*items: dict[str, object]) -> IgnoreFile:
    return IgnoreFile(Path("ignore.yaml"), parse_entries({"ignore": list(items)}, "ignore.yaml"))


@pytest.fixture(scope="module")
def exceeded() -> Report:
    report = report_of("admission_quota_exceeded")
    # The recorded chain this module relies on: quota is a root, the Deployment its symptom.
    roots = causes(f for f, _ in root_causes(report.findings))
    assert QUOTA in roots and UNAVAILABLE not in roots
    return report


# -- ignore file -----------------------------------------------------------------------------


def test_entry_silences_its_cause_and_the_symptom_it_alone_explains(exceeded: Report) -> None:
    ignore = entries(
        {
            "check": "admission",
            "cause": "quota-*",
            "kind": "ResourceQuota",
            "name": "webhook-quota",
            "reason": "raised next sprint",
        }
    )
    out = apply_known(exceeded, ignore, TODAY)
    assert out.known is not None
    silenced = {(s.finding.check, s.finding.cause): s for s in out.known.silenced}
    assert set(silenced) == {QUOTA, UNAVAILABLE}
    assert silenced[QUOTA].follows is None
    assert silenced[UNAVAILABLE].follows == next(
        f.key for f in exceeded.findings if (f.check, f.cause) == QUOTA
    )
    assert not causes(out.findings) & {QUOTA, UNAVAILABLE}
    # No orphan: nothing new became a root cause.
    before = {f.key for f, _ in root_causes(exceeded.findings)}
    after = {f.key for f, _ in root_causes(out.findings)}
    assert after <= before
    assert len(out.findings) == len(exceeded.findings) - 2


def test_patterns_must_all_match_and_names_are_globs_not_words(exceeded: Report) -> None:
    # The quota is NAMED webhook-quota: a namespace or kind pattern that does not match keeps it.
    for miss in (
        {"check": "admission", "namespace": "other-*"},
        {"check": "admission", "kind": "Pod"},
        {"name": "quota"},  # a glob, not a substring
        {"cause": "webhook-*"},
    ):
        kept, silenced, _ = silence(
            exceeded.findings, entries({**miss, "reason": "r"}).entries, TODAY
        )
        assert not silenced, miss
        assert len(kept) == len(exceeded.findings)


def test_cluster_scoped_object_matches_a_namespace_pattern_only_when_it_is_star(
    exceeded: Report,
) -> None:
    assert any(f.resource.namespace is None for f in exceeded.findings)  # StorageClass
    _, some, _ = silence(
        exceeded.findings,
        entries({"kind": "StorageClass", "namespace": "rec-*", "reason": "r"}).entries,
        TODAY,
    )
    _, star, _ = silence(
        exceeded.findings,
        entries({"kind": "StorageClass", "namespace": "*", "reason": "r"}).entries,
        TODAY,
    )
    assert not some
    assert [s.finding.resource.kind for s in star] == ["StorageClass"]


def test_symptom_with_a_live_cause_stays_linked() -> None:
    report = report_of("chat_bad_image_rollout")
    stuck = next(f for f in report.findings if f.cause == "rollout-stuck")
    assert stuck.caused_by
    # Silence only the Deployment's own finding's cause on another object: nothing follows.
    kept, silenced, _ = silence(
        report.findings, entries({"check": "hpa", "reason": "r"}).entries, TODAY
    )
    assert causes(s.finding for s in silenced) == {("hpa", "metrics-unavailable")}
    assert stuck in kept


def test_expired_entry_no_longer_silences_and_is_a_warning(exceeded: Report) -> None:
    ignore = entries(
        {"check": "admission", "reason": "quota raised by then", "expires": date(2026, 12, 3)},
        {"check": "storage-class", "reason": "until the end of day", "expires": "2026-12-04"},
    )
    out = apply_known(exceeded, ignore, TODAY)
    assert out.known is not None
    assert QUOTA in causes(out.findings)
    assert causes(s.finding for s in out.known.silenced) == {("storage-class", "missing")}
    assert [e.number for e in out.known.expired] == [1]
    (warning,) = out.known.warnings()
    assert "entry 1" in warning and "expired on 2026-12-03" in warning
    text = render_plain(out, width=200)
    assert "expired on 2026-12-03" in text
    assert "1 silenced" in text
    # -v lists the silenced finding; without it only the count is said.
    assert "silenced: critical storage-class/missing" not in text
    assert "silenced: critical storage-class/missing" in render_plain(out, width=200, verbose=True)


def test_json_carries_silenced_under_their_own_key(exceeded: Report) -> None:
    from logos_doctor.config import Config

    out = apply_known(exceeded, entries({"check": "admission", "reason": "known"}), TODAY)
    doc = report_json(out, Config())
    assert not causes_json(doc["findings"]) & {QUOTA, UNAVAILABLE}
    assert causes_json(doc["silenced"]) == {QUOTA, UNAVAILABLE}
    assert doc["ignore"]["silenced"] == 2 and doc["ignore"]["expired"] == []
    assert all(s["reason"] == "known" for s in doc["silenced"])
    plain = report_json(exceeded, Config())
    assert plain["silenced"] == [] and plain["ignore"] is None and plain["baseline"] is None


def causes_json(items: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(i["check"], i["cause"]) for i in items}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ignore: [{check: admission}]", "entry 1: 'reason' is required"),
        ("ignore: [{reason: r}]", "entry 1: would silence every finding"),
        ("ignore: [{check: a, reason: r, expires: soon}]", "'expires' must be a date"),
        ("ignore: [{check: a, reason: r, chek: b}]", "entry 1: unknown key 'chek'"),
        ("ignore: {check: a}", "'ignore' must be a list"),
        ("ignored: []", "unknown key 'ignored'"),
        ("ignore: [a, b]", "entry 1: must be a mapping"),
        ("ignore: [{check: a, reason: r}\n", "not valid YAML at line"),
    ],
)
def test_malformed_ignore_file_is_one_clear_line(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / ".logos-doctor-ignore.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_ignore(path)
    line = str(err.value)
    assert words in line and str(path) in line and "\n" not in line


# -- baseline --------------------------------------------------------------------------------


def as_baseline(report: Report, source: str = "before.json") -> Baseline:
    from logos_doctor.config import Config

    return parse_baseline(report_json(report, Config()), source)


def test_same_state_is_all_still_even_when_messages_changed(exceeded: Report) -> None:
    doc_baseline = as_baseline(exceeded)
    reworded = Baseline(
        doc_baseline.source,
        tuple(replace(p, message=p.message + " (12m ago, 3 of 5)") for p in doc_baseline.findings),
    )
    out = apply_baseline(exceeded, reworded)
    assert out.baseline is not None
    assert not out.baseline.new and not out.baseline.gone
    assert out.baseline.still == len(exceeded.findings)
    assert new_findings(out) == []


def test_break_is_new_and_fix_is_gone() -> None:
    broken = report_of("admission_quota_exceeded")
    healthy_findings = [
        f for f in broken.findings if (f.check, f.cause) not in (QUOTA, UNAVAILABLE)
    ]
    healthy = replace(broken, findings=tuple(healthy_findings))
    # Before the break: the quota and Deployment findings are new; only they fail --fail-on new.
    out = apply_baseline(broken, of_report(healthy, "before.json"))
    assert out.baseline is not None
    assert {(c, k) for c, k, *_ in out.baseline.new} == {QUOTA, UNAVAILABLE}
    assert causes(new_findings(out)) == {QUOTA, UNAVAILABLE}
    assert {out.baseline.mark(f) for f in out.findings if (f.check, f.cause) == QUOTA} == {"new"}
    doc = report_json(out, __import__("logos_doctor.config").config.Config())
    marks = {(f["check"], f["cause"]): f["baseline"] for f in doc["findings"]}
    assert marks[QUOTA] == "new" and marks[("storage-class", "missing")] == "still"
    # After the fix: they are gone, listed with what they said.
    fixed = apply_baseline(healthy, as_baseline(broken, "after.json"))
    assert fixed.baseline is not None
    assert causes(fixed.baseline.gone) == {QUOTA, UNAVAILABLE}
    text = render_plain(fixed, width=200)
    assert "gone: warning admission/quota-exceeded ResourceQuota/" in text
    assert "1 new" not in text and "2 gone" in text


def test_recorded_recovery_is_gone_against_the_recorded_break() -> None:
    broken = report_of("admission_quota_exceeded")
    recovered = report_of("admission_quota_recovered")
    # The two were recorded in different namespaces: move the baseline onto the recovered one.
    ns = recovered.state.scope.namespaces[0]  # type: ignore[index]
    base = as_baseline(broken)
    moved = Baseline(
        base.source,
        tuple(
            replace(
                p,
                resource=replace(p.resource, namespace=ns) if p.resource.namespace else p.resource,
            )
            for p in base.findings
        ),
    )
    out = apply_baseline(recovered, moved)
    assert out.baseline is not None
    assert causes(out.baseline.gone) == {QUOTA, UNAVAILABLE}
    assert not out.baseline.new


def test_finding_silenced_now_is_not_gone_and_silenced_before_is_not_new(
    exceeded: Report,
) -> None:
    ignore = entries({"check": "admission", "reason": "known"})
    quiet = apply_known(exceeded, ignore, TODAY)
    out = apply_baseline(quiet, as_baseline(exceeded))
    assert out.baseline is not None and not out.baseline.gone
    back = apply_baseline(exceeded, as_baseline(quiet))
    assert back.baseline is not None and not back.baseline.new


def test_multi_cluster_baseline_picks_the_context_and_bad_files_are_one_line() -> None:
    one = {
        "findings": [
            {
                "check": "a",
                "cause": "b",
                "severity": "warning",
                "resource": {"kind": "Pod", "namespace": "n", "name": "p"},
            }
        ]
    }
    doc = {
        "clusters": [
            {"cluster": {"context": "prod"}, **one},
            {"cluster": {"context": "dev"}, "findings": []},
        ]
    }
    assert len(parse_baseline(doc, "f.json", "prod").findings) == 1
    assert parse_baseline(doc, "f.json", "dev").findings == ()
    with pytest.raises(ConfigError, match="no cluster 'qa'"):
        parse_baseline(doc, "f.json", "qa")
    with pytest.raises(ConfigError, match="no 'findings' list"):
        parse_baseline({"version": 1}, "f.json")
    with pytest.raises(ConfigError, match="lacks 'resource'"):
        parse_baseline({"findings": [{"check": "a", "cause": "b"}]}, "f.json")


def test_ident_is_not_the_message(exceeded: Report) -> None:
    f = exceeded.findings[0]
    assert ident(replace(f, message="other")) == ident(f)
    assert Previous.of(f).ident == ident(f)


# -- watch blocks ----------------------------------------------------------------------------


def test_watch_block_marks_new_root_and_lists_gone() -> None:
    broken = report_of("admission_quota_exceeded")
    healthy = replace(
        broken,
        findings=tuple(
            f for f in broken.findings if (f.check, f.cause) not in (QUOTA, UNAVAILABLE)
        ),
    )
    when = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
    second = [
        line.text
        for line in block(
            apply_baseline(broken, of_report(healthy, "refresh 1")), None, 2, 1.0, when, 200
        )
    ]
    assert second[0].startswith("=== refresh 2 · 12:00:00Z")
    assert any(t.startswith("  [new] WARNING admission/quota-exceeded") for t in second)
    assert any(
        t.startswith("  new: warning workloads/unavailable-replicas Deployment/") for t in second
    )
    assert "since refresh 1: 2 new, 4 still there, 0 gone" in " ".join(second[-2:])
    third = [
        line.text
        for line in block(
            apply_baseline(healthy, of_report(broken, "refresh 2")), None, 3, 1.0, when, 200
        )
    ]
    assert any(
        t.startswith("  gone: warning admission/quota-exceeded ResourceQuota/") for t in third
    )
    assert not any("[new]" in t for t in third)
    first = [line.text for line in block(broken, None, 1, 1.0, when, 200)]
    assert not any("new:" in t or "gone:" in t or "[new]" in t for t in first)


def test_watch_block_of_a_failed_refresh_is_one_error_line() -> None:
    from logos_doctor.errors import ClusterError

    when = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
    lines = block(None, ClusterError("cannot reach https://x"), 4, 1.0, when, 80)
    assert [line.text for line in lines][1] == "refresh failed: cannot reach https://x"


def test_watch_run_stops_on_ctrl_c_with_status_0() -> None:
    import io

    from logos_doctor import watch

    broken = report_of("admission_quota_exceeded")
    calls: list[int] = []

    def refresh() -> Report:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return broken

    out = io.StringIO()
    assert watch.run(refresh, 0.5, out=out, tty=False, sleep=lambda s: None) == 0
    text = out.getvalue()
    assert text.count("=== refresh") == 2
    assert "since refresh 1: 0 new, 6 still there, 0 gone" in text.replace("\n  ", " ")


def test_baseline_file_round_trip(tmp_path: Path, exceeded: Report) -> None:
    from logos_doctor.baseline import load_baseline
    from logos_doctor.config import Config

    path = tmp_path / "before.json"
    path.write_text(json.dumps(report_json(exceeded, Config())))
    assert {p.ident for p in load_baseline(path).findings} == {ident(f) for f in exceeded.findings}
    path.write_text("{nope")
    with pytest.raises(ConfigError, match="not JSON"):
        load_baseline(path)


def test_watch_on_a_terminal_keeps_earlier_changes_in_view() -> None:
    import io

    from rich.console import Console

    from logos_doctor import watch

    broken = report_of("admission_quota_exceeded")
    healthy = replace(
        broken,
        findings=tuple(
            f for f in broken.findings if (f.check, f.cause) not in (QUOTA, UNAVAILABLE)
        ),
    )
    states = iter([healthy, broken, broken, broken])
    screen = io.StringIO()
    console = Console(file=screen, width=200, force_terminal=True, no_color=True)
    assert (
        watch.run(
            lambda: next(states),
            0.5,
            out=screen,
            tty=True,
            console=console,
            sleep=lambda s: None,
            refreshes=4,
        )
        == 0
    )
    last = screen.getvalue().split("=== refresh 4")[-1]
    # Two refreshes after it appeared, the quota is no longer [new] but still in the history.
    assert "[new]" not in last
    assert "Earlier changes:" in last and f"new: warning {QUOTA[0]}/{QUOTA[1]}" in last


def test_markdown_counts_silenced_lists_them_with_v_and_marks_new(exceeded: Report) -> None:
    from logos_doctor.config import Config
    from logos_doctor.render.markdown import markdown

    quiet = apply_known(exceeded, entries({"check": "secrets", "reason": "known"}), TODAY)
    healthy = replace(
        exceeded,
        findings=tuple(f for f in exceeded.findings if (f.check, f.cause) != QUOTA),
    )
    out = apply_baseline(quiet, of_report(healthy, "before.json"))
    text = markdown(out, Config())
    assert "- Silenced: 3 by ignore.yaml" in text
    assert "- baseline before.json: 1 new" in text
    assert "1. [new] **WARNING** `admission/quota-exceeded`" in text
    assert "silenced: critical secrets/missing-secret" not in text
    assert "silenced: critical secrets/missing-secret" in markdown(out, Config(), verbose=True)


def watch_refresh(
    config: Config, ignore: IgnoreFile | None = None, selector: str | None = None
) -> Callable[[], Report]:
    """``check --watch``'s refresh of every installed check, in the default scope."""
    from logos_doctor import watch

    return watch.live_refresh(
        list(default_registry()),
        config,
        kubeconfig=None,
        context=None,
        namespace=None,
        all_namespaces=False,
        timeout=5,
        page_size=500,
        ignore=ignore,
        selector=selector,
    )


def test_each_watch_refresh_is_one_fetch_and_applies_the_ignore_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logos_doctor import watch

    state, config = recorded("admission_quota_exceeded")
    fetched: list[frozenset[str]] = []

    def fake_fetch(target: object, kinds: object, scope: object, **kw: object) -> object:
        fetched.append(frozenset(kinds))  # type: ignore[arg-type]
        return state, None

    monkeypatch.setattr(watch, "fetch_live", fake_fetch)
    refresh = watch_refresh(config, entries({"check": "admission", "reason": "known"}))
    first, second = refresh(), refresh()
    assert len(fetched) == 2 and fetched[0] == fetched[1]  # one fetch (a LIST per kind) each
    assert first.known is not None and causes(s.finding for s in first.known.silenced) == {
        QUOTA,
        UNAVAILABLE,
    }
    assert QUOTA not in causes(second.findings)


def test_entries_naming_no_installed_check_or_cause_are_warned_about(exceeded: Report) -> None:
    from logos_doctor.annotate import installed_causes

    ignore = entries(
        {"check": "imagepull", "reason": "typo of image-pull"},
        {"check": "admission", "cause": "quota-exceded", "reason": "typo"},
        {"cause": "*-exceeded", "reason": "any check's"},
        {"check": "image-pull", "cause": "image-not-found", "reason": "fine"},
    )
    out = apply_known(exceeded, ignore, TODAY, installed_causes())
    assert out.known is not None
    assert [w.split(": ", 2)[1] for w in out.known.warnings()] == [
        "ignore.yaml entry 1",
        "ignore.yaml entry 2",
    ]
    assert "check 'imagepull' matches no check" in out.known.warnings()[0]
    assert "cause 'quota-exceded' is no cause of check 'admission'" in out.known.warnings()[1]


def test_a_watch_refresh_keeps_only_what_the_selector_selects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `check -l ... --watch` once showed every workload's findings: the selector went to
    # single runs only.
    from logos_doctor import watch

    state, config = recorded("fix_mixed")
    monkeypatch.setattr(watch, "fetch_live", lambda *a, **kw: (state, None))

    def refresh(selector: str | None) -> Report:
        return watch_refresh(config, selector=selector)()

    everything = {str(f.resource) for f in refresh(None).findings}
    redis = {str(f.resource) for f in refresh("app.kubernetes.io/component=redis").findings}
    assert any("postgresql" in r for r in everything)
    assert redis and redis < everything
    assert not any("postgresql" in r for r in redis)
    assert any(r.startswith("StatefulSet/") and "redis" in r for r in redis)
    with pytest.raises(UsageError, match="invalid selector"):
        refresh("app=a b")


def test_junit_lets_silenced_findings_through_and_still_names_them(exceeded: Report) -> None:
    import xml.etree.ElementTree as ET

    from logos_doctor.render.junit import junit

    def cases(report: Report) -> dict[str, ET.Element]:
        suite = ET.fromstring(junit([report]))[0]
        return {c.get("name", ""): c for c in suite.iter("testcase")}

    before = cases(exceeded)
    assert before["admission"].find("failure") is not None
    assert ET.fromstring(junit([exceeded]))[0].find("properties") is None

    quiet = apply_known(exceeded, entries({"check": "admission", "reason": "INC-7"}), TODAY)
    suite = ET.fromstring(junit([quiet]))[0]
    after = cases(quiet)
    assert after["admission"].find("failure") is None  # silenced: the gate lets it through
    out = after["admission"].findtext("system-out") or ""
    assert "silenced: " in out and "admission/quota-exceeded" in out and "INC-7" in out
    # Its symptom follows it, and is named in its own check's case.
    assert "workloads/unavailable-replicas" in (after["workloads"].findtext("system-out") or "")
    [prop] = suite.iter("property")
    assert (prop.get("name"), prop.get("value")) == ("silenced", "2")
    assert suite.get("tests") == str(len(quiet.results))


def test_prometheus_output_counts_silenced_findings_apart(exceeded: Report) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from logos_doctor.render.prometheus import prometheus

    def values(text: str) -> dict[str, dict[tuple[str, str], float]]:
        out: dict[str, dict[tuple[str, str], float]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                key = (s.labels.get("check", ""), s.labels.get("cause", ""))
                out.setdefault(s.name, {})[key] = s.value
        return out

    before = values(prometheus([exceeded]))
    assert before["logos_doctor_findings"][QUOTA] == 1
    assert "logos_doctor_findings_silenced" not in before  # no ignore file, no family
    quiet = apply_known(exceeded, entries({"check": "admission", "reason": "known"}), TODAY)
    after = values(prometheus([quiet]))
    assert QUOTA not in after.get("logos_doctor_findings", {})
    assert after["logos_doctor_findings_silenced"][QUOTA] == 1
    assert after["logos_doctor_findings_silenced"][UNAVAILABLE] >= 1  # its symptom follows
    both = values(prometheus([quiet, replace(exceeded, state=exceeded.state)]))
    assert "logos_doctor_findings_silenced" in both  # one cluster with a file is enough
