"""No process-wide state: the registry and the fetch statistics are values passed down."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import _process_state

from logos_doctor import registry as registry_module
from logos_doctor.cluster.fetch import Fetcher, FetchStats
from logos_doctor.finding import Severity
from logos_doctor.registry import Check, default_registry


def _extra() -> Check:
    return Check(
        id="extra-check", title="t", severity=Severity.WARNING, kinds=("pods",),
        causes=("x",), run=lambda state, config: [],
    )  # fmt: skip


def test_each_caller_gets_its_own_registry() -> None:
    mine = default_registry()
    mine.add(_extra())
    mine.load_errors.append(registry_module.LoadError("x", "y", "z"))
    fresh = default_registry()
    assert "extra-check" not in [c.id for c in fresh]
    assert not [e for e in fresh.load_errors if e.name == "x"]


def test_the_leak_guard_sees_a_changed_set_of_installed_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _process_state()
    checks, errors = registry_module._installed()
    monkeypatch.setattr(registry_module, "_installed", lambda: ((*checks, _extra()), errors))
    after = _process_state()
    assert before["checks"] != after["checks"]  # the autouse guard would fail the test
    # monkeypatch undoes it before the guard looks again, so this test itself passes


def test_a_fetcher_counts_into_the_stats_it_is_given() -> None:
    run_stats = FetchStats()
    conn: Any = object()
    one, two = Fetcher(conn, stats=run_stats), Fetcher(conn)
    one.stats.count("pods", 10, 0.0)
    two.stats.count("pods", 5, 0.0)
    assert one.stats is run_stats and (run_stats.requests, run_stats.bytes) == (1, 10)
    assert Fetcher(conn).stats.requests == 0  # a fresh one by default, shared with nobody
