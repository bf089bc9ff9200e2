"""The exporter's bookkeeping on recorded cluster states: what each run changes in /metrics.

The fetcher is replaced at our own seam by one that hands out recorded states (or errors) in
order; everything after it (checks, runner, readings, collector, HTTP) is the real code.
"""

from __future__ import annotations

import gc
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from logos_doctor.cluster.fetch import _gc_paused
from logos_doctor.errors import ClusterError
from logos_doctor.objects import _parse_time, parse_time
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.serve import Exporter, fetch_options, http_server, metrics_registry, wsgi_app
from logos_doctor.state import ClusterState
from recorded import recorded


class ScriptedFetcher:
    """Returns the given states, or raises the given errors, one per ``fetch``; handles the
    collector as the real fetch does with the exporter's own options."""

    def __init__(self, *steps: ClusterState | BaseException) -> None:
        self.steps = list(steps)
        self.options = fetch_options(1)

    def fetch(self, kinds: Any, scope: Any) -> ClusterState:
        with _gc_paused(freeze=self.options.freeze):
            step = self.steps.pop(0)
            if isinstance(step, BaseException):
                raise step
            return step


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def checks_covered(state: ClusterState) -> list[Any]:
    """The installed checks whose kinds the recording holds (it may predate newer checks)."""
    return [c for c in default_registry() if all(state.has(k) for k in c.kinds)]


def exporter(*steps: ClusterState | BaseException, interval: float = 10) -> tuple[Exporter, Clock]:
    state, config = recorded("image_pull_faults")
    clock = Clock()
    exp = Exporter(
        ScriptedFetcher(*steps),  # type: ignore[arg-type]
        checks_covered(state),
        config,
        state.scope,
        interval,
        clock=clock,
        monotonic=clock,
    )
    return exp, clock


def samples(exp: Exporter) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = generate_latest(metrics_registry(exp)).decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def findings(exp: Exporter) -> dict[tuple[str, str, str, str], float]:
    return {
        (d["check"], d["cause"], d["severity"], d["namespace"]): v
        for labels, v in samples(exp).get("logos_doctor_findings", {}).items()
        for d in [dict(labels)]
    }


def without(state: ClusterState, plural: str) -> ClusterState:
    """The same recorded state as if listing ``plural`` had been forbidden."""
    objects = {k: v for k, v in state.objects.items() if k != plural}
    return ClusterState.build(
        objects,
        now=state.now,
        scope=state.scope,
        cluster=state.cluster,
        unavailable={plural: f"forbidden to list {plural} in the namespace"},
    )


def test_findings_are_the_reports_counted_by_check_cause_severity_namespace() -> None:
    state, config = recorded("image_pull_faults")
    exp, _ = exporter(state)
    exp.run_once()
    report = run_checks(state, checks_covered(state), config)
    expected = Counter(
        (f.check, f.cause, f.severity.label, f.resource.namespace or "") for f in report.findings
    )
    assert expected, "the scenario has findings"
    assert findings(exp) == dict(expected)
    up = samples(exp)["logos_doctor_check_up"]
    assert set(up.values()) == {1.0}


def test_a_finding_no_longer_seen_disappears() -> None:
    broken, _ = recorded("image_pull_faults")
    other, _ = recorded("hpa_target_missing")
    ns = broken.scope.namespaces[0]
    exp, clock = exporter(broken, other)
    exp.run_once()
    assert any(key[3] == ns for key in findings(exp))
    clock.t += 10
    exp.run_once()
    assert set(samples(exp)["logos_doctor_check_up"].values()) == {1.0}  # every check ran
    assert not any(key[3] == ns for key in findings(exp))


@pytest.mark.parametrize(
    "error", [ClusterError("cannot reach the API server"), RuntimeError("a bug")]
)
def test_a_failed_run_keeps_the_last_values_and_counts_the_error(error: BaseException) -> None:
    state, _ = recorded("image_pull_faults")
    exp, clock = exporter(state, error, error)
    exp.run_once()
    good = samples(exp)
    for n in (1, 2):
        clock.t += 10
        exp.run_once()  # never raises
        now = samples(exp)
        assert now["logos_doctor_findings"] == good["logos_doctor_findings"]
        assert (
            now["logos_doctor_check_duration_seconds"]
            == good["logos_doctor_check_duration_seconds"]
        )
        assert now["logos_doctor_run_errors_total"][()] == n
        assert now["logos_doctor_runs_total"][()] == n + 1
        assert now["logos_doctor_last_success_timestamp_seconds"][()] == 1_000.0
        assert now["logos_doctor_last_run_timestamp_seconds"][()] == clock.t


def test_a_skipped_check_keeps_its_findings_and_counts_an_error() -> None:
    state, _ = recorded("image_pull_faults")
    exp, clock = exporter(state, without(state, "pods"))
    exp.run_once()
    before = findings(exp)
    clock.t += 10
    exp.run_once()
    needing = {c.id for c in checks_covered(state) if "pods" in c.kinds}
    after = samples(exp)
    errors = {dict(k)["check"]: v for k, v in after["logos_doctor_check_errors_total"].items()}
    up = {dict(k)["check"]: v for k, v in after["logos_doctor_check_up"].items()}
    assert {c for c, v in errors.items() if v} == needing
    assert {c for c, v in up.items() if not v} == needing
    kept = {k: v for k, v in before.items() if k[0] in needing}
    assert kept and kept.items() <= findings(exp).items()
    assert after["logos_doctor_run_errors_total"][()] == 0


def test_healthz_fails_only_when_runs_stop_finishing() -> None:
    state, _ = recorded("image_pull_faults")
    exp, clock = exporter(state, interval=10)
    app = wsgi_app(exp, metrics_registry(exp))

    def status() -> str:
        seen: list[str] = []
        app({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, lambda s, h: seen.append(s))
        return seen[0]

    assert exp.stale_after == max(30, 10 + 4 + 1)
    assert status().startswith("200")  # just started, no run yet
    clock.t += exp.stale_after + 1
    assert status().startswith("503")  # never finished a run
    exp.run_once()
    assert status().startswith("200")
    clock.t += exp.stale_after - 1
    assert status().startswith("200")
    clock.t += 2
    assert status().startswith("503")


def test_http_server_answers_concurrent_scrapes_and_unknown_paths() -> None:
    state, _ = recorded("image_pull_faults")
    exp, _ = exporter(state)
    exp.run_once()
    server = http_server("127.0.0.1", 0, wsgi_app(exp, metrics_registry(exp)))
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        bodies: list[str] = []

        def scrape() -> None:
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
                bodies.append(resp.read().decode())

        threads = [threading.Thread(target=scrape) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert len(bodies) == 12 and len(set(bodies) - {""}) >= 1
        assert all("logos_doctor_findings{" in b for b in bodies)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/nope", timeout=10)
        assert err.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_the_exporter_keeps_its_own_registry() -> None:
    from prometheus_client import REGISTRY

    state, _ = recorded("image_pull_faults")
    exp, _ = exporter(replace(state))
    exp.run_once()
    metrics_registry(exp)
    assert REGISTRY.get_sample_value("logos_doctor_runs_total") is None


@pytest.mark.parametrize("fails", [False, True])
def test_a_run_leaves_nothing_frozen_or_cached_behind(fails: bool) -> None:
    # A frozen state's garbage cycles are never collected, and the run's parsed times keep
    # its memory pinned: a long-running exporter must keep neither, whether the run failed.
    state, _ = recorded("image_pull_faults")
    exp, _ = exporter(ClusterError("boom") if fails else state)
    gc.unfreeze()
    parse_time("2026-11-26T03:00:00Z")
    exp.run_once()
    assert gc.get_freeze_count() == 0
    assert _parse_time.cache_info().currsize == 0


def test_an_ignore_file_silences_as_check_does_and_is_read_again_when_it_changes(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from logos_doctor.known import load_ignore
    from logos_doctor.silencer import Silencer

    state, config = recorded("image_pull_faults")
    report = run_checks(state, checks_covered(state), config)
    pulls = Counter(
        (f.check, f.cause, f.severity.label, f.resource.namespace or "")
        for f in report.findings
        if f.check == "image-pull"
    )
    assert pulls, "the scenario has image-pull findings"
    path = tmp_path / "ignore.yaml"
    path.write_text("ignore:\n  - check: image-pull\n    reason: registry move, INC-9\n")
    exp, clock = exporter(state, state, state, state)
    exp.silencer = Silencer(load_ignore(path))

    exp.run_once()
    assert not any(key[0] == "image-pull" for key in findings(exp))
    quiet = {
        (d["check"], d["cause"], d["severity"], d["namespace"]): v
        for labels, v in samples(exp)["logos_doctor_findings_silenced"].items()
        for d in [dict(labels)]
    }
    assert {k: v for k, v in quiet.items() if k[0] == "image-pull"} == dict(pulls)

    # The team edits the file (a ConfigMap update): the next run follows it.
    path.write_text("ignore:\n  - check: no-such-check\n    reason: typo\n")
    clock.t += 10
    with caplog.at_level("WARNING", logger="logos_doctor.serve"):
        exp.run_once()
    assert {k[:2] for k in findings(exp)} >= {k[:2] for k in pulls}
    assert samples(exp).get("logos_doctor_findings_silenced", {}) == {}
    assert any("no-such-check" in r.getMessage() for r in caplog.records)

    # An invalid edit keeps the last good entries and says so; the exporter goes on.
    path.write_text("ignore:\n  - check: image-pull\n")  # no reason
    clock.t += 10
    caplog.clear()
    with caplog.at_level("WARNING", logger="logos_doctor.serve"):
        exp.run_once()
    assert any("keeping the previous entries" in r.getMessage() for r in caplog.records)
    assert exp.readings.runs == 3 and exp.readings.run_errors == 0


def test_without_an_ignore_file_there_is_no_silenced_family() -> None:
    state, _ = recorded("image_pull_faults")
    exp, _ = exporter(state)
    exp.run_once()
    assert "logos_doctor_findings_silenced" not in samples(exp)
